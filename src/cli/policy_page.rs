//! whyport-policy(5), the policy file format: the sections "The policy
//! file" and "Findings" of docs/policy.md (compiled in), turned into roff,
//! so that the installed page says what the repository's reference says.

use clap_mangen::roff::{Inline, Roff, bold, roman};

use super::man::{environment, inline, paragraphs, see_also_section};

pub const NAME: &str = "whyport-policy";

const POLICY_MD: &str = include_str!("../../docs/policy.md");

/// The sections of docs/policy.md the page is made of, with the heading
/// they get.
const SECTIONS: &[(&str, &str)] = &[
    ("## The policy file", "DESCRIPTION"),
    ("## Findings", "FINDINGS"),
];

pub fn render(see_also: &[Inline]) -> String {
    let mut roff = Roff::new();
    roff.control(
        "TH",
        [
            NAME,
            "5",
            "",
            concat!("whyport ", env!("CARGO_PKG_VERSION")),
            "whyport manual",
        ],
    );
    roff.control("SH", ["NAME"]);
    roff.text([roman(format!(
        "{NAME} - the port policy file an audit checks a host against"
    ))]);
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([
        bold("whyport audit --policy"),
        roman(" "),
        clap_mangen::roff::italic("FILE"),
    ]);
    roff.control("br", []);
    roff.text([
        bold("whyport policy init -o"),
        roman(" "),
        clap_mangen::roff::italic("FILE"),
    ]);
    for (heading, section) in SECTIONS {
        roff.control("SH", [*section]);
        markdown(&mut roff, section_text(heading));
    }
    environment(&mut roff);
    see_also_section(&mut roff, see_also);
    roff.render()
}

/// The text of the section under `heading`, up to the next `## `.
fn section_text(heading: &str) -> &'static str {
    let Some(start) = POLICY_MD.find(&format!("\n{heading}\n")) else {
        return "";
    };
    let body = &POLICY_MD[start + heading.len() + 2..];
    let end = body.find("\n## ").unwrap_or(body.len());
    &body[..end]
}

/// The little markdown docs/policy.md uses: paragraphs, fenced code
/// (kept as it is, unfilled), tables (a tagged paragraph per row, the
/// last column as its text) and lists.
fn markdown(roff: &mut Roff, text: &str) {
    let mut lines = text.lines().peekable();
    let mut paragraph = String::new();
    let flush = |roff: &mut Roff, paragraph: &mut String| {
        if !paragraph.trim().is_empty() {
            roff.control("PP", []);
            paragraphs(roff, paragraph.trim());
        }
        paragraph.clear();
    };
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            flush(roff, &mut paragraph);
            roff.control("PP", []);
            roff.control("RS", ["4"]);
            roff.control("nf", []);
            for code in lines.by_ref() {
                if code.starts_with("```") {
                    break;
                }
                roff.text([roman(code)]);
            }
            roff.control("fi", []);
            roff.control("RE", []);
        } else if line.starts_with('|') {
            flush(roff, &mut paragraph);
            // The header row and the |---| line.
            lines.next_if(|l| l.starts_with("|-") || l.starts_with("|:"));
            let mut rows = vec![line];
            while let Some(row) = lines.next_if(|l| l.starts_with('|')) {
                rows.push(row);
            }
            for row in rows.iter().skip(1).filter(|r| !r.starts_with("|-")) {
                let cells: Vec<&str> = row.trim().trim_matches('|').split(" | ").collect();
                let Some((text, tags)) = cells.split_last() else {
                    continue;
                };
                roff.control("TP", []);
                let mut tag = Vec::new();
                for (i, t) in tags.iter().enumerate() {
                    if i > 0 {
                        tag.push(roman(" \u{2014} "));
                    }
                    tag.extend(inline(t.trim()));
                }
                roff.text(tag);
                roff.text(inline(text.trim()));
            }
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(roff, &mut paragraph);
            paragraph.push_str(item);
            roff.control("IP", ["\\(bu", "2"]);
            while let Some(more) = lines.next_if(|l| l.starts_with("  ")) {
                paragraph.push(' ');
                paragraph.push_str(more.trim());
            }
            roff.text(inline(&paragraph));
            paragraph.clear();
        } else if line.trim().is_empty() {
            flush(roff, &mut paragraph);
        } else {
            paragraph.push_str(line);
            paragraph.push('\n');
        }
    }
    flush(roff, &mut paragraph);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_reference_tables() {
        let page = render(&[]);
        // Every key and finding id of docs/policy.md's tables is on the page:
        // a renamed heading there would leave a section empty here.
        for key in [
            "ignore_warnings",
            "forwarded",
            "reach",
            "firewalled",
            "process_hex",
            "container",
            "not\\-allowed",
            "shadowed\\-by\\-dnat",
            "default = \"deny\"",
        ] {
            assert!(page.contains(key), "{key} missing:\n{page}");
        }
        assert!(!page.contains("```") && !page.contains("|---"), "{page}");
    }
}
