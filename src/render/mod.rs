//! Turning a report into bytes: one module per output format. Renderers
//! write to a `&mut dyn Write` and never print on their own.

pub mod audit;
mod csv;
pub mod diff;
mod explain;
mod json;
mod json_firewall;
mod json_why;
mod junit;
pub mod look;
mod prometheus;
mod table;
pub mod watch;

use std::io::{self, Write};

use crate::config::Output;
use crate::explain::why::Explanation;
use crate::model::HiddenReason;
use crate::report::{HiddenSummary, OwnerStatus, Report};

/// The answer to `whyport TARGET...`: an explanation per listener (the
/// targets nothing answers are the report's `unanswered`).
pub struct Answer<'a> {
    pub explanations: Vec<Explanation<'a>>,
    /// Seconds since the epoch, for "started 3h ago".
    pub now: u64,
}

/// Write `report` (and, for targets, the answer) in the chosen format.
pub fn render(
    report: &Report,
    answer: Option<&Answer<'_>>,
    output: Output,
    numeric: bool,
    look: &look::Look,
    out: &mut dyn Write,
) -> io::Result<()> {
    match (output, answer) {
        (Output::Table { header }, _) => table::render(report, header, numeric, look, out),
        (Output::Json { pretty }, _) => json::render(report, answer, pretty, out),
        (Output::Pids, _) => pids(report, out),
        (Output::Csv { header }, _) => csv::render(report, header, out),
        (Output::Ndjson, _) => json::render_ndjson(report, out),
        (Output::Explain, Some(a)) => explain::render(report, a, look, out),
        (Output::Explain, None) => Ok(()),
    }
}

/// The one-line notice for stderr about listeners in other network
/// namespaces that the listing leaves out, or `None`.
pub fn elsewhere_notice(report: &Report) -> Option<String> {
    let (n, spaces) = report.other_listeners?;
    if n == 0 || report.all_namespaces {
        return None;
    }
    Some(format!(
        "whyport: {n} more listener{} in {spaces} other network namespace{} (containers, ip netns) not shown; whyport -A lists them",
        plural(n),
        plural(spaces)
    ))
}

/// The short notice for stderr when owners could not be seen, or `None`:
/// what is missing and the shortest why, in one line a run can end with
/// every time (`hidden_details` has the rest, for `--verbose`).
pub fn hidden_notice(report: &Report) -> Option<String> {
    let h = &report.hidden;
    let reason = h.reason?;
    if h.hidden == 0 && h.partial == 0 {
        return None;
    }
    let counts = match (h.hidden, h.partial) {
        (0, p) => format!("{p} socket{} with owners maybe incomplete", plural(p)),
        (n, 0) => format!("{n} socket{} without owner", plural(n)),
        (n, p) => format!(
            "{n} socket{} without owner, {p} maybe incomplete",
            plural(n)
        ),
    };
    let why = match reason {
        HiddenReason::NotRoot => "not root, use sudo".to_string(),
        HiddenReason::Hidepid => "hidepid, use sudo".to_string(),
        HiddenReason::PidNamespace => "own PID namespace, run on the host".to_string(),
        HiddenReason::FdUnreadable => match h.unreadable_pids.as_slice() {
            [one] => format!("pid {one} refuses root"),
            pids => format!("{} pids refuse root", pids.len()),
        },
    };
    Some(format!("whyport: {counts}: {why}; see -v"))
}

fn shows(n: usize) -> &'static str {
    if n == 1 { "shows" } else { "show" }
}

/// The full notice for stderr when owners could not be seen (`--verbose`),
/// or `None`: counts, why, and what to do.
pub fn hidden_details(report: &Report) -> Option<String> {
    let h = &report.hidden;
    let reason = h.reason?;
    if h.hidden == 0 && h.partial == 0 {
        return None;
    }
    let counts = match (h.hidden, h.partial) {
        (0, p) => format!("{p} socket{} may have more owners than shown", plural(p)),
        (n, 0) => format!("{n} socket{} {} no owner", plural(n), shows(n)),
        (n, p) => format!(
            "{n} socket{} {} no owner and {p} may have more owners than shown",
            plural(n),
            shows(n)
        ),
    };
    let (why, fix) = why_hidden(h, reason);
    Some(format!("whyport: {counts}: {why}; {fix}"))
}

/// Why owners could not be seen, and what to do about it.
fn why_hidden(h: &HiddenSummary, reason: HiddenReason) -> (String, &'static str) {
    let (why, fix) = match reason {
        HiddenReason::NotRoot => (
            "not running as root, other users' processes cannot be inspected",
            "run it with sudo to see every owner",
        ),
        HiddenReason::Hidepid => (
            "/proc is mounted with hidepid, other users' processes are invisible",
            "run it with sudo (or as a member of the proc mount's gid=) to see every owner",
        ),
        HiddenReason::FdUnreadable => (
            "",
            "run it with CAP_SYS_PTRACE outside any sandbox or security profile to see every owner",
        ),
        HiddenReason::PidNamespace => (
            "whyport runs in a PID namespace of its own (a container), processes outside it are invisible",
            "run it on the host, outside the container, to see every owner",
        ),
    };
    let why = if why.is_empty() {
        let pids = &h.unreadable_pids;
        let mut list: Vec<String> = pids.iter().take(5).map(u32::to_string).collect();
        if pids.len() > 5 {
            list.push(format!("+{} more", pids.len() - 5));
        }
        format!(
            "{} process{} (pid {}) refused access to {} open files even to root",
            pids.len(),
            if pids.len() == 1 { "" } else { "es" },
            list.join(", "),
            if pids.len() == 1 { "its" } else { "their" }
        )
    } else {
        why.to_string()
    };
    (why, fix)
}

/// For `-q`: the listeners asked about whose owners could not be seen at
/// all, said in one line, or `None` when every one shows its owners (or is
/// the kernel's), with what to do. Printing no PID for them would read as
/// "nothing to kill".
pub fn unseen_owners(report: &Report) -> Option<(String, &'static str)> {
    let unseen: Vec<&crate::report::Listener> = report
        .listeners
        .iter()
        .filter(|l| matches!(l.owner_status, OwnerStatus::Hidden(_)))
        .collect();
    let first = unseen.first()?;
    let reason = match first.owner_status {
        OwnerStatus::Hidden(r) => r,
        _ => return None,
    };
    let more = match unseen.len() {
        1 => String::new(),
        n => format!(" and {} other listener{}", n - 1, plural(n - 1)),
    };
    let (why, fix) = why_hidden(&report.hidden, reason);
    let message = format!(
        "cannot name the owner of {} {}:{}{more}: {why}",
        first.protocol.as_str(),
        first.address_shown(true),
        first.port
    );
    Some((message, fix))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Owning PIDs, each once, in ascending order.
fn pids(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut pids: Vec<u32> = report
        .listeners
        .iter()
        .flat_map(|l| l.owners.iter().map(|o| o.process.pid))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    for pid in pids {
        writeln!(out, "{pid}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
