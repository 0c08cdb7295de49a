//! Message commands: listing, CONDSTORE/QRESYNC deltas, fetching, flags, move, delete,
//! append — all on [`raw`] commands, since async-imap's parser cannot read QRESYNC,
//! VANISHED or the UIDPLUS response codes.
//!
//! # Session state
//!
//! A pooled session is in the authenticated state, with one exception below. Every
//! operation here sends `SELECT`/`EXAMINE` of its mailbox, its commands and `UNSELECT` as
//! one pipelined batch (RFC 3501 §5.5), so a typical operation costs one round trip and
//! leaves the session as it found it.
//!
//! The exception: a fetch of messages leaves its plain `EXAMINE` open and notes it on
//! the connection ([`crate::conn::Examined`]), because Dovecot re-reads a Maildir's file
//! list whenever a mailbox is opened and its bodies are first read (12 ms per open for
//! 10,000 messages, paid by every window of an initial Sync). A listing leaves its
//! `EXAMINE` open too, for the window fetches that follow it (the first windows of an
//! initial Sync then find the connections that listed the mailbox with it open), but
//! never reuses one left open: it reads the counters of its own. The next fetch of the same
//! mailbox on that session sends `NOOP` first, in its own round trip — Dovecot runs
//! pipelined commands side by side, and a `UID FETCH` pipelined behind the `NOOP` missed
//! a message appended just before — and then its `UID FETCH` without a new `EXAMINE`.
//! A fetch that accepts the session's view as it is ([`fetch_dated`]: every UID it names
//! is below the UIDNEXT the EXAMINE reported, so the session knows the message) skips the
//! `NOOP`, which costs Dovecot a mailbox sync (0.15–0.5 ms of its CPU per window). A
//! message expunged meanwhile by another session comes back with a NIL body (Dovecot:
//! `OK [EXPUNGEISSUED]`) and is left out; a server that answers NO instead gets the
//! fetch again after a `NOOP`.
//! Any other command batch ([`raw::run_streaming`]) first leaves the mailbox, in the same
//! round trip, and ignores what it still reports. A mailbox renamed and re-created by
//! another client while open here makes Dovecot end the session, and the fetch is
//! retried on a new one ([`crate::ImapStore::with_session`]). Pipelining commands behind a SELECT is safe because
//! a SELECT that fails leaves *no* mailbox selected (RFC 3501 §6.3.1): the commands behind
//! it then fail with BAD instead of acting on another mailbox. A batch that breaks (I/O,
//! timeout, oversize literal) breaks the connection, which is then dropped by
//! [`crate::ImapStore::with_session`] rather than pooled. Read-only operations use EXAMINE,
//! which neither needs write access nor clears `\Recent` for other clients.
//!
//! Without UNSELECT (RFC 3691) the mailbox is left with CLOSE after EXAMINE (which never
//! expunges a read-only selection, RFC 3501 §6.4.2), and after a read-write SELECT with
//! `EXAMINE` + `CLOSE`, so that CLOSE never expunges messages flagged by others.
//!
//! QRESYNC is enabled (RFC 5161 ENABLE, pipelined with the first QRESYNC request on a
//! connection and harmless to repeat) only where it is used; once enabled, a connection
//! reports expunges as `VANISHED`, which only [`raw`] can read.

use std::collections::{HashMap, HashSet};

use airsync_model::{
    FetchedMessage, FlagChange, MailboxDelta, MailboxListing, MailboxStatus, MessageMeta,
    SearchHits, SearchKey, Uid,
};
use tokio::io::AsyncWriteExt;

use crate::conn::Examined;
use crate::error::Error;
use crate::mailboxes::wire_name;
use crate::raw::{self, Frame, Session, Status, StatusText, Untagged, Value};
use crate::server::Capabilities;

/// Default largest message a fetch accepts (bytes).
pub(crate) const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// Longest UID set written into one command. Dovecot accepts lines up to 64 KiB
/// (`imap_max_line_length`); other servers allow 8 KiB (RFC 7162 §4 recommends it).
const MAX_SET_LEN: usize = 4000;

/// Most UIDs a VANISHED or "missing" set is expanded to before the delta is given up
/// (`Ok(None)`: the caller compares a full listing instead, which is bounded by the
/// mailbox size rather than by UID gaps).
const MAX_EXPANDED: usize = 1 << 20;

/// Longest response literal outside of message bodies (flags, dates, search results).
const MAX_OTHER_LITERAL: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// Pure helpers: UID sets, dates, flags, response items.
// ---------------------------------------------------------------------------------------

/// Compresses UIDs into sequence sets (`1:5,9,12:20`, RFC 3501 §9 `sequence-set`), each at
/// most `max_len` characters (but always at least one range): one set per command. UID 0
/// does not exist and is dropped; duplicates and order do not matter.
pub(crate) fn uid_sets(uids: &[Uid], max_len: usize) -> Vec<String> {
    let mut sorted: Vec<Uid> = uids.iter().copied().filter(|&u| u != 0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut sets = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        i += 1;
        let range = if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        };
        if !current.is_empty() && current.len() + 1 + range.len() > max_len {
            sets.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&range);
    }
    if !current.is_empty() {
        sets.push(current);
    }
    sets
}

/// Parses a UID set as servers send it in VANISHED, COPYUID, APPENDUID and ESEARCH
/// (`1:5,9,20:12`) into inclusive ranges `(low, high)`, in the order written. `*` is not
/// allowed in those responses (RFC 4315 §4 `uid-set`, RFC 7162 §7 `known-uids`).
pub(crate) fn parse_uid_set(s: &str) -> Result<Vec<(Uid, Uid)>, Error> {
    let bad = || Error::Protocol(format!("bad UID set {s:?}"));
    let num = |n: &str| -> Result<Uid, Error> {
        match n.parse::<Uid>() {
            Ok(v) if v > 0 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
            _ => Err(bad()),
        }
    };
    s.split(',')
        .map(|part| match part.split_once(':') {
            // RFC 3501 §9: "all values between these two regardless of order".
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                Ok((a.min(b), a.max(b)))
            }
            None => num(part).map(|v| (v, v)),
        })
        .collect()
}

/// Number of UIDs in ranges.
fn set_len(ranges: &[(Uid, Uid)]) -> u64 {
    ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
}

/// Expands ranges into UIDs (ascending within each range), or `None` if that would be
/// more than `cap` UIDs.
pub(crate) fn expand(ranges: &[(Uid, Uid)], cap: usize) -> Option<Vec<Uid>> {
    if set_len(ranges) > cap as u64 {
        return None;
    }
    Some(ranges.iter().flat_map(|&(a, b)| a..=b).collect())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// INTERNALDATE for APPEND (RFC 3501 §9 `date-time`): `"dd-Mon-yyyy hh:mm:ss +0000"`, UTC.
pub(crate) fn format_internal_date(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[m as usize - 1],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A SEARCH date (RFC 3501 §9 `date`): `1-Jan-2020`, of the UTC day of `secs`.
fn search_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{d}-{}-{y}", MONTHS[m as usize - 1])
}

/// Parses an INTERNALDATE (`"26-Nov-2026 00:38:16 +0100"`, day possibly space-padded)
/// into Unix seconds.
pub(crate) fn parse_internal_date(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let mut parts = date.split('-');
    let d: u32 = parts.next()?.parse().ok()?;
    let mon = parts.next()?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? as u32 + 1;
    let y: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=31).contains(&d) {
        return None;
    }
    let (time, zone) = rest.trim_start().split_once(' ')?;
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let zone = zone.trim();
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let offset = digits[..2].parse::<i64>().ok()? * 3600 + digits[2..].parse::<i64>().ok()? * 60;
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + se - sign * offset)
}

/// Checks that a flag can be sent as is: one of the system flags a client may set
/// (RFC 3501 §2.3.2; `\Recent` is the server's), or a keyword that is a valid IMAP atom
/// (RFC 3501 §9: no SP, CTL, 8-bit, `( ) { % * " \ ]`).
pub(crate) fn check_flag(flag: &str) -> Result<(), Error> {
    const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
    if flag.starts_with('\\') {
        return if SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(flag)) {
            Ok(())
        } else {
            Err(Error::Invalid(format!("flag {flag:?} cannot be set")))
        };
    }
    let atom_char = |b: u8| {
        b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
    };
    if flag.is_empty() || !flag.bytes().all(atom_char) {
        return Err(Error::Invalid(format!(
            "keyword {flag:?} is not a valid IMAP atom"
        )));
    }
    Ok(())
}

/// `(flag flag …)` after checking each flag.
fn flag_list(flags: &[String]) -> Result<String, Error> {
    flags.iter().try_for_each(|f| check_flag(f))?;
    Ok(format!("({})", flags.join(" ")))
}

/// The items of one FETCH response (RFC 3501 §7.4.2, RFC 7162 §3.1.4.1 for MODSEQ).
/// Unsolicited FETCH responses carry only some of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FetchItems {
    pub uid: Option<Uid>,
    pub flags: Option<Vec<String>>,
    pub internal_date: Option<i64>,
    pub size: Option<u64>,
    pub modseq: Option<u64>,
    /// `BODY[]` or `BODY[HEADER.FIELDS (…)]`: `Some(None)` when the server answered NIL.
    pub body: Option<Option<Vec<u8>>>,
}

/// Reads `* n FETCH (…)`; `None` for any other response. Takes the tokens by value so
/// that a message body is moved, not copied. `\Recent` is dropped from the flags: it is
/// per session (EXAMINE keeps it, SELECT clears it) and would show as a phantom change.
pub(crate) fn parse_fetch(tokens: Vec<Value>) -> Result<Option<FetchItems>, Error> {
    let mut it = tokens.into_iter();
    let (Some(_seq), Some(kind), Some(Value::List(items))) = (it.next(), it.next(), it.next())
    else {
        return Ok(None);
    };
    if !kind.is_atom("FETCH") {
        return Ok(None);
    }
    let bad = |what: &str| Error::Protocol(format!("bad FETCH item {what}"));
    let mut out = FetchItems::default();
    let mut items = items.into_iter();
    while let Some(key) = items.next() {
        let Value::Atom(key) = key else {
            return Err(bad("name"));
        };
        let value = items.next().ok_or_else(|| bad(&key))?;
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        match () {
            _ if is("UID") => out.uid = Some(value.number().ok_or_else(|| bad("UID"))?),
            _ if is("FLAGS") => {
                let list = value.list().ok_or_else(|| bad("FLAGS"))?;
                out.flags = Some(
                    list.iter()
                        .filter_map(|f| f.text().map(|t| t.into_owned()))
                        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                        .collect(),
                );
            }
            _ if is("INTERNALDATE") => {
                let text = value.text().ok_or_else(|| bad("INTERNALDATE"))?;
                out.internal_date =
                    Some(parse_internal_date(&text).ok_or_else(|| bad("INTERNALDATE"))?);
            }
            _ if is("RFC822.SIZE") => {
                out.size = Some(value.number().ok_or_else(|| bad("RFC822.SIZE"))?);
            }
            _ if is("MODSEQ") => {
                out.modseq = Some(
                    value
                        .list()
                        .and_then(|l| l.first())
                        .and_then(Value::number)
                        .ok_or_else(|| bad("MODSEQ"))?,
                );
            }
            // The one section a fetch asks for: the whole message (`BODY[]`) or some of
            // its header fields (`BODY[HEADER.FIELDS (…)]`).
            _ if is("BODY[]") || starts_with_ignore_case(&key, "BODY[HEADER.FIELDS") => {
                out.body = Some(match value {
                    Value::Str(bytes) => Some(bytes),
                    Value::Nil => None,
                    _ => return Err(bad("BODY[]")),
                })
            }
            _ => {} // items we did not ask for
        }
    }
    Ok(Some(out))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Reads `* VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10): `None` for other responses.
pub(crate) fn parse_vanished(tokens: &[Value]) -> Result<Option<Vec<(Uid, Uid)>>, Error> {
    match tokens {
        [kind, rest @ ..] if kind.is_atom("VANISHED") => {
            let set = match rest {
                [Value::List(_), set] | [set] => set,
                _ => return Err(Error::Protocol("bad VANISHED".into())),
            };
            let text = set
                .text()
                .ok_or_else(|| Error::Protocol("bad VANISHED".into()))?;
            Ok(Some(parse_uid_set(&text)?))
        }
        _ => Ok(None),
    }
}

/// `COPYUID uidvalidity src-set dst-set` (RFC 4315 §3) as (old, new) pairs; `None` for
/// another code. The two sets list the same number of UIDs, matched in order.
pub(crate) fn parse_copyuid(code: &str) -> Result<Option<Vec<(Uid, Uid)>>, Error> {
    let mut words = code.split_ascii_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("COPYUID"))
    {
        return Ok(None);
    }
    let bad = || Error::Protocol(format!("bad COPYUID {code:?}"));
    let (Some(_uv), Some(src), Some(dst)) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    let (src, dst) = (parse_uid_set(src)?, parse_uid_set(dst)?);
    if set_len(&src) != set_len(&dst) {
        return Err(bad());
    }
    let (src, dst) = (
        expand(&src, MAX_EXPANDED).ok_or_else(bad)?,
        expand(&dst, MAX_EXPANDED).ok_or_else(bad)?,
    );
    Ok(Some(src.into_iter().zip(dst).collect()))
}

/// `APPENDUID uidvalidity uid-set` (RFC 4315 §3): the UIDs of the appended message(s).
pub(crate) fn parse_appenduid(code: &str) -> Result<Option<Vec<Uid>>, Error> {
    let mut words = code.split_ascii_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("APPENDUID"))
    {
        return Ok(None);
    }
    let bad = || Error::Protocol(format!("bad APPENDUID {code:?}"));
    let (Some(_uv), Some(set)) = (words.next(), words.next()) else {
        return Err(bad());
    };
    Ok(Some(
        expand(&parse_uid_set(set)?, MAX_EXPANDED).ok_or_else(bad)?,
    ))
}

/// The UIDs of a `* SEARCH n n …` (RFC 3501 §7.2.5) or `* ESEARCH … ALL set` (RFC 4731)
/// response, as ranges; `None` for other responses.
fn parse_search(tokens: &[Value]) -> Result<Option<Vec<(Uid, Uid)>>, Error> {
    let Some((kind, rest)) = tokens.split_first() else {
        return Ok(None);
    };
    if kind.is_atom("SEARCH") {
        return rest
            .iter()
            .map(|v| {
                v.number::<Uid>()
                    .map(|n| (n, n))
                    .ok_or_else(|| Error::Protocol("bad SEARCH".into()))
            })
            .collect::<Result<_, _>>()
            .map(Some);
    }
    if kind.is_atom("ESEARCH") {
        let all = rest
            .windows(2)
            .find(|w| w[0].is_atom("ALL"))
            .and_then(|w| w[1].text());
        return match all {
            Some(set) => parse_uid_set(&set).map(Some),
            None => Ok(Some(Vec::new())), // nothing matched
        };
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// Selected state.
// ---------------------------------------------------------------------------------------

/// SELECT (read-write) or EXAMINE (read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Examine,
    Select,
}

/// What SELECT/EXAMINE reported (RFC 3501 §6.3.1, RFC 7162 §3.1.2.1).
#[derive(Debug, Default)]
struct Opened {
    exists: Option<u32>,
    uidvalidity: Option<u32>,
    uidnext: Option<u32>,
    highestmodseq: Option<u64>,
}

impl Opened {
    /// Takes in a select response; false when `u` is not one.
    fn absorb(&mut self, u: &Untagged) -> bool {
        match u {
            Untagged::Data(v) if v.len() == 2 && v[1].is_atom("EXISTS") => {
                self.exists = v[0].number();
                true
            }
            Untagged::Status(st) if st.status == Status::Ok => {
                let Some(code) = st.code.as_deref() else {
                    return false;
                };
                let mut w = code.split_ascii_whitespace();
                let (name, arg) = (w.next().unwrap_or(""), w.next());
                match name.to_ascii_uppercase().as_str() {
                    "UIDVALIDITY" => self.uidvalidity = arg.and_then(|a| a.parse().ok()),
                    "UIDNEXT" => self.uidnext = arg.and_then(|a| a.parse().ok()),
                    "HIGHESTMODSEQ" => self.highestmodseq = arg.and_then(|a| a.parse().ok()),
                    "NOMODSEQ" => self.highestmodseq = None,
                    _ => return false,
                }
                true
            }
            _ => false,
        }
    }

    fn status(&self) -> Result<MailboxStatus, Error> {
        let missing = |what: &str| Error::Protocol(format!("SELECT did not report {what}"));
        Ok(MailboxStatus {
            uidvalidity: self.uidvalidity.ok_or_else(|| missing("UIDVALIDITY"))?,
            // UIDNEXT is a SHOULD-less MUST in RFC 3501 §6.3.1 but some servers omit it.
            uidnext: self.uidnext.unwrap_or(0),
            messages: self.exists.ok_or_else(|| missing("EXISTS"))?,
            highestmodseq: self.highestmodseq,
        })
    }
}

/// One mailbox opened on a session for the length of an operation.
struct Selection<'a> {
    caps: &'a Capabilities,
    name: &'a str,
    wire: String,
    mode: Mode,
    /// ` (CONDSTORE)` or empty: SELECT parameters.
    params: &'static str,
    max_literal: usize,
    /// Leave an EXAMINE open after the operation instead of deselecting, and reuse one
    /// a previous operation left (see module docs).
    keep_open: bool,
    /// Open the mailbox anew even when `keep_open` finds it open: the operation reads
    /// the counters of its own EXAMINE (a listing).
    reopen: bool,
    /// Whether the mailbox is selected now.
    open: bool,
    opened: Opened,
    /// The highest UID the commands name, when the caller accepts the view of a
    /// mailbox left open as it is (see module docs): the NOOP is then skipped if the
    /// session knows that UID.
    known_view_for: Option<Uid>,
    /// The last run skipped the NOOP of a mailbox left open.
    skipped_noop: bool,
    /// UIDNEXT as the EXAMINE that opened the mailbox reported it.
    uidnext: u32,
}

impl<'a> Selection<'a> {
    fn new(caps: &'a Capabilities, name: &'a str, mode: Mode) -> Result<Self, Error> {
        Ok(Self {
            caps,
            name,
            wire: wire_name(name)?,
            mode,
            params: "",
            max_literal: MAX_OTHER_LITERAL,
            keep_open: false,
            reopen: false,
            open: false,
            opened: Opened::default(),
            known_view_for: None,
            skipped_noop: false,
            uidnext: 0,
        })
    }

    /// The selection of a listing: left open for the window fetches that follow it,
    /// but opened anew, for the counters of its own EXAMINE (see module docs).
    fn listing(caps: &'a Capabilities, name: &'a str) -> Result<Self, Error> {
        let mut sel = Self::new(caps, name, Mode::Examine)?;
        sel.keep_open = true;
        sel.reopen = true;
        Ok(sel)
    }

    /// Whether this selection may stay open after its operation: read-only ones.
    fn may_stay_open(&self) -> bool {
        self.keep_open && self.mode == Mode::Examine
    }

    fn deselect_command(&self) -> &'static str {
        if self.caps.has("UNSELECT") {
            "UNSELECT"
        } else {
            "CLOSE"
        }
    }

    /// Commands that leave the selected state without expunging (see module docs).
    fn close_commands(&self) -> Vec<String> {
        if self.caps.has("UNSELECT") {
            vec!["UNSELECT".into()]
        } else if self.mode == Mode::Examine {
            vec!["CLOSE".into()]
        } else {
            vec![format!("EXAMINE {}", self.wire), "CLOSE".into()]
        }
    }

    /// Runs `commands` in one round trip: preceded by `pre` and the SELECT when the
    /// mailbox is not open yet, followed by the deselection when `last`. Untagged
    /// responses other than the SELECT's go to `on_data`. Returns the completions of
    /// `commands` only. A failed SELECT is an error (`NoSuchMailbox` for a bare NO or
    /// NONEXISTENT/TRYCREATE: Dovecot 2.3 gives no code for a missing mailbox).
    async fn run<F>(
        &mut self,
        session: &mut Session,
        pre: &[String],
        commands: &[String],
        last: bool,
        mut on_data: F,
    ) -> Result<Vec<StatusText>, Error>
    where
        F: FnMut(Untagged) -> Result<(), Error>,
    {
        let mut batch: Vec<String> = Vec::new();
        let conn = session.get_mut();
        self.skipped_noop = false;
        if !self.open
            && pre.is_empty()
            && !self.reopen
            && self.may_stay_open()
            && conn.examined.as_ref().is_some_and(|e| e.wire == self.wire)
        {
            // Still open from an earlier fetch: NOOP lets the server take in what
            // arrived since, before the commands name those UIDs. Its own round trip:
            // Dovecot runs pipelined commands side by side, and a UID FETCH sent with
            // the NOOP did not see a message appended just before (seen in a test).
            let examined = conn.examined.take();
            self.uidnext = examined.map_or(0, |e| e.uidnext);
            self.open = true;
            self.skipped_noop = self.known_view_for.is_some_and(|uid| uid < self.uidnext);
            if !self.skipped_noop {
                raw::run_streaming(session, &["NOOP"], MAX_OTHER_LITERAL, |_, _| Ok(()))
                    .await?
                    .iter()
                    .try_for_each(ok)?;
            }
        }
        let select_at = if self.open {
            None
        } else {
            batch.extend_from_slice(pre);
            let verb = match self.mode {
                Mode::Examine => "EXAMINE",
                Mode::Select => "SELECT",
            };
            batch.push(format!("{verb} {}{}", self.wire, self.params));
            Some(batch.len() - 1)
        };
        let first = batch.len();
        batch.extend_from_slice(commands);
        let stay = last && self.may_stay_open();
        if last && !stay {
            batch.extend(self.close_commands());
        }
        let opened = &mut self.opened;
        let mut done = raw::run_streaming(session, &batch, self.max_literal, |i, u| {
            if select_at.is_some_and(|s| i <= s) && opened.absorb(&u) {
                return Ok(());
            }
            on_data(u)
        })
        .await?;
        if let Some(s) = select_at {
            let st = &done[s];
            match st.status {
                Status::Ok => {
                    self.open = true;
                    self.uidnext = self.opened.uidnext.unwrap_or(0);
                }
                Status::Bad => return Err(Error::Bad(st.clone())),
                _ => {
                    return Err(match st.code_name().as_deref() {
                        None | Some("NONEXISTENT" | "TRYCREATE") => {
                            Error::NoSuchMailbox(format!("{}: {st}", self.name))
                        }
                        _ => Error::No(st.clone()),
                    });
                }
            }
        }
        if stay {
            session.get_mut().examined = Some(Examined {
                wire: self.wire.clone(),
                deselect: self.deselect_command(),
                uidnext: self.uidnext,
            });
            self.open = false;
        } else if last {
            // Whatever the deselection answered, nothing stays selected that we know of:
            // UNSELECT fails only when nothing is selected.
            self.open = false;
        }
        done.truncate(first + commands.len());
        Ok(done.split_off(first))
    }

    /// Leaves the mailbox if an operation ended without a `last` batch.
    async fn close(&mut self, session: &mut Session) -> Result<(), Error> {
        if self.open {
            raw::run_pipelined(session, &self.close_commands()).await?;
            self.open = false;
        }
        Ok(())
    }

    fn status(&self) -> Result<MailboxStatus, Error> {
        self.opened.status()
    }
}

/// Deselects after `result` unless the connection is broken anyway.
async fn finish<T>(
    sel: &mut Selection<'_>,
    session: &mut Session,
    result: Result<T, Error>,
) -> Result<T, Error> {
    match result {
        Err(e) if e.breaks_connection() => Err(e),
        result => {
            sel.close(session).await?;
            result
        }
    }
}

/// Turns a completion into an error unless it is OK.
fn ok(st: &StatusText) -> Result<(), Error> {
    match st.status {
        Status::Ok => Ok(()),
        Status::Bad => Err(Error::Bad(st.clone())),
        _ => Err(Error::No(st.clone())),
    }
}

/// Collects FETCH responses by UID, merging unsolicited partial ones (flag updates by
/// other sessions) into the full ones.
///
/// Kept as a vector sorted by UID rather than a map: servers answer a `UID FETCH` in
/// ascending UID order, so nearly every response is appended, and a listing of 10,000
/// messages costs no hashing and no tree.
#[derive(Default)]
struct Collector {
    /// Sorted by `uid`, each UID once; every entry has a `uid`.
    items: Vec<FetchItems>,
}

/// What a [`Collector`] gathered: complete entries sorted by UID, each with the body if
/// one came (not NIL).
struct Metas(Vec<(MessageMeta, Option<Vec<u8>>)>);

impl Metas {
    /// All of them, in UID order.
    fn into_sorted(self) -> impl DoubleEndedIterator<Item = (MessageMeta, Option<Vec<u8>>)> {
        self.0.into_iter()
    }

    /// Those of `uids`, in the order of `uids` (each once), missing ones left out.
    fn in_order_of(self, uids: &[Uid]) -> Vec<(MessageMeta, Option<Vec<u8>>)> {
        let keys: Vec<Uid> = self.0.iter().map(|(m, _)| m.uid).collect();
        let mut slots: Vec<Option<_>> = self.0.into_iter().map(Some).collect();
        uids.iter()
            .filter_map(|uid| slots[keys.binary_search(uid).ok()?].take())
            .collect()
    }
}

impl Collector {
    fn take(&mut self, u: Untagged) -> Result<(), Error> {
        let Untagged::Data(tokens) = u else {
            return Ok(());
        };
        let Some(item) = parse_fetch(tokens)? else {
            return Ok(());
        };
        let Some(uid) = item.uid else {
            return Ok(()); // unsolicited, without UID: not ours to place
        };
        let e = self.entry(uid);
        if item.flags.is_some() {
            e.flags = item.flags;
        }
        if item.modseq.is_some() {
            e.modseq = item.modseq;
        }
        e.internal_date = item.internal_date.or(e.internal_date);
        e.size = item.size.or(e.size);
        if item.body.is_some() {
            e.body = item.body;
        }
        Ok(())
    }

    /// The entry of `uid`, a new one at its place if there is none.
    fn entry(&mut self, uid: Uid) -> &mut FetchItems {
        let at = match self.items.last() {
            Some(last) if last.uid < Some(uid) => self.items.len(),
            None => 0,
            Some(_) => match self.items.binary_search_by_key(&Some(uid), |i| i.uid) {
                Ok(found) => return &mut self.items[found],
                Err(at) => at,
            },
        };
        self.items.insert(
            at,
            FetchItems {
                uid: Some(uid),
                ..FetchItems::default()
            },
        );
        &mut self.items[at]
    }

    /// Gives the entries of `dates` their INTERNALDATE (asked without it).
    fn date_from(&mut self, dates: &HashMap<Uid, i64>) {
        for item in &mut self.items {
            if let Some(&date) = item.uid.and_then(|uid| dates.get(&uid)) {
                item.internal_date = Some(date);
            }
        }
    }

    /// The complete entries (UID, FLAGS and INTERNALDATE known).
    fn metas(self) -> Metas {
        Metas(
            self.items
                .into_iter()
                .filter_map(|i| {
                    let meta = MessageMeta {
                        uid: i.uid?,
                        flags: i.flags?,
                        internal_date: i.internal_date?,
                        size: i.size,
                        modseq: i.modseq,
                    };
                    Some((meta, i.body.flatten()))
                })
                .collect(),
        )
    }
}

/// The FETCH items for metadata (RFC822.SIZE is asked for by [`fetch_meta`] alone, see
/// [`MessageMeta::size`]).
fn meta_items(caps: &Capabilities) -> &'static str {
    if caps.has("CONDSTORE") {
        "UID FLAGS INTERNALDATE MODSEQ"
    } else {
        "UID FLAGS INTERNALDATE"
    }
}

/// The FETCH items of [`fetch_dated`]: the window fetches of a Sync, which need neither
/// INTERNALDATE (known) nor MODSEQ (no caller reads a fetched message's; Dovecot spends
/// about a tenth less on a window of short messages without it).
const DATELESS_META_ITEMS: &str = "UID FLAGS";

// ---------------------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------------------

/// Every message (or those since `since`) with the counters of the same selection.
///
/// One round trip: `EXAMINE (CONDSTORE)` + `UID FETCH 1:*` (or, with `since`, `UID SEARCH
/// RETURN (SAVE) SINCE` + `UID FETCH $`, RFC 5182) + `UNSELECT`. The status is the one
/// EXAMINE reported *before* the fetch: a message changed meanwhile may show newer state
/// than `highestmodseq` says, so a later delta from it reports that change again (never
/// misses it).
///
/// A whole mailbox of `split_from` messages or more is listed in two halves at once
/// when the server has ESEARCH: `UID SEARCH RETURN (ALL) ALL` after the EXAMINE gives
/// the UID in the middle, this session lists up to it while `upper` lists the rest on
/// a session of its own ([`list_upper`]; `None` when no other session is free or it
/// failed, and this one lists the rest). Dovecot formats each INTERNALDATE it sends
/// (2–3 µs each), so two processes halve the time before a first Sync can plan its
/// window. The SEARCH costs every whole listing of an ESEARCH server one round trip
/// more, small mailboxes too: their size is known only from the EXAMINE.
pub(crate) async fn list<U, F>(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    since: Option<i64>,
    (split_from, upper): (u32, U),
) -> Result<MailboxListing, Error>
where
    U: FnOnce(Uid) -> F,
    F: Future<Output = Option<(u32, Vec<MessageMeta>)>>,
{
    let mut sel = Selection::listing(caps, mailbox)?;
    if caps.has("CONDSTORE") {
        sel.params = " (CONDSTORE)";
    }
    let result = match since {
        None if caps.has("ESEARCH") => list_split(&mut sel, session, split_from, upper).await,
        _ => list_in(&mut sel, session, since).await,
    };
    finish(&mut sel, session, result).await
}

/// Mailboxes with at least this many messages are listed in two halves by default
/// (see [`list`]).
pub(crate) const SPLIT_FROM: u32 = 4_000;

async fn list_split<U, F>(
    sel: &mut Selection<'_>,
    session: &mut Session,
    split_from: u32,
    upper: U,
) -> Result<MailboxListing, Error>
where
    U: FnOnce(Uid) -> F,
    F: Future<Output = Option<(u32, Vec<MessageMeta>)>>,
{
    let found = uid_search(sel, session, "UID SEARCH RETURN (ALL) ALL").await?;
    // The status of the EXAMINE, before either half is read: a message changed while
    // they are read may show newer state than HIGHESTMODSEQ says (see above).
    let status = sel.status()?;
    let middle = (status.messages >= split_from)
        .then(|| middle_uid(&found))
        .flatten();
    let Some(middle) = middle else {
        // The mailbox is open: the listing of one connection without its EXAMINE.
        return list_in(sel, session, None).await;
    };
    let items = meta_items(sel.caps);
    let mut col = Collector::default();
    let lower = [format!("UID FETCH 1:{middle} ({items})")];
    let (done, other) = tokio::join!(
        sel.run(session, &[], &lower, false, |u| col.take(u)),
        upper(middle + 1)
    );
    ok(&done?[0])?;
    let other = match other {
        Some((uidvalidity, metas)) if uidvalidity == status.uidvalidity => Some(metas),
        // No other session, or it failed or saw another UIDVALIDITY: the rest here.
        _ => None,
    };
    let rest = match other {
        Some(_) => Vec::new(),
        None => vec![format!("UID FETCH {}:* ({items})", middle + 1)],
    };
    let done = sel.run(session, &[], &rest, true, |u| col.take(u)).await?;
    done.iter().try_for_each(ok)?;
    Ok(listing_of(status, col, None, other))
}

/// The UIDs a `UID SEARCH` (`command`, plain or ESEARCH) finds in the open mailbox, as
/// ranges; the mailbox stays open.
async fn uid_search(
    sel: &mut Selection<'_>,
    session: &mut Session,
    command: &str,
) -> Result<Vec<(Uid, Uid)>, Error> {
    let mut found = Vec::new();
    let done = sel
        .run(session, &[], &[command.to_string()], false, |u| {
            if let Untagged::Data(t) = &u
                && let Some(r) = parse_search(t)?
            {
                found.extend(r);
            }
            Ok(())
        })
        .await?;
    ok(&done[0])?;
    Ok(found)
}

/// The UID with about as many messages above it as at or below it, from the ranges of
/// an ESEARCH ALL; `None` when there are too few to split.
fn middle_uid(ranges: &[(Uid, Uid)]) -> Option<Uid> {
    let total = set_len(ranges);
    let mut left = total / 2;
    if left == 0 {
        return None;
    }
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    for (a, b) in sorted {
        let len = u64::from(b - a) + 1;
        if left <= len {
            return Some(a + (left - 1) as Uid);
        }
        left -= len;
    }
    None
}

/// The upper half of a split [`list`]: the messages from UID `from` on, listed on a
/// session of its own, with the UIDVALIDITY it saw.
pub(crate) async fn list_upper(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    from: Uid,
) -> Result<(u32, Vec<MessageMeta>), Error> {
    let mut sel = Selection::listing(caps, mailbox)?;
    let result = list_upper_in(&mut sel, session, from).await;
    finish(&mut sel, session, result).await
}

async fn list_upper_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    from: Uid,
) -> Result<(u32, Vec<MessageMeta>), Error> {
    let mut col = Collector::default();
    let cmd = [format!("UID FETCH {from}:* ({})", meta_items(sel.caps))];
    let done = sel.run(session, &[], &cmd, true, |u| col.take(u)).await?;
    ok(&done[0])?;
    let metas = col
        .metas()
        .into_sorted()
        .map(|(m, _)| m)
        // `n:*` names the last message even when its UID is below n (RFC 3501 §6.4.8).
        .filter(|m| m.uid >= from)
        .collect();
    Ok((sel.status()?.uidvalidity, metas))
}

/// A listing of the messages `col` gathered (those received `since`, when given), and of
/// `upper` (all of higher UIDs).
fn listing_of(
    status: MailboxStatus,
    col: Collector,
    since: Option<i64>,
    upper: Option<Vec<MessageMeta>>,
) -> MailboxListing {
    let mut messages: Vec<MessageMeta> = col
        .metas()
        .into_sorted()
        .map(|(m, _)| m)
        .filter(|m| since.is_none_or(|s| m.internal_date >= s))
        .collect();
    messages.extend(upper.into_iter().flatten());
    tracing::debug!(target: "airsync", count = messages.len(), "imap: listed messages");
    MailboxListing { status, messages }
}

async fn list_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    since: Option<i64>,
) -> Result<MailboxListing, Error> {
    let items = meta_items(sel.caps);
    let mut col = Collector::default();
    // SINCE compares dates "disregarding time and timezone" (RFC 3501 §6.4.4): ask from the
    // day before and filter the exact instant here.
    let since_day = since.map(|s| search_date(s - 86_400));
    let fetch_ok = match &since_day {
        None => {
            let cmd = [format!("UID FETCH 1:* ({items})")];
            let done = sel.run(session, &[], &cmd, true, |u| col.take(u)).await?;
            done[0].clone()
        }
        Some(day) if sel.caps.has("SEARCHRES") => {
            let cmds = [
                format!("UID SEARCH RETURN (SAVE) SINCE {day}"),
                format!("UID FETCH $ ({items})"),
            ];
            let done = sel.run(session, &[], &cmds, true, |u| col.take(u)).await?;
            ok(&done[0])?;
            done[1].clone()
        }
        Some(day) => {
            let found = uid_search(sel, session, &format!("UID SEARCH SINCE {day}")).await?;
            let uids = expand(&found, usize::MAX).unwrap_or_default();
            let cmds: Vec<String> = uid_sets(&uids, MAX_SET_LEN)
                .into_iter()
                .map(|set| format!("UID FETCH {set} ({items})"))
                .collect();
            let done = sel.run(session, &[], &cmds, true, |u| col.take(u)).await?;
            done.iter().try_for_each(ok)?;
            StatusText {
                status: Status::Ok,
                code: None,
                text: String::new(),
            }
        }
    };
    let status = sel.status()?;
    // `UID FETCH 1:*` on an empty mailbox is an error on some servers (not Dovecot).
    if status.messages != 0 || fetch_ok.status == Status::Ok {
        ok(&fetch_ok)?;
    }
    Ok(listing_of(status, col, since, None))
}

/// What changed since `modseq` (RFC 7162), or `None` when that cannot be said cheaply.
///
/// With QRESYNC, one round trip: `ENABLE QRESYNC`, `EXAMINE (CONDSTORE)`,
/// `UID FETCH 1:* (…) (CHANGEDSINCE m VANISHED)` (RFC 7162 §3.2.6: FETCH responses for
/// messages added or changed after `m`, `VANISHED (EARLIER)` for those expunged), UNSELECT.
/// With CONDSTORE only, `UID SEARCH ALL` replaces VANISHED: every UID below UIDNEXT that
/// is not there any more is reported (a superset of those expunged since `m`, like
/// Dovecot's own QRESYNC fallback). When the UIDVALIDITY differs, the data is discarded.
pub(crate) async fn changes(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uidvalidity: u32,
    modseq: u64,
) -> Result<Option<MailboxDelta>, Error> {
    // RFC 7162 §7: mod-sequence-value is positive; 0 means "everything": list instead.
    if !caps.has("CONDSTORE") || modseq == 0 {
        return Ok(None);
    }
    let mut sel = Selection::new(caps, mailbox, Mode::Examine)?;
    sel.params = " (CONDSTORE)";
    let result = changes_in(&mut sel, session, uidvalidity, modseq).await;
    finish(&mut sel, session, result).await
}

async fn changes_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    uidvalidity: u32,
    modseq: u64,
) -> Result<Option<MailboxDelta>, Error> {
    let qresync = sel.caps.has("QRESYNC");
    let items = meta_items(sel.caps);
    let (pre, cmds) = if qresync {
        (
            vec!["ENABLE QRESYNC".to_string()],
            vec![format!(
                "UID FETCH 1:* ({items}) (CHANGEDSINCE {modseq} VANISHED)"
            )],
        )
    } else {
        let search = if sel.caps.has("ESEARCH") {
            "UID SEARCH RETURN (ALL) ALL"
        } else {
            "UID SEARCH ALL"
        };
        (
            Vec::new(),
            vec![
                format!("UID FETCH 1:* ({items}) (CHANGEDSINCE {modseq})"),
                search.to_string(),
            ],
        )
    };
    let mut col = Collector::default();
    let mut vanished: Vec<(Uid, Uid)> = Vec::new();
    let mut present: Vec<(Uid, Uid)> = Vec::new();
    let done = sel
        .run(session, &pre, &cmds, true, |u| {
            if let Untagged::Data(t) = &u {
                if let Some(r) = parse_vanished(t)? {
                    vanished.extend(r);
                    return Ok(());
                }
                if !qresync && let Some(r) = parse_search(t)? {
                    present.extend(r);
                    return Ok(());
                }
            }
            col.take(u)
        })
        .await?;
    let status = sel.status()?;
    if status.uidvalidity != uidvalidity {
        tracing::debug!(target: "airsync", old = uidvalidity, new = status.uidvalidity, "imap: UIDVALIDITY changed, no delta");
        return Ok(None);
    }
    if status.messages == 0 && done.iter().any(|d| d.status != Status::Ok) {
        // Some servers refuse `1:*` on an empty mailbox; then let the caller list it.
        return Ok(None);
    }
    done.iter().try_for_each(ok)?;
    if !qresync {
        // Everything below UIDNEXT that is not present.
        present.sort_unstable();
        let mut next = 1u64;
        for &(a, b) in &present {
            if u64::from(a) > next {
                vanished.push((next as Uid, a - 1));
            }
            next = next.max(u64::from(b) + 1);
        }
        if u64::from(status.uidnext) > next {
            vanished.push((next as Uid, status.uidnext - 1));
        }
    }
    let Some(mut vanished) = expand(&vanished, MAX_EXPANDED) else {
        tracing::debug!(target: "airsync", "imap: too many vanished UIDs, no delta");
        return Ok(None);
    };
    vanished.sort_unstable();
    vanished.dedup();
    let gone: HashSet<Uid> = vanished.iter().copied().collect();
    let changed: Vec<MessageMeta> = col
        .metas()
        .into_sorted()
        .map(|(m, _)| m)
        .filter(|m| !gone.contains(&m.uid))
        .collect();
    tracing::debug!(target: "airsync", changed = changed.len(), vanished = vanished.len(), "imap: delta");
    Ok(Some(MailboxDelta {
        status,
        changed,
        vanished,
    }))
}

/// Full messages by UID, in the order of `uids` (each once), missing ones left out.
/// `BODY.PEEK[]` never sets `\Seen`; EXAMINE could not either. A message longer than
/// `max_message` fails the call with [`Error::TooLarge`] before its bytes are read.
pub(crate) async fn fetch(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uids: &[Uid],
    max_message: usize,
) -> Result<Vec<FetchedMessage>, Error> {
    let found = fetch_items(session, caps, mailbox, uids, Some(max_message), None).await?;
    messages_of(found, uids.len(), max_message)
}

/// [`fetch`] of messages whose INTERNALDATE the caller knows (`wanted`: UID and date):
/// it is not asked again: Dovecot formats each INTERNALDATE in its local time zone,
/// and without `TZ` in its environment glibc then `stat()`s /etc/localtime for every
/// message — about a fifth of what Dovecot spends on a window of short messages. MODSEQ
/// is not asked either: the messages come back without it.
///
/// On a session that still has the mailbox open from an earlier fetch and knows every
/// UID wanted, no `NOOP` comes first (module docs): the flags are then those the session
/// saw at the end of its last command, which may be older than a listing read on another
/// session meanwhile. A message expunged since is not returned.
pub(crate) async fn fetch_dated(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    wanted: &[(Uid, i64)],
    max_message: usize,
) -> Result<Vec<FetchedMessage>, Error> {
    let uids: Vec<Uid> = wanted.iter().map(|&(uid, _)| uid).collect();
    let dates: HashMap<Uid, i64> = wanted.iter().copied().collect();
    let found = fetch_items(
        session,
        caps,
        mailbox,
        &uids,
        Some(max_message),
        Some(&dates),
    )
    .await?;
    messages_of(found, uids.len(), max_message)
}

/// Fetched items as messages; [`Error::TooLarge`] for one above `max_message`. A
/// message whose body came as NIL is left out: Dovecot answers so for one expunged by
/// another session that this one has not yet taken in (`OK [EXPUNGEISSUED]`).
fn messages_of(
    found: Vec<(MessageMeta, Option<Vec<u8>>)>,
    asked: usize,
    max_message: usize,
) -> Result<Vec<FetchedMessage>, Error> {
    let mut out = Vec::with_capacity(found.len());
    for (mut meta, raw) in found {
        let Some(raw) = raw else {
            continue;
        };
        meta.size = Some(raw.len() as u64);
        if raw.len() > max_message {
            return Err(Error::TooLarge(format!(
                "message {} has {} bytes",
                meta.uid,
                raw.len()
            )));
        }
        out.push(FetchedMessage { meta, raw });
    }
    tracing::debug!(target: "airsync", asked, got = out.len(), "imap: fetched messages");
    Ok(out)
}

/// The last `count` messages of `mailbox` by sequence number (the highest UIDs) in
/// full, with the UIDVALIDITY of the selection they were read in. A fresh EXAMINE
/// (never one left open: its EXISTS is the count needed), then `FETCH n-count+1:n`;
/// the mailbox stays open for the fetches that follow, as after [`fetch`].
pub(crate) async fn fetch_last(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    count: usize,
    max_message: usize,
) -> Result<(u32, Vec<FetchedMessage>), Error> {
    let mut sel = Selection::new(caps, mailbox, Mode::Examine)?;
    sel.max_literal = max_message.max(MAX_OTHER_LITERAL);
    let result = fetch_last_in(&mut sel, session, count, max_message).await;
    match result {
        Ok(found) => Ok(found),
        // Left open only when the fetch ran to its end.
        Err(e) => finish(&mut sel, session, Err(e)).await,
    }
}

async fn fetch_last_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    count: usize,
    max_message: usize,
) -> Result<(u32, Vec<FetchedMessage>), Error> {
    sel.run(session, &[], &[], false, |_| Ok(())).await?;
    let status = sel.status()?;
    let last = status.messages;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if last == 0 || count == 0 {
        sel.close(session).await?;
        return Ok((status.uidvalidity, Vec::new()));
    }
    let first = last.saturating_sub(count - 1).max(1);
    sel.keep_open = true;
    let command = format!(
        "FETCH {first}:{last} ({} BODY.PEEK[])",
        meta_items(sel.caps)
    );
    let mut col = Collector::default();
    let done = sel
        .run(session, &[], &[command], true, |u| col.take(u))
        .await?;
    done.iter().try_for_each(ok)?;
    // Newest first; an unsolicited FETCH (another session's flag change) has no body,
    // and `messages_of` leaves it out.
    let found: Vec<_> = col.metas().into_sorted().rev().collect();
    let asked = (last - first + 1) as usize;
    Ok((status.uidvalidity, messages_of(found, asked, max_message)?))
}

/// An IMAP string for a search key: quoted when it can be, else a non-synchronising
/// literal (RFC 7888 LITERAL+/LITERAL-, which every Dovecot offers), so that the whole
/// command still goes out in one write. `None` when neither is possible.
fn search_string(caps: &Capabilities, s: &str) -> Option<String> {
    if let Ok(q) = raw::quote(s) {
        return Some(q);
    }
    let plus = caps.has("LITERAL+") || (caps.has("LITERAL-") && s.len() <= 4096);
    (plus && !s.bytes().any(|b| b == 0)).then(|| format!("{{{}+}}\r\n{s}", s.len()))
}

/// The criteria of a search (RFC 3501 §6.4.4). Dates: with WITHIN (RFC 5032) the exact
/// instant as `YOUNGER`/`OLDER` seconds from now; otherwise `SINCE`/`BEFORE`, which have
/// day granularity (UTC days).
fn search_criteria(caps: &Capabilities, keys: &[SearchKey], now: i64) -> Result<String, Error> {
    let mut out = Vec::new();
    for key in keys {
        out.push(search_key(caps, key, now)?);
    }
    if out.is_empty() {
        out.push("ALL".into());
    }
    Ok(out.join(" "))
}

/// One search key (see [`search_criteria`]).
fn search_key(caps: &Capabilities, key: &SearchKey, now: i64) -> Result<String, Error> {
    let within = caps.has("WITHIN");
    let string = |s: &str| {
        search_string(caps, s).ok_or_else(|| Error::Invalid("search text cannot be sent".into()))
    };
    Ok(match key {
        SearchKey::Text(t) => format!("TEXT {}", string(t)?),
        SearchKey::Since(s) if within => format!("YOUNGER {}", (now - s).max(1)),
        SearchKey::Since(s) => format!("SINCE {}", search_date(*s)),
        SearchKey::Before(b) if within && *b > now => "ALL".into(),
        SearchKey::Before(b) if within => format!("OLDER {}", (now - b).max(0) + 1),
        SearchKey::Before(b) => format!("BEFORE {}", search_date(*b)),
        SearchKey::Header(name, value) => {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(Error::Invalid("bad header field name".into()));
            }
            format!("HEADER {name} {}", string(value)?)
        }
        // RFC 3501 OR takes two keys: a chain of ORs for longer lists; an empty list
        // matches nothing.
        SearchKey::AnyOf(keys) => match keys.split_first() {
            None => "NOT ALL".into(),
            Some((first, [])) => search_key(caps, first, now)?,
            Some((first, rest)) => format!(
                "OR {} ({})",
                search_key(caps, first, now)?,
                search_key(caps, &SearchKey::AnyOf(rest.to_vec()), now)?
            ),
        },
    })
}

/// A search (see [`airsync_model::MailStore::search`]): `UID SORT (REVERSE ARRIVAL)` where
/// the server offers SORT (RFC 5256: newest INTERNALDATE first), else `UID SEARCH` with
/// the highest UIDs taken as the newest; then the metadata of the first `limit`, all in
/// one EXAMINE. Full-text indexes (Dovecot fts) are used by the server for `TEXT`.
pub(crate) async fn search(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    keys: &[SearchKey],
    limit: usize,
    now: i64,
) -> Result<SearchHits, Error> {
    let criteria = search_criteria(caps, keys, now)?;
    let charset = if keys
        .iter()
        .any(|k| matches!(k, SearchKey::Text(t) | SearchKey::Header(_, t) if !t.is_ascii()))
    {
        "UTF-8"
    } else {
        "US-ASCII"
    };
    let sorted = caps.has("SORT");
    let cmd = if sorted {
        format!("UID SORT (REVERSE ARRIVAL) {charset} {criteria}")
    } else {
        format!("UID SEARCH CHARSET {charset} {criteria}")
    };
    let mut sel = Selection::new(caps, mailbox, Mode::Examine)?;
    let result = search_in(&mut sel, session, &cmd, sorted, limit).await;
    finish(&mut sel, session, result).await
}

async fn search_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    cmd: &str,
    sorted: bool,
    limit: usize,
) -> Result<SearchHits, Error> {
    let mut found: Vec<Uid> = Vec::new();
    let done = sel
        .run(session, &[], &[cmd.to_string()], false, |u| {
            if let Untagged::Data(t) = &u
                && let Some((kind, rest)) = t.split_first()
                && (kind.is_atom("SORT") || kind.is_atom("SEARCH"))
            {
                for v in rest {
                    found.push(
                        v.number::<Uid>()
                            .ok_or_else(|| Error::Protocol("bad SEARCH/SORT".into()))?,
                    );
                }
            }
            Ok(())
        })
        .await?;
    ok(&done[0])?;
    if !sorted {
        found.sort_unstable_by(|a, b| b.cmp(a));
    }
    let total = found.len();
    found.truncate(limit);
    if found.is_empty() {
        return Ok(SearchHits {
            total,
            newest: Vec::new(),
        });
    }
    let items = meta_items(sel.caps);
    let cmds: Vec<String> = uid_sets(&found, MAX_SET_LEN)
        .into_iter()
        .map(|set| format!("UID FETCH {set} ({items})"))
        .collect();
    let mut col = Collector::default();
    let done = sel.run(session, &[], &cmds, true, |u| col.take(u)).await?;
    done.iter().try_for_each(ok)?;
    let mut newest: Vec<MessageMeta> = col
        .metas()
        .in_order_of(&found)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    newest.sort_by(|a, b| {
        b.internal_date
            .cmp(&a.internal_date)
            .then(b.uid.cmp(&a.uid))
    });
    Ok(SearchHits { total, newest })
}

/// Flags, dates and sizes of the given messages, without their content.
pub(crate) async fn fetch_meta(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uids: &[Uid],
) -> Result<Vec<MessageMeta>, Error> {
    let found = fetch_items(session, caps, mailbox, uids, None, None).await?;
    Ok(found.into_iter().map(|(meta, _)| meta).collect())
}

/// Some header fields (`fields`, header names) of every message of `mailbox`, with the
/// metadata of each, in UID order: `UID FETCH 1:* (… BODY.PEEK[HEADER.FIELDS (…)])`.
/// The text of each is the named fields as they stand in the message, and the blank line
/// that ends a header.
pub(crate) async fn fetch_header_fields(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    fields: &[&str],
) -> Result<Vec<(MessageMeta, Vec<u8>)>, Error> {
    if fields.is_empty()
        || fields
            .iter()
            .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_graphic() && b != b':'))
    {
        return Err(Error::Invalid("bad header field name".into()));
    }
    let mut sel = Selection::new(caps, mailbox, Mode::Examine)?;
    let command = format!(
        "UID FETCH 1:* ({} BODY.PEEK[HEADER.FIELDS ({})])",
        meta_items(caps),
        fields.join(" ")
    );
    let mut col = Collector::default();
    let done = sel
        .run(session, &[], &[command], true, |u| col.take(u))
        .await?;
    done.iter().try_for_each(ok)?;
    Ok(col
        .metas()
        .into_sorted()
        .map(|(meta, text)| (meta, text.unwrap_or_default()))
        .collect())
}

/// `UID FETCH` of the metadata (and, with `max_message`, the content) of `uids`, in the
/// order of `uids`; messages that no longer exist are left out. With `dates`, the
/// INTERNALDATE of each is taken from there instead of asked.
async fn fetch_items(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uids: &[Uid],
    max_message: Option<usize>,
    dates: Option<&HashMap<Uid, i64>>,
) -> Result<Vec<(MessageMeta, Option<Vec<u8>>)>, Error> {
    let sets = uid_sets(uids, MAX_SET_LEN);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let mut sel = Selection::new(caps, mailbox, Mode::Examine)?;
    sel.keep_open = true;
    let items = match dates {
        Some(_) => DATELESS_META_ITEMS,
        None => meta_items(caps),
    };
    let body = match max_message {
        Some(max) => {
            sel.max_literal = max.max(MAX_OTHER_LITERAL);
            " BODY.PEEK[]"
        }
        None => " RFC822.SIZE",
    };
    let cmds: Vec<String> = sets
        .into_iter()
        .map(|set| format!("UID FETCH {set} ({items}{body})"))
        .collect();
    if dates.is_some() {
        sel.known_view_for = uids.iter().copied().max();
    }
    let mut col = Collector::default();
    let mut done = sel.run(session, &[], &cmds, true, |u| col.take(u)).await?;
    if sel.skipped_noop && done.iter().any(|st| st.status != Status::Ok) {
        // A server may refuse a fetch naming a message expunged by another session
        // since this one last looked (RFC 9051 §7.1: NO [EXPUNGEISSUED]; Dovecot answers
        // OK and the body NIL): look again, then fetch again.
        tracing::debug!(target: "airsync", "imap: fetch without NOOP refused, repeated after one");
        sel.known_view_for = None;
        col = Collector::default();
        done = sel.run(session, &[], &cmds, true, |u| col.take(u)).await?;
    }
    done.iter().try_for_each(ok)?;
    if let Some(dates) = dates {
        col.date_from(dates);
    }
    Ok(col.metas().in_order_of(uids))
}

/// `UID STORE set ±FLAGS.SILENT (…)` for each chunk of UIDs.
pub(crate) async fn set_flags(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uids: &[Uid],
    change: &FlagChange,
) -> Result<(), Error> {
    // Checked before anything is sent.
    let add = (!change.add.is_empty())
        .then(|| flag_list(&change.add))
        .transpose()?;
    let remove = (!change.remove.is_empty())
        .then(|| flag_list(&change.remove))
        .transpose()?;
    let sets = uid_sets(uids, MAX_SET_LEN);
    if sets.is_empty() || (add.is_none() && remove.is_none()) {
        return Ok(());
    }
    let mut cmds = Vec::new();
    for set in &sets {
        if let Some(add) = &add {
            cmds.push(format!("UID STORE {set} +FLAGS.SILENT {add}"));
        }
        if let Some(remove) = &remove {
            cmds.push(format!("UID STORE {set} -FLAGS.SILENT {remove}"));
        }
    }
    let mut sel = Selection::new(caps, mailbox, Mode::Select)?;
    let done = sel.run(session, &[], &cmds, true, |_| Ok(())).await?;
    done.iter().try_for_each(ok)
}

/// Collects COPYUID pairs from untagged OK responses (RFC 6851 §4.3: MOVE sends it before
/// the expunges) and tagged completions.
#[derive(Default)]
struct CopyUids(Vec<(Uid, Uid)>);

impl CopyUids {
    fn take(&mut self, st: &StatusText) -> Result<(), Error> {
        if st.status == Status::Ok
            && let Some(code) = &st.code
            && let Some(pairs) = parse_copyuid(code)?
        {
            self.0.extend(pairs);
        }
        Ok(())
    }
}

/// UID MOVE (RFC 6851), else UID COPY + `\Deleted` + UID EXPUNGE; (old, new) pairs from
/// COPYUID (RFC 4315), none without UIDPLUS.
pub(crate) async fn move_to(
    session: &mut Session,
    caps: &Capabilities,
    from: &str,
    uids: &[Uid],
    to: &str,
) -> Result<Vec<(Uid, Uid)>, Error> {
    let to_wire = wire_name(to)?;
    let sets = uid_sets(uids, MAX_SET_LEN);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let mut sel = Selection::new(caps, from, Mode::Select)?;
    let result = move_in(&mut sel, session, &sets, &to_wire).await;
    let mut pairs = finish(&mut sel, session, result).await?;
    if !caps.has("UIDPLUS") {
        pairs.clear(); // not announced (or ignored): not trusted
    }
    pairs.sort_unstable();
    pairs.dedup();
    tracing::debug!(target: "airsync", moved = pairs.len(), "imap: moved messages");
    Ok(pairs)
}

async fn move_in(
    sel: &mut Selection<'_>,
    session: &mut Session,
    sets: &[String],
    to_wire: &str,
) -> Result<Vec<(Uid, Uid)>, Error> {
    let mut copyuids = CopyUids::default();
    if sel.caps.has("MOVE") {
        let cmds: Vec<String> = sets
            .iter()
            .map(|set| format!("UID MOVE {set} {to_wire}"))
            .collect();
        let done = sel
            .run(session, &[], &cmds, true, |u| match &u {
                Untagged::Status(st) => copyuids.take(st),
                _ => Ok(()),
            })
            .await?;
        for st in &done {
            ok(st)?;
            copyuids.take(st)?;
        }
        return Ok(copyuids.0);
    }
    // COPY must succeed before anything is flagged \Deleted: not pipelined with it.
    let cmds: Vec<String> = sets
        .iter()
        .map(|set| format!("UID COPY {set} {to_wire}"))
        .collect();
    let done = sel.run(session, &[], &cmds, false, |_| Ok(())).await?;
    for st in &done {
        ok(st)?;
        copyuids.take(st)?;
    }
    remove(sel, session, sets).await?;
    Ok(copyuids.0)
}

/// `\Deleted` + `UID EXPUNGE set` (RFC 4315 §2.1) for exactly these UIDs.
pub(crate) async fn delete(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    uids: &[Uid],
) -> Result<(), Error> {
    let sets = uid_sets(uids, MAX_SET_LEN);
    if sets.is_empty() {
        return Ok(());
    }
    let mut sel = Selection::new(caps, mailbox, Mode::Select)?;
    let result = remove(&mut sel, session, &sets).await;
    finish(&mut sel, session, result).await
}

/// Flags the UIDs `\Deleted` and expunges exactly them. Never a plain EXPUNGE that would
/// take messages another client flagged: without UIDPLUS, EXPUNGE is sent only when no
/// other message carries `\Deleted`; otherwise ours stay flagged (logged).
async fn remove(
    sel: &mut Selection<'_>,
    session: &mut Session,
    sets: &[String],
) -> Result<(), Error> {
    let store = sets
        .iter()
        .map(|set| format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"));
    if sel.caps.has("UIDPLUS") {
        let cmds: Vec<String> = store
            .chain(sets.iter().map(|set| format!("UID EXPUNGE {set}")))
            .collect();
        let done = sel.run(session, &[], &cmds, true, |_| Ok(())).await?;
        return done.iter().try_for_each(ok);
    }
    let mut cmds: Vec<String> = store.collect();
    cmds.push("UID SEARCH DELETED".into());
    let mut deleted = Vec::new();
    let done = sel
        .run(session, &[], &cmds, false, |u| {
            if let Untagged::Data(t) = &u
                && let Some(r) = parse_search(t)?
            {
                deleted.extend(r);
            }
            Ok(())
        })
        .await?;
    done.iter().try_for_each(ok)?;
    let ours: HashSet<Uid> = sets
        .iter()
        .flat_map(|s| parse_uid_set(s).unwrap_or_default())
        .flat_map(|(a, b)| a..=b)
        .collect();
    let others = expand(&deleted, MAX_EXPANDED).is_none_or(|d| d.iter().any(|u| !ours.contains(u)));
    if others {
        tracing::warn!(target: "airsync", "imap: no UIDPLUS and other messages are flagged \\Deleted; leaving ours flagged, not expunged");
        return Ok(());
    }
    let done = sel
        .run(session, &[], &["EXPUNGE".to_string()], true, |_| Ok(()))
        .await?;
    ok(&done[0])
}

/// APPEND (RFC 3501 §6.3.11) with flags, INTERNALDATE and the message as a literal:
/// non-synchronising with LITERAL+ (RFC 7888; LITERAL- up to 4 KiB), `~{n}` (RFC 3516
/// literal8) when the message has NUL bytes and the server offers BINARY. The UID comes
/// from APPENDUID (RFC 4315).
pub(crate) async fn append(
    session: &mut Session,
    caps: &Capabilities,
    mailbox: &str,
    flags: &[String],
    internal_date: Option<i64>,
    raw: &[u8],
) -> Result<Option<Uid>, Error> {
    let mut cmd = format!("APPEND {}", wire_name(mailbox)?);
    if !flags.is_empty() {
        cmd.push(' ');
        cmd.push_str(&flag_list(flags)?);
    }
    if let Some(date) = internal_date {
        cmd.push_str(&format!(" \"{}\"", format_internal_date(date)));
    }
    let binary = raw.contains(&0);
    if binary && !caps.has("BINARY") {
        return Err(Error::Invalid(
            "message contains NUL bytes and the server has no BINARY".into(),
        ));
    }
    let nonsync = caps.has("LITERAL+") || (caps.has("LITERAL-") && raw.len() <= 4096);
    cmd.push_str(&format!(
        " {}{{{}{}}}",
        if binary { "~" } else { "" },
        raw.len(),
        if nonsync { "+" } else { "" }
    ));
    tracing::trace!(target: "airsync", command = cmd, "imap raw command");
    let tag = session.run_command(&cmd).await?.0;
    let conn = session.get_mut();
    if !nonsync {
        // Wait for the go-ahead; a tagged answer instead is a refusal.
        loop {
            match raw::read_frame(conn, MAX_OTHER_LITERAL).await? {
                Frame::Continuation(_) => break,
                Frame::Tagged(t, st) if t == tag => {
                    ok(&st)?;
                    return Err(Error::Protocol(
                        "APPEND completed before its literal".into(),
                    ));
                }
                _ => {}
            }
        }
    }
    conn.write_all(raw).await?;
    conn.write_all(b"\r\n").await?;
    conn.flush().await?;
    let done = raw::collect_completions(conn, &[tag], MAX_OTHER_LITERAL, &mut |_, _| Ok(()))
        .await?
        .remove(0);
    if done.status == Status::No && done.code_name().as_deref() == Some("TRYCREATE") {
        return Err(Error::NoSuchMailbox(format!("{mailbox}: {done}")));
    }
    ok(&done)?;
    // Codes of an extension the server did not announce (or that we were told to
    // ignore) are not trusted.
    let uid = match done.code.as_deref().filter(|_| caps.has("UIDPLUS")) {
        Some(code) => parse_appenduid(code)?.and_then(|uids| uids.last().copied()),
        None => None,
    };
    tracing::debug!(target: "airsync", size = raw.len(), uid, "imap: appended message");
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    /// The tokens of an untagged data line, through the real frame parser.
    fn data(line: &[u8]) -> Vec<Value> {
        match raw::parse_frame_for_tests(line) {
            Untagged::Data(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uid_sets_compress_and_chunk() {
        assert_eq!(
            uid_sets(&[9, 1, 2, 3, 4, 5, 12, 13, 14, 20, 3, 0], 100),
            vec!["1:5,9,12:14,20"]
        );
        assert_eq!(uid_sets(&[], 100), Vec::<String>::new());
        assert_eq!(uid_sets(&[7], 100), vec!["7"]);
        assert_eq!(uid_sets(&[1, 3, 5, 7], 3), vec!["1,3", "5,7"]);
        // A range longer than the limit still goes out alone.
        assert_eq!(uid_sets(&[100, 101, 200], 3), vec!["100:101", "200"]);
        let many: Vec<Uid> = (1..=20_000).step_by(2).collect();
        let sets = uid_sets(&many, MAX_SET_LEN);
        assert!(sets.len() > 1 && sets.iter().all(|s| s.len() <= MAX_SET_LEN));
        let back: Vec<Uid> = sets
            .iter()
            .flat_map(|s| expand(&parse_uid_set(s).unwrap(), usize::MAX).unwrap())
            .collect();
        assert_eq!(back, many);
    }

    #[test]
    fn uid_set_parsing() {
        assert_eq!(
            parse_uid_set("1:3,7,12:10").unwrap(),
            vec![(1, 3), (7, 7), (10, 12)]
        );
        assert_eq!(
            expand(&parse_uid_set("1:3,7,12:10").unwrap(), 100).unwrap(),
            vec![1, 2, 3, 7, 10, 11, 12]
        );
        assert!(expand(&parse_uid_set("1:4294967295").unwrap(), MAX_EXPANDED).is_none());
        for bad in ["", "1:", "a", "1:*", "0", "1,,2", "+3"] {
            assert!(parse_uid_set(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_dates() {
        assert_eq!(format_internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(
            format_internal_date(1_577_872_800),
            "01-Jan-2020 10:00:00 +0000"
        );
        assert_eq!(
            format_internal_date(951_782_400),
            "29-Feb-2000 00:00:00 +0000"
        );
        assert_eq!(format_internal_date(-1), "31-Dec-1969 23:59:59 +0000");
        assert_eq!(
            parse_internal_date("01-Jan-2020 10:00:00 +0000"),
            Some(1_577_872_800)
        );
        assert_eq!(
            parse_internal_date(" 1-Jan-2020 11:30:00 +0130"),
            Some(1_577_872_800)
        );
        assert_eq!(
            parse_internal_date("31-Dec-2019 23:00:00 -1100"),
            Some(1_577_872_800)
        );
        for t in [0, 951_782_400, 1_764_117_496, 4_102_444_799, -86_400 * 365] {
            assert_eq!(
                parse_internal_date(&format_internal_date(t)),
                Some(t),
                "{t}"
            );
        }
        for bad in [
            "",
            "01-Foo-2020 10:00:00 +0000",
            "01-Jan-2020 10:00 +0000",
            "01-Jan-2020 10:00:00 0000",
            "01-Jan-2020 10:00:00 +00",
            "32-Jan-2020 10:00:00 +0000",
            "01-Jan-2020 25:00:00 +0000",
        ] {
            assert_eq!(parse_internal_date(bad), None, "{bad}");
        }
        assert_eq!(search_date(1_577_872_800), "1-Jan-2020");
    }

    #[test]
    fn flags_are_checked() {
        for good in [
            "\\Seen",
            "\\flagged",
            "$Forwarded",
            "Work",
            "$Label1",
            "a.b-c_d",
        ] {
            check_flag(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "\\Recent",
            "\\Foo",
            "two words",
            "a(b",
            "a)b",
            "a{b",
            "a%",
            "a*",
            "a\"b",
            "a]b",
            "ä",
            "a\r\nb",
            "a\\b",
        ] {
            assert!(matches!(check_flag(bad), Err(Error::Invalid(_))), "{bad:?}");
        }
        assert_eq!(
            flag_list(&["\\Seen".into(), "$Forwarded".into()]).unwrap(),
            "(\\Seen $Forwarded)"
        );
    }

    #[test]
    fn fetch_items_with_modseq_and_body() {
        let t = data(
            b"* 1 FETCH (UID 7 FLAGS (\\Seen \\Recent $Forwarded) INTERNALDATE \"01-Jan-2020 10:00:00 +0000\" RFC822.SIZE 5 MODSEQ (12345678901) BODY[] {5}\r\nhe)lo)\r\n",
        );
        let f = parse_fetch(t).unwrap().unwrap();
        assert_eq!(
            f,
            FetchItems {
                uid: Some(7),
                flags: Some(vec!["\\Seen".into(), "$Forwarded".into()]),
                internal_date: Some(1_577_872_800),
                size: Some(5),
                modseq: Some(12_345_678_901),
                body: Some(Some(b"he)lo".to_vec())),
            }
        );
        // Unsolicited flag update (QRESYNC makes servers include the UID).
        let f = parse_fetch(data(b"* 3 FETCH (FLAGS () UID 9 MODSEQ (4))\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!((f.uid, f.flags, f.modseq), (Some(9), Some(vec![]), Some(4)));
        let f = parse_fetch(data(b"* 3 FETCH (UID 9 BODY[] NIL)\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!(f.body, Some(None));
        let f = parse_fetch(data(
            b"* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID REFERENCES)] {19}\r\nMessage-ID: <a>\r\n\r\n)\r\n",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(f.body, Some(Some(b"Message-ID: <a>\r\n\r\n".to_vec())));
        assert_eq!(parse_fetch(data(b"* 3 EXISTS\r\n")).unwrap(), None);
        assert!(parse_fetch(data(b"* 3 FETCH (UID x)\r\n")).is_err());
        assert!(parse_fetch(data(b"* 3 FETCH (UID)\r\n")).is_err());
        assert!(parse_fetch(data(b"* 3 FETCH (MODSEQ 4)\r\n")).is_err());
    }

    #[test]
    fn collector_merges_unsolicited_updates() {
        let mut c = Collector::default();
        for line in [
            &b"* 1 FETCH (UID 4 FLAGS (\\Seen) INTERNALDATE \"01-Jan-2020 10:00:00 +0000\" RFC822.SIZE 9 MODSEQ (5))\r\n"[..],
            b"* 1 FETCH (UID 4 FLAGS (\\Seen \\Flagged) MODSEQ (8))\r\n",
            b"* 2 FETCH (UID 6 FLAGS () MODSEQ (9))\r\n",
            b"* 3 FETCH (FLAGS ())\r\n",
        ] {
            c.take(Untagged::Data(data(line))).unwrap();
        }
        let metas: Vec<_> = c.metas().into_sorted().collect();
        assert_eq!(metas.len(), 1, "partial entries are dropped");
        let m = &metas[0].0;
        assert_eq!(m.flags, vec!["\\Seen", "\\Flagged"]);
        assert_eq!((m.modseq, m.size), (Some(8), Some(9)));
    }

    #[test]
    fn collector_places_responses_in_any_order() {
        let mut c = Collector::default();
        for (uid, flag) in [(7, "a"), (3, "b"), (9, "c"), (3, "d"), (5, "e")] {
            let line = format!(
                "* 1 FETCH (UID {uid} FLAGS ({flag}) INTERNALDATE \"01-Jan-2020 10:00:00 +0000\")\r\n"
            );
            c.take(Untagged::Data(data(line.as_bytes()))).unwrap();
        }
        let seen = |metas: Vec<(MessageMeta, Option<Vec<u8>>)>| -> Vec<(Uid, String)> {
            metas
                .into_iter()
                .map(|(m, _)| (m.uid, m.flags.concat()))
                .collect()
        };
        let sorted = vec![
            (3, "d".into()),
            (5, "e".into()),
            (7, "a".into()),
            (9, "c".into()),
        ];
        assert_eq!(seen(c.metas().into_sorted().collect()), sorted);

        let mut c = Collector::default();
        for uid in [4, 2, 8] {
            let line = format!(
                "* 1 FETCH (UID {uid} FLAGS () INTERNALDATE \"01-Jan-2020 10:00:00 +0000\")\r\n"
            );
            c.take(Untagged::Data(data(line.as_bytes()))).unwrap();
        }
        let picked = c.metas().in_order_of(&[8, 5, 2, 8, 4]);
        let uids: Vec<Uid> = picked.iter().map(|(m, _)| m.uid).collect();
        assert_eq!(
            uids,
            [8, 2, 4],
            "asked order, missing and repeated UIDs left out"
        );
    }

    #[test]
    fn vanished_earlier_with_ranges() {
        let t = data(b"* VANISHED (EARLIER) 300:310,405,411\r\n");
        let r = parse_vanished(&t).unwrap().unwrap();
        assert_eq!(r, vec![(300, 310), (405, 405), (411, 411)]);
        assert_eq!(expand(&r, 100).unwrap().len(), 13);
        let t = data(b"* VANISHED 1:2\r\n");
        assert_eq!(parse_vanished(&t).unwrap().unwrap(), vec![(1, 2)]);
        assert_eq!(parse_vanished(&data(b"* 2 EXISTS\r\n")).unwrap(), None);
        assert!(parse_vanished(&data(b"* VANISHED (EARLIER)\r\n")).is_err());
    }

    #[test]
    fn copyuid_and_appenduid_codes() {
        assert_eq!(
            parse_copyuid("COPYUID 1795653497 2 1").unwrap().unwrap(),
            vec![(2, 1)]
        );
        assert_eq!(
            parse_copyuid("COPYUID 38505 304,319:320,400 3956:3959")
                .unwrap()
                .unwrap(),
            vec![(304, 3956), (319, 3957), (320, 3958), (400, 3959)]
        );
        assert!(parse_copyuid("COPYUID 1 1:3 5").is_err());
        assert!(parse_copyuid("COPYUID 1 1").is_err());
        assert_eq!(parse_copyuid("HIGHESTMODSEQ 7").unwrap(), None);
        assert_eq!(
            parse_appenduid("APPENDUID 1795653496 12").unwrap().unwrap(),
            vec![12]
        );
        assert_eq!(
            parse_appenduid("APPENDUID 1 3:5").unwrap().unwrap(),
            vec![3, 4, 5]
        );
        assert!(parse_appenduid("APPENDUID 1").is_err());
        assert_eq!(parse_appenduid("READ-WRITE").unwrap(), None);
    }

    #[test]
    fn search_responses() {
        assert_eq!(
            parse_search(&data(b"* SEARCH 2 5 6\r\n")).unwrap().unwrap(),
            vec![(2, 2), (5, 5), (6, 6)]
        );
        assert_eq!(
            parse_search(&data(b"* SEARCH\r\n")).unwrap().unwrap(),
            vec![]
        );
        assert_eq!(
            parse_search(&data(b"* ESEARCH (TAG \"A5\") UID ALL 1:3,9\r\n"))
                .unwrap()
                .unwrap(),
            vec![(1, 3), (9, 9)]
        );
        assert_eq!(
            parse_search(&data(b"* ESEARCH (TAG \"A5\") UID\r\n"))
                .unwrap()
                .unwrap(),
            vec![]
        );
    }

    #[test]
    fn select_responses() {
        let mut o = Opened::default();
        for line in [
            &b"* FLAGS (\\Seen)\r\n"[..],
            b"* 2 EXISTS\r\n",
            b"* OK [UIDVALIDITY 1795653496] UIDs valid\r\n",
            b"* OK [UIDNEXT 3] Predicted next UID\r\n",
            b"* OK [HIGHESTMODSEQ 4] Highest\r\n",
        ] {
            o.absorb(&raw::parse_frame_for_tests(line));
        }
        assert_eq!(
            o.status().unwrap(),
            MailboxStatus {
                uidvalidity: 1_795_653_496,
                uidnext: 3,
                messages: 2,
                highestmodseq: Some(4)
            }
        );
        assert!(!o.absorb(&raw::parse_frame_for_tests(b"* 2 FETCH (UID 4)\r\n")));
        assert!(Opened::default().status().is_err());
        let _ = atom("x");
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn header_and_any_of_render_as_nested_ors() {
        let caps = Capabilities::new(["IMAP4rev1"]);
        let root = "a@b".to_string();
        let keys = [SearchKey::AnyOf(vec![
            SearchKey::Header("Message-ID".into(), root.clone()),
            SearchKey::Header("References".into(), root.clone()),
            SearchKey::Header("In-Reply-To".into(), root),
        ])];
        assert_eq!(
            search_criteria(&caps, &keys, 0).unwrap(),
            "OR HEADER Message-ID \"a@b\" (OR HEADER References \"a@b\" (HEADER In-Reply-To \"a@b\"))"
        );
        assert_eq!(
            search_criteria(&caps, &[SearchKey::AnyOf(vec![])], 0).unwrap(),
            "NOT ALL"
        );
        assert!(
            search_criteria(&caps, &[SearchKey::Header("X: y".into(), "v".into())], 0).is_err()
        );
    }
}
