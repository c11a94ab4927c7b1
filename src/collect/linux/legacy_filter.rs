//! Linux: the iptables-legacy tables (raw, mangle, nat, filter, security;
//! IPv4 and IPv6) of the calling thread's network namespace as filter
//! rules: base chains with their hook, priority and policy, user chains,
//! and each rule's conditions (the ipt_ip/ip6t_ip6 header, then its
//! matches through xt.rs) and verdict. Tables are read with the getsockopt
//! calls of legacy.rs, and only those /proc lists, so reading loads no
//! module.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::legacy::{self, HOOKS, Table};
use super::nft::text;
use super::xt;
use crate::model::firewall::{
    Addresses, Backend, BaseChain, ChainRef, Cond, Family, Hook, IfName, Policy, Prefix, Rule,
    Ruleset, Verdict,
};

/// The tables that can drop a packet to this host (in their hook order).
/// Not `nat`: the walk does not evaluate nat chains (the NAT reader reads
/// that table, and reading it twice cost a second copy of its entries).
const TABLES: [&str; 4] = ["raw", "mangle", "filter", "security"];

/// Add every listed legacy table of both families to `rs`. An error
/// (permission, a table that vanished) ends the reading: the caller says
/// what was not read.
pub(super) fn ruleset_legacy(rs: &mut Ruleset) -> io::Result<()> {
    for v6 in [false, true] {
        let names = legacy::table_names(v6)?;
        for name in TABLES.iter().filter(|t| names.iter().any(|n| n == *t)) {
            let table = legacy::read_table(v6, name)?;
            decode(&table, v6, name, rs);
        }
    }
    Ok(())
}

/// Where ipt_entry and ip6t_entry keep what is read here.
struct Layout {
    /// sizeof the entry header; its matches follow.
    entry: usize,
    /// target_offset, then next_offset.
    target_offset: usize,
    /// ipt_ip.flags / ip6t_ip6.flags and the invflags after them.
    flags: usize,
    goto: u8,
}

const V4: Layout = Layout {
    entry: 112,
    target_offset: 88,
    flags: 82,
    goto: 0x02,
};
const V6: Layout = Layout {
    entry: 168,
    target_offset: 140,
    flags: 131,
    goto: 0x04,
};

/// xt_entry_match / xt_entry_target header: size, name[29], revision.
const XT_HEADER: usize = 32;

struct Entry<'a> {
    at: usize,
    bytes: &'a [u8],
    target_offset: usize,
    target: String,
}

/// The entries, or None when a size is impossible (then nothing of the
/// table is taken: half a chain could turn a drop into an accept).
fn entries<'a>(table: &'a [u8], l: &Layout) -> Option<Vec<Entry<'a>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < table.len() {
        let e = table.get(at..at + l.entry)?;
        let u16_at = |i: usize| usize::from(u16::from_ne_bytes([e[i], e[i + 1]]));
        let (target_offset, next) = (u16_at(l.target_offset), u16_at(l.target_offset + 2));
        if target_offset < l.entry || target_offset + XT_HEADER > next || at + next > table.len() {
            return None;
        }
        let bytes = &table[at..at + next];
        out.push(Entry {
            at,
            bytes,
            target_offset,
            target: text(&bytes[target_offset + 2..target_offset + 31]),
        });
        at += next;
    }
    Some(out)
}

fn hook(h: usize) -> Hook {
    match h {
        0 => Hook::Prerouting,
        1 => Hook::Input,
        2 => Hook::Forward,
        3 => Hook::Output,
        _ => Hook::Postrouting,
    }
}

/// The kernel's NF_IP_PRI_* of each table (nat: DNAT before filtering,
/// SNAT after).
fn priority(table: &str, h: usize) -> i32 {
    match (table, h) {
        ("raw", _) => -300,
        ("mangle", _) => -150,
        ("nat", 0 | 3) => -100,
        ("nat", _) => 100,
        ("security", _) => 50,
        _ => 0,
    }
}

/// Add one table's base chains and chains to `rs`.
pub fn decode(table: &Table, v6: bool, name: &str, rs: &mut Ruleset) {
    let (layout, family) = if v6 {
        (&V6, Family::Ip6)
    } else {
        (&V4, Family::Ip)
    };
    let chain_ref = |chain: &str| ChainRef {
        backend: Backend::IptablesLegacy,
        family,
        table: name.to_string(),
        chain: chain.to_string(),
    };
    let hooks: Vec<usize> = (0..5)
        .filter(|h| table.valid_hooks & (1 << h) != 0)
        .collect();
    let Some(list) = entries(&table.entries, layout).filter(|list| whole(list, table, &hooks))
    else {
        let tool = if v6 {
            "ip6tables-legacy"
        } else {
            "iptables-legacy"
        };
        rs.unread.push(format!(
            "{tool} table {name}: an entry could not be decoded"
        ));
        return;
    };
    let starts = starts(&list, table, &hooks);
    let mut chain: Option<(String, bool)> = None;
    let mut number = 0;
    for (i, e) in list.iter().enumerate() {
        if let Some(&h) = hooks
            .iter()
            .find(|&&h| table.hook_entry[h] as usize == e.at)
        {
            chain = Some((HOOKS[h].to_string(), false));
            number = 0;
        }
        if e.target == "ERROR" {
            if let Some(next) = list.get(i + 1) {
                let user = starts.get(&next.at).cloned().unwrap_or_default();
                rs.chains.entry(chain_ref(&user)).or_default();
                chain = Some((user, true));
                number = 0;
            }
            continue;
        }
        let Some((current, user)) = &chain else {
            continue;
        };
        if let Some(&h) = hooks.iter().find(|&&h| table.underflow[h] as usize == e.at) {
            // A policy is ACCEPT or DROP; anything else is said unread.
            let policy = match standard(e) {
                Some(-1) => Policy::Drop,
                Some(-2) => Policy::Accept,
                _ => {
                    rs.unread
                        .push(format!("the policy of {}", chain_ref(HOOKS[h])));
                    Policy::Accept
                }
            };
            let (hook, priority) = (hook(h), priority(name, h));
            rs.base_chains.push(BaseChain {
                chain: chain_ref(HOOKS[h]),
                hook,
                kind: name.to_string(),
                priority,
                policy,
            });
            rs.chains.entry(chain_ref(HOOKS[h])).or_default();
            continue;
        }
        number += 1;
        let rules = rule(e, layout, v6, number, &starts);
        // A user chain ends in an unconditional RETURN iptables adds (not
        // one of its rules; `iptables -L` does not show it).
        let tail = *user && list.get(i + 1).is_some_and(|n| n.target == "ERROR");
        if let (true, [r]) = (tail, &rules[..])
            && r.conds.is_empty()
            && r.verdict == Verdict::Return
        {
            continue;
        }
        rs.chains
            .entry(chain_ref(current))
            .or_default()
            .extend(rules);
    }
}

/// Whether the table is whole, as the kernel hands one over: it ends in
/// the entry named ERROR that iptables and the kernel put last, and every
/// built-in chain's start and policy are entries.
fn whole(list: &[Entry], table: &Table, hooks: &[usize]) -> bool {
    let at = |offset: u32| list.iter().any(|e| e.at == offset as usize);
    list.last().is_some_and(|e| {
        e.target == "ERROR" && text(&e.bytes[e.target_offset + XT_HEADER..]) == "ERROR"
    }) && hooks
        .iter()
        .all(|&h| at(table.hook_entry[h]) && at(table.underflow[h]))
}

/// Where each chain starts: a built-in chain at its hook entry, a user
/// chain after the ERROR entry naming it (jumps point there).
fn starts(list: &[Entry], table: &Table, hooks: &[usize]) -> HashMap<usize, String> {
    let mut starts: HashMap<usize, String> = HashMap::new();
    for &h in hooks {
        starts.insert(table.hook_entry[h] as usize, HOOKS[h].to_string());
    }
    for (e, next) in list.iter().zip(list.iter().skip(1)) {
        if e.target == "ERROR" {
            starts.insert(next.at, text(&e.bytes[e.target_offset + XT_HEADER..]));
        }
    }
    starts
}

/// The verdict of a standard target (empty name): negative, a kernel
/// verdict minus one; otherwise a byte offset to jump to.
fn standard(e: &Entry) -> Option<i32> {
    if !e.target.is_empty() {
        return None;
    }
    let b = e
        .bytes
        .get(e.target_offset + XT_HEADER..e.target_offset + XT_HEADER + 4)?;
    Some(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The entry as a rule; as several with the same number and verdict when
/// one match is an "or" (xt::match_alternatives), one per alternative.
fn rule(
    e: &Entry,
    l: &Layout,
    v6: bool,
    number: u64,
    starts: &HashMap<usize, String>,
) -> Vec<Rule> {
    let b = e.bytes;
    let (flags, inv) = (b[l.flags], b[l.flags + 1]);
    let mut alternatives = vec![header(b, v6, flags, inv)];
    let mut comment = None;
    let mut at = l.entry;
    while at + XT_HEADER <= e.target_offset {
        let size = usize::from(u16::from_ne_bytes([b[at], b[at + 1]]));
        if size < XT_HEADER || at + size > e.target_offset {
            for conds in &mut alternatives {
                conds.push(Cond::Unknown("a malformed match".into()));
            }
            break;
        }
        let name = text(&b[at + 2..at + 31]);
        let (rev, data) = (u32::from(b[at + 31]), &b[at + XT_HEADER..at + size]);
        if name == "comment" {
            comment = xt::comment(data);
        }
        let parts = xt::match_alternatives(&name, rev, data, v6);
        alternatives = match (&alternatives[..], &parts[..]) {
            (_, [all]) => alternatives
                .into_iter()
                .map(|c| [c, all.clone()].concat())
                .collect(),
            // One split per rule: a second "or" stays undecided.
            ([before], _) => parts
                .iter()
                .map(|p| [before.clone(), p.clone()].concat())
                .collect(),
            _ => {
                let unknown = xt::match_conds(&name, rev, data, v6);
                alternatives
                    .into_iter()
                    .map(|c| [c, unknown.clone()].concat())
                    .collect()
            }
        };
        at += size;
    }
    let data = &b[e.target_offset + XT_HEADER..];
    let verdict = match standard(e) {
        None => xt::target_verdict(&e.target, u32::from(b[e.target_offset + 31]), data),
        Some(-1) => Verdict::Drop,
        Some(-2) => Verdict::Accept,
        // XT_RETURN: -NF_REPEAT - 1.
        Some(-5) => Verdict::Return,
        Some(v) if v < 0 => Verdict::Unknown(format!("kernel verdict {}", -v - 1)),
        // A rule with no target: iptables makes it jump to the next entry.
        Some(v) if v as usize == e.at + b.len() => Verdict::Continue,
        Some(v) => match starts.get(&(v as usize)) {
            Some(to) if flags & l.goto != 0 => Verdict::Goto(to.clone()),
            Some(to) => Verdict::Jump(to.clone()),
            None => Verdict::Unknown(format!("a jump to byte {v}")),
        },
    };
    alternatives
        .into_iter()
        .map(|conds| Rule {
            number,
            conds,
            verdict: verdict.clone(),
            comment: comment.clone(),
        })
        .collect()
}

/// The conditions of ipt_ip / ip6t_ip6: protocol, addresses with masks,
/// interfaces with masks, and the inversion bits (IPT_INV_*: 0x01 in,
/// 0x02 out, 0x08 source, 0x10 destination, 0x20 fragment, 0x40 proto).
fn header(b: &[u8], v6: bool, flags: u8, inv: u8) -> Vec<Cond> {
    let (alen, ifaces, proto_at) = if v6 { (16, 64, 128) } else { (4, 16, 80) };
    let mut conds = Vec::new();
    let proto = u16::from_ne_bytes([b[proto_at], b[proto_at + 1]]);
    // ip6tables says whether the protocol counts (IP6T_F_PROTO, 0x01).
    if proto != 0 && (!v6 || flags & 0x01 != 0) {
        conds.push(match u8::try_from(proto) {
            Ok(p) => Cond::L4proto {
                negated: inv & 0x40 != 0,
                protos: vec![p],
            },
            Err(_) => Cond::Unknown(format!("-p {proto}")),
        });
    }
    for (which, inv_bit) in [(0, 0x08), (1, 0x10)] {
        let addr = &b[which * alen..(which + 1) * alen];
        let mask = &b[(2 + which) * alen..(3 + which) * alen];
        let negated = inv & inv_bit != 0;
        if mask.iter().all(|m| *m == 0) && !negated {
            continue;
        }
        let flag = if which == 0 { "-s" } else { "-d" };
        let cond = match prefix(addr, mask) {
            Some(p) => {
                let set = Addresses {
                    prefixes: vec![p],
                    ranges: Vec::new(),
                };
                if which == 0 {
                    Cond::Saddr { negated, set }
                } else {
                    Cond::Daddr { negated, set }
                }
            }
            None => Cond::Unknown(format!("{flag} with a non-contiguous mask")),
        };
        conds.push(cond);
    }
    for (which, inv_bit) in [(0, 0x01), (1, 0x02)] {
        let name = text(&b[ifaces + 16 * which..ifaces + 16 * (which + 1)]);
        let negated = inv & inv_bit != 0;
        if name.is_empty() {
            // `-i +` matches every interface; `! -i +` none: an empty
            // prefix, negated, says so.
            if negated {
                let names = vec![IfName { name, prefix: true }];
                conds.push(if which == 0 {
                    Cond::Iif { negated, names }
                } else {
                    Cond::Oif { negated, names }
                });
            }
            continue;
        }
        // iptables masks the name and its NUL for an exact name, the
        // name only for `eth+`.
        let mask = &b[ifaces + 32 + 16 * which..ifaces + 32 + 16 * (which + 1)];
        let covered = mask.iter().take_while(|m| **m == 0xff).count();
        let names = vec![if covered > name.len() {
            IfName {
                name,
                prefix: false,
            }
        } else {
            IfName {
                name: name.chars().take(covered).collect(),
                prefix: true,
            }
        }];
        conds.push(if which == 0 {
            Cond::Iif { negated, names }
        } else {
            Cond::Oif { negated, names }
        });
    }
    // `-f` (IPv4): second and later fragments; ip6tables' TOS flag
    // (0x02) is not set by the tool.
    if !v6 && flags & 0x01 != 0 {
        let not = if inv & 0x20 != 0 { "! " } else { "" };
        conds.push(Cond::Unknown(format!("{not}-f")));
    } else if v6 && flags & 0x02 != 0 {
        conds.push(Cond::Unknown("ip6tables traffic class".into()));
    }
    conds
}

/// A prefix from an address and a contiguous mask.
fn prefix(addr: &[u8], mask: &[u8]) -> Option<Prefix> {
    let bits: Vec<bool> = mask
        .iter()
        .flat_map(|m| (0..8).rev().map(move |i| m & (1 << i) != 0))
        .collect();
    let len = bits.iter().take_while(|b| **b).count();
    if bits[len..].iter().any(|b| *b) {
        return None;
    }
    let masked: Vec<u8> = addr.iter().zip(mask).map(|(a, m)| a & m).collect();
    let address = match masked.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(masked).ok()?)),
        _ => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(masked).ok()?)),
    };
    Some(Prefix {
        address,
        len: u8::try_from(len).ok()?,
    })
}

#[cfg(test)]
#[path = "legacy_filter_tests.rs"]
mod tests;
