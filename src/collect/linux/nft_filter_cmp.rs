//! Linux: the tests of an nf_tables rule (`cmp`, `range`, `lookup`) on
//! what `nft_filter_vals.rs` says a register holds, as conditions.

use super::expr::State;
use super::fields;
use super::nft::{reg32, text};
use super::sets::{self, Env};
use super::vals::{Val, describe_key, hex, op_word, u32_ne};
use crate::model::firewall::{Cond, IfName, Verdict};

impl State<'_> {
    /// A condition, merged with the one before when both are a single
    /// range of the same kind (`dport >= 1` then `dport <= 1023`).
    pub(super) fn push(&mut self, c: Cond) {
        if let Some(last) = self.conds.last_mut()
            && let Some(both) = fields::intersect(last, &c)
        {
            *last = both;
            return;
        }
        self.conds.push(c);
    }

    pub(super) fn cmp(&mut self, val: Option<Val>, op: u32, data: &[u8]) {
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
                fields::ordered_cmp(&val, op, data).unwrap_or_else(unknown)
            }
            // Both ports equal: two conditions. (Not equal would be an
            // "or" of the two, which a rule's list of conditions cannot say.)
            Val::Ports if eq && data.len() == 4 => {
                let sport = u16::from_be_bytes([data[0], data[1]]);
                let dport = u16::from_be_bytes([data[2], data[3]]);
                self.push(Cond::Sport {
                    negated: false,
                    ranges: vec![(sport, sport)],
                });
                Cond::Dport {
                    negated: false,
                    ranges: vec![(dport, dport)],
                }
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
                fields::ifindex_cond(&*self.env, *out, neq, &[u32_ne(data)]).unwrap_or_else(unknown)
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

    pub(super) fn lookup(&mut self, set: &str, sreg: u32, dreg: Option<u32>, inverted: bool) {
        let vmap = dreg == Some(0);
        let mut parts = Vec::new();
        let mut r = sreg;
        // A concatenation's parts follow one another in 4-byte registers;
        // a part of no length (never loaded so) still takes one, so that
        // the walk always ends.
        while let Some(v) = self.regs.get(&r) {
            parts.push(v.clone());
            r += v.len().div_ceil(4).max(1) as u32;
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

/// `range` (NFT_RANGE_EQ 0, NEQ 1): `th dport 1000-2000`,
/// `ip saddr 10.0.0.1-10.0.0.9`, `meta l4proto 6-17`.
pub(super) fn range_cond(
    env: &dyn Env,
    val: Option<&Val>,
    negated: bool,
    lo: &[u8],
    hi: &[u8],
) -> Cond {
    let not = if negated { "!= " } else { "" };
    let what = val.map_or("an empty register".into(), Val::describe);
    let unknown = || Cond::Unknown(format!("{what} {not}{}-{}", hex(lo), hex(hi)));
    match val {
        Some(v @ (Val::Port { .. } | Val::Addr { mask: None, .. } | Val::L4proto)) => {
            fields::part_cond(env, v, &[(lo.to_vec(), hi.to_vec())], negated)
                .unwrap_or_else(|_| unknown())
        }
        _ => unknown(),
    }
}
