//! ItemOperations (MS-ASCMD 2.2.1.10), typed, and the multipart response framing
//! (MS-ASCMD 2.2.2.9.1).

use crate::wbxml::pages::{AirSync as A, AirSyncBase as B, ItemOperations as I, Search as S};
use crate::wbxml::{Element, Tag};

use super::sync::BodyPreference;
use super::{EasError, require_root};

/// What a Fetch names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchTarget {
    Item {
        collection_id: String,
        server_id: String,
    },
    LongId(String),
    FileReference(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    pub body_preferences: Vec<BodyPreference>,
    pub mime_support: Option<u8>,
    /// Range "first-last" (bytes, inclusive) of a FileReference fetch.
    pub range: Option<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Fetch {
        store: String,
        target: Option<FetchTarget>,
        options: FetchOptions,
    },
    EmptyFolderContents {
        collection_id: String,
        delete_sub_folders: bool,
    },
    Move {
        conversation_id: Vec<u8>,
        dst_fld_id: String,
        move_always: bool,
    },
}

fn text(el: &Element, tag: Tag) -> Option<String> {
    el.child_text(tag).map(|s| s.trim().to_string())
}

fn parse_range(s: &str) -> Result<(u64, u64), EasError> {
    let bad = || EasError::Invalid(format!("bad Range {s:?}"));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

pub fn parse(root: &Element) -> Result<Vec<Operation>, EasError> {
    require_root(root, I::ItemOperations)?;
    let mut ops = Vec::new();
    for el in root.elements() {
        let op = if el.tag == I::Fetch {
            let target = match (
                text(el, A::ServerId),
                text(el, S::LongId),
                text(el, B::FileReference),
            ) {
                (Some(server_id), _, _) => Some(FetchTarget::Item {
                    collection_id: text(el, A::CollectionId).unwrap_or_default(),
                    server_id,
                }),
                (None, Some(long), _) => Some(FetchTarget::LongId(long)),
                (None, None, Some(f)) => Some(FetchTarget::FileReference(f)),
                _ => None,
            };
            let options = match el.first(I::Options) {
                Some(o) => FetchOptions {
                    body_preferences: BodyPreference::parse_all(o)?,
                    mime_support: text(o, A::MIMESupport).and_then(|s| s.parse().ok()),
                    range: text(o, I::Range).map(|r| parse_range(&r)).transpose()?,
                },
                None => FetchOptions {
                    body_preferences: vec![],
                    mime_support: None,
                    range: None,
                },
            };
            Operation::Fetch {
                store: text(el, I::Store).unwrap_or_default(),
                target,
                options,
            }
        } else if el.tag == I::EmptyFolderContents {
            Operation::EmptyFolderContents {
                collection_id: text(el, A::CollectionId)
                    .ok_or(EasError::Missing("CollectionId"))?,
                delete_sub_folders: el
                    .first(I::Options)
                    .is_some_and(|o| o.first(I::DeleteSubFolders).is_some()),
            }
        } else if el.tag == I::Move {
            Operation::Move {
                conversation_id: el
                    .first(I::ConversationId)
                    .and_then(|c| c.bytes())
                    .map(|b| b.into_owned())
                    .unwrap_or_default(),
                dst_fld_id: text(el, I::DstFldId).ok_or(EasError::Missing("DstFldId"))?,
                move_always: el
                    .first(I::Options)
                    .is_some_and(|o| o.first(I::MoveAlways).is_some()),
            }
        } else {
            return Err(EasError::Invalid("unknown ItemOperations operation".into()));
        };
        ops.push(op);
    }
    Ok(ops)
}

/// ItemOperations Status values (MS-ASCMD 2.2.3.177.8).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const PROTOCOL_ERROR: u16 = 2;
    pub const SERVER_ERROR: u16 = 3;
    pub const OBJECT_NOT_FOUND: u16 = 6;
    pub const BYTE_RANGE_INVALID: u16 = 8;
    pub const STORE_UNKNOWN: u16 = 9;
    pub const ATTACHMENT_INVALID: u16 = 15;
}

/// Frames a multipart response: part count, (offset, length) pairs, then the parts,
/// all integers 32-bit little-endian; part 0 is the WBXML document.
pub fn multipart(parts: &[&[u8]]) -> Vec<u8> {
    let header = 4 + 8 * parts.len();
    let total: usize = header + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(parts.len() as u32).to_le_bytes());
    let mut offset = header;
    for p in parts {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        offset += p.len();
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn captured_fetches_parse() {
        let base = format!(
            "{}/../shared/fixtures/eas/syncgw-traces",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut file_refs = 0;
        for trace in ["748", "806"] {
            for f in std::fs::read_dir(format!("{base}/{trace}")).unwrap() {
                let p = f.unwrap().path();
                if p.to_string_lossy().ends_with("ItemOperations.req.wbxml") {
                    let el = wbxml::decode(&std::fs::read(&p).unwrap(), &wbxml::Limits::default())
                        .unwrap();
                    for op in parse(&el).unwrap_or_else(|e| panic!("{p:?}: {e}")) {
                        if let Operation::Fetch {
                            target: Some(FetchTarget::FileReference(_)),
                            ..
                        } = op
                        {
                            file_refs += 1;
                        }
                    }
                }
            }
        }
        assert!(file_refs > 0);
        assert_eq!(parse_range("0-99"), Ok((0, 99)));
        assert!(parse_range("9-1").is_err());
    }

    #[test]
    fn multipart_framing() {
        let m = multipart(&[b"ab", b"cde"]);
        assert_eq!(&m[..4], &2u32.to_le_bytes());
        assert_eq!(&m[4..8], &20u32.to_le_bytes());
        assert_eq!(&m[8..12], &2u32.to_le_bytes());
        assert_eq!(&m[12..16], &22u32.to_le_bytes());
        assert_eq!(&m[20..], b"abcde");
    }
}
