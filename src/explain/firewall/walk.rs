//! The walk of a new inbound connection through the packet filter: the
//! base chains of each hook it meets (netdev ingress, prerouting, then
//! input, or forward for a translated one) in the kernel's order, each
//! rule splitting the sources it is given into those it matches and those
//! it does not. An accept ends one base chain only: a later base chain
//! may still drop. A condition whyport cannot evaluate makes the sources
//! it would decide undecided, never open or blocked.

use std::net::IpAddr;

use super::sources::Sources;
use crate::model::firewall::{
    BaseChain, ChainRef, Cond, Family, Hook, Policy, Routes, Rule, Ruleset, Verdict, ct, rtn,
};
use crate::report::firewall::RuleAt;
use crate::sanitize;

/// The kernel refuses deeper jumps; a hostile or broken ruleset cannot
/// make the walk loop.
const MAX_DEPTH: usize = 16;
const MAX_STEPS: usize = 100_000;
/// The priority of the dstnat hook: base chains after it see the
/// translated destination.
const DSTNAT: i32 = -100;
/// The priority conntrack attaches at (prerouting): before it a packet
/// has no connection, its `ct state` is `invalid` and `ct status` finds
/// nothing.
const CONNTRACK: i32 = -200;
/// The flags a client's first segment may carry besides SYN (ECN's ECE
/// and CWR, PSH, URG): a flags test that tells them apart is undecided.
const SYN_FORMS: [u8; 4] = [0x02, 0x02 | 0x40 | 0x80, 0x02 | 0x08, 0x02 | 0x20];

/// A new connection's first packet, with the source left open.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    pub ipv6: bool,
    /// 6 TCP, 17 UDP.
    pub l4proto: u8,
    pub iif: &'a str,
    pub daddr: IpAddr,
    pub dport: u16,
    /// A forwarded (DNAT'd) packet: where it goes after translation.
    pub forward: Option<Translated<'a>>,
}

#[derive(Debug, Clone)]
pub struct Translated<'a> {
    pub daddr: IpAddr,
    pub dport: u16,
    /// The interface it leaves by, when the routes say.
    pub oif: Option<&'a str>,
    /// A redirect, or a DNAT to one of this host's own addresses: it goes
    /// to the input path, not the forward path.
    pub to_local: bool,
}

/// What became of some sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Accepted by every base chain; the last accept on the way, if any.
    Open(Option<RuleAt>),
    Blocked(RuleAt),
    Undecided(RuleAt),
    /// Undecided by a verdict whyport cannot read (`notrack`, `queue`, an
    /// unknown target): what later chains see may have changed (an
    /// untracked packet's `ct state`), so no later drop decides it.
    Lost(RuleAt),
}

/// Where a chain left some sources.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Accepted(RuleAt),
    Blocked(RuleAt),
    Undecided(RuleAt),
    /// A verdict that could not be read (see `Fate::Lost`).
    Lost(RuleAt),
    /// Fell off the end or returned.
    Back,
}

/// Evaluate `packet` from every source of its family; the result is a
/// partition of the sources.
pub fn evaluate(ruleset: &Ruleset, packet: &Packet) -> Vec<(Sources, Fate)> {
    let v6 = packet.ipv6;
    if let Some(what) = ruleset.unread.first() {
        return vec![(
            Sources::all(v6),
            Fate::Undecided(RuleAt {
                chain: "the ruleset".into(),
                rule: None,
                text: String::new(),
                unknown: Some(sanitize::escape_str(what)),
            }),
        )];
    }
    // (sources, fate so far): Open carries the last accept, Undecided
    // stays undecided unless a later chain blocks it for certain.
    let mut flows: Vec<(Sources, Fate)> = vec![(Sources::all(v6), Fate::Open(None))];
    let stages: [(&[Hook], bool); 3] = [
        (&[Hook::Ingress(packet.iif.to_string())], false),
        (&[Hook::Prerouting], false),
        (
            if packet.forward.as_ref().is_some_and(|t| !t.to_local) {
                &[Hook::Forward]
            } else {
                &[Hook::Input]
            },
            true,
        ),
    ];
    for (hooks, routed) in stages {
        if routed && !v6 {
            flows = reverse_path(ruleset, packet, flows);
        }
        let mut bases: Vec<&BaseChain> = ruleset
            .base_chains
            .iter()
            .filter(|b| hooks.contains(&b.hook) && b.kind != "nat" && applies(b, v6))
            .collect();
        bases.sort_by_key(|b| b.priority);
        for base in bases {
            flows = through_base(ruleset, packet, base, flows);
        }
    }
    flows.retain(|(s, _)| !s.is_empty());
    flows
}

fn applies(base: &BaseChain, v6: bool) -> bool {
    match base.hook {
        Hook::Ingress(_) => base.chain.family == Family::Netdev || base.chain.family.sees(v6),
        _ => base.chain.family != Family::Netdev && base.chain.family.sees(v6),
    }
}

/// One base chain over every flow still alive.
fn through_base(
    ruleset: &Ruleset,
    packet: &Packet,
    base: &BaseChain,
    flows: Vec<(Sources, Fate)>,
) -> Vec<(Sources, Fate)> {
    let mut out = Vec::new();
    for (sources, fate) in flows {
        if matches!(fate, Fate::Blocked(_) | Fate::Lost(_)) {
            out.push((sources, fate));
            continue;
        }
        let before_conntrack = matches!(base.hook, Hook::Ingress(_))
            || (base.hook == Hook::Prerouting && base.priority < CONNTRACK);
        let mut w = Walker {
            ruleset,
            packet,
            translated: packet.forward.is_some() && base.priority > DSTNAT,
            at_dstnat: packet.forward.is_some() && base.priority == DSTNAT,
            routed: base.hook == Hook::Forward,
            tracked: if before_conntrack {
                Some(false)
            } else if base.hook == Hook::Prerouting && base.priority == CONNTRACK {
                None
            } else {
                Some(true)
            },
            steps: 0,
        };
        for (s, end) in w.chain(&base.chain, sources, 0) {
            let next = match end {
                End::Blocked(r) => Fate::Blocked(r),
                End::Lost(r) => match &fate {
                    Fate::Undecided(first) => Fate::Lost(first.clone()),
                    _ => Fate::Lost(r),
                },
                End::Undecided(r) => match &fate {
                    Fate::Undecided(first) => Fate::Undecided(first.clone()),
                    _ => Fate::Undecided(r),
                },
                End::Accepted(r) => match &fate {
                    Fate::Open(_) => Fate::Open(Some(r)),
                    other => other.clone(),
                },
                End::Back => match base.policy {
                    Policy::Accept => fate.clone(),
                    Policy::Drop => Fate::Blocked(policy(&base.chain, "drop")),
                },
            };
            out.push((s, next));
        }
    }
    out
}

fn policy(chain: &ChainRef, what: &str) -> RuleAt {
    RuleAt {
        chain: sanitize::escape_str(&chain.to_string()),
        rule: None,
        text: format!("policy {what}"),
        unknown: None,
    }
}

fn at(chain: &ChainRef, rule: &Rule, unknown: Option<String>) -> RuleAt {
    RuleAt {
        chain: sanitize::escape_str(&chain.to_string()),
        rule: Some(rule.number),
        text: sanitize::escape_str(&rule.to_string()),
        unknown: unknown.map(|u| sanitize::escape_str(&u)),
    }
}

struct Walker<'a> {
    ruleset: &'a Ruleset,
    packet: &'a Packet<'a>,
    /// The chain sees the destination after DNAT.
    translated: bool,
    /// The chain runs at the dstnat priority itself: before or after the
    /// translation is not defined.
    at_dstnat: bool,
    /// At the forward hook: the packet has been routed and has an output
    /// interface. Before routing, and at input, it has none.
    routed: bool,
    /// Conntrack has seen the packet (`None`: the chain runs at
    /// conntrack's own priority, before or after it is not defined).
    tracked: Option<bool>,
    steps: usize,
}

/// A condition, for the sources it is given.
enum Truth {
    Yes,
    No,
    /// True for these sources only.
    For(Sources),
    Unknown(String),
}

impl Walker<'_> {
    fn chain(&mut self, chain: &ChainRef, sources: Sources, depth: usize) -> Vec<(Sources, End)> {
        let Some(rules) = self.ruleset.chains.get(chain) else {
            return vec![(
                sources,
                End::Undecided(RuleAt {
                    chain: sanitize::escape_str(&chain.to_string()),
                    rule: None,
                    text: String::new(),
                    unknown: Some("the chain was not read".into()),
                }),
            )];
        };
        let mut out = Vec::new();
        let mut live = sources;
        for rule in rules {
            if live.is_empty() {
                break;
            }
            self.steps += 1;
            if self.steps > MAX_STEPS || depth > MAX_DEPTH {
                let why = "the walk went deeper or longer than any real ruleset";
                out.push((live, End::Undecided(at(chain, rule, Some(why.into())))));
                return out;
            }
            let mut matched = live.clone();
            let mut unknown = None;
            let mut never = false;
            // An ordinary first packet avoids a drop that needs an
            // extension header; a crafted one might get through an accept.
            let avoidable = matches!(
                rule.verdict,
                Verdict::Drop | Verdict::Reject | Verdict::Continue
            );
            for cond in &rule.conds {
                let truth = match cond {
                    Cond::Ipv6Header(_) if avoidable => Truth::No,
                    _ => self.truth(cond),
                };
                match truth {
                    Truth::Yes => {}
                    Truth::No => {
                        never = true;
                        break;
                    }
                    Truth::For(s) => matched = matched.intersect(&s),
                    Truth::Unknown(what) => {
                        unknown.get_or_insert(what);
                    }
                }
            }
            if never || matched.is_empty() {
                continue;
            }
            if rule.verdict == Verdict::Continue {
                continue;
            }
            if let Some(what) = unknown {
                live = live.minus(&matched);
                out.push((matched, End::Undecided(at(chain, rule, Some(what)))));
                continue;
            }
            live = live.minus(&matched);
            match &rule.verdict {
                Verdict::Continue => {}
                Verdict::Accept => out.push((matched, End::Accepted(at(chain, rule, None)))),
                Verdict::Drop | Verdict::Reject => {
                    out.push((matched, End::Blocked(at(chain, rule, None))))
                }
                Verdict::Return => out.push((matched, End::Back)),
                Verdict::Jump(name) | Verdict::Goto(name) => {
                    let target = ChainRef {
                        chain: name.clone(),
                        ..chain.clone()
                    };
                    let goto = matches!(rule.verdict, Verdict::Goto(_));
                    for (s, end) in self.chain(&target, matched, depth + 1) {
                        if end == End::Back && !goto {
                            // Back to the rule after the jump.
                            live = live.union(&s);
                        } else {
                            out.push((s, end));
                        }
                    }
                }
                Verdict::Nat => {
                    let why = "a translation in a filter chain".to_string();
                    out.push((matched, End::Lost(at(chain, rule, Some(why)))));
                }
                Verdict::Unknown(what) => {
                    out.push((matched, End::Lost(at(chain, rule, Some(what.clone())))));
                }
            }
        }
        if !live.is_empty() {
            out.push((live, End::Back));
        }
        out
    }

    fn destination(&self) -> Option<(IpAddr, u16)> {
        if self.at_dstnat {
            return None;
        }
        match (&self.packet.forward, self.translated) {
            (Some(t), true) => Some((t.daddr, t.dport)),
            _ => Some((self.packet.daddr, self.packet.dport)),
        }
    }

    fn truth(&self, cond: &Cond) -> Truth {
        let p = self.packet;
        let yes = |b: bool| if b { Truth::Yes } else { Truth::No };
        match cond {
            Cond::Ipv6(v6) => yes(*v6 == p.ipv6),
            Cond::L4proto { negated, protos } => yes(protos.contains(&p.l4proto) != *negated),
            Cond::Saddr { negated, set } => {
                let s = Sources::of(p.ipv6, set);
                Truth::For(if *negated { s.complement() } else { s })
            }
            Cond::Daddr { negated, set } => match self.destination() {
                Some((daddr, _)) => yes(Sources::of(p.ipv6, set).contains(daddr) != *negated),
                None => Truth::Unknown(format!("{cond} at the dstnat priority")),
            },
            Cond::Dport { negated, ranges } => match self.destination() {
                Some((_, port)) => {
                    let hit = ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi);
                    yes(hit != *negated)
                }
                None => Truth::Unknown(format!("{cond} at the dstnat priority")),
            },
            Cond::Sport { .. } => Truth::Unknown(format!("{cond}: a source port")),
            Cond::Iif { negated, names } => yes(names.iter().any(|n| n.matches(p.iif)) != *negated),
            Cond::Oif { negated, names } => match &p.forward {
                Some(t) if !t.to_local && self.routed => match t.oif {
                    Some(oif) => yes(names.iter().any(|n| n.matches(oif)) != *negated),
                    None => Truth::Unknown(format!("{cond}: the output interface is not known")),
                },
                // Before routing, and at input, there is no output
                // interface: the kernel compares an empty name (index 0),
                // which `!=` matches (and `! -o +` does not).
                _ => yes(names.iter().any(|n| n.matches("")) != *negated),
            },
            Cond::CtState { negated, mask } => match self.tracked {
                Some(true) => yes((mask & ct::NEW != 0) != *negated),
                Some(false) => yes((mask & ct::INVALID != 0) != *negated),
                None => Truth::Unknown(format!("{cond} at conntrack's priority")),
            },
            // Before conntrack there is no status to test.
            Cond::CtDnat { .. } if self.tracked != Some(true) => {
                Truth::Unknown(format!("{cond} before conntrack"))
            }
            Cond::CtDnat { negated } => {
                let dnat = p.forward.is_some() && self.translated;
                if p.forward.is_some() && self.at_dstnat {
                    return Truth::Unknown(format!("{cond} at the dstnat priority"));
                }
                yes(dnat != *negated)
            }
            Cond::DaddrType { negated, types } => {
                let kind = if p.forward.as_ref().is_some_and(|t| !t.to_local) && self.translated {
                    rtn::UNICAST
                } else {
                    rtn::LOCAL
                };
                if p.forward.is_some() && self.at_dstnat {
                    return Truth::Unknown(format!("{cond} at the dstnat priority"));
                }
                yes(types.contains(&kind) != *negated)
            }
            // Sources beyond this host are unicast addresses of others.
            Cond::SaddrType { negated, types } => yes(types.contains(&rtn::UNICAST) != *negated),
            Cond::RpfFails { negated, loose } => {
                let routes = if p.ipv6 {
                    &self.ruleset.routes_v6
                } else {
                    &self.ruleset.routes_v4
                };
                match passing(routes, p.ipv6, p.iif, *loose) {
                    Some(pass) => Truth::For(if *negated { pass } else { pass.complement() }),
                    None => Truth::Unknown(format!("{cond}: policy routing rules")),
                }
            }
            Cond::TcpFlags {
                negated,
                mask,
                value,
            } => {
                if p.l4proto != 6 {
                    return Truth::No;
                }
                // The first segment of a TCP connection: SYN, with ECN's
                // flags or PSH/URG as some clients send it.
                let hit = |flags: u8| (flags & mask == *value) != *negated;
                let first = hit(SYN_FORMS[0]);
                if SYN_FORMS.iter().all(|f| hit(*f) == first) {
                    yes(first)
                } else {
                    Truth::Unknown(format!(
                        "{cond}: depends on the flags a client's SYN carries"
                    ))
                }
            }
            Cond::Ipv6Header(what) => {
                Truth::Unknown(format!("{what}: a sender may add the header"))
            }
            Cond::Unknown(what) => Truth::Unknown(what.clone()),
        }
    }
}

/// The sources a reverse-path check lets in on `iif`: strict, those the
/// main table routes back out of `iif`; loose, those it routes at all.
/// `None` when policy routing rules make the main table not the answer.
pub fn passing(routes: &Routes, v6: bool, iif: &str, loose: bool) -> Option<Sources> {
    if routes.extra_rules {
        return None;
    }
    // Each prefix with whether any of its hops (a multipath route has
    // several) passes: strict, one out of `iif`; loose, one that leads
    // anywhere. A route that leads nowhere (blackhole, unreachable,
    // prohibit) fails both modes.
    let mut by_prefix: std::collections::BTreeMap<(u8, crate::model::firewall::Prefix), bool> =
        std::collections::BTreeMap::new();
    for (prefix, oif) in &routes.main {
        let ok = !oif.is_empty() && (loose || oif == iif);
        *by_prefix.entry((prefix.len, *prefix)).or_insert(false) |= ok;
    }
    let mut pass = Sources::none(v6);
    // Shorter prefixes first: a longer one decides over them.
    for ((_, prefix), ok) in by_prefix {
        let set = crate::model::firewall::Addresses {
            prefixes: vec![prefix],
            ranges: Vec::new(),
        };
        let s = Sources::of(v6, &set);
        pass = if ok { pass.union(&s) } else { pass.minus(&s) };
    }
    Some(pass)
}

/// The kernel's own reverse-path filter (IPv4 `rp_filter`: the larger of
/// `all` and the interface's), applied after prerouting.
fn reverse_path(
    ruleset: &Ruleset,
    packet: &Packet,
    flows: Vec<(Sources, Fate)>,
) -> Vec<(Sources, Fate)> {
    let mode = ["all", packet.iif]
        .iter()
        .filter_map(|k| ruleset.rp_filter.get(*k))
        .max()
        .copied()
        .unwrap_or(0);
    if mode == 0 {
        return flows;
    }
    let by = RuleAt {
        chain: "rp_filter".into(),
        rule: None,
        text: format!(
            "net.ipv4.conf.{}.rp_filter = {mode} ({})",
            sanitize::escape_str(packet.iif),
            if mode == 1 { "strict" } else { "loose" }
        ),
        unknown: None,
    };
    let Some(pass) = passing(&ruleset.routes_v4, false, packet.iif, mode == 2) else {
        let by = RuleAt {
            unknown: Some("policy routing rules decide the route back".into()),
            ..by
        };
        return flows
            .into_iter()
            .map(|(s, f)| match f {
                Fate::Blocked(_) | Fate::Lost(_) => (s, f),
                _ => (s, Fate::Undecided(by.clone())),
            })
            .collect();
    };
    let mut out = Vec::new();
    for (s, fate) in flows {
        if matches!(fate, Fate::Blocked(_)) {
            out.push((s, fate));
            continue;
        }
        out.push((s.minus(&pass), Fate::Blocked(by.clone())));
        out.push((s.intersect(&pass), fate));
    }
    out
}
