//! `whyport policy init`: a policy that allows exactly what is open now,
//! commented, as a starting point. Pure: openings in, TOML text out.

use std::fmt::Write as _;

use super::eval::Opening;
use super::owner::{Values, quoted};
use crate::explain::exposure::Exposure;
use crate::explain::why::Explanation;
use crate::model::{PortSet, Protocol};
use crate::report::Forward;
use crate::sanitize::{escape, escape_str};

use super::policy::OWNER_UNKNOWN;

/// One `[[allow]]` rule, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    /// `None`: a forward of both protocols, allowed by one rule for both.
    protocol: Option<Protocol>,
    /// A port, the ephemeral range for UDP client sockets, or every range
    /// a forward catches; `None`: a forward whose ports could not be
    /// decoded (the rule then says `forwarded = true` instead).
    ports: Option<Vec<(u16, u16)>>,
    /// For a forward's rule: `forwarded = true`.
    forwarded: bool,
    bind: String,
    owners: Values,
    ignore: Vec<&'static str>,
    /// Comment lines: what is open, and why each warning is ignored.
    notes: Vec<String>,
}

impl Draft {
    fn same_rule(&self, other: &Draft) -> bool {
        (
            self.protocol,
            &self.ports,
            self.forwarded,
            &self.bind,
            &self.owners,
        ) == (
            other.protocol,
            &other.ports,
            other.forwarded,
            &other.bind,
            &other.owners,
        )
    }
}

/// The policy text for these openings. `ephemeral` is the host's
/// ephemeral port range (UDP client sockets are allowed across it); `host`
/// names the machine in the header; `date` is when it was written.
pub fn policy_for(
    openings: &[Opening<'_>],
    ephemeral: Option<(u16, u16)>,
    host: &str,
    date: &str,
) -> String {
    let mut drafts: Vec<Draft> = Vec::new();
    let all: Vec<Draft> = openings
        .iter()
        .flat_map(|o| match o {
            Opening::Socket(e) => vec![draft(e, ephemeral)],
            Opening::Forward { forward, .. } => forward_drafts(o, forward),
        })
        .collect();
    for d in all {
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
    let text = write(&drafts, openings, host, date);
    // A listener is decided by the first allow rule that matches it, which
    // may be another listener's broader rule (a UDP client range, owners
    // that differ): its warnings must be ignored by the rule that decides
    // it. Deciding does not depend on ignore lists, so one pass settles it.
    let Ok(policy) = super::policy::parse(&text) else {
        return text;
    };
    let audit = super::eval::audit(&policy, openings);
    let mut changed = false;
    for j in &audit.results {
        let Some(k) = j.rule else { continue };
        for f in &j.findings {
            let id = crate::explain::warning_ids::IDS
                .iter()
                .copied()
                .find(|id| *id == f.id && *id != OWNER_UNKNOWN);
            if let (Some(id), Some(d)) = (id, drafts.get_mut(k))
                && !d.ignore.contains(&id)
            {
                d.ignore.push(id);
                d.notes
                    .push(format!("also decides another listener: {}", f.message));
                changed = true;
            }
        }
    }
    if changed {
        write(&drafts, openings, host, date)
    } else {
        text
    }
}

/// The policy text of `drafts`.
fn write(drafts: &[Draft], openings: &[Opening<'_>], host: &str, date: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# whyport policy: what may listen on {}.",
        escape_str(host)
    );
    let _ = writeln!(
        out,
        "# Written by `whyport policy init` on {date} from the {} listening socket(s) and {} forwarded port rule(s) open then.",
        openings
            .iter()
            .filter(|o| matches!(o, Opening::Socket(_)))
            .count(),
        openings
            .iter()
            .filter(|o| matches!(o, Opening::Forward { .. }))
            .count()
    );
    out.push_str(
        "# Review every rule: it allows what was open, which is not always what should be.\n\
         # Check it with `whyport audit --policy FILE`; reference: man 5 whyport-policy (docs/policy.md).\n\n\
         # A listener no rule allows is a finding.\n\
         default = \"deny\"\n\n\
         # Warning ids that are never findings anywhere (see docs/policy.md):\n\
         ignore_warnings = []\n",
    );
    for d in drafts {
        out.push('\n');
        for n in &d.notes {
            // Notes hold process text: escaped, so no line of it can be
            // anything but a comment, or look other than it reads.
            let _ = writeln!(out, "# {}", escape_str(n));
        }
        out.push_str("[[allow]]\n");
        match d.ports.as_deref() {
            Some([(lo, hi)]) if lo == hi => {
                let _ = writeln!(out, "port = {lo}");
            }
            Some([(lo, hi)]) => {
                let _ = writeln!(out, "range = \"{lo}-{hi}\"");
            }
            Some(list) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("\"{lo}-{hi}\"")
                        }
                    })
                    .collect();
                let _ = writeln!(out, "ports = [{}]", items.join(", "));
            }
            None => {}
        }
        if d.forwarded {
            out.push_str("forwarded = true\n");
        }
        if let Some(p) = d.protocol {
            let _ = writeln!(out, "protocol = \"{}\"", p.as_str());
        }
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
    let ports = Some(vec![ports]);
    let mut notes = vec![format!(
        "{} {}:{}{} held by {}",
        l.protocol.as_str(),
        l.address_shown(false),
        l.port,
        l.service
            .map(|s| format!(" ({})", s.name()))
            .unwrap_or_default(),
        holders(e)
    )];
    let mut ignore = Vec::new();
    for w in &e.warnings {
        match w.id {
            // The rule allows the whole range for such clients: the warning
            // says what the rule already says.
            "udp-ephemeral-client" => {
                notes.push(
                    "an unconnected UDP socket in the ephemeral range (a client): allowed across the range".into(),
                );
                ignore.push(w.id);
            }
            // An owner that cannot be seen cannot be checked: never waved
            // through (run policy init and audit as root).
            OWNER_UNKNOWN => {}
            _ => {
                notes.push(format!("warning {} ignored: {}", w.id, w.text));
                ignore.push(w.id);
            }
        }
    }
    if leaders.is_empty() {
        notes.push("its owner could not be seen, so the rule names none".into());
    } else if owners.process.is_none() {
        notes.push("its owners differ, so the rule names no process".into());
    }
    Draft {
        protocol: Some(l.protocol),
        ports,
        forwarded: false,
        bind,
        owners,
        ignore,
        notes,
    }
}

/// The rule for a forward: of its protocol (or both), covering its whole
/// port set, from its destination address match, owned by the
/// processes that get its traffic.
fn forward_drafts(opening: &Opening<'_>, f: &Forward) -> Vec<Draft> {
    let r = &f.rule;
    let leaders: Vec<&crate::model::Process> =
        opening.groups().iter().map(|g| &*g.leader).collect();
    let origin = opening.origins().into_iter().next();
    let unit = origin
        .and_then(|o| o.unit.as_ref())
        .filter(|u| u.user.is_none() && !u.name.ends_with(".scope"))
        .map(|u| u.name.clone());
    let container = origin.and_then(|o| {
        o.container_name.clone().or_else(|| {
            o.container
                .as_ref()
                .map(|c| crate::explain::why::origin_of::short(&c.id).to_string())
        })
    });
    let owners = Values::of(&leaders, unit, container);
    let bind = match r.daddr {
        Some(a) if a.is_loopback() => "loopback".to_string(),
        Some(a) => a.to_string(),
        None => "any".to_string(),
    };
    let mut notes = vec![format!(
        "{} ports {} forwarded by NAT rule {} to {} (no socket listens on them here); received by {}",
        r.protocol.map_or("tcp+udp", |p| p.as_str()),
        r.ports,
        crate::explain::forward::rule_name(r),
        crate::explain::forward::to_text(f),
        holders_of(&opening.groups())
    )];
    if r.ports == PortSet::Undecoded {
        notes.push(
            "its ports could not be decoded, so the rule names none and allows it as a forward"
                .into(),
        );
    }
    let mut ignore = Vec::new();
    for w in opening
        .warnings()
        .into_iter()
        .filter(|w| w.id != OWNER_UNKNOWN)
    {
        notes.push(format!("warning {} ignored: {}", w.id, w.text));
        ignore.push(w.id);
    }
    vec![Draft {
        protocol: r.protocol,
        ports: r.ports.ranges(),
        forwarded: true,
        bind,
        owners,
        ignore,
        notes,
    }]
}

/// `nginx (pid 812), 2 workers`, escaped for a comment line.
fn holders(e: &Explanation<'_>) -> String {
    holders_of(&e.groups.iter().collect::<Vec<_>>())
}

fn holders_of(groups: &[&crate::explain::why::Group]) -> String {
    if groups.is_empty() {
        return "no visible process".into();
    }
    let parts: Vec<String> = groups
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
