//! `--format csv`: one row per listening socket, RFC 4180 quoting, a
//! header row. Process text is escaped reversibly (`\\`, `\xNN`, `\u{N}`),
//! so a row never holds a control character or invalid UTF-8 and the
//! original bytes can be recovered. Columns: docs/json.md#csv.

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
        l.interface
            .as_deref()
            .map(|i| field(i.as_bytes()))
            .unwrap_or_default(),
        l.dual_stack.to_string(),
        l.service.map(|s| s.name.to_string()).unwrap_or_default(),
        join(&|p| p.pid.to_string()),
        join(&|p| field(&p.name)),
        join(&|p| match (&p.user, p.uid) {
            (Some(u), _) => field(u.as_bytes()),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => String::new(),
        }),
        join(&|p| {
            p.exe
                .as_ref()
                .map(|e| field(e.as_os_str().as_encoded_bytes()))
                .unwrap_or_default()
        }),
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

/// Keep the io error (a closed pipe is success for the caller).
fn to_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}
