//! `whyport diff` output: what opened, closed or changed since a baseline,
//! as a table, JSON (docs/policy.md#baselines), JUnit XML or Prometheus
//! metrics.

use std::io::{self, Write};

use serde::Serialize;

use super::audit::Context;
use super::junit::{self, Case, Suite};
use super::prometheus::{Family, text};
use super::table::Rows;
use crate::audit::baseline::{self, Change, ChangeKind, Diff, Entry};
use crate::config::ReportFormat;
use crate::sanitize::escape_str;

pub fn render(
    diff: &Diff,
    format: ReportFormat,
    cx: &Context,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        ReportFormat::Table => table(diff, cx, out),
        ReportFormat::Json => json(diff, cx, out),
        ReportFormat::Junit => junit_xml(diff, cx, out),
        // Its series are already one per change, without PIDs.
        ReportFormat::Prometheus { .. } => prometheus(diff, cx, out),
    }
}

/// `tcp 0.0.0.0:8080`.
fn socket(e: &Entry) -> String {
    let address = baseline::shown(e);
    let address = if address.contains(':') && !e.dual_stack {
        format!("[{address}]")
    } else {
        address
    };
    let text = format!("{} {address}:{}", escape_str(&e.protocol), e.port);
    match &e.forwarded_to {
        Some(to) => format!("{text} forwarded to {}", escape_str(to)),
        None => text,
    }
}

/// `python3 (42), nginx (7)`, escaped.
fn holders(e: &Entry) -> String {
    if e.processes.is_empty() {
        return format!("({})", escape_str(&e.owner_status));
    }
    e.processes
        .iter()
        .map(|p| format!("{} ({})", p.shown_name(), p.pid))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(diff: &Diff, kind: ChangeKind) -> usize {
    diff.changes.iter().filter(|c| c.kind == kind).count()
}

fn table(diff: &Diff, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    if !diff.changes.is_empty() {
        let mut rows = Rows::default();
        rows.header(["CHANGE", "LISTENER", "PROCESS", "WHAT CHANGED"]);
        for c in &diff.changes {
            rows.push([
                c.kind.as_str().to_string(),
                socket(&c.entry),
                holders(&c.entry),
                c.details.join("; "),
            ]);
        }
        let paint = |col: usize, cell: &str| match (col, cell) {
            (0, "opened") => Some(super::look::RED),
            (0, "closed") => Some(super::look::GREEN),
            (0, _) => Some(super::look::YELLOW),
            (2, _) => Some(super::look::BOLD),
            _ => None,
        };
        rows.write_styled(out, &cx.look, &[2, 3], &paint)?;
        writeln!(out)?;
    }
    let unchanged = diff.kept - count(diff, ChangeKind::Changed);
    writeln!(
        out,
        "{} since {}: {} opened, {} closed, {} changed, {unchanged} unchanged",
        if diff.changes.is_empty() {
            "no change"
        } else {
            "changes"
        },
        escape_str(&cx.source),
        count(diff, ChangeKind::Opened),
        count(diff, ChangeKind::Closed),
        count(diff, ChangeKind::Changed),
    )?;
    if diff.uncompared > 0 {
        writeln!(
            out,
            "note: the owners of {} listener(s) could not be compared, because they were not visible in the baseline or now; take both as root",
            diff.uncompared
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct DiffJson<'a> {
    version: u32,
    baseline: &'a str,
    hostname: &'a str,
    timestamp: &'a str,
    changed: bool,
    opened: usize,
    closed: usize,
    modified: usize,
    unchanged: usize,
    uncompared: usize,
    changes: Vec<ChangeJson<'a>>,
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    change: &'static str,
    protocol: &'a str,
    address: &'a str,
    port: u16,
    dual_stack: bool,
    processes: Vec<OwnerJson<'a>>,
    /// Not a socket: a port a NAT rule forwards there.
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded_to: Option<&'a str>,
    /// For `changed`: the listener as the baseline had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Box<ChangeJson<'a>>>,
    details: &'a [String],
}

#[derive(Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    name: &'a str,
    exe: Option<&'a str>,
    user: Option<&'a str>,
    uid: Option<u32>,
}

fn change_json<'a>(kind: &'static str, e: &'a Entry, c: &'a Change) -> ChangeJson<'a> {
    ChangeJson {
        change: kind,
        protocol: &e.protocol,
        address: &e.address,
        port: e.port,
        dual_stack: e.dual_stack,
        processes: e
            .processes
            .iter()
            .map(|p| OwnerJson {
                pid: p.pid,
                name: &p.name,
                exe: p.exe.as_deref(),
                user: p.user.as_deref(),
                uid: p.uid,
            })
            .collect(),
        forwarded_to: e.forwarded_to.as_deref(),
        before: None,
        details: &c.details,
    }
}

fn json(diff: &Diff, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let changes = diff
        .changes
        .iter()
        .map(|c| {
            let mut j = change_json(c.kind.as_str(), &c.entry, c);
            j.before = c
                .before
                .as_ref()
                .map(|b| Box::new(change_json("before", b, c)));
            j
        })
        .collect();
    let doc = DiffJson {
        version: 1,
        baseline: &cx.source,
        hostname: &cx.hostname,
        timestamp: &cx.timestamp,
        changed: !diff.changes.is_empty(),
        opened: count(diff, ChangeKind::Opened),
        closed: count(diff, ChangeKind::Closed),
        modified: count(diff, ChangeKind::Changed),
        unchanged: diff.kept - count(diff, ChangeKind::Changed),
        uncompared: diff.uncompared,
        changes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// One failing case per change, and one passing case summing up what did
/// not change, in suite `whyport.diff`.
fn junit_xml(diff: &Diff, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let mut cases: Vec<Case> = diff
        .changes
        .iter()
        .map(|c| {
            let message = match c.kind {
                ChangeKind::Opened => {
                    format!("{} opened, held by {}", socket(&c.entry), holders(&c.entry))
                }
                ChangeKind::Closed => format!(
                    "{} closed (was held by {})",
                    socket(&c.entry),
                    holders(&c.entry)
                ),
                ChangeKind::Changed => {
                    format!("{} changed: {}", socket(&c.entry), c.details.join("; "))
                }
            };
            Case {
                name: format!("{} {}", c.kind.as_str(), socket(&c.entry)),
                failure: Some((c.kind.as_str().to_string(), message.clone(), message)),
                output: None,
            }
        })
        .collect();
    cases.push(Case {
        name: "unchanged listeners".into(),
        failure: None,
        output: Some(format!(
            "{} listener(s) as in the baseline",
            diff.kept - count(diff, ChangeKind::Changed)
        )),
    });
    junit::write(
        "whyport diff",
        &[Suite {
            name: "whyport.diff",
            cases,
        }],
        cx.timestamp.trim_end_matches('Z'),
        &cx.hostname,
        &[("baseline", cx.source.clone())],
        out,
    )
}

fn prometheus(diff: &Diff, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let mut totals = Family::gauge(
        "whyport_baseline_changes",
        "Listeners opened, closed or changed since the baseline.",
    );
    for kind in [ChangeKind::Opened, ChangeKind::Closed, ChangeKind::Changed] {
        totals.set(
            vec![("change", kind.as_str().to_string())],
            count(diff, kind) as f64,
        );
    }
    let mut each = Family::gauge(
        "whyport_baseline_change",
        "One series per listener that opened, closed or changed since the baseline.",
    );
    for c in &diff.changes {
        let e = &c.entry;
        let mut names: Vec<String> = e.processes.iter().map(|p| text(&p.raw_name())).collect();
        names.sort();
        names.dedup();
        each.add(
            vec![
                ("change", c.kind.as_str().to_string()),
                ("protocol", text(e.protocol.as_bytes())),
                ("address", text(e.address.as_bytes())),
                ("dual_stack", e.dual_stack.to_string()),
                ("port", e.port.to_string()),
                ("process", names.join(",")),
            ],
            1.0,
        );
    }
    totals.write(out)?;
    each.write(out)?;
    let mut when = Family::gauge(
        "whyport_baseline_diff_timestamp_seconds",
        "When the comparison ran, in seconds since the Unix epoch.",
    );
    when.set(
        vec![("baseline", text(cx.source.as_bytes()))],
        cx.unix_time as f64,
    );
    when.write(out)
}
