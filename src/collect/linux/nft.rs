//! Linux: DNAT and redirect rules from the nf_tables ruleset, read over
//! NETLINK_NETFILTER (what `nft list ruleset` reads) without running `nft`
//! or `iptables`. Rules written by iptables-nft mix native expressions
//! (`meta l4proto`, `payload`, `cmp`) with iptables-compatibility `match`
//! and `target` expressions whose data are the xtables structs; both are
//! decoded. A rule with a NAT action whyport cannot fully read is kept,
//! with what could not be decoded, never dropped.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

use super::nat_walk::{Branch, Chains, Step, Verdict};
use crate::model::{NatAction, NatHook, NatRule, PortSet, Protocol};

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub(super) const NFT_MSG_NEWCHAIN: u16 = 3;
pub(super) const NFT_MSG_GETCHAIN: u16 = 4;
pub(super) const NFT_MSG_NEWRULE: u16 = 6;
pub(super) const NFT_MSG_GETRULE: u16 = 7;
pub(super) const NFT_MSG_NEWSETELEM: u16 = 12;
pub(super) const NFT_MSG_GETSETELEM: u16 = 13;
const NLMSG_HDR: usize = 16;

/// One rule as the kernel sends it, before decoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRule {
    pub family: u8,
    pub table: String,
    pub chain: String,
    pub handle: u64,
    pub userdata: Vec<u8>,
    /// (expression name, its NFTA_EXPR_DATA attributes).
    pub exprs: Vec<(String, Vec<u8>)>,
}

/// The DNAT and redirect rules of the current thread's network namespace,
/// found by walking each table from its nat base chains (prerouting,
/// output; read with NFT_MSG_GETCHAIN: hook number, type, priority)
/// through jumps, gotos and verdict maps.
pub(super) fn nat_rules(dump: &Dump) -> io::Result<Vec<NatRule>> {
    let fd = open_socket()?;
    let chains: Vec<BaseChain> = dump
        .chains
        .iter()
        .filter_map(|(family, attrs)| parse_chain(*family, attrs))
        .collect();
    let mut tables: std::collections::BTreeMap<(u8, String), Chains> = Default::default();
    for raw in &dump.rules {
        let (mut step, map) = decode_step(raw);
        resolve_sets(&fd, raw, &mut step.rule);
        if let Some(map) = map {
            step.verdict = verdict_map(&fd, raw, &map);
        }
        tables
            .entry((raw.family, raw.table.clone()))
            .or_default()
            .entry(raw.chain.clone())
            .or_default()
            .push(step);
    }
    let mut out = Vec::new();
    for ((family, table), chains_of) in &tables {
        out.extend(super::nat_walk::walk(
            chains_of,
            &base_chains(&chains, *family, table),
        ));
    }
    Ok(out)
}

/// A base chain: (family, table, name, hook number, type, priority).
type BaseChain = (u8, String, String, u32, String, i32);

/// The nat base chains of a table at the prerouting and output hooks, in
/// the order the kernel runs them (hook, then priority).
pub fn base_chains(chains: &[BaseChain], family: u8, table: &str) -> Vec<(String, NatHook)> {
    let mut found: Vec<&BaseChain> = chains
        .iter()
        .filter(|c| c.0 == family && c.1 == table && c.4 == "nat" && (c.3 == 0 || c.3 == 3))
        .collect();
    found.sort_by_key(|c| (c.3, c.5));
    found
        .into_iter()
        .map(|c| (c.2.clone(), NatHook::from_number(c.3)))
        .collect()
}

/// Every chain (NFT_MSG_NEWCHAIN: family and attributes) and rule of the
/// calling thread's network namespace, dumped once for both the NAT walk
/// and the filter reader. The kernel walks a chain's rules from its first
/// for each batch of a dump, so the dump is the dearest part of a large
/// ruleset: 20,000 rules cost ~300 ms per dump on this project's machine,
/// and whyport paid it twice before the two readers shared one.
pub(in crate::collect) struct Dump {
    pub(super) chains: Vec<(u8, Vec<u8>)>,
    pub(super) rules: Vec<RawRule>,
}

/// The chains and rules of one generation of the ruleset, read again (up
/// to three times) when it changed while it was read (`firewalld
/// --reload`): a torn dump could lack the rule that blocks a port.
pub(super) fn dump() -> io::Result<Dump> {
    let mut tries = 0;
    loop {
        match dump_once() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && tries < 2 => tries += 1,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                return Err(io::Error::new(
                    e.kind(),
                    "the ruleset changed each time it was read",
                ));
            }
            other => return other,
        }
    }
}

/// Chains and rules are two dumps: each reply says the generation it was
/// written at (nfgenmsg's res_id, its low 16 bits), and they must agree.
fn dump_once() -> io::Result<Dump> {
    let fd = open_socket()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let ask = |kind| request(kind, flags, libc::AF_UNSPEC as u8, &[]);
    let chains = exchange_at(&fd, &ask(NFT_MSG_GETCHAIN), NFT_MSG_NEWCHAIN)?;
    let rules = exchange_at(&fd, &ask(NFT_MSG_GETRULE), NFT_MSG_NEWRULE)?;
    let mut generations = chains.iter().chain(&rules).map(|(_, g, _)| *g);
    if let Some(first) = generations.next()
        && generations.any(|g| g != first)
    {
        return Err(super::netlink::torn());
    }
    Ok(Dump {
        chains: chains.into_iter().map(|(f, _, b)| (f, b)).collect(),
        rules: rules
            .into_iter()
            .map(|(family, _, attrs)| parse_rule(family, &attrs))
            .collect(),
    })
}

/// NFTA_CHAIN_* attributes of a base chain (table 1, name 3, hook 4 with
/// NFTA_HOOK_HOOKNUM 1 and NFTA_HOOK_PRIORITY 2, type 7); `None` for a
/// regular chain, which has no hook.
pub fn parse_chain(family: u8, b: &[u8]) -> Option<BaseChain> {
    let (mut table, mut name, mut kind) = (String::new(), String::new(), String::new());
    let mut hook = None;
    let mut priority = 0;
    for (k, v) in attrs(b) {
        match k {
            1 => table = text(v),
            3 => name = text(v),
            4 => {
                for (h, x) in attrs(v) {
                    match h {
                        1 => hook = be32(x),
                        2 => priority = be32(x).map_or(0, |p| p as i32),
                        _ => {}
                    }
                }
            }
            7 => kind = text(v),
            _ => {}
        }
    }
    Some((family, table, name, hook?, kind, priority))
}

pub(super) fn open_socket() -> io::Result<OwnedFd> {
    super::netlink::open(NETLINK_NETFILTER)
}

/// A request: netlink header, nfgenmsg (family, version 0, res_id 0), attrs.
pub(super) fn request(kind: u16, flags: u16, family: u8, attrs: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDR + 4 + attrs.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | kind).to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[family, 0, 0, 0]);
    msg.extend_from_slice(attrs);
    msg
}

/// Send `msg` and collect the payloads (after nfgenmsg) of every reply of
/// type `want`, with the family of each.
pub(super) fn exchange(fd: &OwnedFd, msg: &[u8], want: u16) -> io::Result<Vec<(u8, Vec<u8>)>> {
    Ok(exchange_at(fd, msg, want)?
        .into_iter()
        .map(|(family, _, body)| (family, body))
        .collect())
}

/// `exchange`, with each reply's generation (nfgenmsg's res_id).
fn exchange_at(fd: &OwnedFd, msg: &[u8], want: u16) -> io::Result<Vec<(u8, u16, Vec<u8>)>> {
    let mut out = Vec::new();
    super::netlink::exchange(fd, msg, &mut |kind, body| {
        if kind == (NFNL_SUBSYS_NFTABLES << 8) | want && body.len() >= 4 {
            let generation = u16::from_be_bytes([body[2], body[3]]);
            out.push((body[0], generation, body[4..].to_vec()));
        }
    })?;
    Ok(out)
}

/// Netlink attributes: (type without the nested/byte-order flags, payload).
pub(super) use super::netlink::attrs;

pub(super) fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// A NUL-terminated (or not) kernel name as text.
pub(super) fn text(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// NFTA_RULE_* attributes into a raw rule.
pub fn parse_rule(family: u8, b: &[u8]) -> RawRule {
    let mut r = RawRule {
        family,
        ..RawRule::default()
    };
    for (kind, v) in attrs(b) {
        match kind {
            1 => r.table = text(v),
            2 => r.chain = text(v),
            3 => {
                r.handle = v
                    .get(..8)
                    .map_or(0, |h| u64::from_be_bytes(h.try_into().unwrap_or([0; 8])))
            }
            4 => {
                for (_, elem) in attrs(v) {
                    let mut name = String::new();
                    let mut data = Vec::new();
                    for (k, x) in attrs(elem) {
                        match k {
                            1 => name = text(x),
                            2 => data = x.to_vec(),
                            _ => {}
                        }
                    }
                    r.exprs.push((name, data));
                }
            }
            7 => r.userdata = v.to_vec(),
            _ => {}
        }
    }
    r
}

/// What a register holds while a rule's expressions are read in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reg {
    L4proto,
    /// The address family (`meta nfproto`, in inet tables).
    Nfproto,
    Dport,
    /// The destination address (16 bytes when true).
    Daddr(bool),
    Iifname,
    /// `fib daddr type`: the route type of the destination (2: local).
    FibDaddrType,
    /// `numgen random mod N`.
    Numgen,
    Imm(Vec<u8>),
    /// Something whyport does not model (described for the report).
    Other(String),
}

fn family_name(f: u8) -> &'static str {
    match f {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => "unknown",
    }
}

/// A verdict map lookup to read: the set, and what its key is made of
/// (the registers from the lookup's source register on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapKey {
    pub set: String,
    pub key: Vec<Reg>,
    pub inverted: bool,
}

/// nf_tables has 4 registers of 16 bytes (1-4) and 16 of 4 bytes (8-23)
/// over the same storage: count in 4-byte ones, so that a concatenation
/// (`meta l4proto . th dport`) is consecutive registers.
pub(super) fn reg32(r: u32) -> u32 {
    match r {
        1..=4 => 8 + (r - 1) * 4,
        r => r,
    }
}

/// Decode one rule: its conditions, and what it does when they hold (a
/// DNAT or redirect, a jump, a goto, a return, a verdict map to read).
pub fn decode_step(raw: &RawRule) -> (Step, Option<MapKey>) {
    let mut rule = NatRule {
        family: family_name(raw.family).into(),
        table: raw.table.clone(),
        chain: raw.chain.clone(),
        handle: raw.handle,
        comment: comment(&raw.userdata),
        ..NatRule::default()
    };
    let mut regs: std::collections::HashMap<u32, Reg> = std::collections::HashMap::new();
    let mut verdict = Verdict::Continue;
    let mut random = false;
    let mut map = None;
    for (name, data) in &raw.exprs {
        let a = attrs(data);
        let get = |k: u16| a.iter().find(|(t, _)| *t == k).map(|(_, v)| *v);
        let get32 = |k: u16| get(k).and_then(be32);
        let reg = |k: u16| get32(k).map(reg32);
        let value = |k: u16| {
            get(k).and_then(|d| {
                attrs(d)
                    .into_iter()
                    .find(|(t, _)| *t == 1)
                    .map(|(_, v)| v.to_vec())
            })
        };
        match name.as_str() {
            "meta" => {
                if let (Some(dreg), Some(key)) = (reg(1), get32(2)) {
                    let r = match key {
                        16 => Reg::L4proto,
                        15 => Reg::Nfproto,
                        6 => Reg::Iifname,
                        _ => Reg::Other(format!("meta key {key}")),
                    };
                    regs.insert(dreg, r);
                }
            }
            "payload" => {
                if let Some(dreg) = reg(1) {
                    let (base, offset, len) = (get32(2), get32(3), get32(4));
                    // An inet table holds both: the length tells them apart.
                    let (v4, v6) = match raw.family {
                        2 => (true, false),
                        10 => (false, true),
                        _ => (true, true),
                    };
                    let r = match (base, offset, len) {
                        (Some(2), Some(2), Some(2)) => Reg::Dport,
                        (Some(1), Some(9), Some(1)) if v4 && !v6 => Reg::L4proto,
                        (Some(1), Some(6), Some(1)) if v6 && !v4 => Reg::L4proto,
                        (Some(1), Some(16), Some(4)) if v4 => Reg::Daddr(false),
                        (Some(1), Some(24), Some(16)) if v6 => Reg::Daddr(true),
                        _ => Reg::Other(format!(
                            "payload base {} offset {} length {}",
                            base.unwrap_or(0),
                            offset.unwrap_or(0),
                            len.unwrap_or(0)
                        )),
                    };
                    regs.insert(dreg, r);
                }
            }
            "fib" => {
                // NFTA_FIB_RESULT 3 is the address type; NFTA_FIB_F_DADDR 2.
                if let Some(dreg) = reg(1) {
                    let r = match (get32(2), get32(3)) {
                        (Some(3), Some(f)) if f & 2 != 0 => Reg::FibDaddrType,
                        _ => Reg::Other("a fib lookup".into()),
                    };
                    regs.insert(dreg, r);
                }
            }
            // A mask over a register (`ip daddr != 127.0.0.0/8`): what
            // is compared after it is a network, which whyport does not model.
            "bitwise" => {
                if let (Some(sreg), Some(dreg)) = (reg(1), reg(2)) {
                    let what = describe(regs.get(&sreg).cloned());
                    regs.insert(dreg, Reg::Other(format!("{what} under a mask")));
                }
            }
            "numgen" => {
                if let Some(dreg) = reg(1) {
                    regs.insert(dreg, Reg::Numgen);
                }
            }
            "immediate" => match reg(1) {
                // The verdict register: a jump, goto, return, accept, drop.
                Some(0) => verdict = immediate_verdict(get(2).unwrap_or_default()),
                Some(dreg) => {
                    if let Some(v) = value(2) {
                        regs.insert(dreg, Reg::Imm(v));
                    }
                }
                None => {}
            },
            "cmp" => {
                let reg = reg(1).and_then(|r| regs.get(&r)).cloned();
                let op = get32(2).unwrap_or(0);
                let data = value(3).unwrap_or_default();
                if reg == Some(Reg::Numgen) {
                    random = true;
                } else {
                    cmp(&mut rule, reg, op, &data);
                }
            }
            "range" => {
                let reg = reg(1).and_then(|r| regs.get(&r)).cloned();
                match (reg, get32(2), value(3), value(4)) {
                    (Some(Reg::Dport), Some(op @ (0 | 1)), Some(lo), Some(hi)) => {
                        // NFT_RANGE_EQ 0, NFT_RANGE_NEQ 1.
                        rule.ports = match port(&lo).zip(port(&hi)) {
                            Some(r) if op == 0 => PortSet::only([r]),
                            Some(r) => PortSet::except([r]),
                            None => PortSet::Undecoded,
                        };
                    }
                    (reg, ..) => {
                        if reg == Some(Reg::Dport) {
                            rule.ports = PortSet::Undecoded;
                        }
                        rule.undecoded.push(format!("a range on {}", describe(reg)));
                    }
                }
            }
            "lookup" => {
                let sreg = reg(2);
                let first = sreg.and_then(|r| regs.get(&r)).cloned();
                let set = get(1).map(text).unwrap_or_default();
                let inverted = get32(5).is_some_and(|f| f & 1 != 0);
                match (first, get32(3)) {
                    // NFT_REG_VERDICT: a verdict map, read by `verdict_map`.
                    (reg, Some(0)) => {
                        let mut key = Vec::new();
                        let mut r = sreg.unwrap_or(0);
                        while let Some(k) = regs.get(&r) {
                            key.push(k.clone());
                            r += if *k == Reg::Daddr(true) { 4 } else { 1 };
                        }
                        if reg.is_none() {
                            key.clear();
                        }
                        map = Some(MapKey {
                            set: set.clone(),
                            key,
                            inverted,
                        });
                        verdict = Verdict::Undecoded(format!("the verdict map @{set}"));
                    }
                    (Some(Reg::Dport), None) => {
                        // Read by `resolve_sets`; until then unknown.
                        rule.ports = PortSet::Undecoded;
                        let not = if inverted { "not " } else { "" };
                        rule.undecoded
                            .push(format!("destination port {not}in set @{set}"));
                    }
                    (reg, Some(_)) => {
                        // The map's keys are the ports it catches.
                        if reg == Some(Reg::Dport) {
                            rule.ports = PortSet::Undecoded;
                        }
                        rule.undecoded.push(format!(
                            "a map @{set} on {} decides the translation",
                            describe(reg)
                        ));
                    }
                    (reg, None) => rule
                        .undecoded
                        .push(format!("{} in set @{set}", describe(reg))),
                }
            }
            "nat" => {
                // NFT_NAT_DNAT is 1; SNAT (0) opens no port.
                if get32(1) != Some(1) {
                    verdict = Verdict::Stop;
                    continue;
                }
                verdict = Verdict::Nat;
                let v6 = get32(2) == Some(10);
                let imm = |k: u16| match reg(k).and_then(|r| regs.get(&r)) {
                    Some(Reg::Imm(v)) => Some(v.clone()),
                    _ => None,
                };
                let address = imm(3).and_then(|v| address(&v, v6));
                if get32(3).is_some() && address.is_none() {
                    rule.undecoded
                        .push("the DNAT address comes from a map or expression".into());
                }
                let ports = imm(5)
                    .and_then(|v| port(&v))
                    .map(|lo| (lo, imm(6).and_then(|v| port(&v)).unwrap_or(lo)));
                rule.action = NatAction::Dnat { address, ports };
            }
            "redir" => {
                verdict = Verdict::Nat;
                let imm = |k: u16| match reg(k).and_then(|r| regs.get(&r)) {
                    Some(Reg::Imm(v)) => port(v),
                    _ => None,
                };
                let ports = imm(1).map(|lo| (lo, imm(2).unwrap_or(lo)));
                rule.action = NatAction::Redirect { ports };
            }
            "masq" | "snat" => verdict = Verdict::Stop,
            "target" => {
                let tname = get(1).map(text).unwrap_or_default();
                let rev = get32(2).unwrap_or(0);
                let info = get(3).unwrap_or_default();
                match tname.as_str() {
                    "DNAT" => {
                        verdict = Verdict::Nat;
                        rule.action = xt_dnat(info, rev, raw.family == 10).unwrap_or_else(|| {
                            rule.undecoded
                                .push(format!("iptables DNAT target revision {rev}"));
                            NatAction::Dnat {
                                address: None,
                                ports: None,
                            }
                        });
                    }
                    "REDIRECT" => {
                        verdict = Verdict::Nat;
                        rule.action = NatAction::Redirect {
                            ports: xt_redirect(info, raw.family == 10),
                        };
                    }
                    "SNAT" | "MASQUERADE" => verdict = Verdict::Stop,
                    // MARK (kube's KUBE-MARK-MASQ), LOG, CONNMARK...: they
                    // change no destination and end no chain.
                    _ => {}
                }
            }
            "match" => {
                let mname = get(1).map(text).unwrap_or_default();
                let rev = get32(2).unwrap_or(0);
                let info = get(3).unwrap_or_default();
                random |= xt_match(&mut rule, &mname, rev, info);
            }
            "counter" | "log" | "notrack" | "objref" | "quota" | "limit" => {}
            other => rule.undecoded.push(format!("expression {other}")),
        }
    }
    let step = Step {
        rule,
        random,
        verdict,
    };
    (step, map)
}

/// NFTA_IMMEDIATE_DATA holding NFTA_DATA_VERDICT (2): NFTA_VERDICT_CODE
/// (1) and, for a jump or goto, NFTA_VERDICT_CHAIN (2).
fn immediate_verdict(data: &[u8]) -> Verdict {
    let Some((_, v)) = attrs(data).into_iter().find(|(t, _)| *t == 2) else {
        return Verdict::Continue;
    };
    verdict_of(v)
}

/// NFTA_VERDICT_CODE (1) and, for a jump or goto, NFTA_VERDICT_CHAIN (2)
/// of an NFTA_DATA_VERDICT: what the NAT walk and the filter reader each
/// make a verdict of.
pub(super) fn verdict_code(v: &[u8]) -> (Option<i32>, String) {
    let mut code = None;
    let mut chain = String::new();
    for (k, x) in attrs(v) {
        match k {
            1 => code = be32(x).map(|c| c as i32),
            2 => chain = text(x),
            _ => {}
        }
    }
    (code, chain)
}

/// A verdict's code and chain as a walk step.
fn verdict_of(v: &[u8]) -> Verdict {
    let (code, chain) = verdict_code(v);
    // NF_DROP 0, NF_ACCEPT 1, NFT_CONTINUE -1, NFT_BREAK -2, NFT_JUMP -3,
    // NFT_GOTO -4, NFT_RETURN -5.
    match code {
        Some(0 | 1) => Verdict::Stop,
        Some(-3) => Verdict::Jump(chain),
        Some(-4) => Verdict::Goto(chain),
        Some(-5) => Verdict::Return,
        Some(c) if c >= 0 => Verdict::Stop,
        _ => Verdict::Continue,
    }
}

/// An iptables match (iptables-nft's compat `match` expression, or an
/// iptables-legacy entry's): applied to `rule`'s conditions; true for
/// `statistic` (a random share: one branch of a split).
pub fn xt_match(rule: &mut NatRule, name: &str, rev: u32, info: &[u8]) -> bool {
    match name {
        "comment" => rule.comment = Some(text(info)),
        "tcp" | "udp" => xt_ports(rule, name, info),
        "statistic" => return true,
        "addrtype" => xt_addrtype(rule, rev, info),
        other => rule.undecoded.push(format!("iptables match {other}")),
    }
    false
}

/// `-m addrtype --dst-type LOCAL` (XT_ADDRTYPE_LOCAL is 1 << RTN_LOCAL,
/// 4). Revision 0: source, dest (u16), invert_source, invert_dest (u32);
/// revision 1: source, dest (u16), flags (u32; 2: destination inverted).
fn xt_addrtype(rule: &mut NatRule, rev: u32, info: &[u8]) {
    let h16 = |at: usize| {
        info.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let (source, dest) = (h16(0).unwrap_or(0), h16(2).unwrap_or(0));
    let dest_inverted = match rev {
        0 => ne32(info, 8).is_some_and(|v| v != 0),
        _ => ne32(info, 4).is_some_and(|f| f & 2 != 0),
    };
    if dest == 4 && !dest_inverted {
        rule.local_only = true;
    } else if dest != 0 {
        let not = if dest_inverted { "not " } else { "" };
        rule.undecoded
            .push(format!("destination address type {not}{dest:#x}"));
    }
    if source != 0 {
        rule.undecoded
            .push(format!("source address type {source:#x}"));
    }
}

/// Read a verdict map's elements into branches: each key adds conditions
/// (protocol, destination port, destination address, or a number of
/// `numgen`: a random split), each value is a jump or goto. What cannot
/// be read stays undecoded, never taken as every port.
fn verdict_map(fd: &OwnedFd, raw: &RawRule, map: &MapKey) -> Verdict {
    let mut a = Vec::new();
    put_attr(&mut a, 1, raw.table.as_bytes());
    put_attr(&mut a, 2, map.set.as_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let msg = request(NFT_MSG_GETSETELEM, flags, raw.family, &a);
    let undecoded = || Verdict::Undecoded(format!("the verdict map @{}", map.set));
    let Ok(replies) = exchange(fd, &msg, NFT_MSG_NEWSETELEM) else {
        return undecoded();
    };
    map_branches(replies.iter().map(|(_, b)| b.as_slice()), map).unwrap_or_else(undecoded)
}

/// The branches of a verdict map from NFT_MSG_NEWSETELEM payloads; `None`
/// when a key or value is not one whyport reads (an interval, a key part
/// it does not model, an inverted lookup).
pub fn map_branches<'a>(replies: impl Iterator<Item = &'a [u8]>, map: &MapKey) -> Option<Verdict> {
    if map.inverted || map.key.is_empty() {
        return None;
    }
    let mut branches = Vec::new();
    for elem in set_elements(replies) {
        let (key, flags, data) = (elem.key, elem.flags, elem.data);
        // An interval's end flag, a range key's end: not read.
        if flags.is_some_and(|f| f & 1 != 0) || elem.key_end.is_some() {
            return None;
        }
        let verdict = data.and_then(|d| {
            attrs(d)
                .into_iter()
                .find(|(t, _)| *t == 2)
                .map(|(_, d)| verdict_of(d))
        });
        let mut b = branch_key(&key?, &map.key)?;
        b.verdict = match verdict? {
            v @ (Verdict::Jump(_) | Verdict::Goto(_)) => v,
            // An accept or drop element ends the walk: no NAT.
            _ => continue,
        };
        branches.push(b);
    }
    Some(Verdict::Branches(branches))
}

/// A map key (each part padded to 4 bytes) as conditions.
fn branch_key(bytes: &[u8], parts: &[Reg]) -> Option<Branch> {
    let mut b = Branch {
        protocol: None,
        ports: PortSet::Every,
        daddr: None,
        random: false,
        verdict: Verdict::Continue,
    };
    let mut at = 0;
    for part in parts {
        if at >= bytes.len() {
            break;
        }
        let field = bytes.get(at..)?;
        match part {
            Reg::L4proto => {
                b.protocol = match field.first()? {
                    6 => Some(Protocol::Tcp),
                    17 => Some(Protocol::Udp),
                    _ => return None,
                }
            }
            Reg::Dport => {
                let p = port(field)?;
                b.ports = PortSet::only([(p, p)]);
            }
            Reg::Daddr(v6) => b.daddr = Some(address(field, *v6)?),
            Reg::Numgen => b.random = true,
            _ => return None,
        }
        at += if *part == Reg::Daddr(true) { 16 } else { 4 };
    }
    (at >= bytes.len()).then_some(b)
}

fn describe(reg: Option<Reg>) -> String {
    match reg {
        Some(Reg::L4proto) => "the protocol".into(),
        Some(Reg::Nfproto) => "the address family".into(),
        Some(Reg::Dport) => "the destination port".into(),
        Some(Reg::Daddr(_)) => "the destination address".into(),
        Some(Reg::Iifname) => "the input interface".into(),
        Some(Reg::FibDaddrType) => "the destination's route type".into(),
        Some(Reg::Numgen) => "a number generator".into(),
        Some(Reg::Imm(_)) => "a constant".into(),
        Some(Reg::Other(what)) => what,
        None => "an unknown register".into(),
    }
}

/// Apply one comparison to the rule's conditions.
fn cmp(rule: &mut NatRule, reg: Option<Reg>, op: u32, data: &[u8]) {
    // NFT_CMP_EQ 0, NEQ 1, LT 2, LTE 3, GT 4, GTE 5.
    match (reg, op) {
        // The family is implied by the addresses and the NAT family.
        (Some(Reg::Nfproto), 0) => {}
        (Some(Reg::L4proto), 0) => match data.first() {
            Some(6) => rule.protocol = Some(Protocol::Tcp),
            Some(17) => rule.protocol = Some(Protocol::Udp),
            Some(p) => rule.undecoded.push(format!("protocol number {p}")),
            None => {}
        },
        (Some(Reg::Dport), 0 | 1) => {
            rule.ports = match port(data) {
                Some(p) if op == 0 => PortSet::only([(p, p)]),
                Some(p) => PortSet::except([(p, p)]),
                None => PortSet::Undecoded,
            }
        }
        // `dport >= lo` and `dport <= hi`, one after the other.
        (Some(Reg::Dport), 5) => {
            let lo = port(data).unwrap_or(0);
            let hi = match &rule.ports {
                PortSet::Only(r) => r.first().map_or(u16::MAX, |r| r.1),
                _ => u16::MAX,
            };
            rule.ports = PortSet::only([(lo, hi)]);
        }
        (Some(Reg::Dport), 3) => {
            let hi = port(data).unwrap_or(u16::MAX);
            let lo = match &rule.ports {
                PortSet::Only(r) => r.first().map_or(1, |r| r.0),
                _ => 1,
            };
            rule.ports = PortSet::only([(lo, hi)]);
        }
        (Some(Reg::Daddr(_)), 0) => {
            rule.daddr = match data.len() {
                4 => address(data, false),
                16 => address(data, true),
                _ => None,
            }
        }
        // `fib daddr type local` (RTN_LOCAL is 2).
        (Some(Reg::FibDaddrType), 0) if data.first() == Some(&2) => rule.local_only = true,
        (Some(Reg::Iifname), 0 | 1) => {
            let mut name = text(data);
            // A comparison shorter than IFNAMSIZ is a prefix match (eth*).
            if data.len() < 16 && !data.contains(&0) {
                name.push('*');
            }
            rule.iif = Some((op == 1, name));
        }
        (reg, op) => {
            if reg == Some(Reg::Dport) {
                rule.ports = PortSet::Undecoded;
            }
            rule.undecoded
                .push(format!("a comparison (op {op}) on {}", describe(reg)));
        }
    }
}

fn port(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

fn address(b: &[u8], v6: bool) -> Option<IpAddr> {
    if v6 {
        let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    }
}

fn ne32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The iptables DNAT target's data. Revision 0 (IPv4 only) is
/// `nf_nat_ipv4_multi_range_compat`; 1 is `nf_nat_range`; 2 is
/// `nf_nat_range2` (1 plus a base port). Flags are host order; addresses
/// and ports network order.
pub fn xt_dnat(info: &[u8], rev: u32, v6: bool) -> Option<NatAction> {
    const MAP_IPS: u32 = 1;
    const PROTO: u32 = 2;
    let (flags, addr_at, port_at) = match rev {
        0 if !v6 => (ne32(info, 4)?, 8, 16),
        1 | 2 => (ne32(info, 0)?, 4, 36),
        _ => return None,
    };
    let address = (flags & MAP_IPS != 0)
        .then(|| address(info.get(addr_at..)?, v6))
        .flatten();
    let ports = (flags & PROTO != 0)
        .then(|| Some((port(info.get(port_at..)?)?, port(info.get(port_at + 2..)?)?)))
        .flatten();
    Some(NatAction::Dnat { address, ports })
}

/// The iptables REDIRECT target's ports (IPv4: the compat range struct;
/// IPv6: `nf_nat_range`).
pub fn xt_redirect(info: &[u8], v6: bool) -> Option<(u16, u16)> {
    let (flags, at) = if v6 {
        (ne32(info, 0)?, 36)
    } else {
        (ne32(info, 4)?, 16)
    };
    (flags & 2 != 0).then(|| Some((port(info.get(at..)?)?, port(info.get(at + 2..)?)?)))?
}

/// `-m tcp --dport` / `-m udp --dport`: `xt_tcp`/`xt_udp` start with the
/// source and destination port ranges (host order), and end with inversion
/// flags (destination inverted: 0x02).
pub fn xt_ports(rule: &mut NatRule, name: &str, info: &[u8]) {
    let h16 = |at: usize| {
        info.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let inv_at = if name == "tcp" { 11 } else { 8 };
    if let (Some(lo), Some(hi)) = (h16(4), h16(6)) {
        let inverted = info.get(inv_at).is_some_and(|f| f & 0x02 != 0);
        if (lo, hi) != (0, u16::MAX) {
            rule.ports = if inverted {
                PortSet::except([(lo, hi)])
            } else {
                PortSet::only([(lo, hi)])
            };
        } else if inverted {
            // `! --dport 0:65535` catches nothing.
            rule.ports = PortSet::Only(Vec::new());
        }
    }
    if rule.protocol.is_none() {
        rule.protocol = Some(if name == "tcp" {
            Protocol::Tcp
        } else {
            Protocol::Udp
        });
    }
}

/// The comment in a rule's user data (TLVs: type 0 is the comment).
pub(super) fn comment(userdata: &[u8]) -> Option<String> {
    let mut b = userdata;
    while b.len() >= 2 {
        let (kind, len) = (b[0], usize::from(b[1]));
        let v = b.get(2..2 + len)?;
        if kind == 0 {
            return Some(text(v));
        }
        b = &b[2 + len..];
    }
    None
}

/// A destination-port set lookup (`tcp dport { 80, 443 }`): read the set's
/// elements; a set of single ports or intervals becomes the port list of
/// the rule (one forward per port, see `explain::forward`).
fn resolve_sets(fd: &OwnedFd, raw: &RawRule, rule: &mut NatRule) {
    let (prefix, not) = ("destination port in set @", "destination port not in set @");
    let Some((i, inverted)) = rule.undecoded.iter().enumerate().find_map(|(i, u)| {
        if u.starts_with(prefix) {
            Some((i, false))
        } else if u.starts_with(not) {
            Some((i, true))
        } else {
            None
        }
    }) else {
        return;
    };
    let skip = if inverted { not.len() } else { prefix.len() };
    let set = rule.undecoded[i][skip..].to_string();
    let mut a = Vec::new();
    put_attr(&mut a, 1, raw.table.as_bytes());
    put_attr(&mut a, 2, set.as_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let msg = request(NFT_MSG_GETSETELEM, flags, raw.family, &a);
    let Ok(replies) = exchange(fd, &msg, NFT_MSG_NEWSETELEM) else {
        return;
    };
    let ports = set_ports(replies.iter().map(|(_, b)| b.as_slice()));
    if let Some(ports) = ports {
        rule.undecoded.remove(i);
        rule.ports = if inverted {
            PortSet::except(ports)
        } else {
            PortSet::only(ports)
        };
    }
}

pub(super) fn put_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let mut v = value.to_vec();
    v.push(0);
    out.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&v);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// One element of a set or map, from NFT_MSG_NEWSETELEM payloads
/// (NFTA_SET_ELEM_LIST_ELEMENTS of NFTA_LIST_ELEM).
pub(super) struct SetElement<'a> {
    /// NFTA_SET_ELEM_KEY's value.
    pub(super) key: Option<Vec<u8>>,
    /// NFTA_SET_ELEM_FLAGS (1: an interval's end; 2: the catch-all `*`).
    pub(super) flags: Option<u32>,
    /// NFTA_SET_ELEM_DATA: a map's value (a verdict for a vmap).
    pub(super) data: Option<&'a [u8]>,
    /// NFTA_SET_ELEM_KEY_END's value: the inclusive end of a range key
    /// (sets of concatenations with intervals).
    pub(super) key_end: Option<Vec<u8>>,
}

pub(super) fn set_elements<'a>(replies: impl Iterator<Item = &'a [u8]>) -> Vec<SetElement<'a>> {
    let mut out = Vec::new();
    for body in replies {
        for (kind, list) in attrs(body) {
            if kind != 3 {
                continue;
            }
            for (_, elem) in attrs(list) {
                let mut e = SetElement {
                    key: None,
                    flags: None,
                    data: None,
                    key_end: None,
                };
                for (k, v) in attrs(elem) {
                    match k {
                        1 => {
                            e.key = attrs(v)
                                .into_iter()
                                .find(|(t, _)| *t == 1)
                                .map(|(_, d)| d.to_vec())
                        }
                        2 => e.data = Some(v),
                        3 => e.flags = be32(v),
                        10 => {
                            e.key_end = attrs(v)
                                .into_iter()
                                .find(|(t, _)| *t == 1)
                                .map(|(_, d)| d.to_vec())
                        }
                        _ => {}
                    }
                }
                out.push(e);
            }
        }
    }
    out
}

/// Ports of a set of destination ports, from NFT_MSG_NEWSETELEM payloads
/// (NFTA_SET_ELEM_LIST_ELEMENTS of NFTA_LIST_ELEM, each with a key value
/// and flags; an interval set marks each range's end with flag 1, the
/// element after the last port).
pub fn set_ports<'a>(replies: impl Iterator<Item = &'a [u8]>) -> Option<Vec<(u16, u16)>> {
    let mut elems: Vec<(u16, bool)> = Vec::new();
    for elem in set_elements(replies) {
        let key = elem.key.as_deref().and_then(port);
        let end = elem.flags.is_some_and(|f| f & 1 != 0);
        elems.push((key?, end));
    }
    if elems.is_empty() {
        return None;
    }
    // At one key a range's end sorts before the next one's start (as in
    // nft_filter_sets::spans): { 1-5, 6-9 } is 1, 6 end, 6, 10 end.
    elems.sort_unstable_by_key(|&(p, end)| (p, !end));
    if !elems.iter().any(|(_, end)| *end) {
        return Some(elems.into_iter().map(|(p, _)| (p, p)).collect());
    }
    // Intervals: a start, then the end marker one past its last port.
    let mut out = Vec::new();
    let mut start: Option<u16> = None;
    for (p, end) in elems {
        match (start, end) {
            (None, false) => start = Some(p),
            (Some(s), true) => {
                out.push((s, p.saturating_sub(1).max(s)));
                start = None;
            }
            (Some(s), false) => {
                out.push((s, s));
                start = Some(p);
            }
            (None, true) => {}
        }
    }
    if let Some(s) = start {
        out.push((s, u16::MAX));
    }
    Some(out)
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
