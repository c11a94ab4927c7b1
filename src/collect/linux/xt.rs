//! Linux: iptables matches (`-m NAME`) and targets (`-j NAME`) as filter
//! conditions and verdicts, from the xtables structs both iptables-nft
//! (inside nf_tables `match`/`target` expressions) and iptables-legacy
//! (inside x_tables entries) carry. Whatever is not decoded is kept as a
//! `Cond::Unknown` naming it in iptables' words, so that an answer
//! depending on it is undecided. Layouts: the kernel's uapi headers
//! (linux/netfilter/xt_*.h); numbers are host order unless the header
//! says `__be`, addresses network order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::nft::text;
use crate::model::firewall::{Addresses, Cond, Verdict};

/// The conditions of one iptables match (`name`, its revision and its
/// info struct as the kernel holds it); `v6` for ip6tables. All of them
/// hold when the match does; an empty list: the match always holds
/// (`comment`). A match that is an "or" of conditions is one `Unknown`
/// here; `match_alternatives` has its parts.
pub fn match_conds(name: &str, rev: u32, info: &[u8], v6: bool) -> Vec<Cond> {
    match decode(name, rev, info, v6) {
        Decoded::All(conds) => conds,
        Decoded::Any(_, words) => vec![Cond::Unknown(words)],
    }
}

/// The match as alternatives: it holds when all the conditions of any
/// one list hold. One list for most matches; several for
/// `--ctstate RELATED,ESTABLISHED,DNAT` (a state or the DNAT status) and
/// `-m multiport --ports` (the source or the destination port). A reader
/// may split its rule into one rule per list, with the same number and
/// verdict: rules are tried in order and the evaluation has no side
/// effects, so the first list that holds decides, as the "or" would (a
/// jump taken twice returns the same way twice).
pub fn match_alternatives(name: &str, rev: u32, info: &[u8], v6: bool) -> Vec<Vec<Cond>> {
    match decode(name, rev, info, v6) {
        Decoded::All(conds) => vec![conds],
        Decoded::Any(lists, _) => lists,
    }
}

#[path = "xt_ct.rs"]
mod conntrack;

/// A match decoded: a conjunction, or alternatives with the match in
/// iptables' words.
pub(super) enum Decoded {
    All(Vec<Cond>),
    Any(Vec<Vec<Cond>>, String),
}

fn decode(name: &str, rev: u32, info: &[u8], v6: bool) -> Decoded {
    let all = |c: Option<Vec<Cond>>| c.map(Decoded::All);
    let decoded = match name {
        "comment" => Some(Decoded::All(Vec::new())),
        "tcp" => all(tcp(info)),
        "udp" => all(udp(info)),
        "multiport" => multiport(rev, info),
        "conntrack" => conntrack::conntrack(rev, info),
        "state" => all(ne32(info, 0).map(|mask| {
            vec![Cond::CtState {
                negated: false,
                mask: conntrack::state_bits(mask),
            }]
        })),
        "addrtype" => all(addrtype(rev, info)),
        "iprange" => all(iprange(rev, info, v6)),
        "rpfilter" => all(info.first().map(|flags| vec![rpfilter(*flags)])),
        // These hold only when the packet has that extension header
        // (whatever their inversions say of its fields).
        "rt" | "frag" | "hbh" | "dst" if v6 => Some(Decoded::All(vec![Cond::Ipv6Header(
            unknown_match(name, info),
        )])),
        _ => Some(Decoded::All(vec![Cond::Unknown(unknown_match(name, info))])),
    };
    decoded.unwrap_or_else(|| {
        Decoded::All(vec![Cond::Unknown(format!(
            "-m {name} (revision {rev}, not decoded)"
        ))])
    })
}

/// The comment of a `comment` match (`-m comment --comment TEXT`).
pub fn comment(info: &[u8]) -> Option<String> {
    Some(text(info)).filter(|c| !c.is_empty())
}

/// What an iptables target does to the packet (a non-standard one:
/// ACCEPT, DROP, RETURN and jumps are verdicts of their own in both
/// backends).
pub fn target_verdict(name: &str, _rev: u32, info: &[u8]) -> Verdict {
    match name {
        "REJECT" => Verdict::Reject,
        // They log, mark or rewrite a header field; the chain goes on.
        "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "TCPMSS" | "CHECKSUM" | "AUDIT" => {
            Verdict::Continue
        }
        // A zone or helper: the chain goes on. `--notrack` makes the
        // packet untracked, so a later `--ctstate NEW` no longer holds for
        // it: not evaluated (a new connection is taken as NEW).
        "CT" => match info.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])) {
            Some(flags) if flags & 0x03 == 0 => Verdict::Continue,
            _ => Verdict::Unknown("-j CT --notrack (the packet becomes untracked)".into()),
        },
        "NOTRACK" => Verdict::Unknown("-j NOTRACK (the packet becomes untracked)".into()),
        "DNAT" | "REDIRECT" => Verdict::Nat,
        // They end the nat chain they are in (the packet is not filtered
        // there).
        "SNAT" | "MASQUERADE" => Verdict::Accept,
        other => Verdict::Unknown(format!("-j {other}")),
    }
}

pub(super) fn ne16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn ne32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn address(b: &[u8], at: usize, v6: bool) -> Option<IpAddr> {
    if v6 {
        let a: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    }
}

/// A port range condition, or none when it is every port and not
/// inverted (`! --dport 0:65535` holds for no packet and stays).
fn ports(lo: u16, hi: u16, inverted: bool, dest: bool) -> Option<Cond> {
    if (lo, hi) == (0, u16::MAX) && !inverted {
        return None;
    }
    let ranges = vec![(lo, hi)];
    Some(if dest {
        Cond::Dport {
            negated: inverted,
            ranges,
        }
    } else {
        Cond::Sport {
            negated: inverted,
            ranges,
        }
    })
}

/// `xt_udp`: spts[2], dpts[2], invflags (0x01 source, 0x02 destination).
/// The protocol itself is the rule's `-p` (the kernel refuses the match
/// without it).
fn udp(info: &[u8]) -> Option<Vec<Cond>> {
    port_conds(info, *info.get(8)?)
}

fn port_conds(info: &[u8], inv: u8) -> Option<Vec<Cond>> {
    let (s0, s1, d0, d1) = (
        ne16(info, 0)?,
        ne16(info, 2)?,
        ne16(info, 4)?,
        ne16(info, 6)?,
    );
    Some(
        [
            ports(s0, s1, inv & 0x01 != 0, false),
            ports(d0, d1, inv & 0x02 != 0, true),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )
}

/// `xt_tcp`: spts[2], dpts[2], option, flg_mask, flg_cmp, invflags (0x04
/// flags inverted, 0x08 option inverted). `--syn` is mask
/// FIN|SYN|RST|ACK, value SYN.
fn tcp(info: &[u8]) -> Option<Vec<Cond>> {
    let (option, mask, value, inv) = (*info.get(8)?, *info.get(9)?, *info.get(10)?, *info.get(11)?);
    let mut conds = port_conds(info, inv)?;
    if mask != 0 || inv & 0x04 != 0 {
        conds.push(Cond::TcpFlags {
            negated: inv & 0x04 != 0,
            mask,
            value,
        });
    }
    if option != 0 {
        let not = if inv & 0x08 != 0 { "! " } else { "" };
        conds.push(Cond::Unknown(format!("-m tcp {not}--tcp-option {option}")));
    }
    Some(conds)
}

/// `xt_multiport` (revision 0: flags, count, ports[15]) and
/// `xt_multiport_v1` (then pflags[15]: a range starts here, and invert).
/// flags: 0 source, 1 destination, 2 either.
fn multiport(rev: u32, info: &[u8]) -> Option<Decoded> {
    let (flags, count) = (*info.first()?, usize::from(*info.get(1)?));
    if count > 15 {
        return None;
    }
    let port = |i: usize| ne16(info, 2 + 2 * i);
    let mut ranges = Vec::new();
    let mut i = 0;
    let invert = match rev {
        0 => {
            while i < count {
                let p = port(i)?;
                ranges.push((p, p));
                i += 1;
            }
            false
        }
        1 => {
            while i < count {
                let lo = port(i)?;
                if *info.get(32 + i)? != 0 {
                    // A range's end is the next port, within the count.
                    i += 1;
                    if i >= count {
                        return None;
                    }
                    ranges.push((lo, port(i)?));
                } else {
                    ranges.push((lo, lo));
                }
                i += 1;
            }
            *info.get(47)? != 0
        }
        _ => return None,
    };
    let dport = Cond::Dport {
        negated: invert,
        ranges: ranges.clone(),
    };
    let sport = Cond::Sport {
        negated: invert,
        ranges,
    };
    Some(match (flags, invert) {
        (0, _) => Decoded::All(vec![sport]),
        (1, _) => Decoded::All(vec![dport]),
        // Inverted, neither port is in the list: both conditions hold.
        (2, true) => Decoded::All(vec![sport, dport]),
        (2, false) => Decoded::Any(
            vec![vec![sport], vec![dport]],
            "-m multiport --ports".into(),
        ),
        _ => return None,
    })
}

/// `xt_addrtype_info` (revision 0: source, dest u16 masks, invert_source,
/// invert_dest u32) and `_v1` (source, dest, flags: 1 source inverted,
/// 2 destination inverted, 4/8 limited to the input/output interface).
/// Mask bit n is RTN n (XT_ADDRTYPE_LOCAL is 1 << RTN_LOCAL).
fn addrtype(rev: u32, info: &[u8]) -> Option<Vec<Cond>> {
    let (source, dest) = (ne16(info, 0)?, ne16(info, 2)?);
    let (src_inv, dst_inv, limited) = match rev {
        0 => (ne32(info, 4)? != 0, ne32(info, 8)? != 0, false),
        1 => {
            let f = ne32(info, 4)?;
            (f & 1 != 0, f & 2 != 0, f & 0x0c != 0)
        }
        _ => return None,
    };
    let types = |mask: u16| -> Vec<u8> { (0u8..16).filter(|t| mask & (1 << t) != 0).collect() };
    if limited {
        // The type as seen from one interface (`--limit-iface-in`): not
        // the host-wide type the conditions mean.
        return Some(vec![Cond::Unknown(
            "-m addrtype --limit-iface-in/out".into(),
        )]);
    }
    let mut conds = Vec::new();
    if source != 0 {
        conds.push(Cond::SaddrType {
            negated: src_inv,
            types: types(source),
        });
    }
    if dest != 0 {
        conds.push(Cond::DaddrType {
            negated: dst_inv,
            types: types(dest),
        });
    }
    Some(conds)
}

/// `xt_iprange_mtinfo` (revision 1: src_min, src_max, dst_min, dst_max
/// as nf_inet_addr, flags) or, revision 0 (IPv4), `ipt_iprange_info`
/// (four be32, flags). flags: 0x01 source, 0x02 destination, 0x10/0x20
/// inverted.
fn iprange(rev: u32, info: &[u8], v6: bool) -> Option<Vec<Cond>> {
    let (step, flags_at) = match rev {
        0 if !v6 => (4, 16),
        1 => (16, 64),
        _ => return None,
    };
    let flags = *info.get(flags_at)?;
    let range = |at: usize| -> Option<Addresses> {
        Some(Addresses {
            prefixes: Vec::new(),
            ranges: vec![(address(info, at, v6)?, address(info, at + step, v6)?)],
        })
    };
    let mut conds = Vec::new();
    if flags & 0x01 != 0 {
        conds.push(Cond::Saddr {
            negated: flags & 0x10 != 0,
            set: range(0)?,
        });
    }
    if flags & 0x02 != 0 {
        conds.push(Cond::Daddr {
            negated: flags & 0x20 != 0,
            set: range(2 * step)?,
        });
    }
    Some(conds)
}

/// `xt_rpfilter_info`: flags 0x1 loose, 0x2 validmark, 0x4 accept-local,
/// 0x8 invert. The plain match holds for sources that PASS the check;
/// `--invert` for those that fail (the usual `-m rpfilter --invert -j
/// DROP`). validmark looks the route up with the packet's mark, which
/// matters only under policy routing (`Routes::extra_rules`, undecided
/// there anyway); accept-local only for sources that are this host's own
/// addresses, which no outside peer has.
fn rpfilter(flags: u8) -> Cond {
    Cond::RpfFails {
        negated: flags & 0x08 == 0,
        loose: flags & 0x01 != 0,
    }
}

/// A match whyport does not evaluate, in iptables' words where the
/// struct says them cheaply.
fn unknown_match(name: &str, info: &[u8]) -> String {
    let extra = match name {
        // xt_recent_mtinfo: seconds, hit_count, check_set, invert, name.
        "recent" => info.get(8).map(|check| {
            let op = match check & 0x0f {
                1 => "--rcheck",
                2 => "--set",
                4 => "--update",
                8 => "--remove",
                _ => "",
            };
            let list = info.get(10..210).map(text).unwrap_or_default();
            format!(" {op} --name {list}")
        }),
        // xt_mark_mtinfo1: mark, mask, invert.
        "mark" | "connmark" => (|| {
            let not = if *info.get(8)? != 0 { "! " } else { "" };
            Some(format!(
                " {not}--mark {:#x}/{:#x}",
                ne32(info, 0)?,
                ne32(info, 4)?
            ))
        })(),
        _ => None,
    };
    format!("-m {name}{}", extra.unwrap_or_default())
}

#[cfg(test)]
#[path = "xt_tests.rs"]
mod tests;
