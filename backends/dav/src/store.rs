//! [`DavStore`] on [`DavClient`]: discovery, listings, sync-collection, multiget,
//! calendar-query, conditional writes and collection management.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use airsync_model::{
    BackendError, Credentials, DavCollection, DavDelta, DavKind, DavListing, DavObject, DavStore,
};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use crate::client::{DavClient, Reply, status_error};
use crate::href;
use crate::xml::{self, Multistatus};

/// Hrefs per multiget request.
const MULTIGET_CHUNK: usize = 100;
/// Most follow-up requests after a truncated (507) sync-collection answer.
const MAX_SYNC_ROUNDS: usize = 100;
/// Most redirects followed during discovery.
const MAX_REDIRECTS: usize = 5;

const XML_CT: &str = "application/xml; charset=utf-8";

fn method(name: &'static str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("valid method name")
}

fn bad_xml(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Permanent(format!("{what}: unreadable multistatus: {e}"))
}

fn kind_name(kind: DavKind) -> &'static str {
    match kind {
        DavKind::Calendar => "caldav",
        DavKind::Contacts => "carddav",
    }
}

/// `YYYYMMDDTHHMMSSZ` (RFC 5545 UTC date-time) of Unix seconds.
pub(crate) fn utc_stamp(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A collection path segment nobody else will pick: time, a per-process random key and
/// a counter.
fn fresh_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    h.write_u64(nanos);
    format!("{:016x}-{:016x}", nanos, h.finish())
}

impl DavClient {
    /// PROPFIND with a Depth and these `<prop>` children; a 207 is parsed, anything else
    /// is mapped to an error.
    async fn propfind(
        &self,
        creds: &Credentials,
        path: &str,
        depth: &str,
        props: &str,
    ) -> Result<Multistatus, BackendError> {
        let reply = self.propfind_raw(creds, path, depth, props).await?;
        let what = format!("PROPFIND {path}");
        if reply.status != StatusCode::MULTI_STATUS {
            return Err(status_error(reply.status, &what));
        }
        xml::multistatus(&reply.body).map_err(|e| bad_xml(&what, e))
    }

    async fn propfind_raw(
        &self,
        creds: &Credentials,
        path: &str,
        depth: &str,
        props: &str,
    ) -> Result<Reply, BackendError> {
        self.send(
            creds,
            &method("PROPFIND"),
            path,
            &[("depth", depth), ("content-type", XML_CT)],
            Some(xml::propfind(props).into_bytes()),
        )
        .await
    }

    async fn report(
        &self,
        creds: &Credentials,
        path: &str,
        depth: &str,
        body: String,
    ) -> Result<Reply, BackendError> {
        self.send(
            creds,
            &method("REPORT"),
            path,
            &[("depth", depth), ("content-type", XML_CT)],
            Some(body.into_bytes()),
        )
        .await
    }

    /// PROPFIND Depth 0 that follows same-origin redirects (the well-known URIs redirect).
    /// `Ok(None)` when the chain ends in something other than a multistatus.
    async fn propfind_following(
        &self,
        creds: &Credentials,
        start: &str,
        props: &str,
    ) -> Result<Option<(String, Multistatus)>, BackendError> {
        let mut path = start.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let reply = self.propfind_raw(creds, &path, "0", props).await?;
            match reply.status.as_u16() {
                207 => {
                    let ms = xml::multistatus(&reply.body)
                        .map_err(|e| bad_xml(&format!("PROPFIND {path}"), e))?;
                    return Ok(Some((path, ms)));
                }
                401 => return Err(BackendError::Auth),
                301 | 302 | 303 | 307 | 308 => {
                    let Some(loc) = reply.header("location") else {
                        return Ok(None);
                    };
                    let same_origin = loc.starts_with('/')
                        || loc
                            .strip_prefix(self.origin.as_str())
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                    if !same_origin {
                        // Basic credentials are not sent to another host.
                        tracing::info!(target: "airsync", from = %path, to = %loc, "dav: not following a redirect to another origin");
                        return Ok(None);
                    }
                    match href::normalize(loc) {
                        Some(p) => path = p,
                        None => return Ok(None),
                    }
                }
                s if s >= 500 => {
                    return Err(status_error(reply.status, &format!("PROPFIND {path}")));
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The user's home-set hrefs for `kind` (cached per login).
    async fn homes(&self, creds: &Credentials, kind: DavKind) -> Result<Vec<String>, BackendError> {
        if let Some(h) = self.cached_homes(&creds.login, kind) {
            return Ok(h);
        }
        let homes = self.discover(creds, kind).await?;
        tracing::debug!(target: "airsync", login = %creds.login, kind = kind_name(kind), homes = ?homes, "dav: discovered home set");
        self.store_homes(&creds.login, kind, homes.clone());
        Ok(homes)
    }

    async fn discover(
        &self,
        creds: &Credentials,
        kind: DavKind,
    ) -> Result<Vec<String>, BackendError> {
        let well_known = format!("/.well-known/{}", kind_name(kind));
        // RFC 6764 §6: a bare host starts at the well-known URI; a configured context
        // path is tried first when there is one.
        let starts = if self.root == "/" {
            vec![well_known, "/".to_owned()]
        } else {
            vec![self.root.clone(), well_known]
        };
        let home_prop = match kind {
            DavKind::Calendar => "<c:calendar-home-set/>",
            DavKind::Contacts => "<a:addressbook-home-set/>",
        };
        let pick = |ms: &Multistatus| -> Vec<String> {
            ms.responses
                .iter()
                .flat_map(|r| match kind {
                    DavKind::Calendar => r.props.calendar_home_set.clone(),
                    DavKind::Contacts => r.props.addressbook_home_set.clone(),
                })
                .collect()
        };
        let props = format!("<d:current-user-principal/>{home_prop}");
        let mut principal = None;
        for start in &starts {
            let Some((_, ms)) = self.propfind_following(creds, start, &props).await? else {
                continue;
            };
            let homes = pick(&ms);
            if !homes.is_empty() {
                return Ok(homes);
            }
            if let Some(p) = ms
                .responses
                .iter()
                .find_map(|r| r.props.current_user_principal.clone())
            {
                principal = Some(p);
                break;
            }
        }
        let Some(principal) = principal else {
            return Err(BackendError::Permanent(format!(
                "{}: no current-user-principal found at {:?}",
                kind_name(kind),
                starts
            )));
        };
        let ms = self.propfind(creds, &principal, "0", home_prop).await?;
        let homes = pick(&ms);
        if homes.is_empty() {
            return Err(BackendError::Permanent(format!(
                "{}: principal {principal} has no home set",
                kind_name(kind)
            )));
        }
        Ok(homes)
    }

    /// The kind of a collection, from the cache or a PROPFIND of its resourcetype.
    async fn kind_of(
        &self,
        creds: &Credentials,
        collection: &str,
    ) -> Result<DavKind, BackendError> {
        if let Some(k) = self.cached_kind(collection) {
            return Ok(k);
        }
        let path = href::as_collection(collection);
        let ms = self
            .propfind(creds, &path, "0", "<d:resourcetype/>")
            .await?;
        let r = ms
            .responses
            .iter()
            .find(|r| href::same_collection(&r.href, &path))
            .or(ms.responses.first());
        let kind = match r {
            Some(r) if r.props.is_calendar => DavKind::Calendar,
            Some(r) if r.props.is_addressbook => DavKind::Contacts,
            _ => {
                return Err(BackendError::Permanent(format!(
                    "{path} is neither a calendar nor an address book"
                )));
            }
        };
        self.store_kind(&path, kind);
        Ok(kind)
    }

    /// The ETag of one resource by PROPFIND, for servers that send none on PUT.
    async fn etag_of(&self, creds: &Credentials, path: &str) -> Result<String, BackendError> {
        let ms = self.propfind(creds, path, "0", "<d:getetag/>").await?;
        ms.responses
            .into_iter()
            .find_map(|r| r.props.etag)
            .ok_or_else(|| BackendError::Permanent(format!("{path}: server reports no ETag")))
    }

    async fn collections_in(
        &self,
        creds: &Credentials,
        home: &str,
        kind: DavKind,
    ) -> Result<Vec<DavCollection>, BackendError> {
        let props = "<d:resourcetype/><d:displayname/><c:supported-calendar-component-set/>\
                     <cs:getctag/><d:sync-token/><ic:calendar-color/>";
        let ms = self.propfind(creds, home, "1", props).await?;
        let mut out = Vec::new();
        for r in ms.responses {
            if href::same_collection(&r.href, home) {
                continue;
            }
            let p = r.props;
            let this_kind = if p.is_calendar {
                DavKind::Calendar
            } else if p.is_addressbook {
                DavKind::Contacts
            } else {
                continue;
            };
            let href = href::as_collection(&r.href);
            self.store_kind(&href, this_kind);
            if this_kind != kind {
                continue;
            }
            let components = match kind {
                DavKind::Contacts => Vec::new(),
                // RFC 4791 §5.2.3: without the property every component is accepted.
                DavKind::Calendar => p
                    .components
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| vec!["VEVENT".into(), "VTODO".into(), "VJOURNAL".into()]),
            };
            let display_name = p.display_name.unwrap_or_else(|| {
                href.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
            out.push(DavCollection {
                href,
                display_name,
                kind,
                components,
                ctag: p.ctag,
                sync_token: p.sync_token,
                color: p.color,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl DavStore for DavClient {
    async fn collections(
        &self,
        creds: &Credentials,
        kind: DavKind,
    ) -> Result<Vec<DavCollection>, BackendError> {
        let mut retried = false;
        loop {
            let homes = self.homes(creds, kind).await?;
            let mut out = Vec::new();
            let mut stale = false;
            for home in &homes {
                match self.collections_in(creds, home, kind).await {
                    Ok(c) => out.extend(c),
                    Err(BackendError::NotFound(_)) => stale = true,
                    Err(e) => return Err(e),
                }
            }
            if stale && !retried {
                // The cached home set is gone (account moved?): discover afresh once.
                self.forget_homes(&creds.login, kind);
                retried = true;
                continue;
            }
            tracing::debug!(target: "airsync", login = %creds.login, kind = kind_name(kind), count = out.len(), "dav: listed collections");
            return Ok(out);
        }
    }

    async fn list(
        &self,
        creds: &Credentials,
        collection: &str,
    ) -> Result<DavListing, BackendError> {
        let path = href::as_collection(collection);
        let ms = self
            .propfind(
                creds,
                &path,
                "1",
                "<d:resourcetype/><d:getetag/><d:sync-token/>",
            )
            .await?;
        let mut listing = DavListing {
            sync_token: None,
            members: Vec::new(),
        };
        for r in ms.responses {
            if href::same_collection(&r.href, &path) {
                listing.sync_token = r.props.sync_token;
                if r.props.is_calendar {
                    self.store_kind(&path, DavKind::Calendar);
                } else if r.props.is_addressbook {
                    self.store_kind(&path, DavKind::Contacts);
                }
                continue;
            }
            if r.props.is_collection {
                continue;
            }
            if let Some(etag) = r.props.etag {
                listing.members.push((r.href, etag));
            }
        }
        tracing::debug!(target: "airsync", login = %creds.login, collection = %path, count = listing.members.len(), "dav: listed members");
        Ok(listing)
    }

    async fn changes(
        &self,
        creds: &Credentials,
        collection: &str,
        token: &str,
    ) -> Result<Option<DavDelta>, BackendError> {
        let path = href::as_collection(collection);
        let what = format!("sync-collection {path}");
        // href → Some(etag) changed (etag may be unknown: None inside), or removed.
        let mut changed: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut removed: BTreeSet<String> = BTreeSet::new();
        let mut token = token.to_owned();
        for round in 0..MAX_SYNC_ROUNDS {
            // RFC 6578 §3.2: the report is defined for Depth 0 only.
            let reply = self
                .report(creds, &path, "0", xml::sync_collection(&token))
                .await?;
            match reply.status.as_u16() {
                207 => {}
                401 => return Err(BackendError::Auth),
                404 => return Err(status_error(reply.status, &what)),
                // 403/409 with DAV:valid-sync-token: the token is invalid or expired;
                // 400/405/415/422/501: the server has no sync-collection.
                400 | 403 | 405 | 409 | 412 | 415 | 422 | 501 => {
                    let invalid = xml::error_names(&reply.body, xml::DAV, "valid-sync-token");
                    tracing::debug!(target: "airsync", login = %creds.login, collection = %path, status = reply.status.as_u16(), invalid_token = invalid, "dav: no sync-collection delta");
                    return Ok(None);
                }
                _ => return Err(status_error(reply.status, &what)),
            }
            let ms = xml::multistatus(&reply.body).map_err(|e| bad_xml(&what, e))?;
            let mut truncated = false;
            for r in ms.responses {
                if href::same_collection(&r.href, &path) {
                    // RFC 6578 §3.6: a 507 on the collection itself means "more to come".
                    if r.status == Some(507) {
                        truncated = true;
                    }
                    continue;
                }
                if r.status == Some(404) {
                    changed.remove(&r.href);
                    removed.insert(r.href);
                } else if r.props.is_collection || r.href.ends_with('/') {
                    continue;
                } else {
                    removed.remove(&r.href);
                    changed.insert(r.href, r.props.etag);
                }
            }
            let Some(next) = ms.sync_token else {
                return Err(BackendError::Permanent(format!(
                    "{what}: answer has no sync-token"
                )));
            };
            let progressed = next != token;
            token = next;
            if !truncated {
                break;
            }
            if !progressed {
                return Err(BackendError::Permanent(format!(
                    "{what}: truncated answer without a new token"
                )));
            }
            tracing::debug!(target: "airsync", collection = %path, round, "dav: sync-collection truncated, asking again");
        }
        // Servers may leave out the ETag of changed members; look them up.
        let mut changed_out = Vec::with_capacity(changed.len());
        let missing: Vec<String> = changed
            .iter()
            .filter(|(_, e)| e.is_none())
            .map(|(h, _)| h.clone())
            .collect();
        let listed: BTreeMap<String, String> = if missing.is_empty() {
            BTreeMap::new()
        } else {
            self.list(creds, &path).await?.members.into_iter().collect()
        };
        for (h, e) in changed {
            match e.or_else(|| listed.get(&h).cloned()) {
                Some(e) => changed_out.push((h, e)),
                // Gone again since the report.
                None => {
                    removed.insert(h);
                }
            }
        }
        tracing::debug!(target: "airsync", login = %creds.login, collection = %path, changed = changed_out.len(), removed = removed.len(), "dav: delta");
        Ok(Some(DavDelta {
            sync_token: token,
            changed: changed_out,
            removed: removed.into_iter().collect(),
        }))
    }

    async fn fetch(
        &self,
        creds: &Credentials,
        collection: &str,
        hrefs: &[String],
    ) -> Result<Vec<DavObject>, BackendError> {
        if hrefs.is_empty() {
            return Ok(Vec::new());
        }
        let path = href::as_collection(collection);
        let calendar = self.kind_of(creds, &path).await? == DavKind::Calendar;
        let what = format!("multiget {path}");
        let mut out = Vec::with_capacity(hrefs.len());
        for chunk in hrefs.chunks(MULTIGET_CHUNK) {
            let wanted: Vec<String> = chunk.iter().filter_map(|h| href::normalize(h)).collect();
            let encoded: Vec<String> = wanted.iter().map(|h| href::encode(h)).collect();
            let reply = self
                .report(creds, &path, "1", xml::multiget(calendar, &encoded))
                .await?;
            if reply.status != StatusCode::MULTI_STATUS {
                return Err(status_error(reply.status, &what));
            }
            let ms = xml::multistatus(&reply.body).map_err(|e| bad_xml(&what, e))?;
            let mut got: BTreeMap<String, DavObject> = BTreeMap::new();
            for r in ms.responses {
                if r.status.is_some_and(|s| !(200..300).contains(&s)) {
                    continue;
                }
                let data = if calendar {
                    r.props.calendar_data
                } else {
                    r.props.address_data
                };
                let (Some(data), Some(etag)) = (data, r.props.etag) else {
                    continue;
                };
                got.insert(
                    r.href.clone(),
                    DavObject {
                        href: r.href,
                        etag,
                        data: data.into_bytes(),
                    },
                );
            }
            // In the order asked for.
            out.extend(wanted.iter().filter_map(|h| got.remove(h)));
        }
        tracing::debug!(target: "airsync", login = %creds.login, collection = %path, asked = hrefs.len(), got = out.len(), "dav: fetched objects");
        Ok(out)
    }

    async fn time_range(
        &self,
        creds: &Credentials,
        collection: &str,
        component: &str,
        start: i64,
        end: Option<i64>,
    ) -> Result<Vec<(String, String)>, BackendError> {
        let path = href::as_collection(collection);
        let what = format!("calendar-query {path}");
        let body = xml::calendar_query(
            &component.to_ascii_uppercase(),
            &utc_stamp(start),
            end.map(utc_stamp).as_deref(),
        );
        let reply = self.report(creds, &path, "1", body).await?;
        if reply.status != StatusCode::MULTI_STATUS {
            return Err(status_error(reply.status, &what));
        }
        let ms = xml::multistatus(&reply.body).map_err(|e| bad_xml(&what, e))?;
        let out: Vec<(String, String)> = ms
            .responses
            .into_iter()
            .filter(|r| !href::same_collection(&r.href, &path) && !r.props.is_collection)
            .filter(|r| r.status.is_none_or(|s| (200..300).contains(&s)))
            .filter_map(|r| Some((r.href, r.props.etag?)))
            .collect();
        tracing::debug!(target: "airsync", login = %creds.login, collection = %path, count = out.len(), "dav: time-range query");
        Ok(out)
    }

    async fn put(
        &self,
        creds: &Credentials,
        collection: &str,
        name: &str,
        data: &[u8],
        content_type: &str,
        if_match: Option<&str>,
    ) -> Result<(String, String), BackendError> {
        let target = href::member(collection, name)
            .ok_or_else(|| BackendError::Permanent(format!("invalid resource name {name:?}")))?;
        let what = format!("PUT {target}");
        let condition = match if_match {
            Some(etag) => ("if-match", etag),
            None => ("if-none-match", "*"),
        };
        let reply = self
            .send(
                creds,
                &Method::PUT,
                &target,
                &[("content-type", content_type), condition],
                Some(data.to_vec()),
            )
            .await?;
        if !matches!(reply.status.as_u16(), 200 | 201 | 204) {
            return Err(status_error(reply.status, &what));
        }
        // A weak ETag means the server changed the data (RFC 4791 §5.3.4): ask for the
        // stored one's tag instead of trusting it.
        let etag = match reply.header("etag") {
            Some(e) if !e.starts_with("W/") && !e.is_empty() => e.to_owned(),
            _ => self.etag_of(creds, &target).await?,
        };
        tracing::debug!(target: "airsync", login = %creds.login, href = %target, size = data.len(), created = if_match.is_none(), "dav: stored object");
        Ok((target, etag))
    }

    async fn delete(
        &self,
        creds: &Credentials,
        href_: &str,
        if_match: Option<&str>,
    ) -> Result<(), BackendError> {
        let target = href::normalize(href_)
            .ok_or_else(|| BackendError::Permanent(format!("invalid href {href_:?}")))?;
        let headers: Vec<(&'static str, &str)> =
            if_match.map(|e| ("if-match", e)).into_iter().collect();
        let reply = self
            .send(creds, &Method::DELETE, &target, &headers, None)
            .await?;
        if !matches!(reply.status.as_u16(), 200 | 202 | 204) {
            return Err(status_error(reply.status, &format!("DELETE {target}")));
        }
        tracing::debug!(target: "airsync", login = %creds.login, href = %target, "dav: deleted object");
        Ok(())
    }

    async fn create_collection(
        &self,
        creds: &Credentials,
        kind: DavKind,
        display_name: &str,
        components: &[&str],
    ) -> Result<String, BackendError> {
        let homes = self.homes(creds, kind).await?;
        let home = homes
            .first()
            .ok_or_else(|| BackendError::Permanent("no home set".into()))?;
        let target = format!("{}{}/", href::as_collection(home), fresh_name());
        let (m, body) = match kind {
            DavKind::Calendar => (
                method("MKCALENDAR"),
                xml::mkcalendar(display_name, components),
            ),
            DavKind::Contacts => (method("MKCOL"), xml::mkcol_addressbook(display_name)),
        };
        let reply = self
            .send(
                creds,
                &m,
                &target,
                &[("content-type", XML_CT)],
                Some(body.into_bytes()),
            )
            .await?;
        if !matches!(reply.status.as_u16(), 200 | 201) {
            if reply.status == StatusCode::NOT_FOUND {
                self.forget_homes(&creds.login, kind);
            }
            return Err(status_error(reply.status, &format!("{m} {target}")));
        }
        self.store_kind(&target, kind);
        tracing::debug!(target: "airsync", login = %creds.login, href = %target, kind = kind_name(kind), "dav: created collection");
        Ok(target)
    }

    async fn rename_collection(
        &self,
        creds: &Credentials,
        href_: &str,
        display_name: &str,
    ) -> Result<(), BackendError> {
        let target = href::normalize(href_)
            .map(|h| href::as_collection(&h))
            .ok_or_else(|| BackendError::Permanent(format!("invalid href {href_:?}")))?;
        let what = format!("PROPPATCH {target}");
        let reply = self
            .send(
                creds,
                &method("PROPPATCH"),
                &target,
                &[("content-type", XML_CT)],
                Some(xml::proppatch_displayname(display_name).into_bytes()),
            )
            .await?;
        match reply.status.as_u16() {
            200 | 204 => {}
            207 => {
                // Every propstat must say 2xx; a 207 may carry a per-property refusal.
                if let Some(code) =
                    xml::failed_propstat(&reply.body).map_err(|e| bad_xml(&what, e))?
                {
                    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FORBIDDEN);
                    return Err(status_error(status, &what));
                }
            }
            _ => return Err(status_error(reply.status, &what)),
        }
        tracing::debug!(target: "airsync", login = %creds.login, href = %target, "dav: renamed collection");
        Ok(())
    }

    async fn delete_collection(
        &self,
        creds: &Credentials,
        href_: &str,
    ) -> Result<(), BackendError> {
        let target = href::normalize(href_)
            .map(|h| href::as_collection(&h))
            .ok_or_else(|| BackendError::Permanent(format!("invalid href {href_:?}")))?;
        let reply = self
            .send(creds, &Method::DELETE, &target, &[], None)
            .await?;
        if !matches!(reply.status.as_u16(), 200 | 202 | 204) {
            return Err(status_error(reply.status, &format!("DELETE {target}")));
        }
        self.forget_kind(&target);
        tracing::debug!(target: "airsync", login = %creds.login, href = %target, "dav: deleted collection");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_700_000_000), "20231114T221320Z");
        assert_eq!(utc_stamp(-1), "19691231T235959Z");
        assert_eq!(utc_stamp(4_102_444_800), "21000101T000000Z");
    }

    /// A scripted HTTP server: answers each request with the next `(status, headers,
    /// body)` and hands back the requests it saw (method line and body).
    async fn scripted(
        answers: Vec<(u16, &'static str, String)>,
    ) -> (String, tokio::task::JoinHandle<Vec<(String, String)>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for (status, headers, body) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut tmp).await.unwrap();
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut tmp).await.unwrap();
                    buf.extend_from_slice(&tmp[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let line = head.lines().next().unwrap_or_default().to_owned();
                seen.push((line, String::from_utf8_lossy(&buf[head_end..]).into_owned()));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
                sock.shutdown().await.ok();
            }
            seen
        });
        (url, task)
    }

    fn creds() -> Credentials {
        Credentials::new("u", "p")
    }

    #[tokio::test]
    async fn truncated_sync_collection_is_asked_again() {
        let first = r#"<d:multistatus xmlns:d="DAV:">
            <d:response><d:href>/u/c/a.ics</d:href><d:propstat><d:prop><d:getetag>"a1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:response><d:href>/u/c/b.ics</d:href><d:propstat><d:prop><d:getetag>"b1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:response><d:href>/u/c/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>
            <d:sync-token>t2</d:sync-token></d:multistatus>"#;
        // The second page removes b (changed in the first page) and changes c.
        let second = r#"<d:multistatus xmlns:d="DAV:">
            <d:response><d:href>/u/c/b.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
            <d:response><d:href>/u/c/c%20d.ics</d:href><d:propstat><d:prop><d:getetag>"c1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:sync-token>t3</d:sync-token></d:multistatus>"#;
        let (url, server) = scripted(vec![
            (207, "", first.to_owned()),
            (207, "", second.to_owned()),
        ])
        .await;
        let c = DavClient::new(crate::DavConfig::new(url)).unwrap();
        let d = c.changes(&creds(), "/u/c/", "t1").await.unwrap().unwrap();
        assert_eq!(d.sync_token, "t3");
        assert_eq!(
            d.changed,
            vec![
                ("/u/c/a.ics".to_string(), "\"a1\"".to_string()),
                ("/u/c/c d.ics".to_string(), "\"c1\"".to_string())
            ]
        );
        assert_eq!(d.removed, vec!["/u/c/b.ics".to_string()]);
        let seen = server.await.unwrap();
        assert!(seen[0].0.starts_with("REPORT /u/c/ "), "{seen:?}");
        assert!(seen[0].1.contains("<d:sync-token>t1</d:sync-token>"));
        assert!(seen[1].1.contains("<d:sync-token>t2</d:sync-token>"));
    }

    #[tokio::test]
    async fn unsupported_sync_collection_means_none() {
        let (url, _server) = scripted(vec![(501, "", String::new())]).await;
        let c = DavClient::new(crate::DavConfig::new(url)).unwrap();
        assert_eq!(c.changes(&creds(), "/u/c/", "t1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_without_etag_asks_for_it() {
        let propfind = r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/u/c/x.ics</d:href><d:propstat><d:prop><d:getetag>"stored"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
        let (url, server) = scripted(vec![
            (201, "ETag: W/\"weak\"\r\n", String::new()),
            (207, "", propfind.to_owned()),
        ])
        .await;
        let c = DavClient::new(crate::DavConfig::new(url)).unwrap();
        let (href, etag) = c
            .put(
                &creds(),
                "/u/c/",
                "x.ics",
                b"BEGIN:VCALENDAR\r\n",
                "text/calendar",
                None,
            )
            .await
            .unwrap();
        assert_eq!(href, "/u/c/x.ics");
        assert_eq!(etag, "\"stored\"");
        let seen = server.await.unwrap();
        assert!(seen[0].0.starts_with("PUT /u/c/x.ics "));
        assert!(seen[1].0.starts_with("PROPFIND /u/c/x.ics "));
    }

    #[tokio::test]
    async fn discovery_follows_well_known_redirect_and_caches() {
        let root = r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/p/u%40x/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
        let principal = r#"<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/p/u%40x/</d:href><d:propstat><d:prop><c:calendar-home-set><d:href>/cal/u@x</d:href></c:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
        let home = r#"<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
            <d:response><d:href>/cal/u@x/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            <d:response><d:href>/cal/u@x/work/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            </d:multistatus>"#;
        let (url, server) = scripted(vec![
            (301, "Location: /\r\n", String::new()),
            (207, "", root.to_owned()),
            (207, "", principal.to_owned()),
            (207, "", home.to_owned()),
            (207, "", home.to_owned()),
        ])
        .await;
        let c = DavClient::new(crate::DavConfig::new(url)).unwrap();
        for _ in 0..2 {
            let cols = c.collections(&creds(), DavKind::Calendar).await.unwrap();
            assert_eq!(cols.len(), 1);
            assert_eq!(cols[0].href, "/cal/u@x/work/");
            assert_eq!(cols[0].display_name, "work");
            assert_eq!(cols[0].components, vec!["VEVENT", "VTODO", "VJOURNAL"]);
        }
        let seen = server.await.unwrap();
        let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            lines,
            vec![
                "PROPFIND /.well-known/caldav HTTP/1.1",
                "PROPFIND / HTTP/1.1",
                "PROPFIND /p/u@x/ HTTP/1.1",
                "PROPFIND /cal/u@x/ HTTP/1.1",
                // Second call: discovery came from the cache.
                "PROPFIND /cal/u@x/ HTTP/1.1",
            ]
        );
    }

    #[tokio::test]
    async fn oversized_response_is_refused() {
        let (url, _server) = scripted(vec![(207, "", "x".repeat(5000))]).await;
        let mut cfg = crate::DavConfig::new(url);
        cfg.max_response_size = 1000;
        let c = DavClient::new(cfg).unwrap();
        let r = c.list(&creds(), "/u/c/").await;
        assert!(
            matches!(r, Err(BackendError::Permanent(ref m)) if m.contains("larger")),
            "{r:?}"
        );
    }

    #[test]
    fn fresh_names_differ() {
        let a = fresh_name();
        let b = fresh_name();
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
    }
}
