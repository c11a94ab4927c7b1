//! `whyport policy init`: a policy that allows exactly what is open now,
//! commented, as a starting point. Pure: explanations in, TOML text out.

use std::fmt::Write as _;

use crate::explain::exposure::Exposure;
use crate::explain::why::Explanation;
use crate::model::Protocol;
use crate::sanitize::{escape, escape_str, is_dangerous};

/// One `[[allow]]` rule, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    protocol: Protocol,
    /// A port, or the ephemeral range for UDP client sockets.
    ports: (u16, u16),
    bind: String,
    /// Raw bytes: written as a string when they are UTF-8, else as hex.
    process: Option<Vec<u8>>,
    exe: Option<Vec<u8>>,
    user: Option<String>,
    unit: Option<String>,
    container: Option<String>,
    ignore: Vec<&'static str>,
    /// Comment lines: what is open, and why each warning is ignored.
    notes: Vec<String>,
}

impl Draft {
    fn same_rule(&self, other: &Draft) -> bool {
        (
            self.protocol,
            self.ports,
            &self.bind,
            &self.process,
            &self.exe,
            &self.user,
            &self.unit,
            &self.container,
        ) == (
            other.protocol,
            other.ports,
            &other.bind,
            &other.process,
            &other.exe,
            &other.user,
            &other.unit,
            &other.container,
        )
    }
}

/// The policy text for these listeners. `ephemeral` is the host's
/// ephemeral port range (UDP client sockets are allowed across it); `host`
/// names the machine in the header; `date` is when it was written.
pub fn policy_for(
    explanations: &[Explanation<'_>],
    ephemeral: Option<(u16, u16)>,
    host: &str,
    date: &str,
) -> String {
    let mut drafts: Vec<Draft> = Vec::new();
    for e in explanations {
        let d = draft(e, ephemeral);
        match drafts.iter_mut().find(|x| x.same_rule(&d)) {
            Some(x) => {
                for n in d.notes {
                    if !x.notes.contains(&n) {
                        x.notes.push(n);
                    }
                }
                for id in d.ignore {
                    if !x.ignore.contains(&id) {
                        x.ignore.push(id);
                    }
                }
            }
            None => drafts.push(d),
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# whyport policy: what may listen on {}.",
        escape_str(host)
    );
    let _ = writeln!(
        out,
        "# Written by `whyport policy init` on {date} from the {} listening socket(s) open then.",
        explanations.len()
    );
    out.push_str(
        "# Review every rule: it allows what was open, which is not always what should be.\n\
         # Check it with `whyport audit --policy FILE`; reference: docs/policy.md.\n\n\
         # A listener no rule allows is a finding.\n\
         default = \"deny\"\n\n\
         # Warning ids that are never findings anywhere (see docs/policy.md):\n\
         ignore_warnings = []\n",
    );
    for d in &drafts {
        out.push('\n');
        for n in &d.notes {
            // Notes hold process text: escaped, so no line of it can be
            // anything but a comment, or look other than it reads.
            let _ = writeln!(out, "# {}", escape_str(n));
        }
        out.push_str("[[allow]]\n");
        if d.ports.0 == d.ports.1 {
            let _ = writeln!(out, "port = {}", d.ports.0);
        } else {
            let _ = writeln!(out, "range = \"{}-{}\"", d.ports.0, d.ports.1);
        }
        let _ = writeln!(out, "protocol = \"{}\"", d.protocol.as_str());
        let _ = writeln!(out, "bind = {}", quoted(&d.bind));
        for (key, value) in [("process", &d.process), ("exe", &d.exe)] {
            if let Some(v) = value {
                out.push_str(&bytes_value(key, v));
            }
        }
        for (key, value) in [
            ("user", &d.user),
            ("unit", &d.unit),
            ("container", &d.container),
        ] {
            if let Some(v) = value {
                let _ = writeln!(out, "{key} = {}", quoted(v));
            }
        }
        if !d.ignore.is_empty() {
            let ids: Vec<String> = d.ignore.iter().map(|i| quoted(i)).collect();
            let _ = writeln!(out, "ignore_warnings = [{}]", ids.join(", "));
        }
    }
    out
}

fn draft(e: &Explanation<'_>, ephemeral_ports: Option<(u16, u16)>) -> Draft {
    let l = e.listener;
    let leaders: Vec<_> = e.groups.iter().map(|g| &g.leader).collect();
    // An owner field is written only when every leader agrees on it.
    let common = |f: &dyn Fn(&crate::model::Process) -> Option<String>| -> Option<String> {
        let first = f(leaders.first()?)?;
        leaders
            .iter()
            .all(|p| f(p).as_ref() == Some(&first))
            .then_some(first)
    };
    let common_bytes = |f: &dyn Fn(&crate::model::Process) -> Option<Vec<u8>>| {
        let first = f(leaders.first()?)?;
        leaders
            .iter()
            .all(|p| f(p).as_ref() == Some(&first))
            .then_some(first)
    };
    let process = common_bytes(&|p| Some(p.name.clone()));
    // The path as audits match it (a deleted executable by its path).
    let exe = common_bytes(&|p| p.exe_bytes().map(<[u8]>::to_vec));
    // Names read lossily (holding U+FFFD) are left out: audits match no
    // such name, since its bytes are unknown.
    let user = common(&|p| {
        p.user
            .clone()
            .filter(|u| !u.contains('\u{fffd}'))
            .or_else(|| p.uid.map(|u| u.to_string()))
    });
    let unit = e
        .origin
        .unit
        .as_ref()
        .filter(|u| u.user.is_none() && !u.name.ends_with(".scope"))
        .map(|u| u.name.clone())
        .filter(|n| !n.contains('\u{fffd}'));
    let container = e
        .origin
        .container_name
        .clone()
        .or_else(|| {
            e.origin
                .container
                .as_ref()
                .map(|c| crate::explain::why::origin_of::short(&c.id).to_string())
        })
        .filter(|n| !n.contains('\u{fffd}'));
    let bind = match &e.exposure {
        Exposure::Loopback => "loopback".to_string(),
        _ if l.address.is_unspecified() => "any".to_string(),
        _ => l.address.to_string(),
    };
    let ephemeral = e.warnings.iter().any(|w| w.id == "udp-ephemeral-client");
    // A UDP client's port is picked at random each run: allow the range.
    let ports = match (ephemeral, ephemeral_ports) {
        (true, Some(range)) => range,
        (true, None) => (32768, 60999),
        (false, _) => (l.port, l.port),
    };
    let mut notes = vec![format!(
        "{} {}:{}{} held by {}",
        l.protocol.as_str(),
        crate::render::address_shown(l, false),
        l.port,
        l.service
            .map(|s| format!(" ({})", s.name))
            .unwrap_or_default(),
        holders(e)
    )];
    if let Some(to) = &l.forwarded_to {
        notes.push(format!("no socket: forwarded to {to}"));
    }
    let mut ignore = Vec::new();
    for w in &e.warnings {
        if w.id == "udp-ephemeral-client" {
            continue;
        }
        notes.push(format!("warning {} ignored: {}", w.id, w.text));
        ignore.push(w.id);
    }
    if leaders.is_empty() {
        notes.push("its owner could not be seen, so the rule names none".into());
    } else if process.is_none() {
        notes.push("its owners differ, so the rule names no process".into());
    }
    Draft {
        protocol: l.protocol,
        ports,
        bind,
        process,
        exe,
        user,
        unit,
        container,
        ignore,
        notes,
    }
}

/// `nginx (pid 812), 2 workers`, escaped for a comment line.
fn holders(e: &Explanation<'_>) -> String {
    if e.groups.is_empty() {
        return "no visible process".into();
    }
    let parts: Vec<String> = e
        .groups
        .iter()
        .map(|g| {
            let mut s = format!("{} (pid {})", escape(&g.leader.name), g.leader.pid);
            if !g.workers.is_empty() {
                s.push_str(&format!(" and {} worker(s)", g.workers.len()));
            }
            s
        })
        .collect();
    parts.join(", ")
}

/// A one-line TOML basic string: quotes and backslashes escaped, and every
/// character `sanitize` would escape on a terminal (controls, bidi,
/// zero-width, tags, blank look-alikes) written as `\uXXXX` or
/// `\UXXXXXXXX`. So no text can end the string, continue on another line
/// or read differently from what it matches.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_dangerous(c) && u32::from(c) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c if is_dangerous(c) => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `process = "nginx"`, or for bytes that are not UTF-8 `process_hex`
/// (which matches exactly those bytes) after a comment showing them
/// escaped; lines end with a newline.
fn bytes_value(key: &str, bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("{key} = {}\n", quoted(text)),
        Err(_) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "# {key} is not UTF-8: {}\n{key}_hex = \"{hex}\"\n",
                escape(bytes)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{eval, policy};
    use crate::explain::why::explain_all;
    use crate::explain::why::tests::{listener, process, report};
    use crate::model::Protocol;

    /// Text with every kind of character a reviewer must not be fooled by.
    const HOSTILE: &str =
        "a\n[[allow]]\nport = 1\n\u{202e}b\u{200b}c\u{85}d\u{e0041}\u{2800}\"\\\t";

    fn hostile(pid: u32, name: &[u8], exe: &[u8]) -> std::sync::Arc<crate::model::Process> {
        use std::os::unix::ffi::OsStrExt;
        let mut p = (*process(
            pid,
            1,
            "x",
            1000,
            "0::/system.slice/a\\x0a[[allow]]\u{202e}.service\n",
        ))
        .clone();
        p.name = name.to_vec();
        p.exe = Some(std::ffi::OsStr::from_bytes(exe).into());
        p.user = Some(format!("u{HOSTILE}"));
        std::sync::Arc::new(p)
    }

    /// Hostile names, paths, users and units round-trip: the written TOML
    /// parses back to exactly the original values, holds none of those
    /// characters raw, has no line that looks like a rule header but the
    /// real ones, and allows what it was written from.
    #[test]
    fn hostile_values_round_trip_on_single_lines() {
        let exe = format!("/opt/{HOSTILE}");
        let p = hostile(10, HOSTILE.as_bytes(), exe.as_bytes());
        let r = report(vec![listener(Protocol::Tcp, "127.0.0.1", 8080, &[&p])], &[]);
        let ex = explain_all(&r);
        let text = policy_for(&ex, None, "host\u{202e}\n[[allow]]", "2026-11-25");
        let raw: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && crate::sanitize::is_dangerous(*c))
            .collect();
        assert!(raw.is_empty(), "{raw:?} written raw:\n{text}");
        let headers: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("[["))
            .collect();
        assert_eq!(headers, ["[[allow]]"], "{text}");
        let pol = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let rule = &pol.rules[0];
        assert_eq!(rule.process.as_deref(), Some(HOSTILE.as_bytes()), "{text}");
        assert_eq!(rule.exe.as_deref(), Some(exe.as_bytes()), "{text}");
        assert_eq!(rule.user.as_deref(), Some(format!("u{HOSTILE}").as_str()));
        assert_eq!(
            rule.unit.as_deref(),
            Some("a\\x0a[[allow]]\u{202e}.service"),
            "{text}"
        );
        assert!(eval::audit(&pol, &ex).compliant(), "{text}");
    }

    /// Names and paths that are not UTF-8 are written as `_hex`, after a
    /// comment showing them escaped; the rule allows the process it came
    /// from and not one whose bytes differ only where they are not UTF-8.
    #[test]
    fn names_that_are_not_utf8_are_written_as_exact_bytes() {
        let a = hostile(10, b"ev\xff\n[[allow]]", b"/p/ev\xff\xe2\x80\xae");
        let b = hostile(20, b"ev\xfe\n[[allow]]", b"/p/ev\xfe\xe2\x80\xae");
        let on_port = |p| report(vec![listener(Protocol::Tcp, "127.0.0.1", 8080, &[p])], &[]);
        let (ra, rb) = (on_port(&a), on_port(&b));
        let (ea, eb) = (explain_all(&ra), explain_all(&rb));
        let text = policy_for(&ea, None, "host", "2026-11-25");
        assert!(
            text.contains("\nprocess_hex = \"6576ff0a5b5b616c6c6f775d5d\"\n"),
            "{text}"
        );
        assert!(
            text.contains("\nexe_hex = \"2f702f6576ffe280ae\"\n"),
            "{text}"
        );
        assert!(
            text.contains("\n# exe is not UTF-8: /p/ev\\xff\\u{202e}\n"),
            "{text}"
        );
        let headers = text.lines().filter(|l| l.starts_with("[[")).count();
        assert_eq!(headers, 1, "{text}");
        let pol = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            pol.rules[0].exe.as_deref(),
            Some(&b"/p/ev\xff\xe2\x80\xae"[..])
        );
        assert!(eval::audit(&pol, &ea).compliant(), "{text}");
        let other = eval::audit(&pol, &eb);
        let ids: Vec<_> = other.findings().map(|(_, f)| f.id.as_str()).collect();
        assert_eq!(ids, ["not-allowed"], "{text}");
    }

    /// What `policy init` writes, an audit of the same host passes; and
    /// containers are named so that the rule matches them (an LXC name is
    /// not cut to 12 characters like a Docker id).
    #[test]
    fn the_policy_written_passes_its_own_audit() {
        let lxc = process(
            10,
            1,
            "nginx",
            33,
            "0::/lxc.payload.customer-web-frontend/system.slice/nginx.service\n",
        );
        let mut stale =
            (*process(20, 1, "redis-server", 0, "0::/system.slice/redis.service\n")).clone();
        stale.exe = Some("/usr/bin/redis-server (deleted)".into());
        let stale = std::sync::Arc::new(stale);
        let r = report(
            vec![
                listener(Protocol::Tcp, "0.0.0.0", 80, &[&lxc]),
                listener(Protocol::Tcp, "127.0.0.1", 6379, &[&stale]),
            ],
            &[],
        );
        let ex = explain_all(&r);
        let text = policy_for(&ex, Some((32768, 60999)), "host", "2026-11-25");
        assert!(
            text.contains("container = \"customer-web-frontend\""),
            "{text}"
        );
        assert!(text.contains("exe = \"/usr/bin/redis-server\""), "{text}");
        let p = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let audit = eval::audit(&p, &ex);
        let findings: Vec<_> = audit.findings().map(|(_, f)| f.id.clone()).collect();
        assert!(audit.compliant(), "{findings:?}\n{text}");
    }
}
