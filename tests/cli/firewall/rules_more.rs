//! The rule sets of the firewall matrix that tell the families apart
//! (IPv6 prefixes in an inet table, an ip6 table, ip6tables-legacy, IPv4
//! allowed where IPv6 is dropped and the reverse), check reverse-path
//! filtering (the kernel's rp_filter, nft's `fib saddr . iif oif missing`)
//! with P1b's addresses routed back through v2, and run nftables and
//! iptables-legacy together.

use super::lab::{Dst, Kernel, Nets, Src};
use super::rules::{Load, RuleSet};

/// T routes P1b's addresses back through v2 (P2 carries the replies on).
const ASYMMETRIC_STRICT: Kernel = Kernel::Asymmetric {
    conf: "all",
    rp_filter: 1,
};

pub fn rule_sets(n: &Nets) -> Vec<RuleSet> {
    let (n1, n1_6) = (&n.n1, &n.n1_6);
    let p2 = n.src(Src::P2);
    let p2_6 = n.src6(Src::P2);
    let p1b_6 = n.src6(Src::P1b);
    let a2_6 = n.dst6(Dst::A2);
    vec![
        RuleSet {
            name: "nft inet, ip6 saddr prefixes and an IPv6 interval set",
            needs: &[],
            load: Load::Nft(format!(
                "table inet wpfilter {{
  set six {{ type ipv6_addr; flags interval; elements = {{ {p2_6}, {n1_6}::100-{n1_6}::2ff }} }}
  chain input {{
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    ip6 saddr {n1_6}::/120 tcp dport 22 accept
    tcp dport 22 ip saddr {n}.0/24 accept
    ip6 saddr {p2_6} tcp dport {{ 80, 8081 }} accept
    ip saddr {n1}.0/24 tcp dport 80 accept
    ip6 saddr != {n1_6}::/120 udp dport 53 accept
    udp dport 53 ip saddr {p2} accept
    ip6 saddr @six udp dport 40053 accept
  }}
}}
",
                n = n.n2
            )),
            lets: |p| match (p.tcp, p.port, p.v6) {
                (true, 22, true) => p.src == Src::P1a,
                (true, 22, false) => p.src == Src::P2,
                (true, 80 | 8081, true) => p.src == Src::P2,
                (true, 80, false) => p.src != Src::P2,
                (false, 53 | 40053, true) => p.src != Src::P1a,
                (false, 53, false) => p.src == Src::P2,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft ip6 table, user chain",
            needs: &[],
            load: Load::Nft(format!(
                "table ip6 wp6 {{
  chain input {{
    type filter hook input priority 0; policy drop;
    ip6 saddr {n1_6}::/120 accept
    iifname \"v2\" tcp dport 22 accept
    tcp dport 80 ip6 daddr {a2_6} accept
    udp dport 53 accept
    ip6 saddr {p1b_6} jump p1b
  }}
  chain p1b {{
    udp dport 40053 accept
    tcp dport 22 reject
  }}
}}
"
            )),
            // IPv4 passes (a table of family ip6).
            lets: |p| match (p.v6, p.src, p.tcp, p.port) {
                (false, ..) | (_, Src::P1a, ..) | (_, _, false, 53) => true,
                (_, _, true, 22) => p.src == Src::P2,
                (_, _, true, 80) => p.dst == Dst::A2,
                (_, _, false, 40053) => p.src == Src::P1b,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "ip6tables-legacy INPUT with a user chain",
            needs: &["ip6tables-legacy-restore"],
            load: Load::Restore(
                "ip6tables-legacy-restore",
                format!(
                    "*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:TRUSTED - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -s {n1_6}::/120 -j TRUSTED
-A INPUT -p tcp -m multiport --dports 22,80 -j ACCEPT
-A INPUT -i v2 -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -d {a2_6}/128 -p udp -m udp --dport 40053 -j ACCEPT
-A TRUSTED -p udp -j ACCEPT
-A TRUSTED -j RETURN
COMMIT
"
                ),
            ),
            // IPv4 passes; 8081 (bound to v2) is for no one in IPv6.
            lets: |p| match (p.v6, p.tcp, p.port) {
                (false, ..) | (_, true, 22 | 80) | (_, false, 40053) => true,
                (_, false, 53) => p.src != Src::P1b,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft inet, IPv4 allowed where IPv6 is dropped (and the reverse)",
            needs: &[],
            load: Load::Nft(
                "table inet wpfilter {
  chain input {
    type filter hook input priority 0; policy accept;
    meta nfproto ipv6 tcp dport { 22, 80 } drop
    meta nfproto ipv4 udp dport 53 drop
    ip6 daddr ::/0 tcp dport 8081 drop
    meta nfproto ipv6 udp dport 40053 reject
  }
}
"
                .into(),
            ),
            lets: |p| match (p.tcp, p.port) {
                (true, 22 | 80 | 8081) | (false, 40053) => !p.v6,
                (false, 53) => p.v6,
                _ => true,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "rp_filter strict (all = 1), P1b routed back through v2",
            needs: &[],
            load: Load::Nft(String::new()),
            // IPv6 has no rp_filter.
            lets: |p| p.v6 || p.src != Src::P1b,
            forwards: &[],
            kernel: ASYMMETRIC_STRICT,
        },
        RuleSet {
            name: "rp_filter loose (v1 = 2), P1b routed back through v2",
            needs: &[],
            load: Load::Nft(String::new()),
            lets: |_| true,
            forwards: &[],
            kernel: Kernel::Asymmetric {
                conf: "v1",
                rp_filter: 2,
            },
        },
        RuleSet {
            name: "nft fib saddr . iif oif missing drop, P1b routed back through v2",
            needs: &[],
            load: Load::Nft(
                "table inet wprpf {
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    fib saddr . iif oif missing drop
  }
}
"
                .into(),
            ),
            lets: |p| p.src != Src::P1b,
            forwards: &[],
            kernel: Kernel::Asymmetric {
                conf: "all",
                rp_filter: 0,
            },
        },
        RuleSet {
            name: "nft accepts, iptables-legacy drops (and the reverse)",
            needs: &["iptables-legacy-restore", "ip6tables-legacy-restore"],
            load: Load::All(vec![
                Load::Nft(
                    "table inet wpfilter {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport { 22, 80, 40022 } accept
    udp dport 53 drop
  }
}
"
                    .into(),
                ),
                Load::Restore(
                    "iptables-legacy-restore",
                    format!(
                        "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 40022 -j DROP
-A INPUT -s {n1}.0/25 -p tcp -m tcp --dport 80 -j DROP
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -i v2 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
COMMIT
"
                    ),
                ),
                Load::Restore(
                    "ip6tables-legacy-restore",
                    format!(
                        "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s {n1_6}::/120 -p tcp -m tcp --dport 22 -j DROP
-A INPUT -p udp -m udp --dport 40053 -j DROP
COMMIT
"
                    ),
                ),
            ]),
            // A drop in either wins over an accept in the other.
            lets: |p| match (p.v6, p.tcp, p.port) {
                (_, false, 53) => false,
                (false, true, 40022) => false,
                (false, true, 80) => p.src != Src::P1a,
                (false, true, 22) => p.src != Src::P2,
                (true, true, 22) => p.src != Src::P1a,
                (true, false, 40053) => false,
                _ => true,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
    ]
}
