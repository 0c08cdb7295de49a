//! Request and response bodies: size limits, gzip in both directions (MS-ASHTTP
//! 2.2.1.1.2.3, 2.2.2.1.2), and the WBXML decode of a request.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;

use crate::error::Error;
use crate::wbxml::{self, Element};

/// Responses smaller than this are not worth compressing.
const GZIP_MIN: usize = 512;

/// Reads the whole request body, gunzipping it when the client says so, and refuses
/// anything larger than `limit` bytes (before or after decompression).
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, Error> {
    let limited = http_body_util::Limited::new(body, limit);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Error::BodyTooLarge(limit));
        }
        Err(e) => return Err(Error::BadBody(e.to_string())),
    };
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    if !gzipped {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(&bytes[..]).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| Error::BadBody(format!("gzip: {e}")))?;
    if out.len() > limit {
        return Err(Error::BodyTooLarge(limit));
    }
    Ok(out)
}

/// Decodes a WBXML request body. Empty bodies (an empty Ping or Sync) are `None`; so
/// are bodies of other types (SendMail in 12.x posts `message/rfc822`).
pub fn decode_wbxml(headers: &HeaderMap, raw: &[u8]) -> Result<Option<Element>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Both application/vnd.ms-sync.wbxml and application/vnd.ms-sync carry WBXML;
    // some clients send no Content-Type at all.
    let is_wbxml = content_type.is_empty() || content_type.starts_with("application/vnd.ms-sync");
    if !is_wbxml {
        return Ok(None);
    }
    Ok(Some(wbxml::decode(raw, &wbxml::Limits::default())?))
}

/// Gzips a response body when the client accepts gzip and the body is large enough.
pub fn maybe_gzip(bytes: Vec<u8>, request_headers: &HeaderMap) -> (Vec<u8>, bool) {
    let accepts = request_headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().split(';').next() == Some("gzip"))
        });
    if !accepts || bytes.len() < GZIP_MIN {
        return (bytes, false);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if std::io::Write::write_all(&mut encoder, &bytes).is_err() {
        return (bytes, false);
    }
    match encoder.finish() {
        Ok(gz) => (gz, true),
        Err(_) => (bytes, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[tokio::test]
    async fn gzip_bomb_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        let bomb = gz(&vec![0u8; 10_000_000]);
        assert!(matches!(
            read(&h, Body::from(bomb), 1_000_000).await,
            Err(Error::BodyTooLarge(_))
        ));
        let ok = gz(b"hello");
        assert_eq!(read(&h, Body::from(ok), 1_000).await.unwrap(), b"hello");
        assert!(matches!(
            read(&h, Body::from(b"not gzip".to_vec()), 1_000).await,
            Err(Error::BadBody(_))
        ));
        assert!(matches!(
            read(&HeaderMap::new(), Body::from(vec![1u8; 2000]), 1_000).await,
            Err(Error::BodyTooLarge(_))
        ));
    }

    #[test]
    fn gzip_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!maybe_gzip(vec![0; 4096], &h).1);
        h.insert(
            header::ACCEPT_ENCODING,
            "deflate, gzip;q=1".parse().unwrap(),
        );
        let (out, z) = maybe_gzip(vec![0; 4096], &h);
        assert!(z && out.len() < 4096);
        assert!(!maybe_gzip(vec![0; 10], &h).1);
    }
}
