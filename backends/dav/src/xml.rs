//! WebDAV XML: a small namespace-resolved tree built with quick-xml, the multistatus
//! reader (RFC 4918 §13) on top of it, and the request bodies this backend sends.
//!
//! Elements are matched by namespace URI and local name, never by prefix. Text is taken
//! as sent (no end-of-line normalisation), so iCalendar CRLFs survive; character and the
//! five predefined entity references are resolved.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::href;

pub(crate) const DAV: &str = "DAV:";
pub(crate) const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub(crate) const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub(crate) const CS: &str = "http://calendarserver.org/ns/";
pub(crate) const APPLE: &str = "http://apple.com/ns/ical/";

/// Deepest element nesting accepted; multistatus answers are a handful of levels deep.
const MAX_DEPTH: usize = 64;

/// One element: namespace URI (empty when unbound), local name, attributes (local name →
/// value, namespaces ignored), children and the concatenated text directly inside it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child with this name.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// All children with this name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Text with surrounding XML whitespace removed.
    pub fn trimmed(&self) -> &str {
        self.text.trim_matches([' ', '\t', '\r', '\n'])
    }
}

/// Malformed or unexpected XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct XmlError(pub String);

fn err(e: impl std::fmt::Display) -> XmlError {
    XmlError(e.to_string())
}

fn ns_of(r: &ResolveResult<'_>) -> String {
    match r {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(body);
    // Keep text exactly; whitespace-only text is harmless in `text`.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(err)?;
        let ns = ns_of(&resolved);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let mut el = Element {
                    ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(err)?;
                    let value = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(err)?
                        .into_owned();
                    el.attrs.push((
                        String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                        value,
                    ));
                }
                if empty {
                    attach(&mut stack, &mut root, el)?;
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError("XML nested too deeply".into()));
                    }
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| err("unbalanced end tag"))?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(err)?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(err)?);
                }
            }
            Event::GeneralRef(r) => {
                let Some(top) = stack.last_mut() else {
                    continue;
                };
                if let Some(c) = r.resolve_char_ref().map_err(err)? {
                    top.text.push(c);
                } else {
                    let name = r.decode().map_err(err)?;
                    let c = match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError(format!("unknown entity &{other};"))),
                    };
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(err("unexpected end of document"));
    }
    root.ok_or_else(|| err("empty document"))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(err("more than one root element")),
    }
    Ok(())
}

/// The numeric code of an HTTP status line (`HTTP/1.1 404 Not Found` → 404).
pub(crate) fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One `DAV:response` of a multistatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// Normalised href (see [`href::normalize`]).
    pub href: String,
    /// The response-level `DAV:status` (sync-collection removals, 507 truncation).
    pub status: Option<u16>,
    /// Properties from propstats with a 2xx status; 404 and other failures are skipped.
    pub props: Props,
}

/// The properties this backend reads. Absent ones stay `None`/empty.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Props {
    pub etag: Option<String>,
    pub display_name: Option<String>,
    pub is_collection: bool,
    pub is_calendar: bool,
    pub is_addressbook: bool,
    /// `None` when the property was not returned, `Some(vec![])` when returned empty.
    pub components: Option<Vec<String>>,
    pub ctag: Option<String>,
    pub sync_token: Option<String>,
    pub color: Option<String>,
    pub calendar_data: Option<String>,
    pub address_data: Option<String>,
    pub current_user_principal: Option<String>,
    pub calendar_home_set: Vec<String>,
    pub addressbook_home_set: Vec<String>,
}

/// A parsed multistatus: its responses and the top-level sync-token (RFC 6578 §6.4).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Multistatus {
    pub responses: Vec<Response>,
    pub sync_token: Option<String>,
}

/// Reads a `DAV:multistatus` body; hrefs (absolute paths or full URLs) become normalised
/// paths, responses whose href is neither are dropped.
pub(crate) fn multistatus(body: &[u8]) -> Result<Multistatus, XmlError> {
    let root = parse(body)?;
    if !root.is(DAV, "multistatus") {
        return Err(XmlError(format!(
            "expected DAV:multistatus, got {{{}}}{}",
            root.ns, root.name
        )));
    }
    let mut out = Multistatus {
        sync_token: root
            .child(DAV, "sync-token")
            .map(|t| t.trimmed().to_owned())
            .filter(|t| !t.is_empty()),
        ..Multistatus::default()
    };
    for r in root.children_named(DAV, "response") {
        // RFC 4918 allows several hrefs with one status; each gets the same answer.
        let hrefs: Vec<String> = r
            .children_named(DAV, "href")
            .filter_map(|h| href::normalize(h.trimmed()))
            .collect();
        if hrefs.is_empty() {
            continue;
        }
        let status = r
            .child(DAV, "status")
            .and_then(|s| status_code(s.trimmed()));
        let mut props = Props::default();
        for ps in r.children_named(DAV, "propstat") {
            let code = ps
                .child(DAV, "status")
                .and_then(|s| status_code(s.trimmed()))
                .unwrap_or(200);
            if !(200..300).contains(&code) {
                continue;
            }
            for prop in ps.children_named(DAV, "prop") {
                read_props(prop, &mut props);
            }
        }
        for h in hrefs {
            out.responses.push(Response {
                href: h,
                status,
                props: props.clone(),
            });
        }
    }
    Ok(out)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn read_props(prop: &Element, p: &mut Props) {
    for e in &prop.children {
        match (e.ns.as_str(), e.name.as_str()) {
            (DAV, "getetag") => p.etag = non_empty(e.trimmed()),
            (DAV, "displayname") => p.display_name = non_empty(e.trimmed()),
            (DAV, "resourcetype") => {
                for t in &e.children {
                    match (t.ns.as_str(), t.name.as_str()) {
                        (DAV, "collection") => p.is_collection = true,
                        (CALDAV, "calendar") => p.is_calendar = true,
                        (CARDDAV, "addressbook") => p.is_addressbook = true,
                        _ => {}
                    }
                }
            }
            (CALDAV, "supported-calendar-component-set") => {
                p.components = Some(
                    e.children_named(CALDAV, "comp")
                        .filter_map(|c| c.attr("name"))
                        .map(|n| n.to_ascii_uppercase())
                        .collect(),
                );
            }
            (CS, "getctag") => p.ctag = non_empty(e.trimmed()),
            (DAV, "sync-token") => p.sync_token = non_empty(e.trimmed()),
            (APPLE, "calendar-color") => p.color = non_empty(e.trimmed()),
            (CALDAV, "calendar-data") => p.calendar_data = Some(e.text.clone()),
            (CARDDAV, "address-data") => p.address_data = Some(e.text.clone()),
            (DAV, "current-user-principal") => {
                p.current_user_principal = e
                    .child(DAV, "href")
                    .and_then(|h| href::normalize(h.trimmed()));
            }
            (CALDAV, "calendar-home-set") => {
                p.calendar_home_set = e
                    .children_named(DAV, "href")
                    .filter_map(|h| href::normalize(h.trimmed()))
                    .map(|h| href::as_collection(&h))
                    .collect();
            }
            (CARDDAV, "addressbook-home-set") => {
                p.addressbook_home_set = e
                    .children_named(DAV, "href")
                    .filter_map(|h| href::normalize(h.trimmed()))
                    .map(|h| href::as_collection(&h))
                    .collect();
            }
            _ => {}
        }
    }
}

/// Whether a `DAV:error` body names this precondition (e.g. `valid-sync-token`).
pub(crate) fn error_names(body: &[u8], ns: &str, name: &str) -> bool {
    parse(body)
        .map(|root| root.is(DAV, "error") && root.child(ns, name).is_some())
        .unwrap_or(false)
}

/// The first non-2xx propstat status of a PROPPATCH multistatus, if any.
pub(crate) fn failed_propstat(body: &[u8]) -> Result<Option<u16>, XmlError> {
    let root = parse(body)?;
    Ok(root
        .children_named(DAV, "response")
        .flat_map(|r| r.children_named(DAV, "propstat"))
        .filter_map(|ps| {
            ps.child(DAV, "status")
                .and_then(|s| status_code(s.trimmed()))
        })
        .find(|c| !(200..300).contains(c)))
}

/// Escapes text for an XML element body or attribute value.
pub(crate) fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

// ---- request bodies ----

const XML_DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

pub(crate) fn propfind(props: &str) -> String {
    format!(
        r#"{XML_DECL}<d:propfind xmlns:d="DAV:" xmlns:c="{CALDAV}" xmlns:a="{CARDDAV}" xmlns:cs="{CS}" xmlns:ic="{APPLE}"><d:prop>{props}</d:prop></d:propfind>"#
    )
}

pub(crate) fn sync_collection(token: &str) -> String {
    format!(
        r#"{XML_DECL}<d:sync-collection xmlns:d="DAV:"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#,
        escape(token)
    )
}

/// calendar-multiget (`calendar: true`) or addressbook-multiget of already encoded hrefs.
pub(crate) fn multiget(calendar: bool, encoded_hrefs: &[String]) -> String {
    let (root, data, ns) = if calendar {
        ("c:calendar-multiget", "c:calendar-data", CALDAV)
    } else {
        ("c:addressbook-multiget", "c:address-data", CARDDAV)
    };
    let mut s = format!(
        r#"{XML_DECL}<{root} xmlns:d="DAV:" xmlns:c="{ns}"><d:prop><d:getetag/><{data}/></d:prop>"#
    );
    for h in encoded_hrefs {
        s.push_str("<d:href>");
        s.push_str(&escape(h));
        s.push_str("</d:href>");
    }
    s.push_str(&format!("</{root}>"));
    s
}

pub(crate) fn calendar_query(component: &str, start: &str, end: Option<&str>) -> String {
    let end = end.map(|e| format!(r#" end="{e}""#)).unwrap_or_default();
    format!(
        r#"{XML_DECL}<c:calendar-query xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="{}"><c:time-range start="{start}"{end}/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#,
        escape(component)
    )
}

pub(crate) fn mkcalendar(display_name: &str, components: &[&str]) -> String {
    let mut comps = String::new();
    for c in components {
        comps.push_str(&format!(r#"<c:comp name="{}"/>"#, escape(c)));
    }
    let set = if comps.is_empty() {
        String::new()
    } else {
        format!("<c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set>")
    };
    format!(
        r#"{XML_DECL}<c:mkcalendar xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:set><d:prop><d:displayname>{}</d:displayname>{set}</d:prop></d:set></c:mkcalendar>"#,
        escape(display_name)
    )
}

pub(crate) fn mkcol_addressbook(display_name: &str) -> String {
    format!(
        r#"{XML_DECL}<d:mkcol xmlns:d="DAV:" xmlns:a="{CARDDAV}"><d:set><d:prop><d:resourcetype><d:collection/><a:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
        escape(display_name)
    )
}

pub(crate) fn proppatch_displayname(display_name: &str) -> String {
    format!(
        r#"{XML_DECL}<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>{}</d:displayname></d:prop></d:set></d:propertyupdate>"#,
        escape(display_name)
    )
}
