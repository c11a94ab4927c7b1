//! Making untrusted text (process names, command lines, paths) safe to show
//! on a terminal: control, bidi and invisible characters are escaped, and
//! bytes that are not UTF-8 are shown as `\xNN`.

use std::fmt::Write as _;

/// Escape `bytes` for display. Printable text is returned unchanged.
pub fn escape(bytes: &[u8]) -> String {
    escape_with(bytes, false)
}

/// Escape `bytes` reversibly, for machine formats that must stay valid
/// UTF-8 without control characters (CSV, Prometheus labels): as `escape`,
/// and a backslash is doubled, so `\\`, `\xNN` and `\u{N}` can be undone
/// unambiguously and no byte of the original is lost.
pub fn escape_reversible(bytes: &[u8]) -> String {
    escape_with(bytes, true)
}

fn escape_with(bytes: &[u8], backslash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if backslash && c == '\\' {
                out.push_str("\\\\");
            } else if is_dangerous(c) {
                if (c as u32) < 0x80 {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                } else {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `text` as one line for an error or notice: runs of whitespace (newlines
/// included) become one space, and what is left is escaped.
pub fn one_line(text: &str) -> String {
    escape_str(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Escape a string that came from the system (already valid UTF-8).
pub fn escape_str(text: &str) -> String {
    escape(text.as_bytes())
}

/// Characters that move the cursor, change the terminal's state, reorder or
/// hide text: C0/C1 controls and DEL, bidi controls, zero-width and other
/// invisible format characters, and line/paragraph separators.
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(escape(b"nginx: worker process"), "nginx: worker process");
        assert_eq!(
            escape("caf\u{e9} \u{65e5}\u{672c}".as_bytes()),
            "caf\u{e9} \u{65e5}\u{672c}"
        );
    }

    #[test]
    fn controls_bidi_and_invisibles_are_escaped() {
        assert_eq!(escape(b"a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape(b"x\ny\rz\t"), "x\\x0ay\\x0dz\\x09");
        assert_eq!(escape(b"\x7f"), "\\x7f");
        assert_eq!(escape("\u{9b}31m".as_bytes()), "\\u{9b}31m");
        assert_eq!(escape("evil\u{202e}txt".as_bytes()), "evil\\u{202e}txt");
        assert_eq!(
            escape("a\u{200b}b\u{feff}".as_bytes()),
            "a\\u{200b}b\\u{feff}"
        );
        assert_eq!(escape("\u{2028}".as_bytes()), "\\u{2028}");
    }

    #[test]
    fn reversible_escaping_doubles_backslashes() {
        assert_eq!(escape_reversible(b"a\\x41\xff\n"), "a\\\\x41\\xff\\x0a");
        assert_eq!(escape_reversible("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape_reversible("\u{202e}".as_bytes()), "\\u{202e}");
    }

    #[test]
    fn invalid_utf8_bytes_are_shown_as_hex() {
        assert_eq!(escape(b"ab\xff\xfecd"), "ab\\xff\\xfecd");
        assert_eq!(escape(b"\xe2\x82"), "\\xe2\\x82");
    }
}
