//! The NAT chain walk, shared by the nf_tables and iptables-legacy readers:
//! from each nat base chain (prerouting, output) through jumps, gotos and
//! verdict maps to the DNAT and redirect rules, carrying the conditions met
//! on the way. Pure: it takes decoded rules and the chain table, so it is
//! tested without the kernel.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::model::{NatHook, NatRule, PortSet, Protocol};

/// Deeper than any real ruleset (kube-proxy nests five chains); the
/// kernel itself refuses more than 16 jumps deep.
const MAX_DEPTH: usize = 16;
/// Rules emitted per table, and rules visited: a bound on what a hostile
/// or huge ruleset can cost.
const MAX_OUT: usize = 4096;
const MAX_STEPS: usize = 200_000;

/// One rule of a chain, decoded: its own conditions (and, for a NAT rule,
/// its action, identity and comment in `rule`) and what it does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub rule: NatRule,
    /// It matches only a random share of packets (`-m statistic`,
    /// `numgen random`): one branch of a split.
    pub random: bool,
    pub verdict: Verdict,
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing that ends the chain (counter, log, mark, masquerade mark).
    #[default]
    Continue,
    Jump(String),
    Goto(String),
    Return,
    /// Accept, drop, SNAT/masquerade: the walk ends there.
    Stop,
    /// DNAT or redirect (`rule.action`).
    Nat,
    /// A verdict map, decoded into its branches.
    Branches(Vec<Branch>),
    /// A verdict map (or other verdict) whyport could not read: where it
    /// leads, and on which ports, is unknown.
    Undecoded(String),
}

/// One element of a verdict map: the conditions its key adds, and where
/// it jumps (a `Jump` or `Goto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub protocol: Option<Protocol>,
    pub ports: PortSet,
    pub daddr: Option<IpAddr>,
    /// A branch of `numgen random ... vmap`: one endpoint of a split.
    pub random: bool,
    pub verdict: Verdict,
}

/// The chains of one table, by name, each with its rules in order.
pub type Chains = HashMap<String, Vec<Step>>;

/// Walk from each base chain (`bases`: name and hook) and return every
/// DNAT or redirect rule reached, with the conditions met on the way.
pub fn walk(chains: &Chains, bases: &[(String, NatHook)]) -> Vec<NatRule> {
    let mut w = Walker {
        chains,
        out: Vec::new(),
        steps: 0,
        hook: NatHook::Prerouting,
    };
    for (name, hook) in bases {
        w.hook = *hook;
        let start = NatRule::default();
        w.chain(name, &start, &mut Vec::new(), None);
    }
    w.out
}

struct Walker<'a> {
    chains: &'a Chains,
    out: Vec<NatRule>,
    steps: usize,
    hook: NatHook,
}

/// How a chain walk ended, for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Fell off the end or returned: the caller goes on after its jump.
    Back,
    /// A rule that matched everything it was given ended the traversal
    /// (an accept, a drop, a DNAT): nothing after it is reached.
    Stop,
}

impl Walker<'_> {
    fn chain(
        &mut self,
        name: &str,
        given: &NatRule,
        path: &mut Vec<String>,
        split: Option<&str>,
    ) -> Flow {
        if path.iter().any(|p| p == name) || path.len() >= MAX_DEPTH {
            // A loop or a nest deeper than the kernel allows: not walked.
            return Flow::Back;
        }
        let Some(rules) = self.chains.get(name) else {
            return Flow::Back;
        };
        path.push(name.to_string());
        let mut random_seen = false;
        let mut flow = Flow::Back;
        for step in rules {
            self.steps += 1;
            if self.steps > MAX_STEPS || self.out.len() >= MAX_OUT {
                break;
            }
            // After a random rule, the rules that catch the rest of the
            // split's traffic are its other branches.
            random_seen |= step.random;
            let split = if random_seen { Some(name) } else { split };
            let Some(met) = meet(given, &step.rule) else {
                continue;
            };
            let whole = !step.random && unconditional(&step.rule);
            let ends = match &step.verdict {
                Verdict::Continue => None,
                Verdict::Nat => {
                    self.emit(met, &step.rule, path, split);
                    whole.then_some(Flow::Stop)
                }
                Verdict::Jump(to) => {
                    let f = self.chain(to, &met, path, split);
                    (whole && f == Flow::Stop).then_some(Flow::Stop)
                }
                Verdict::Goto(to) => {
                    let f = self.chain(to, &met, path, split);
                    whole.then_some(f)
                }
                Verdict::Return => whole.then_some(Flow::Back),
                Verdict::Stop => whole.then_some(Flow::Stop),
                Verdict::Branches(branches) => {
                    for b in branches {
                        self.branch(b, &met, path, if b.random { Some(name) } else { split });
                    }
                    None
                }
                Verdict::Undecoded(why) => {
                    let mut r = met;
                    r.ports = PortSet::Undecoded;
                    r.undecoded.push(why.clone());
                    self.emit(r, &step.rule, path, split);
                    None
                }
            };
            if let Some(f) = ends {
                flow = f;
                break;
            }
        }
        path.pop();
        flow
    }

    fn branch(&mut self, b: &Branch, given: &NatRule, path: &mut Vec<String>, split: Option<&str>) {
        let key = NatRule {
            protocol: b.protocol,
            ports: b.ports.clone(),
            daddr: b.daddr,
            ..NatRule::default()
        };
        let Some(met) = meet(given, &key) else {
            return;
        };
        match &b.verdict {
            Verdict::Jump(to) | Verdict::Goto(to) => {
                self.chain(to, &met, path, split);
            }
            _ => {}
        }
    }

    /// A NAT rule reached: its action and identity, the conditions met.
    fn emit(&mut self, met: NatRule, own: &NatRule, path: &[String], split: Option<&str>) {
        self.out.push(NatRule {
            family: own.family.clone(),
            table: own.table.clone(),
            chain: own.chain.clone(),
            handle: own.handle,
            action: own.action.clone(),
            hook: self.hook,
            path: path.to_vec(),
            split: split.map(str::to_string),
            ..met
        });
    }
}

/// A rule with no condition of its own (it matches whatever reaches it).
fn unconditional(r: &NatRule) -> bool {
    r.protocol.is_none()
        && r.ports == PortSet::Every
        && r.daddr.is_none()
        && r.iif.is_none()
        && !r.local_only
        && r.undecoded.is_empty()
}

/// The conditions of `given` and then `own`; `None` when no packet can
/// meet both (different protocols, addresses, or no port in common).
fn meet(given: &NatRule, own: &NatRule) -> Option<NatRule> {
    let protocol = match (given.protocol, own.protocol) {
        (Some(a), Some(b)) if a != b => return None,
        (a, b) => b.or(a),
    };
    let daddr = match (given.daddr, own.daddr) {
        (Some(a), Some(b)) if a != b => return None,
        (a, b) => b.or(a),
    };
    let ports = given.ports.intersect(&own.ports);
    if ports == PortSet::Only(Vec::new()) {
        return None;
    }
    let mut undecoded = given.undecoded.clone();
    for u in &own.undecoded {
        if !undecoded.contains(u) {
            undecoded.push(u.clone());
        }
    }
    let iif = match (&given.iif, &own.iif) {
        (Some(a), Some(b)) if a != b => {
            let not = if a.0 { "not " } else { "" };
            undecoded.push(format!("also arriving {not}on {}", a.1));
            Some(b.clone())
        }
        (a, b) => b.clone().or(a.clone()),
    };
    Some(NatRule {
        protocol,
        ports,
        daddr,
        iif,
        undecoded,
        local_only: given.local_only || own.local_only,
        comment: own.comment.clone().or(given.comment.clone()),
        service: own
            .comment
            .as_deref()
            .and_then(kube_service)
            .or(given.service.clone()),
        ..NatRule::default()
    })
}

/// The service a kube-proxy comment names: its first word when that is
/// `namespace/name` or `namespace/name:port` (`default/web:http`,
/// `default/web:http cluster IP`, `default/web:http -> 10.244.1.5:80`).
pub fn kube_service(comment: &str) -> Option<String> {
    let word = comment.split_whitespace().next()?;
    let (ns, rest) = word.split_once('/')?;
    let (name, port) = rest.split_once(':').unwrap_or((rest, ""));
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    };
    let port_ok = port.is_empty() || port.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    (label(ns) && label(name) && port_ok).then(|| word.to_string())
}

#[cfg(test)]
#[path = "nat_walk_tests.rs"]
mod tests;
