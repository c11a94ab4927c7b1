//! Ports open with no socket: DNAT and redirect rules followed to where
//! they lead (this host, a local namespace such as a container's, or
//! another host) and to the listeners there; and host listeners such a
//! rule shadows. Pure.

use std::net::IpAddr;

use super::warnings::Warning;
use crate::model::{NatAction, NatRule, Protocol};
pub use crate::report::{Destination, Forward};
use crate::report::{Listener, Report};
use crate::sanitize::escape_str;

/// Follow every rule. `own` is the inode of whyport's namespace (0 when
/// namespaces were not read), `addresses` each namespace's addresses.
pub fn follow(report: &Report, rules: &[NatRule], own: u64) -> Vec<Forward> {
    rules
        .iter()
        .map(|rule| {
            let (destination, to_address, to_ports) = match &rule.action {
                NatAction::Redirect { ports } => (Destination::ThisHost, None, *ports),
                NatAction::Dnat {
                    address: Some(a),
                    ports,
                } => (locate(report, *a, own), Some(*a), *ports),
                NatAction::Dnat {
                    address: None,
                    ports,
                } => (Destination::Unknown, None, *ports),
                NatAction::Unknown => (Destination::Unknown, None, None),
            };
            let mut f = Forward {
                rule: rule.clone(),
                ports: rule.ports.clone(),
                destination,
                to_address,
                to_ports,
                receivers: Vec::new(),
            };
            f.receivers = receivers(report, &f, own);
            f
        })
        .collect()
}

/// Which namespace has `address` configured.
fn locate(report: &Report, address: IpAddr, own: u64) -> Destination {
    let address = unmap(address);
    let found = report
        .namespaces
        .iter()
        .find(|ns| ns.addresses.iter().any(|(_, a)| unmap(*a) == address));
    match found {
        Some(ns) if ns.own || ns.inode == own => Destination::ThisHost,
        Some(ns) => Destination::Namespace(ns.inode),
        None if address.is_loopback() => Destination::ThisHost,
        None if report.namespaces.is_empty() => Destination::Unknown,
        None => Destination::OtherHost,
    }
}

fn unmap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        a => a,
    }
}

/// The listeners a forward delivers to: in its destination namespace, of
/// its protocol, on the translated port (or the caught port when it is
/// kept), bound to the destination address or a wildcard.
fn receivers(report: &Report, f: &Forward, own: u64) -> Vec<u64> {
    let ns = match f.destination {
        Destination::ThisHost => None,
        Destination::Namespace(inode) => Some(inode),
        Destination::OtherHost | Destination::Unknown => return Vec::new(),
    };
    let in_ns = |l: &Listener| match ns {
        None => l.netns == 0 || l.netns == own,
        Some(inode) => l.netns == inode,
    };
    let port_ok = |p: u16| match f.to_ports {
        Some((lo, hi)) => (lo..=hi).contains(&p),
        None => f.ports.is_empty() || f.ports.iter().any(|(lo, hi)| (*lo..=*hi).contains(&p)),
    };
    let accepts = |l: &Listener| match f.to_address.map(unmap) {
        None => true,
        Some(a) => {
            l.address.is_unspecified() && (l.address.is_ipv4() == a.is_ipv4() || l.dual_stack)
                || unmap(l.address) == a
        }
    };
    let ok = |l: &Listener| {
        in_ns(l) && f.rule.protocol.is_none_or(|p| p == l.protocol) && port_ok(l.port) && accepts(l)
    };
    report
        .listeners
        .iter()
        .chain(&report.ns_listeners)
        .filter(|l| ok(l))
        .map(|l| l.inode)
        .collect()
}

/// Stand-ins for forwarded ports, so that audits and policies judge them
/// like listeners: one per forward and protocol, on the first port it
/// catches, bound to the rule's destination address match (else every
/// address, as the rule applies to any), held by the processes that get
/// the traffic. Forwards of every port (or undecoded ports) are left out:
/// they name no port to judge, and are listed as forwarded already.
pub fn stand_ins(report: &Report) -> Vec<Listener> {
    let mut out = Vec::new();
    for f in &report.forwards {
        let Some(&(port, _)) = f.ports.first() else {
            continue;
        };
        let protocols = match f.rule.protocol {
            Some(p) => vec![p],
            None => vec![Protocol::Tcp, Protocol::Udp],
        };
        let v6 = f.rule.family == "ip6";
        let address = f.rule.daddr.unwrap_or(if v6 {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        });
        let mut owners: Vec<crate::report::Owner> = Vec::new();
        for l in f.receivers.iter().filter_map(|i| report.listener(*i)) {
            for o in &l.owners {
                if !owners.iter().any(|x| x.process.pid == o.process.pid) {
                    owners.push(crate::report::Owner {
                        process: std::sync::Arc::clone(&o.process),
                        fds: Vec::new(),
                    });
                }
            }
        }
        owners.sort_by_key(|o| o.process.pid);
        let netns = f
            .receivers
            .first()
            .and_then(|i| report.listener(*i))
            .map_or(0, |l| l.netns);
        for protocol in protocols {
            out.push(Listener {
                protocol,
                address,
                port,
                interface: None,
                dual_stack: false,
                inode: 0,
                socket_uid: 0,
                netns,
                service: crate::services::lookup(port, protocol),
                owner_status: if owners.is_empty() {
                    crate::report::OwnerStatus::Kernel
                } else {
                    crate::report::OwnerStatus::Visible
                },
                owners: owners.clone(),
                forwarded_to: Some(format!(
                    "{} (ports {}) by NAT rule {}",
                    to_text(f),
                    ports_text(&f.ports),
                    rule_name(&f.rule)
                )),
            });
        }
    }
    out
}

/// A listener of this namespace whose port a DNAT rule takes away: new
/// connections from outside go where the rule sends them. Not said of
/// Docker's userland proxy, which holds the port on purpose next to the
/// rule (it serves the connections the rule does not see).
pub fn shadowed(l: &Listener, forwards: &[Forward], own: u64) -> Option<Warning> {
    if !(l.netns == 0 || l.netns == own) {
        return None;
    }
    let f = forwards.iter().find(|f| {
        matches!(f.rule.action, NatAction::Dnat { .. })
            && f.rule.protocol.is_none_or(|p| p == l.protocol)
            && !f.ports.is_empty()
            && f.ports.iter().any(|(lo, hi)| (*lo..=*hi).contains(&l.port))
            && f.rule
                .daddr
                .is_none_or(|d| l.address.is_unspecified() || unmap(d) == unmap(l.address))
            && !f.receivers.contains(&l.inode)
    })?;
    Some(Warning {
        id: "shadowed-by-dnat",
        text: format!(
            "NAT rule {} sends incoming {}/{} connections to {}, so this listener only gets what the rule does not catch (connections from this host, or from interfaces the rule excludes)",
            rule_name(&f.rule),
            l.port,
            l.protocol.as_str(),
            to_text(f)
        ),
    })
}

/// `ip nat PREROUTING (handle 4, "comment")`, escaped.
pub fn rule_name(r: &NatRule) -> String {
    let mut s = format!(
        "{} {} {} (handle {}",
        escape_str(&r.family),
        escape_str(&r.table),
        escape_str(&r.chain),
        r.handle
    );
    if let Some(c) = &r.comment {
        s.push_str(&format!(", \"{}\"", escape_str(c)));
    }
    s.push(')');
    s
}

/// `10.231.0.2:80`, `[fd00::2]:443`, `port 9091 of this host`.
pub fn to_text(f: &Forward) -> String {
    let ports = |p: Option<(u16, u16)>| match p {
        Some((lo, hi)) if lo == hi => format!("{lo}"),
        Some((lo, hi)) => format!("{lo}-{hi}"),
        None => "the same port".into(),
    };
    match (&f.rule.action, f.to_address) {
        (NatAction::Redirect { ports: p }, _) => match p {
            Some(_) => format!("port {} of this host", ports(*p)),
            None => "the same port of this host".into(),
        },
        (_, Some(IpAddr::V6(a))) => match f.to_ports {
            Some(_) => format!("[{a}]:{}", ports(f.to_ports)),
            None => format!("{a}"),
        },
        (_, Some(a)) => match f.to_ports {
            Some(_) => format!("{a}:{}", ports(f.to_ports)),
            None => format!("{a}"),
        },
        (_, None) => "an address whyport could not decode".into(),
    }
}

/// `8080`, `8092,8093`, `8000-8010`, `*`.
pub fn ports_text(ports: &[(u16, u16)]) -> String {
    if ports.is_empty() {
        return "*".into();
    }
    ports
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The ports a forward catches as shown: `8080`, `8092,8093`, `*` (every
/// port), `?` (its port condition could not be decoded).
pub fn caught_text(f: &Forward) -> String {
    if f.ports.is_empty() && !f.rule.undecoded.is_empty() {
        "?".into()
    } else {
        ports_text(&f.ports)
    }
}

/// The ports `f` catches as the query asks about them: `None` for every
/// port (or ports that could not be decoded).
pub fn caught_ports(f: &Forward) -> Option<&[(u16, u16)]> {
    (!f.ports.is_empty()).then_some(f.ports.as_slice())
}

/// Whether forward `f` catches `port`/`protocol`.
pub fn catches(f: &Forward, port: u16, protocol: Protocol) -> bool {
    f.rule.protocol.is_none_or(|p| p == protocol)
        && (f.ports.is_empty() || f.ports.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port)))
}
