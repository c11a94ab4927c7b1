//! Linux: one field of an nf_tables rule tested against values (a
//! comparison, a range, a set's elements) as a condition: ports,
//! addresses as prefixes or ranges, interfaces by name or index,
//! protocols, ct states, address types, tcp flags.

use std::net::IpAddr;

use super::sets::Env;
use super::vals::{Val, address, one_prefix};
use crate::model::firewall::{Addresses, Cond, IfName, Prefix};

/// A big-endian number minus one (`None` below zero).
pub(super) fn decrement(b: &[u8]) -> Option<Vec<u8>> {
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
