//! Linux: what an nf_tables register holds while a rule is read (a
//! protocol, an address prefix, a port, an interface, a ct state, a fib
//! answer, or something else named in nft's words), and how the loads
//! and masks of `nft_filter_expr.rs` make one.

use std::net::IpAddr;

use super::nft::be32;
use crate::model::firewall::{Addresses, Prefix};

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
    /// Both ports in one 4-byte load (`@th,0,32`): what iptables-nft
    /// writes for `--sport A --dport B` (ufw's DHCP client rule).
    Ports,
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
            Val::Ports => "th sport . th dport".into(),
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

/// A comparison's operator in nft's words (NFT_CMP_EQ 0 .. GTE 5).
pub(super) fn op_word(op: u32) -> &'static str {
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

pub(super) fn u32_ne(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    for (i, x) in data.iter().take(4).enumerate() {
        b[i] = *x;
    }
    u32::from_ne_bytes(b)
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

pub(super) fn be64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// NFTA_LIMIT_RATE 1 and UNIT 2 (u64, seconds), TYPE 4 (1: bytes),
/// FLAGS 5 (1: `over`).
pub(super) fn limit_words<'a>(get: &dyn Fn(u16) -> Option<&'a [u8]>) -> String {
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

pub(super) fn meta_val(key: u32) -> Val {
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

pub(super) fn ct_val(key: u32, directed: bool) -> Val {
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
pub(super) fn fib_val(result: u32, flags: u32) -> Val {
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
pub(super) fn masked(val: Option<Val>, op: u32, mask: &[u8], xor: &[u8]) -> Val {
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
