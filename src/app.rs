//! One run of whyport: collect -> explain -> render, and the exit status.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::collect::{self, Details, Request};
use crate::config::{Config, Output};
use crate::explain::{self, why};
use crate::render::{self, Answer};

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
    let targets = &config.targets;
    let asking = !targets.is_empty();
    // Read only what the output shows.
    let details = match config.output {
        Output::Pids => Details::Pid,
        Output::Table { .. } => Details::Identity,
        Output::Json { .. } if asking => Details::Explain,
        Output::Json { .. } => Details::Full,
        Output::Explain => Details::Explain,
    };
    let ports = kernel_ports(config);
    let request = Request {
        protocols: &filter.protocols,
        ports: &ports,
        details,
        user_names: !config.numeric && details != Details::Pid,
    };
    let keep = |s: &crate::model::Socket| {
        filter.matches(s)
            && (!asking
                || targets
                    .iter()
                    .any(|t| t.matches_port(s.port, s.protocol) != Some(false)))
    };
    let snapshot = collect::collect(&config.source, request, keep)?;
    let mut timings = snapshot.timings.clone();
    let explained = Instant::now();
    let mut report = explain::explain(snapshot, !config.numeric);
    let unanswered = if asking {
        why::select(&mut report, targets)
    } else {
        Vec::new()
    };
    // After `select`: `origins` follows `listeners` index for index.
    if matches!(config.output, Output::Table { .. }) {
        report.origins = why::compact_all(&report);
    }
    let answer = asking.then(|| Answer {
        explanations: why::explain_all(&report),
        unanswered: unanswered.clone(),
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    timings.push(("explain", explained.elapsed()));
    for note in &report.notes {
        writeln!(err, "whyport: note: {note}")?;
    }
    let rendered = Instant::now();
    render::render(&report, answer.as_ref(), config.output, config.numeric, out)?;
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
    // Something asked about found nothing: 1, so scripts can tell.
    if (report.listeners.is_empty() && (filter.narrowing || asking)) || !unanswered.is_empty() {
        return Ok(Outcome::NothingMatched);
    }
    Ok(Outcome::Listed)
}

/// The port ranges the kernel may filter on: those of `-p`, intersected
/// with the targets' when every target names ports; none means all.
fn kernel_ports(config: &Config) -> Vec<(u16, u16)> {
    let from_filter: Vec<(u16, u16)> = config
        .filter
        .ports
        .iter()
        .map(|r| (r.start, r.end))
        .collect();
    let from_targets: Option<Vec<(u16, u16)>> = config
        .targets
        .iter()
        .map(|t| t.ports())
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().flatten().map(|r| (r.start, r.end)).collect());
    match from_targets {
        Some(t) if !t.is_empty() && from_filter.is_empty() => t,
        _ => from_filter,
    }
}
