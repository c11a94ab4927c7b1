//! One run of whyport: collect -> explain -> render, and the exit status.

use std::io::Write;
use std::time::Instant;

use crate::collect::{self, Details, Request};
use crate::config::{Config, Output};
use crate::explain;
use crate::render;

/// How a successful run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something was listed (or nothing was asked for and nothing is open).
    Listed,
    /// A filter matched no listening socket: exit status 1.
    NothingMatched,
}

/// Run whyport with `config`, writing the result to `out` and notices to
/// `err`. Errors are for the caller to print; a closed pipe is an `io`
/// error of kind `BrokenPipe` in the chain.
pub fn run(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let filter = &config.filter;
    // Read only what the output shows.
    let details = match config.output {
        Output::Pids => Details::Pid,
        Output::Table { .. } => Details::Identity,
        Output::Json { .. } => Details::Full,
    };
    let ports: Vec<(u16, u16)> = filter.ports.iter().map(|r| (r.start, r.end)).collect();
    let request = Request {
        protocols: &filter.protocols,
        ports: &ports,
        details,
        user_names: !config.numeric && details != Details::Pid,
    };
    let snapshot = collect::collect(&config.source, request, |s| filter.matches(s))?;
    let mut timings = snapshot.timings.clone();
    let explained = Instant::now();
    let report = explain::explain(snapshot, !config.numeric);
    timings.push(("explain", explained.elapsed()));
    for note in &report.notes {
        writeln!(err, "whyport: note: {note}")?;
    }
    let rendered = Instant::now();
    render::render(&report, config.output, config.numeric, out)?;
    out.flush()?;
    timings.push(("render", rendered.elapsed()));
    if config.timings {
        let phases: Vec<String> = timings
            .iter()
            .map(|(phase, d)| format!("{phase} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        writeln!(err, "whyport: timings: {}", phases.join(", "))?;
    }
    if let Some(notice) = render::hidden_notice(&report) {
        writeln!(err, "{notice}")?;
    }
    if report.listeners.is_empty() && filter.narrowing {
        return Ok(Outcome::NothingMatched);
    }
    Ok(Outcome::Listed)
}
