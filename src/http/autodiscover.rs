//! Autodiscover for mobile clients (MS-ASCMD 2.2.1.1, the `mobilesync` schemas): a
//! phone given only an e-mail address and a password learns the ActiveSync URL here.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::app::App;
use crate::error::Error;

pub const MOBILESYNC_RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";
const RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

/// What an Autodiscover request asks.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AutodiscoverRequest {
    pub email: String,
    pub schema: String,
}

/// Reads EMailAddress and AcceptableResponseSchema, whatever namespace prefixes are used.
pub fn parse_request(xml: &[u8]) -> Option<AutodiscoverRequest> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut current = Vec::new();
    let mut req = AutodiscoverRequest::default();
    let mut depth = 0usize;
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                depth += 1;
                if depth > 32 {
                    return None;
                }
                current = e.local_name().as_ref().to_vec();
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current.clear();
            }
            Event::Text(t) => {
                let text = t.decode().ok()?.trim().to_string();
                match current.as_slice() {
                    b"EMailAddress" => req.email = text,
                    b"AcceptableResponseSchema" => req.schema = text,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    (!req.email.is_empty()).then_some(req)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The mobilesync answer: where the ActiveSync endpoint is.
pub fn success_response(email: &str, display_name: &str, base_url: &str) -> String {
    let url = format!(
        "{}/Microsoft-Server-ActiveSync",
        base_url.trim_end_matches('/')
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<Autodiscover xmlns=\"{RESPONSE_SCHEMA}\">\n\
  <Response xmlns=\"{MOBILESYNC_RESPONSE_SCHEMA}\">\n\
    <Culture>en:us</Culture>\n\
    <User>\n      <DisplayName>{name}</DisplayName>\n      <EMailAddress>{email}</EMailAddress>\n    </User>\n\
    <Action>\n      <Settings>\n        <Server>\n          <Type>MobileSync</Type>\n\
          <Url>{url}</Url>\n          <Name>{url}</Name>\n        </Server>\n      </Settings>\n    </Action>\n\
  </Response>\n\
</Autodiscover>\n",
        name = escape(display_name),
        email = escape(email),
        url = escape(&url),
    )
}

/// The error answer for a schema we do not serve (e.g. Outlook's own schema):
/// ErrorCode 600 "Invalid Request" / 601 "Provider not available".
pub fn error_response(code: u16, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<Autodiscover xmlns=\"{RESPONSE_SCHEMA}\">\n\
  <Response>\n    <Error>\n      <ErrorCode>{code}</ErrorCode>\n      <Message>{}</Message>\n\
      <DebugData />\n    </Error>\n  </Response>\n\
</Autodiscover>\n",
        escape(message)
    )
}

/// POST (or GET) /autodiscover/autodiscover.xml, any case. Authenticated like every
/// other request, so that an address that is not an account learns nothing.
pub async fn handle(app: &App, client: IpAddr, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match app.auth.authenticate(authorization, client).await {
        Ok(p) => p,
        Err(e) => return super::error_response(Error::Auth(e).reply(None, None)),
    };
    let raw = match super::body::read(&parts.headers, body, 64 * 1024).await {
        Ok(raw) => raw,
        Err(e) => return super::error_response(e.reply(None, None)),
    };
    let request = parse_request(&raw);
    let xml = match &request {
        Some(r) if r.schema.is_empty() || r.schema == MOBILESYNC_RESPONSE_SCHEMA => {
            let base = match &app.settings.server.public_url {
                Some(url) => url.clone(),
                None => {
                    let host = parts
                        .headers
                        .get(header::HOST)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("localhost");
                    format!("https://{host}")
                }
            };
            success_response(&r.email, &principal.login, &base)
        }
        Some(_) => error_response(601, "Provider is not available"),
        None => error_response(600, "Invalid Request"),
    };
    tracing::info!(
        target: "airsync",
        user = %principal.login,
        command = "Autodiscover",
        ok = request.is_some(),
        "request"
    );
    let mut response = (StatusCode::OK, Body::from(xml)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_captured_requests() {
        let dir = format!(
            "{}/../shared/fixtures/eas/syncgw-traces",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut n = 0;
        for trace in ["810", "812", "813"] {
            for f in std::fs::read_dir(format!("{dir}/{trace}")).expect("fixtures missing") {
                let p = f.unwrap().path();
                if p.to_string_lossy().ends_with("Autodiscover.req.xml") {
                    let req = parse_request(&std::fs::read(&p).unwrap()).expect("parse");
                    assert!(req.email.contains('@'), "{p:?}");
                    assert!(
                        req.schema
                            .starts_with("http://schemas.microsoft.com/exchange/autodiscover/")
                    );
                    n += 1;
                }
            }
        }
        assert!(n >= 2);
    }

    #[test]
    fn response_names_the_endpoint() {
        let xml = success_response("a@b.c", "A <B>", "https://mail.example.org/");
        assert!(xml.contains("<Url>https://mail.example.org/Microsoft-Server-ActiveSync</Url>"));
        assert!(xml.contains("A &lt;B&gt;"));
        assert!(parse_request(b"<not xml").is_none());
    }
}
