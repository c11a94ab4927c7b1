//! Ports open with no socket: DNAT and redirect rules followed to where
//! they lead (this host, a local namespace such as a container's, or
//! another host) and to the listeners there; and host listeners such a
//! rule shadows. Pure.

use std::net::IpAddr;

use super::warnings::Warning;
use crate::model::{NatAction, NatHook, NatRule, Protocol};
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
                destination,
                to_address,
                to_ports,
                receivers: Vec::new(),
                firewall: None,
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
        // Unknown ports: any socket there may receive it.
        None => f.rule.ports.contains(p) != Some(false),
    };
    let accepts = |l: &Listener| match f.to_address.map(unmap) {
        None => true,
        Some(a) => {
            l.address.is_unspecified() && (l.address.is_ipv4() == a.is_ipv4() || l.dual_stack)
                || unmap(l.address) == a
        }
    };
    let ok = |l: &Listener| {
        in_ns(l)
            && f.rule.protocol.is_none_or(|p| p == l.protocol)
            && port_ok(l.port)
            && accepts(l)
            && !beyond_redirect(f, l)
    };
    report
        .listeners
        .iter()
        .chain(&report.ns_listeners)
        .filter(|l| ok(l))
        .map(|l| l.inode)
        .collect()
}

/// A socket bound to a loopback address that a prerouting redirect
/// cannot reach: REDIRECT sends to the primary address of the interface
/// the packet came in on, never to 127.0.0.1 (unless the interface has
/// `route_localnet`, which whyport does not read).
fn beyond_redirect(f: &Forward, l: &Listener) -> bool {
    matches!(f.rule.action, NatAction::Redirect { .. })
        && f.rule.hook == NatHook::Prerouting
        && unmap(l.address).is_loopback()
}

/// The loopback-bound sockets on a prerouting redirect's translated port
/// that it does not reach (`beyond_redirect`), for the explanation.
pub fn missed_by_redirect<'a>(report: &'a Report, f: &Forward, own: u64) -> Vec<&'a Listener> {
    if !matches!(f.rule.action, NatAction::Redirect { .. }) || f.rule.hook != NatHook::Prerouting {
        return Vec::new();
    }
    let port_ok = |p: u16| match f.to_ports {
        Some((lo, hi)) => (lo..=hi).contains(&p),
        None => f.rule.ports.contains(p) == Some(true),
    };
    report
        .listeners
        .iter()
        .chain(&report.ns_listeners)
        .filter(|l| {
            (l.netns == 0 || l.netns == own)
                && f.rule.protocol.is_none_or(|p| p == l.protocol)
                && port_ok(l.port)
                && beyond_redirect(f, l)
        })
        .collect()
}

/// Whether the forward opens a port to traffic from outside: a rule
/// reached from the prerouting hook. One reached from `output` rewrites
/// only this host's own connections.
pub fn from_outside(f: &Forward) -> bool {
    f.rule.hook == NatHook::Prerouting
}

/// The number of destinations of the random split `f` is one of (1 when
/// it is not): the forwards reached through the same split chain from the
/// same hook by the same path and conditions.
pub fn split_size(report: &Report, f: &Forward) -> usize {
    let Some(split) = &f.rule.split else {
        return 1;
    };
    let upto = |r: &NatRule| -> Vec<String> {
        let end = r.path.iter().position(|c| c == split).map_or(0, |i| i + 1);
        r.path[..end].to_vec()
    };
    let key = |r: &NatRule| {
        (
            r.family.clone(),
            r.table.clone(),
            r.hook,
            upto(r),
            r.protocol,
            r.ports.clone(),
            r.daddr,
        )
    };
    let mine = key(&f.rule);
    report
        .forwards
        .iter()
        .filter(|g| g.rule.split.as_ref() == Some(split) && key(&g.rule) == mine)
        .count()
        .max(1)
}

/// A listener of this namespace whose port a DNAT or redirect rule takes
/// away: new connections from outside go where the rule sends them. Not
/// said of Docker's userland proxy, which holds the port on purpose next to
/// the rule (it serves the connections the rule does not see), nor of the
/// socket the rule itself delivers to.
pub fn shadowed(l: &Listener, forwards: &[Forward], own: u64) -> Option<Warning> {
    // Only a prerouting rule takes connections from outside away; one in
    // `output` rewrites this host's own connections (`from_outside`).
    if !(l.netns == 0 || l.netns == own) {
        return None;
    }
    let f = forwards.iter().find(|f| {
        matches!(
            f.rule.action,
            NatAction::Dnat { .. } | NatAction::Redirect { .. }
        ) && from_outside(f)
            && f.rule.protocol.is_none_or(|p| p == l.protocol)
            && f.rule.ports.contains(l.port) == Some(true)
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

/// The ports a forward catches as shown.
pub fn caught_text(f: &Forward) -> String {
    f.rule.ports.to_string()
}

/// Whether forward `f` catches `port`/`protocol` (not when its ports are
/// unknown).
pub fn catches(f: &Forward, port: u16, protocol: Protocol) -> bool {
    f.rule.protocol.is_none_or(|p| p == protocol) && f.rule.ports.contains(port) == Some(true)
}
