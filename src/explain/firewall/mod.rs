//! Open to whom: this host's packet filter applied to each opening. For a
//! socket, every (interface, address) of its namespace its bind covers;
//! for a forward, every interface a packet to the host can arrive on,
//! walked through the forward path to the address it is translated to.
//! Pure: the rules, routes and addresses were read by `collect/`.

mod sources;
pub mod walk;

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::firewall::{Addresses, Prefix, Ruleset};
use crate::model::{NatHook, PortSet, Protocol};
use crate::report::firewall::{Answer, Outcome, Part, Path, Reachability, RuleAt};
use crate::report::{Destination, Forward, Listener};
use crate::sanitize;
use sources::Sources;
use walk::{Fate, Packet, Translated};

/// What the table's address marks mean (said once, on stderr).
pub const LEGEND: &str = "address marks: ~ open only from some sources, # blocked by this host's firewall, ? the firewall's answer is undecided (`whyport PORT` says why)";

/// The table's one-character mark after an address: nothing where every
/// source beyond the host gets in (or none can send to it at all).
pub fn mark(answer: Answer) -> Option<char> {
    match answer {
        Answer::Open | Answer::LocalOnly => None,
        Answer::OpenFrom => Some('~'),
        Answer::Blocked => Some('#'),
        Answer::Undecided => Some('?'),
    }
}

const NOT_READ: &str =
    "the firewall rules were not read (reading them needs root; a recorded tree has none)";

/// Forwards of more ports than this are not walked port by port.
const MAX_PORTS: u32 = 64;

fn l4(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
    }
}

fn usable(iface: &str, a: IpAddr) -> bool {
    iface != "lo" && !crate::explain::exposure::is_loopback(a)
}

/// Beyond this many (interface, address) pairs of one family, a packet
/// is evaluated only on the interface that holds the address it is sent
/// to. Per family: a dual-stack socket is an IPv4 and an IPv6 socket in
/// one, and is cut no sooner than they would be.
const MAX_PATHS: usize = 16;

/// `pairs` for each family of `covered` apart.
fn pairs_by_family(
    covered: &[(String, IpAddr)],
    addresses: &[(String, IpAddr)],
) -> (Vec<(String, IpAddr)>, bool) {
    let mut out = Vec::new();
    let mut cut = false;
    for v6 in [false, true] {
        let family: Vec<(String, IpAddr)> = covered
            .iter()
            .filter(|(_, a)| a.is_ipv6() == v6)
            .cloned()
            .collect();
        let (found, left_out) = pairs(&family, addresses);
        out.extend(found);
        cut |= left_out;
    }
    (out, cut)
}

/// Every (interface, address) pair by which a packet from beyond can
/// reach `covered` addresses: Linux takes a packet for any of its
/// addresses on any interface (the weak host model), so a packet arriving
/// on eth1 for eth0's address is a path of its own, and rules on `iifname`
/// treat it apart. Link-local addresses only on their own link. The
/// second value says whether the cross-interface pairs were left out.
fn pairs(
    covered: &[(String, IpAddr)],
    addresses: &[(String, IpAddr)],
) -> (Vec<(String, IpAddr)>, bool) {
    let mut ifaces: Vec<&str> = addresses
        .iter()
        .filter(|(i, a)| usable(i, *a))
        .map(|(i, _)| i.as_str())
        .collect();
    ifaces.sort_unstable();
    ifaces.dedup();
    let link_local =
        |a: &IpAddr| matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
    let mut out: Vec<(String, IpAddr)> = Vec::new();
    for (holder, a) in covered {
        if link_local(a) {
            out.push((holder.clone(), *a));
            continue;
        }
        out.extend(ifaces.iter().map(|i| (i.to_string(), *a)));
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_PATHS {
        let mut own = covered.to_vec();
        own.sort();
        own.dedup();
        return (own, true);
    }
    (out, false)
}

const CROSS_LEFT_OUT: &str = "packets arriving on one interface for another interface's address were not evaluated (too many interfaces)";

/// The (interface, address) pairs a packet from beyond can reach `l` by.
fn socket_paths(l: &Listener, addresses: &[(String, IpAddr)]) -> (Vec<(String, IpAddr)>, bool) {
    let bound = match l.address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(l.address, IpAddr::V4),
        a => a,
    };
    let covered: Vec<(String, IpAddr)> = addresses
        .iter()
        .filter(|(i, a)| usable(i, *a))
        .filter(|(_, a)| {
            if l.address.is_unspecified() {
                (a.is_ipv4() && (l.address.is_ipv4() || l.dual_stack))
                    || (a.is_ipv6() && l.address.is_ipv6())
            } else {
                *a == bound
            }
        })
        .cloned()
        .collect();
    let (mut out, cut) = pairs_by_family(&covered, addresses);
    // A device bind takes packets from that device only.
    if let Some(d) = &l.interface {
        out.retain(|(i, _)| i == d);
    }
    (out, cut)
}

/// The firewall's answer for a socket in a namespace with these addresses
/// (`None`: not read) and this ruleset (`None`: not read).
pub fn of_socket(
    l: &Listener,
    addresses: Option<&[(String, IpAddr)]>,
    ruleset: Option<&Ruleset>,
) -> Reachability {
    if crate::explain::exposure::is_loopback(l.address) || l.interface.as_deref() == Some("lo") {
        return local_only();
    }
    let Some(addresses) = addresses else {
        return not_evaluated("the addresses of its network namespace were not read");
    };
    let (paths, cut) = socket_paths(l, addresses);
    if paths.is_empty() {
        return local_only();
    }
    let Some(ruleset) = ruleset else {
        return not_evaluated(NOT_READ);
    };
    let mut out = Vec::new();
    for (iface, address) in paths {
        let packet = Packet {
            ipv6: address.is_ipv6(),
            l4proto: l4(l.protocol),
            iif: &iface,
            daddr: address,
            dport: l.port,
            forward: None,
        };
        let parts = parts(walk::evaluate(ruleset, &packet));
        out.push(Path {
            interface: sanitize::escape_str(&iface),
            address,
            parts,
        });
    }
    let notes = if cut {
        vec![CROSS_LEFT_OUT.to_string()]
    } else {
        Vec::new()
    };
    assemble(out, notes)
}

/// The firewall's answer for a forward of the host's namespace (its
/// `addresses` and `ruleset`).
pub fn of_forward(
    f: &Forward,
    addresses: Option<&[(String, IpAddr)]>,
    ruleset: Option<&Ruleset>,
) -> Reachability {
    if f.rule.hook == NatHook::Output {
        return local_only();
    }
    let Some(addresses) = addresses else {
        return not_evaluated("the host's addresses were not read");
    };
    let Some(ruleset) = ruleset else {
        return not_evaluated(NOT_READ);
    };
    // A condition of the NAT rule itself that was not decoded (a source
    // prefix, a mark) may leave some sources untranslated: who is
    // forwarded is then not known.
    if !f.rule.undecoded.is_empty() {
        return not_evaluated(&format!(
            "the NAT rule has conditions that were not decoded ({})",
            sanitize::escape_str(&f.rule.undecoded.join("; "))
        ));
    }
    let ports: Vec<(u16, u16)> = match &f.rule.ports {
        PortSet::Only(r)
            if r.iter().map(|(a, b)| u32::from(b - a) + 1).sum::<u32>() <= MAX_PORTS =>
        {
            r.clone()
        }
        PortSet::Only(_) | PortSet::Except(_) | PortSet::Every => {
            return not_evaluated("it forwards more ports than are walked one by one");
        }
        PortSet::Undecoded => return not_evaluated("its ports were not decoded"),
    };
    let protocols: Vec<Protocol> = match f.rule.protocol {
        Some(p) => vec![p],
        None => vec![Protocol::Tcp, Protocol::Udp],
    };
    let family_v4 = f.rule.family != "ip6";
    let family_v6 = f.rule.family == "ip6" || f.rule.family == "inet";
    let covered: Vec<(String, IpAddr)> = addresses
        .iter()
        .filter(|(i, a)| usable(i, *a))
        .filter(|(_, a)| (a.is_ipv4() && family_v4) || (a.is_ipv6() && family_v6))
        .filter(|(_, a)| f.rule.daddr.is_none_or(|d| d == *a))
        .cloned()
        .collect();
    let (mut entries, cut) = pairs_by_family(&covered, addresses);
    entries.retain(|(i, _)| {
        f.rule.iif.as_ref().is_none_or(|(negated, name)| {
            let hit = match name.strip_suffix('*') {
                Some(prefix) => i.starts_with(prefix),
                None => name == i,
            };
            hit != *negated
        })
    });
    if entries.is_empty() {
        return local_only();
    }
    let to_local = matches!(f.destination, Destination::ThisHost);
    if f.to_address.is_none() && !to_local {
        return not_evaluated("where it translates to was not decoded");
    }
    let mut out = Vec::new();
    for (iface, address) in &entries {
        let mut seen: Option<Vec<Part>> = None;
        for &protocol in &protocols {
            for &(lo, hi) in &ports {
                for port in lo..=hi {
                    let to_port = match f.to_ports {
                        Some((a, b)) if b > a => a.saturating_add(port - lo).min(b),
                        Some((a, _)) => a,
                        None => port,
                    };
                    let to = f.to_address.unwrap_or(*address);
                    let oif = oif(ruleset, to);
                    let packet = Packet {
                        ipv6: address.is_ipv6(),
                        l4proto: l4(protocol),
                        iif: iface,
                        daddr: *address,
                        dport: port,
                        forward: Some(Translated {
                            daddr: to,
                            dport: to_port,
                            oif: oif.as_deref(),
                            to_local,
                        }),
                    };
                    let now = parts(walk::evaluate(ruleset, &packet));
                    match &seen {
                        Some(before) if *before != now => {
                            return not_evaluated(
                                "the firewall treats its ports or protocols differently",
                            );
                        }
                        _ => seen = Some(now),
                    }
                }
            }
        }
        out.push(Path {
            interface: sanitize::escape_str(iface),
            address: *address,
            parts: seen.unwrap_or_default(),
        });
    }
    let mut notes = docker_notes(ruleset, &out);
    if cut {
        notes.push(CROSS_LEFT_OUT.to_string());
    }
    assemble(out, notes)
}

/// The interface the main table routes `to` out of.
fn oif(ruleset: &Ruleset, to: IpAddr) -> Option<String> {
    let routes = if to.is_ipv6() {
        &ruleset.routes_v6
    } else {
        &ruleset.routes_v4
    };
    if routes.extra_rules {
        return None;
    }
    routes
        .main
        .iter()
        .filter(|(p, _)| {
            let set = Addresses {
                prefixes: vec![*p],
                ranges: Vec::new(),
            };
            Sources::of(to.is_ipv6(), &set).contains(to)
        })
        .max_by_key(|(p, _)| p.len)
        .map(|(_, i)| i.clone())
}

/// Docker's published ports: whether DOCKER-USER restricts them, and
/// that ufw's input rules do not apply to them.
fn docker_notes(ruleset: &Ruleset, paths: &[Path]) -> Vec<String> {
    let mut notes = Vec::new();
    let named = |n: &str| ruleset.chains.keys().any(|c| c.chain == n);
    if named("DOCKER-USER") {
        let restricts = paths.iter().flat_map(|p| &p.parts).any(|p| {
            p.by.as_ref()
                .is_some_and(|b| b.chain.ends_with(" DOCKER-USER"))
        });
        notes.push(if restricts {
            "DOCKER-USER restricts who reaches it".to_string()
        } else {
            "DOCKER-USER does not restrict it".to_string()
        });
    }
    if ruleset.chains.keys().any(|c| c.chain.starts_with("ufw-")) {
        notes.push(
            "ufw's rules (its input chains) do not apply to it: forwarded traffic takes the FORWARD path"
                .to_string(),
        );
    }
    notes
}

fn local_only() -> Reachability {
    Reachability {
        answer: Answer::LocalOnly,
        paths: Vec::new(),
        notes: Vec::new(),
        summary: "nothing beyond this host can send to it".into(),
    }
}

fn not_evaluated(why: &str) -> Reachability {
    Reachability {
        answer: Answer::Undecided,
        paths: Vec::new(),
        notes: vec![why.to_string()],
        summary: format!("undecided: {why}"),
    }
}

/// The walk's partition as parts, the same fates merged, open first.
fn parts(fates: Vec<(Sources, Fate)>) -> Vec<Part> {
    let mut merged: BTreeMap<(Outcome, Option<RuleAt>), Sources> = BTreeMap::new();
    for (s, fate) in fates {
        let key = match fate {
            Fate::Open(by) => (Outcome::Open, by),
            Fate::Blocked(by) => (Outcome::Blocked, Some(by)),
            Fate::Undecided(by) => (Outcome::Undecided, Some(by)),
        };
        let entry = merged.entry(key).or_insert_with(|| Sources::none(s.v6));
        *entry = entry.union(&s);
    }
    merged
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|((outcome, by), s)| Part {
            sources: s.prefixes(),
            outcome,
            by,
        })
        .collect()
}

fn assemble(paths: Vec<Path>, notes: Vec<String>) -> Reachability {
    let outcomes: Vec<Outcome> = paths
        .iter()
        .flat_map(|p| &p.parts)
        .map(|p| p.outcome)
        .collect();
    let answer = if outcomes.is_empty() {
        Answer::LocalOnly
    } else if outcomes.iter().all(|o| *o == Outcome::Open) {
        Answer::Open
    } else if outcomes.contains(&Outcome::Open) {
        Answer::OpenFrom
    } else if outcomes.contains(&Outcome::Undecided) {
        Answer::Undecided
    } else {
        Answer::Blocked
    };
    let summary = summary(answer, &paths);
    Reachability {
        answer,
        paths,
        notes,
        summary,
    }
}

/// Prefixes for people: "10.0.0.0/8", or "all but 10.0.0.0/8" when that
/// is shorter, or "every source".
fn sources_text(prefixes: &[Prefix]) -> String {
    let Some(first) = prefixes.first() else {
        return "no source".into();
    };
    let v6 = first.address.is_ipv6();
    let set = Sources::of(
        v6,
        &Addresses {
            prefixes: prefixes.to_vec(),
            ranges: Vec::new(),
        },
    );
    if set.is_all() {
        return "every source".into();
    }
    let rest = set.complement().prefixes();
    let list = |p: &[Prefix]| {
        p.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if rest.len() < prefixes.len() {
        format!("all but {}", list(&rest))
    } else {
        list(prefixes)
    }
}

/// "inet filter input, rule 12 'tcp dport 22 accept'", "policy drop (inet
/// filter input)".
pub fn by_text(by: &RuleAt) -> String {
    let mut s = match by.rule {
        Some(n) => format!("{}, rule {n} '{}'", by.chain, by.text),
        None if by.text.is_empty() => by.chain.clone(),
        None => format!("{} ({})", by.text, by.chain),
    };
    if let Some(u) = &by.unknown {
        s.push_str(&format!(": not evaluated: {u}"));
    }
    s
}

fn summary(answer: Answer, paths: &[Path]) -> String {
    if answer == Answer::LocalOnly {
        return "nothing beyond this host can send to it".into();
    }
    let ifaces = |pred: &dyn Fn(&Part) -> bool| {
        let mut v: Vec<&str> = paths
            .iter()
            .filter(|p| p.parts.iter().any(pred))
            .map(|p| p.interface.as_str())
            .collect();
        v.dedup();
        v.join(", ")
    };
    let mut clauses: Vec<String> = Vec::new();
    if answer == Answer::Open {
        let by: Vec<&RuleAt> = unique(
            paths
                .iter()
                .flat_map(|p| &p.parts)
                .filter_map(|p| p.by.as_ref()),
        );
        let on = ifaces(&|_| true);
        return match by.first() {
            None => format!("open to every source on {on}: no rule filters it"),
            Some(b) if by.len() == 1 => format!("open to every source on {on} ({})", by_text(b)),
            Some(_) => format!("open to every source on {on}"),
        };
    }
    for p in paths {
        for part in p.parts.iter().filter(|x| x.outcome == Outcome::Open) {
            let by = part
                .by
                .as_ref()
                .map(|b| format!(" ({})", by_text(b)))
                .unwrap_or_default();
            clauses.push(format!(
                "open from {} on {} to {}{by}",
                sources_text(&part.sources),
                p.interface,
                p.address
            ));
        }
    }
    for outcome in [Outcome::Undecided, Outcome::Blocked] {
        let by: Vec<&RuleAt> = unique(
            paths
                .iter()
                .flat_map(|p| &p.parts)
                .filter(|x| x.outcome == outcome)
                .filter_map(|x| x.by.as_ref()),
        );
        if by.is_empty() {
            continue;
        }
        let word = if outcome == Outcome::Blocked {
            "blocked"
        } else {
            "undecided"
        };
        let where_ =
            if clauses.is_empty() && outcome == Outcome::Blocked && answer == Answer::Blocked {
                format!("on {}", ifaces(&|x| x.outcome == outcome))
            } else {
                "elsewhere".to_string()
            };
        let shown: Vec<String> = by.iter().take(2).map(|b| by_text(b)).collect();
        let more = if by.len() > 2 {
            format!(" and {} more", by.len() - 2)
        } else {
            String::new()
        };
        clauses.push(format!("{word} {where_} by {}{more}", shown.join("; ")));
    }
    clauses.join("; ")
}

fn unique<'a>(items: impl Iterator<Item = &'a RuleAt>) -> Vec<&'a RuleAt> {
    let mut v: Vec<&RuleAt> = Vec::new();
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
    v
}

#[cfg(test)]
mod tests;
