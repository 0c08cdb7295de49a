//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII except `&` stands for itself, `&` is written `&-`, and every other run
//! of characters is UTF-16BE, base64-encoded with `,` in place of `/`, without padding,
//! between `&` and `-`. Servers send names this way unless UTF8=ACCEPT was enabled, which
//! airsync never does.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A mailbox name that is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf7Error(&'static str);

impl fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid modified UTF-7: {}", self.0)
    }
}

impl std::error::Error for Utf7Error {}

/// Encodes a UTF-8 mailbox name to modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush_run(&mut run, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(ch.encode_utf16(&mut units));
        }
    }
    flush_run(&mut run, &mut out);
    out
}

/// Writes a pending run of UTF-16 units as `&base64-` and empties it.
fn flush_run(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // n bytes carry 8n bits: 2, 3 or 4 sextets, no padding.
        for i in 0..=n {
            out.push(ALPHABET[((v >> (18 - 6 * i)) & 0x3f) as usize] as char);
        }
    }
    out.push('-');
    run.clear();
}

/// Decodes a modified UTF-7 mailbox name to UTF-8.
pub fn decode(name: &str) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        match c {
            b'&' => {
                let end = tail
                    .iter()
                    .position(|&b| b == b'-')
                    .ok_or(Utf7Error("unterminated '&' sequence"))?;
                if end == 0 {
                    out.push('&');
                } else {
                    decode_run(&tail[..end], &mut out)?;
                }
                rest = &tail[end + 1..];
            }
            0x20..=0x7e => {
                out.push(c as char);
                rest = tail;
            }
            _ => return Err(Utf7Error("character outside printable US-ASCII")),
        }
    }
    Ok(out)
}

/// Decodes the base64 between `&` and `-` as UTF-16BE and appends it.
fn decode_run(b64: &[u8], out: &mut String) -> Result<(), Utf7Error> {
    let mut bytes = Vec::with_capacity(b64.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in b64 {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(Utf7Error("invalid base64 character"))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding and must be zero (RFC 2152 via RFC 3501).
    if acc != 0 || bytes.len() % 2 != 0 {
        return Err(Utf7Error("base64 run does not end on a UTF-16 unit"));
    }
    let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
    for ch in char::decode_utf16(units) {
        out.push(ch.map_err(|_| Utf7Error("unpaired UTF-16 surrogate"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_passes_through() {
        assert_eq!(encode("INBOX/Sent Items"), "INBOX/Sent Items");
        assert_eq!(decode("INBOX/Sent Items").unwrap(), "INBOX/Sent Items");
    }

    #[test]
    fn ampersand_is_escaped() {
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode("Tom &- Jerry").unwrap(), "Tom & Jerry");
    }

    #[test]
    fn rfc3501_example() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語"
        let utf8 = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        let utf7 = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode(utf8), utf7);
        assert_eq!(decode(utf7).unwrap(), utf8);
    }

    #[test]
    fn german_umlauts() {
        // As Dovecot and Thunderbird write it.
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("Entwürfe-Ärger"), "Entw&APw-rfe-&AMQ-rger");
        assert_eq!(decode("Entw&APw-rfe-&AMQ-rger").unwrap(), "Entwürfe-Ärger");
    }

    #[test]
    fn astral_plane_uses_surrogate_pairs() {
        let name = "Mail 📬";
        let enc = encode(name);
        assert_eq!(enc, "Mail &2D3c7A-");
        assert_eq!(decode(&enc).unwrap(), name);
    }

    #[test]
    fn round_trips_mixed_names() {
        for name in [
            "a",
            "ä",
            "äö",
            "äöü",
            "x&y/ä&ö",
            "日本語/Ünïcödé",
            "-&-",
            "",
        ] {
            assert_eq!(decode(&encode(name)).unwrap(), name, "{name}");
        }
    }

    #[test]
    fn rejects_malformed_input() {
        assert!(decode("&APw").is_err(), "unterminated");
        assert!(decode("&A*w-").is_err(), "bad alphabet");
        assert!(decode("&AP-").is_err(), "half a unit");
        assert!(decode("&2D0-").is_err(), "lone surrogate");
        assert!(decode("Entwürfe").is_err(), "raw 8-bit");
    }
}
