//! The packet filter of one network namespace, as the kernel holds it:
//! base chains (hook, priority, policy) and the rules of every chain, from
//! nf_tables and iptables-legacy alike, decoded into conditions whyport can
//! evaluate and, where it cannot, conditions that say what they are. Plain
//! data: read by `collect/`, evaluated by `explain::firewall`.

// Read and evaluated by the changes that follow this one.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Which kernel interface holds a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// nf_tables: written by `nft`, `iptables-nft`, firewalld, Docker on
    /// an nft host, ufw through iptables-nft.
    Nftables,
    /// The x_tables of `iptables-legacy` / `ip6tables-legacy`.
    IptablesLegacy,
}

/// The address family of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `ip`: IPv4 only (every iptables table).
    Ip,
    /// `ip6`: IPv6 only (every ip6tables table).
    Ip6,
    /// `inet`: both.
    Inet,
    /// `netdev`: one device's ingress, before any other hook.
    Netdev,
    /// `bridge`, `arp`: not on the path of a routed packet to this host.
    Other,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
            Family::Netdev => "netdev",
            Family::Other => "other",
        }
    }

    /// Whether a table of this family sees packets of `ipv6` (or IPv4).
    pub fn sees(self, ipv6: bool) -> bool {
        match self {
            Family::Ip => !ipv6,
            Family::Ip6 => ipv6,
            Family::Inet | Family::Netdev => true,
            Family::Other => false,
        }
    }
}

/// A chain, named as a person would find it: `inet filter input`,
/// `iptables-legacy filter INPUT`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainRef {
    pub backend: Backend,
    pub family: Family,
    pub table: String,
    pub chain: String,
}

impl fmt::Display for ChainRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Nftables => {
                write!(f, "{} {} {}", self.family.as_str(), self.table, self.chain)
            }
            Backend::IptablesLegacy => {
                let tool = if self.family == Family::Ip6 {
                    "ip6tables-legacy"
                } else {
                    "iptables-legacy"
                };
                write!(f, "{tool} {} {}", self.table, self.chain)
            }
        }
    }
}

/// Where in the kernel's path a base chain is attached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    /// netdev ingress of this device.
    Ingress(String),
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// A chain's policy: what happens to a packet that falls off its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

/// A chain the kernel runs on its own, at a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    pub chain: ChainRef,
    pub hook: Hook,
    /// nft chain type: `filter`, `nat`, `route`. iptables-legacy tables
    /// are given the type of their table (`filter`, `nat`, `mangle`,
    /// `raw`, `security`: all but `nat` filter).
    pub kind: String,
    /// The kernel's order at one hook: lower first. iptables-legacy
    /// tables at theirs (raw -300, mangle -150, nat -100, filter 0,
    /// security 50).
    pub priority: i32,
    pub policy: Policy,
}

/// An IP prefix (address and prefix length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    pub address: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// Always with its length (`10.0.0.1/32`), as JSON gives prefixes.
    pub fn cidr(self) -> String {
        format!("{}/{}", self.address, self.len)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.address.is_ipv4() { 32 } else { 128 };
        if self.len == full {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{}/{}", self.address, self.len)
        }
    }
}

/// An address set: prefixes and, from interval sets, inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub prefixes: Vec<Prefix>,
    /// Inclusive ranges of one family (`10.0.0.1-10.0.0.9`).
    pub ranges: Vec<(IpAddr, IpAddr)>,
}

/// An interface name as a rule compares it: exact, or a prefix
/// (`iifname "eth*"`, iptables `-i eth+`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfName {
    pub name: String,
    pub prefix: bool,
}

impl IfName {
    pub fn matches(&self, iface: &str) -> bool {
        if self.prefix {
            iface.starts_with(&self.name)
        } else {
            iface == self.name
        }
    }
}

/// Connection-tracking states, as the kernel's bits (`ct state`,
/// `-m conntrack --ctstate`, `-m state --state`).
pub mod ct {
    pub const INVALID: u32 = 1;
    pub const ESTABLISHED: u32 = 2;
    pub const RELATED: u32 = 4;
    pub const NEW: u32 = 8;
    pub const UNTRACKED: u32 = 64;
}

/// Address types (`fib daddr type`, `-m addrtype`): the kernel's RTN_*
/// numbers.
pub mod rtn {
    pub const UNICAST: u8 = 1;
    pub const LOCAL: u8 = 2;
    pub const BROADCAST: u8 = 3;
    pub const ANYCAST: u8 = 4;
    pub const MULTICAST: u8 = 5;
}

/// One condition of a rule. Every variant but `Unknown` can be decided
/// for a new inbound connection (a TCP SYN or a first UDP datagram)
/// whose destination is fixed and whose source is any address; `negated`
/// turns each around (`!=`, `!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The IP version: `meta nfproto ipv4` (true: IPv6).
    Ipv6(bool),
    /// The transport protocol number is one of these (`meta l4proto`,
    /// `ip protocol`, `-p`).
    L4proto {
        negated: bool,
        protos: Vec<u8>,
    },
    Saddr {
        negated: bool,
        set: Addresses,
    },
    Daddr {
        negated: bool,
        set: Addresses,
    },
    /// Destination port in these inclusive ranges.
    Dport {
        negated: bool,
        ranges: Vec<(u16, u16)>,
    },
    /// Source port in these ranges: not known for a new connection.
    Sport {
        negated: bool,
        ranges: Vec<(u16, u16)>,
    },
    /// Input interface name (`iifname`, `iif` resolved to its name, `-i`).
    Iif {
        negated: bool,
        names: Vec<IfName>,
    },
    /// Output interface (the forward path: where a DNAT'd packet leaves).
    Oif {
        negated: bool,
        names: Vec<IfName>,
    },
    /// The packet's ct state is one of these bits (`ct::*`).
    CtState {
        negated: bool,
        mask: u32,
    },
    /// `ct status dnat`, `-m conntrack --ctstate DNAT`: the connection's
    /// destination was translated.
    CtDnat {
        negated: bool,
    },
    /// The destination's address type is one of these (`rtn::*`):
    /// `fib daddr type local`, `-m addrtype --dst-type LOCAL`.
    DaddrType {
        negated: bool,
        types: Vec<u8>,
    },
    /// The source's address type (`-m addrtype --src-type`).
    SaddrType {
        negated: bool,
        types: Vec<u8>,
    },
    /// A reverse-path check: true when the source would NOT be routed
    /// back out of the input interface (`fib saddr . iif oif missing`,
    /// `-m rpfilter --invert`). `negated` when the rule matches sources
    /// that pass (`-m rpfilter`).
    RpfFails {
        negated: bool,
        loose: bool,
    },
    /// A TCP flags test `flags & mask == value` (`tcp flags syn`,
    /// `--syn`): decided for a SYN, and false for UDP.
    TcpFlags {
        negated: bool,
        mask: u8,
        value: u8,
    },
    /// An IPv6 extension header is present (`-m rt`, `-m frag`, `-m hbh`,
    /// `-m dst`; what the match then tests of it). A new connection's
    /// first packet as a client sends it carries none, but a sender may add
    /// one: the walk takes such a rule as not matching when it drops
    /// (an ordinary packet avoids it), and as undecided when it could let
    /// a crafted packet in.
    Ipv6Header(String),
    /// A condition whyport does not evaluate (a ct mark, a meter, a
    /// dynamic set, a bpf match, a rate limit, ...): what it is.
    Unknown(String),
}

/// What a rule does when its conditions hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing that ends the chain (counter, log, mark, limit-less log).
    Continue,
    Accept,
    Drop,
    /// `reject`, `-j REJECT`: the peer is told the port is closed.
    Reject,
    Jump(String),
    Goto(String),
    Return,
    /// DNAT or redirect (in a nat chain): where the packet goes next is
    /// the NAT reader's answer.
    Nat,
    /// A verdict that could not be read: what it is.
    Unknown(String),
}

/// One rule: all of `conds` hold, then `verdict`. A verdict map is read
/// as one rule per element, each with its key as extra conditions, in
/// the order of the map (keys do not overlap, so order does not matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// nf_tables: the rule handle (`nft -a list ruleset`).
    /// iptables-legacy: the rule's number in its chain, from 1
    /// (`iptables -L --line-numbers`).
    pub number: u64,
    pub conds: Vec<Cond>,
    pub verdict: Verdict,
    pub comment: Option<String>,
}

/// The routing facts a reverse-path check needs, for one family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// (destination prefix, output interface) of the main table.
    pub main: Vec<(Prefix, String)>,
    /// Policy routing rules beyond the default three (local, main,
    /// default): then a reverse-path answer is not decided from `main`.
    pub extra_rules: bool,
}

/// The packet filter of one network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub base_chains: Vec<BaseChain>,
    /// Every chain's rules in order, base and regular.
    pub chains: BTreeMap<ChainRef, Vec<Rule>>,
    /// `net.ipv4.conf.*.rp_filter` by interface (the kernel uses the
    /// larger of `all` and the interface's own): 0 off, 1 strict, 2 loose.
    pub rp_filter: BTreeMap<String, u8>,
    pub routes_v4: Routes,
    pub routes_v6: Routes,
    /// Interfaces enslaved to a bridge or bond: a packet arrives on the
    /// master, never on them, so they are no path.
    pub enslaved: std::collections::BTreeSet<String>,
    /// What could not be read, in a phrase each (a table not decoded, a
    /// backend refused): every answer that could depend on it is
    /// undecided.
    pub unread: Vec<String>,
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.prefix { "*" } else { "" };
        write!(f, "\"{}{star}\"", self.name)
    }
}

fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    if items.len() == 1 {
        return write!(f, "{}", items[0]);
    }
    write!(f, "{{ ")?;
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{x}")?;
    }
    write!(f, " }}")
}

struct PortRange(u16, u16);

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}-{}", self.0, self.1)
        }
    }
}

impl fmt::Display for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .prefixes
            .iter()
            .map(|p| p.to_string())
            .chain(self.ranges.iter().map(|(a, b)| format!("{a}-{b}")))
            .collect();
        if items.is_empty() {
            return write!(f, "{{ }}");
        }
        list(f, &items)
    }
}

fn ct_names(mask: u32) -> Vec<&'static str> {
    [
        (ct::INVALID, "invalid"),
        (ct::ESTABLISHED, "established"),
        (ct::RELATED, "related"),
        (ct::NEW, "new"),
        (ct::UNTRACKED, "untracked"),
    ]
    .into_iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, n)| n)
    .collect()
}

fn rtn_name(t: &u8) -> &'static str {
    match *t {
        rtn::UNICAST => "unicast",
        rtn::LOCAL => "local",
        rtn::BROADCAST => "broadcast",
        rtn::ANYCAST => "anycast",
        rtn::MULTICAST => "multicast",
        _ => "other",
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

/// Conditions and verdicts print in nft's words (`tcp dport 22 ip saddr
/// 10.0.0.0/8 accept`), whichever backend they came from, so that one
/// vocabulary explains them all.
impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |n: &bool| if *n { "!= " } else { "" };
        match self {
            Cond::Ipv6(v6) => write!(f, "meta nfproto {}", if *v6 { "ipv6" } else { "ipv4" }),
            Cond::L4proto { negated, protos } => {
                let names: Vec<String> = protos.iter().map(|p| proto_name(*p)).collect();
                write!(f, "meta l4proto {}", not(negated))?;
                list(f, &names)
            }
            Cond::Saddr { negated, set } => write!(f, "saddr {}{set}", not(negated)),
            Cond::Daddr { negated, set } => write!(f, "daddr {}{set}", not(negated)),
            Cond::Dport { negated, ranges } | Cond::Sport { negated, ranges } => {
                let which = if matches!(self, Cond::Dport { .. }) {
                    "dport"
                } else {
                    "sport"
                };
                let r: Vec<PortRange> = ranges.iter().map(|(a, b)| PortRange(*a, *b)).collect();
                write!(f, "th {which} {}", not(negated))?;
                list(f, &r)
            }
            Cond::Iif { negated, names } => {
                write!(f, "iifname {}", not(negated))?;
                list(f, names)
            }
            Cond::Oif { negated, names } => {
                write!(f, "oifname {}", not(negated))?;
                list(f, names)
            }
            Cond::CtState { negated, mask } => {
                write!(f, "ct state {}", not(negated))?;
                list(f, &ct_names(*mask))
            }
            Cond::CtDnat { negated } => write!(f, "ct status {}dnat", not(negated)),
            Cond::DaddrType { negated, types } | Cond::SaddrType { negated, types } => {
                let which = if matches!(self, Cond::DaddrType { .. }) {
                    "daddr"
                } else {
                    "saddr"
                };
                let names: Vec<&str> = types.iter().map(rtn_name).collect();
                write!(f, "fib {which} type {}", not(negated))?;
                list(f, &names)
            }
            Cond::RpfFails { negated, loose } => {
                let key = if *loose { "saddr" } else { "saddr . iif" };
                let is = if *negated { "exists" } else { "missing" };
                write!(f, "fib {key} oif {is}")
            }
            Cond::TcpFlags {
                negated,
                mask,
                value,
            } => write!(f, "tcp flags & {mask:#04x} {}{value:#04x}", not(negated)),
            Cond::Ipv6Header(what) => write!(f, "{what}"),
            Cond::Unknown(what) => write!(f, "{what}"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Continue => write!(f, "continue"),
            Verdict::Accept => write!(f, "accept"),
            Verdict::Drop => write!(f, "drop"),
            Verdict::Reject => write!(f, "reject"),
            Verdict::Jump(c) => write!(f, "jump {c}"),
            Verdict::Goto(c) => write!(f, "goto {c}"),
            Verdict::Return => write!(f, "return"),
            Verdict::Nat => write!(f, "dnat"),
            Verdict::Unknown(what) => write!(f, "{what}"),
        }
    }
}

impl fmt::Display for Rule {
    /// The rule as one line: its conditions, then its verdict (a bare
    /// `continue` is left out, as nft leaves it out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.conds.iter().map(|c| c.to_string()).collect();
        if self.verdict != Verdict::Continue || parts.is_empty() {
            parts.push(self.verdict.to_string());
        }
        write!(f, "{}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_print_in_nft_words() {
        let rule = Rule {
            number: 12,
            conds: vec![
                Cond::L4proto {
                    negated: false,
                    protos: vec![6],
                },
                Cond::Dport {
                    negated: false,
                    ranges: vec![(22, 22)],
                },
                Cond::Saddr {
                    negated: false,
                    set: Addresses {
                        prefixes: vec![Prefix {
                            address: "10.0.0.0".parse().unwrap(),
                            len: 8,
                        }],
                        ranges: vec![],
                    },
                },
                Cond::CtState {
                    negated: true,
                    mask: ct::ESTABLISHED | ct::RELATED,
                },
            ],
            verdict: Verdict::Accept,
            comment: None,
        };
        assert_eq!(
            rule.to_string(),
            "meta l4proto tcp th dport 22 saddr 10.0.0.0/8 ct state != { established, related } accept"
        );
        let chain = ChainRef {
            backend: Backend::IptablesLegacy,
            family: Family::Ip6,
            table: "filter".into(),
            chain: "INPUT".into(),
        };
        assert_eq!(chain.to_string(), "ip6tables-legacy filter INPUT");
        assert!(
            IfName {
                name: "eth".into(),
                prefix: true
            }
            .matches("eth0")
        );
    }
}
