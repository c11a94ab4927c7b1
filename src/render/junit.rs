//! JUnit XML, the report format CI systems show natively: suites of test
//! cases, a case failing with a message. Text is escaped for a terminal
//! first (XML 1.0 cannot carry most control characters even as
//! references), then for XML.

use std::io::{self, Write};

use crate::sanitize::escape_str;

/// One test case: passes unless it has a failure.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// (type, message, body).
    pub failure: Option<(String, String, String)>,
    /// Shown as the case's output (what it covered).
    pub output: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Suite {
    /// Also the class name of its cases: `whyport.audit.rules`.
    pub name: &'static str,
    pub cases: Vec<Case>,
}

/// Write `<testsuites>` with `suites`. `timestamp` is ISO 8601 without a
/// zone (as the schema wants), `hostname` the host audited.
pub fn write(
    name: &str,
    suites: &[Suite],
    timestamp: &str,
    hostname: &str,
    properties: &[(&str, String)],
    out: &mut dyn Write,
) -> io::Result<()> {
    let count = |s: &Suite| s.cases.iter().filter(|c| c.failure.is_some()).count();
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(count).sum();
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">",
        xml(name)
    )?;
    for (id, s) in suites.iter().enumerate() {
        writeln!(
            out,
            "  <testsuite name=\"{}\" id=\"{id}\" package=\"whyport\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"{}\" hostname=\"{}\">",
            xml(s.name),
            s.cases.len(),
            count(s),
            xml(timestamp),
            xml(hostname)
        )?;
        writeln!(out, "    <properties>")?;
        for (k, v) in properties {
            writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml(k),
                xml(v)
            )?;
        }
        writeln!(out, "    </properties>")?;
        for c in &s.cases {
            write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                xml(&c.name),
                xml(s.name)
            )?;
            if c.failure.is_none() && c.output.is_none() {
                writeln!(out, "/>")?;
                continue;
            }
            writeln!(out, ">")?;
            if let Some((kind, message, body)) = &c.failure {
                writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml(message),
                    xml(kind),
                    xml(body)
                )?;
            }
            if let Some(o) = &c.output {
                writeln!(out, "      <system-out>{}</system-out>", xml(o))?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "    <system-out/>")?;
        writeln!(out, "    <system-err/>")?;
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// Escaped for a terminal (no control characters survive; a newline is
/// kept as a line break for bodies), then for XML text and attributes.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("&#10;");
        }
        for c in escape_str(line).chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_safe_in_xml() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(xml("x\u{1b}]0;t\u{7}"), "x\\x1b]0;t\\x07");
        assert_eq!(xml("one\ntwo"), "one&#10;two");
    }
}
