//! The state behind a Sync key: what the device holds and what the upstream had when
//! the key was issued (design.md, "State model"). Immutable once stored; a request
//! with key N starts from snapshot N and produces snapshot N+1.
//!
//! Stored compactly: items sorted by key, delta-coded varints, about 15 bytes per item
//! (150 KB for a 10,000-message folder). Formats 1 and 2 were deflated as well, which
//! cost 1.5 ms per Sync request of such a folder (inflate + deflate, for 30% less
//! space); they still decode. Format 3 starts with [`RAW`], a byte no deflate stream
//! starts with, so the two are told apart before anything is inflated.
//!
//! Format 4 is a difference from the snapshot of an earlier key (its base): the items
//! that changed, and the [`checksum`] of the base's stored bytes. A window of 100
//! messages in a 10,000-message folder then stores 1.5 KB instead of 150 KB, and the
//! decoded base can be kept in memory between the windows of a chain (`mod.rs`): the
//! checksum makes sure a difference is applied to nothing but its own base. Format 5
//! writes an item that reached the device as it is upstream — most changes of a Sync
//! window — as one tag byte ([`SYNCED`]) instead of about fourteen: a difference grows
//! with every window until the next whole snapshot, and deleting the previous key's row
//! (its overflow pages) was the costliest statement of a window. Format 6 writes a run
//! of such items that follow each other in the base ([`SYNCED_RUN`]) as one entry: an
//! initial sync reaches the device in key order, so its difference stays a few bytes
//! instead of growing to two bytes per message (20 KB for 10,000), and each window's
//! key is written, read back and checksummed that much cheaper.

use std::collections::BTreeMap;
use std::io::Read;

use super::difference::{Difference, Entry};

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
/// A difference from a base snapshot (`encode_delta`), never deflated. Format 5 is
/// format 4 with [`SYNCED`] items, format 6 format 5 with [`SYNCED_RUN`]s; all decode.
const DELTA_FORMAT: u8 = 6;
const DELTA_FORMATS: [u8; 3] = [4, 5, DELTA_FORMAT];

/// First byte of an uncompressed snapshot: a deflate block header with BTYPE 11, which
/// RFC 1951 §3.2.3 reserves (an error), so no deflated snapshot starts with it.
const RAW: u8 = 0xff;

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut raw = self.header(FORMAT, 16 + self.items.len() * 16);
        put_varint(&mut raw, self.items.len() as u64);
        let mut previous = 0u64;
        for (key, item) in &self.items {
            put_varint(&mut raw, key - previous);
            previous = *key;
            put_item(&mut raw, Some(item));
        }
        raw
    }

    /// This snapshot as its difference from `base`, whose stored bytes have the
    /// [`checksum`] `base_sum`: the items that are new, changed or gone. Decoded with
    /// [`Snapshot::decode_delta`] on that same base, which [`Snapshot::delta_base_sum`]
    /// names.
    #[cfg(test)]
    pub fn encode_delta(&self, base: &Snapshot, base_sum: u32) -> Vec<u8> {
        self.encode_difference(&Difference::between(base, self), base_sum)
    }

    /// This snapshot as `difference`, which must be its difference from the base whose
    /// stored bytes have the [`checksum`] `base_sum` (see [`Snapshot::encode_delta`]).
    pub fn encode_difference(&self, difference: &Difference, base_sum: u32) -> Vec<u8> {
        let entries = difference.entries();
        let mut raw = vec![RAW, DELTA_FORMAT];
        raw.extend_from_slice(&base_sum.to_le_bytes());
        raw.extend_from_slice(&self.header(DELTA_FORMAT, 16 + entries.len() * 4)[2..]);
        put_varint(&mut raw, entries.len() as u64);
        let mut previous = 0u64;
        for entry in entries {
            put_varint(&mut raw, entry.first() - previous);
            previous = entry.last();
            match *entry {
                Entry::Synced { count: 1, .. } => raw.push(SYNCED),
                Entry::Synced { first, last, count } => {
                    raw.push(SYNCED_RUN);
                    put_varint(&mut raw, count);
                    put_varint(&mut raw, last - first);
                }
                Entry::Item(_, ref item) => put_item(&mut raw, Some(item)),
                Entry::Removed(_) => put_item(&mut raw, None),
            }
        }
        raw
    }

    /// The checksum of the base a difference was made from; `None` for anything else.
    pub fn delta_base_sum(bytes: &[u8]) -> Option<u32> {
        let sum = delta_body(bytes)?.1.get(..4)?;
        Some(u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]))
    }

    /// The snapshot `bytes` (from [`Snapshot::encode_delta`]) describe on `base`; the
    /// caller has checked that `base` is the one named by [`Snapshot::delta_base_sum`].
    pub fn decode_delta(bytes: &[u8], mut base: Snapshot) -> Result<Snapshot, Corrupt> {
        let (format, raw) = delta_body(bytes).ok_or(Corrupt)?;
        let mut r = Reader { raw, pos: 0 };
        r.take(4)?;
        let (cursor, filter_type, refreshed) = r.header(format)?;
        let count = r.varint()?;
        let mut key = 0u64;
        for _ in 0..count {
            key = key.checked_add(r.varint()?).ok_or(Corrupt)?;
            if format >= 5 && r.raw.get(r.pos) == Some(&SYNCED) {
                r.pos += 1;
                let item = base.items.get_mut(&key).ok_or(Corrupt)?;
                if item.upstream.is_none() {
                    return Err(Corrupt);
                }
                *item = synced(item);
                continue;
            }
            if format >= 6 && r.raw.get(r.pos) == Some(&SYNCED_RUN) {
                r.pos += 1;
                // This key and the base's next ones, `run` in all, the last at `last`.
                let run = r.varint()?;
                let last = key.checked_add(r.varint()?).ok_or(Corrupt)?;
                let mut items = base.items.range_mut(key..=last);
                for i in 0..run {
                    let (&k, item) = items.next().ok_or(Corrupt)?;
                    if (i == 0 && k != key) || item.upstream.is_none() {
                        return Err(Corrupt);
                    }
                    *item = synced(item);
                    key = k;
                }
                // Not the very items the run was made of: some other base.
                if run < 2 || key != last || items.next().is_some() {
                    return Err(Corrupt);
                }
                continue;
            }
            match r.item()? {
                Some(item) => base.items.insert(key, item),
                None => base.items.remove(&key),
            };
        }
        Ok(Snapshot {
            cursor,
            filter_type,
            refreshed,
            items: base.items,
        })
    }

    /// RAW, the format byte, cursor, FilterType and `refreshed`.
    fn header(&self, format: u8, capacity: usize) -> Vec<u8> {
        let mut raw = Vec::with_capacity(capacity);
        raw.push(RAW);
        raw.push(format);
        put_varint(&mut raw, self.cursor.len() as u64);
        raw.extend_from_slice(self.cursor.as_bytes());
        raw.push(self.filter_type);
        put_varint(&mut raw, zigzag(self.refreshed));
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
        let (cursor, filter_type, refreshed) = r.header(format)?;
        let count = r.varint()?;
        // Keys come in ascending order: collected first, the map is built in one pass
        // (BTreeMap's bulk load) instead of by 10,000 inserts. The count is untrusted.
        let mut items = Vec::with_capacity((count as usize).min(raw.len()));
        let mut key = 0u64;
        for _ in 0..count {
            key = key.checked_add(r.varint()?).ok_or(Corrupt)?;
            items.push((key, r.item()?.ok_or(Corrupt)?));
        }
        Ok(Snapshot {
            cursor,
            filter_type,
            refreshed,
            items: items.into_iter().collect(),
        })
    }
}

/// The format and what follows it, for a difference in any format that decodes.
fn delta_body(bytes: &[u8]) -> Option<(u8, &[u8])> {
    match bytes {
        [RAW, format, rest @ ..] if DELTA_FORMATS.contains(format) => Some((*format, rest)),
        _ => None,
    }
}

/// `item` once its upstream state reached the device: what a Sync's Add or Change makes
/// of it, and what a [`SYNCED`] tag in a difference says of its base item.
pub(super) fn synced(item: &Item) -> Item {
    Item {
        device: item.upstream.map(|u| u.sig),
        upstream: item.upstream,
        stale: false,
    }
}

/// What a difference records of its base's stored bytes (CRC-32): a difference is
/// only ever applied to the very base it was made from, however that base was read.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Tag bits of an item: on the device, upstream, stale; in a delta, REMOVED alone says
/// the item is gone.
const ON_DEVICE: u8 = 1;
const UPSTREAM: u8 = 2;
const STALE: u8 = 4;
const REMOVED: u8 = 8;
/// In a format-5 difference, alone: the base's item, now on the device as it is
/// upstream ([`synced`]).
const SYNCED: u8 = 16;
/// In a format-6 difference, followed by a count n ≥ 2 and the distance to the last
/// key: this key's base item and the base's next n − 1 items, the last of them at that
/// key, are [`SYNCED`]. The next entry's key follows that last one.
const SYNCED_RUN: u8 = 32;

fn put_item(raw: &mut Vec<u8>, item: Option<&Item>) {
    let Some(item) = item else {
        raw.push(REMOVED);
        return;
    };
    let tag = if item.device.is_some() { ON_DEVICE } else { 0 }
        | if item.upstream.is_some() { UPSTREAM } else { 0 }
        | if item.stale { STALE } else { 0 };
    raw.push(tag);
    if let Some(sig) = item.device {
        raw.extend_from_slice(&sig.to_le_bytes());
    }
    if let Some(up) = item.upstream {
        raw.extend_from_slice(&up.sig.to_le_bytes());
        put_varint(raw, zigzag(up.date));
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
    /// What [`Snapshot::header`] wrote (the format byte already read). Format 1 has no
    /// `refreshed`.
    fn header(&mut self, format: u8) -> Result<(String, u8, i64), Corrupt> {
        let cursor_len = self.varint()? as usize;
        let cursor = String::from_utf8(self.take(cursor_len)?.to_vec()).map_err(|_| Corrupt)?;
        let filter_type = self.byte()?;
        let refreshed = if format >= 2 {
            unzigzag(self.varint()?)
        } else {
            0
        };
        Ok((cursor, filter_type, refreshed))
    }

    /// What [`put_item`] wrote; `None` for a removal.
    fn item(&mut self) -> Result<Option<Item>, Corrupt> {
        let tag = self.byte()?;
        if tag == REMOVED {
            return Ok(None);
        }
        if tag & !(ON_DEVICE | UPSTREAM | STALE) != 0 {
            return Err(Corrupt);
        }
        let device = if tag & ON_DEVICE != 0 {
            Some(self.u32()?)
        } else {
            None
        };
        let upstream = if tag & UPSTREAM != 0 {
            let sig = self.u32()?;
            Some(Upstream {
                sig,
                date: unzigzag(self.varint()?),
            })
        } else {
            None
        };
        Ok(Some(Item {
            device,
            upstream,
            stale: tag & STALE != 0,
        }))
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

    fn item(device: Option<u32>, sig: Option<u32>) -> Item {
        Item {
            device,
            upstream: sig.map(|sig| Upstream {
                sig,
                date: 1_700_000_000,
            }),
            stale: false,
        }
    }

    #[test]
    fn a_delta_holds_only_what_changed_and_rebuilds_the_snapshot() {
        let mut base = Snapshot {
            cursor: "7:100".into(),
            filter_type: 0,
            refreshed: 5,
            items: (1..=10_000u64).map(|k| (k, item(None, Some(1)))).collect(),
        };
        base.items.insert(20_000, item(Some(3), None));
        let mut next = base.clone();
        next.cursor = "7:123".into();
        next.refreshed = 9;
        for k in 1..=100 {
            next.items.get_mut(&k).unwrap().device = Some(1);
        }
        next.items.remove(&500);
        next.items.remove(&20_000);
        next.items.insert(10_001, item(None, Some(2)));
        next.items.get_mut(&9_999).unwrap().stale = true;

        let delta = next.encode_delta(&base, 77);
        assert_eq!(delta[..2], [RAW, DELTA_FORMAT]);
        assert_eq!(Snapshot::delta_base_sum(&delta), Some(77));
        assert_eq!(Snapshot::delta_base_sum(&base.encode()), None);
        // The 100 items that reached the device, next to each other in the base, are
        // one run.
        assert!(delta.len() < 60, "{} bytes for 104 changes", delta.len());
        assert_eq!(Snapshot::decode_delta(&delta, base.clone()).unwrap(), next);
        // A SYNCED item needs its base item, upstream.
        let mut other = base.clone();
        other.items.remove(&7);
        assert_eq!(Snapshot::decode_delta(&delta, other), Err(Corrupt));
        // Format 4 (every item written out) still decodes.
        let mut v4 = vec![RAW, 4];
        v4.extend_from_slice(&77u32.to_le_bytes());
        v4.extend_from_slice(&next.header(4, 0)[2..]);
        let changed: Vec<(u64, Option<&Item>)> = (1..=100)
            .map(|k| (k, next.items.get(&k)))
            .chain([(500, None), (9_999, next.items.get(&9_999))])
            .chain([(10_001, next.items.get(&10_001)), (20_000, None)])
            .collect();
        put_varint(&mut v4, changed.len() as u64);
        let mut previous = 0;
        for (k, item) in changed {
            put_varint(&mut v4, k - previous);
            previous = k;
            put_item(&mut v4, item);
        }
        assert_eq!(Snapshot::delta_base_sum(&v4), Some(77));
        assert_eq!(Snapshot::decode_delta(&v4, base.clone()).unwrap(), next);
        // Format 5 (each SYNCED item on its own) too.
        let mut v5 = vec![RAW, 5];
        v5.extend_from_slice(&77u32.to_le_bytes());
        v5.extend_from_slice(&next.header(5, 0)[2..]);
        put_varint(&mut v5, 104);
        let mut previous = 0;
        for k in (1..=100).chain([500, 9_999, 10_001, 20_000]) {
            put_varint(&mut v5, k - previous);
            previous = k;
            match k {
                1..=100 => v5.push(SYNCED),
                _ => put_item(&mut v5, next.items.get(&k)),
            }
        }
        assert_eq!(Snapshot::decode_delta(&v5, base.clone()).unwrap(), next);
        // Nothing changed: the delta carries the header alone.
        let same = base.encode_delta(&base, 0);
        assert_eq!(Snapshot::decode_delta(&same, base.clone()).unwrap(), base);
        // A delta is no snapshot, and a snapshot no delta.
        assert_eq!(Snapshot::decode(&delta), Err(Corrupt));
        assert_eq!(
            Snapshot::decode_delta(&next.encode(), base.clone()),
            Err(Corrupt)
        );
        for n in 0..delta.len() {
            let _ = Snapshot::decode_delta(&delta[..n], base.clone());
        }
    }

    #[test]
    fn synced_runs_stop_where_the_base_has_an_item_that_did_not_change() {
        let base = Snapshot {
            items: (1..=200u64).map(|k| (k * 2, item(None, Some(1)))).collect(),
            ..Default::default()
        };
        let mut next = base.clone();
        // Two runs (2..=40 and 44..=60: 42 is left as it was) and a lone one (100).
        for k in (1..=20).chain(22..=30).chain([50]) {
            next.items.insert(k * 2, synced(&base.items[&(k * 2)]));
        }
        let delta = next.encode_delta(&base, 1);
        assert!(delta.len() < 40, "{} bytes", delta.len());
        assert_eq!(Snapshot::decode_delta(&delta, base.clone()).unwrap(), next);
        // On a base with an item more (5) or less (10) inside a run, it is corrupt (the
        // checksum keeps that from happening; the run checks its own span too).
        let mut more = base.clone();
        more.items.insert(5, item(None, Some(1)));
        let mut less = base.clone();
        less.items.remove(&10);
        for other in [more, less] {
            assert!(Snapshot::decode_delta(&delta, other).is_err());
        }
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
