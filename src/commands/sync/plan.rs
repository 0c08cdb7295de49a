//! Which server commands a device needs, from a snapshot alone (pure).
//!
//! Order within a response: deletions first (a stale copy must go before a new item
//! with the same ServerId may come), then soft deletions, changes, and additions newest
//! first — as Exchange does, so that a phone shows today's mail while older mail is
//! still arriving.

use super::snapshot::{Item, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add(u64),
    Change(u64),
    Delete(u64),
    /// The item left the FilterType window.
    SoftDelete(u64),
}

impl Op {
    pub fn key(self) -> u64 {
        match self {
            Op::Add(k) | Op::Change(k) | Op::Delete(k) | Op::SoftDelete(k) => k,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// At most `window` operations, in the order they must be sent.
    pub ops: Vec<Op>,
    /// More operations are pending beyond the window.
    pub more_available: bool,
}

fn in_window(item: &Item, cutoff: Option<i64>) -> bool {
    match (item.upstream, cutoff) {
        (Some(up), Some(c)) => up.date >= c,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Every operation the device needs, by kind: deletions, soft deletions, changes, and
/// additions as (date, key), not yet in sending order.
struct Pending {
    deletes: Vec<Op>,
    soft: Vec<Op>,
    changes: Vec<Op>,
    adds: Vec<(i64, u64)>,
}

impl Pending {
    fn of(s: &Snapshot, cutoff: Option<i64>) -> Pending {
        let mut p = Pending {
            deletes: Vec::new(),
            soft: Vec::new(),
            changes: Vec::new(),
            adds: Vec::new(),
        };
        for (&key, item) in &s.items {
            match (item.device, item.upstream) {
                (Some(_), _) if item.stale => p.deletes.push(Op::Delete(key)),
                (Some(_), None) => p.deletes.push(Op::Delete(key)),
                (Some(_), Some(_)) if !in_window(item, cutoff) => p.soft.push(Op::SoftDelete(key)),
                (Some(d), Some(up)) if d != up.sig => p.changes.push(Op::Change(key)),
                (None, Some(up)) if in_window(item, cutoff) => p.adds.push((up.date, key)),
                _ => {}
            }
        }
        p
    }

    /// A stale copy (of an earlier UIDVALIDITY) is among the deletions: its key's new
    /// item is planned only once that Delete is applied.
    fn deletes_a_stale_copy(&self, s: &Snapshot) -> bool {
        self.deletes
            .iter()
            .any(|op| s.items.get(&op.key()).is_some_and(|i| i.stale))
    }

    fn len(&self) -> usize {
        self.deletes.len() + self.soft.len() + self.changes.len() + self.adds.len()
    }

    /// The first `limit` operations in sending order. Only the additions that make it
    /// into the window are sorted (newest first): a long initial sync plans a window of
    /// 100 out of thousands on every request.
    fn first(mut self, limit: usize) -> Vec<Op> {
        let taken = self.deletes.len() + self.soft.len() + self.changes.len();
        let wanted = limit.saturating_sub(taken).min(self.adds.len());
        let newest_first = |a: &(i64, u64), b: &(i64, u64)| b.cmp(a);
        if wanted < self.adds.len() {
            if wanted > 0 {
                self.adds.select_nth_unstable_by(wanted - 1, newest_first);
            }
            self.adds.truncate(wanted);
        }
        self.adds.sort_by(newest_first);
        let mut ops: Vec<Op> = self
            .deletes
            .into_iter()
            .chain(self.soft)
            .chain(self.changes)
            .chain(self.adds.into_iter().map(|(_, k)| Op::Add(k)))
            .collect();
        ops.truncate(limit);
        ops
    }
}

/// The next window of operations.
pub fn plan(s: &Snapshot, cutoff: Option<i64>, window: usize) -> Plan {
    plan_ahead(s, cutoff, window, 0).0
}

/// The next window of operations, and up to `ahead` operations that follow it: what the
/// windows after it will hold once this one is applied, as far as this snapshot tells
/// (a stale copy's new item comes only after its Delete is applied, so it is not
/// among them). One scan of the snapshot for both.
pub fn plan_ahead(
    s: &Snapshot,
    cutoff: Option<i64>,
    window: usize,
    ahead: usize,
) -> (Plan, Vec<Op>) {
    let pending = Pending::of(s, cutoff);
    let stale = pending.deletes_a_stale_copy(s);
    // A stale copy and the new item of the same key never travel in one response (each
    // key gives one operation per plan; the new item comes once its Delete is applied).
    let more_available = pending.len() > window
        || stale && s.items.values().any(|i| i.stale && i.upstream.is_some());
    let mut ops = pending.first(window.saturating_add(ahead));
    let later = ops.split_off(window.min(ops.len()));
    (
        Plan {
            ops,
            more_available,
        },
        later,
    )
}

/// Every operation a paging chain has still to send, in sending order, planned once so
/// that the chain's next windows are taken from it instead of being planned again from
/// the whole snapshot (a walk over 10,000 items and a selection, per window). It holds
/// only while the snapshot changes by nothing but the windows taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    ops: std::collections::VecDeque<Op>,
    /// The FilterType and the cutoff it was planned with.
    pub filter_type: u8,
    pub cutoff: Option<i64>,
}

impl Queue {
    /// Every pending operation of `s` in sending order; `None` while a stale copy awaits
    /// its Delete (the new item is planned only once that is applied).
    pub fn of(s: &Snapshot, filter_type: u8, cutoff: Option<i64>) -> Option<Queue> {
        let pending = Pending::of(s, cutoff);
        let stale = pending.deletes_a_stale_copy(s);
        (!stale).then(|| Queue {
            ops: pending.first(usize::MAX).into(),
            filter_type,
            cutoff,
        })
    }

    /// The next window, and up to `ahead` operations that follow it (as [`plan_ahead`]).
    pub fn next(&mut self, window: usize, ahead: usize) -> (Plan, Vec<Op>) {
        let ops: Vec<Op> = self.ops.drain(..window.min(self.ops.len())).collect();
        let later = self.ops.iter().take(ahead).copied().collect();
        let plan = Plan {
            ops,
            more_available: !self.ops.is_empty(),
        };
        (plan, later)
    }
}

/// How many operations the device still needs (GetItemEstimate).
pub fn estimate(s: &Snapshot, cutoff: Option<i64>) -> usize {
    Pending::of(s, cutoff).len()
}

/// Records that `op` reached the device.
pub fn applied(s: &mut Snapshot, op: Op) {
    let key = op.key();
    let Some(item) = s.items.get_mut(&key) else {
        return;
    };
    match op {
        Op::Add(_) | Op::Change(_) => item.device = item.upstream.map(|u| u.sig),
        Op::Delete(_) | Op::SoftDelete(_) => {
            item.device = None;
            item.stale = false;
        }
    }
    if item.device.is_none() && item.upstream.is_none() {
        s.items.remove(&key);
    }
}

/// The FilterType window's start for email and calendar (MS-ASCMD 2.2.3.69.2), if any.
pub fn cutoff(filter_type: u8, now: i64) -> Option<i64> {
    const DAY: i64 = 86_400;
    let days = match filter_type {
        1 => 1,
        2 => 3,
        3 => 7,
        4 => 14,
        5 => 30,
        6 => 90,
        7 => 180,
        _ => return None,
    };
    Some(now - days * DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::sync::snapshot::Upstream;

    fn item(device: Option<u32>, up: Option<(u32, i64)>) -> Item {
        Item {
            device,
            upstream: up.map(|(sig, date)| Upstream { sig, date }),
            stale: false,
        }
    }

    #[test]
    fn order_window_and_application() {
        let mut s = Snapshot::default();
        s.items.insert(1, item(Some(1), None)); // gone upstream → Delete
        s.items.insert(2, item(Some(1), Some((2, 100)))); // flags changed → Change
        s.items.insert(3, item(Some(3), Some((3, 100)))); // unchanged
        s.items.insert(4, item(None, Some((4, 50)))); // new, older
        s.items.insert(5, item(None, Some((5, 500)))); // new, newest
        s.items.insert(6, item(Some(6), Some((6, 5)))); // left the window → SoftDelete
        let p = plan(&s, Some(10), 4);
        assert_eq!(
            p.ops,
            vec![Op::Delete(1), Op::SoftDelete(6), Op::Change(2), Op::Add(5)]
        );
        assert!(p.more_available);
        assert_eq!(estimate(&s, Some(10)), 5);
        for op in p.ops {
            applied(&mut s, op);
        }
        let p = plan(&s, Some(10), 4);
        assert_eq!(p.ops, vec![Op::Add(4)]);
        assert!(!p.more_available);
        applied(&mut s, Op::Add(4));
        assert!(plan(&s, Some(10), 4).ops.is_empty());
        assert!(!s.items.contains_key(&1));
    }

    #[test]
    fn stale_copy_is_deleted_before_the_new_item_comes() {
        let mut s = Snapshot::default();
        s.items.insert(
            7,
            Item {
                device: Some(1),
                upstream: Some(Upstream { sig: 9, date: 1 }),
                stale: true,
            },
        );
        let p = plan(&s, None, 100);
        assert_eq!(p.ops, vec![Op::Delete(7)]);
        assert!(
            p.more_available,
            "the new item 7 follows in the next response"
        );
        applied(&mut s, Op::Delete(7));
        assert_eq!(plan(&s, None, 100).ops, vec![Op::Add(7)]);
    }

    #[test]
    fn a_window_of_adds_is_the_newest_whatever_the_key_order() {
        let mut s = Snapshot::default();
        // Dates scrambled against keys, some equal.
        for k in 0..1000u64 {
            s.items
                .insert(k, item(None, Some((1, ((k * 7919) % 613) as i64))));
        }
        let mut all: Vec<(i64, u64)> = s
            .items
            .iter()
            .map(|(k, i)| (i.upstream.unwrap().date, *k))
            .collect();
        all.sort_by(|a, b| b.cmp(a));
        for window in [0, 1, 100, 999, 1000, 1500] {
            let p = plan(&s, None, window);
            let want: Vec<Op> = all.iter().take(window).map(|(_, k)| Op::Add(*k)).collect();
            assert_eq!(p.ops, want, "window {window}");
            assert_eq!(p.more_available, window < 1000);
        }
        assert_eq!(estimate(&s, None), 1000);
    }

    #[test]
    fn the_operations_ahead_are_the_next_windows() {
        let mut s = Snapshot::default();
        s.items.insert(1, item(Some(1), None));
        for k in 2..30u64 {
            s.items.insert(k, item(None, Some((1, k as i64))));
        }
        let (first, ahead) = plan_ahead(&s, None, 10, 12);
        assert_eq!(first, plan(&s, None, 10));
        for op in first.ops {
            applied(&mut s, op);
        }
        assert_eq!(ahead, plan(&s, None, 12).ops);
        let (last, none) = plan_ahead(&s, None, 100, 50);
        assert_eq!(last.ops.len(), 19);
        assert!(none.is_empty() && !last.more_available);
    }

    #[test]
    fn a_queue_gives_the_windows_planning_gives() {
        let mut s = Snapshot::default();
        s.items.insert(1, item(Some(1), None));
        s.items.insert(2, item(Some(1), Some((2, 100))));
        for k in 3..260u64 {
            s.items
                .insert(k, item(None, Some((1, ((k * 7919) % 97) as i64))));
        }
        let mut queue = Queue::of(&s, 0, None).unwrap();
        loop {
            let expected = plan_ahead(&s, None, 25, 50);
            let (window, ahead) = queue.next(25, 50);
            assert_eq!((&window, &ahead), (&expected.0, &expected.1));
            for &op in &window.ops {
                applied(&mut s, op);
            }
            if !window.more_available {
                break;
            }
        }
        assert_eq!(estimate(&s, None), 0);
        // A stale copy: its new item comes after its Delete, which a queue cannot know.
        s.items.get_mut(&3).unwrap().stale = true;
        assert_eq!(Queue::of(&s, 0, None), None);
    }

    #[test]
    fn cutoffs() {
        assert_eq!(cutoff(0, 1_000_000), None);
        assert_eq!(cutoff(3, 1_000_000), Some(1_000_000 - 7 * 86_400));
    }
}
