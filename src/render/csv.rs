//! `--format csv`: one row per listening socket, RFC 4180 quoting, a
//! header row. Process text is escaped reversibly (`\\`, `\xNN`, `\u{N}`),
//! so a row never holds a control character or invalid UTF-8 and the
//! original bytes can be recovered, and a cell of it never starts like a
//! spreadsheet formula. Columns: docs/json.md#csv.

use std::io::{self, Write};

use crate::report::{Listener, OwnerStatus, Report};
use crate::sanitize::escape_reversible;

pub const COLUMNS: &[&str] = &[
    "protocol",
    "family",
    "address",
    "port",
    "interface",
    "dual_stack",
    "service",
    "pids",
    "processes",
    "users",
    "exes",
    "owner_status",
    "inode",
    "namespace",
    "exposure",
    "firewall",
];

pub(super) fn render(report: &Report, header: bool, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    if header {
        w.write_record(COLUMNS).map_err(to_io)?;
    }
    for l in &report.listeners {
        // With -A, the label of its network namespace (`host`,
        // `netns:blue`, `systemd-nspawn:lab1`, `net:[INODE]`).
        let namespace = report
            .all_namespaces
            .then(|| report.namespace(l.netns).map(|n| n.label.clone()))
            .flatten()
            .unwrap_or_default();
        let mut record = row(l);
        record.push(namespace);
        record.push(report.exposure_id(l.inode).unwrap_or_default().into());
        // The firewall's answer in one word; empty when nothing was
        // evaluated (not root, a recorded tree).
        record.push(
            report
                .firewalls
                .get(&l.inode)
                .filter(|f| f.evaluated())
                .map_or("", |f| f.answer.id())
                .into(),
        );
        w.write_record(record).map_err(to_io)?;
    }
    w.flush()
}

fn row(l: &Listener) -> Vec<String> {
    // Several owners: values joined by ';' in pid order, one per owner.
    let join = |f: &dyn Fn(&crate::model::Process) -> String| -> String {
        l.owners
            .iter()
            .map(|o| f(&o.process))
            .collect::<Vec<_>>()
            .join(";")
    };
    vec![
        l.protocol.as_str().into(),
        if l.address.is_ipv4() { "ipv4" } else { "ipv6" }.into(),
        l.address.to_string(),
        l.port.to_string(),
        untrusted(
            l.interface
                .as_deref()
                .map(|i| field(i.as_bytes()))
                .unwrap_or_default(),
        ),
        l.dual_stack.to_string(),
        l.service.map(|s| s.name().to_string()).unwrap_or_default(),
        join(&|p| p.pid.to_string()),
        untrusted(join(&|p| field(&p.name))),
        untrusted(join(&|p| match (&p.user, p.uid) {
            (Some(u), _) => field(u.as_bytes()),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => String::new(),
        })),
        untrusted(join(&|p| {
            p.exe
                .as_ref()
                .map(|e| field(e.as_os_str().as_encoded_bytes()))
                .unwrap_or_default()
        })),
        match l.owner_status {
            OwnerStatus::Visible => "visible",
            OwnerStatus::Partial(_) => "partial",
            OwnerStatus::Hidden(_) => "hidden",
            OwnerStatus::Kernel => "kernel",
        }
        .into(),
        l.inode.to_string(),
    ]
}

/// Escaped text of one owner; `;` is escaped too, since it joins owners.
fn field(bytes: &[u8]) -> String {
    escape_reversible(bytes).replace(';', "\\x3b")
}

/// A cell of other people's text. Spreadsheets run a cell that begins with
/// `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
/// (`=cmd|'/c calc'!A1`), so such a cell gets a leading `'`, as OWASP's
/// CSV injection advice says; a `'` that begins the text itself is written
/// `\x27`, so a leading `'` is always whyport's and the text is recovered
/// by dropping it.
fn untrusted(cell: String) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        Some('\'') => format!("\\x27{}", &cell[1..]),
        _ => cell,
    }
}

/// Keep the io error (a closed pipe is success for the caller).
fn to_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_run_as_formulas_are_quoted() {
        for (text, cell) in [
            ("=cmd|'/c calc'!A1", "'=cmd|'/c calc'!A1"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=1", "\\x27=1"),
            ("nginx", "nginx"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(untrusted(text.into()), cell, "{text:?}");
        }
    }

    /// Through `field` (which escapes a tab and CR) the whole column is
    /// guarded, owner by owner joined.
    #[test]
    fn escaped_owner_text_is_guarded_too() {
        assert_eq!(untrusted(field(b"\t=1")), "\\x09=1");
        assert_eq!(untrusted(field(b"-x;y")), "'-x\\x3by");
    }
}
