//! Linux: nf_tables sets and maps as filter conditions. A lookup in a
//! set of one field is one condition (`th dport { 22, 80 }`, the
//! prefixes and ranges of an interval set); a lookup in a set of
//! concatenations, and a verdict map, are one alternative per element,
//! each with its key as conditions. Sets the packet path updates
//! (`flags dynamic`) are undecided: their contents are not the rules'.

use std::net::IpAddr;
use std::rc::Rc;

use super::expr::{Val, address, describe_key, one_prefix};
use crate::model::firewall::{Addresses, Cond, IfName, Prefix, Verdict};

/// NFT_SET_* flags (linux/netfilter/nf_tables.h).
pub(super) const SET_INTERVAL: u32 = 0x4;
pub(super) const SET_EVAL: u32 = 0x20;
/// NFT_SET_ELEM_INTERVAL_END, NFT_SET_ELEM_CATCHALL.
const ELEM_END: u32 = 1;
const ELEM_CATCHALL: u32 = 2;
/// More alternatives than this from one rule: undecided instead (a set of
/// tens of thousands of tuples would be as many rules).
const MAX_BRANCHES: usize = 4096;

/// A set as read: its flags, key length and elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SetData {
    pub flags: u32,
    pub key_len: usize,
    pub elems: Vec<Elem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Elem {
    pub key: Vec<u8>,
    /// The inclusive end of a range key (sets of concatenations).
    pub key_end: Option<Vec<u8>>,
    pub flags: u32,
    /// A verdict map's value.
    pub verdict: Option<Verdict>,
}

/// What the decoder asks of the namespace it reads.
pub(super) trait Env {
    /// The set `name` of the rule's table, read once.
    fn set(&mut self, name: &str) -> Result<Rc<SetData>, String>;
    /// An interface's name from its index, in the namespace read.
    fn ifname(&self, index: u32) -> Option<String>;
}

/// One alternative of a rule: extra conditions and, from a verdict map,
/// its own verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Branch {
    pub conds: Vec<Cond>,
    pub verdict: Option<Verdict>,
}

pub(super) enum Found {
    Cond(Cond),
    Branches(Vec<Branch>),
    Verdict(Verdict),
}

/// An element's key as (low, high) inclusive, with its verdict.
struct Span {
    lo: Vec<u8>,
    hi: Vec<u8>,
    verdict: Option<Verdict>,
}

/// A lookup of the key made of `parts` in set `name`.
pub(super) fn lookup(
    env: &mut dyn Env,
    name: &str,
    parts: &[Val],
    inverted: bool,
    vmap: bool,
) -> Found {
    let key = describe_key(parts);
    let not = if inverted { "!= " } else { "" };
    let unknown = |why: String| {
        if vmap {
            Found::Verdict(Verdict::Unknown(format!("{key} vmap @{name}{why}")))
        } else {
            Found::Cond(Cond::Unknown(format!("{key} {not}@{name}{why}")))
        }
    };
    let data = match env.set(name) {
        Ok(d) => d,
        Err(e) => return unknown(format!(" ({e})")),
    };
    if data.flags & SET_EVAL != 0 {
        return Found::Cond(Cond::Unknown(format!("{key} {not}in dynamic set @{name}")));
    }
    // The parts the key covers: each padded to 4 bytes when there are
    // several.
    let mut used = Vec::new();
    let mut at = 0;
    for p in parts {
        if at >= data.key_len {
            break;
        }
        used.push((p.clone(), at));
        at += p.len().div_ceil(4) * 4;
    }
    let fits = match used.as_slice() {
        [(one, _)] => one.len() == data.key_len,
        _ => at == data.key_len.div_ceil(4) * 4,
    };
    if !fits {
        return unknown(" (a key whyport does not follow)".into());
    }
    let Some((spans, catchall)) = spans(&data) else {
        return unknown(" (elements whyport does not read)".into());
    };
    let cut = |s: &Span, (v, at): &(Val, usize)| {
        let l = v.len();
        Some((
            s.lo.get(*at..at + l)?.to_vec(),
            s.hi.get(*at..at + l)?.to_vec(),
        ))
    };
    let span_conds = |env: &dyn Env, s: &Span| -> Option<Vec<Cond>> {
        used.iter()
            .map(|p| part_cond(env, &p.0, &[cut(s, p)?], false).ok())
            .collect()
    };
    if let ([(one, at)], false) = (used.as_slice(), vmap) {
        let ranges: Option<Vec<_>> = spans.iter().map(|s| cut(s, &(one.clone(), *at))).collect();
        return match (catchall, ranges) {
            // `*` is in the set: every key is.
            (Some(_), _) if inverted => Found::Branches(Vec::new()),
            (Some(_), _) => Found::Branches(vec![Branch {
                conds: Vec::new(),
                verdict: None,
            }]),
            (None, Some(r)) => part_cond(&*env, one, &r, inverted)
                .map_or_else(|_| unknown(String::new()), Found::Cond),
            (None, None) => unknown(String::new()),
        };
    }
    if inverted || spans.len() > MAX_BRANCHES {
        return unknown(String::new());
    }
    let mut out = Vec::new();
    for s in &spans {
        let Some(conds) = span_conds(&*env, s) else {
            return unknown(String::new());
        };
        out.push(Branch {
            conds,
            verdict: vmap.then(|| verdict(&s.verdict)),
        });
    }
    if let Some(v) = catchall {
        // `*`: every key no other element holds.
        let rest = match used.as_slice() {
            [(one, at)] => spans
                .iter()
                .map(|s| cut(s, &(one.clone(), *at)))
                .collect::<Option<Vec<_>>>()
                .and_then(|r| part_cond(&*env, one, &r, true).ok()),
            _ => None,
        };
        let c = rest
            .unwrap_or_else(|| Cond::Unknown(format!("{key} not in another element of @{name}")));
        out.push(Branch {
            conds: vec![c],
            verdict: vmap.then(|| verdict(&v)),
        });
    }
    Found::Branches(out)
}

fn verdict(v: &Option<Verdict>) -> Verdict {
    v.clone()
        .unwrap_or_else(|| Verdict::Unknown("a map element without a verdict".into()))
}

/// The elements as inclusive spans, and the catch-all element's verdict.
/// An interval set holds each range as its start and, flagged, the key
/// one past its end; the last range may have no end (up to the top).
fn spans(data: &SetData) -> Option<(Vec<Span>, Option<Option<Verdict>>)> {
    let catchall = data
        .elems
        .iter()
        .find(|e| e.flags & ELEM_CATCHALL != 0)
        .map(|e| e.verdict.clone());
    let mut elems: Vec<&Elem> = data
        .elems
        .iter()
        .filter(|e| e.flags & ELEM_CATCHALL == 0)
        .collect();
    let paired = data.flags & SET_INTERVAL != 0 && elems.iter().all(|e| e.key_end.is_none());
    if !paired {
        // In key order, not the kernel's hash order: the same rules read
        // the same way twice.
        elems.sort_by(|a, b| a.key.cmp(&b.key));
        let spans = elems
            .into_iter()
            .map(|e| Span {
                lo: e.key.clone(),
                hi: e.key_end.clone().unwrap_or_else(|| e.key.clone()),
                verdict: e.verdict.clone(),
            })
            .collect();
        return Some((spans, catchall));
    }
    // At one key an end sorts before a start: [1,5] [6,9] is 1, 6 end, 6, 10 end.
    elems.sort_by(|a, b| (&a.key, a.flags & ELEM_END == 0).cmp(&(&b.key, b.flags & ELEM_END == 0)));
    let mut out = Vec::new();
    let mut start: Option<&Elem> = None;
    for e in elems {
        if e.flags & ELEM_END != 0 {
            if let Some(s) = start.take() {
                out.push(Span {
                    lo: s.key.clone(),
                    hi: decrement(&e.key)?,
                    verdict: s.verdict.clone(),
                });
            }
        } else if start.replace(e).is_some() {
            return None;
        }
    }
    if let Some(s) = start {
        out.push(Span {
            lo: s.key.clone(),
            hi: vec![0xff; s.key.len()],
            verdict: s.verdict.clone(),
        });
    }
    Some((out, catchall))
}

/// A big-endian number minus one (`None` below zero).
fn decrement(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = b.to_vec();
    for x in out.iter_mut().rev() {
        if *x > 0 {
            *x -= 1;
            return Some(out);
        }
        *x = 0xff;
    }
    None
}

fn be16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// One field tested against inclusive (low, high) values: the union.
pub(super) fn part_cond(
    env: &dyn Env,
    val: &Val,
    ranges: &[(Vec<u8>, Vec<u8>)],
    negated: bool,
) -> Result<Cond, ()> {
    let singles = || -> Result<Vec<&[u8]>, ()> {
        ranges
            .iter()
            .map(|(lo, hi)| if lo == hi { Ok(lo.as_slice()) } else { Err(()) })
            .collect()
    };
    Ok(match val {
        Val::Port { src } => {
            let ranges = ranges
                .iter()
                .map(|(lo, hi)| Some((be16(lo)?, be16(hi)?)))
                .collect::<Option<Vec<_>>>()
                .ok_or(())?;
            if *src {
                Cond::Sport { negated, ranges }
            } else {
                Cond::Dport { negated, ranges }
            }
        }
        Val::Addr { src, v6, len, mask } => {
            if mask.as_ref().is_some_and(|m| m.iter().any(|b| *b != 0xff)) {
                return Err(());
            }
            let full = if *v6 { 16 } else { 4 };
            let mut set = Addresses::default();
            for (lo, hi) in ranges {
                let pad = |b: &[u8], fill: u8| {
                    let mut v = b.iter().take(*len).copied().collect::<Vec<u8>>();
                    v.resize(full, fill);
                    v
                };
                let (lo, hi) = (pad(lo, 0), pad(hi, 0xff));
                match cidr(&lo, &hi) {
                    Some(l) => set.prefixes.push(Prefix {
                        address: address(&lo, *v6),
                        len: l,
                    }),
                    None => set.ranges.push((address(&lo, *v6), address(&hi, *v6))),
                }
            }
            if *src {
                Cond::Saddr { negated, set }
            } else {
                Cond::Daddr { negated, set }
            }
        }
        Val::L4proto => {
            let mut protos = Vec::new();
            for (lo, hi) in ranges {
                protos.extend(*lo.first().ok_or(())?..=*hi.first().ok_or(())?);
            }
            Cond::L4proto { negated, protos }
        }
        Val::Nfproto | Val::EtherType => {
            let v6: Vec<bool> = singles()?
                .into_iter()
                .map(|v| match (val, v) {
                    (Val::Nfproto, [2, ..]) | (Val::EtherType, [0x08, 0x00, ..]) => Ok(false),
                    (Val::Nfproto, [10, ..]) | (Val::EtherType, [0x86, 0xdd, ..]) => Ok(true),
                    _ => Err(()),
                })
                .collect::<Result<_, _>>()?;
            match v6.as_slice() {
                [one] => Cond::Ipv6(*one != negated),
                _ => return Err(()),
            }
        }
        Val::IfName { out } => {
            let names = ranges
                .iter()
                .map(|(lo, hi)| ifname_span(lo, hi))
                .collect::<Option<Vec<_>>>()
                .ok_or(())?;
            if *out {
                Cond::Oif { negated, names }
            } else {
                Cond::Iif { negated, names }
            }
        }
        Val::IfIndex { out } => {
            let idx = singles()?
                .into_iter()
                .map(u32_ne)
                .collect::<Option<Vec<_>>>()
                .ok_or(())?;
            ifindex_cond(env, *out, negated, &idx).ok_or(())?
        }
        Val::CtState { mask: u32::MAX } => {
            let mut mask = 0;
            for v in singles()? {
                let bit = u32_ne(v).ok_or(())?;
                if bit.count_ones() != 1 {
                    return Err(());
                }
                mask |= bit;
            }
            Cond::CtState { negated, mask }
        }
        Val::FibType { src } => {
            let types = singles()?
                .into_iter()
                .map(|v| u32_ne(v).map(|t| t as u8))
                .collect::<Option<Vec<_>>>()
                .ok_or(())?;
            if *src {
                Cond::SaddrType { negated, types }
            } else {
                Cond::DaddrType { negated, types }
            }
        }
        Val::TcpFlags { mask } => match singles()?.as_slice() {
            [v] => Cond::TcpFlags {
                negated,
                mask: *mask,
                value: *v.first().ok_or(())?,
            },
            _ => return Err(()),
        },
        _ => return Err(()),
    })
}

/// An interface name span: one name, or every name with a prefix (nft
/// stores `"eth*"` as the range "eth" + zeros ..= "eth" + 0xff...).
fn ifname_span(lo: &[u8], hi: &[u8]) -> Option<IfName> {
    if lo == hi {
        return Some(IfName {
            name: super::super::nft::text(lo),
            prefix: false,
        });
    }
    let n = lo.iter().position(|b| *b == 0).unwrap_or(lo.len());
    let prefix_ok = hi.get(..n) == Some(&lo[..n])
        && lo[n..].iter().all(|b| *b == 0)
        && hi[n..].iter().all(|b| *b == 0xff);
    prefix_ok.then(|| IfName {
        name: String::from_utf8_lossy(&lo[..n]).into_owned(),
        prefix: true,
    })
}

/// `iif` / `oif` by index, as names in the namespace read; `None` when
/// an index names no interface there.
pub(super) fn ifindex_cond(env: &dyn Env, out: bool, negated: bool, idx: &[u32]) -> Option<Cond> {
    let names = idx
        .iter()
        .map(|i| {
            env.ifname(*i).map(|name| IfName {
                name,
                prefix: false,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(if out {
        Cond::Oif { negated, names }
    } else {
        Cond::Iif { negated, names }
    })
}

/// The prefix length when low..=high is exactly one prefix.
fn cidr(lo: &[u8], hi: &[u8]) -> Option<u8> {
    let mut len = 0u8;
    let mut host = false;
    for (a, b) in lo.iter().zip(hi) {
        for bit in (0..8).rev() {
            let (x, y) = ((a >> bit) & 1, (b >> bit) & 1);
            match (host, x, y) {
                (false, _, _) if x == y => len += 1,
                (_, 0, 1) => host = true,
                _ => return None,
            }
        }
    }
    Some(len)
}

/// A comparison of a port or an address: equal, unequal, or ordered
/// (nft writes `th dport < 1024` as `lt`, and a range as `gte` then `lte`).
pub(super) fn ordered_cmp(val: &Val, op: u32, data: &[u8]) -> Option<Cond> {
    let negated = op == 1;
    match val {
        Val::Port { src } => {
            let p = be16(data)?;
            let ranges = match op {
                0 | 1 => vec![(p, p)],
                2 => p.checked_sub(1).map(|h| (0, h)).into_iter().collect(),
                3 => vec![(0, p)],
                4 => p
                    .checked_add(1)
                    .map(|l| (l, u16::MAX))
                    .into_iter()
                    .collect(),
                5 => vec![(p, u16::MAX)],
                _ => return None,
            };
            Some(if *src {
                Cond::Sport { negated, ranges }
            } else {
                Cond::Dport { negated, ranges }
            })
        }
        Val::Addr { src, v6, len, mask } => {
            let full = if *v6 { 16 } else { 4 };
            let set = if op <= 1 {
                let m = mask.clone().unwrap_or_else(|| vec![0xff; *len]);
                let bits = prefix_bits(&m)?;
                let value = data.get(..*len)?;
                if value.iter().zip(&m).any(|(v, m)| v & !m != 0) {
                    return None;
                }
                one_prefix(address(value, *v6), bits)
            } else {
                if mask.is_some() || *len != full {
                    return None;
                }
                let v = data.get(..full)?;
                let (lo, hi) = match op {
                    2 => (vec![0; full], decrement(v)?),
                    3 => (vec![0; full], v.to_vec()),
                    4 => (increment(v)?, vec![0xff; full]),
                    _ => (v.to_vec(), vec![0xff; full]),
                };
                Addresses {
                    prefixes: Vec::new(),
                    ranges: vec![(address(&lo, *v6), address(&hi, *v6))],
                }
            };
            Some(if *src {
                Cond::Saddr { negated, set }
            } else {
                Cond::Daddr { negated, set }
            })
        }
        _ => None,
    }
}

fn increment(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = b.to_vec();
    for x in out.iter_mut().rev() {
        if *x < 0xff {
            *x += 1;
            return Some(out);
        }
        *x = 0;
    }
    None
}

/// The number of leading one bits of a mask that has nothing after them.
fn prefix_bits(mask: &[u8]) -> Option<u8> {
    let ones: u32 = mask.iter().map(|b| b.count_ones()).sum();
    let lead: u32 = mask
        .iter()
        .map(|b| b.leading_ones())
        .scan(true, |go, n| {
            let r = if *go { n } else { 0 };
            *go = *go && n == 8;
            Some(r)
        })
        .sum();
    (ones == lead).then_some(lead as u8)
}

/// Two single ranges of one field in a row hold together: their
/// intersection (`dport >= 1` and `dport <= 1023`: 1-1023).
pub(super) fn intersect(a: &Cond, b: &Cond) -> Option<Cond> {
    fn meet<T: Ord + Copy>(x: (T, T), y: (T, T)) -> Option<(T, T)> {
        let r = (x.0.max(y.0), x.1.min(y.1));
        (r.0 <= r.1).then_some(r)
    }
    match (a, b) {
        (
            Cond::Dport {
                negated: false,
                ranges: x,
            },
            Cond::Dport {
                negated: false,
                ranges: y,
            },
        )
        | (
            Cond::Sport {
                negated: false,
                ranges: x,
            },
            Cond::Sport {
                negated: false,
                ranges: y,
            },
        ) => {
            let ([x], [y]) = (x.as_slice(), y.as_slice()) else {
                return None;
            };
            let ranges = meet(*x, *y).into_iter().collect();
            Some(match a {
                Cond::Dport { .. } => Cond::Dport {
                    negated: false,
                    ranges,
                },
                _ => Cond::Sport {
                    negated: false,
                    ranges,
                },
            })
        }
        (
            Cond::Saddr {
                negated: false,
                set: x,
            },
            Cond::Saddr {
                negated: false,
                set: y,
            },
        )
        | (
            Cond::Daddr {
                negated: false,
                set: x,
            },
            Cond::Daddr {
                negated: false,
                set: y,
            },
        ) => {
            let ([], [x], [], [y]) = (
                x.prefixes.as_slice(),
                x.ranges.as_slice(),
                y.prefixes.as_slice(),
                y.ranges.as_slice(),
            ) else {
                return None;
            };
            if x.0.is_ipv4() != y.0.is_ipv4() {
                return None;
            }
            let r: Option<(IpAddr, IpAddr)> = meet(*x, *y);
            let set = Addresses {
                prefixes: Vec::new(),
                ranges: r.into_iter().collect(),
            };
            Some(match a {
                Cond::Saddr { .. } => Cond::Saddr {
                    negated: false,
                    set,
                },
                _ => Cond::Daddr {
                    negated: false,
                    set,
                },
            })
        }
        _ => None,
    }
}
