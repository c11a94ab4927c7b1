//! The man pages: whyport(1), one per command (whyport-audit(1), ...),
//! generated from the same definition as `--help` (clap_mangen for the
//! options, our own NAME and SYNOPSIS, which clap_mangen writes with the
//! name twice and without option values), and whyport-policy(5).

use clap::CommandFactory;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use super::help::{self, Example};
use super::{Args, policy_page};

/// One page: its name (`whyport-audit`), section and roff text.
pub struct Page {
    pub name: String,
    pub section: &'static str,
    pub text: String,
}

impl Page {
    /// The file name it is installed as: `whyport-audit.1`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.name, self.section)
    }

    /// Whether `asked` names this page: `audit`, `whyport-audit`,
    /// `whyport-audit.1`, `policy-init`, `policy.5`; a name without a
    /// section is the section 1 page.
    pub fn is(&self, asked: &str) -> bool {
        let (name, section) = match asked.rsplit_once('.') {
            Some((n, s)) => (n, s),
            None => (asked, "1"),
        };
        let name = name.replace(' ', "-");
        section == self.section
            && (self.name == name || self.name.strip_prefix("whyport-") == Some(&name))
    }
}

/// The title line's source and manual fields.
const SOURCE: &str = concat!("whyport ", env!("CARGO_PKG_VERSION"));
const MANUAL: &str = "whyport manual";

/// Every page, whyport(1) first.
pub fn pages() -> Vec<Page> {
    let mut root = Args::command().disable_help_subcommand(true);
    root.build();
    let mut commands = vec![root.clone()];
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        commands.push(sub.clone());
        commands.extend(sub.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    }
    let names: Vec<(String, &'static str)> = commands
        .iter()
        .map(|c| (name(c).to_owned(), "1"))
        .chain([(policy_page::NAME.to_owned(), "5")])
        .collect();
    let mut pages: Vec<Page> = commands
        .iter()
        .map(|c| Page {
            name: name(c).to_owned(),
            section: "1",
            text: command_page(c, &names),
        })
        .collect();
    pages.push(Page {
        name: policy_page::NAME.to_owned(),
        section: "5",
        text: policy_page::render(&see_also(&names, policy_page::NAME, "5")),
    });
    for page in &mut pages {
        page.text = ascii(&page.text);
    }
    pages
}

/// Roff input is ASCII (groff reads bytes as Latin-1 unless run through
/// preconv): every other character becomes its `\[uXXXX]` escape.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}

fn name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// What each page adds to the options: examples, exit statuses, notes.
fn extras(
    name: &str,
) -> (
    &'static [Example],
    &'static [(&'static str, &'static str)],
    &'static str,
) {
    match name {
        "whyport" => (help::LIST, help::EXIT_LIST, help::LIST_NOTES),
        "whyport-audit" => (help::AUDIT, help::EXIT_AUDIT, ""),
        "whyport-diff" => (help::DIFF, help::EXIT_DIFF, ""),
        "whyport-snapshot" => (help::SNAPSHOT, help::EXIT_OTHER, ""),
        "whyport-policy" | "whyport-policy-init" => (help::POLICY, help::EXIT_OTHER, ""),
        "whyport-watch" => (help::WATCH, help::EXIT_OTHER, ""),
        "whyport-completions" => (help::COMPLETIONS, help::EXIT_OTHER, ""),
        "whyport-man" => (help::MAN, help::EXIT_OTHER, ""),
        _ => (&[], help::EXIT_OTHER, ""),
    }
}

fn command_page(cmd: &clap::Command, names: &[(String, &'static str)]) -> String {
    let name = name(cmd);
    let (examples, exit, notes) = extras(name);
    let mut head = Roff::new();
    head.control("TH", [name, "1", "", SOURCE, MANUAL]);
    head.control("SH", ["NAME"]);
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    head.text([roman(format!("{name} - {}", summary(&about)))]);
    head.control("SH", ["SYNOPSIS"]);
    synopsis(&mut head, cmd);
    head.control("SH", ["DESCRIPTION"]);
    let description = cmd
        .get_long_about()
        .or_else(|| cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    paragraphs(&mut head, &description);
    let mut text = head.render();
    let man = clap_mangen::Man::new(cmd.clone());
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        text.push_str(&body(|w| man.render_options_section(w)));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        text.push_str(&body(|w| man.render_subcommands_section(w)));
    }
    let mut tail = Roff::new();
    if !examples.is_empty() {
        tail.control("SH", ["EXAMPLES"]);
        for e in examples {
            tail.control("TP", []);
            tail.text([bold(e.command)]);
            tail.text(inline(e.does));
        }
    }
    tail.control("SH", ["EXIT STATUS"]);
    for (code, says) in exit {
        tail.control("TP", []);
        tail.text([bold(*code)]);
        tail.text(inline(says));
    }
    environment(&mut tail);
    if !notes.is_empty() {
        tail.control("SH", ["NOTES"]);
        paragraphs(&mut tail, notes);
    }
    see_also_section(&mut tail, &see_also(names, name, "1"));
    text.push_str(&body(|w| tail.to_writer(w)));
    text
}

/// The ENVIRONMENT section, the same on every page.
pub(super) fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (var, says) in help::ENVIRONMENT {
        roff.control("TP", []);
        roff.text([bold(*var)]);
        roff.text(inline(says));
    }
}

/// Every other page, as SEE ALSO names them.
fn see_also(names: &[(String, &'static str)], own: &str, section: &str) -> Vec<Inline> {
    let mut line = Vec::new();
    for (name, s) in names.iter().filter(|(n, s)| !(n == own && *s == section)) {
        if !line.is_empty() {
            line.push(roman(", "));
        }
        line.push(bold(name.as_str()));
        line.push(roman(format!("({s})")));
    }
    line
}

pub(super) fn see_also_section(roff: &mut Roff, line: &[Inline]) {
    roff.control("SH", ["SEE ALSO"]);
    roff.text(line.to_vec());
    roff.control("PP", []);
    roff.text([roman(
        "The full documentation, with the JSON schema: /usr/share/doc/whyport (docs/ in the source).",
    )]);
}

/// A section rendered on its own, without roff's preamble (the page
/// already has it once).
fn body(render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> String {
    let mut bytes = Vec::new();
    // Writing to a Vec does not fail.
    let _ = render(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let preamble = Roff::new().render();
    text.strip_prefix(&preamble).unwrap_or(&text).to_owned()
}

/// The NAME line's description: the about, lowercase first as man pages
/// have it ("check every listener", not "Check every listener").
fn summary(about: &str) -> String {
    let about = about.trim().trim_end_matches('.');
    let mut chars = about.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() || second == ' ' => {
            first.to_lowercase().chain(about.chars().skip(1)).collect()
        }
        _ => about.to_owned(),
    }
}

/// `whyport audit [-n] [-o FILE] --policy FILE [--format FORMAT] ...`:
/// every option with its value, as clap_mangen's synopsis leaves them out.
fn synopsis(roff: &mut Roff, cmd: &clap::Command) {
    let bin = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut line = vec![bold(bin)];
    let options = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional() && !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"));
    for arg in options {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(short), _) => format!("-{short}"),
            (None, Some(long)) => format!("--{long}"),
            (None, None) => continue,
        };
        let required = arg.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(bold(flag));
        if arg.get_num_args().is_some_and(|n| n.takes_values())
            && let Some(values) = arg.get_value_names()
        {
            line.push(roman(" "));
            line.push(italic(values.join(" ")));
        }
        if !required {
            line.push(roman("]"));
        }
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .map_or_else(|| arg.get_id().to_string(), |v| v.join(" "));
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let required = arg.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(italic(value));
        line.push(roman(match (required, many) {
            (true, false) => "",
            (true, true) => "...",
            (false, false) => "]",
            (false, true) => "]...",
        }));
    }
    roff.text(line);
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        roff.control("br", []);
        roff.text([bold(bin), roman(" "), italic("COMMAND"), roman(" ...")]);
    }
}

/// Text whose paragraphs are separated by blank lines, each filled.
pub(super) fn paragraphs(roff: &mut Roff, text: &str) {
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text(inline(&paragraph.replace('\n', " ")));
    }
}

/// Markdown's inline marks as roff fonts: `code` and **strong** in bold,
/// *emphasis* in italic, a link as its text.
pub(super) fn inline(text: &str) -> Vec<Inline> {
    #[derive(Clone, Copy, PartialEq)]
    enum Font {
        Roman,
        Bold,
        Italic,
    }
    let mut out = Vec::new();
    let mut run = String::new();
    let mut font = Font::Roman;
    let mut code = false;
    let flush = |run: &mut String, font: Font, out: &mut Vec<Inline>| {
        if !run.is_empty() {
            let t = std::mem::take(run);
            out.push(match font {
                Font::Roman => roman(t),
                Font::Bold => bold(t),
                Font::Italic => italic(t),
            });
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '`' {
            flush(&mut run, font, &mut out);
            code = !code;
            font = if code { Font::Bold } else { Font::Roman };
        } else if code {
            run.push(c);
        } else if c == '*' && next == Some('*') {
            flush(&mut run, font, &mut out);
            font = if font == Font::Bold {
                Font::Roman
            } else {
                Font::Bold
            };
            i += 1;
        } else if c == '*' && (font == Font::Italic || next.is_some_and(|n| n.is_alphanumeric())) {
            flush(&mut run, font, &mut out);
            font = if font == Font::Italic {
                Font::Roman
            } else {
                Font::Italic
            };
        } else if c == ']' && next == Some('(') {
            // [text](target): keep the text, drop the target.
            match chars[i..].iter().position(|&c| c == ')') {
                Some(end) => i += end,
                None => run.push(c),
            }
        } else if c == '[' && chars[i..].contains(&']') {
            // The opening bracket of a link; a lone one is kept.
            let close = chars[i..].iter().position(|&c| c == ']').unwrap_or(0);
            if chars.get(i + close + 1) != Some(&'(') {
                run.push(c);
            }
        } else {
            run.push(c);
        }
        i += 1;
    }
    flush(&mut run, font, &mut out);
    out
}

/// `whyport man [PAGE]`: the page's roff; `None` when no page has that
/// name.
pub fn man(page: Option<&str>) -> Option<Page> {
    let asked = page.unwrap_or("whyport");
    pages().into_iter().find(|p| p.is(asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_found_by_short_and_full_names() {
        let found = |asked| man(Some(asked)).map(|p| p.file_name());
        assert_eq!(found("audit").as_deref(), Some("whyport-audit.1"));
        assert_eq!(found("whyport-audit.1").as_deref(), Some("whyport-audit.1"));
        assert_eq!(
            found("policy init").as_deref(),
            Some("whyport-policy-init.1")
        );
        assert_eq!(found("policy").as_deref(), Some("whyport-policy.1"));
        assert_eq!(found("policy.5").as_deref(), Some("whyport-policy.5"));
        assert_eq!(
            man(None).map(|p| p.file_name()).as_deref(),
            Some("whyport.1")
        );
        assert!(found("nope").is_none() && found("audit.5").is_none());
    }

    #[test]
    fn markdown_marks_become_fonts() {
        let r = |t: &str| {
            let mut roff = Roff::new();
            roff.text(inline(t));
            roff.to_roff()
        };
        assert_eq!(r("a `b*c` d"), "a \\fBb*c\\fR d\n");
        assert_eq!(
            r("**Order.** x *y* [z](z.md#q) [w]"),
            "\\fBOrder.\\fR x \\fIy\\fR z [w]\n"
        );
    }
}
