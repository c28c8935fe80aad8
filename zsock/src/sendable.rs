//! What [`Socket::send`](crate::Socket::send) takes: borrowed bytes, which it copies, or
//! owned ones, which it hands over without a copy.

use bytes::{Bytes, BytesMut};

/// A frame's bytes on their way to [`Socket::send`](crate::Socket::send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Bytes the caller keeps: copied (for a small message, straight into the connection's
    /// batch, so no message is allocated; see [`Socket::send_copy`](crate::Socket::send_copy)).
    Borrowed(&'a [u8]),
    /// Bytes handed over: never copied, the frame is the buffer itself.
    Owned(Bytes),
}

/// A whole message from frames, one per item (borrowed ones copied, owned ones handed
/// over): what [`Socket::send_multipart`](crate::Socket::send_multipart) sends. An empty
/// list is EINVAL: a message has at least one frame.
pub fn multipart<'a, I>(frames: I) -> crate::Result<crate::Message>
where
    I: IntoIterator,
    I::Item: Sendable<'a>,
{
    let msg: crate::Message = frames
        .into_iter()
        .map(|f| f.into_payload().into_bytes())
        .collect();
    if msg.is_empty() {
        return Err(crate::Error::invalid(
            "send_multipart needs at least one frame",
        ));
    }
    Ok(msg)
}

impl Payload<'_> {
    /// The bytes as a frame of their own (borrowed ones copied).
    pub fn into_bytes(self) -> Bytes {
        match self {
            Payload::Borrowed(b) => Bytes::copy_from_slice(b),
            Payload::Owned(b) => b,
        }
    }
}

/// Anything [`Socket::send`](crate::Socket::send) and
/// [`Socket::send_multipart`](crate::Socket::send_multipart) take as a frame: `&[u8]`,
/// `&[u8; N]`, `&str`, `&Vec<u8>` and `&String` are copied; `Vec<u8>`, `String`,
/// `Box<[u8]>`, `Bytes` and `BytesMut` are handed over without a copy (`&Bytes` too: a
/// `Bytes` clone shares the buffer).
pub trait Sendable<'a> {
    /// The bytes, borrowed or owned.
    fn into_payload(self) -> Payload<'a>;
}

impl<'a> Sendable<'a> for Payload<'a> {
    #[inline]
    fn into_payload(self) -> Payload<'a> {
        self
    }
}

macro_rules! borrowed {
    ($($t:ty),*) => {$(
        impl<'a> Sendable<'a> for &'a $t {
            #[inline]
            fn into_payload(self) -> Payload<'a> {
                Payload::Borrowed(self.as_ref())
            }
        }
    )*};
}

borrowed!([u8], str, Vec<u8>, String);

impl<'a, const N: usize> Sendable<'a> for &'a [u8; N] {
    #[inline]
    fn into_payload(self) -> Payload<'a> {
        Payload::Borrowed(self)
    }
}

macro_rules! owned {
    ($($t:ty),*) => {$(
        impl Sendable<'_> for $t {
            #[inline]
            fn into_payload(self) -> Payload<'static> {
                Payload::Owned(Bytes::from(self))
            }
        }
    )*};
}

owned!(Bytes, Vec<u8>, String, Box<[u8]>);

impl Sendable<'_> for BytesMut {
    #[inline]
    fn into_payload(self) -> Payload<'static> {
        Payload::Owned(self.freeze())
    }
}

impl<'a> Sendable<'a> for &'a Bytes {
    #[inline]
    fn into_payload(self) -> Payload<'a> {
        Payload::Owned(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind<'a>(s: impl Sendable<'a>) -> (&'static str, Vec<u8>) {
        match s.into_payload() {
            Payload::Borrowed(b) => ("borrowed", b.to_vec()),
            Payload::Owned(b) => ("owned", b.to_vec()),
        }
    }

    #[test]
    fn borrowed_ones_are_borrowed_and_owned_ones_owned() {
        let v = b"abc".to_vec();
        let s = String::from("abc");
        let b = Bytes::from_static(b"abc");
        for (got, want) in [
            (kind(&b"abc"[..]), "borrowed"),
            (kind(b"abc"), "borrowed"),
            (kind("abc"), "borrowed"),
            (kind(&v), "borrowed"),
            (kind(&s), "borrowed"),
            (kind(&b), "owned"),
            (kind(v.clone()), "owned"),
            (kind(s.clone()), "owned"),
            (kind(b.clone()), "owned"),
            (kind(BytesMut::from(&b"abc"[..])), "owned"),
            (kind(v.clone().into_boxed_slice()), "owned"),
        ] {
            assert_eq!(got, (want, b"abc".to_vec()));
        }
    }

    #[test]
    fn owned_bytes_keep_their_buffer() {
        let v = b"a frame".to_vec();
        let ptr = v.as_ptr();
        let Payload::Owned(b) = v.into_payload() else {
            panic!("a Vec is owned");
        };
        assert_eq!(b.as_ptr(), ptr, "a Vec<u8> is handed over, not copied");
    }
}
