//! The organisation directory (GAL) behind Search Store GAL, Find and
//! ResolveRecipients: a CardDAV address book (`[directory] carddav`) and/or an LDAP
//! server (`[directory] ldap_url`). Entries from both are merged, CardDAV first.
//!
//! The CardDAV directory is read whole (bounded by `max_results` × 50 cards) and kept
//! for a minute per reading login, then matched here: CardDAV has addressbook-query,
//! but servers differ in what text-match they honour, and a directory is small.
//! LDAP is searched server-side with a substring filter over the mapped attributes.

use std::sync::Arc;
use std::time::Duration;

use airsync_model::{BackendError, Credentials, DavStore, Directory, DirectoryEntry};
use async_trait::async_trait;

use crate::eas::ProtocolVersion;
use crate::mapping::contacts::{ContactOptions, contact_to_eas};
use crate::settings;
use crate::wbxml::pages::Contacts as C;
use crate::wbxml::{Element, Tag};

/// A vCard as a directory entry, through the EAS contact mapping (so GAL entries and
/// synced contacts read vCards the same way).
pub fn entry_from_vcard(vcf: &[u8]) -> Option<DirectoryEntry> {
    let mut opts = ContactOptions::new(ProtocolVersion::V16_1);
    opts.picture_max_bytes = 256 * 1024;
    let el = contact_to_eas(vcf, &opts).ok()?;
    let f = |t: Tag| {
        el.child_text(t)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let emails: Vec<String> = [C::Email1Address, C::Email2Address, C::Email3Address]
        .into_iter()
        .map(|t| bare_address(&f(t)))
        .filter(|e| !e.is_empty())
        .collect();
    let (first, last) = (f(C::FirstName), f(C::LastName));
    let mut display = f(C::FileAs);
    if display.is_empty() || display.contains(',') {
        display = [first.as_str(), last.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
    }
    if display.is_empty() {
        display = emails.first().cloned().unwrap_or_default();
    }
    use base64::Engine;
    let picture = el
        .child_text(C::Picture)
        .and_then(|p| {
            base64::engine::general_purpose::STANDARD
                .decode(p.trim())
                .ok()
        })
        .filter(|p| !p.is_empty());
    Some(DirectoryEntry {
        display_name: display,
        first_name: first,
        last_name: last,
        emails,
        phone: f(C::BusinessPhoneNumber),
        mobile_phone: f(C::MobilePhoneNumber),
        home_phone: f(C::HomePhoneNumber),
        company: f(C::CompanyName),
        title: f(C::JobTitle),
        office: f(C::OfficeLocation),
        alias: f(crate::wbxml::pages::Contacts::Alias),
        picture,
        certificates: Vec::new(),
    })
}

/// `"Name" <a@b>` or `a@b` → `a@b`.
fn bare_address(s: &str) -> String {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim().to_string(),
        _ => s.trim().to_string(),
    }
}

/// Reads every vCard of `collection` as entries (at most `cap` cards).
pub async fn read_address_book(
    dav: &dyn DavStore,
    creds: &Credentials,
    collection: &str,
    cap: usize,
) -> Result<Vec<DirectoryEntry>, BackendError> {
    let listing = dav.list(creds, collection).await?;
    let hrefs: Vec<String> = listing
        .members
        .into_iter()
        .map(|(h, _)| h)
        .take(cap)
        .collect();
    let objects = dav.fetch(creds, collection, &hrefs).await?;
    Ok(objects
        .iter()
        .filter_map(|o| entry_from_vcard(&o.data))
        .collect())
}

/// A CardDAV address book as the directory.
pub struct CardDavDirectory {
    dav: Arc<dyn DavStore>,
    collection: String,
    /// Fixed reading credentials, or `None` for the requesting user's.
    reader: Option<Credentials>,
    max_cards: usize,
    cache: moka::future::Cache<String, Arc<Vec<DirectoryEntry>>>,
}

impl CardDavDirectory {
    pub fn new(dav: Arc<dyn DavStore>, cfg: &settings::Directory) -> CardDavDirectory {
        let mut collection = cfg.carddav.clone();
        if !collection.ends_with('/') {
            collection.push('/');
        }
        let reader = (!cfg.carddav_user.is_empty())
            .then(|| Credentials::new(cfg.carddav_user.clone(), cfg.carddav_password.clone()));
        CardDavDirectory {
            dav,
            collection,
            reader,
            max_cards: cfg.max_results.saturating_mul(50).max(1000),
            cache: moka::future::Cache::builder()
                .time_to_live(Duration::from_secs(60))
                .max_capacity(64)
                .build(),
        }
    }
}

#[async_trait]
impl Directory for CardDavDirectory {
    async fn search(
        &self,
        creds: &Credentials,
        query: &str,
        limit: usize,
    ) -> Result<Vec<DirectoryEntry>, BackendError> {
        let creds = self.reader.as_ref().unwrap_or(creds);
        // Cached per reading login and password (a cache hit never lets a wrong password
        // read what the right one did).
        let key = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(format!(
                "{}\0{}",
                creds.login, creds.password
            )))
        };
        let entries = match self.cache.get(&key).await {
            Some(e) => e,
            None => {
                let e = Arc::new(
                    read_address_book(self.dav.as_ref(), creds, &self.collection, self.max_cards)
                        .await?,
                );
                self.cache.insert(key, e.clone()).await;
                e
            }
        };
        Ok(entries
            .iter()
            .filter(|e| e.matches(query))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// An LDAP server as the directory (plain LDAP: `ldap://`; see README).
pub struct LdapDirectory {
    cfg: settings::Directory,
}

/// inetOrgPerson attribute of each GAL field, unless `[directory] ldap_attributes` says
/// otherwise.
const LDAP_DEFAULTS: &[(&str, &str)] = &[
    ("display_name", "displayName"),
    ("first_name", "givenName"),
    ("last_name", "sn"),
    ("email", "mail"),
    ("phone", "telephoneNumber"),
    ("mobile_phone", "mobile"),
    ("home_phone", "homePhone"),
    ("company", "o"),
    ("title", "title"),
    ("office", "physicalDeliveryOfficeName"),
    ("alias", "uid"),
    ("picture", "jpegPhoto"),
    ("certificate", "userCertificate;binary"),
];

/// The keys `ldap_attributes` may use.
pub fn ldap_attribute_keys() -> impl Iterator<Item = &'static str> {
    LDAP_DEFAULTS.iter().map(|(k, _)| *k)
}

impl LdapDirectory {
    pub fn new(cfg: &settings::Directory) -> LdapDirectory {
        LdapDirectory { cfg: cfg.clone() }
    }

    fn attr(&self, field: &str) -> String {
        self.cfg
            .ldap_attributes
            .get(field)
            .cloned()
            .unwrap_or_else(|| {
                LDAP_DEFAULTS
                    .iter()
                    .find(|(k, _)| *k == field)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            })
    }

    /// The search filter: the configured filter AND any of the name/address attributes
    /// containing the (escaped) text.
    pub fn filter(&self, query: &str) -> String {
        let q = ldap3::ldap_escape(query.trim());
        let mut any = String::new();
        for field in ["display_name", "first_name", "last_name", "email", "alias"] {
            any.push_str(&format!("({}=*{q}*)", self.attr(field)));
        }
        any.push_str(&format!("(cn=*{q}*)"));
        format!("(&{}(|{any}))", self.cfg.ldap_filter)
    }
}

fn ldap_err(e: ldap3::LdapError) -> BackendError {
    match e {
        ldap3::LdapError::Io { .. }
        | ldap3::LdapError::OpSend { .. }
        | ldap3::LdapError::Timeout { .. } => BackendError::Transient(format!("ldap: {e}")),
        _ => BackendError::Permanent(format!("ldap: {e}")),
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn search(
        &self,
        _creds: &Credentials,
        query: &str,
        limit: usize,
    ) -> Result<Vec<DirectoryEntry>, BackendError> {
        use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.cfg.ldap_url)
            .await
            .map_err(ldap_err)?;
        ldap3::drive!(conn);
        if !self.cfg.ldap_bind_dn.is_empty() {
            ldap.simple_bind(&self.cfg.ldap_bind_dn, &self.cfg.ldap_bind_password)
                .await
                .and_then(|r| r.success())
                .map_err(|e| BackendError::Permanent(format!("ldap bind: {e}")))?;
        }
        let attrs: Vec<String> = ldap_attribute_keys()
            .map(|k| self.attr(k))
            .chain(["cn".to_string()])
            .collect();
        let result = ldap
            .with_search_options(
                SearchOptions::new().sizelimit(limit.min(i32::MAX as usize) as i32),
            )
            .with_timeout(Duration::from_secs(20))
            .search(
                &self.cfg.ldap_base_dn,
                Scope::Subtree,
                &self.filter(query),
                attrs,
            )
            .await
            .map_err(ldap_err)?;
        // rc 4 (sizeLimitExceeded) still carries the first `limit` entries.
        if result.1.rc != 0 && result.1.rc != 4 {
            return Err(BackendError::Permanent(format!(
                "ldap search: {}",
                result.1
            )));
        }
        let _ = ldap.unbind().await;
        let mut out = Vec::new();
        for raw in result.0.into_iter().take(limit) {
            let e = SearchEntry::construct(raw);
            let text = |field: &str| -> String {
                let a = self.attr(field);
                e.attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&a))
                    .and_then(|(_, v)| v.first().cloned())
                    .unwrap_or_default()
            };
            let bin = |field: &str| -> Vec<Vec<u8>> {
                let a = self.attr(field);
                let base = a.split(';').next().unwrap_or(&a).to_string();
                e.bin_attrs
                    .iter()
                    .filter(|(k, _)| {
                        k.eq_ignore_ascii_case(&a)
                            || k.split(';')
                                .next()
                                .is_some_and(|b| b.eq_ignore_ascii_case(&base))
                    })
                    .flat_map(|(_, v)| v.iter().cloned())
                    .collect()
            };
            let mail_attr = self.attr("email");
            let emails: Vec<String> = e
                .attrs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(&mail_attr))
                .flat_map(|(_, v)| v.iter().cloned())
                .collect();
            let mut display = text("display_name");
            if display.is_empty() {
                display = e
                    .attrs
                    .get("cn")
                    .and_then(|v| v.first().cloned())
                    .unwrap_or_default();
            }
            out.push(DirectoryEntry {
                display_name: display,
                first_name: text("first_name"),
                last_name: text("last_name"),
                emails,
                phone: text("phone"),
                mobile_phone: text("mobile_phone"),
                home_phone: text("home_phone"),
                company: text("company"),
                title: text("title"),
                office: text("office"),
                alias: text("alias"),
                picture: bin("picture").into_iter().next(),
                certificates: bin("certificate"),
            });
        }
        Ok(out)
    }
}

/// The configured directory sources.
pub fn sources(
    cfg: &settings::Directory,
    contacts: Option<&Arc<dyn DavStore>>,
) -> Vec<Arc<dyn Directory>> {
    let mut out: Vec<Arc<dyn Directory>> = Vec::new();
    if !cfg.carddav.is_empty()
        && let Some(dav) = contacts
    {
        out.push(Arc::new(CardDavDirectory::new(dav.clone(), cfg)));
    }
    if !cfg.ldap_url.is_empty() {
        out.push(Arc::new(LdapDirectory::new(cfg)));
    }
    out
}

/// Searches every source, merges (an address seen once is kept once), at most `limit`.
pub async fn search_all(
    sources: &[Arc<dyn Directory>],
    creds: &Credentials,
    query: &str,
    limit: usize,
) -> Result<Vec<DirectoryEntry>, BackendError> {
    let mut out: Vec<DirectoryEntry> = Vec::new();
    for s in sources {
        for e in s.search(creds, query, limit).await? {
            let dup = e
                .emails
                .first()
                .is_some_and(|m| out.iter().any(|o| o.has_address(m)));
            if !dup && out.len() < limit {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// The GAL Properties of one entry (MS-ASCMD 2.2.3.137.2), with its picture when
/// `picture` allows it (`Some(max_bytes)`) — `pictures_left` counts MaxPictures down.
pub fn gal_properties(
    e: &DirectoryEntry,
    tag: Tag,
    picture: Option<(Option<u32>, &mut u32)>,
) -> Element {
    use crate::wbxml::pages::GAL as G;
    let mut p = Element::new(tag);
    for (t, v) in [
        (G::DisplayName, &e.display_name),
        (G::Phone, &e.phone),
        (G::Office, &e.office),
        (G::Title, &e.title),
        (G::Company, &e.company),
        (G::Alias, &e.alias),
        (G::FirstName, &e.first_name),
        (G::LastName, &e.last_name),
        (G::HomePhone, &e.home_phone),
        (G::MobilePhone, &e.mobile_phone),
    ] {
        if !v.is_empty() {
            p.push(Element::with_text(t, v.clone()));
        }
    }
    if let Some(mail) = e.emails.first() {
        p.push(Element::with_text(G::EmailAddress, mail.clone()));
    }
    if let Some((max_size, left)) = picture {
        // MS-ASCMD 2.2.3.135.2 Picture Status: 1 ok, 173 no photo, 174 too large,
        // 175 over MaxPictures.
        let (status, data) = match &e.picture {
            None => (173, None),
            Some(_) if *left == 0 => (175, None),
            Some(bytes) if max_size.is_some_and(|m| bytes.len() as u64 > u64::from(m)) => {
                (174, None)
            }
            Some(bytes) => {
                *left -= 1;
                (1, Some(bytes))
            }
        };
        let mut pic = Element::new(G::Picture).text_child(G::Status, status.to_string());
        if let Some(bytes) = data {
            use base64::Engine;
            pic.push(Element::with_text(
                G::Data,
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ));
        }
        p.push(pic);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcard_to_entry() {
        let v = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Carol Smith\r\nN:Smith;Carol;;;\r\nEMAIL;TYPE=work:carol@example.org\r\nTEL;TYPE=work:+49 30 1\r\nTEL;TYPE=cell:+49 170 2\r\nORG:Example GmbH\r\nTITLE:Engineer\r\nEND:VCARD\r\n";
        let e = entry_from_vcard(v).unwrap();
        assert_eq!(e.first_name, "Carol");
        assert_eq!(e.last_name, "Smith");
        assert_eq!(e.emails, vec!["carol@example.org".to_string()]);
        assert_eq!(e.phone, "+49 30 1");
        assert_eq!(e.mobile_phone, "+49 170 2");
        assert_eq!(e.company, "Example GmbH");
        assert_eq!(e.title, "Engineer");
        assert!(e.matches("smi"));
        assert!(e.matches("CAROL@"));
        assert!(!e.matches("dave"));
    }

    #[test]
    fn ldap_filter_escapes() {
        let d = LdapDirectory::new(&settings::Directory {
            ldap_filter: "(objectClass=inetOrgPerson)".into(),
            ..Default::default()
        });
        let f = d.filter("a*(b)");
        assert!(
            f.starts_with("(&(objectClass=inetOrgPerson)(|(displayName=*a\\2a\\28b\\29*)"),
            "{f}"
        );
    }
}
