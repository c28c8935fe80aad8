//! Subscription prefixes held as a compressed prefix tree (a radix trie), with a value per
//! prefix: a count for a subscriber's own topics ([`Subscriptions`]), the set of
//! subscribed pipes for a publisher ([`Subscribers`]).
//!
//! Matching walks the message's first bytes down the tree once: it costs at most one step
//! per byte of the longest subscribed prefix the message starts with, and a topic that
//! differs from the message in its first byte is never looked at. So what matching a
//! message costs does not depend on how many other topics there are or how long they are,
//! and a publisher matches a message once for all its subscribers.
//! Each edge holds a run of bytes, so a topic costs its own bytes plus one node at most
//! (two when it splits an edge): a peer's topics take memory in proportion to what it sent.
//! Every walk is a loop over nodes in one arena (no recursion), however deep the tree.
//! A publisher also keeps each pipe's own topics ([`TopicLog`]), so that a subscriber's
//! departure costs what that subscriber sent, never a walk of everyone's topics.

use bytes::Bytes;
use ipc_transport::PipeId;
use smallvec::SmallVec;

/// Index of the root node, whose label is empty.
const ROOT: usize = 0;
/// Free slots an arena holds before it may be compacted ([`PrefixTree::compact_if_sparse`]).
const COMPACT_MIN: usize = 1024;
/// Entries a [`TopicLog`] may hold beyond twice its live topics before it is compacted.
const LOG_SLACK: usize = 64;

/// What a prefix holds; an empty value is no subscription.
pub(crate) trait Value: Default {
    fn is_empty(&self) -> bool;
}

impl Value for u32 {
    fn is_empty(&self) -> bool {
        *self == 0
    }
}

/// The pipes subscribed to one prefix, each once.
pub(crate) type PipeSet<P> = SmallVec<[P; 2]>;

impl<P> Value for PipeSet<P> {
    fn is_empty(&self) -> bool {
        SmallVec::is_empty(self)
    }
}

/// An edge's bytes, `bytes[start..]`: inline up to 16 (most edges are a few bytes), so a
/// walk's step touches the node and its children, not a separate allocation for the
/// label. Splitting an edge copies the head it gives the new node and only moves the
/// rest's `start` (the head's bytes stay, unused, before it); merging the two puts the
/// head back by moving `start` again. So a topic that splits a long edge, and its cancel
/// that merges it, cost the topic's bytes, not the edge's (a 23-byte SUBSCRIBE and CANCEL
/// pair cannot make a publisher copy a megabyte a peer subscribed to earlier).
#[derive(Debug, Clone, Default)]
struct Label {
    bytes: SmallVec<[u8; 16]>,
    start: usize,
}

impl Label {
    fn from_slice(b: &[u8]) -> Label {
        Label {
            bytes: SmallVec::from_slice(b),
            start: 0,
        }
    }

    /// Drops the first `n` bytes (at most the label's length).
    fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
    }

    /// Makes the label `head` followed by itself: in place when `head`'s bytes are the
    /// ones before the start (a split undone), else in a new buffer.
    fn prepend(&mut self, head: &[u8]) {
        let s = self.start;
        if s >= head.len() && self.bytes[s - head.len()..s] == *head {
            self.start -= head.len();
            return;
        }
        let mut bytes = SmallVec::with_capacity(head.len() + self.len());
        bytes.extend_from_slice(head);
        bytes.extend_from_slice(self);
        *self = Label { bytes, start: 0 };
    }
}

impl std::ops::Deref for Label {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

#[derive(Debug, Clone, Default)]
struct Node<V> {
    /// The bytes on the edge from the parent to this node.
    label: Label,
    /// What the prefix that ends here holds.
    value: V,
    /// Children by the first byte of their label, sorted (8 bytes each: a node's children
    /// fit in a line or two, and a walk's binary search touches little).
    children: Vec<(u8, u32)>,
}

impl<V> Node<V> {
    fn child(&self, b: u8) -> Option<usize> {
        self.children
            .binary_search_by_key(&b, |&(c, _)| c)
            .ok()
            .map(|i| self.children[i].1 as usize)
    }
}

/// A node's index as stored among its parent's children. The arena holds at most twice
/// the distinct topics plus one nodes (a topic's bytes come with each), so 32 bits
/// outlast any memory.
fn slot(i: usize) -> u32 {
    debug_assert!(u32::try_from(i).is_ok());
    i as u32
}

/// Whether `data` starts with `label`, whose first byte is known to match.
#[inline]
fn starts_with_tail(data: &[u8], label: &[u8]) -> bool {
    label.len() <= data.len() && has_prefix(&data[1..], &label[1..])
}

/// Where `b` first occurs in `hay`: eight bytes at a time (a node with ten children,
/// one per digit, is one step and a tail of two rather than up to ten compares).
#[inline]
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = u64::from_ne_bytes([b; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let x = word ^ pattern;
        // A high bit for each zero byte of x; the lowest one is exact (a borrow can only
        // mark bytes above a zero byte).
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&k| k == b)
        .map(|i| at + i)
}

/// Whether `data` starts with `want`: short ones compared byte by byte (cheaper than a
/// call to memcmp), long ones as slices.
#[inline]
fn has_prefix(data: &[u8], want: &[u8]) -> bool {
    let Some(head) = data.get(..want.len()) else {
        return false;
    };
    if want.len() <= 16 {
        want.iter().zip(head).all(|(a, b)| a == b)
    } else {
        want == head
    }
}

/// Prefixes with a value each.
///
/// Invariant: every node but the root has a non-empty value or at least two children,
/// and no two children of a node share a first byte.
#[derive(Debug, Clone)]
pub(crate) struct PrefixTree<V> {
    nodes: Vec<Node<V>>,
    /// Slots of removed nodes, for reuse.
    free: Vec<usize>,
}

impl<V: Value> Default for PrefixTree<V> {
    fn default() -> Self {
        PrefixTree {
            nodes: vec![Node::default()],
            free: Vec::new(),
        }
    }
}

impl<V: Value> PrefixTree<V> {
    fn alloc(&mut self, node: Node<V>) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }

    fn release(&mut self, i: usize) {
        self.nodes[i] = Node::default();
        self.free.push(i);
    }

    /// Once more than half the arena is free slots (and they are many), the tree is copied
    /// into an arena of its live nodes only, and the old one given back: a peer that
    /// subscribed a million topics and left does not leave its arena behind. Each node is
    /// copied once per halving, so removals pay for it.
    fn compact_if_sparse(&mut self) {
        if self.free.len() < COMPACT_MIN || self.free.len() * 2 < self.nodes.len() {
            return;
        }
        // Breadth first from the root: `order` lists the live nodes, `map` their new slots.
        let mut map = vec![0u32; self.nodes.len()];
        let mut order = vec![ROOT];
        let mut i = 0;
        while let Some(&n) = order.get(i) {
            for &(_, c) in &self.nodes[n].children {
                map[c as usize] = slot(order.len());
                order.push(c as usize);
            }
            i += 1;
        }
        let mut nodes = Vec::with_capacity(order.len());
        for n in order {
            let mut node = std::mem::take(&mut self.nodes[n]);
            for (_, c) in &mut node.children {
                *c = map[*c as usize];
            }
            nodes.push(node);
        }
        self.nodes = nodes;
        self.free = Vec::new();
    }

    fn set_child(&mut self, parent: usize, b: u8, child: usize) {
        let child = slot(child);
        let children = &mut self.nodes[parent].children;
        match children.binary_search_by_key(&b, |&(c, _)| c) {
            Ok(i) => children[i].1 = child,
            Err(i) => children.insert(i, (b, child)),
        }
    }

    /// `topic`'s value, its node made if it has none (the caller makes it non-empty).
    fn entry(&mut self, topic: &[u8]) -> &mut V {
        let mut n = ROOT;
        let mut rest = topic;
        loop {
            let Some(&b) = rest.first() else {
                return &mut self.nodes[n].value;
            };
            let Some(c) = self.nodes[n].child(b) else {
                let leaf = self.alloc(Node {
                    label: Label::from_slice(rest),
                    value: V::default(),
                    children: Vec::new(),
                });
                self.set_child(n, b, leaf);
                return &mut self.nodes[leaf].value;
            };
            let label = &self.nodes[c].label;
            let common = label.iter().zip(rest).take_while(|(x, y)| x == y).count();
            if common < label.len() {
                // The topic leaves this edge part way: split it at that point (the head
                // copied, at most the topic's length; the tail where it is).
                let head = Label::from_slice(&label[..common]);
                let tail = &mut self.nodes[c].label;
                tail.advance(common);
                let tail_first = tail[0]; // non-empty: common < label.len()
                let mid = self.alloc(Node {
                    label: head,
                    value: V::default(),
                    children: vec![(tail_first, slot(c))],
                });
                self.set_child(n, b, mid);
                n = mid;
            } else {
                n = c;
            }
            rest = &rest[common..];
        }
    }

    /// The path of nodes to `topic`'s node, root first, if the tree has such a node.
    fn path(&self, topic: &[u8]) -> Option<Vec<usize>> {
        let mut path = vec![ROOT];
        let mut n = ROOT;
        let mut rest = topic;
        while let Some(&b) = rest.first() {
            let c = self.nodes[n].child(b)?;
            rest = rest.strip_prefix(&self.nodes[c].label[..])?;
            path.push(c);
            n = c;
        }
        Some(path)
    }

    /// `topic`'s node, if it has one: [`PrefixTree::path`]'s end, without the path.
    fn node_of(&self, topic: &[u8]) -> Option<usize> {
        let mut n = ROOT;
        let mut rest = topic;
        while let Some(&b) = rest.first() {
            let c = self.nodes[n].child(b)?;
            rest = rest.strip_prefix(&self.nodes[c].label[..])?;
            n = c;
        }
        Some(n)
    }

    /// `topic`'s value, if it has a node.
    #[cfg(test)]
    fn get(&self, topic: &[u8]) -> Option<&V> {
        self.node_of(topic).map(|n| &self.nodes[n].value)
    }

    /// Applies `change` to `topic`'s value if it has a node; returns what `change`
    /// returned (`R::default()` when there is no node). A value left empty takes its
    /// node out of the tree.
    fn update<R: Default>(&mut self, topic: &[u8], change: impl FnOnce(&mut V) -> R) -> R {
        let Some(path) = self.path(topic) else {
            return R::default();
        };
        let n = *path.last().unwrap_or(&ROOT);
        let r = change(&mut self.nodes[n].value);
        // Restore the invariant: a node with an empty value goes if it has no children,
        // and merges into its only child if it has one. Removing a leaf can leave its
        // parent with one child and an empty value: that merges too.
        if n != ROOT && self.nodes[n].value.is_empty() {
            let parent = path[path.len() - 2];
            self.tidy(parent, n);
            if parent != ROOT {
                let grandparent = path[path.len() - 3];
                self.tidy(grandparent, parent);
            }
            self.compact_if_sparse();
        }
        r
    }

    /// Removes node `n` (a child of `parent`) if it holds nothing, or merges it with its
    /// only child if its own value is empty.
    fn tidy(&mut self, parent: usize, n: usize) {
        let node = &self.nodes[n];
        if !node.value.is_empty() || node.children.len() > 1 {
            return;
        }
        let first = node.label[0]; // non-root labels are never empty
        match node.children.first().copied() {
            None => {
                let children = &mut self.nodes[parent].children;
                children.retain(|&(b, _)| b != first);
                self.release(n);
            }
            Some((_, only)) => {
                let only = only as usize;
                let mut child = std::mem::take(&mut self.nodes[only]);
                let head = std::mem::take(&mut self.nodes[n].label);
                child.label.prepend(&head);
                self.nodes[n] = child;
                self.release(only);
            }
        }
    }

    /// Calls `visit` with the value of every subscribed prefix of `data`, shortest first,
    /// until it returns `false`; returns how many nodes below the root the walk visited
    /// (never more than `data`'s length).
    fn walk(&self, data: &[u8], mut visit: impl FnMut(&V) -> bool) -> usize {
        let mut n = ROOT;
        let mut rest = data;
        let mut steps = 0;
        loop {
            let value = &self.nodes[n].value;
            if !value.is_empty() && !visit(value) {
                return steps;
            }
            let Some(&b) = rest.first() else {
                return steps;
            };
            let Some(c) = self.nodes[n].child(b) else {
                return steps;
            };
            steps += 1;
            let label = &self.nodes[c].label;
            // (The first byte chose the child.) Labels are mostly a few bytes: compared
            // inline, which is several times cheaper than a memcmp call for each.
            if !starts_with_tail(rest, label) {
                return steps;
            }
            rest = &rest[label.len()..];
            n = c;
        }
    }

    /// Every prefix with a non-empty value, once each.
    pub(crate) fn topics(&self) -> Vec<Bytes> {
        self.topics_where(|_| true)
    }

    /// Every prefix whose (non-empty) value `keep` admits, once each. One walk of the
    /// nodes; only the prefixes kept are copied out.
    fn topics_where(&self, mut keep: impl FnMut(&V) -> bool) -> Vec<Bytes> {
        let mut out = Vec::new();
        // (node, length of the prefix above it), depth first.
        let mut stack = vec![(ROOT, 0usize)];
        let mut prefix: Vec<u8> = Vec::new();
        while let Some((n, above)) = stack.pop() {
            let node = &self.nodes[n];
            prefix.truncate(above);
            prefix.extend_from_slice(&node.label);
            if !node.value.is_empty() && keep(&node.value) {
                out.push(Bytes::copy_from_slice(&prefix));
            }
            stack.extend(
                node.children
                    .iter()
                    .map(|&(_, c)| (c as usize, prefix.len())),
            );
        }
        out
    }

    /// Nodes in use (the root included): at most twice the distinct topics, plus one.
    fn nodes_in_use(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

/// A subscriber's topics (SUB, XSUB), each with how many times it was subscribed, and a
/// compact copy of them for matching ([`Matcher`]). The copy is rebuilt once the tree
/// has stayed unchanged for as many matches as it has nodes over [`REBUILD_AFTER`]
/// (walking the tree meanwhile), or its last copy's bytes over `REBUILD_AFTER` times
/// [`REBUILD_BYTES`] if more, so a rebuild costs each match a few node copies and a few
/// bytes at most however often the topics change (an XSUB's come from peers through a
/// proxy, and one may have subscribed to a megabyte).
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    tree: PrefixTree<u32>,
    matcher: Option<Matcher>,
    /// Matches since the last change (while there is no compact copy).
    walks: usize,
    /// The bytes of the last compact copy's labels, over [`REBUILD_BYTES`].
    last_copy: usize,
}

/// See [`Subscriptions`]: the label bytes a rebuild may copy per match waited for.
const REBUILD_BYTES: usize = 64;

/// See [`Subscriptions`]: a rebuild waits for a sixteenth as many matches as there are
/// nodes.
const REBUILD_AFTER: usize = 16;

impl Subscriptions {
    /// Adds one subscription; `true` when the topic was new.
    pub(crate) fn add(&mut self, topic: &[u8]) -> bool {
        let count = self.tree.entry(topic);
        *count = count.saturating_add(1);
        let new = *count == 1;
        if new {
            self.changed();
        }
        new
    }

    /// Removes one subscription; `true` when the topic's last one went. Unknown topics
    /// are ignored.
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
        let gone = self.tree.update(topic, |count| {
            if *count == 0 {
                return false;
            }
            *count -= 1;
            *count == 0
        });
        if gone {
            self.changed();
        }
        gone
    }

    /// Whether `topic` itself is present.
    #[cfg(test)]
    fn contains(&self, topic: &[u8]) -> bool {
        self.tree.get(topic).is_some_and(|c| *c > 0)
    }

    /// Every topic, once each.
    pub(crate) fn topics(&self) -> Vec<Bytes> {
        self.tree.topics()
    }

    fn changed(&mut self) {
        self.matcher = None;
        self.walks = 0;
    }

    /// Whether some topic is a prefix of `data`.
    #[inline]
    pub(crate) fn matches(&mut self, data: &[u8]) -> bool {
        if let Some(m) = &self.matcher {
            return m.matches(data);
        }
        self.walks += 1;
        let cost = self.tree.nodes.len().max(self.last_copy);
        if self.walks.saturating_mul(REBUILD_AFTER) >= cost {
            let m = self.matcher.insert(Matcher::of(&self.tree));
            self.last_copy = m.tails.len() / REBUILD_BYTES;
            return m.matches(data);
        }
        let mut hit = false;
        self.tree.walk(data, |_| {
            hit = true;
            false
        });
        hit
    }
}

/// A subscriber's topics laid out for matching: the tree's nodes in breadth-first order,
/// 16 bytes each, a node's children side by side with their first bytes in one run, so
/// that a step of the walk reads a few adjacent bytes and one node, and a thousand topics
/// fit in a few pages rather than a thousand allocations. Built from the tree in one pass.
/// (A publisher's tree, one topic per subscriber's subscription, changes at its peers'
/// pace and is walked as it is.)
#[derive(Debug)]
struct Matcher {
    nodes: Vec<Step>,
    /// `first[i]`: the first byte of node `i`'s label (the root's is unused).
    first: Vec<u8>,
    /// The rest of every label, one after another.
    tails: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    /// Where the label's bytes after its first start in `tails`, and how many.
    tail: u32,
    tail_len: u32,
    /// The node's children: `first_child..first_child + children` in `nodes`.
    first_child: u32,
    children: u16,
    /// A topic ends here.
    subscribed: bool,
}

impl Matcher {
    fn of(tree: &PrefixTree<u32>) -> Matcher {
        let mut m = Matcher {
            nodes: Vec::with_capacity(tree.nodes_in_use()),
            first: Vec::with_capacity(tree.nodes_in_use()),
            tails: Vec::new(),
        };
        m.push(&tree.nodes[ROOT]);
        // Breadth first: a node's children are appended together, so they are adjacent.
        let mut queue = std::collections::VecDeque::from([ROOT]);
        let mut at = 0usize;
        while let Some(n) = queue.pop_front() {
            let node = &tree.nodes[n];
            m.nodes[at].first_child = slot(m.nodes.len());
            m.nodes[at].children = node.children.len() as u16; // at most 256 first bytes
            for &(_, c) in &node.children {
                m.push(&tree.nodes[c as usize]);
                queue.push_back(c as usize);
            }
            at += 1;
        }
        m
    }

    fn push(&mut self, node: &Node<u32>) {
        let tail = node.label.get(1..).unwrap_or(&[]);
        self.first.push(node.label.first().copied().unwrap_or(0));
        self.nodes.push(Step {
            tail: slot(self.tails.len()),
            tail_len: slot(tail.len()),
            first_child: 0,
            children: 0,
            subscribed: node.value != 0,
        });
        self.tails.extend_from_slice(tail);
    }

    #[inline]
    fn matches(&self, data: &[u8]) -> bool {
        let mut n = ROOT;
        let mut rest = data;
        loop {
            let step = self.nodes[n];
            if step.subscribed {
                return true;
            }
            let Some((&b, after)) = rest.split_first() else {
                return false;
            };
            let kids =
                step.first_child as usize..step.first_child as usize + step.children as usize;
            let Some(i) = find_byte(&self.first[kids.clone()], b) else {
                return false;
            };
            let c = kids.start + i;
            let child = self.nodes[c];
            let (start, len) = (child.tail as usize, child.tail_len as usize);
            let tail = &self.tails[start..start + len];
            if !has_prefix(after, tail) {
                return false;
            }
            rest = &after[len..];
            n = c;
        }
    }
}

/// A publisher's subscriptions: for each topic, the pipes subscribed to it (each once, as
/// libzmq's publisher keeps them). One walk of a message finds every subscriber it goes
/// to.
pub(crate) type Subscribers = PrefixTree<PipeSet<PipeId>>;

impl<P: Copy + Ord> PrefixTree<PipeSet<P>> {
    /// Subscribes `pipe` to `topic`; `false` if it already was. `first` tells whether the
    /// topic had no subscriber before.
    pub(crate) fn subscribe(&mut self, topic: &[u8], pipe: P) -> (bool, bool) {
        let set = self.entry(topic);
        if set.contains(&pipe) {
            return (false, false);
        }
        set.push(pipe);
        (true, set.len() == 1)
    }

    /// Unsubscribes `pipe` from `topic`: `(was subscribed, topic has no subscriber left)`.
    pub(crate) fn unsubscribe(&mut self, topic: &[u8], pipe: P) -> (bool, bool) {
        self.update(topic, |set| match set.iter().position(|p| *p == pipe) {
            Some(i) => {
                set.swap_remove(i);
                (true, set.is_empty())
            }
            None => (false, false),
        })
    }

    /// The topics `pipe` is subscribed to (one walk of the tree; only these are copied).
    #[cfg(test)]
    pub(crate) fn topics_of(&self, pipe: P) -> Vec<Bytes> {
        self.topics_where(|set| set.contains(&pipe))
    }

    /// Whether `pipe` is subscribed to `topic` exactly. One descent, no allocation.
    pub(crate) fn has(&self, topic: &[u8], pipe: P) -> bool {
        self.node_of(topic)
            .is_some_and(|n| self.nodes[n].value.contains(&pipe))
    }

    /// Appends to `out` every pipe subscribed to a prefix of `data`, each once.
    pub(crate) fn matching(&self, data: &[u8], out: &mut SmallVec<[P; 8]>) {
        let mut sets = 0;
        self.walk(data, |set| {
            out.extend_from_slice(set);
            sets += 1;
            true
        });
        if sets > 1 {
            // A pipe subscribed to two prefixes of the message gets it once.
            out.sort_unstable();
            out.dedup();
        }
    }
}

/// The topics one pipe of a publisher subscribed to, kept for its departure: each new
/// subscription is appended; a cancelled one stays until the log is compacted. Departure
/// unsubscribes the pipe from each entry (a cancelled or repeated one finds nothing to
/// do), which costs what the pipe sent rather than a walk of every pipe's topics. A log
/// holds at most twice its live topics plus [`LOG_SLACK`] entries: past that it keeps only
/// the topics the tree still has for its pipe, once each (a copy of what it holds, paid
/// for by the changes that made it grow).
#[derive(Debug, Default)]
pub(crate) struct TopicLog {
    /// The entries' bytes, one after another.
    bytes: Vec<u8>,
    /// Where each entry ends in `bytes`.
    ends: Vec<usize>,
    /// Topics the pipe is subscribed to now.
    live: usize,
}

impl TopicLog {
    /// A new subscription of the log's pipe to `topic` (the tree said it is new).
    pub(crate) fn subscribed<P: Copy + Ord>(
        &mut self,
        topic: &[u8],
        pipe: P,
        tree: &PrefixTree<PipeSet<P>>,
    ) {
        self.bytes.extend_from_slice(topic);
        self.ends.push(self.bytes.len());
        self.live += 1;
        self.compact_if_stale(pipe, tree);
    }

    /// A subscription of the log's pipe was cancelled (the tree said it was there).
    pub(crate) fn cancelled<P: Copy + Ord>(&mut self, pipe: P, tree: &PrefixTree<PipeSet<P>>) {
        self.live = self.live.saturating_sub(1);
        self.compact_if_stale(pipe, tree);
    }

    /// Topics the pipe is subscribed to now.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Every entry, in the order subscribed; cancelled and repeated ones included.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.bytes[a..b])
    }

    fn compact_if_stale<P: Copy + Ord>(&mut self, pipe: P, tree: &PrefixTree<PipeSet<P>>) {
        if self.ends.len() <= 2 * self.live + LOG_SLACK {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let mut kept = TopicLog::default();
        for t in self.entries() {
            if tree.has(t, pipe) && seen.insert(t) {
                kept.bytes.extend_from_slice(t);
                kept.ends.push(kept.bytes.len());
            }
        }
        kept.live = kept.ends.len();
        *self = kept;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prefix_matching_and_counting() {
        let mut s = Subscriptions::default();
        assert!(!s.matches(b"abc"));
        assert!(s.add(b"ab"));
        assert!(!s.add(b"ab"));
        assert!(s.matches(b"abc") && s.matches(b"ab") && !s.matches(b"a"));
        assert!(!s.remove(b"ab"));
        assert!(s.matches(b"abc"));
        assert!(s.remove(b"ab"));
        assert!(!s.matches(b"abc"));
        assert!(!s.remove(b"unknown"));
        assert!(s.add(b""));
        assert!(s.matches(b"") && s.matches(b"anything"));
    }

    /// A pipe's log stays within twice its live topics (plus the slack) whatever it
    /// subscribes and cancels, and still finds every topic it holds.
    #[test]
    fn a_topic_log_stays_near_what_its_pipe_holds() {
        let mut tree = PrefixTree::<PipeSet<u32>>::default();
        let mut log = TopicLog::default();
        // The same topic subscribed and cancelled over and over.
        for _ in 0..10_000 {
            assert_eq!(tree.subscribe(b"again", 7), (true, true));
            log.subscribed(b"again", 7, &tree);
            assert_eq!(tree.unsubscribe(b"again", 7), (true, true));
            log.cancelled(7, &tree);
        }
        assert_eq!(log.live(), 0);
        assert!(log.entries().count() <= LOG_SLACK + 1);
        // Many topics, most of them cancelled again.
        for i in 0..10_000u32 {
            let t = i.to_be_bytes();
            assert!(tree.subscribe(&t, 7).0);
            log.subscribed(&t, 7, &tree);
        }
        for i in 100..10_000u32 {
            assert!(tree.unsubscribe(&i.to_be_bytes(), 7).0);
            log.cancelled(7, &tree);
        }
        assert_eq!(log.live(), 100);
        assert!(log.entries().count() <= 2 * 100 + LOG_SLACK);
        let mut held: Vec<&[u8]> = log.entries().filter(|t| tree.has(t, 7)).collect();
        held.sort();
        held.dedup();
        assert_eq!(held.len(), 100);
        assert!(!tree.has(b"agai", 7) && !tree.has(b"again!", 7) && !tree.has(b"again", 8));
    }

    /// Issue 17's case 5: one peer subscribes 4,096 topics of lengths 1 to 4,096 that no
    /// message matches. A message that differs in its first byte costs no step below the
    /// root; one that shares a topic's first bytes costs at most one step per edge along
    /// its own bytes, however many other topics there are.
    #[test]
    fn matching_cost_does_not_grow_with_other_topics() {
        let mut s = Subscriptions::default();
        for len in 1..=4096 {
            let mut t = vec![b'z'; len - 1];
            t.push(b'y');
            s.add(&t);
        }
        s.add(b"weather.");
        let walk = |data: &[u8]| {
            let mut hit = false;
            let steps = s.tree.walk(data, |_| {
                hit = true;
                false
            });
            (hit, steps)
        };
        assert_eq!(walk(b"weather.today"), (true, 1));
        assert_eq!(walk(b"news.today"), (false, 0));
        assert_eq!(walk(b"abc"), (false, 0));
        // Sharing a long run with the hostile topics: one step per byte it shares, no more.
        let (hit, steps) = walk(&[b'z'; 100]);
        assert!(!hit);
        assert!(steps <= 100, "{steps} steps for a 100-byte message");
    }

    #[test]
    fn removing_every_topic_leaves_only_the_root() {
        let mut s = Subscriptions::default();
        let topics: Vec<Vec<u8>> = (1..=300).map(|n| vec![b'x'; n]).collect();
        for t in &topics {
            assert!(s.add(t));
        }
        assert!(s.tree.nodes_in_use() <= 2 * topics.len() + 1);
        for t in topics.iter().rev().step_by(2) {
            assert!(s.remove(t));
        }
        for t in &topics {
            assert!(s.remove(t) || !s.contains(t));
        }
        assert_eq!(s.tree.nodes_in_use(), 1);
        assert!(s.topics().is_empty());
    }

    /// A publisher whose subscribers took most of 20,000 topics away again: the arena is
    /// copied into one of the live nodes (its old slots given back), and every topic left
    /// still matches its own subscribers only.
    #[test]
    fn a_tree_mostly_emptied_gives_its_arena_back() {
        let mut t = PrefixTree::<PipeSet<u32>>::default();
        let topic = |i: u32| format!("t{:05}/{}", i * 7919 % 20_000, i % 3).into_bytes();
        for i in 0..20_000u32 {
            t.subscribe(&topic(i), i % 5);
        }
        let full = t.nodes.len();
        for i in 100..20_000u32 {
            t.unsubscribe(&topic(i), i % 5);
        }
        assert!(
            t.nodes.len() < full / 10,
            "{} slots of {full}",
            t.nodes.len()
        );
        assert!(t.nodes.capacity() < full / 4);
        assert_eq!(t.free.len(), t.nodes.len() - t.nodes_in_use());
        assert!(t.nodes_in_use() <= 2 * 100 + 1);
        for i in 0..100u32 {
            let mut out = SmallVec::new();
            t.matching(&topic(i), &mut out);
            assert_eq!(&out[..], &[i % 5], "topic {i}");
        }
        let mut out = SmallVec::new();
        t.matching(&topic(5000), &mut out);
        assert!(out.is_empty());
    }

    /// A short topic that splits a long edge, and its removal that merges the edge back,
    /// copy the short topic only: the long edge's bytes stay in their buffer throughout.
    #[test]
    fn splitting_and_merging_a_long_edge_copies_only_the_short_part() {
        let mut t = PrefixTree::<u32>::default();
        let long = vec![b'A'; 1 << 20];
        *t.entry(&long) = 1;
        let buffer = |t: &PrefixTree<u32>| {
            let n = t.nodes.iter().find(|n| n.label.bytes.len() == 1 << 20);
            n.map(|n| n.label.bytes.as_ptr())
        };
        let before = buffer(&t).expect("the long edge");
        for short in [&b"A"[..], b"AA", b"AAB", b"B"] {
            for _ in 0..100 {
                *t.entry(short) = 1;
                t.update(short, |v| *v = 0);
                assert_eq!(buffer(&t), Some(before), "{short:?}");
            }
        }
        assert_eq!(t.get(&long), Some(&1));
        assert_eq!(t.nodes_in_use(), 2);
    }

    /// A subscriber with a megabyte topic whose other topics keep changing (an XSUB fed
    /// by peers): the compact copy, a megabyte to build, is rebuilt only after many
    /// matches, not after each change.
    #[test]
    fn a_long_topic_makes_rebuilds_of_the_compact_copy_rare() {
        let mut s = Subscriptions::default();
        let long = vec![b'A'; 1 << 20];
        s.add(&long);
        while s.matcher.is_none() {
            assert!(s.matches(&long));
        }
        let mut rebuilds = 0;
        for i in 0..200u32 {
            let topic = i.to_be_bytes();
            s.add(&topic);
            assert!(s.matches(&topic));
            rebuilds += usize::from(s.matcher.is_some());
            s.remove(&topic);
            assert!(!s.matches(&topic));
            rebuilds += usize::from(s.matcher.is_some());
        }
        assert_eq!(rebuilds, 0, "rebuilt within 400 matches of a change each");
        assert!(s.matches(&long));
    }

    proptest! {
        /// `find_byte` finds what a plain search finds, at every length and position.
        #[test]
        fn find_byte_is_position(hay in proptest::collection::vec(any::<u8>(), 0..40), b: u8) {
            prop_assert_eq!(find_byte(&hay, b), hay.iter().position(|&k| k == b));
        }

        /// A publisher's tree finds, in one walk, exactly the pipes one of whose topics
        /// prefixes the message, each once; subscribing twice and cancelling once leaves
        /// the topic cancelled, as libzmq's publisher does.
        #[test]
        fn subscribers_match_as_a_per_pipe_set_of_topics(
            ops in proptest::collection::vec(
                (any::<bool>(), 0u32..4, proptest::collection::vec(0u8..3, 0..5)), 0..200),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..8), 0..20),
        ) {
            let mut tree = PrefixTree::<PipeSet<u32>>::default();
            let mut logs: HashMap<u32, TopicLog> = HashMap::new();
            let mut model: std::collections::HashSet<(u32, Vec<u8>)> = Default::default();
            for (sub, pipe, topic) in &ops {
                let p = *pipe;
                let had_any = model.iter().any(|(_, t)| t == topic);
                let log = logs.entry(p).or_default();
                if *sub {
                    let new = model.insert((*pipe, topic.clone()));
                    prop_assert_eq!(tree.subscribe(topic, p), (new, new && !had_any));
                    if new {
                        log.subscribed(topic, p, &tree);
                    }
                } else {
                    let was = model.remove(&(*pipe, topic.clone()));
                    let left = model.iter().any(|(_, t)| t == topic);
                    prop_assert_eq!(tree.unsubscribe(topic, p), (was, was && !left));
                    if was {
                        log.cancelled(p, &tree);
                    }
                }
                prop_assert!(log.entries().count() <= 2 * log.live() + LOG_SLACK);
            }
            for data in &probes {
                let mut got = SmallVec::<[u32; 8]>::new();
                tree.matching(data, &mut got);
                got.sort_unstable();
                let mut want: Vec<u32> = model
                    .iter()
                    .filter(|(_, t)| data.starts_with(t))
                    .map(|(p, _)| *p)
                    .collect();
                want.sort_unstable();
                want.dedup();
                prop_assert_eq!(got.to_vec(), want);
            }
            // What a detaching pipe is unsubscribed from: exactly its own topics, as the
            // tree has them, and as its log finds them.
            for pipe in 0u32..4 {
                let mut want: Vec<Vec<u8>> = model
                    .iter()
                    .filter(|(p, _)| *p == pipe)
                    .map(|(_, t)| t.clone())
                    .collect();
                want.sort();
                let mut got: Vec<Vec<u8>> =
                    tree.topics_of(pipe).iter().map(|t| t.to_vec()).collect();
                got.sort();
                prop_assert_eq!(&got, &want);
                let log = logs.remove(&pipe).unwrap_or_default();
                prop_assert_eq!(log.live(), want.len());
                let mut left = want.clone();
                for t in log.entries() {
                    let (was, _) = tree.unsubscribe(t, pipe);
                    if was {
                        left.retain(|w| w != t);
                    }
                }
                prop_assert!(left.is_empty(), "the log missed {:?}", left);
                prop_assert!(tree.topics_of(pipe).is_empty());
            }
            // Every pipe gone: nothing matches any more.
            for data in &probes {
                let mut got = SmallVec::<[u32; 8]>::new();
                tree.matching(data, &mut got);
                prop_assert!(got.is_empty());
            }
        }

        /// The tree answers as a plain map of topics does, whatever the operations.
        #[test]
        fn behaves_as_a_map_of_counts(
            ops in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(0u8..3, 0..6)), 0..200),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..8), 0..20),
        ) {
            let mut s = Subscriptions::default();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            for (i, (add, t)) in ops.iter().enumerate() {
                if *add {
                    let n = model.entry(t.clone()).or_insert(0);
                    *n += 1;
                    prop_assert_eq!(s.add(t), *n == 1);
                } else {
                    let last = match model.get_mut(t) {
                        Some(n) => { *n -= 1; *n == 0 }
                        None => false,
                    };
                    if last {
                        model.remove(t);
                    }
                    prop_assert_eq!(s.remove(t), last);
                }
                prop_assert!(s.tree.nodes_in_use() <= 2 * model.len() + 1);
                // Matching between changes: the compact copy follows every change.
                if let Some(p) = probes.get(i % probes.len().max(1)) {
                    let want = model.keys().any(|t| p.starts_with(t));
                    prop_assert_eq!(s.matches(p), want);
                }
            }
            for p in &probes {
                let want = model.keys().any(|t| p.starts_with(t));
                prop_assert_eq!(s.matches(p), want);
                prop_assert_eq!(s.contains(p), model.contains_key(p));
            }
            let mut got: Vec<Vec<u8>> = s.topics().iter().map(|t| t.to_vec()).collect();
            let mut want: Vec<Vec<u8>> = model.keys().cloned().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
