//! `whyport watch` events: a listener opened or closed, one line of text or
//! one JSON object each. A listener is described once, when it is seen to
//! open; its closing repeats that description.

use std::io::{self, Write};

use super::json::{listener_json, texts};
use crate::model::Socket;
use crate::report::{OwnerStatus, Report};
use crate::sanitize::escape;

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
        .enumerate()
        .map(|(i, l)| {
            let (origin, warnings) = report.origins.get(i).cloned().unwrap_or_default();
            let owners = match l.owner_status {
                OwnerStatus::Kernel => "(kernel)".to_string(),
                OwnerStatus::Hidden(_) => "(owner hidden)".to_string(),
                _ => l
                    .owners
                    .iter()
                    .map(|o| {
                        let p = &o.process;
                        let user = match (&p.user, p.uid) {
                            (Some(u), _) if !numeric => escape(u.as_bytes()),
                            (_, Some(uid)) => uid.to_string(),
                            _ => "?".into(),
                        };
                        format!("{} (pid {}, {user})", escape(&p.name), p.pid)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let mut text = format!(
                "{} {}:{}",
                l.protocol.as_str(),
                super::address_shown(l, true),
                l.port
            );
            if let Some(s) = l.service {
                text.push_str(&format!(" ({})", s.name));
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

/// A socket that closed before its owner could be read.
pub fn brief(s: &Socket) -> Described {
    let address = match s.address {
        std::net::IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    };
    Described {
        text: format!(
            "{} {}:{}  (closed before its owner could be read)",
            s.protocol.as_str(),
            address,
            s.port
        ),
        json: serde_json::json!({
            "listener": {
                "protocol": s.protocol.as_str(),
                "family": if s.address.is_ipv4() { "ipv4" } else { "ipv6" },
                "address": s.address.to_string(),
                "port": s.port,
                "inode": s.inode,
                "processes": [],
            },
            "origin": "",
            "warnings": [],
        }),
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
            Some(w) => super::look::truncate(&d.text, w.saturating_sub(time.len() + 9)),
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
