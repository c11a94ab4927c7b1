//! Judging listeners against a policy: which rule decides each one, and
//! the findings (denied, not allowed, explanation warnings). Pure.

use std::net::IpAddr;
use std::sync::Arc;

use super::policy::{Bind, Decision, Family, Policy, Rule};
use crate::explain::why::Explanation;
use crate::model::Process;
use crate::report::Listener;
use crate::sanitize::{escape, escape_str};

/// The audit of one host against one policy.
#[derive(Debug)]
pub struct Audit<'a> {
    pub policy: &'a Policy,
    pub results: Vec<Judged<'a>>,
}

impl Audit<'_> {
    pub fn findings(&self) -> impl Iterator<Item = (&Judged<'_>, &Finding)> {
        self.results
            .iter()
            .flat_map(|j| j.findings.iter().map(move |f| (j, f)))
    }

    /// How many listeners each rule of `policy.rules` decided, index for
    /// index: a rule that decides none may be stale.
    pub fn decided(&self) -> Vec<usize> {
        let mut n = vec![0; self.policy.rules.len()];
        for i in self.results.iter().filter_map(|j| j.rule) {
            n[i] += 1;
        }
        n
    }

    pub fn compliant(&self) -> bool {
        self.results.iter().all(|j| j.findings.is_empty())
    }
}

/// One listener and what the policy says of it.
#[derive(Debug)]
pub struct Judged<'a> {
    pub explanation: &'a Explanation<'a>,
    /// Index into `policy.rules` of the rule that decided; `None` when the
    /// default did.
    pub rule: Option<usize>,
    pub allowed: bool,
    pub findings: Vec<Finding>,
}

impl Judged<'_> {
    pub fn listener(&self) -> &Listener {
        self.explanation.listener
    }
}

/// Something wrong with a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `denied` (a deny rule matched), `not-allowed` (no allow rule did and
    /// the default is deny), or a warning id (`exposed-datastore`, ...).
    pub id: String,
    /// Index into `policy.rules` of the rule it is about, if any.
    pub rule: Option<usize>,
    /// One line of why, escaped for a terminal.
    pub message: String,
}

/// Judge every explained listener.
pub fn audit<'a>(policy: &'a Policy, explanations: &'a [Explanation<'a>]) -> Audit<'a> {
    Audit {
        policy,
        results: explanations.iter().map(|e| judge(policy, e)).collect(),
    }
}

fn judge<'a>(policy: &Policy, e: &'a Explanation<'a>) -> Judged<'a> {
    let facts = Facts::of(e);
    let mut findings = Vec::new();
    let deciding = policy
        .rules
        .iter()
        .position(|r| r.decision == Decision::Deny && mismatches(r, &facts).is_empty())
        .or_else(|| {
            policy
                .rules
                .iter()
                .position(|r| r.decision == Decision::Allow && mismatches(r, &facts).is_empty())
        });
    let allowed = match deciding {
        Some(i) => {
            let rule = &policy.rules[i];
            if rule.decision == Decision::Deny {
                let because = rule
                    .reason
                    .as_deref()
                    .map_or_else(|| "the policy forbids it".to_string(), escape_str);
                findings.push(Finding {
                    id: "denied".into(),
                    rule: Some(i),
                    message: format!("denied by {}: {because}", rule.label()),
                });
            }
            rule.decision == Decision::Allow
        }
        None if policy.default == Decision::Allow => true,
        None => {
            findings.push(Finding {
                id: "not-allowed".into(),
                rule: None,
                message: not_allowed(policy, &facts),
            });
            false
        }
    };
    let ignored_by_rule: &[String] = deciding.map_or(&[], |i| &policy.rules[i].ignore_warnings);
    for w in &e.warnings {
        let ignored = policy.ignore_warnings.iter().any(|id| id == w.id)
            || ignored_by_rule.iter().any(|id| id == w.id);
        if !ignored {
            findings.push(Finding {
                id: w.id.to_string(),
                rule: None,
                message: w.text.clone(),
            });
        }
    }
    Judged {
        explanation: e,
        rule: deciding,
        allowed,
        findings,
    }
}

/// Why no allow rule matched, naming the nearest one (same port and
/// protocol, fewest unmet conditions) and what it wants.
fn not_allowed(policy: &Policy, facts: &Facts<'_>) -> String {
    let l = facts.listener;
    let mut text = format!(
        "no allow rule matches {}/{} and the default is deny",
        l.port,
        l.protocol.as_str()
    );
    let nearest = policy
        .rules
        .iter()
        .filter(|r| r.decision == Decision::Allow)
        .map(|r| (r, mismatches(r, facts)))
        .filter(|(_, m)| !m.iter().any(|m| m.field == "port" || m.field == "protocol"))
        .min_by_key(|(_, m)| m.len());
    if let Some((rule, unmet)) = nearest {
        let unmet: Vec<String> = unmet.iter().map(|m| m.text.clone()).collect();
        text.push_str(&format!(
            "; nearest rule {}: {}",
            rule.label(),
            unmet.join("; ")
        ));
    }
    text
}

/// What the rules look at, worked out once per listener.
struct Facts<'a> {
    listener: &'a Listener,
    /// The processes that started the others (one per group of owners).
    leaders: Vec<&'a Arc<Process>>,
    exposed: bool,
    units: Vec<&'a str>,
    containers: Vec<&'a str>,
}

impl<'a> Facts<'a> {
    fn of(e: &'a Explanation<'a>) -> Facts<'a> {
        let o = &e.origin;
        let mut units: Vec<&str> = o.unit.iter().map(|u| u.name.as_str()).collect();
        if let Some((socket, service)) = o.kind.activation() {
            units.extend(socket.iter().chain(service).map(String::as_str));
        }
        let mut containers: Vec<&str> = o.container.iter().map(|c| c.id.as_str()).collect();
        containers.extend(o.container_name.as_deref());
        Facts {
            listener: e.listener,
            leaders: e.groups.iter().map(|g| &g.leader).collect(),
            exposed: e.exposure.beyond_loopback(),
            units,
            containers,
        }
    }
}

/// A condition of a rule that a listener does not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unmet {
    field: &'static str,
    text: String,
}

/// The conditions of `rule` that `facts` does not meet; empty when the rule
/// matches.
fn mismatches(rule: &Rule, facts: &Facts<'_>) -> Vec<Unmet> {
    let l = facts.listener;
    let mut out = Vec::new();
    if let Some(ports) = &rule.ports
        && !ports.iter().any(|r| r.contains(l.port))
    {
        out.push(unmet(
            "port",
            format!("port {} is not one the rule names", l.port),
        ));
    }
    if let Some(p) = rule.protocol
        && p != l.protocol
    {
        out.push(unmet(
            "protocol",
            format!(
                "the rule is for {}, this is {}",
                p.as_str(),
                l.protocol.as_str()
            ),
        ));
    }
    if let Some(f) = rule.family {
        let (v4, v6) = accepts(l);
        let ok = match f {
            Family::Ipv4 => v4,
            Family::Ipv6 => v6,
        };
        if !ok {
            let (wants, has) = match f {
                Family::Ipv4 => ("ipv4", "IPv6 only"),
                Family::Ipv6 => ("ipv6", "IPv4 only"),
            };
            out.push(unmet(
                "family",
                format!("the rule is for {wants}, the socket accepts {has}"),
            ));
        }
    }
    if !bind_ok(rule.bind, facts) {
        let shown = crate::render::address_shown(l, false);
        let reach = if facts.exposed {
            "reachable from other hosts"
        } else {
            "loopback only"
        };
        out.push(unmet(
            "bind",
            format!(
                "the rule wants bind = \"{}\", the socket is bound to {shown} ({reach})",
                rule.bind
            ),
        ));
    }
    let owners_unknown = facts.leaders.is_empty();
    let mut owner_field = |field: &'static str,
                           wanted: &Option<String>,
                           matches: &dyn Fn(&Process, &str) -> bool,
                           shown: &dyn Fn(&Process) -> String| {
        let Some(want) = wanted else { return };
        if owners_unknown {
            out.push(Unmet {
                field,
                text: format!(
                    "the rule wants {field} = \"{}\", and the socket's owner could not be seen",
                    escape_str(want)
                ),
            });
            return;
        }
        let wrong: Vec<String> = facts
            .leaders
            .iter()
            .filter(|p| !matches(p, want))
            .map(|p| format!("{} (pid {})", shown(p), p.pid))
            .collect();
        if !wrong.is_empty() {
            out.push(Unmet {
                field,
                text: format!(
                    "the rule wants {field} = \"{}\", the socket is held by {}",
                    escape_str(want),
                    wrong.join(", ")
                ),
            });
        }
    };
    owner_field("process", &rule.process, &process_matches, &|p| {
        escape(&p.name)
    });
    owner_field(
        "exe",
        &rule.exe,
        &|p, want| p.exe_path().is_some_and(|e| e == want),
        &|p| {
            p.exe_path()
                .map_or("an unreadable executable".into(), |e| escape_str(&e))
        },
    );
    owner_field(
        "user",
        &rule.user,
        &|p, want| p.user.as_deref() == Some(want) || p.uid.is_some_and(|u| u.to_string() == want),
        &|p| {
            p.user
                .as_deref()
                .map(escape_str)
                .or_else(|| p.uid.map(|u| format!("uid {u}")))
                .unwrap_or_else(|| "an unknown user".into())
        },
    );
    for (field, want, have) in [
        ("unit", &rule.unit, &facts.units),
        ("container", &rule.container, &facts.containers),
    ] {
        let Some(want) = want else { continue };
        let ok = have.iter().any(|h| match field {
            "unit" => unit_matches(h, want),
            _ => container_matches(h, want),
        });
        if !ok {
            let found = if have.is_empty() {
                format!("the socket's owner is in no {field}")
            } else {
                format!("the socket's owner is in {}", escape_str(&have.join(", ")))
            };
            out.push(unmet(
                field,
                format!("the rule wants {field} = \"{}\", {found}", escape_str(want)),
            ));
        }
    }
    out
}

fn unmet(field: &'static str, text: String) -> Unmet {
    Unmet { field, text }
}

/// Which families a socket accepts connections of: (IPv4, IPv6).
fn accepts(l: &Listener) -> (bool, bool) {
    match l.address {
        IpAddr::V4(_) => (true, false),
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => (true, false),
        IpAddr::V6(_) => (l.dual_stack, true),
    }
}

fn bind_ok(bind: Bind, facts: &Facts<'_>) -> bool {
    let l = facts.listener;
    match bind {
        Bind::Any => true,
        Bind::Loopback => !facts.exposed,
        Bind::Exposed => facts.exposed,
        Bind::Network(net, prefix) => {
            if l.address.is_unspecified() {
                // A wildcard accepts every address of its families: only a
                // network covering all of them (0.0.0.0/0 or ::/0, and
                // both for a dual-stack socket) contains it.
                let (v4, v6) = accepts(l);
                return prefix == 0 && (!v4 || net.is_ipv4()) && (!v6 || net.is_ipv6());
            }
            let address = match l.address {
                IpAddr::V6(a) => a.to_ipv4_mapped().map_or(l.address, IpAddr::V4),
                a => a,
            };
            in_network(address, net, prefix)
        }
    }
}

/// Whether `address` is inside `net`/`prefix` (same family only).
pub fn in_network(address: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// A process name matches its kernel name (at most 15 bytes, so a longer
/// wanted name matches a truncated one) or its executable's file name.
fn process_matches(p: &Process, want: &str) -> bool {
    let comm = p.name.as_slice();
    let want_bytes = want.as_bytes();
    comm == want_bytes
        || (comm.len() == 15 && want_bytes.len() > 15 && want_bytes.starts_with(comm))
        || p.exe_path()
            .is_some_and(|e| e.rsplit('/').next() == Some(want))
}

/// `ssh` matches `ssh.service`; a full unit name matches only itself.
fn unit_matches(have: &str, want: &str) -> bool {
    have == want || (!want.contains('.') && have.strip_suffix(".service") == Some(want))
}

/// A container matches by name or by an id prefix of 12 or more digits.
fn container_matches(have: &str, want: &str) -> bool {
    have == want || (want.len() >= 12 && have.starts_with(want))
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
