//! Messages as text lines: frames separated by TAB; a frame that is not printable UTF-8,
//! holds a TAB or newline, or would read back as hex, is written as `0x` + lowercase hex.

use zsock::{Bytes, Message};

fn is_hex_form(s: &str) -> bool {
    s.strip_prefix("0x").is_some_and(|h| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn printable(f: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(f).ok()?;
    if s.chars().any(char::is_control) || is_hex_form(s) {
        return None;
    }
    Some(s)
}

/// One message as one line (without the newline).
pub(crate) fn format_message(m: &Message) -> String {
    let mut out = String::new();
    for (i, f) in m.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match printable(f) {
            Some(s) => out.push_str(s),
            None => {
                out.push_str("0x");
                for b in f.iter() {
                    out.push_str(&format!("{b:02x}"));
                }
            }
        }
    }
    out
}

/// One line (without its newline) as a message. `0x` followed by an even number of
/// lowercase hex digits is read as bytes; anything else is text.
pub(crate) fn parse_line(line: &str) -> Message {
    line.split('\t')
        .map(|f| match decode_hex(f) {
            Some(b) => Bytes::from(b),
            None => Bytes::copy_from_slice(f.as_bytes()),
        })
        .collect()
}

fn decode_hex(f: &str) -> Option<Vec<u8>> {
    if !is_hex_form(f) {
        return None;
    }
    let h = &f.as_bytes()[2..];
    if h.len() % 2 != 0 {
        return None;
    }
    h.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text_binary_and_look_alikes() {
        let msgs: Vec<Message> = vec![
            Message::from("hello"),
            ["a", "", "b c"].into_iter().collect(),
            Message::from(vec![0u8, 1, 0xff]),
            Message::from("tab\there"),
            Message::from("0xab"), // text that looks like hex goes out as hex
            Message::from("0x"),
            Message::from(""),
            Message::from("naïve ✓"),
        ];
        for m in msgs {
            let line = format_message(&m);
            assert!(!line.contains('\n'));
            assert_eq!(parse_line(&line), m, "{line}");
        }
        assert_eq!(format_message(&Message::from(vec![0u8, 0xab])), "0x00ab");
        assert_eq!(parse_line("0x0g"), Message::from("0x0g"));
        assert_eq!(parse_line("0xABCD"), Message::from("0xABCD"));
    }
}
