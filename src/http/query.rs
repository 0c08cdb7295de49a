//! The request line of an EAS request (MS-ASHTTP 2.2.1.1.1): either the plain query
//! string `Cmd=Sync&User=alice&DeviceId=…&DeviceType=…` or the base64-encoded binary
//! form of MS-ASHTTP 2.2.1.1.1.1, which Windows Mail uses. The two are told apart by
//! the absence of `Cmd=`.

use base64::Engine;

use crate::eas::{Command, ProtocolVersion};

/// What the request line says, whichever form it came in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestLine {
    pub command: Option<Command>,
    /// The command name as sent, for logs when it is not one we know.
    pub command_name: String,
    /// `User`: informational only; the Authorization header is what counts.
    pub user: Option<String>,
    pub device_id: String,
    pub device_type: String,
    /// Only the base64 form carries the version and the policy key in the line itself.
    pub version: Option<ProtocolVersion>,
    pub policy_key: Option<u32>,
    pub locale: Option<u16>,
    pub collection_id: Option<String>,
    pub item_id: Option<String>,
    pub long_id: Option<String>,
    pub occurrence: Option<String>,
    pub attachment_name: Option<String>,
    pub save_in_sent: bool,
    pub accept_multipart: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("the query string is neither a plain EAS query nor valid base64")]
    BadBase64,
    #[error("the base64 query is truncated")]
    Truncated,
    #[error("the query names no command")]
    NoCommand,
    #[error("DeviceId is missing or invalid")]
    BadDeviceId,
    #[error("DeviceType is missing or invalid")]
    BadDeviceType,
    #[error("the query has invalid percent-encoding")]
    BadEncoding,
}

/// Parses a query string (without the leading `?`).
pub fn parse(query: &str) -> Result<RequestLine, QueryError> {
    let is_plain = query
        .split('&')
        .any(|p| p.get(..4).is_some_and(|n| n.eq_ignore_ascii_case("cmd=")));
    let line = if is_plain {
        parse_plain(query)?
    } else {
        parse_base64(query)?
    };
    validate_device(&line)?;
    Ok(line)
}

fn parse_plain(query: &str) -> Result<RequestLine, QueryError> {
    let mut line = RequestLine::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)?;
        // MS-ASHTTP 2.2.1.1.1.2: parameter names are matched without regard to case.
        match name.to_ascii_lowercase().as_str() {
            "cmd" => {
                line.command = Command::from_name(&value);
                line.command_name = value;
            }
            "user" => line.user = Some(value),
            "deviceid" => line.device_id = value,
            "devicetype" => line.device_type = value,
            "collectionid" => line.collection_id = Some(value),
            "itemid" => line.item_id = Some(value),
            "longid" => line.long_id = Some(value),
            "occurrence" => line.occurrence = Some(value),
            "attachmentname" => line.attachment_name = Some(value),
            "saveinsent" => line.save_in_sent = value.eq_ignore_ascii_case("T"),
            // Unknown parameters are ignored (issue: "Ignore unknown query parameters").
            _ => {}
        }
    }
    if line.command_name.is_empty() {
        return Err(QueryError::NoCommand);
    }
    Ok(line)
}

/// MS-ASHTTP 2.2.1.1.1.1: version (1), command code (1), locale (2, little-endian),
/// DeviceId (length-prefixed), PolicyKey (length-prefixed, 0 or 4 bytes, little-endian),
/// DeviceType (length-prefixed), then command parameters as tag, length, value.
fn parse_base64(query: &str) -> Result<RequestLine, QueryError> {
    // '+' is a base64 digit here, not an encoded space.
    let text = percent_decode(&query.replace('+', "%2B"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim()))
        .map_err(|_| QueryError::BadBase64)?;
    let mut r = Reader {
        bytes: &bytes,
        pos: 0,
    };
    let version_byte = r.byte()?;
    let command_code = r.byte()?;
    let locale = u16::from_le_bytes([r.byte()?, r.byte()?]);
    let device_id = r.counted()?;
    let policy_key = match r.counted()? {
        [] => None,
        [a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => return Err(QueryError::Truncated),
    };
    let device_type = r.counted()?;
    let command = Command::from_code(command_code);
    let mut line = RequestLine {
        command,
        command_name: command
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| format!("#{command_code}")),
        version: ProtocolVersion::from_base64_byte(version_byte),
        policy_key,
        locale: Some(locale),
        device_id: render_device_id(device_id),
        device_type: String::from_utf8_lossy(device_type).into_owned(),
        ..RequestLine::default()
    };
    while !r.done() {
        let tag = r.byte()?;
        let value = r.counted()?;
        let text = || String::from_utf8_lossy(value).into_owned();
        // MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags.
        match tag {
            0 => line.attachment_name = Some(text()),
            1 => line.collection_id = Some(text()),
            3 => line.item_id = Some(text()),
            4 => line.long_id = Some(text()),
            6 => line.occurrence = Some(text()),
            7 => {
                let options = value.first().copied().unwrap_or(0);
                line.save_in_sent = options & 0x01 != 0;
                line.accept_multipart = options & 0x02 != 0;
            }
            8 => line.user = Some(text()),
            _ => {}
        }
    }
    Ok(line)
}

/// The one way a DeviceId from the base64 form is rendered everywhere (registry, logs,
/// admin, access rules): printable ASCII ids as they are, any other bytes as
/// uppercase hex. Windows Mail sends 16 raw bytes, so its id is 32 hex digits.
pub fn render_device_id(raw: &[u8]) -> String {
    if !raw.is_empty() && raw.iter().all(|b| b.is_ascii_alphanumeric()) {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        hex::encode_upper(raw)
    }
}

/// MS-ASHTTP 2.2.1.1.1.2.3: DeviceId is at most 32 alphanumeric characters; we accept
/// a little more (some clients send dashes or underscores) but nothing that could
/// confuse logs or paths.
fn validate_device(line: &RequestLine) -> Result<(), QueryError> {
    let ok = |s: &str, max| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    if !ok(&line.device_id, 64) {
        return Err(QueryError::BadDeviceId);
    }
    if !ok(&line.device_type, 64) {
        return Err(QueryError::BadDeviceType);
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, QueryError> {
        let b = *self.bytes.get(self.pos).ok_or(QueryError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }
    fn counted(&mut self) -> Result<&'a [u8], QueryError> {
        let len = self.byte()? as usize;
        let end = self.pos.checked_add(len).ok_or(QueryError::Truncated)?;
        let slice = self.bytes.get(self.pos..end).ok_or(QueryError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }
    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// Decodes `%XX` escapes and `+` (as space) in a query component.
fn percent_decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(QueryError::BadEncoding)?;
                let hex = std::str::from_utf8(hex).map_err(|_| QueryError::BadEncoding)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| QueryError::BadEncoding)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::BadEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_query_with_odd_case_and_unknown_parameters() {
        let l = parse(
            "Cmd=FolderSync&User=t1%40dev.fd&DeviceId=Nine45069EA34A52&DeviceType=Android&Foo=bar",
        )
        .unwrap();
        assert_eq!(l.command, Some(Command::FolderSync));
        assert_eq!(l.user.as_deref(), Some("t1@dev.fd"));
        assert_eq!(l.device_id, "Nine45069EA34A52");
        assert_eq!(l.device_type, "Android");
        let l = parse("cmd=Sync&deviceid=abc&devicetype=iPhone").unwrap();
        assert_eq!(l.command, Some(Command::Sync));
        let l = parse("Cmd=SendMail&DeviceId=a&DeviceType=b&SaveInSent=T").unwrap();
        assert!(l.save_in_sent);
    }

    /// Found by the request_line fuzz target: a multi-byte character across the
    /// fourth byte of a parameter panicked (slicing inside a character).
    #[test]
    fn non_ascii_parameter_is_no_panic() {
        let q = "Cmd\u{f2}olderSync&User=t1%40dev.fd&DeviceId=Nine90138EA34A52&DeviceType=Android";
        assert_eq!(parse(q), Err(QueryError::BadBase64));
        assert_eq!(parse("\u{f2}\u{f2}"), Err(QueryError::BadBase64));
    }

    #[test]
    fn unknown_command_is_kept_by_name() {
        let l = parse("Cmd=Frobnicate&DeviceId=a&DeviceType=b").unwrap();
        assert_eq!(l.command, None);
        assert_eq!(l.command_name, "Frobnicate");
    }

    #[test]
    fn missing_device_is_rejected() {
        assert_eq!(parse("Cmd=Sync&DeviceType=b"), Err(QueryError::BadDeviceId));
        assert_eq!(parse("Cmd=Sync&DeviceId=a"), Err(QueryError::BadDeviceType));
        assert_eq!(
            parse("Cmd=Sync&DeviceId=a/../b&DeviceType=x"),
            Err(QueryError::BadDeviceId)
        );
        assert_eq!(
            parse("Cmd=Sync&DeviceId=%zz&DeviceType=x"),
            Err(QueryError::BadEncoding)
        );
    }

    #[test]
    fn base64_garbage_is_an_error_not_a_panic() {
        assert_eq!(parse("!!!"), Err(QueryError::BadBase64));
        assert_eq!(parse("oRM="), Err(QueryError::Truncated));
        for n in 0..40 {
            let full = base64::engine::general_purpose::STANDARD
                .decode("oRMHBBA04HKKtWjKEFxAc0UHjCybBAAAAAALV2luZG93c01haWwHAQI=")
                .unwrap();
            let cut = &full[..n.min(full.len())];
            let q = base64::engine::general_purpose::STANDARD.encode(cut);
            let _ = parse(&q);
        }
    }

    #[test]
    fn plus_in_base64_is_a_digit() {
        // Policy key 0xfbffffff encodes with a '+' that must not become a space.
        let mut raw = vec![161, 9, 0x09, 0x04, 1, b'D', 4];
        raw.extend_from_slice(&0xfbef_beffu32.to_le_bytes());
        raw.extend_from_slice(&[1, b'T']);
        let q = base64::engine::general_purpose::STANDARD.encode(&raw);
        assert!(q.contains('+') || q.contains('/'), "{q}");
        assert_eq!(parse(&q).unwrap().policy_key, Some(0xfbef_beff));
    }

    #[test]
    fn base64_with_parameters() {
        // Version 14.1, Sync (0), locale 0x0409, DeviceId "dev1", policy key 7,
        // DeviceType "Phone", User "alice", CollectionId "5", Options SaveInSent.
        let mut raw = vec![141, 0, 0x09, 0x04, 4];
        raw.extend_from_slice(b"dev1");
        raw.extend_from_slice(&[4, 7, 0, 0, 0, 5]);
        raw.extend_from_slice(b"Phone");
        raw.extend_from_slice(&[8, 5]);
        raw.extend_from_slice(b"alice");
        raw.extend_from_slice(&[1, 1, b'5', 7, 1, 1]);
        let q = base64::engine::general_purpose::STANDARD.encode(&raw);
        let l = parse(&q).unwrap();
        assert_eq!(l.command, Some(Command::Sync));
        assert_eq!(l.version, Some(ProtocolVersion::V14_1));
        assert_eq!(l.policy_key, Some(7));
        assert_eq!(l.locale, Some(0x0409));
        assert_eq!(l.device_id, "dev1");
        assert_eq!(l.user.as_deref(), Some("alice"));
        assert_eq!(l.collection_id.as_deref(), Some("5"));
        assert!(l.save_in_sent && !l.accept_multipart);
    }
}
