//! [`Timers`]: deadlines keyed by what they are for, at most one per key.
//!
//! Setting a key's deadline moves its entry; clearing it removes the entry. So the number
//! of entries never exceeds the number of keys with a deadline, however often a deadline
//! changes (a peer that PINGs with a TTL re-arms one deadline per PING), and a key that goes
//! away takes its entry with it.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines by key, earliest first.
#[derive(Debug)]
pub(crate) struct Timers<K> {
    by_key: HashMap<K, Instant>,
    queue: BTreeSet<(Instant, K)>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_key: HashMap::new(),
            queue: BTreeSet::new(),
        }
    }
}

impl<K: Copy + Ord + Hash> Timers<K> {
    /// Sets `key`'s deadline (`None`: clears it), replacing the one it had.
    pub(crate) fn set(&mut self, key: K, at: Option<Instant>) {
        let old = match at {
            Some(at) => self.by_key.insert(key, at),
            None => self.by_key.remove(&key),
        };
        if let Some(old) = old {
            self.queue.remove(&(old, key));
        }
        if let Some(at) = at {
            self.queue.insert((at, key));
        }
    }

    /// `key`'s deadline, if it has one.
    pub(crate) fn get(&self, key: K) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        let &(at, key) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.pop_first();
        self.by_key.remove(&key);
        Some((at, key))
    }

    /// How many deadlines are set.
    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.by_key.len(), self.queue.len());
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn re_arming_moves_the_one_entry_of_a_key() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        for i in 0..10_000u64 {
            t.set(1u32, Some(t0 + Duration::from_millis(6_553_500 + i)));
        }
        t.set(2, Some(t0 + Duration::from_millis(5)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1), Some(t0 + Duration::from_millis(6_563_499)));
        assert_eq!(t.next(), Some(t0 + Duration::from_millis(5)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_millis(5)),
            Some((t0 + Duration::from_millis(5), 2))
        );
        t.set(1, None);
        assert_eq!(t.len(), 0);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn due_entries_come_out_earliest_first() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(3u32, Some(t0 + Duration::from_millis(3)));
        t.set(1, Some(t0 + Duration::from_millis(1)));
        t.set(2, Some(t0 + Duration::from_millis(2)));
        let later = t0 + Duration::from_millis(10);
        let keys: Vec<u32> = std::iter::from_fn(|| t.pop_due(later).map(|(_, k)| k)).collect();
        assert_eq!(keys, [1, 2, 3]);
        assert_eq!(t.len(), 0);
    }
}
