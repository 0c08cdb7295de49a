//! Backend traits and the neutral types they exchange.
//!
//! Backends (`backends/imap`, later `dav`, `smtp`) implement these traits; the EAS layers
//! see upstreams only through them. Nothing here knows EAS, and nothing here does I/O: a
//! backend moves upstream objects (mailboxes, MIME messages with UID and flags) and the
//! mapping to EAS happens in `src/mapping/`.
//!
//! Credentials are passed with every call: a backend authenticates as the user it is asked
//! for and may pool connections per user internally.

use std::fmt;

use async_trait::async_trait;

/// What went wrong talking to an upstream, in the terms a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The upstream rejected the credentials (wrong login or password, account disabled).
    /// The caller answers the device with an authentication failure; retrying with the same
    /// credentials will not help.
    #[error("authentication failed")]
    Auth,
    /// The named object (mailbox, message, collection) does not exist upstream.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation clashes with the upstream's current state, e.g. creating a mailbox
    /// whose name already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A passing failure: the upstream is down or unreachable, a connect or command timed
    /// out, the connection broke, the server is temporarily unavailable. Retry later.
    #[error("temporary upstream failure: {0}")]
    Transient(String),
    /// A failure that will repeat on retry: the upstream refused the request as invalid or
    /// forbidden, or answered something this backend cannot understand.
    #[error("upstream refused: {0}")]
    Permanent(String),
}

/// A user's upstream login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The login name as the upstream knows it (often the mail address).
    pub login: String,
    /// The password, as given by the device.
    pub password: String,
}

impl Credentials {
    /// Builds credentials from a login and a password.
    pub fn new(login: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            login: login.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The role of a mailbox: INBOX, or a special-use attribute (RFC 6154 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// The user's INBOX (RFC 3501 §5.1); not an RFC 6154 attribute, but the same kind of fact.
    Inbox,
    /// `\Drafts`
    Drafts,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
    /// `\Junk`
    Junk,
    /// `\Archive`
    Archive,
    /// `\All` (a virtual mailbox holding all messages)
    All,
    /// `\Flagged` (a virtual mailbox holding flagged messages)
    Flagged,
}

/// One upstream mailbox, as listed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Full hierarchical name, decoded to UTF-8 (IMAP sends modified UTF-7, RFC 3501
    /// §5.1.3). This is the name to pass back to the other `MailStore` calls.
    pub name: String,
    /// Hierarchy delimiter, `None` for a flat namespace.
    pub delimiter: Option<char>,
    /// INBOX or the special-use role the server announces, if any.
    pub special_use: Option<SpecialUse>,
    /// The upstream's own stable identity for this mailbox, surviving renames: RFC 8474
    /// MAILBOXID, or Dovecot's mailbox GUID. `None` when the server offers neither.
    pub id: Option<String>,
    /// False for `\Noselect` / `\NonExistent` entries (hierarchy placeholders).
    pub selectable: bool,
    /// Whether the user subscribed to the mailbox.
    pub subscribed: bool,
    /// True when the mailbox lives in another user's or a shared namespace (RFC 2342).
    pub shared: bool,
}

/// Counters of one mailbox (IMAP STATUS, RFC 3501 §6.3.10, RFC 7162 §3.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    /// UIDVALIDITY: when it changes, all UIDs known for the mailbox are void.
    pub uidvalidity: u32,
    /// The UID the next arriving message will get at least.
    pub uidnext: u32,
    /// Number of messages.
    pub messages: u32,
    /// CONDSTORE HIGHESTMODSEQ, `None` when the server does not offer CONDSTORE.
    pub highestmodseq: Option<u64>,
}

/// The IMAP UID of a message (RFC 3501 §2.3.1.1); meaningful with its UIDVALIDITY.
pub type Uid = u32;

/// What the upstream knows of a message without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: Uid,
    /// IMAP flags and keywords as sent (`\Seen`, `\Flagged`, `$Forwarded`, `Work`…).
    pub flags: Vec<String>,
    /// INTERNALDATE, seconds since the Unix epoch.
    pub internal_date: i64,
    /// RFC822.SIZE in bytes, where asked for: [`MailStore::fetch_meta`] gives it, and a
    /// fetched message's is the length of its bytes. Listings and deltas leave it out:
    /// on Dovecot it doubles the cost of listing a large mailbox, and no Sync needs it.
    pub size: Option<u64>,
    /// CONDSTORE MODSEQ, when the server offers CONDSTORE ([`MailStore::fetch_messages_dated`]
    /// leaves it out).
    pub modseq: Option<u64>,
}

/// Every message of a mailbox (or of a date window of it), with the mailbox counters
/// read in the same session, so that the two are consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxListing {
    pub status: MailboxStatus,
    pub messages: Vec<MessageMeta>,
}

/// What changed in a mailbox since a MODSEQ (RFC 7162 QRESYNC / CONDSTORE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxDelta {
    pub status: MailboxStatus,
    /// Messages added or whose flags changed since the MODSEQ.
    pub changed: Vec<MessageMeta>,
    /// UIDs expunged since the MODSEQ.
    pub vanished: Vec<Uid>,
}

/// A message with its full RFC 5322 content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    pub meta: MessageMeta,
    pub raw: Vec<u8>,
}

/// A flag change: keywords to add and to remove.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// One condition of a mailbox search; a search matches the messages meeting all of
/// its keys (IMAP SEARCH, RFC 3501 §6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// The text anywhere in the header or body (IMAP `TEXT`); servers with a full-text
    /// index (Dovecot's fts plugin) answer it from the index.
    Text(String),
    /// Received (INTERNALDATE) at or after this instant, Unix seconds.
    Since(i64),
    /// Received (INTERNALDATE) before this instant, Unix seconds.
    Before(i64),
    /// The named header field contains the text (IMAP `HEADER`).
    Header(String, String),
    /// At least one of the keys matches (IMAP `OR`); an empty list matches nothing.
    AnyOf(Vec<SearchKey>),
}

/// What a search found in one mailbox: how many matched in all, and the metadata of
/// (at most the asked number of) the newest of them, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchHits {
    pub total: usize,
    pub newest: Vec<MessageMeta>,
}

/// Checks a user's credentials against the upstream.
#[async_trait]
pub trait CredentialCheck: Send + Sync {
    /// `Ok` when the upstream accepts the credentials, `Err(Auth)` when it refuses them.
    async fn verify(&self, creds: &Credentials) -> Result<(), BackendError>;
}

/// An upstream mail store: mailboxes and the messages in them.
///
/// Every call authenticates as `creds`; implementations reuse connections per user but
/// never let one user's connection serve another login or another password. No call
/// ever sets `\Seen` as a side effect (fetches use BODY.PEEK).
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Lists all mailboxes the user can see, including shared ones.
    async fn list_mailboxes(&self, creds: &Credentials) -> Result<Vec<Mailbox>, BackendError>;

    /// Counters of one mailbox, by its UTF-8 name.
    async fn status(
        &self,
        creds: &Credentials,
        mailbox: &str,
    ) -> Result<MailboxStatus, BackendError>;

    /// The user's rights on a mailbox (RFC 4314 letters, e.g. "lrswipkxtecda"); `None`
    /// when the server has no ACLs, i.e. the user may do anything with what it sees.
    async fn my_rights(
        &self,
        creds: &Credentials,
        mailbox: &str,
    ) -> Result<Option<String>, BackendError>;

    /// Creates a mailbox. `Err(Conflict)` when it exists already.
    async fn create_mailbox(&self, creds: &Credentials, name: &str) -> Result<(), BackendError>;

    /// Deletes a mailbox. `Err(NotFound)` when it does not exist.
    async fn delete_mailbox(&self, creds: &Credentials, name: &str) -> Result<(), BackendError>;

    /// Renames a mailbox (and, per RFC 3501 §6.3.5, its children). `Err(NotFound)` when
    /// `from` does not exist, `Err(Conflict)` when `to` does.
    async fn rename_mailbox(
        &self,
        creds: &Credentials,
        from: &str,
        to: &str,
    ) -> Result<(), BackendError>;

    /// Every message of `mailbox` (UID, flags, INTERNALDATE, MODSEQ; no size), optionally
    /// only those received on or after `since` (Unix seconds; IMAP SINCE has day
    /// granularity, so implementations filter the exact instant themselves).
    async fn list_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        since: Option<i64>,
    ) -> Result<MailboxListing, BackendError>;

    /// What changed since `modseq`, provided the mailbox still has `uidvalidity`.
    /// `Ok(None)` when the delta cannot be computed cheaply (UIDVALIDITY changed, or the
    /// server has no CONDSTORE/QRESYNC): the caller then compares a full listing.
    async fn changes_since(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uidvalidity: u32,
        modseq: u64,
    ) -> Result<Option<MailboxDelta>, BackendError>;

    /// Full content of the given messages (BODY.PEEK[]), in the order of `uids`;
    /// messages that no longer exist are left out.
    async fn fetch_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<Vec<FetchedMessage>, BackendError>;

    /// [`MailStore::fetch_messages`] of messages whose INTERNALDATE the caller knows
    /// already (from a listing or a delta), given with each UID in `wanted`: the server
    /// is not asked for it again (Dovecot formats every INTERNALDATE it sends, at about
    /// 2 µs each when no `TZ` is set for it). The messages come without `modseq`.
    ///
    /// The flags may be a few moments older than those of a listing read meanwhile (the
    /// backend may read from a connection that has not looked at the mailbox since its
    /// last command): a caller that must not go back behind a listing compares them.
    async fn fetch_messages_dated(
        &self,
        creds: &Credentials,
        mailbox: &str,
        wanted: &[(Uid, i64)],
    ) -> Result<Vec<FetchedMessage>, BackendError>;

    /// The last `count` messages of `mailbox` in mailbox order (the highest UIDs, as a
    /// rule the newest mail), with full content, and the mailbox's UIDVALIDITY they
    /// belong to: an initial Sync reads what its first window will most likely hold
    /// while it lists the mailbox.
    async fn fetch_last(
        &self,
        creds: &Credentials,
        mailbox: &str,
        count: usize,
    ) -> Result<(u32, Vec<FetchedMessage>), BackendError>;

    /// Flags, INTERNALDATE, size and MODSEQ of the given messages, without content, in
    /// the order of `uids`; messages that no longer exist are left out.
    async fn fetch_meta(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<Vec<MessageMeta>, BackendError>;

    /// The header fields named in `fields` (e.g. `["Message-ID", "References"]`) of
    /// every message of `mailbox`, as header text, with each message's metadata, in UID
    /// order. Never sets `\Seen`.
    async fn fetch_header_fields(
        &self,
        creds: &Credentials,
        mailbox: &str,
        fields: &[&str],
    ) -> Result<Vec<(MessageMeta, Vec<u8>)>, BackendError>;

    /// Adds and removes flags/keywords on messages (UID STORE, silently).
    async fn set_flags(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
        change: &FlagChange,
    ) -> Result<(), BackendError>;

    /// Moves messages (UID MOVE, else COPY + expunge) and returns (old UID, new UID)
    /// pairs from COPYUID; pairs are missing when the server does not say.
    async fn move_messages(
        &self,
        creds: &Credentials,
        from: &str,
        uids: &[Uid],
        to: &str,
    ) -> Result<Vec<(Uid, Uid)>, BackendError>;

    /// Removes messages for good (\Deleted + UID EXPUNGE of exactly these UIDs).
    async fn delete_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<(), BackendError>;

    /// Messages of `mailbox` matching every key (an empty list matches all), the
    /// newest `limit` of them (by INTERNALDATE) with their metadata. Never sets `\Seen`.
    async fn search(
        &self,
        creds: &Credentials,
        mailbox: &str,
        keys: &[SearchKey],
        limit: usize,
    ) -> Result<SearchHits, BackendError>;

    /// Appends a message with flags and an optional INTERNALDATE; returns its UID from
    /// APPENDUID when the server says it.
    async fn append(
        &self,
        creds: &Credentials,
        mailbox: &str,
        flags: &[String],
        internal_date: Option<i64>,
        raw: &[u8],
    ) -> Result<Option<Uid>, BackendError>;
}

/// Which kind of DAV collection: a CalDAV calendar (RFC 4791) or a CardDAV address book
/// (RFC 6352).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DavKind {
    Calendar,
    Contacts,
}

/// One calendar or address book in the user's home set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavCollection {
    /// Absolute path on the server, percent-decoded and ending in `/`, e.g.
    /// `/alice@example.org/calendar/`. This is the form every `DavStore` call takes and
    /// returns.
    pub href: String,
    /// DAV:displayname, or the last path segment when the server has none.
    pub display_name: String,
    pub kind: DavKind,
    /// CALDAV:supported-calendar-component-set (`VEVENT`, `VTODO`, `VJOURNAL`…). A calendar
    /// without the property accepts every component (RFC 4791 §5.2.3) and is reported
    /// with `VEVENT`, `VTODO` and `VJOURNAL`. Empty for address books.
    pub components: Vec<String>,
    /// CS:getctag (calendarserver.org extension), when offered: changes with any member.
    pub ctag: Option<String>,
    /// DAV:sync-token (RFC 6578), when offered.
    pub sync_token: Option<String>,
    /// Apple's calendar-color (e.g. `#FF0000FF`), when set.
    pub color: Option<String>,
}

/// One iCalendar or vCard object with its address and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    /// Absolute path, in the same form as [`DavCollection::href`].
    pub href: String,
    /// The ETag as the server sent it, quotes included (`"abc"`); pass it back unchanged.
    pub etag: String,
    /// The object's bytes as the server sent them (iCalendar or vCard text).
    pub data: Vec<u8>,
}

/// Every member of a collection with its ETag, and the collection's sync-token read in
/// the same request (so that a later `changes` from it misses nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavListing {
    pub sync_token: Option<String>,
    /// `(href, etag)` of each member object.
    pub members: Vec<(String, String)>,
}

/// What changed in a collection since a sync-token (RFC 6578).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavDelta {
    /// The token to ask from next time.
    pub sync_token: String,
    /// `(href, etag)` of members added or modified.
    pub changed: Vec<(String, String)>,
    /// Hrefs of members removed.
    pub removed: Vec<String>,
}

/// An upstream CalDAV/CardDAV server: the user's collections and the objects in them.
///
/// Every call authenticates as `creds`. Hrefs are absolute, percent-decoded paths on the
/// server (see [`DavCollection::href`]); ETags are passed around verbatim.
#[async_trait]
pub trait DavStore: Send + Sync {
    /// Discovers the user's home set (RFC 6764 `/.well-known/caldav|carddav`, RFC 5397
    /// current-user-principal, calendar-home-set / addressbook-home-set) and lists the
    /// collections of `kind` in it.
    async fn collections(
        &self,
        creds: &Credentials,
        kind: DavKind,
    ) -> Result<Vec<DavCollection>, BackendError>;

    /// Every member with its ETag (PROPFIND Depth 1 getetag), with the collection's
    /// sync-token read in the same request.
    async fn list(&self, creds: &Credentials, collection: &str)
    -> Result<DavListing, BackendError>;

    /// RFC 6578 sync-collection since `token`. `Ok(None)` when the server does not support
    /// it or refuses the token (invalid or expired): the caller falls back to `list`.
    async fn changes(
        &self,
        creds: &Credentials,
        collection: &str,
        token: &str,
    ) -> Result<Option<DavDelta>, BackendError>;

    /// The objects at `hrefs` (calendar-multiget / addressbook-multiget, in chunks);
    /// hrefs that do not exist are left out.
    async fn fetch(
        &self,
        creds: &Credentials,
        collection: &str,
        hrefs: &[String],
    ) -> Result<Vec<DavObject>, BackendError>;

    /// `(href, etag)` of the calendar objects with a `component` (`VEVENT`, `VTODO`…)
    /// overlapping `[start, end)` (Unix seconds; `end: None` is open-ended), by RFC 4791
    /// calendar-query time-range: recurring objects with any overlapping instance count.
    async fn time_range(
        &self,
        creds: &Credentials,
        collection: &str,
        component: &str,
        start: i64,
        end: Option<i64>,
    ) -> Result<Vec<(String, String)>, BackendError>;

    /// Stores an object named `name` (a single path segment) in `collection`.
    /// `if_match: Some(etag)` updates it only if unchanged; `None` creates it only if new
    /// (If-None-Match: *). Either precondition failing is `Err(Conflict)`. Returns the
    /// href and the new ETag.
    async fn put(
        &self,
        creds: &Credentials,
        collection: &str,
        name: &str,
        data: &[u8],
        content_type: &str,
        if_match: Option<&str>,
    ) -> Result<(String, String), BackendError>;

    /// Deletes an object, only if its ETag is still `if_match` when given
    /// (`Err(Conflict)` otherwise). `Err(NotFound)` when it does not exist.
    async fn delete(
        &self,
        creds: &Credentials,
        href: &str,
        if_match: Option<&str>,
    ) -> Result<(), BackendError>;

    /// Creates a calendar (MKCALENDAR with the supported `components`) or an address book
    /// (extended MKCOL, RFC 5689) in the user's home set, with a display name; the server
    /// path is chosen by the backend. Returns the new collection's href.
    async fn create_collection(
        &self,
        creds: &Credentials,
        kind: DavKind,
        display_name: &str,
        components: &[&str],
    ) -> Result<String, BackendError>;

    /// Sets a collection's DAV:displayname (PROPPATCH).
    async fn rename_collection(
        &self,
        creds: &Credentials,
        href: &str,
        display_name: &str,
    ) -> Result<(), BackendError>;

    /// Deletes a collection and everything in it.
    async fn delete_collection(&self, creds: &Credentials, href: &str) -> Result<(), BackendError>;
}

/// One person of an organisation directory (a GAL entry), in neutral terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryEntry {
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    /// Mail addresses, the primary one first.
    pub emails: Vec<String>,
    pub phone: String,
    pub mobile_phone: String,
    pub home_phone: String,
    pub company: String,
    pub title: String,
    pub office: String,
    pub alias: String,
    /// A photo (JPEG or PNG bytes).
    pub picture: Option<Vec<u8>>,
    /// DER X.509 certificates (S/MIME), e.g. LDAP `userCertificate;binary`.
    pub certificates: Vec<Vec<u8>>,
}

impl DirectoryEntry {
    /// Whether the entry matches a search text: a case-insensitive substring of the
    /// display name, first or last name, alias or any address.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return false;
        }
        [
            &self.display_name,
            &self.first_name,
            &self.last_name,
            &self.alias,
        ]
        .into_iter()
        .chain(self.emails.iter())
        .any(|f| f.to_lowercase().contains(&q))
    }

    /// Whether one of the entry's addresses is `address` (case-insensitive).
    pub fn has_address(&self, address: &str) -> bool {
        self.emails
            .iter()
            .any(|e| e.eq_ignore_ascii_case(address.trim()))
    }
}

/// An organisation directory (GAL): a CardDAV address book, LDAP…
#[async_trait]
pub trait Directory: Send + Sync {
    /// Entries matching `query` (see [`DirectoryEntry::matches`]; the source may match
    /// more loosely), at most `limit`. `creds` are the requesting user's, for sources that
    /// read with the user's own rights.
    async fn search(
        &self,
        creds: &Credentials,
        query: &str,
        limit: usize,
    ) -> Result<Vec<DirectoryEntry>, BackendError>;
}

/// An upstream mail submission server (SMTP, RFC 6409): hands a finished message to
/// the MTA for delivery.
///
/// Errors: refused credentials are `Auth`; a connection failure, a timeout or a 4xx
/// reply is `Transient` (retry later); a 5xx reply (e.g. a refused sender or
/// recipient) is `Permanent`.
#[async_trait]
pub trait Submitter: Send + Sync {
    /// Submits `raw` (an RFC 5322 message, sent as is) with the SMTP envelope
    /// `MAIL FROM:<envelope_from>` and one `RCPT TO` per recipient, authenticating as
    /// `creds` (or as the backend's own relay account when it has one).
    async fn submit(
        &self,
        creds: &Credentials,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<(), BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let c = Credentials::new("alice@example.org", "hunter2");
        let shown = format!("{c:?}");
        assert!(shown.contains("alice@example.org"));
        assert!(!shown.contains("hunter2"));
    }
}
