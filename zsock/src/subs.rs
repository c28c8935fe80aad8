//! A multiset of subscription prefixes with fast prefix matching.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

/// Topics (prefixes) with a count each. Matching checks only the prefix lengths that are
/// present, so a message costs one hash look-up per distinct subscribed length.
#[derive(Debug, Default, Clone)]
pub(crate) struct Subscriptions {
    topics: HashMap<Bytes, u32>,
    /// Distinct topic lengths and how many topics have each.
    lengths: BTreeMap<usize, u32>,
}

impl Subscriptions {
    /// Adds one subscription; `true` when the topic was new.
    pub(crate) fn add(&mut self, topic: Bytes) -> bool {
        let len = topic.len();
        let n = self.topics.entry(topic).or_insert(0);
        *n = n.saturating_add(1);
        if *n == 1 {
            *self.lengths.entry(len).or_insert(0) += 1;
            true
        } else {
            false
        }
    }

    /// Removes one subscription; `true` when the topic's last one went. Unknown topics
    /// are ignored.
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
        let Some(n) = self.topics.get_mut(topic) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        self.topics.remove(topic);
        if let Some(c) = self.lengths.get_mut(&topic.len()) {
            *c -= 1;
            if *c == 0 {
                self.lengths.remove(&topic.len());
            }
        }
        true
    }

    /// Whether `topic` itself is present.
    pub(crate) fn contains(&self, topic: &[u8]) -> bool {
        self.topics.contains_key(topic)
    }

    /// Whether some topic is a prefix of `data`.
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        self.lengths
            .range(..=data.len())
            .any(|(&len, _)| self.topics.contains_key(&data[..len]))
    }

    /// Every distinct topic, once each.
    pub(crate) fn topics(&self) -> impl Iterator<Item = &Bytes> {
        self.topics.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matching_and_counting() {
        let mut s = Subscriptions::default();
        assert!(!s.matches(b"abc"));
        assert!(s.add(Bytes::from_static(b"ab")));
        assert!(!s.add(Bytes::from_static(b"ab")));
        assert!(s.matches(b"abc") && s.matches(b"ab") && !s.matches(b"a"));
        assert!(!s.remove(b"ab"));
        assert!(s.matches(b"abc"));
        assert!(s.remove(b"ab"));
        assert!(!s.matches(b"abc"));
        assert!(!s.remove(b"unknown"));
        assert!(s.add(Bytes::new()));
        assert!(s.matches(b"") && s.matches(b"anything"));
    }
}
