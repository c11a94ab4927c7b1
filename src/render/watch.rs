//! `whyport watch`: events for pipes and `--json` (a listener opened or
//! closed, one line of text or one JSON object each; a listener is
//! described once, when it is seen to open, and its closing repeats that
//! description), and on a terminal the live table, redrawn in place.

use std::io::{self, Write};

use super::json::{listener_json, texts};
use crate::report::{Listener, OwnerStatus, Report};

/// What is said of one listener, as text and as JSON.
#[derive(Debug, Clone)]
pub struct Described {
    pub text: String,
    pub json: serde_json::Value,
}

/// Describe every listener of `report` (whose `origins` are worked out),
/// in order.
pub fn describe(report: &Report, numeric: bool) -> Vec<Described> {
    let texts = texts(report);
    report
        .listeners
        .iter()
        .map(|l| {
            let crate::report::Compact {
                origin, warnings, ..
            } = report.origins.get(&l.inode).cloned().unwrap_or_default();
            let owners = match l.owner_status {
                OwnerStatus::Kernel => "(kernel)".to_string(),
                OwnerStatus::Hidden(_) => "(owner hidden)".to_string(),
                _ => l
                    .owners
                    .iter()
                    .map(|o| {
                        let (name, user) = super::table::owner_text(&o.process, numeric);
                        format!("{name} (pid {}, {user})", o.process.pid)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let mut text = format!(
                "{} {}:{}",
                l.protocol.as_str(),
                l.address_shown(true),
                l.port
            );
            if let Some(s) = l.service {
                text.push_str(&format!(" ({})", s.name()));
            }
            text.push_str(&format!("  {owners}"));
            if !origin.is_empty() {
                text.push_str(&format!(
                    "  origin: {}",
                    crate::sanitize::escape_str(&origin)
                ));
            }
            if !warnings.is_empty() {
                text.push_str(&format!("  warn: {}", warnings.join(",")));
            }
            let json = serde_json::json!({
                "listener": listener_json(l, &texts),
                "origin": origin,
                "warnings": warnings,
            });
            Described { text, json }
        })
        .collect()
}

/// What the live view says of a row: opened or closed since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Opened,
    Closed,
}

/// One row of the live view.
#[derive(Debug, Clone)]
pub struct Live {
    pub listener: Listener,
    pub compact: crate::report::Compact,
    pub mark: Option<Mark>,
}

/// Switch to the terminal's alternate screen, cursor hidden (`leave` undoes
/// it), so the live view leaves the shell's scrollback as it was.
pub const ENTER: &str = "\x1b[?1049h\x1b[?25l";
pub const LEAVE: &str = "\x1b[?25h\x1b[?1049l";

/// Draw the live view from the top of the screen: `status`, then the table
/// of `rows` (in order) with what opened or closed marked, only as many
/// lines as the `height` of the screen has (the last stays free, so the
/// screen never scrolls).
pub fn draw(
    rows: &[Live],
    status: &str,
    numeric: bool,
    look: &super::look::Look,
    height: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut buf = Vec::new();
    let status = match look.width {
        Some(w) => super::look::truncate(status, w),
        None => status.to_string(),
    };
    writeln!(
        buf,
        "{}",
        super::look::paint(look, super::look::BOLD, &status)
    )?;
    let screen = super::table::Screen {
        lines: height.saturating_sub(2),
        marks: true,
    };
    let all = || rows.iter().map(|r| (&r.listener, Some(&r.compact), r.mark));
    super::table::listing(None, all, true, numeric, look, screen, &mut buf)?;
    // Each line cleared to its end and the rest of the screen below, so
    // nothing of the previous frame stays.
    let text = String::from_utf8_lossy(&buf).replace('\n', "\x1b[K\n");
    write!(out, "\x1b[H{text}\x1b[J")?;
    out.flush()
}

/// A socket that closed before its owner could be read: the same
/// Listener object as any other, with no processes.
pub fn brief(l: &Listener) -> Described {
    Described {
        text: format!(
            "{} {}:{}  (closed before its owner could be read)",
            l.protocol.as_str(),
            l.address_shown(true),
            l.port
        ),
        json: {
            let mut listener =
                serde_json::to_value(listener_json(l, &Default::default())).unwrap_or_default();
            // Not the kernel's: gone before anyone could be asked.
            listener["owner_status"] = "closed".into();
            serde_json::json!({ "listener": listener, "origin": "", "warnings": [] })
        },
    }
}

/// Write one event: `opened` or `closed`, at `time` (RFC 3339).
pub fn event(
    kind: &str,
    time: &str,
    d: &Described,
    json: bool,
    look: &super::look::Look,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        let mut v = d.json.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), kind.into());
            o.insert("time".into(), time.into());
        }
        serde_json::to_writer(&mut *out, &v).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        let code = if kind == "opened" {
            super::look::GREEN
        } else {
            super::look::RED
        };
        let text = match look.width {
            // The time, two spaces, the kind in six cells, two spaces.
            Some(w) => super::look::truncate(&d.text, w.saturating_sub(time.len() + 10)),
            None => d.text.clone(),
        };
        writeln!(
            out,
            "{time}  {}  {text}",
            super::look::paint(look, code, &format!("{kind:<6}"))
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, Socket};

    #[test]
    fn a_socket_gone_before_its_owner_is_a_whole_listener_marked_closed() {
        let s = Socket {
            protocol: Protocol::Udp,
            address: "::1"
                .parse()
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            port: 5353,
            v6only: Some(true),
            interface: None,
            inode: 42,
            uid: 0,
            netns: 0,
        };
        let d = brief(&crate::explain::unowned(&s, true));
        assert_eq!(
            d.text,
            "udp [::1]:5353  (closed before its owner could be read)"
        );
        let l = &d.json["listener"];
        assert_eq!(l["owner_status"], "closed");
        assert_eq!(
            l["service"]["name"], "mdns",
            "the same Listener object: {l}"
        );
        assert_eq!(l["inode"], 42);
        assert_eq!(l["processes"], serde_json::json!([]));
    }
}
