//! Open to whom: this host's packet filter applied to each opening. For a
//! socket, every (interface, address) of its namespace its bind covers;
//! for a forward, every interface a packet to the host can arrive on,
//! walked through the forward path to the address it is translated to.
//! Pure: the rules, routes and addresses were read by `collect/`.

mod answer;
mod paths;
mod sources;
pub mod walk;

use std::net::IpAddr;

use crate::model::firewall::{Addresses, Ruleset};
use crate::model::{NatHook, PortSet, Protocol};
use crate::report::firewall::{Answer, Part, Path, Reachability};
use crate::report::{Destination, Forward, Listener};
use crate::sanitize;
use answer::{assemble, local_only, not_evaluated, parts};
use paths::{CROSS_LEFT_OUT, pairs_by_family, socket_paths};
use sources::Sources;
use walk::{Packet, Translated};

/// What the table's address marks mean (said once, on stderr, within 80
/// columns with its `whyport: note: `).
pub const LEGEND: &str = "address marks: ~ open to some sources, # firewalled, ? undecided";

/// The table's one-character mark after an address: nothing where every
/// source beyond the host gets in (or none can send to it at all).
/// Every mark `mark` gives, for whoever must tell it from the address.
pub const MARKS: [char; 3] = ['~', '#', '?'];

pub fn mark(answer: Answer) -> Option<char> {
    match answer {
        Answer::Open | Answer::LocalOnly => None,
        Answer::OpenFrom => Some('~'),
        Answer::Blocked => Some('#'),
        Answer::Undecided => Some('?'),
    }
}

/// After "undecided: " under the explanation's 12-column label: 75 columns.
const NOT_READ: &str = "rules not read (needs root; a recorded tree has none)";

/// Forwards of more ports than this are not walked port by port.
const MAX_PORTS: u32 = 64;

fn l4(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
    }
}

/// The addresses of the interfaces packets can arrive on: not a bridge's
/// ports or a bond's members (their packets arrive on the master).
fn arrivals(addresses: &[(String, IpAddr)], ruleset: &Ruleset) -> Vec<(String, IpAddr)> {
    addresses
        .iter()
        .filter(|(i, _)| !ruleset.enslaved.contains(i))
        .cloned()
        .collect()
}

pub(super) fn usable(iface: &str, a: IpAddr) -> bool {
    iface != "lo" && !crate::explain::exposure::is_loopback(a)
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
    let arriving = ruleset.map(|r| arrivals(addresses, r));
    let (paths, cut) = socket_paths(l, arriving.as_deref().unwrap_or(addresses));
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
    let addresses = &arrivals(addresses, ruleset);
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
        // Where it goes depends on the address only, not on the port.
        let to = f.to_address.unwrap_or(*address);
        let oif = oif(ruleset, to);
        for &protocol in &protocols {
            for &(lo, hi) in &ports {
                for port in lo..=hi {
                    let to_port = match f.to_ports {
                        Some((a, b)) if b > a => a.saturating_add(port - lo).min(b),
                        Some((a, _)) => a,
                        None => port,
                    };
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_answers;
