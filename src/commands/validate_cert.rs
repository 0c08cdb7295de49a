//! ValidateCert (MS-ASCMD 2.2.1.22): see `crate::certs`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::UnixTime;

use crate::certs::{self, status};
use crate::error::Error;
use crate::wbxml::Element;
use crate::wbxml::pages::ValidateCert as V;

use super::{Reply, RequestContext};

/// Most certificates one request may ask about.
const MAX_CERTS: usize = 50;

fn der_of(el: &Element) -> Option<Vec<u8>> {
    let text = el.text()?;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(clean)
        .ok()
        .or_else(|| el.bytes().map(|b| b.into_owned()))
}

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    crate::eas::require_root(&document, V::ValidateCert)?;
    let chain: Vec<Vec<u8>> = document
        .first(V::CertificateChain)
        .map(|c| c.all(V::Certificate).filter_map(der_of).collect())
        .unwrap_or_default();
    let certs: Vec<Option<Vec<u8>>> = document
        .first(V::Certificates)
        .map(|c| c.all(V::Certificate).map(der_of).collect())
        .unwrap_or_default();
    if certs.is_empty() || certs.len() > MAX_CERTS {
        return Ok(Reply::Wbxml(
            Element::new(V::ValidateCert).text_child(V::Status, status::PROTOCOL_ERROR.to_string()),
        ));
    }
    let anchors = certs::anchors(&ctx.app.settings.certificates);
    let now = UnixTime::now();
    let mut doc = Element::new(V::ValidateCert).text_child(V::Status, status::SUCCESS.to_string());
    for cert in certs {
        let code = match cert {
            Some(der) => certs::validate(&der, &chain, &anchors, now),
            None => status::PROTOCOL_ERROR,
        };
        doc.push(Element::new(V::Certificate).text_child(V::Status, code.to_string()));
    }
    Ok(Reply::Wbxml(doc))
}
