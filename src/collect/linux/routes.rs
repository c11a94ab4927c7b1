//! Linux: the routing facts a reverse-path check needs, in the calling
//! thread's network namespace: `rp_filter` per interface (an RTM_GETNETCONF
//! dump, or /proc/sys/net/ipv4/conf/*/rp_filter), the main table's routes
//! and whether policy routing rules beyond the default ones exist (rtnetlink
//! RTM_GETROUTE / RTM_GETRULE dumps, hand-written as netlink.rs is), and
//! the interfaces' names and masters (RTM_GETLINK).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

use super::netlink::attrs;
use super::proc_file::{self, Links};
use crate::model::firewall::{Prefix, Routes};

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_NH_ID: u16 = 30;
/// struct rtmsg and struct fib_rule_hdr: both 12 bytes.
const RTMSG: usize = 12;

/// `net.ipv4.conf.*.rp_filter` by interface, `all` and `default`
/// included; a value that cannot be read is left out. One netlink dump
/// (what `ip netconf` reads) where the kernel answers it: the files took
/// four calls an interface (six interfaces here: 28 calls against 5).
pub(super) fn rp_filter(names: &BTreeMap<u32, String>) -> BTreeMap<String, u8> {
    netconf_rp_filter(names).unwrap_or_else(|_| rp_filter_files())
}

/// rp_filter by interface from an RTM_GETNETCONF dump of IPv4.
fn netconf_rp_filter(names: &BTreeMap<u32, String>) -> io::Result<BTreeMap<String, u8>> {
    const RTM_NEWNETCONF: u16 = 80;
    const RTM_GETNETCONF: u16 = 82;
    /// struct netconfmsg (one byte), aligned.
    const NETCONFMSG: usize = 4;
    const NETCONFA_IFINDEX: u16 = 1;
    const NETCONFA_RP_FILTER: u16 = 3;
    const NETCONFA_IFINDEX_ALL: i32 = -1;
    const NETCONFA_IFINDEX_DEFAULT: i32 = -2;
    let fd = open_socket()?;
    let mut msg = vec![0u8; 16 + NETCONFMSG];
    msg[0..4].copy_from_slice(&((16 + NETCONFMSG) as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&RTM_GETNETCONF.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
    msg[16] = libc::AF_INET as u8;
    let mut out = BTreeMap::new();
    super::netlink::exchange(&fd, &msg, &mut |kind, payload| {
        if kind != RTM_NEWNETCONF || payload.len() < NETCONFMSG {
            return;
        }
        let found = attrs(&payload[NETCONFMSG..]);
        let value = |want: u16| {
            found
                .iter()
                .find(|(k, _)| *k == want)
                .and_then(|(_, v)| ne32(v))
        };
        let name = match value(NETCONFA_IFINDEX).map(|i| i as i32) {
            Some(NETCONFA_IFINDEX_ALL) => Some("all".to_string()),
            Some(NETCONFA_IFINDEX_DEFAULT) => Some("default".to_string()),
            Some(i) if i > 0 => name_of(names, i as u32),
            _ => None,
        };
        if let (Some(name), Some(rp)) = (name, value(NETCONFA_RP_FILTER))
            && let Ok(rp) = u8::try_from(rp)
        {
            out.insert(name, rp);
        }
    })?;
    if out.is_empty() {
        // Not even `all`: not an answer to trust.
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no netconf"));
    }
    Ok(out)
}

/// An interface's name: from the link dump, else asked of the kernel
/// (one that appeared since).
fn name_of(names: &BTreeMap<u32, String>, index: u32) -> Option<String> {
    names
        .get(&index)
        .cloned()
        .or_else(|| super::interface_name(index))
}

/// rp_filter by interface from /proc/sys/net/ipv4/conf.
pub(super) fn rp_filter_files() -> BTreeMap<String, u8> {
    let dir = "/proc/sys/net/ipv4/conf";
    proc_file::names_in(rustix::fs::CWD, dir, Links::Refuse)
        .into_iter()
        .filter_map(|name| {
            let text = proc_file::read_text(
                rustix::fs::CWD,
                format!("{dir}/{name}/rp_filter"),
                Links::Refuse,
                proc_file::SMALL,
            )
            .ok()?;
            Some((name, text.trim().parse().ok()?))
        })
        .collect()
}

/// The main table's routes of one family and whether other policy rules
/// exist; and what was not understood (routes through nexthop objects).
pub(super) fn routes(v6: bool, names: &BTreeMap<u32, String>) -> io::Result<(Routes, Vec<String>)> {
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
    let fd = open_socket()?;
    let mut routes = Routes::default();
    let mut unread = Vec::new();
    let mut nexthop_objects = false;
    // (prefix, output interface, metric): of routes to one prefix the
    // kernel uses the lowest metric's (all of a multipath one's hops).
    let mut found: Vec<(Prefix, String, u32)> = Vec::new();
    super::netlink::exchange(&fd, &request(RTM_GETROUTE, family), &mut |kind, payload| {
        if kind == RTM_NEWROUTE {
            let metric = route_metric(payload);
            match parse_route(payload, v6) {
                Some(Route::Main(list)) => found.extend(list.into_iter().map(|(p, oif)| {
                    let name = if oif == 0 {
                        String::new()
                    } else {
                        name_of(names, oif).unwrap_or_default()
                    };
                    (p, name, metric)
                })),
                Some(Route::NexthopObject) => nexthop_objects = true,
                _ => {}
            }
        }
    })?;
    routes.main = best_routes(found);
    if nexthop_objects {
        unread.push(format!(
            "IPv{} routes through nexthop objects (their interfaces)",
            if v6 { 6 } else { 4 }
        ));
    }
    let mut rules = Vec::new();
    super::netlink::exchange(&fd, &request(RTM_GETRULE, family), &mut |kind, payload| {
        if kind == RTM_NEWRULE {
            rules.push(parse_rule(payload));
        }
    })?;
    routes.extra_rules = extra_rules(&rules, v6);
    routes.main.sort();
    Ok((routes, unread))
}

/// The interfaces of the namespace, from one RTM_GETLINK dump.
#[derive(Debug, Default)]
pub(super) struct Interfaces {
    /// Names by index.
    pub names: BTreeMap<u32, String>,
    /// Interfaces enslaved to another (a bridge's ports, a bond's
    /// members): the stack takes their packets as arriving on the master,
    /// so they are no path of their own (IFLA_MASTER).
    pub enslaved: BTreeSet<String>,
}

pub(super) fn interfaces() -> io::Result<Interfaces> {
    const RTM_NEWLINK: u16 = 16;
    const RTM_GETLINK: u16 = 18;
    const IFINFOMSG: usize = 16;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MASTER: u16 = 10;
    let fd = open_socket()?;
    let mut msg = vec![0u8; 16 + IFINFOMSG];
    msg[0..4].copy_from_slice(&((16 + IFINFOMSG) as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
    let mut out = Interfaces::default();
    super::netlink::exchange(&fd, &msg, &mut |kind, payload| {
        if kind != RTM_NEWLINK || payload.len() < IFINFOMSG {
            return;
        }
        // struct ifinfomsg: family, pad, type (u16), then the index.
        let Some(index) = ne32(&payload[4..8]) else {
            return;
        };
        let found = attrs(&payload[IFINFOMSG..]);
        let Some((_, name)) = found.iter().find(|(k, _)| *k == IFLA_IFNAME) else {
            return;
        };
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        let name = String::from_utf8_lossy(&name[..end]).into_owned();
        let master = found
            .iter()
            .find(|(k, _)| *k == IFLA_MASTER)
            .and_then(|(_, v)| ne32(v));
        if master.is_some_and(|m| m != 0) {
            out.enslaved.insert(name.clone());
        }
        out.names.insert(index, name);
    })?;
    Ok(out)
}

/// RTA_PRIORITY: the route's metric (0 when absent).
fn route_metric(b: &[u8]) -> u32 {
    const RTA_PRIORITY: u16 = 6;
    b.get(RTMSG..)
        .map(attrs)
        .and_then(|a| a.into_iter().find(|(t, _)| *t == RTA_PRIORITY))
        .and_then(|(_, v)| ne32(v))
        .unwrap_or(0)
}

/// Of the routes to each prefix, those of the lowest metric.
pub(super) fn best_routes(found: Vec<(Prefix, String, u32)>) -> Vec<(Prefix, String)> {
    let mut best: std::collections::BTreeMap<Prefix, u32> = std::collections::BTreeMap::new();
    for (p, _, m) in &found {
        let e = best.entry(*p).or_insert(*m);
        *e = (*e).min(*m);
    }
    found
        .into_iter()
        .filter(|(p, _, m)| best.get(p) == Some(m))
        .map(|(p, oif, _)| (p, oif))
        .collect()
}

fn open_socket() -> io::Result<OwnedFd> {
    super::netlink::open(libc::NETLINK_ROUTE)
}

/// A dump request: nlmsghdr and an rtmsg / fib_rule_hdr with the family.
fn request(kind: u16, family: u8) -> Vec<u8> {
    let mut msg = vec![0u8; 16 + RTMSG];
    msg[0..4].copy_from_slice(&((16 + RTMSG) as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&kind.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
    msg[16] = family;
    msg
}

fn ne32(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// A main-table route: its prefix with each output interface index
    /// (several for a multipath route; 0 for a route that leads nowhere:
    /// blackhole, unreachable, prohibit).
    Main(Vec<(Prefix, u32)>),
    /// A main-table unicast route whose interfaces are in a nexthop object.
    NexthopObject,
    Other,
}

/// One RTM_NEWROUTE payload. A blackhole, unreachable or prohibit route
/// is kept with no interface (index 0): a reverse-path check fails for
/// sources it covers, as the kernel's does. A multipath route gives one
/// entry per nexthop: the strict check passes on any of them, as the
/// kernel's does (fib_info_nh_uses_dev).
fn parse_route(b: &[u8], v6: bool) -> Option<Route> {
    let head = b.get(..RTMSG)?;
    let (dst_len, table_byte, kind) = (head[1], head[4], head[7]);
    let a = attrs(&b[RTMSG..]);
    let table = a
        .iter()
        .find(|(t, _)| *t == RTA_TABLE)
        .and_then(|(_, v)| ne32(v))
        .unwrap_or(u32::from(table_byte));
    if table != RT_TABLE_MAIN {
        return Some(Route::Other);
    }
    let dst = a.iter().find(|(t, _)| *t == RTA_DST).map(|(_, v)| *v);
    let address = match (dst, v6) {
        (None, false) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (None, true) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        (Some(d), false) => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(d).ok()?)),
        (Some(d), true) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(d).ok()?)),
    };
    let prefix = Prefix {
        address,
        len: dst_len,
    };
    if kind != RTN_UNICAST {
        return Some(Route::Main(vec![(prefix, 0)]));
    }
    let mut oifs: Vec<u32> = a
        .iter()
        .filter(|(t, _)| *t == RTA_OIF)
        .filter_map(|(_, v)| ne32(v))
        .collect();
    if let Some(&(_, mut mp)) = a.iter().find(|(t, _)| *t == RTA_MULTIPATH) {
        // struct rtnexthop: len u16, flags, hops, ifindex i32; then
        // attributes up to len.
        while mp.len() >= 8 {
            let len = usize::from(u16::from_ne_bytes([mp[0], mp[1]]));
            if len < 8 || len > mp.len() {
                break;
            }
            oifs.push(ne32(&mp[4..])?);
            mp = &mp[((len + 3) & !3).min(mp.len())..];
        }
    }
    if oifs.is_empty() && a.iter().any(|(t, _)| *t == RTA_NH_ID) {
        return Some(Route::NexthopObject);
    }
    Some(Route::Main(oifs.into_iter().map(|i| (prefix, i)).collect()))
}

/// What of an RTM_NEWRULE payload decides whether it is a default rule.
#[derive(Debug, PartialEq, Eq)]
struct RuleFacts {
    priority: u32,
    table: u32,
    /// No selector (every packet), action "lookup a table".
    plain: bool,
}

fn parse_rule(b: &[u8]) -> RuleFacts {
    const FRA_PRIORITY: u16 = 6;
    const FRA_SUPPRESS_IFGROUP: u16 = 13;
    const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
    const FRA_TABLE: u16 = 15;
    const FRA_PAD: u16 = 18;
    const FRA_PROTOCOL: u16 = 21;
    let Some(head) = b.get(..RTMSG) else {
        return RuleFacts {
            priority: 0,
            table: 0,
            plain: false,
        };
    };
    // fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2,
    // action (1: to a table), flags (2: inverted).
    let mut plain = head[1] == 0
        && head[2] == 0
        && head[3] == 0
        && head[7] == 1
        && ne32(&head[8..]).is_some_and(|f| f & 2 == 0);
    let (mut priority, mut table) = (0, u32::from(head[4]));
    for (kind, v) in attrs(&b[RTMSG..]) {
        match kind {
            FRA_PRIORITY => priority = ne32(v).unwrap_or(0),
            FRA_TABLE => table = ne32(v).unwrap_or(table),
            FRA_PROTOCOL | FRA_PAD => {}
            // -1: not set.
            FRA_SUPPRESS_IFGROUP | FRA_SUPPRESS_PREFIXLEN if ne32(v) == Some(u32::MAX) => {}
            _ => plain = false,
        }
    }
    RuleFacts {
        priority,
        table,
        plain,
    }
}

/// Whether the rules are anything but the kernel's defaults (IPv4: local
/// at 0, main at 32766, default at 32767; IPv6 has no `default` rule). A
/// missing main rule counts too: then `main` is not what routes.
fn extra_rules(rules: &[RuleFacts], v6: bool) -> bool {
    let defaults: &[(u32, u32)] = if v6 {
        &[(0, 255), (32766, 254)]
    } else {
        &[(0, 255), (32766, 254), (32767, 253)]
    };
    let is_default = |r: &RuleFacts| r.plain && defaults.contains(&(r.priority, r.table));
    rules.iter().any(|r| !is_default(r))
        || !rules
            .iter()
            .any(|r| is_default(r) && r.table == RT_TABLE_MAIN)
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
