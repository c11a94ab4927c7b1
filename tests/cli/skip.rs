//! Skipping a test: the SKIP line on stderr and, when `WHYPORT_SKIP_LOG`
//! names a file, one line appended to it, so that `.ci/run` (through
//! `tools/skips`) can count the skips that cargo hides and fail on those it
//! should not allow.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;

/// The environment variable naming the skip log; unset, a skip only prints.
pub const SKIP_LOG: &str = "WHYPORT_SKIP_LOG";

/// What a skipped test lacked.
#[derive(Debug, Clone, Copy)]
pub enum Skip<'a> {
    /// A program or package, named as `.ci/run`'s list of the tools it
    /// installs names it (`zsh`, `nft`, `python3-prometheus-client`).
    Tool(&'a str),
    /// Root. Logged as the tool `root`: CI runs as root.
    NotRoot,
    /// Anything else (the host's state, a kernel feature, a lab that could
    /// not be set up); the message is the reason.
    Other,
}

/// Print `SKIP test: message` and log the skip; the caller returns.
pub fn skip(test: &str, why: Skip, message: impl Display) {
    let message = message.to_string();
    eprintln!("SKIP {test}: {message}");
    if let Some(log) = std::env::var_os(SKIP_LOG).filter(|v| !v.is_empty()) {
        record(Path::new(&log), test, why, &message);
    }
}

/// Append one line, `tool<TAB>NAME<TAB>test` or `other<TAB>reason<TAB>test`,
/// in one write to a file opened with O_APPEND: tests skip in parallel.
/// A log that cannot be written fails the test: a lost skip is a silent one.
pub fn record(log: &Path, test: &str, why: Skip, message: &str) {
    let (kind, name) = match why {
        Skip::Tool(tool) => ("tool", tool),
        Skip::NotRoot => ("tool", "root"),
        Skip::Other => ("other", message),
    };
    let line = format!("{kind}\t{}\t{}\n", field(name), field(test));
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .unwrap_or_else(|e| panic!("{SKIP_LOG}={}: {e}", log.display()));
}

/// One field of a line: no tabs or line breaks, at most 200 characters (a
/// reason may quote a command's whole stderr).
fn field(text: &str) -> String {
    let one_line: String = text
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &one_line[..at]),
        None => one_line,
    }
}
