//! Judging what is open against a policy: which rule decides each
//! opening (a listening socket, or a port a NAT rule forwards), and the
//! findings (denied, not allowed, explanation warnings). Pure.

use std::net::IpAddr;

use super::owner::{self, Owners, process_matches, user_matches};
use super::policy::{Bind, Decision, Family, Policy, Rule};
use super::severity::{Date, Severity, Waiver};
use crate::explain::warnings::Warning;
use crate::explain::why::{Explanation, Group, Origin};
use crate::model::{PortSet, Process, Protocol};
use crate::report::{Forward, Report};
use crate::sanitize::{escape, escape_str};

/// What makes a port reachable, as an audit judges it: a kernel socket, or
/// a forward rule with the sockets that get its traffic. A forward is
/// judged whole: a rule's ports must cover every port it catches.
#[derive(Debug)]
pub enum Opening<'a> {
    Socket(Box<Explanation<'a>>),
    Forward {
        forward: &'a Forward,
        /// The sockets that get its traffic, explained.
        receivers: Vec<Explanation<'a>>,
    },
}

impl<'a> Opening<'a> {
    /// Every opening of the report: its listeners, then its forwards.
    pub fn all(report: &'a Report) -> Vec<Opening<'a>> {
        let explained = crate::explain::why::explain_all(report);
        // A forward reached from the output hook rewrites only this host's
        // own connections: it opens nothing to others.
        let outside: Vec<&Forward> = report
            .forwards
            .iter()
            .filter(|f| crate::explain::forward::from_outside(f))
            .collect();
        // A receiver that is listed is explained already: cloned, not
        // worked out again; the others (of other namespaces) once each.
        let listed: std::collections::HashMap<u64, &Explanation<'a>> =
            explained.iter().map(|e| (e.listener.inode, e)).collect();
        let unlisted: Vec<&'a crate::report::Listener> = report
            .ns_listeners
            .iter()
            .filter(|l| outside.iter().any(|f| f.receivers.contains(&l.inode)))
            .collect();
        let others = crate::explain::why::explain_each(report, unlisted);
        let other: std::collections::HashMap<u64, &Explanation<'a>> =
            others.iter().map(|e| (e.listener.inode, e)).collect();
        let forwards: Vec<Opening<'a>> = outside
            .iter()
            .map(|f| Opening::Forward {
                forward: f,
                receivers: f
                    .receivers
                    .iter()
                    .filter_map(|i| listed.get(i).or_else(|| other.get(i)))
                    .map(|e| (*e).clone())
                    .collect(),
            })
            .collect();
        let mut out: Vec<Opening<'a>> = explained
            .into_iter()
            .map(|e| Opening::Socket(Box::new(e)))
            .collect();
        out.extend(forwards);
        out
    }

    /// The explanations behind it: the socket's, or the receivers'.
    pub fn explanations(&self) -> &[Explanation<'a>] {
        match self {
            Opening::Socket(e) => std::slice::from_ref(&**e),
            Opening::Forward { receivers, .. } => receivers,
        }
    }

    /// Its warnings: the socket's, or the receivers' (each id once): a
    /// forward to a datastore exposes the datastore.
    pub fn warnings(&self) -> Vec<&Warning> {
        let mut out: Vec<&Warning> = Vec::new();
        for w in self.explanations().iter().flat_map(|e| &e.warnings) {
            if !out.iter().any(|x| x.id == w.id) {
                out.push(w);
            }
        }
        out
    }

    /// The owners grouped: the socket's, or the receivers'.
    pub fn groups(&self) -> Vec<&Group> {
        self.explanations().iter().flat_map(|e| &e.groups).collect()
    }

    pub fn origins(&self) -> Vec<&Origin> {
        self.explanations().iter().map(|e| &e.origin).collect()
    }
}

/// The audit of one host against one policy.
#[derive(Debug)]
pub struct Audit<'a> {
    pub policy: &'a Policy,
    pub results: Vec<Judged<'a>>,
    /// `[[require]]` rules nothing on the host matches, by index into
    /// `policy.rules`: each a finding (`missing`).
    pub missing: Vec<usize>,
    pub terms: Terms,
}

/// What decides the verdict besides the policy: the date waivers are
/// judged on, and the least severity that fails the audit (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub today: Date,
    pub fail_on: Severity,
}

impl Terms {
    /// Every finding fails, and no waiver has expired (for a policy with no
    /// waiver: `policy init`'s own check, tests).
    pub fn plain() -> Terms {
        Terms {
            today: Date::from_unix(0),
            fail_on: Severity::Low,
        }
    }
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

    /// The rules that decided nothing and are not the nearest rule of a
    /// finding either: candidates for removal. A rule a finding names as
    /// nearest is what the host drifted from, never stale.
    pub fn stale(&self) -> Vec<usize> {
        let nearest: std::collections::HashSet<usize> =
            self.findings().filter_map(|(_, f)| f.nearest).collect();
        self.decided()
            .into_iter()
            .enumerate()
            .filter(|(i, n)| {
                *n == 0
                    && !nearest.contains(i)
                    && self.policy.rules[*i].decision != Decision::Require
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether a finding fails the audit: not under a waiver that holds
    /// today, and at least as severe as `--fail-on`.
    pub fn counts(&self, f: &Finding) -> bool {
        self.fails(f.severity, f.waiver.as_ref())
    }

    /// Whether the missing requirement `policy.rules[i]` fails the audit.
    pub fn missing_counts(&self, i: usize) -> bool {
        let r = &self.policy.rules[i];
        self.fails(
            r.severity.unwrap_or(Severity::default_for("missing")),
            r.waiver.as_ref(),
        )
    }

    fn fails(&self, severity: Severity, waiver: Option<&Waiver>) -> bool {
        waiver.is_none_or(|w| w.expired(self.terms.today)) && severity >= self.terms.fail_on
    }

    /// No finding fails it.
    pub fn compliant(&self) -> bool {
        self.missing.iter().all(|i| !self.missing_counts(*i))
            && self.findings().all(|(_, f)| !self.counts(f))
    }
}

/// One opening and what the policy says of it.
#[derive(Debug)]
pub struct Judged<'a> {
    pub opening: &'a Opening<'a>,
    /// Index into `policy.rules` of the rule that decided; `None` when the
    /// default did.
    pub rule: Option<usize>,
    pub allowed: bool,
    pub findings: Vec<Finding>,
}

/// Something wrong with a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `denied` (a deny rule matched), `not-allowed` (no allow rule did and
    /// the default is deny), or a warning id (`exposed-datastore`, ...).
    pub id: String,
    /// Index into `policy.rules` of the rule it is about, if any.
    pub rule: Option<usize>,
    /// For `not-allowed`: the allow rule that came nearest (same port and
    /// protocol, fewest unmet conditions), whose conditions the message
    /// names.
    pub nearest: Option<usize>,
    /// One line of why, escaped for a terminal.
    pub message: String,
    pub severity: Severity,
    /// The waiver that covers it, holding or expired.
    pub waiver: Option<Waiver>,
}

/// Judge every opening on plain terms (no waiver expired, every finding
/// fails).
pub fn audit<'a>(policy: &'a Policy, openings: &'a [Opening<'a>]) -> Audit<'a> {
    audit_on(policy, openings, Terms::plain())
}

/// Judge every opening, and find the required ones that are not there.
pub fn audit_on<'a>(policy: &'a Policy, openings: &'a [Opening<'a>], terms: Terms) -> Audit<'a> {
    let facts: Vec<Facts<'_>> = openings.iter().map(Facts::of).collect();
    let index = RuleIndex::of(policy);
    let by_port = OpeningIndex::of(&facts);
    let missing = policy
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.decision == Decision::Require)
        .filter(|(_, r)| !by_port.candidates(r).any(|i| matches(r, &facts[i])))
        .map(|(i, _)| i)
        .collect();
    Audit {
        policy,
        results: openings
            .iter()
            .zip(&facts)
            .map(|(o, f)| judge(policy, &index, o, f, terms.today))
            .collect(),
        missing,
        terms,
    }
}

/// A rule naming more ports than this is tried on every opening; one
/// naming fewer only on the openings of its ports. 20,000 rules of a port
/// each on 10,000 listeners: ~13 s tried one by one (2 x 10^8 rule checks),
/// milliseconds through the index.
const INDEXED_PORTS: u32 = 64;

/// The rules that can match an opening, found by its port: a rule's port
/// condition must cover every port the opening opens, so only rules that
/// name its first port (or name no port, or very many) need be tried.
/// Rules are tried in policy order, as without the index.
struct RuleIndex {
    /// Rules with no port condition or a wide one, in order.
    always: Vec<usize>,
    /// Port -> the rules naming it, in order.
    by_port: std::collections::HashMap<u16, Vec<usize>>,
}

impl RuleIndex {
    fn of(policy: &Policy) -> RuleIndex {
        let mut index = RuleIndex {
            always: Vec::new(),
            by_port: std::collections::HashMap::new(),
        };
        for (i, rule) in policy.rules.iter().enumerate() {
            match &rule.ports {
                Some(ranges) if named_ports(ranges) <= INDEXED_PORTS => {
                    for r in ranges {
                        for port in r.start..=r.end {
                            let rules = index.by_port.entry(port).or_default();
                            // Ranges of one rule may overlap: each rule once.
                            if rules.last() != Some(&i) {
                                rules.push(i);
                            }
                        }
                    }
                }
                _ => index.always.push(i),
            }
        }
        index
    }

    /// The rules worth trying on `facts`, in policy order.
    fn candidates(&self, facts: &Facts<'_>) -> Vec<usize> {
        let first = facts.ports.as_ref().and_then(|p| p.first()).map(|r| r.0);
        let named = first
            .and_then(|p| self.by_port.get(&p))
            .map_or(&[][..], Vec::as_slice);
        merge(&self.always, named)
    }
}

/// The openings a `[[require]]` rule can match, found the same way.
struct OpeningIndex {
    /// Openings of more than one port or unknown ports.
    always: Vec<usize>,
    by_port: std::collections::HashMap<u16, Vec<usize>>,
    all: usize,
}

impl OpeningIndex {
    fn of(facts: &[Facts<'_>]) -> OpeningIndex {
        let mut index = OpeningIndex {
            always: Vec::new(),
            by_port: std::collections::HashMap::new(),
            all: facts.len(),
        };
        for (i, f) in facts.iter().enumerate() {
            match f.ports.as_deref() {
                Some([(lo, hi)]) if lo == hi => index.by_port.entry(*lo).or_default().push(i),
                _ => index.always.push(i),
            }
        }
        index
    }

    /// Every opening that may meet `rule`'s port condition (all of them
    /// when it has none or a wide one).
    fn candidates(&self, rule: &Rule) -> Box<dyn Iterator<Item = usize> + '_> {
        match &rule.ports {
            Some(ranges) if named_ports(ranges) <= INDEXED_PORTS => {
                let mut named: Vec<usize> = ranges
                    .iter()
                    .flat_map(|r| r.start..=r.end)
                    .flat_map(|p| self.by_port.get(&p).into_iter().flatten().copied())
                    .chain(self.always.iter().copied())
                    .collect();
                named.sort_unstable();
                named.dedup();
                Box::new(named.into_iter())
            }
            _ => Box::new(0..self.all),
        }
    }
}

/// How many ports `ranges` name (overlaps counted twice: an upper bound).
fn named_ports(ranges: &[crate::ports::PortRange]) -> u32 {
    ranges
        .iter()
        .map(|r| u32::from(r.end) - u32::from(r.start) + 1)
        .sum()
}

/// Two ascending lists of rule indexes as one, each index once.
fn merge(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x <= y => {
                i += 1;
                j += usize::from(x == y);
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, None) => break,
        };
        out.push(next);
    }
    out
}

/// What a `[[require]]` rule asks for, in words: `tcp port 22, process
/// "sshd", bound to loopback`.
pub fn wanted(rule: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    let proto = rule.protocol.map_or("", |p| p.as_str());
    match &rule.ports {
        Some(r) => {
            let ranges: Vec<(u16, u16)> = r.iter().map(|r| (r.start, r.end)).collect();
            parts.push(
                format!("{proto} port {}", PortSet::only(ranges))
                    .trim()
                    .to_string(),
            );
        }
        None if !proto.is_empty() => parts.push(format!("a {proto} listener")),
        None => {}
    }
    if let Some(f) = rule.family {
        parts.push(format!(
            "family {}",
            match f {
                Family::Ipv4 => "ipv4",
                Family::Ipv6 => "ipv6",
            }
        ));
    }
    if rule.bind != Bind::Any {
        parts.push(format!("bind {}", rule.bind));
    }
    for (key, value) in [("process", &rule.process), ("exe", &rule.exe)] {
        if let Some(v) = value {
            parts.push(format!("{key} \"{}\"", escape(v)));
        }
    }
    for (key, value) in [
        ("user", &rule.user),
        ("unit", &rule.unit),
        ("container", &rule.container),
    ] {
        if let Some(v) = value {
            parts.push(format!("{key} \"{}\"", escape_str(v)));
        }
    }
    if let Some(f) = rule.forwarded {
        parts.push(if f { "forwarded by NAT" } else { "a socket" }.into());
    }
    if let Some(r) = rule.reach {
        parts.push(format!("reach {}", r.as_str()));
    }
    parts.join(", ")
}

fn judge<'a>(
    policy: &Policy,
    index: &RuleIndex,
    opening: &'a Opening<'a>,
    facts: &Facts<'_>,
    today: Date,
) -> Judged<'a> {
    let mut findings = Vec::new();
    let candidates = index.candidates(facts);
    let first = |decision| {
        candidates
            .iter()
            .copied()
            .find(|&i| policy.rules[i].decision == decision && matches(&policy.rules[i], facts))
    };
    let deciding = first(Decision::Deny).or_else(|| first(Decision::Allow));
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
                    nearest: None,
                    message: format!("denied by {}: {because}", rule.label()),
                    severity: rule.severity.unwrap_or(Severity::default_for("denied")),
                    waiver: rule.waiver.clone(),
                });
            }
            rule.decision == Decision::Allow
        }
        None if policy.default == Decision::Allow => true,
        None => {
            let (message, nearest) = not_allowed(policy, &candidates, facts);
            findings.push(Finding {
                id: "not-allowed".into(),
                rule: None,
                nearest,
                message,
                severity: Severity::default_for("not-allowed"),
                waiver: None,
            });
            false
        }
    };
    let ignored_by_rule: &[String] = deciding.map_or(&[], |i| &policy.rules[i].ignore_warnings);
    for w in opening.warnings() {
        let ignored = policy.ignore_warnings.iter().any(|id| id == w.id)
            || ignored_by_rule.iter().any(|id| id == w.id);
        if !ignored {
            let terms = policy.warnings.get(w.id);
            findings.push(Finding {
                id: w.id.to_string(),
                rule: None,
                nearest: None,
                message: w.text.clone(),
                severity: terms
                    .and_then(|t| t.severity)
                    .unwrap_or(Severity::default_for(w.id)),
                waiver: terms.and_then(|t| t.waiver.clone()),
            });
        }
    }
    // An expired waiver is a finding of its own: the acceptance lapsed.
    let expired: Vec<Finding> = findings
        .iter()
        .filter_map(|f| {
            let w = f.waiver.as_ref().filter(|w| w.expired(today))?;
            Some(Finding {
                id: "waiver-expired".into(),
                rule: f.rule,
                nearest: None,
                message: format!(
                    "the waiver of {} ({}{}) expired after {}",
                    f.id,
                    escape_str(&w.reason),
                    w.ticket
                        .as_deref()
                        .map(|t| format!(", {}", escape_str(t)))
                        .unwrap_or_default(),
                    w.until
                ),
                severity: Severity::default_for("waiver-expired"),
                waiver: None,
            })
        })
        .collect();
    findings.extend(expired);
    Judged {
        opening,
        rule: deciding,
        allowed,
        findings,
    }
}

/// Why no allow rule matched, naming the nearest one (same port and
/// protocol, fewest unmet conditions) and what it wants; and which it is.
/// `candidates`: the rules that may meet its port condition, in order.
fn not_allowed(
    policy: &Policy,
    candidates: &[usize],
    facts: &Facts<'_>,
) -> (String, Option<usize>) {
    let mut text = format!(
        "no allow rule matches {}/{} and the default is deny",
        facts.shown_ports(),
        facts.shown_protocol()
    );
    // Only the nearest rule's unmet conditions are put in words.
    let nearest = candidates
        .iter()
        .map(|&i| (i, &policy.rules[i]))
        .filter(|(_, r)| r.decision == Decision::Allow)
        .filter(|(_, r)| meets(r, facts, Field::Port) && meets(r, facts, Field::Protocol))
        .map(|(i, r)| (i, r, mismatches(r, facts)))
        .min_by_key(|(_, _, m)| m.len());
    let index = nearest.as_ref().map(|(i, _, _)| *i);
    if let Some((_, rule, unmet)) = nearest {
        let unmet: Vec<String> = unmet.iter().map(|f| unmet_text(rule, facts, *f)).collect();
        text.push_str(&format!(
            "; nearest rule {}: {}",
            rule.label(),
            unmet.join("; ")
        ));
    }
    (text, index)
}

/// What the rules look at, worked out once per opening.
struct Facts<'a> {
    /// The ports it opens; `None`: unknown (a forward whose port condition
    /// could not be decoded).
    ports: Option<Vec<(u16, u16)>>,
    /// One protocol, or both (a forward of any protocol).
    protocol: Option<Protocol>,
    /// The families it accepts connections of: (IPv4, IPv6).
    families: (bool, bool),
    /// The one address it is bound to or forwards from; `None`: every
    /// address of its families.
    address: Option<IpAddr>,
    /// The address as people read it (`*`, `0.0.0.0`, `[::1]`).
    shown_address: String,
    exposed: bool,
    /// A forward rule, not a socket.
    forwarded: bool,
    /// What this host's firewall lets in, when it was worked out.
    firewall: Option<&'a crate::report::firewall::Reachability>,
    owners: Owners<'a>,
}

impl<'a> Facts<'a> {
    fn of(opening: &'a Opening<'a>) -> Facts<'a> {
        let mut units: Vec<&str> = Vec::new();
        let mut containers: Vec<&str> = Vec::new();
        for o in opening.origins() {
            units.extend(o.unit.iter().map(|u| u.name.as_str()));
            if let Some((socket, service)) = o.kind.activation() {
                units.extend(socket.iter().chain(service).map(String::as_str));
            }
            containers.extend(o.container.iter().map(|c| c.id.as_str()));
            containers.extend(o.container_name.as_deref());
        }
        let owners = Owners {
            leaders: opening.groups().iter().map(|g| &*g.leader).collect(),
            units,
            containers,
        };
        match opening {
            Opening::Socket(e) => {
                let l = e.listener;
                Facts {
                    ports: Some(vec![(l.port, l.port)]),
                    protocol: Some(l.protocol),
                    families: accepts(l.address, l.dual_stack),
                    address: (!l.address.is_unspecified()).then_some(l.address),
                    shown_address: l.address_shown(false),
                    exposed: e.exposure.beyond_loopback(),
                    forwarded: false,
                    firewall: e.firewall,
                    owners,
                }
            }
            Opening::Forward { forward, .. } => {
                let r = &forward.rule;
                let families = match r.family.as_str() {
                    "ip6" => (false, true),
                    "inet" => (true, true),
                    // ip, and iptables-legacy (IPv4 only).
                    _ => (true, false),
                };
                Facts {
                    ports: r.ports.ranges(),
                    protocol: r.protocol,
                    families,
                    address: r.daddr,
                    shown_address: r
                        .daddr
                        .map_or_else(|| "every address".into(), |a| a.to_string()),
                    exposed: r.daddr.is_none_or(|a| !a.is_loopback()),
                    forwarded: true,
                    firewall: forward.firewall.as_ref(),
                    owners,
                }
            }
        }
    }

    fn shown_ports(&self) -> String {
        match &self.ports {
            Some(r) => PortSet::Only(r.clone()).to_string(),
            None => "?".into(),
        }
    }

    fn shown_protocol(&self) -> &'static str {
        self.protocol.map_or("tcp+udp", |p| p.as_str())
    }
}

/// The conditions a rule can set, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Port,
    Forwarded,
    Reach,
    Protocol,
    Family,
    Bind,
    Process,
    Exe,
    User,
    Unit,
    Container,
}

const FIELDS: [Field; 11] = [
    Field::Port,
    Field::Forwarded,
    Field::Reach,
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
    match field {
        // Every port it opens must be one the rule names.
        Field::Port => rule.ports.as_ref().is_none_or(|allowed| {
            facts.ports.as_ref().is_some_and(|opened| {
                opened
                    .iter()
                    .all(|&(lo, hi)| covered(lo, hi, allowed.iter().map(|r| (r.start, r.end))))
            })
        }),
        Field::Forwarded => rule.forwarded.is_none_or(|f| f == facts.forwarded),
        Field::Reach => rule.reach.is_none_or(|r| reach_met(r, facts)),
        // A forward of both protocols needs a rule for both.
        Field::Protocol => rule.protocol.is_none_or(|p| facts.protocol == Some(p)),
        Field::Family => rule.family.is_none_or(|f| {
            let (v4, v6) = facts.families;
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

/// `reach = "open"`: some source beyond the host gets in; `"firewalled"`:
/// none can (the firewall blocks every path, or nothing beyond the host
/// can send to it). Undecided, or not evaluated, meets neither.
fn reach_met(reach: crate::audit::policy::Reach, facts: &Facts<'_>) -> bool {
    use crate::audit::policy::Reach;
    use crate::report::firewall::Answer;
    if !facts.exposed {
        return reach == Reach::Firewalled;
    }
    matches!(
        (reach, facts.firewall.map(|f| f.answer)),
        (Reach::Open, Some(Answer::Open | Answer::OpenFrom))
            | (Reach::Firewalled, Some(Answer::Blocked | Answer::LocalOnly))
    )
}

/// Why the condition `field` of `rule` does not hold, escaped.
fn unmet_text(rule: &Rule, facts: &Facts<'_>, field: Field) -> String {
    match field {
        Field::Port => match &facts.ports {
            Some(r) if r.len() == 1 && r[0].0 == r[0].1 => {
                format!("port {} is not one the rule names", r[0].0)
            }
            Some(_) => format!(
                "ports {} are not all ones the rule names",
                facts.shown_ports()
            ),
            None => {
                "the ports it forwards could not be decoded, so no port list covers them".into()
            }
        },
        Field::Forwarded if facts.forwarded => {
            "the rule is for listening sockets, this is a port a NAT rule forwards".into()
        }
        Field::Forwarded => {
            "the rule is for ports a NAT rule forwards, this is a listening socket".into()
        }
        Field::Reach => match facts.firewall {
            Some(f) => format!(
                "the rule wants reach = \"{}\", the firewall says: {}",
                rule.reach.map_or("?", |r| r.as_str()),
                f.summary
            ),
            None => format!(
                "the rule wants reach = \"{}\", and the firewall was not evaluated",
                rule.reach.map_or("?", |r| r.as_str())
            ),
        },
        Field::Protocol => format!(
            "the rule is for {}, this is {}",
            rule.protocol.map_or("?", |p| p.as_str()),
            facts.shown_protocol()
        ),
        Field::Family => {
            let (wants, has) = match rule.family {
                Some(Family::Ipv6) => ("ipv6", "IPv4 only"),
                _ => ("ipv4", "IPv6 only"),
            };
            format!("the rule is for {wants}, the socket accepts {has}")
        }
        Field::Bind => {
            let shown = &facts.shown_address;
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

/// Whether `lo..=hi` lies inside the union of `ranges`.
fn covered(lo: u16, hi: u16, ranges: impl Iterator<Item = (u16, u16)> + Clone) -> bool {
    // One range covering it all, without sorting (a vector per check was a
    // quarter of a large audit).
    if ranges.clone().any(|(a, b)| a <= lo && hi <= b) {
        return true;
    }
    let mut r: Vec<(u16, u16)> = ranges.collect();
    r.sort_unstable();
    let mut next = u32::from(lo);
    for (a, b) in r {
        if u32::from(a) > next {
            break;
        }
        next = next.max(u32::from(b) + 1);
        if next > u32::from(hi) {
            return true;
        }
    }
    next > u32::from(hi)
}

/// Which families a socket accepts connections of: (IPv4, IPv6).
fn accepts(address: IpAddr, dual_stack: bool) -> (bool, bool) {
    match address {
        IpAddr::V4(_) => (true, false),
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => (true, false),
        IpAddr::V6(_) => (dual_stack, true),
    }
}

fn bind_ok(bind: Bind, facts: &Facts<'_>) -> bool {
    match bind {
        Bind::Any => true,
        Bind::Loopback => !facts.exposed,
        Bind::Exposed => facts.exposed,
        Bind::Network(net, prefix) => match facts.address {
            // A wildcard accepts every address of its families: only a
            // network covering all of them (0.0.0.0/0 or ::/0, and both for
            // a dual-stack socket) contains it.
            None => {
                let (v4, v6) = facts.families;
                prefix == 0 && (!v4 || net.is_ipv4()) && (!v6 || net.is_ipv6())
            }
            Some(a) => {
                let address = match a {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
                    a => a,
                };
                in_network(address, net, prefix)
            }
        },
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
