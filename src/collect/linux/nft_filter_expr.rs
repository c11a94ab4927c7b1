//! Linux: one nf_tables rule's expressions (as NETLINK_NETFILTER sends
//! them) read in order, as the kernel runs them, into filter conditions
//! and a verdict. The registers are followed from the loads (`meta`,
//! `payload`, `ct`, `fib`) through masks (`bitwise`) to the tests (`cmp`,
//! `range`, `lookup`); a test on something whyport does not model, and
//! every expression that can stop a rule from matching that it does not
//! evaluate (limits, quotas, meters, sockets, ...), becomes a
//! `Cond::Unknown` in nft's words. Nothing that could make a rule not
//! match is dropped.

use std::collections::HashMap;
use std::net::IpAddr;

use super::nft::{RawRule, attrs, be32, reg32, text};
use super::sets::{self, Env};
use crate::model::firewall::{Addresses, Cond, IfName, Prefix, Rule, Verdict};

/// What a register holds (in 4-byte registers: see `reg32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Val {
    /// `meta nfproto` (1 byte: NFPROTO_IPV4 2, NFPROTO_IPV6 10).
    Nfproto,
    /// `meta protocol`: the ethertype (2 bytes, network order).
    EtherType,
    /// `meta l4proto`, `ip protocol`, `ip6 nexthdr` (1 byte).
    L4proto,
    /// The first `len` bytes of the source or destination address, under
    /// `mask` once a `bitwise` applied one.
    Addr {
        src: bool,
        v6: bool,
        len: usize,
        mask: Option<Vec<u8>>,
    },
    /// `th sport` / `th dport` (2 bytes, network order).
    Port { src: bool },
    /// `iifname` / `oifname` (16 bytes).
    IfName { out: bool },
    /// `iif` / `oif`: an interface index (4 bytes, host order).
    IfIndex { out: bool },
    /// `ct state` (host order) under a mask (all ones when none).
    CtState { mask: u32 },
    /// `ct status` (host order) under a mask.
    CtStatus { mask: u32 },
    /// `fib daddr type` / `fib saddr type`: an RTN_* number (host order).
    FibType { src: bool },
    /// `fib saddr . iif oif` (strict) or `fib saddr oif` (loose): the
    /// interface the source routes back through, 0 when none.
    FibOif { loose: bool },
    /// `tcp flags` (1 byte) under a mask.
    TcpFlags { mask: u8 },
    /// Anything else, in nft's words, and how many bytes it takes.
    Other { what: String, len: usize },
}

impl Val {
    /// Bytes the value takes in a register (a concatenation pads each
    /// part to 4).
    pub(super) fn len(&self) -> usize {
        match self {
            Val::Nfproto | Val::L4proto | Val::TcpFlags { .. } => 1,
            Val::EtherType | Val::Port { .. } => 2,
            Val::Addr { len, .. } | Val::Other { len, .. } => *len,
            Val::IfName { .. } => 16,
            _ => 4,
        }
    }

    /// The value in nft's words (`ip saddr`, `ct mark`).
    pub(super) fn describe(&self) -> String {
        let s = |src: &bool, a: &str, b: &str| if *src { a } else { b }.to_string();
        match self {
            Val::Nfproto => "meta nfproto".into(),
            Val::EtherType => "meta protocol".into(),
            Val::L4proto => "meta l4proto".into(),
            Val::Addr { src, v6, mask, .. } => {
                let ip = if *v6 { "ip6" } else { "ip" };
                let masked = if mask.is_some() { " & mask" } else { "" };
                format!("{ip} {}{masked}", s(src, "saddr", "daddr"))
            }
            Val::Port { src } => format!("th {}", s(src, "sport", "dport")),
            Val::IfName { out } => s(out, "oifname", "iifname"),
            Val::IfIndex { out } => s(out, "oif", "iif"),
            Val::CtState { .. } => "ct state".into(),
            Val::CtStatus { .. } => "ct status".into(),
            Val::FibType { src } => format!("fib {} type", s(src, "saddr", "daddr")),
            Val::FibOif { loose } => s(loose, "fib saddr oif", "fib saddr . iif oif"),
            Val::TcpFlags { .. } => "tcp flags".into(),
            Val::Other { what, .. } => what.clone(),
        }
    }
}

/// The conditions of one rule being read.
struct State<'e> {
    family: u8,
    /// The IP version the rule has established (from the family, or a
    /// `meta nfproto` / `meta protocol` test): needed to read a network
    /// header offset.
    v6: Option<bool>,
    /// The transport protocol the rule has established.
    l4: Option<u8>,
    regs: HashMap<u32, Val>,
    conds: Vec<Cond>,
    /// One expansion (a verdict map, a lookup in a set of concatenations):
    /// where its conditions go among `conds`, and each alternative's
    /// conditions and verdict (`None`: the rule's own).
    branches: Option<(usize, Vec<sets::Branch>)>,
    verdict: Option<Verdict>,
    comment: Option<String>,
    env: &'e mut dyn Env,
}

/// NF_DROP 0, NF_ACCEPT 1, NF_STOLEN 2, NF_QUEUE 3; NFT_CONTINUE -1,
/// NFT_BREAK -2, NFT_JUMP -3, NFT_GOTO -4, NFT_RETURN -5.
pub(super) fn verdict_of(v: &[u8]) -> Verdict {
    let mut code = None;
    let mut chain = String::new();
    for (k, x) in attrs(v) {
        match k {
            1 => code = be32(x).map(|c| c as i32),
            2 => chain = text(x),
            _ => {}
        }
    }
    match code {
        Some(0) => Verdict::Drop,
        Some(1) => Verdict::Accept,
        Some(-1 | -2) => Verdict::Continue,
        Some(-3) => Verdict::Jump(chain),
        Some(-4) => Verdict::Goto(chain),
        Some(-5) => Verdict::Return,
        Some(3) => Verdict::Unknown("queue".into()),
        Some(c) => Verdict::Unknown(format!("verdict code {c}")),
        None => Verdict::Unknown("a verdict without a code".into()),
    }
}

/// Read one rule: usually one `Rule`; a verdict map or a lookup in a set
/// of concatenations gives one per element (same number, the element's
/// key as extra conditions).
pub(super) fn decode(raw: &RawRule, env: &mut dyn Env) -> Vec<Rule> {
    let mut st = State {
        family: raw.family,
        v6: match raw.family {
            2 => Some(false),
            10 => Some(true),
            _ => None,
        },
        l4: None,
        regs: HashMap::new(),
        conds: Vec::new(),
        branches: None,
        verdict: None,
        comment: super::nft::comment(&raw.userdata),
        env,
    };
    for (name, data) in &raw.exprs {
        st.expr(name, data);
        // A verdict ends the rule: the kernel runs nothing after it.
        if st.verdict.is_some() {
            break;
        }
    }
    let verdict = st.verdict.unwrap_or(Verdict::Continue);
    let rule = |conds: Vec<Cond>, verdict: Verdict| Rule {
        number: raw.handle,
        conds,
        verdict,
        comment: st.comment.clone(),
    };
    match st.branches.take() {
        None => vec![rule(st.conds.clone(), verdict)],
        Some((at, branches)) => branches
            .into_iter()
            .map(|b| {
                let mut conds = st.conds[..at].to_vec();
                conds.extend(b.conds);
                conds.extend_from_slice(&st.conds[at..]);
                rule(conds, b.verdict.unwrap_or_else(|| verdict.clone()))
            })
            .collect(),
    }
}

/// A comparison's operator in nft's words (NFT_CMP_EQ 0 .. GTE 5).
fn op_word(op: u32) -> &'static str {
    ["", "!= ", "< ", "<= ", "> ", ">= "]
        .get(op as usize)
        .copied()
        .unwrap_or("?? ")
}

/// A value as nft's debug output shows it: 4-byte words in host order.
pub(super) fn hex(data: &[u8]) -> String {
    if data.len() == 4 {
        return format!(
            "{:#x}",
            u32::from_ne_bytes([data[0], data[1], data[2], data[3]])
        );
    }
    let digits: String = data.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn u32_ne(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    for (i, x) in data.iter().take(4).enumerate() {
        b[i] = *x;
    }
    u32::from_ne_bytes(b)
}

impl State<'_> {
    fn expr(&mut self, name: &str, data: &[u8]) {
        let a = attrs(data);
        let get = |k: u16| a.iter().find(|(t, _)| *t == k).map(|(_, v)| *v);
        let get32 = |k: u16| get(k).and_then(be32);
        let reg = |k: u16| get32(k).map(reg32);
        let value = |k: u16| {
            get(k).map_or_else(Vec::new, |d| {
                attrs(d)
                    .into_iter()
                    .find(|(t, _)| *t == 1)
                    .map_or_else(Vec::new, |(_, v)| v.to_vec())
            })
        };
        let unknown = |st: &mut Self, what: String| st.conds.push(Cond::Unknown(what));
        match name {
            // With a source register instead (`meta mark set`, `ct mark
            // set`, a payload rewrite) these set, and test nothing.
            "meta" => {
                if let (Some(d), Some(key)) = (reg(1), get32(2)) {
                    self.regs.insert(d, meta_val(key));
                }
            }
            "ct" => {
                if let (Some(d), Some(key)) = (reg(1), get32(2)) {
                    let val = match (key, get(3)) {
                        (0, None) => Val::CtState { mask: u32::MAX },
                        (2, None) => Val::CtStatus { mask: u32::MAX },
                        (k, dir) => ct_val(k, dir.is_some()),
                    };
                    self.regs.insert(d, val);
                }
            }
            "payload" => {
                if let Some(d) = reg(1) {
                    let (base, off, len) = (get32(2), get32(3), get32(4));
                    let val = self.payload_val(base, off, len);
                    self.regs.insert(d, val);
                }
            }
            "fib" => {
                if let Some(d) = reg(1) {
                    self.regs
                        .insert(d, fib_val(get32(2).unwrap_or(0), get32(3).unwrap_or(0)));
                }
            }
            "bitwise" => {
                if let (Some(s), Some(d)) = (reg(1), reg(2)) {
                    let val = self.regs.get(&s).cloned();
                    let op = get32(6).unwrap_or(0);
                    let masked = masked(val, op, &value(4), &value(5));
                    self.regs.insert(d, masked);
                }
            }
            "immediate" => match reg(1) {
                Some(0) => {
                    let v = get(2)
                        .and_then(|d| attrs(d).into_iter().find(|(t, _)| *t == 2))
                        .map(|(_, v)| verdict_of(v));
                    self.verdict = Some(v.unwrap_or(Verdict::Unknown("immediate".into())));
                }
                Some(d) => {
                    let len = value(2).len();
                    let what = format!("the constant {}", hex(&value(2)));
                    self.regs.insert(d, Val::Other { what, len });
                }
                None => {}
            },
            "cmp" => {
                let val = reg(1).and_then(|r| self.regs.get(&r)).cloned();
                self.cmp(val, get32(2).unwrap_or(0), &value(3));
            }
            "range" => {
                let val = reg(1).and_then(|r| self.regs.get(&r)).cloned();
                let neg = get32(2) == Some(1);
                let c = range_cond(&*self.env, val.as_ref(), neg, &value(3), &value(4));
                self.push(c);
            }
            "lookup" => {
                let set = get(1).map(text).unwrap_or_default();
                let inverted = get32(5).is_some_and(|f| f & 1 != 0);
                self.lookup(&set, reg(2).unwrap_or(0), get32(3), inverted);
            }
            "match" => {
                let mname = get(1).map(text).unwrap_or_default();
                let info = get(3).unwrap_or_default();
                // iptables-nft keeps `-m comment` as a match: a comment.
                if mname == "comment" {
                    self.comment = Some(text(info));
                } else {
                    let rev = get32(2).unwrap_or(0);
                    let v6 = self.family == 10;
                    let conds = super::super::xt::match_conds(&mname, rev, info, v6);
                    self.conds.extend(conds);
                }
            }
            "target" => {
                let tname = get(1).map(text).unwrap_or_default();
                let info = get(3).unwrap_or_default();
                let rev = get32(2).unwrap_or(0);
                let v = super::super::xt::target_verdict(&tname, rev, info);
                if v != Verdict::Continue {
                    self.verdict = Some(v);
                }
            }
            "reject" => self.verdict = Some(Verdict::Reject),
            // A NAT expression ends its chain with NF_ACCEPT (the kernel's
            // nft_nat_eval sets the verdict to nf_nat_setup_info's answer):
            // a DNAT or redirect is the NAT reader's to explain; a SNAT or
            // masquerade lets the packet on like an accept.
            "nat" => {
                // In an inet table `dnat ip to` acts on IPv4 only; on
                // IPv6 the rule goes on as if it had not matched
                // (nft_nat_inet_eval).
                match (self.family, get32(2)) {
                    (1, Some(2)) => self.push(Cond::Ipv6(false)),
                    (1, Some(10)) => self.push(Cond::Ipv6(true)),
                    _ => {}
                }
                self.verdict = Some(if get32(1) == Some(1) {
                    Verdict::Nat
                } else {
                    Verdict::Accept
                })
            }
            "redir" => self.verdict = Some(Verdict::Nat),
            "masq" => self.verdict = Some(Verdict::Accept),
            "queue" | "fwd" | "synproxy" => self.verdict = Some(Verdict::Unknown(name.into())),
            "dynset" => {
                let set = get(1).map(text).unwrap_or_default();
                let op = ["add", "update", "delete"]
                    .get(get32(3).unwrap_or(0) as usize)
                    .copied()
                    .unwrap_or("dynset");
                // Adding or updating an element always goes on (but for a
                // full set); one with a limit or quota inside is a meter.
                if get(7).is_some() || get(10).is_some() || op == "delete" {
                    unknown(self, format!("{op} @{set} {{ ... }} (a meter)"));
                }
            }
            "limit" => unknown(self, limit_words(&get)),
            "quota" => {
                let over = if get32(2).unwrap_or(0) & 1 != 0 {
                    "over "
                } else {
                    ""
                };
                let bytes = get(1).and_then(be64).unwrap_or(0);
                unknown(self, format!("quota {over}{bytes} bytes"));
            }
            "connlimit" => {
                let over = if get32(2).unwrap_or(0) & 1 != 0 {
                    "over "
                } else {
                    ""
                };
                let n = get32(1).unwrap_or(0);
                unknown(self, format!("ct count {over}{n}"));
            }
            "objref" => {
                let oname = get(2).map(text).unwrap_or_default();
                match (get32(1), get(4)) {
                    // A named counter, ct helper, timeout, secmark or
                    // expectation: set on the packet, no test.
                    (Some(1 | 3 | 7 | 8 | 9), None) => {}
                    (Some(10), None) => self.verdict = Some(Verdict::Unknown("synproxy".into())),
                    (Some(t), None) => {
                        let kind = ["", "", "quota", "", "limit", "ct count", "tunnel"]
                            .get(t as usize)
                            .copied()
                            .unwrap_or("object");
                        unknown(self, format!("{kind} name \"{oname}\""));
                    }
                    (_, Some(map)) => unknown(self, format!("an object map @{}", text(map))),
                    (None, None) => unknown(self, "an object reference".into()),
                }
            }
            // These load a value into a register and end the rule when
            // there is none (no socket, no IPsec path, no extension
            // header, no route): a test of their own.
            "socket" | "xfrm" | "rt" | "exthdr" | "osf" | "tunnel" | "tproxy" | "inner" => {
                let what = format!("{name} expression");
                if name == "exthdr" && reg(1).is_none() {
                    return; // a rewrite of an option
                }
                if let Some(d) = reg(if name == "socket" { 2 } else { 1 }) {
                    let len = get32(4).map_or(4, |l| l as usize);
                    self.regs.insert(
                        d,
                        Val::Other {
                            what: what.clone(),
                            len,
                        },
                    );
                }
                unknown(self, what);
            }
            "hash" | "numgen" => {
                if let Some(d) = reg(if name == "hash" { 2 } else { 1 }) {
                    let what = format!("{name} expression");
                    self.regs.insert(d, Val::Other { what, len: 4 });
                }
            }
            // Counting, logging, tracking and copying change no verdict.
            "counter" | "log" | "notrack" | "last" | "dup" | "flow_offload" | "byteorder" => {
                if name == "byteorder"
                    && let Some(d) = reg(2)
                {
                    let len = get32(4).map_or(4, |l| l as usize);
                    self.regs.insert(
                        d,
                        Val::Other {
                            what: "a byte-order conversion".into(),
                            len,
                        },
                    );
                }
            }
            other => unknown(self, format!("expression {other}")),
        }
    }

    /// A condition, merged with the one before when both are a single
    /// range of the same kind (`dport >= 1` then `dport <= 1023`).
    fn push(&mut self, c: Cond) {
        if let Some(last) = self.conds.last_mut()
            && let Some(both) = sets::intersect(last, &c)
        {
            *last = both;
            return;
        }
        self.conds.push(c);
    }

    fn payload_val(&self, base: Option<u32>, off: Option<u32>, len: Option<u32>) -> Val {
        let (base, off, len) = (base.unwrap_or(9), off.unwrap_or(0), len.unwrap_or(0));
        let raw = |b: &str| Val::Other {
            what: format!("@{b},{},{}", off * 8, len * 8),
            len: len as usize,
        };
        let l = len as usize;
        match (base, self.v6, off) {
            (1, Some(false), 9) if l == 1 => Val::L4proto,
            (1, Some(true), 6) if l == 1 => Val::L4proto,
            (1, Some(false), 12 | 16) if (1..=4).contains(&l) => Val::Addr {
                src: off == 12,
                v6: false,
                len: l,
                mask: None,
            },
            (1, Some(true), 8 | 24) if (1..=16).contains(&l) => Val::Addr {
                src: off == 8,
                v6: true,
                len: l,
                mask: None,
            },
            (1, ..) => raw("nh"),
            (2, _, 0 | 2) if l == 2 => Val::Port { src: off == 0 },
            (2, _, 13) if l == 1 && self.l4 == Some(6) => Val::TcpFlags { mask: 0xff },
            (2, ..) => raw("th"),
            (0, ..) => raw("ll"),
            _ => raw("ih"),
        }
    }

    fn cmp(&mut self, val: Option<Val>, op: u32, data: &[u8]) {
        let (eq, neq) = (op == 0, op == 1);
        let Some(val) = val else {
            self.push(Cond::Unknown("a comparison on an empty register".into()));
            return;
        };
        let unknown = || Cond::Unknown(format!("{} {}{}", val.describe(), op_word(op), hex(data)));
        let c = match &val {
            Val::Nfproto | Val::EtherType if eq || neq => {
                let v6 = match (&val, data) {
                    (Val::Nfproto, [2, ..]) | (Val::EtherType, [0x08, 0x00, ..]) => Some(false),
                    (Val::Nfproto, [10, ..]) | (Val::EtherType, [0x86, 0xdd, ..]) => Some(true),
                    _ => None,
                };
                // `!= ipv4` is IPv6 for the IP packets whyport asks about.
                match v6.map(|v| v != neq) {
                    Some(v6) => {
                        self.v6 = Some(v6);
                        Cond::Ipv6(v6)
                    }
                    None => unknown(),
                }
            }
            Val::L4proto if eq || neq => match data.first() {
                Some(p) => {
                    if eq {
                        self.l4 = Some(*p);
                    }
                    Cond::L4proto {
                        negated: neq,
                        protos: vec![*p],
                    }
                }
                None => unknown(),
            },
            Val::Addr { .. } | Val::Port { .. } => {
                sets::ordered_cmp(&val, op, data).unwrap_or_else(unknown)
            }
            Val::IfName { out } if eq || neq => {
                // Shorter than IFNAMSIZ and without its NUL: a prefix (eth*).
                let names = vec![IfName {
                    name: text(data),
                    prefix: !data.contains(&0) && data.len() < 16,
                }];
                if *out {
                    Cond::Oif {
                        negated: neq,
                        names,
                    }
                } else {
                    Cond::Iif {
                        negated: neq,
                        names,
                    }
                }
            }
            Val::IfIndex { out } if eq || neq => {
                sets::ifindex_cond(&*self.env, *out, neq, &[u32_ne(data)]).unwrap_or_else(unknown)
            }
            Val::CtState { mask } if eq || neq => {
                let v = u32_ne(data);
                let single = v.count_ones() == 1;
                match (*mask, v) {
                    // `ct state established,related`: & mask != 0.
                    (m, 0) if m != u32::MAX => Cond::CtState {
                        negated: eq,
                        mask: m,
                    },
                    (m, v) if single && (m == u32::MAX || m == v) => Cond::CtState {
                        negated: neq,
                        mask: v,
                    },
                    _ => unknown(),
                }
            }
            // IPS_DST_NAT (1 << 5): `ct status dnat`.
            Val::CtStatus { mask: 0x20 } if data.len() == 4 && u32_ne(data) == 0 => {
                Cond::CtDnat { negated: eq }
            }
            Val::FibType { src } if eq || neq => {
                let types = vec![u32_ne(data) as u8];
                if *src {
                    Cond::SaddrType {
                        negated: neq,
                        types,
                    }
                } else {
                    Cond::DaddrType {
                        negated: neq,
                        types,
                    }
                }
            }
            // `oif missing`: no interface (0) to route the source back by.
            Val::FibOif { loose } if (eq || neq) && data.iter().all(|b| *b == 0) => {
                Cond::RpfFails {
                    negated: neq,
                    loose: *loose,
                }
            }
            Val::TcpFlags { mask } if eq || neq => Cond::TcpFlags {
                negated: neq,
                mask: *mask,
                value: data.first().copied().unwrap_or(0),
            },
            Val::Other { what, .. } if what == "meta pkttype" && data.len() == 1 => {
                let names = ["host", "broadcast", "multicast", "other"];
                let n = names.get(usize::from(data[0])).copied().unwrap_or("?");
                Cond::Unknown(format!("meta pkttype {}{n}", op_word(op)))
            }
            _ => unknown(),
        };
        self.push(c);
    }

    fn lookup(&mut self, set: &str, sreg: u32, dreg: Option<u32>, inverted: bool) {
        let vmap = dreg == Some(0);
        let mut parts = Vec::new();
        let mut r = sreg;
        while let Some(v) = self.regs.get(&r) {
            parts.push(v.clone());
            r += v.len().div_ceil(4) as u32;
            if r >= sreg + 16 {
                break;
            }
        }
        let found = sets::lookup(&mut *self.env, set, &parts, inverted, vmap);
        match found {
            sets::Found::Cond(c) => self.push(c),
            sets::Found::Branches(b) if self.branches.is_none() => {
                self.branches = Some((self.conds.len(), b))
            }
            sets::Found::Branches(_) => {
                let what = format!("{} in @{set}", describe_key(&parts));
                self.push(Cond::Unknown(what));
                if vmap {
                    self.verdict = Some(Verdict::Unknown(format!("vmap @{set}")));
                }
            }
            sets::Found::Verdict(v) => self.verdict = Some(v),
        }
        if vmap {
            // The map's element decides (each branch has its verdict).
            self.verdict.get_or_insert(Verdict::Continue);
        } else if let Some(d) = dreg {
            let what = format!("a value of map @{set}");
            self.regs.insert(reg32(d), Val::Other { what, len: 4 });
        }
    }
}

/// The parts of a key in nft's words (`ip saddr . th dport`).
pub(super) fn describe_key(parts: &[Val]) -> String {
    if parts.is_empty() {
        return "an empty register".into();
    }
    parts
        .iter()
        .map(Val::describe)
        .collect::<Vec<_>>()
        .join(" . ")
}

fn be64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// NFTA_LIMIT_RATE 1 and UNIT 2 (u64, seconds), TYPE 4 (1: bytes),
/// FLAGS 5 (1: `over`).
fn limit_words<'a>(get: &dyn Fn(u16) -> Option<&'a [u8]>) -> String {
    let rate = get(1).and_then(be64).unwrap_or(0);
    let unit = match get(2).and_then(be64).unwrap_or(1) {
        1 => "second".to_string(),
        60 => "minute".into(),
        3600 => "hour".into(),
        86400 => "day".into(),
        604800 => "week".into(),
        n => format!("{n} seconds"),
    };
    let over = if get(5).and_then(be32).unwrap_or(0) & 1 != 0 {
        "over "
    } else {
        ""
    };
    let bytes = if get(4).and_then(be32) == Some(1) {
        " bytes"
    } else {
        ""
    };
    format!("limit rate {over}{rate}{bytes}/{unit}")
}

fn meta_val(key: u32) -> Val {
    match key {
        1 => Val::EtherType,
        4 => Val::IfIndex { out: false },
        5 => Val::IfIndex { out: true },
        6 => Val::IfName { out: false },
        7 => Val::IfName { out: true },
        15 => Val::Nfproto,
        16 => Val::L4proto,
        k => {
            const NAMES: [&str; 35] = [
                "length",
                "protocol",
                "priority",
                "mark",
                "iif",
                "oif",
                "iifname",
                "oifname",
                "iiftype",
                "oiftype",
                "skuid",
                "skgid",
                "nftrace",
                "rtclassid",
                "secmark",
                "nfproto",
                "l4proto",
                "ibrname",
                "obrname",
                "pkttype",
                "cpu",
                "iifgroup",
                "oifgroup",
                "cgroup",
                "random",
                "secpath",
                "iifkind",
                "oifkind",
                "ibrpvid",
                "ibrvproto",
                "time",
                "day",
                "hour",
                "sdif",
                "sdifname",
            ];
            let name = NAMES.get(k as usize).copied().unwrap_or("?");
            let len = match k {
                8 | 9 | 28 | 29 => 2,
                12 | 19 | 25 | 31 => 1,
                17 | 18 | 26 | 27 | 34 => 16,
                30 => 8,
                _ => 4,
            };
            Val::Other {
                what: format!("meta {name}"),
                len,
            }
        }
    }
}

fn ct_val(key: u32, directed: bool) -> Val {
    const NAMES: [&str; 24] = [
        "state",
        "direction",
        "status",
        "mark",
        "secmark",
        "expiration",
        "helper",
        "l3proto",
        "saddr",
        "daddr",
        "protocol",
        "proto-src",
        "proto-dst",
        "label",
        "packets",
        "bytes",
        "avgpkt",
        "zone",
        "event",
        "ip saddr",
        "ip daddr",
        "ip6 saddr",
        "ip6 daddr",
        "id",
    ];
    let name = NAMES.get(key as usize).copied().unwrap_or("?");
    let len = match key {
        1 | 7 | 10 => 1,
        11 | 12 | 17 => 2,
        6 | 8 | 9 | 13 | 21 | 22 => 16,
        14..=16 => 8,
        _ => 4,
    };
    let dir = if directed { " (one direction)" } else { "" };
    Val::Other {
        what: format!("ct {name}{dir}"),
        len,
    }
}

/// NFTA_FIB_F_SADDR 1, DADDR 2, MARK 4, IIF 8, OIF 16, PRESENT 32;
/// NFT_FIB_RESULT_OIF 1, OIFNAME 2, ADDRTYPE 3. The mark (firewalld's
/// `fib saddr . mark . iif`) matters only under policy routing by mark,
/// which `Routes::extra_rules` already makes undecided.
fn fib_val(result: u32, flags: u32) -> Val {
    let f = flags & !(4 | 32);
    match (result, f) {
        (3, 2) => Val::FibType { src: false },
        (3, 1) => Val::FibType { src: true },
        (1, 9) => Val::FibOif { loose: false },
        (1, 1) => Val::FibOif { loose: true },
        _ => {
            let keys: Vec<&str> = [
                (1, "saddr"),
                (2, "daddr"),
                (4, "mark"),
                (8, "iif"),
                (16, "oif"),
            ]
            .into_iter()
            .filter(|(b, _)| flags & b != 0)
            .map(|(_, n)| n)
            .collect();
            let res = ["?", "oif", "oifname", "type"]
                .get(result as usize)
                .copied()
                .unwrap_or("?");
            Val::Other {
                what: format!("fib {} {res}", keys.join(" . ")),
                len: 4,
            }
        }
    }
}

/// A `bitwise` (NFT_BITWISE_MASK_XOR 0 with a zero xor: a mask) over a
/// value: a prefix for an address, a set of bits for ct state or tcp flags.
fn masked(val: Option<Val>, op: u32, mask: &[u8], xor: &[u8]) -> Val {
    let what = val
        .as_ref()
        .map_or("an empty register".into(), Val::describe);
    let len = val.as_ref().map_or(4, Val::len);
    let other = |w: String| Val::Other { what: w, len };
    if op != 0 || xor.iter().any(|b| *b != 0) {
        return other(format!("{what} (bitwise)"));
    }
    match val {
        Some(Val::Addr {
            src,
            v6,
            len,
            mask: old,
        }) => {
            let mut m: Vec<u8> = mask.iter().take(len).copied().collect();
            if let Some(old) = old {
                m.iter_mut().zip(old).for_each(|(a, b)| *a &= b);
            }
            Val::Addr {
                src,
                v6,
                len,
                mask: Some(m),
            }
        }
        Some(Val::CtState { mask: m }) => Val::CtState {
            mask: m & u32_ne(mask),
        },
        Some(Val::CtStatus { mask: m }) => Val::CtStatus {
            mask: m & u32_ne(mask),
        },
        Some(Val::TcpFlags { mask: m }) => Val::TcpFlags {
            mask: m & mask.first().copied().unwrap_or(0),
        },
        _ => other(format!("{what} & {}", hex(mask))),
    }
}

/// `range` (NFT_RANGE_EQ 0, NEQ 1): `th dport 1000-2000`,
/// `ip saddr 10.0.0.1-10.0.0.9`, `meta l4proto 6-17`.
fn range_cond(env: &dyn Env, val: Option<&Val>, negated: bool, lo: &[u8], hi: &[u8]) -> Cond {
    let not = if negated { "!= " } else { "" };
    let what = val.map_or("an empty register".into(), Val::describe);
    let unknown = || Cond::Unknown(format!("{what} {not}{}-{}", hex(lo), hex(hi)));
    match val {
        Some(v @ (Val::Port { .. } | Val::Addr { mask: None, .. } | Val::L4proto)) => {
            sets::part_cond(env, v, &[(lo.to_vec(), hi.to_vec())], negated)
                .unwrap_or_else(|_| unknown())
        }
        _ => unknown(),
    }
}

/// An address from `len` leading bytes (the rest zero).
pub(super) fn address(bytes: &[u8], v6: bool) -> IpAddr {
    let mut b = [0u8; 16];
    for (i, x) in bytes.iter().take(16).enumerate() {
        b[i] = *x;
    }
    if v6 {
        IpAddr::from(b)
    } else {
        IpAddr::from([b[0], b[1], b[2], b[3]])
    }
}

/// A one-prefix address set.
pub(super) fn one_prefix(address: IpAddr, len: u8) -> Addresses {
    Addresses {
        prefixes: vec![Prefix { address, len }],
        ranges: Vec::new(),
    }
}
