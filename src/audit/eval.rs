//! Judging listeners against a policy: which rule decides each one, and
//! the findings (denied, not allowed, explanation warnings). Pure.

use std::net::IpAddr;

use super::owner::{self, Owners, process_matches, user_matches};
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
        .position(|r| r.decision == Decision::Deny && matches(r, &facts))
        .or_else(|| {
            policy
                .rules
                .iter()
                .position(|r| r.decision == Decision::Allow && matches(r, &facts))
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
    // Only the nearest rule's unmet conditions are put in words.
    let nearest = policy
        .rules
        .iter()
        .filter(|r| r.decision == Decision::Allow)
        .filter(|r| meets(r, facts, Field::Port) && meets(r, facts, Field::Protocol))
        .map(|r| (r, mismatches(r, facts)))
        .min_by_key(|(_, m)| m.len());
    if let Some((rule, unmet)) = nearest {
        let unmet: Vec<String> = unmet.iter().map(|f| unmet_text(rule, facts, *f)).collect();
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
    exposed: bool,
    owners: Owners<'a>,
}

impl<'a> Facts<'a> {
    fn of(e: &'a Explanation<'a>) -> Facts<'a> {
        let o = &e.origin;
        let mut units: Vec<&str> = o.unit.iter().map(|u| u.name.as_str()).collect();
        if let Some((socket, service)) = &o.activation {
            units.extend(socket.iter().chain(service).map(String::as_str));
        }
        let mut containers: Vec<&str> = o.container.iter().map(|c| c.id.as_str()).collect();
        containers.extend(o.container_name.as_deref());
        Facts {
            listener: e.listener,
            exposed: e.exposure.beyond_loopback(),
            owners: Owners {
                leaders: e.groups.iter().map(|g| &*g.leader).collect(),
                units,
                containers,
            },
        }
    }
}

/// The conditions a rule can set, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Port,
    Protocol,
    Family,
    Bind,
    Process,
    Exe,
    User,
    Unit,
    Container,
}

const FIELDS: [Field; 9] = [
    Field::Port,
    Field::Protocol,
    Field::Family,
    Field::Bind,
    Field::Process,
    Field::Exe,
    Field::User,
    Field::Unit,
    Field::Container,
];

/// Whether `rule` matches: every condition holds. Decides each listener
/// against each rule, so it stops at the first condition that fails and
/// builds no text.
fn matches(rule: &Rule, facts: &Facts<'_>) -> bool {
    FIELDS.iter().all(|f| meets(rule, facts, *f))
}

/// The conditions of `rule` that `facts` does not meet; empty when the rule
/// matches.
fn mismatches(rule: &Rule, facts: &Facts<'_>) -> Vec<Field> {
    FIELDS
        .into_iter()
        .filter(|f| !meets(rule, facts, *f))
        .collect()
}

/// Whether the condition `field` of `rule` holds (or the rule sets none);
/// owner conditions are `owner`'s, byte for byte.
fn meets(rule: &Rule, facts: &Facts<'_>, field: Field) -> bool {
    let l = facts.listener;
    match field {
        Field::Port => rule
            .ports
            .as_ref()
            .is_none_or(|ports| ports.iter().any(|r| r.contains(l.port))),
        Field::Protocol => rule.protocol.is_none_or(|p| p == l.protocol),
        Field::Family => rule.family.is_none_or(|f| {
            let (v4, v6) = accepts(l);
            match f {
                Family::Ipv4 => v4,
                Family::Ipv6 => v6,
            }
        }),
        Field::Bind => bind_ok(rule.bind, facts),
        Field::Process => owner::process_met(rule, &facts.owners),
        Field::Exe => owner::exe_met(rule, &facts.owners),
        Field::User => owner::user_met(rule, &facts.owners),
        Field::Unit => owner::unit_met(rule, &facts.owners),
        Field::Container => owner::container_met(rule, &facts.owners),
    }
}

/// Why the condition `field` of `rule` does not hold, escaped.
fn unmet_text(rule: &Rule, facts: &Facts<'_>, field: Field) -> String {
    let l = facts.listener;
    match field {
        Field::Port => format!("port {} is not one the rule names", l.port),
        Field::Protocol => format!(
            "the rule is for {}, this is {}",
            rule.protocol.map_or("?", |p| p.as_str()),
            l.protocol.as_str()
        ),
        Field::Family => {
            let (wants, has) = match rule.family {
                Some(Family::Ipv6) => ("ipv6", "IPv4 only"),
                _ => ("ipv4", "IPv6 only"),
            };
            format!("the rule is for {wants}, the socket accepts {has}")
        }
        Field::Bind => {
            let shown = crate::render::address_shown(l, false);
            let reach = if facts.exposed {
                "reachable from other hosts"
            } else {
                "loopback only"
            };
            format!(
                "the rule wants bind = \"{}\", the socket is bound to {shown} ({reach})",
                rule.bind
            )
        }
        Field::Process => owner_text(facts, "process", rule.process.as_deref(), |p| {
            (!process_matches(p, rule.process.as_deref().unwrap_or_default()))
                .then(|| escape(&p.name))
        }),
        Field::Exe => owner_text(facts, "exe", rule.exe.as_deref(), |p| {
            let exe = p.exe_bytes();
            (exe != rule.exe.as_deref())
                .then(|| exe.map_or("an unreadable executable".into(), escape))
        }),
        Field::User => {
            let want = rule.user.as_deref().unwrap_or_default();
            owner_text(
                facts,
                "user",
                rule.user.as_ref().map(|u| u.as_bytes()),
                |p| {
                    (!user_matches(p, want)).then(|| {
                        p.user
                            .as_deref()
                            .map(escape_str)
                            .or_else(|| p.uid.map(|u| format!("uid {u}")))
                            .unwrap_or_else(|| "an unknown user".into())
                    })
                },
            )
        }
        Field::Unit | Field::Container => {
            let (name, want, have) = match field {
                Field::Unit => ("unit", &rule.unit, &facts.owners.units),
                _ => ("container", &rule.container, &facts.owners.containers),
            };
            let found = if have.is_empty() {
                format!("the socket's owner is in no {name}")
            } else {
                format!("the socket's owner is in {}", escape_str(&have.join(", ")))
            };
            format!(
                "the rule wants {name} = \"{}\", {found}",
                escape_str(want.as_deref().unwrap_or_default())
            )
        }
    }
}

/// `the rule wants process = "nginx", the socket is held by python3 (pid
/// 20)`: `wrong` shows a leader that does not meet the condition.
fn owner_text(
    facts: &Facts<'_>,
    key: &str,
    want: Option<&[u8]>,
    wrong: impl Fn(&Process) -> Option<String>,
) -> String {
    let want = escape(want.unwrap_or_default());
    if facts.owners.leaders.is_empty() {
        return format!(
            "the rule wants {key} = \"{want}\", and the socket's owner could not be seen"
        );
    }
    let held: Vec<String> = facts
        .owners
        .leaders
        .iter()
        .filter_map(|p| Some(format!("{} (pid {})", wrong(p)?, p.pid)))
        .collect();
    format!(
        "the rule wants {key} = \"{want}\", the socket is held by {}",
        held.join(", ")
    )
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

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
