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
    escape_with_into(&mut out, bytes, backslash);
    out
}

/// `escape(bytes)` appended to `out`, without a String of its own.
pub fn escape_into(out: &mut String, bytes: &[u8]) {
    escape_with_into(out, bytes, false)
}

fn escape_with_into(out: &mut String, bytes: &[u8], backslash: bool) {
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

/// Characters that move the cursor, change the terminal's state, reorder,
/// hide or fake text. The one test of what is escaped: the renderers,
/// errors and `policy init` (for TOML values) all ask it.
pub fn is_dangerous(c: char) -> bool {
    // Cc: C0 controls, DEL and C1 controls.
    c.is_control()
        || matches!(c,
            // Line and paragraph separators.
            '\u{2028}' | '\u{2029}'
            // Default_Ignorable_Code_Point (DerivedCoreProperties.txt),
            // which takes in the bidi controls (U+061C, U+200E/F,
            // U+202A-202E, U+2066-2069), the zero-width characters and the
            // tag characters (U+E0000 block).
            | '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
            // Interlinear annotation controls: they hide the text between
            // them in renderers that honour them.
            | '\u{fff9}'..='\u{fffb}'
            // Blank look-alikes that are not default-ignorable: Braille
            // blank and the Hangul fillers (U+3164, U+115F, U+1160, U+FFA0
            // are listed above) show as nothing or as a space.
            | '\u{2800}')
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

    /// Every class that must be escaped: some members, both ends of each
    /// range, and the neighbours just outside that must pass unchanged.
    /// Written out by hand (not derived from `is_dangerous`), from
    /// Unicode's DerivedCoreProperties.txt for the default-ignorables.
    #[test]
    fn every_dangerous_class_is_escaped_and_its_neighbours_are_not() {
        type Class = (&'static str, &'static [u32], &'static [u32]);
        const CLASSES: &[Class] = &[
            (
                "C0 controls",
                &[0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x1f],
                &[0x20, 0x41],
            ),
            ("DEL", &[0x7f], &[0x7e]),
            ("C1 controls", &[0x80, 0x85, 0x9b, 0x9f], &[0xa0, 0xa1]),
            ("bidi: marks", &[0x200e, 0x200f, 0x061c], &[0x061b, 0x061d]),
            (
                "bidi: embeddings, overrides",
                &[0x202a, 0x202d, 0x202e],
                &[0x202f],
            ),
            ("bidi: isolates", &[0x2066, 0x2067, 0x2068, 0x2069], &[]),
            (
                "line and paragraph separators",
                &[0x2028, 0x2029],
                &[0x2027],
            ),
            ("soft hyphen", &[0x00ad], &[0x00ac, 0x00ae]),
            ("combining grapheme joiner", &[0x034f], &[0x034e, 0x0350]),
            (
                "Hangul choseong/jungseong fillers",
                &[0x115f, 0x1160],
                &[0x115e, 0x1161],
            ),
            (
                "Khmer inherent vowels",
                &[0x17b4, 0x17b5],
                &[0x17b3, 0x17b6],
            ),
            (
                "Mongolian selectors, vowel separator",
                &[0x180b, 0x180e, 0x180f],
                &[0x180a, 0x1810],
            ),
            (
                "zero-width space, joiners",
                &[0x200b, 0x200c, 0x200d],
                &[0x200a, 0x2010],
            ),
            (
                "word joiner, invisible operators",
                &[0x2060, 0x2064, 0x2065, 0x206a, 0x206f],
                &[0x205f, 0x2070],
            ),
            ("Hangul filler", &[0x3164], &[0x3163, 0x3165]),
            ("variation selectors", &[0xfe00, 0xfe0f], &[0xfdff, 0xfe10]),
            ("byte order mark", &[0xfeff], &[0xfefe, 0xff01]),
            ("halfwidth Hangul filler", &[0xffa0], &[0xff9f, 0xffa1]),
            (
                "reserved, interlinear annotation",
                &[0xfff0, 0xfff8, 0xfff9, 0xfffb],
                &[0xffef, 0xfffc, 0xfffd],
            ),
            (
                "shorthand format controls",
                &[0x1bca0, 0x1bca3],
                &[0x1bc9f, 0x1bca4],
            ),
            (
                "musical beam and phrase controls",
                &[0x1d173, 0x1d17a],
                &[0x1d172, 0x1d17b],
            ),
            (
                "tags, variation selectors 17-256",
                &[
                    0xe0000, 0xe0001, 0xe0041, 0xe007f, 0xe0100, 0xe01ef, 0xe0fff,
                ],
                &[0xdffff, 0xe1000],
            ),
            ("Braille blank", &[0x2800], &[0x27ff, 0x2801]),
        ];
        let mut checked = 0;
        for (class, members, neighbours) in CLASSES {
            for &m in *members {
                let c = char::from_u32(m).unwrap_or_else(|| panic!("{m:x}"));
                assert!(is_dangerous(c), "{class}: U+{m:04X} must be escaped");
                let shown = escape_str(&format!("a{c}b"));
                assert!(!shown.contains(c), "{class}: U+{m:04X} shown raw");
                checked += 1;
            }
            for &n in *neighbours {
                let c = char::from_u32(n).unwrap_or_else(|| panic!("{n:x}"));
                assert!(!is_dangerous(c), "{class}: U+{n:04X} must pass");
                assert_eq!(escape_str(&format!("a{c}b")), format!("a{c}b"), "{class}");
            }
        }
        assert!(checked > 60);
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
