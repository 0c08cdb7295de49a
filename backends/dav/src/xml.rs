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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_propstats_with_any_prefixes() {
        // Prefixes differ from ours and the default namespace is rebound; 404 propstats
        // are skipped.
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<multistatus xmlns="DAV:" xmlns:X="urn:ietf:params:xml:ns:caldav" xmlns:Q="http://calendarserver.org/ns/">
  <response>
    <href>/alice%40example.org/work/</href>
    <propstat>
      <prop>
        <resourcetype><collection/><X:calendar/></resourcetype>
        <displayname>Work &amp; Play</displayname>
        <X:supported-calendar-component-set><X:comp name="VEVENT"/><X:comp name="vtodo"/></X:supported-calendar-component-set>
        <Q:getctag>"ctag-1"</Q:getctag>
        <sync-token>http://radicale.org/ns/sync/abc</sync-token>
        <ic:calendar-color xmlns:ic="http://apple.com/ns/ical/">#FF0000FF</ic:calendar-color>
      </prop>
      <status>HTTP/1.1 200 OK</status>
    </propstat>
    <propstat>
      <prop><getetag/><A:addressbook-description xmlns:A="urn:ietf:params:xml:ns:carddav">x</A:addressbook-description></prop>
      <status>HTTP/1.1 404 Not Found</status>
    </propstat>
  </response>
  <D:response xmlns:D="DAV:">
    <D:href>http://127.0.0.1:5232/alice@example.org/work/a%20b.ics</D:href>
    <D:propstat><D:prop><D:getetag>"e1"</D:getetag><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  </D:response>
  <response xmlns="urn:other"><href>/not/dav</href></response>
</multistatus>"#;
        let ms = multistatus(body).unwrap();
        assert_eq!(ms.responses.len(), 2);
        let c = &ms.responses[0];
        assert_eq!(c.href, "/alice@example.org/work/");
        assert!(c.props.is_collection && c.props.is_calendar && !c.props.is_addressbook);
        assert_eq!(c.props.display_name.as_deref(), Some("Work & Play"));
        assert_eq!(
            c.props.components,
            Some(vec!["VEVENT".to_string(), "VTODO".to_string()])
        );
        assert_eq!(c.props.ctag.as_deref(), Some("\"ctag-1\""));
        assert_eq!(
            c.props.sync_token.as_deref(),
            Some("http://radicale.org/ns/sync/abc")
        );
        assert_eq!(c.props.color.as_deref(), Some("#FF0000FF"));
        // The 404 propstat's empty getetag did not count.
        assert_eq!(c.props.etag, None);
        let m = &ms.responses[1];
        assert_eq!(m.href, "/alice@example.org/work/a b.ics");
        assert_eq!(m.props.etag.as_deref(), Some("\"e1\""));
        assert!(!m.props.is_collection);
    }

    #[test]
    fn sync_collection_with_removals_and_truncation() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:">
  <d:response>
    <d:href>/u/cal/new.ics</d:href>
    <d:propstat><d:prop><d:getetag>"n1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  </d:response>
  <d:response>
    <d:href>/u/cal/gone.ics</d:href>
    <d:status>HTTP/1.1 404 Not Found</d:status>
  </d:response>
  <d:response>
    <d:href>/u/cal/</d:href>
    <d:status>HTTP/1.1 507 Insufficient Storage</d:status>
    <d:error><d:number-of-matches-within-limits/></d:error>
  </d:response>
  <d:sync-token>http://example.org/sync/2</d:sync-token>
</d:multistatus>"#;
        let ms = multistatus(body).unwrap();
        assert_eq!(ms.sync_token.as_deref(), Some("http://example.org/sync/2"));
        assert_eq!(ms.responses.len(), 3);
        assert_eq!(ms.responses[0].status, None);
        assert_eq!(ms.responses[0].props.etag.as_deref(), Some("\"n1\""));
        assert_eq!(ms.responses[1].href, "/u/cal/gone.ics");
        assert_eq!(ms.responses[1].status, Some(404));
        assert_eq!(ms.responses[2].status, Some(507));
    }

    #[test]
    fn discovery_answers() {
        let principal = br#"<multistatus xmlns="DAV:"><response><href>/</href><propstat><prop>
            <current-user-principal><href>/alice%40example.org/</href></current-user-principal>
            </prop><status>HTTP/1.1 200 OK</status></propstat>
            <propstat><prop><C:calendar-home-set xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop>
            <status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;
        let ms = multistatus(principal).unwrap();
        let p = &ms.responses[0].props;
        assert_eq!(
            p.current_user_principal.as_deref(),
            Some("/alice@example.org/")
        );
        assert!(p.calendar_home_set.is_empty());

        let homes = br#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/p/alice/</D:href>
            <D:propstat><D:prop>
            <C:calendar-home-set xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>https://dav.example.org/cal/alice</D:href></C:calendar-home-set>
            <A:addressbook-home-set xmlns:A="urn:ietf:params:xml:ns:carddav"><D:href>/card/alice/</D:href><D:href>/card/shared/</D:href></A:addressbook-home-set>
            </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
        let ms = multistatus(homes).unwrap();
        let p = &ms.responses[0].props;
        assert_eq!(p.calendar_home_set, vec!["/cal/alice/".to_string()]);
        assert_eq!(
            p.addressbook_home_set,
            vec!["/card/alice/".to_string(), "/card/shared/".to_string()]
        );
    }

    #[test]
    fn object_data_keeps_crlf_and_resolves_references() {
        // Raw CRLF, an escaped CR and entities: the data comes out as the server meant it.
        let body = b"<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:response><d:href>/u/c/1.ics</d:href><d:propstat><d:prop><d:getetag>\"x\"</d:getetag><c:calendar-data>BEGIN:VCALENDAR\r\nSUMMARY:a &lt;b&gt; &amp; c&#13;\nX:&#x4E2D;\r\nEND:VCALENDAR\r\n</c:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>";
        let ms = multistatus(body).unwrap();
        assert_eq!(
            ms.responses[0].props.calendar_data.as_deref(),
            Some("BEGIN:VCALENDAR\r\nSUMMARY:a <b> & c\r\nX:\u{4E2D}\r\nEND:VCALENDAR\r\n")
        );
        let cdata = b"<d:multistatus xmlns:d=\"DAV:\" xmlns:a=\"urn:ietf:params:xml:ns:carddav\"><d:response><d:href>/u/b/1.vcf</d:href><d:propstat><d:prop><a:address-data><![CDATA[BEGIN:VCARD\r\nFN:<x>\r\nEND:VCARD\r\n]]></a:address-data></d:prop></d:propstat></d:response></d:multistatus>";
        let ms = multistatus(cdata).unwrap();
        assert_eq!(
            ms.responses[0].props.address_data.as_deref(),
            Some("BEGIN:VCARD\r\nFN:<x>\r\nEND:VCARD\r\n")
        );
    }

    #[test]
    fn rejects_what_is_not_a_multistatus() {
        assert!(multistatus(b"").is_err());
        assert!(multistatus(b"<html><body>hi</body></html>").is_err());
        assert!(multistatus(b"<d:multistatus xmlns:d=\"DAV:\"><d:response>").is_err());
        // Undeclared entities are not well-formed.
        assert!(multistatus(b"<d:multistatus xmlns:d=\"DAV:\">&bogus;</d:multistatus>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn errors_and_proppatch_results() {
        assert!(error_names(
            b"<?xml version='1.0'?><error xmlns=\"DAV:\"><valid-sync-token /></error>",
            DAV,
            "valid-sync-token"
        ));
        assert!(!error_names(
            b"<error xmlns=\"DAV:\"><other/></error>",
            DAV,
            "valid-sync-token"
        ));
        assert!(!error_names(b"not xml <", DAV, "valid-sync-token"));
        let ok = b"<multistatus xmlns=\"DAV:\"><response><href>/c/</href><propstat><prop><displayname/></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
        assert_eq!(failed_propstat(ok).unwrap(), None);
        let refused = b"<multistatus xmlns=\"DAV:\"><response><href>/c/</href><propstat><prop><displayname/></prop><status>HTTP/1.1 403 Forbidden</status></propstat></response></multistatus>";
        assert_eq!(failed_propstat(refused).unwrap(), Some(403));
    }

    #[test]
    fn request_bodies_are_escaped_and_parse() {
        let b = mkcalendar("A <b> & \"c\"", &["VEVENT"]);
        let root = parse(b.as_bytes()).unwrap();
        assert!(root.is(CALDAV, "mkcalendar"));
        let prop = root.child(DAV, "set").unwrap().child(DAV, "prop").unwrap();
        assert_eq!(
            prop.child(DAV, "displayname").unwrap().text,
            "A <b> & \"c\""
        );
        let q = calendar_query("VEVENT", "20240101T000000Z", None);
        assert!(!q.contains("end="));
        let root = parse(q.as_bytes()).unwrap();
        assert!(root.is(CALDAV, "calendar-query"));
        let m = multiget(false, &["/u/b/a%20b.vcf".into()]);
        let root = parse(m.as_bytes()).unwrap();
        assert!(root.is(CARDDAV, "addressbook-multiget"));
        assert_eq!(root.child(DAV, "href").unwrap().text, "/u/b/a%20b.vcf");
        let s = sync_collection("tok<&>");
        let root = parse(s.as_bytes()).unwrap();
        assert_eq!(root.child(DAV, "sync-token").unwrap().text, "tok<&>");
    }
}
