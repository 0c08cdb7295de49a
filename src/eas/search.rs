//! Search (MS-ASCMD 2.2.1.16) and Find (MS-ASCMD 2.2.1.2, EAS 16.1), typed: the store,
//! the query, the options. Both commands share the mailbox query and the result paging.

use crate::wbxml::pages::{AirSync as A, Email as E, Find as F, Search as S};
use crate::wbxml::{Element, Tag};

use super::sync::BodyPreference;
use super::{EasError, require_root};

/// Which store a search runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreName {
    Mailbox,
    Gal,
    /// DocumentLibrary or anything else: answered with a status, not searched.
    Other(String),
}

/// A mailbox query: every condition must hold (the `And` of MS-ASCMD 2.2.3.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailQuery {
    pub class: Option<String>,
    pub collection_ids: Vec<String>,
    pub free_text: Option<String>,
    /// DateReceived GreaterThan, Unix seconds.
    pub received_after: Option<i64>,
    /// DateReceived LessThan, Unix seconds.
    pub received_before: Option<i64>,
    /// The query uses something airsync cannot evaluate (Or, EqualTo, ConversationId…):
    /// MS-ASCMD Status 8, TooComplex.
    pub too_complex: bool,
}

/// Picture limits of a GAL search (MS-ASCMD 2.2.3.135).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PictureOptions {
    pub max_size: Option<u32>,
    pub max_pictures: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchOptions {
    /// Inclusive zero-based range "first-last"; MS-ASCMD default 0-99.
    pub range: Option<(u32, u32)>,
    pub deep_traversal: bool,
    pub rebuild_results: bool,
    pub body_preferences: Vec<BodyPreference>,
    pub mime_support: Option<u8>,
    pub picture: Option<PictureOptions>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub store: StoreName,
    /// The GAL query text (for `StoreName::Gal`).
    pub gal_query: String,
    pub mail: MailQuery,
    pub options: SearchOptions,
}

/// Search Status values (MS-ASCMD 2.2.3.177.13): the same numbers serve the command
/// and the Store.
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const INVALID_REQUEST: u16 = 2;
    pub const SERVER_ERROR: u16 = 3;
    pub const TOO_COMPLEX: u16 = 8;
    pub const TIMED_OUT: u16 = 10;
    pub const FOLDER_SYNC_REQUIRED: u16 = 11;
    pub const END_OF_RANGE: u16 = 12;
}

/// Find Status values (MS-ASCMD 2.2.3.177.x, Find): 1 success, 2 invalid request,
/// 3 folder sync required, 4 start ≥ end of range…
pub mod find_status {
    pub const SUCCESS: u16 = 1;
    pub const INVALID_REQUEST: u16 = 2;
    pub const FOLDER_SYNC_REQUIRED: u16 = 3;
    pub const INVALID_RANGE: u16 = 4;
}

pub fn parse_range(s: &str) -> Result<(u32, u32), EasError> {
    let bad = || EasError::Invalid(format!("bad Range {s:?}"));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// An EAS date-time (`2020-01-01T00:00:00.000Z`) as Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp())
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|d| d.and_utc().timestamp())
        })
}

/// Reads the conditions of a mailbox query (Search `Query` or Find
/// `MailBoxSearchCriterion/Query`) into `q`; nested Ands are flattened.
fn mail_conditions(el: &Element, q: &mut MailQuery) {
    for c in el.elements() {
        let t = c.tag;
        if t == S::And {
            mail_conditions(c, q);
        } else if t == A::Class {
            q.class = c.text().map(|s| s.trim().to_string());
        } else if t == A::CollectionId {
            if let Some(id) = c.text() {
                q.collection_ids.push(id.trim().to_string());
            }
        } else if t == S::FreeText || t == F::FreeText {
            let text = c.text().map(|s| s.trim().to_string()).unwrap_or_default();
            if !text.is_empty() {
                q.free_text = Some(text);
            }
        } else if t == S::GreaterThan || t == S::LessThan {
            let on_received = c.first(E::DateReceived).is_some();
            let value = c.child_text(S::Value).and_then(|v| parse_date(&v));
            match (on_received, value) {
                (true, Some(v)) if t == S::GreaterThan => q.received_after = Some(v),
                (true, Some(v)) => q.received_before = Some(v),
                _ => q.too_complex = true,
            }
        } else {
            q.too_complex = true;
        }
    }
}

fn picture_options(el: Option<&Element>, size: Tag, count: Tag) -> Option<PictureOptions> {
    el.map(|p| PictureOptions {
        max_size: p.child_text(size).and_then(|s| s.trim().parse().ok()),
        max_pictures: p.child_text(count).and_then(|s| s.trim().parse().ok()),
    })
}

pub fn parse(root: &Element) -> Result<SearchRequest, EasError> {
    require_root(root, S::Search)?;
    let store = root.first(S::Store).ok_or(EasError::Missing("Store"))?;
    let name = store
        .child_text(S::Name)
        .map(|s| s.trim().to_string())
        .ok_or(EasError::Missing("Store/Name"))?;
    let store_name = if name.eq_ignore_ascii_case("Mailbox") {
        StoreName::Mailbox
    } else if name.eq_ignore_ascii_case("GAL") {
        StoreName::Gal
    } else {
        StoreName::Other(name)
    };
    let query = store.first(S::Query).ok_or(EasError::Missing("Query"))?;
    let mut mail = MailQuery::default();
    let gal_query = query
        .text()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if store_name == StoreName::Mailbox {
        mail_conditions(query, &mut mail);
    }
    let mut options = SearchOptions::default();
    if let Some(o) = store.first(S::Options) {
        options.range = o
            .child_text(S::Range)
            .map(|r| parse_range(&r))
            .transpose()?;
        options.deep_traversal = o.first(S::DeepTraversal).is_some();
        options.rebuild_results = o.first(S::RebuildResults).is_some();
        options.body_preferences = BodyPreference::parse_all(o)?;
        options.mime_support = o
            .child_text(A::MIMESupport)
            .and_then(|s| s.trim().parse().ok());
        options.picture = picture_options(o.first(S::Picture), S::MaxSize, S::MaxPictures);
    }
    Ok(SearchRequest {
        store: store_name,
        gal_query,
        mail,
        options,
    })
}

/// A Find request (EAS 16.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindRequest {
    pub search_id: String,
    pub kind: FindKind,
    pub range: Option<(u32, u32)>,
    pub deep_traversal: bool,
    pub picture: Option<PictureOptions>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKind {
    Mailbox(MailQuery),
    Gal(String),
}

pub fn parse_find(root: &Element) -> Result<FindRequest, EasError> {
    require_root(root, F::Find)?;
    let search_id = root
        .child_text(F::SearchId)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let exec = root
        .first(F::ExecuteSearch)
        .ok_or(EasError::Missing("ExecuteSearch"))?;
    let (kind, criterion) = if let Some(c) = exec.first(F::MailBoxSearchCriterion) {
        let mut q = MailQuery::default();
        if let Some(query) = c.first(F::Query) {
            mail_conditions(query, &mut q);
        }
        (FindKind::Mailbox(q), c)
    } else if let Some(c) = exec.first(F::GalSearchCriterion) {
        let text = c
            .first(F::Query)
            .and_then(|q| q.text().map(|s| s.trim().to_string()))
            .unwrap_or_default();
        (FindKind::Gal(text), c)
    } else {
        return Err(EasError::Missing(
            "MailBoxSearchCriterion or GALSearchCriterion",
        ));
    };
    let options = criterion
        .first(F::Options)
        .or_else(|| exec.first(F::Options));
    let range = options
        .and_then(|o| o.child_text(F::Range))
        .map(|r| parse_range(&r))
        .transpose()?;
    let deep_traversal = options.is_some_and(|o| o.first(F::DeepTraversal).is_some());
    let picture = picture_options(
        options.and_then(|o| o.first(F::Picture)),
        F::MaxSize,
        F::MaxPictures,
    );
    Ok(FindRequest {
        search_id,
        kind,
        range,
        deep_traversal,
        picture,
    })
}

/// The page of `total` results a Range asks for: `(first, last)` clamped, or `None`
/// when the range starts beyond the results.
pub fn page(range: Option<(u32, u32)>, total: usize, max_page: u32) -> Option<(usize, usize)> {
    let (first, last) = range.unwrap_or((0, max_page - 1));
    let last = last.min(first.saturating_add(max_page - 1));
    let (first, last) = (first as usize, last as usize);
    if total == 0 || first >= total {
        return None;
    }
    Some((first, last.min(total - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn captured_mailbox_search_parses() {
        let p = format!(
            "{}/../shared/fixtures/eas/pyactivesync/search-mailbox-greaterthan.req.wbxml",
            env!("CARGO_MANIFEST_DIR")
        );
        let el = wbxml::decode(&std::fs::read(p).unwrap(), &wbxml::Limits::default()).unwrap();
        let r = parse(&el).unwrap();
        assert_eq!(r.store, StoreName::Mailbox);
        assert_eq!(r.mail.collection_ids, vec!["9".to_string()]);
        assert_eq!(r.mail.class.as_deref(), Some("Email"));
        assert_eq!(r.mail.received_after, Some(1_577_836_800));
        assert!(!r.mail.too_complex);
        assert_eq!(r.options.range, Some((0, 9)));
    }

    #[test]
    fn paging() {
        assert_eq!(page(Some((0, 9)), 25, 100), Some((0, 9)));
        assert_eq!(page(Some((20, 29)), 25, 100), Some((20, 24)));
        assert_eq!(page(Some((30, 39)), 25, 100), None);
        assert_eq!(page(None, 0, 100), None);
        assert_eq!(page(Some((0, 999)), 500, 100), Some((0, 99)));
    }
}
