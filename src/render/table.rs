//! The human-readable table: one row per listening socket. Every piece of
//! process text is escaped first; comfy-table would pass escape sequences
//! through and turn an embedded newline into a forged row.

use std::collections::HashMap;
use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};

use crate::model::{HiddenReason, Process};
use crate::report::{Listener, OwnerStatus, Report};
use crate::sanitize::{escape, escape_str};

pub(super) fn render(
    report: &Report,
    header: bool,
    numeric: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if report.listeners.is_empty() {
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    if header {
        table.set_header([
            "PROTO", "ADDRESS", "PORT", "SERVICE", "PID(S)", "PROCESS", "USER",
        ]);
    }
    let mut names: HashMap<u32, (String, String)> = HashMap::new();
    for l in &report.listeners {
        table.add_row(row(l, numeric, &mut names));
    }
    for line in table.lines() {
        // presets::NOTHING pads every cell by one space on both sides.
        let line = line.strip_prefix(' ').unwrap_or(&line);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// One row; `names` caches each process's escaped name and user, since one
/// process may hold thousands of sockets.
fn row(l: &Listener, numeric: bool, names: &mut HashMap<u32, (String, String)>) -> Vec<String> {
    let service = l.service.map_or(String::new(), |s| s.name.to_string());
    let (pids, names, users) = match l.owner_status {
        OwnerStatus::Hidden(reason) => (
            "-".into(),
            format!("(hidden: {})", why(reason)),
            String::new(),
        ),
        OwnerStatus::Kernel => ("-".into(), "(kernel)".into(), String::new()),
        OwnerStatus::Visible | OwnerStatus::Partial(_) => {
            let pids: Vec<String> = l.owners.iter().map(|o| o.process.pid.to_string()).collect();
            for o in &l.owners {
                names
                    .entry(o.process.pid)
                    .or_insert_with(|| owner_text(&o.process, numeric));
            }
            let texts: Vec<&(String, String)> = l
                .owners
                .iter()
                .filter_map(|o| names.get(&o.process.pid))
                .collect();
            (
                pids.join(","),
                unique(texts.iter().map(|t| t.0.as_str())),
                unique(texts.iter().map(|t| t.1.as_str())),
            )
        }
    };
    vec![
        l.protocol.as_str().to_string(),
        address(l),
        l.port.to_string(),
        service,
        pids,
        names,
        users,
    ]
}

/// `*` for a dual-stack socket (as `ss` prints it), else the address with
/// its interface.
fn address(l: &Listener) -> String {
    if l.dual_stack && l.interface.is_none() {
        "*".into()
    } else if l.dual_stack {
        format!(
            "*%{}",
            escape_str(l.interface.as_deref().unwrap_or_default())
        )
    } else {
        escape_str(&super::address_text(l))
    }
}

fn why(reason: HiddenReason) -> &'static str {
    match reason {
        HiddenReason::NotRoot => "not root",
        HiddenReason::Hidepid => "hidepid",
        HiddenReason::FdUnreadable => "fds unreadable",
    }
}

/// A process's escaped name, and its user name (or uid).
fn owner_text(p: &Process, numeric: bool) -> (String, String) {
    let user = match (&p.user, p.uid) {
        (Some(name), _) if !numeric => escape_str(name),
        (_, Some(uid)) => uid.to_string(),
        _ => "?".into(),
    };
    (escape(&p.name), user)
}

/// Distinct values in first-seen order, comma-joined.
fn unique<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(",")
}
