//! [`Message`]: one or more frames, each a reference-counted [`Bytes`].

use bytes::Bytes;
use smallvec::SmallVec;

/// What a place for a frame costs in a queued message besides the frame's bytes: its
/// handle (see [`Message::queued_cost`]).
pub const FRAME_COST: usize = std::mem::size_of::<Bytes>();

/// The frames a message holds without an array of its own.
const INLINE_FRAMES: usize = 2;

/// A whole ZeroMQ message: one or more frames. Frames are `Bytes`, so building a message
/// from a `Vec<u8>` or `Bytes` moves the buffer without copying it, and received frames are
/// slices of the connection's read buffer.
///
/// A message is its frames only (72 bytes with two inline): which peer it came from is
/// kept by the socket, not in each message, since a larger message costs every message on
/// its way through the queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Message {
    frames: SmallVec<[Bytes; INLINE_FRAMES]>,
}

impl Message {
    /// A message with no frames yet (sending one gives a single empty frame).
    #[inline]
    pub fn new() -> Message {
        Message::default()
    }

    /// Appends a frame.
    #[inline]
    pub fn push(&mut self, frame: impl Into<Bytes>) {
        self.frames.push(frame.into());
    }

    /// Inserts a frame at the front (ROUTER routing ids, REQ delimiters).
    pub fn push_front(&mut self, frame: impl Into<Bytes>) {
        self.frames.insert(0, frame.into());
    }

    /// Removes and returns the first frame.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        if self.frames.is_empty() {
            None
        } else {
            Some(self.frames.remove(0))
        }
    }

    /// The frames.
    #[inline]
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// The frames, mutably.
    #[inline]
    pub fn frames_mut(&mut self) -> &mut SmallVec<[Bytes; 2]> {
        &mut self.frames
    }

    /// Number of frames.
    #[inline]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are no frames.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// What the message counts for in a receive queue's read-ahead bound
    /// (`READ_AHEAD_MAX`): its bytes, and the size of a frame's handle (`FRAME_COST`, 32
    /// bytes) for each place for one it has (two inline, more in an array of its own
    /// beyond), so that a message of many empty frames costs what it holds too.
    #[inline]
    pub fn queued_cost(&self) -> usize {
        self.byte_len() + self.frames.capacity() * FRAME_COST
    }

    /// [`Message::queued_cost`] of a message of one frame of `len` bytes.
    #[inline]
    pub(crate) const fn one_frame_cost(len: usize) -> usize {
        len + INLINE_FRAMES * FRAME_COST
    }

    /// Sum of the frames' lengths.
    pub fn byte_len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    /// The frames, by value.
    pub fn into_frames(self) -> SmallVec<[Bytes; 2]> {
        self.frames
    }

    /// An iterator over the frames.
    pub fn iter(&self) -> std::slice::Iter<'_, Bytes> {
        self.frames.iter()
    }
}

impl<T: Into<Bytes>> From<T> for Message {
    #[inline]
    fn from(frame: T) -> Message {
        let mut m = Message::new();
        m.push(frame);
        m
    }
}

impl<T: Into<Bytes>> FromIterator<T> for Message {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Message {
        Message {
            frames: iter.into_iter().map(Into::into).collect(),
        }
    }
}

impl IntoIterator for Message {
    type Item = Bytes;
    type IntoIter = smallvec::IntoIter<[Bytes; 2]>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.into_iter()
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Bytes;
    type IntoIter = std::slice::Iter<'a, Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.iter()
    }
}
