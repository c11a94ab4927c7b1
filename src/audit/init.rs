//! `whyport policy init`: a policy that allows exactly what is open now,
//! commented, as a starting point. Pure: explanations in, TOML text out.

use std::fmt::Write as _;

use super::owner::{Values, quoted};
use crate::explain::exposure::Exposure;
use crate::explain::why::Explanation;
use crate::model::Protocol;
use crate::sanitize::{escape, escape_str};

/// One `[[allow]]` rule, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    protocol: Protocol,
    /// A port, or the ephemeral range for UDP client sockets.
    ports: (u16, u16),
    bind: String,
    owners: Values,
    ignore: Vec<&'static str>,
    /// Comment lines: what is open, and why each warning is ignored.
    notes: Vec<String>,
}

impl Draft {
    fn same_rule(&self, other: &Draft) -> bool {
        (self.protocol, self.ports, &self.bind, &self.owners)
            == (other.protocol, other.ports, &other.bind, &other.owners)
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
        d.owners.write(&mut out);
        if !d.ignore.is_empty() {
            let ids: Vec<String> = d.ignore.iter().map(|i| quoted(i)).collect();
            let _ = writeln!(out, "ignore_warnings = [{}]", ids.join(", "));
        }
    }
    out
}

fn draft(e: &Explanation<'_>, ephemeral_ports: Option<(u16, u16)>) -> Draft {
    let l = e.listener;
    let leaders: Vec<&crate::model::Process> = e.groups.iter().map(|g| &*g.leader).collect();
    let unit = e
        .origin
        .unit
        .as_ref()
        .filter(|u| u.user.is_none() && !u.name.ends_with(".scope"))
        .map(|u| u.name.clone());
    let container = e.origin.container_name.clone().or_else(|| {
        e.origin
            .container
            .as_ref()
            .map(|c| crate::explain::why::origin_of::short(&c.id).to_string())
    });
    let owners = Values::of(&leaders, unit, container);
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
    } else if owners.process.is_none() {
        notes.push("its owners differ, so the rule names no process".into());
    }
    Draft {
        protocol: l.protocol,
        ports,
        bind,
        owners,
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

#[cfg(test)]
#[path = "init_tests.rs"]
mod tests;
