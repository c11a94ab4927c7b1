//! Which (interface, address) pairs a packet from beyond this host can
//! reach an opening by: the paths the firewall walk is run for.

use std::net::IpAddr;

use super::usable;
use crate::report::Listener;

/// Beyond this many (interface, address) pairs of one family, a packet
/// is evaluated only on the interface that holds the address it is sent
/// to. Per family: a dual-stack socket is an IPv4 and an IPv6 socket in
/// one, and is cut no sooner than they would be.
const MAX_PATHS: usize = 16;

/// `pairs` for each family of `covered` apart.
pub(super) fn pairs_by_family(
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

pub(super) const CROSS_LEFT_OUT: &str = "packets arriving on one interface for another interface's address were not evaluated (too many interfaces)";

/// The (interface, address) pairs a packet from beyond can reach `l` by.
pub(super) fn socket_paths(
    l: &Listener,
    addresses: &[(String, IpAddr)],
) -> (Vec<(String, IpAddr)>, bool) {
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
