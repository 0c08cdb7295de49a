//! The state behind a Sync key: what the device holds and what the upstream had when
//! the key was issued (design.md, "State model"). Immutable once stored; a request
//! with key N starts from snapshot N and produces snapshot N+1.
//!
//! Stored compactly: items sorted by key, delta-coded varints, about 15 bytes per item
//! (150 KB for a 10,000-message folder). Formats 1 and 2 were deflated as well, which
//! cost 1.5 ms per Sync request of such a folder (inflate + deflate, for 30% less
//! space); they still decode. Format 3 starts with [`RAW`], a byte no deflate stream
//! starts with, so the two are told apart before anything is inflated.

use std::collections::BTreeMap;
use std::io::Read;

/// One item: its copy on the device and its state upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Item {
    /// The visible-state signature of the copy the device holds; `None`: not on the device.
    pub device: Option<u32>,
    /// The item upstream now; `None`: gone upstream.
    pub upstream: Option<Upstream>,
    /// The device copy belongs to an earlier incarnation of the collection (IMAP
    /// UIDVALIDITY changed): it must be deleted before the new item may be added.
    pub stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    pub sig: u32,
    /// Sort and filter date (mail: INTERNALDATE), Unix seconds.
    pub date: i64,
}

/// The snapshot behind one Sync key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Where the upstream delta continues from (mail: "uidvalidity:highestmodseq").
    pub cursor: String,
    /// The FilterType the device synced with (0 = everything).
    pub filter_type: u8,
    /// When `cursor` was last brought up to date from the upstream (Unix seconds; 0:
    /// unknown). Lets a paging chain skip re-reading an upstream it read moments ago.
    pub refreshed: i64,
    /// Keyed by the item's number within the collection (mail: the UID).
    pub items: BTreeMap<u64, Item>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt sync snapshot")]
pub struct Corrupt;

/// Format 2 added `refreshed` (format 1 snapshots decode with 0); format 3 is format 2
/// not deflated.
const FORMAT: u8 = 3;

/// First byte of an uncompressed snapshot: a deflate block header with BTYPE 11, which
/// RFC 1951 §3.2.3 reserves (an error), so no deflated snapshot starts with it.
const RAW: u8 = 0xff;

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(16 + self.items.len() * 16);
        raw.push(RAW);
        raw.push(FORMAT);
        put_varint(&mut raw, self.cursor.len() as u64);
        raw.extend_from_slice(self.cursor.as_bytes());
        raw.push(self.filter_type);
        put_varint(&mut raw, zigzag(self.refreshed));
        put_varint(&mut raw, self.items.len() as u64);
        let mut previous = 0u64;
        for (key, item) in &self.items {
            put_varint(&mut raw, key - previous);
            previous = *key;
            let tag = u8::from(item.device.is_some())
                | u8::from(item.upstream.is_some()) << 1
                | u8::from(item.stale) << 2;
            raw.push(tag);
            if let Some(sig) = item.device {
                raw.extend_from_slice(&sig.to_le_bytes());
            }
            if let Some(up) = item.upstream {
                raw.extend_from_slice(&up.sig.to_le_bytes());
                put_varint(&mut raw, zigzag(up.date));
            }
        }
        raw
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, Corrupt> {
        let inflated;
        let raw = match bytes.split_first() {
            Some((&RAW, rest)) => rest,
            _ => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(bytes)
                    .take(256 * 1024 * 1024)
                    .read_to_end(&mut out)
                    .map_err(|_| Corrupt)?;
                inflated = out;
                &inflated[..]
            }
        };
        let mut r = Reader { raw, pos: 0 };
        let format = r.byte()?;
        // Formats 1 and 2 come deflated, format 3 after RAW.
        let deflated = bytes.first() != Some(&RAW);
        if !matches!((format, deflated), (1 | 2, true) | (FORMAT, false)) {
            return Err(Corrupt);
        }
        let cursor_len = r.varint()? as usize;
        let cursor = String::from_utf8(r.take(cursor_len)?.to_vec()).map_err(|_| Corrupt)?;
        let filter_type = r.byte()?;
        let refreshed = if format >= 2 {
            unzigzag(r.varint()?)
        } else {
            0
        };
        let count = r.varint()?;
        // Keys come in ascending order: collected first, the map is built in one pass
        // (BTreeMap's bulk load) instead of by 10,000 inserts. The count is untrusted.
        let mut items = Vec::with_capacity((count as usize).min(raw.len()));
        let mut key = 0u64;
        for _ in 0..count {
            key = key.checked_add(r.varint()?).ok_or(Corrupt)?;
            let tag = r.byte()?;
            let device = if tag & 1 != 0 { Some(r.u32()?) } else { None };
            let upstream = if tag & 2 != 0 {
                let sig = r.u32()?;
                Some(Upstream {
                    sig,
                    date: unzigzag(r.varint()?),
                })
            } else {
                None
            };
            items.push((
                key,
                Item {
                    device,
                    upstream,
                    stale: tag & 4 != 0,
                },
            ));
        }
        Ok(Snapshot {
            cursor,
            filter_type,
            refreshed,
            items: items.into_iter().collect(),
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self.pos.checked_add(n).ok_or(Corrupt)?;
        let s = self.raw.get(self.pos..end).ok_or(Corrupt)?;
        self.pos = end;
        Ok(s)
    }
    fn byte(&mut self) -> Result<u8, Corrupt> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Corrupt> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_and_size() {
        let mut s = Snapshot {
            cursor: "1700000000:98765".into(),
            filter_type: 3,
            refreshed: 1_700_000_123,
            items: BTreeMap::new(),
        };
        for uid in 1..=10_000u64 {
            s.items.insert(
                uid,
                Item {
                    device: (uid % 3 != 0).then_some(uid as u32 * 7),
                    upstream: (uid % 5 != 0).then_some(Upstream {
                        sig: uid as u32,
                        date: 1_700_000_000 + uid as i64 * 60,
                    }),
                    stale: uid == 77,
                },
            );
        }
        s.items.insert(
            u64::MAX,
            Item {
                device: None,
                upstream: Some(Upstream { sig: 0, date: -5 }),
                stale: false,
            },
        );
        let bytes = s.encode();
        assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
        assert_eq!(bytes[..2], [RAW, FORMAT]);
        assert_eq!(Snapshot::decode(&bytes).unwrap(), s);
        // The same content as format 2 wrote it (deflated) decodes to the same snapshot.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[&[2u8][..], &bytes[2..]].concat()).unwrap();
        assert_eq!(Snapshot::decode(&z.finish().unwrap()).unwrap(), s);
        // A deflated stream must not claim format 3, nor a raw one format 2.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&bytes[1..]).unwrap();
        assert_eq!(Snapshot::decode(&z.finish().unwrap()), Err(Corrupt));
        assert_eq!(
            Snapshot::decode(&[&[RAW, 2][..], &bytes[2..]].concat()),
            Err(Corrupt)
        );
    }

    #[test]
    fn format_1_snapshots_still_decode() {
        // Format 1 (before `refreshed`): cursor "t", FilterType 2, one item 5 with a
        // device signature 9 and no upstream.
        let raw = [1u8, 1, b't', 2, 1, 5, 1, 9, 0, 0, 0];
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&raw).unwrap();
        let s = Snapshot::decode(&z.finish().unwrap()).unwrap();
        assert_eq!((s.cursor.as_str(), s.filter_type, s.refreshed), ("t", 2, 0));
        assert_eq!(s.items[&5].device, Some(9));
        assert_eq!(s.items[&5].upstream, None);
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        assert_eq!(Snapshot::decode(b"nonsense"), Err(Corrupt));
        let good = Snapshot::default().encode();
        for n in 0..good.len() {
            let _ = Snapshot::decode(&good[..n]);
        }
    }
}
