//! A snapshot's difference from its base (`snapshot.rs`, format 6) as the entries it is
//! stored as, so that a paging chain can carry it from one window to the next.
//!
//! Finding the difference takes a walk over both snapshots: about 0.2 ms per window of
//! a 10,000-message initial sync, on the path of every answer. Within a chain, a window
//! changes only the items it sends, so [`Difference::update`] finds the next difference
//! from the previous one and those keys alone (a few lookups each). It gives exactly
//! the entries the walk ([`Difference::between`]) gives, which tests check.

use super::snapshot::{Item, Snapshot, synced};

/// The entries of a difference, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// New or changed: the item now.
    Item(u64, Item),
    /// Gone.
    Removed(u64),
    /// `count` items of the base next to each other, from `first` to `last`, each now on
    /// the device as it is upstream ([`synced`]).
    Synced { first: u64, last: u64, count: u64 },
}

impl Entry {
    pub(super) fn first(&self) -> u64 {
        match *self {
            Entry::Item(k, _) | Entry::Removed(k) | Entry::Synced { first: k, .. } => k,
        }
    }

    pub(super) fn last(&self) -> u64 {
        match *self {
            Entry::Item(k, _) | Entry::Removed(k) | Entry::Synced { last: k, .. } => k,
        }
    }
}

/// What the item `key` is now (`new`) against the base's (`old`): `None` when nothing
/// changed.
fn compare(key: u64, old: Option<&Item>, new: Option<&Item>) -> Option<Entry> {
    match (old, new) {
        (Some(old), Some(new)) if old == new => None,
        // Most changes of a Sync window: the item reached the device as it is upstream.
        (Some(old), Some(new)) if new.upstream.is_some() && *new == synced(old) => {
            Some(Entry::Synced {
                first: key,
                last: key,
                count: 1,
            })
        }
        (_, Some(new)) => Some(Entry::Item(key, *new)),
        (Some(_), None) => Some(Entry::Removed(key)),
        (None, None) => None,
    }
}

impl Difference {
    /// The difference of `snap` from `base`, by one walk over both.
    pub fn between(base: &Snapshot, snap: &Snapshot) -> Difference {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let mut entries: Vec<Entry> = Vec::new();
        // The base position of the last SYNCED item, while the last entry is a run.
        let mut run_at: Option<usize> = None;
        let (mut old, mut new) = (
            base.items.iter().enumerate().peekable(),
            snap.items.iter().peekable(),
        );
        let mut push = |entries: &mut Vec<Entry>, entry: Entry, at: Option<usize>| {
            if let (Entry::Synced { first: key, .. }, Some(at)) = (entry, at)
                && let Some(Entry::Synced { last, count, .. }) = entries.last_mut()
                && run_at.is_some_and(|r| r + 1 == at)
            {
                *last = key;
                *count += 1;
                run_at = Some(at);
                return;
            }
            run_at = at.filter(|_| matches!(entry, Entry::Synced { .. }));
            entries.push(entry);
        };
        loop {
            // The next key of either, what each holds of it, and its base position.
            let (key, o, n, at) = match (old.peek().copied(), new.peek().copied()) {
                (None, None) => break,
                (Some((at, (&k, o))), None) => (k, Some(o), None, Some(at)),
                (None, Some((&k, n))) => (k, None, Some(n), None),
                (Some((at, (&ko, o))), Some((&kn, n))) => match ko.cmp(&kn) {
                    Less => (ko, Some(o), None, Some(at)),
                    Greater => (kn, None, Some(n), None),
                    Equal => (kn, Some(o), Some(n), Some(at)),
                },
            };
            if o.is_some() {
                old.next();
            }
            if n.is_some() {
                new.next();
            }
            if let Some(entry) = compare(key, o, n) {
                push(&mut entries, entry, at);
            }
        }
        Difference { entries }
    }

    /// This difference (of an earlier `snap` from `base`) brought up to date for `snap`
    /// now, which differs from that earlier one at most in `touched` keys.
    pub fn update(&mut self, base: &Snapshot, snap: &Snapshot, touched: &[u64]) {
        for &key in touched {
            let at = self.forget(base, key);
            match compare(key, base.items.get(&key), snap.items.get(&key)) {
                Some(entry) => {
                    self.entries.insert(at, entry);
                    // A SYNCED item joins the runs beside it.
                    self.join(base, at);
                    if at > 0 {
                        self.join(base, at - 1);
                    }
                }
                None if at > 0 => {
                    // The runs on either side may now be next to each other.
                    self.join(base, at - 1);
                }
                None => {}
            }
        }
    }

    /// Takes `key` out of the entries (splitting a run that spans it) and returns where
    /// an entry for it goes.
    fn forget(&mut self, base: &Snapshot, key: u64) -> usize {
        let at = self.entries.partition_point(|e| e.first() <= key);
        let Some(i) = at.checked_sub(1) else {
            return 0;
        };
        let entry = self.entries[i];
        if entry.last() < key {
            return at;
        }
        if let Entry::Synced { first, last, .. } = entry
            && first != last
        {
            // The base items on either side of `key` stay runs (or single SYNCED items).
            let part = |range: std::ops::RangeInclusive<u64>| {
                let mut keys = base.items.range(range).map(|(&k, _)| k);
                let first = keys.next()?;
                let (count, last) = keys.fold((1, first), |(n, _), k| (n + 1, k));
                Some(Entry::Synced { first, last, count })
            };
            let left = (key > first).then(|| part(first..=key - 1)).flatten();
            let right = (key < last).then(|| part(key + 1..=last)).flatten();
            self.entries.splice(i..=i, left.into_iter().chain(right));
            return i + usize::from(left.is_some());
        }
        self.entries.remove(i);
        i
    }

    /// Makes the entries at `i` and `i + 1` one run when both are SYNCED items next to
    /// each other in the base.
    fn join(&mut self, base: &Snapshot, i: usize) {
        let (
            Some(&Entry::Synced { first, last, count }),
            Some(&Entry::Synced {
                first: next_first,
                last: next_last,
                count: next_count,
            }),
        ) = (self.entries.get(i), self.entries.get(i + 1))
        else {
            return;
        };
        let neighbours = base
            .items
            .range(last.saturating_add(1)..)
            .next()
            .is_some_and(|(&k, _)| k == next_first);
        if neighbours {
            self.entries[i] = Entry::Synced {
                first,
                last: next_last,
                count: count + next_count,
            };
            self.entries.remove(i + 1);
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::Upstream;
    use super::*;

    fn item(device: Option<u32>, sig: u32) -> Item {
        Item {
            device,
            upstream: Some(Upstream {
                sig,
                date: 1_700_000_000 + i64::from(sig),
            }),
            stale: false,
        }
    }

    /// A little deterministic generator (xorshift), so that failures repeat.
    struct Dice(u64);
    impl Dice {
        fn roll(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn a_window_of_a_paging_chain_joins_the_run_before_it() {
        let base = Snapshot {
            items: (1..=1000u64).map(|k| (k, item(None, k as u32))).collect(),
            ..Default::default()
        };
        let mut snap = base.clone();
        let mut diff = Difference::between(&base, &snap);
        assert!(diff.entries().is_empty());
        // Windows of 100, newest first, as an initial sync sends them.
        for window in (0..10u64).rev() {
            let keys: Vec<u64> = (window * 100 + 1..=window * 100 + 100).rev().collect();
            for k in &keys {
                let i = snap.items.get_mut(k).unwrap();
                *i = synced(i);
            }
            diff.update(&base, &snap, &keys);
            assert_eq!(diff, Difference::between(&base, &snap));
            assert_eq!(
                diff.entries(),
                [Entry::Synced {
                    first: window * 100 + 1,
                    last: 1000,
                    count: 1000 - window * 100
                }]
            );
        }
    }

    #[test]
    fn updates_give_the_entries_the_walk_gives() {
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            // Keys with gaps, so that new keys can fall between the base's.
            let mut base = Snapshot::default();
            for k in 1..=60u64 {
                // Not on the device, on it as upstream, or on it in another state.
                let device = [None, Some(1), Some(5)][dice.roll(3) as usize];
                if dice.roll(4) != 0 {
                    base.items.insert(k * 2, item(device, 1));
                }
            }
            let mut snap = base.clone();
            let mut diff = Difference::between(&base, &snap);
            for _ in 0..8 {
                let mut touched = Vec::new();
                for _ in 0..dice.roll(12) {
                    let key = 1 + dice.roll(125);
                    touched.push(key);
                    match dice.roll(6) {
                        // Sent to the device, as a window does (most changes).
                        0..=2 => {
                            if let Some(i) = snap.items.get_mut(&key) {
                                *i = synced(i);
                            }
                        }
                        3 => {
                            snap.items.remove(&key);
                        }
                        4 => {
                            snap.items.insert(key, item(None, 7));
                        }
                        // Back as the base has it.
                        _ => match base.items.get(&key) {
                            Some(i) => {
                                snap.items.insert(key, *i);
                            }
                            None => {
                                snap.items.remove(&key);
                            }
                        },
                    }
                }
                // Touched keys may repeat and come in any order.
                touched.extend(touched.clone().iter().rev());
                diff.update(&base, &snap, &touched);
                assert_eq!(
                    diff,
                    Difference::between(&base, &snap),
                    "round {round}, touched {touched:?}"
                );
            }
        }
    }
}
