//! Frame headers (37/ZMTP "Framing"): a flags byte, then a 1-byte size or, with the LONG
//! flag, an 8-byte big-endian size.

use bytes::{BufMut, Bytes};

use crate::wire;

/// A data frame: one part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// More frames of the same message follow.
    pub more: bool,
    /// The frame's body; a slice of the read buffer when decoded.
    pub body: Bytes,
}

/// A decoded or to-be-encoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    flags: u8,
    size: u64,
}

impl FrameHeader {
    /// A data frame header. LONG is chosen from the size.
    pub fn data(size: u64, more: bool) -> FrameHeader {
        let mut flags = if more { wire::FLAG_MORE } else { 0 };
        if size > wire::SHORT_MAX as u64 {
            flags |= wire::FLAG_LONG;
        }
        FrameHeader { flags, size }
    }

    /// A command frame header.
    pub fn command(size: u64) -> FrameHeader {
        let mut flags = wire::FLAG_COMMAND;
        if size > wire::SHORT_MAX as u64 {
            flags |= wire::FLAG_LONG;
        }
        FrameHeader { flags, size }
    }

    /// Parses a header from the start of `src`. `None`: not all of it has arrived.
    /// Reserved flag bits are ignored (libzmq ignores them too).
    #[inline]
    pub fn parse(src: &[u8]) -> Option<FrameHeader> {
        let flags = *src.first()?;
        if flags & wire::FLAG_LONG != 0 {
            let b: [u8; 8] = src.get(1..9)?.try_into().ok()?;
            Some(FrameHeader {
                flags,
                size: u64::from_be_bytes(b),
            })
        } else {
            let size = u64::from(*src.get(1)?);
            Some(FrameHeader { flags, size })
        }
    }

    /// The body size the header declares.
    #[inline]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The MORE flag.
    #[inline]
    pub fn more(&self) -> bool {
        self.flags & wire::FLAG_MORE != 0
    }

    /// The COMMAND flag.
    #[inline]
    pub fn is_command(&self) -> bool {
        self.flags & wire::FLAG_COMMAND != 0
    }

    /// Bytes the header takes on the wire (2 or 9).
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.flags & wire::FLAG_LONG != 0 {
            9
        } else {
            2
        }
    }

    /// The header's bytes, for a vectored write beside an uncopied body.
    pub fn to_bytes(&self) -> HeaderBytes {
        let mut buf = [0u8; wire::MAX_HEADER_LEN];
        buf[0] = self.flags;
        let len = if self.flags & wire::FLAG_LONG != 0 {
            buf[1..9].copy_from_slice(&self.size.to_be_bytes());
            9
        } else {
            buf[1] = self.size as u8; // short frames have size <= 255 by construction
            2
        };
        HeaderBytes {
            buf,
            len: len as u8,
        }
    }

    /// Appends the header.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(self.to_bytes().as_slice());
    }
}

/// Up to nine header bytes, held inline.
#[derive(Debug, Clone, Copy)]
pub struct HeaderBytes {
    buf: [u8; wire::MAX_HEADER_LEN],
    len: u8,
}

impl HeaderBytes {
    /// The header's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// Appends one data frame, header and body, to `out`. For bodies that should not be
/// copied, write [`FrameHeader::to_bytes`] and the body with a vectored write instead.
pub fn encode_frame(out: &mut impl BufMut, body: &[u8], more: bool) {
    FrameHeader::data(body.len() as u64, more).encode(out);
    out.put_slice(body);
}

/// The two bytes of a data frame's short header, for a body of `len` (at most 255) bytes:
/// a fixed-size value, so that appending it is two stores rather than a copy.
#[inline]
pub fn short_header(len: u8, more: bool) -> [u8; 2] {
    [if more { wire::FLAG_MORE } else { 0 }, len]
}

/// Writes one data frame with a short header (a body of at most 255 bytes) into `buf` at
/// offset `at`, for a caller that sends small messages from a fixed buffer. Returns the
/// end of the frame, or `None` (and writes nothing) when the body needs a long header or
/// the frame does not fit.
#[inline]
pub fn put_short_frame(buf: &mut [u8], at: usize, body: &[u8], more: bool) -> Option<usize> {
    let len = u8::try_from(body.len()).ok()?;
    let end = at.checked_add(2 + body.len())?;
    let dst = buf.get_mut(at..end)?;
    dst[..2].copy_from_slice(&short_header(len, more));
    if !body.is_empty() {
        dst[2..].copy_from_slice(body);
    }
    Some(end)
}

/// Writes one data frame, with the header its body needs (short up to 255 bytes, long
/// beyond), into `buf` at offset `at`, as [`put_short_frame`] does. Returns the end of the
/// frame, or `None` (and writes nothing) when it does not fit.
#[inline]
pub fn put_frame(buf: &mut [u8], at: usize, body: &[u8], more: bool) -> Option<usize> {
    if body.len() <= usize::from(u8::MAX) {
        return put_short_frame(buf, at, body, more);
    }
    let header = FrameHeader::data(body.len() as u64, more).to_bytes();
    let header = header.as_slice();
    let end = at.checked_add(header.len())?.checked_add(body.len())?;
    let dst = buf.get_mut(at..end)?;
    dst[..header.len()].copy_from_slice(header);
    dst[header.len()..].copy_from_slice(body);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_frame_writes_what_encode_frame_appends() {
        for len in [0usize, 1, 255, 256, 1024, 2000] {
            for more in [false, true] {
                let body = vec![0x5Au8; len];
                let mut want = Vec::new();
                encode_frame(&mut want, &body, more);
                let mut buf = [0u8; 2100];
                let end = put_frame(&mut buf, 5, &body, more).unwrap();
                assert_eq!(&buf[5..end], &want[..], "len {len} more {more}");
            }
        }
        // A frame past the buffer's end, long or short: nothing written.
        let mut buf = [0u8; 300];
        assert_eq!(put_frame(&mut buf, 0, &[1u8; 292], false), None);
        assert_eq!(put_frame(&mut buf, 299, &[1u8; 2], false), None);
        assert_eq!(put_frame(&mut buf, usize::MAX, &[1u8; 256], false), None);
        assert!(buf.iter().all(|&b| b == 0));
        assert!(put_frame(&mut buf, 0, &[1u8; 291], false).is_some());
    }

    #[test]
    fn put_short_frame_writes_what_encode_frame_appends() {
        for len in [0usize, 1, 7, 254, 255] {
            for more in [false, true] {
                let body = vec![0xA5u8; len];
                let mut want = Vec::new();
                encode_frame(&mut want, &body, more);
                let mut buf = [0u8; 300];
                let end = put_short_frame(&mut buf, 3, &body, more).unwrap();
                assert_eq!(&buf[3..end], &want[..], "len {len} more {more}");
                assert_eq!(short_header(len as u8, more)[..], want[..2], "len {len}");
            }
        }
        let mut buf = [0u8; 300];
        // A long header's body, and a frame past the buffer's end: nothing written.
        assert_eq!(put_short_frame(&mut buf, 0, &[1u8; 256], false), None);
        assert_eq!(put_short_frame(&mut buf, 290, &[1u8; 9], false), None);
        assert_eq!(put_short_frame(&mut buf, usize::MAX, &[], false), None);
        assert!(buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn short_long_boundary() {
        assert_eq!(
            FrameHeader::data(255, false).to_bytes().as_slice(),
            &[0, 255]
        );
        assert_eq!(
            FrameHeader::data(256, true).to_bytes().as_slice(),
            &[3, 0, 0, 0, 0, 0, 0, 1, 0]
        );
        assert_eq!(FrameHeader::command(5).to_bytes().as_slice(), &[4, 5]);
    }

    #[test]
    fn partial_headers_need_more() {
        assert_eq!(FrameHeader::parse(&[]), None);
        assert_eq!(FrameHeader::parse(&[0]), None);
        assert_eq!(FrameHeader::parse(&[2, 0, 0, 0, 0, 0, 0, 0]), None);
        let h = FrameHeader::parse(&[2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
        assert_eq!(h.size(), u64::MAX);
        assert_eq!(h.header_len(), 9);
    }
}
