//! Search (MS-ASCMD 2.2.1.16) and Find (MS-ASCMD 2.2.1.2, 16.1): mailbox searches run
//! as IMAP SEARCH/SORT in the named folders (or every visible mail folder), newest
//! first; GAL searches run against the configured directory sources.
//!
//! Result ids are LongIds `"{CollectionId}:{UID}"`, the form ItemOperations Fetch takes.
//! Searches are bounded: at most [`MAX_PAGE`] results per answer, at most
//! [`MAX_RANGE_END`] as the end of a range, and an answer within [`DEADLINE`] (Gmail
//! abandons a search that sends nothing for about 30 s): a search that takes longer is
//! answered with Status 10 (TimedOut).

use std::time::Duration;

use airsync_model::{MessageMeta, SearchKey};

use crate::directory;
use crate::eas::search::{
    self, FindKind, MailQuery, PictureOptions, StoreName, find_status, status,
};
use crate::eas::sync::{BodyPreference, SyncOptions};
use crate::error::Error;
use crate::mapping::folders::{FolderView, Resolved};
use crate::wbxml::Element;
use crate::wbxml::pages::{
    AirSync as A, AirSyncBase as B, Email as E, Find as F, ItemOperations as IO, Search as S,
};

use super::sync::mail;
use super::{Reply, RequestContext};

/// Most results in one answer.
pub const MAX_PAGE: u32 = 100;
/// Highest result index a Range may reach.
pub const MAX_RANGE_END: u32 = 999;
/// Time a search may take before it is answered with TimedOut.
pub const DEADLINE: Duration = Duration::from_secs(25);

/// What a mailbox search found: every hit's folder and metadata, newest first, and the
/// total count.
struct MailHits {
    total: usize,
    hits: Vec<(String, String, MessageMeta)>, // (collection id, mailbox, meta)
}

enum Outcome<T> {
    Found(T),
    Status(u16),
}

/// The folders a query names (with DeepTraversal, their subfolders too), or every
/// visible mail folder; `None` when a named folder is not this account's (or not mail).
fn folders(view: &FolderView, q: &MailQuery, deep: bool) -> Option<Vec<(String, String)>> {
    let mail_rows = || {
        view.rows.iter().filter(|r| !r.gone).filter_map(|r| {
            match view.resolve(&r.folder_id.to_string()) {
                Some(Resolved::Mail { mailbox, .. }) => Some((r.folder_id.to_string(), mailbox)),
                _ => None,
            }
        })
    };
    if q.collection_ids.is_empty() {
        return Some(mail_rows().collect());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for id in &q.collection_ids {
        let Some(Resolved::Mail { mailbox, .. }) = view.resolve(id) else {
            return None;
        };
        if deep {
            for (cid, mb) in mail_rows() {
                let child = mb.len() > mailbox.len()
                    && mb.starts_with(&mailbox)
                    && matches!(mb.as_bytes()[mailbox.len()], b'/' | b'.');
                if child && !out.iter().any(|(c, _)| *c == cid) {
                    out.push((cid, mb));
                }
            }
        }
        if !out.iter().any(|(c, _)| c == id) {
            out.push((id.clone(), mailbox));
        }
    }
    Some(out)
}

async fn mail_search(
    ctx: &RequestContext<'_>,
    q: &MailQuery,
    deep: bool,
    wanted: usize,
) -> Result<Outcome<MailHits>, Error> {
    if q.too_complex {
        return Ok(Outcome::Status(status::TOO_COMPLEX));
    }
    if q.class
        .as_deref()
        .is_some_and(|c| !c.eq_ignore_ascii_case("Email"))
    {
        // Only mail is searched; other classes have nothing to find here.
        return Ok(Outcome::Found(MailHits {
            total: 0,
            hits: Vec::new(),
        }));
    }
    let view = ctx.folder_view().await?;
    let Some(folders) = folders(&view, q, deep) else {
        return Ok(Outcome::Status(status::FOLDER_SYNC_REQUIRED));
    };
    let mut keys = Vec::new();
    if let Some(t) = &q.free_text {
        keys.push(SearchKey::Text(t.clone()));
    }
    if let Some(after) = q.received_after {
        keys.push(SearchKey::Since(after + 1));
    }
    if let Some(before) = q.received_before {
        keys.push(SearchKey::Before(before));
    }
    let creds = &ctx.principal.credentials;
    let mut total = 0;
    let mut hits = Vec::new();
    for (cid, mailbox) in folders {
        let found = ctx.app.mail.search(creds, &mailbox, &keys, wanted).await?;
        total += found.total;
        hits.extend(
            found
                .newest
                .into_iter()
                .map(|m| (cid.clone(), mailbox.clone(), m)),
        );
    }
    hits.sort_by(|a, b| {
        b.2.internal_date
            .cmp(&a.2.internal_date)
            .then(b.2.uid.cmp(&a.2.uid))
    });
    hits.truncate(wanted);
    Ok(Outcome::Found(MailHits { total, hits }))
}

/// Fetches the hits of `page` and converts each to its ApplicationData.
async fn fetch_page(
    ctx: &RequestContext<'_>,
    hits: &[(String, String, MessageMeta)],
    options: &SyncOptions,
) -> Result<Vec<(String, String, Element)>, Error> {
    let creds = &ctx.principal.credentials;
    let mut out = Vec::new();
    for (cid, mailbox, meta) in hits {
        let long_id = mail::server_id(cid, meta.uid);
        if let Some(m) = ctx
            .app
            .mail
            .fetch_messages(creds, mailbox, &[meta.uid])
            .await?
            .first()
        {
            let data = mail::application_data(ctx.version, options, &long_id, m);
            out.push((cid.clone(), long_id, data));
        }
    }
    Ok(out)
}

fn wanted(range: Option<(u32, u32)>) -> Result<(u32, u32), u16> {
    let (first, last) = range.unwrap_or((0, MAX_PAGE - 1));
    if first > MAX_RANGE_END {
        return Err(status::END_OF_RANGE);
    }
    Ok((first, last.min(MAX_RANGE_END).min(first + MAX_PAGE - 1)))
}

fn store_status(code: u16) -> Element {
    Element::new(S::Store).text_child(S::Status, code.to_string())
}

fn search_document(store: Element) -> Reply {
    Reply::Wbxml(
        Element::new(S::Search)
            .text_child(S::Status, status::SUCCESS.to_string())
            .child(Element::new(S::Response).child(store)),
    )
}

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = match search::parse(&document) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(target: "airsync", error = %e, "Search: invalid request");
            return Ok(search_document(store_status(status::INVALID_REQUEST)));
        }
    };
    let (first, last) = match wanted(request.options.range) {
        Ok(r) => r,
        Err(code) => return Ok(search_document(store_status(code))),
    };
    let answer = tokio::time::timeout(DEADLINE, async {
        match &request.store {
            StoreName::Mailbox => mailbox_store(ctx, &request, first, last).await,
            StoreName::Gal => {
                gal_store(
                    ctx,
                    &request.gal_query,
                    request.options.picture,
                    first,
                    last,
                )
                .await
            }
            StoreName::Other(name) => {
                tracing::debug!(target: "airsync", store = %name, "Search: store not offered");
                Ok(store_status(status::INVALID_REQUEST))
            }
        }
    })
    .await;
    let store = match answer {
        Ok(Ok(store)) => store,
        Ok(Err(Error::Backend(e))) => {
            tracing::warn!(target: "airsync", error = %e, "Search: upstream failed");
            store_status(status::SERVER_ERROR)
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => store_status(status::TIMED_OUT),
    };
    Ok(search_document(store))
}

async fn mailbox_store(
    ctx: &RequestContext<'_>,
    request: &search::SearchRequest,
    first: u32,
    last: u32,
) -> Result<Element, Error> {
    let found = match mail_search(
        ctx,
        &request.mail,
        request.options.deep_traversal,
        last as usize + 1,
    )
    .await?
    {
        Outcome::Found(f) => f,
        Outcome::Status(code) => return Ok(store_status(code)),
    };
    let mut store = store_status(status::SUCCESS);
    let Some((a, b)) = search::page(Some((first, last)), found.hits.len(), MAX_PAGE) else {
        // MS-ASCMD 2.2.3.156: no match is an empty Result.
        store.push(Element::new(S::Result));
        store.push(Element::with_text(S::Total, found.total.to_string()));
        return Ok(store);
    };
    let options = SyncOptions {
        body_preferences: request.options.body_preferences.clone(),
        mime_support: request.options.mime_support,
        ..Default::default()
    };
    for (cid, long_id, data) in fetch_page(ctx, &found.hits[a..=b], &options).await? {
        store.push(
            Element::new(S::Result)
                .text_child(A::Class, "Email")
                .text_child(S::LongId, long_id)
                .text_child(A::CollectionId, cid)
                .child(Element {
                    tag: S::Properties,
                    children: data.children,
                }),
        );
    }
    store.push(Element::with_text(S::Range, format!("{a}-{b}")));
    store.push(Element::with_text(S::Total, found.total.to_string()));
    Ok(store)
}

async fn gal_store(
    ctx: &RequestContext<'_>,
    query: &str,
    picture: Option<PictureOptions>,
    first: u32,
    last: u32,
) -> Result<Element, Error> {
    let limit = (last as usize + 1).min(ctx.app.settings.directory.max_results);
    let entries =
        directory::search_all(&ctx.app.directory, &ctx.principal.credentials, query, limit).await?;
    let mut store = store_status(status::SUCCESS);
    let Some((a, b)) = search::page(Some((first, last)), entries.len(), MAX_PAGE) else {
        store.push(Element::new(S::Result));
        store.push(Element::with_text(S::Total, entries.len().to_string()));
        return Ok(store);
    };
    let mut left = picture
        .map(|p| p.max_pictures.unwrap_or(u32::MAX))
        .unwrap_or(0);
    for e in &entries[a..=b] {
        let pic = picture.map(|p| (p.max_size, &mut left));
        store.push(Element::new(S::Result).child(directory::gal_properties(e, S::Properties, pic)));
    }
    store.push(Element::with_text(S::Range, format!("{a}-{b}")));
    store.push(Element::with_text(S::Total, entries.len().to_string()));
    Ok(store)
}

// ---------------------------------------------------------------------------------------
// Find (16.1).
// ---------------------------------------------------------------------------------------

fn find_document(code: u16, response: Option<Element>) -> Reply {
    let mut doc = Element::new(F::Find).text_child(F::Status, code.to_string());
    if let Some(r) = response {
        doc.push(r);
    }
    Reply::Wbxml(doc)
}

pub async fn find(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = match search::parse_find(&document) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(target: "airsync", error = %e, "Find: invalid request");
            return Ok(find_document(find_status::INVALID_REQUEST, None));
        }
    };
    let Ok((first, last)) = wanted(request.range) else {
        return Ok(find_document(find_status::INVALID_RANGE, None));
    };
    let answer = tokio::time::timeout(DEADLINE, async {
        match &request.kind {
            FindKind::Mailbox(q) => find_mailbox(ctx, q, request.deep_traversal, first, last).await,
            FindKind::Gal(text) => find_gal(ctx, text, request.picture, first, last).await,
        }
    })
    .await;
    match answer {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(e)) => Err(e),
        // No TimedOut in Find's Status list: answered as a server error (in band).
        Err(_) => Err(Error::Backend(airsync_model::BackendError::Permanent(
            "find timed out".into(),
        ))),
    }
}

fn find_response(
    store: &str,
    results: Vec<Element>,
    range: Option<(usize, usize)>,
    total: usize,
) -> Element {
    let mut r = Element::new(F::Response)
        .text_child(IO::Store, store)
        .text_child(F::Status, find_status::SUCCESS.to_string());
    for res in results {
        r.push(res);
    }
    if let Some((a, b)) = range {
        r.push(Element::with_text(F::Range, format!("{a}-{b}")));
    }
    r.push(Element::with_text(F::Total, total.to_string()));
    r
}

async fn find_mailbox(
    ctx: &RequestContext<'_>,
    q: &MailQuery,
    deep: bool,
    first: u32,
    last: u32,
) -> Result<Reply, Error> {
    let found = match mail_search(ctx, q, deep, last as usize + 1).await? {
        Outcome::Found(f) => f,
        Outcome::Status(status::FOLDER_SYNC_REQUIRED) => {
            return Ok(find_document(find_status::FOLDER_SYNC_REQUIRED, None));
        }
        Outcome::Status(_) => return Ok(find_document(find_status::INVALID_REQUEST, None)),
    };
    let page = search::page(Some((first, last)), found.hits.len(), MAX_PAGE);
    let mut results = Vec::new();
    if let Some((a, b)) = page {
        // A plain-text preview of 255 characters, as Find results carry (Find:Preview).
        let options = SyncOptions {
            body_preferences: vec![BodyPreference {
                body_type: 1,
                truncation_size: Some(1024),
                all_or_none: false,
                preview: Some(255),
            }],
            ..Default::default()
        };
        for (cid, sid, data) in fetch_page(ctx, &found.hits[a..=b], &options).await? {
            let mut props = Element::new(F::Properties);
            for tag in [
                E::Subject,
                E::DateReceived,
                E::DisplayTo,
                E::From,
                E::Read,
                E::Importance,
            ] {
                if let Some(el) = data.first(tag) {
                    props.push(el.clone());
                }
            }
            let body = data.first(B::Body);
            let preview = body
                .and_then(|b| b.child_text(B::Preview).or_else(|| b.child_text(B::Data)))
                .map(|p| p.chars().take(255).collect::<String>())
                .unwrap_or_default();
            props.push(Element::with_text(F::Preview, preview));
            props.push(Element::with_text(
                F::HasAttachments,
                if data.first(B::Attachments).is_some() {
                    "1"
                } else {
                    "0"
                },
            ));
            results.push(
                Element::new(F::Result)
                    .text_child(A::Class, "Email")
                    .text_child(A::ServerId, sid)
                    .text_child(A::CollectionId, cid)
                    .child(props),
            );
        }
    }
    Ok(find_document(
        find_status::SUCCESS,
        Some(find_response("Mailbox", results, page, found.total)),
    ))
}

async fn find_gal(
    ctx: &RequestContext<'_>,
    text: &str,
    picture: Option<PictureOptions>,
    first: u32,
    last: u32,
) -> Result<Reply, Error> {
    let limit = (last as usize + 1).min(ctx.app.settings.directory.max_results);
    let entries =
        directory::search_all(&ctx.app.directory, &ctx.principal.credentials, text, limit).await?;
    let page = search::page(Some((first, last)), entries.len(), MAX_PAGE);
    let mut results = Vec::new();
    if let Some((a, b)) = page {
        let mut left = picture
            .map(|p| p.max_pictures.unwrap_or(u32::MAX))
            .unwrap_or(0);
        for e in &entries[a..=b] {
            let pic = picture.map(|p| (p.max_size, &mut left));
            results.push(Element::new(F::Result).child(directory::gal_properties(
                e,
                F::Properties,
                pic,
            )));
        }
    }
    Ok(find_document(
        find_status::SUCCESS,
        Some(find_response("GAL", results, page, entries.len())),
    ))
}
