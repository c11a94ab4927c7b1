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

use super::cmp::range_cond;
use super::nft::{RawRule, attrs, be32, reg32, text};
use super::sets::{self, Env};
use super::vals::{Val, be64, ct_val, fib_val, hex, limit_words, masked, meta_val};
use crate::model::firewall::{Cond, Rule, Verdict};

/// The conditions of one rule being read.
pub(super) struct State<'e> {
    pub(super) family: u8,
    /// The IP version the rule has established (from the family, or a
    /// `meta nfproto` / `meta protocol` test): needed to read a network
    /// header offset.
    pub(super) v6: Option<bool>,
    /// The transport protocol the rule has established.
    pub(super) l4: Option<u8>,
    pub(super) regs: HashMap<u32, Val>,
    pub(super) conds: Vec<Cond>,
    /// One expansion (a verdict map, a lookup in a set of concatenations):
    /// where its conditions go among `conds`, and each alternative's
    /// conditions and verdict (`None`: the rule's own).
    pub(super) branches: Option<(usize, Vec<sets::Branch>)>,
    pub(super) verdict: Option<Verdict>,
    pub(super) comment: Option<String>,
    pub(super) env: &'e mut dyn Env,
}

/// NF_DROP 0, NF_ACCEPT 1, NF_STOLEN 2, NF_QUEUE 3; NFT_CONTINUE -1,
/// NFT_BREAK -2, NFT_JUMP -3, NFT_GOTO -4, NFT_RETURN -5.
pub(super) fn verdict_of(v: &[u8]) -> Verdict {
    let (code, chain) = super::nft::verdict_code(v);
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
                // Each names its destination register and its value's size
                // in attributes of its own (the kernel's NFTA_<NAME>_*);
                // tproxy and inner load nothing.
                let (dreg, len) = match name {
                    "socket" => (reg(2), if get32(1) == Some(3) { 8 } else { 4 }),
                    // Keys 2 and 4 are IPv6 addresses.
                    "xfrm" => (
                        reg(1),
                        if matches!(get32(2), Some(2 | 4)) {
                            16
                        } else {
                            4
                        },
                    ),
                    // Key 2 is an IPv6 next hop.
                    "rt" => (reg(1), if get32(2) == Some(2) { 16 } else { 4 }),
                    "exthdr" => (reg(1), get32(4).map_or(4, |l| l as usize)),
                    "osf" => (reg(1), 16),
                    "tunnel" => (reg(2), 4),
                    _ => (None, 0),
                };
                if let Some(d) = dreg {
                    self.regs.insert(
                        d,
                        Val::Other {
                            what: what.clone(),
                            len: len.clamp(1, 64),
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
            // The packet goes on untracked: later `ct state` tests see
            // `untracked`, not `new`, which the walk does not model.
            "notrack" => {
                self.verdict = Some(Verdict::Unknown(
                    "notrack (later rules see the packet untracked)".into(),
                ))
            }
            // Counting, logging and copying change no verdict.
            "counter" | "log" | "last" | "dup" | "flow_offload" | "byteorder" => {
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
            (2, _, 0) if l == 4 => Val::Ports,
            (2, _, 13) if l == 1 && self.l4 == Some(6) => Val::TcpFlags { mask: 0xff },
            (2, ..) => raw("th"),
            (0, ..) => raw("ll"),
            _ => raw("ih"),
        }
    }
}
