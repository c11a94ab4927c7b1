//! The rule sets of the firewall matrix, each with what it is meant to let
//! through (checked against the probes, so that a rule set that does not
//! do what its name says fails as a lab error, not as a claim of whyport's).
//!
//! The Docker and firewalld shapes are hand-made after what those tools
//! write (`iptables-save` of Docker 20-24 with one published port;
//! `nft list table inet firewalld` of firewalld 1.3 with a source zone, an
//! interface zone and the default zone); neither daemon runs here.

use super::lab::{Dst, Kernel, Nets, PUBLISHED, Probe, Src};

/// How a rule set is loaded into T.
pub enum Load {
    /// `nft -f -`.
    Nft(String),
    /// `TOOL` (an iptables-restore) with the text on stdin.
    Restore(&'static str, String),
    /// ufw commands, with ufw's configuration in a private mount namespace.
    Ufw(&'static [&'static str]),
    /// Each of these, in order (nftables and iptables-legacy together).
    All(Vec<Load>),
}

impl Load {
    /// Whether it fills iptables-legacy or ip6tables-legacy tables (which
    /// `nft flush ruleset` does not empty).
    pub fn legacy(&self) -> bool {
        match self {
            Load::Restore(tool, _) => tool.contains("-legacy-"),
            Load::All(loads) => loads.iter().any(Load::legacy),
            Load::Nft(_) | Load::Ufw(_) => false,
        }
    }
}

pub struct RuleSet {
    pub name: &'static str,
    /// The programs it needs (a missing one skips this rule set).
    pub needs: &'static [&'static str],
    pub load: Load,
    /// Whether the rules let `probe` through (its socket aside: a probe no
    /// socket takes fails whatever this says).
    pub lets: fn(&Probe) -> bool,
    /// The TCP ports it forwards (DNAT) to the container.
    pub forwards: &'static [u16],
    /// T's routes and rp_filter while it is loaded.
    pub kernel: Kernel,
}

/// Every rule set, with the lab's addresses.
pub fn rule_sets(n: &Nets) -> Vec<RuleSet> {
    let (n1, n2, nc) = (&n.n1, &n.n2, &n.nc);
    let a2 = n.dst(Dst::A2);
    let a1 = n.dst(Dst::A1);
    let p1b = n.src(Src::P1b);
    let p2 = n.src(Src::P2);
    let mut sets = vec![
        RuleSet {
            name: "none",
            needs: &[],
            load: Load::Nft(String::new()),
            lets: |_| true,
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft allow-list, policy drop, ct established",
            needs: &[],
            load: Load::Nft(
                "table inet wpfilter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iif \"lo\" accept
    tcp dport { 22, 80 } accept
    udp dport 53 accept
    meta l4proto icmp accept
  }
}
"
                .into(),
            ),
            lets: |p| matches!((p.tcp, p.port), (true, 22 | 80) | (false, 53)),
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft source prefixes",
            needs: &[],
            load: Load::Nft(format!(
                "table ip wpfilter {{
  chain input {{
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    ip saddr {n1}.0/25 tcp dport 40022 accept
    ip saddr {n2}.0/24 tcp dport {{ 80, 8443 }} accept
    ip saddr != {n1}.128/25 udp dport 53 accept
    ip saddr {p1b} tcp dport 22 accept
    tcp dport 22 ip saddr {n1}.0/24 reject with tcp reset
  }}
}}
"
            )),
            // A table of family ip: IPv6 passes.
            lets: |p| match (p.tcp, p.port) {
                _ if p.v6 => true,
                (true, 40022) => p.src == Src::P1a,
                (true, 80 | 8443) => p.src == Src::P2,
                (false, 53) => p.src != Src::P1b,
                (true, 22) => p.src == Src::P1b,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft interfaces",
            needs: &[],
            load: Load::Nft(format!(
                "table inet wpfilter {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname \"v2\" tcp dport 80 drop
    iif \"v1\" udp dport 53 reject
    iifname != \"v1\" tcp dport 22 drop
    iifname \"v*\" tcp dport 40022 drop
    iifname \"v1\" ip daddr {a1} tcp dport 8443 drop
  }}
}}
"
            )),
            lets: |p| {
                let v1 = p.src != Src::P2;
                match (p.tcp, p.port) {
                    (true, 80 | 22) => v1,
                    (false, 53) => !v1,
                    (true, 40022) => false,
                    (true, 8443) => !(v1 && p.dst == Dst::A1),
                    _ => true,
                }
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft connection tracking only",
            needs: &[],
            load: Load::Nft(format!(
                "table inet wpfilter {{
  chain input {{
    type filter hook input priority 0; policy drop;
    ct state vmap {{ established : accept, related : accept, invalid : drop }}
    tcp dport 22 ct state new accept
    udp dport 40053 ct state new,untracked accept
    ct state new tcp dport 80 ip saddr {n1}.0/25 accept
  }}
}}
"
            )),
            lets: |p| match (p.tcp, p.port) {
                (true, 22) | (false, 40053) => true,
                // `ip saddr` matches IPv4 only: IPv6 meets the policy.
                (true, 80) => !p.v6 && p.src == Src::P1a,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft named sets and verdict maps",
            needs: &[],
            load: Load::Nft(format!(
                "table inet wpfilter {{
  set ports {{ type inet_service; elements = {{ 22, 40022 }} }}
  set friends {{ type ipv4_addr; flags interval; elements = {{ {n1}.0/25, {n2}.0/24 }} }}
  map by_port {{ type inet_service : verdict; elements = {{ 80 : jump web, 53 : accept, 40053 : drop }} }}
  map by_iface {{ type ifname . inet_service : verdict; elements = {{ \"v2\" . 8081 : accept, \"v1\" . 8443 : accept }} }}
  chain web {{
    ip saddr @friends accept
    drop
  }}
  chain input {{
    type filter hook input priority 0; policy drop;
    tcp dport @ports accept
    meta l4proto {{ tcp, udp }} th dport vmap @by_port
    iifname . tcp dport vmap @by_iface
  }}
}}
"
            )),
            lets: |p| match (p.tcp, p.port) {
                (true, 22 | 40022) | (false, 53) => true,
                // @friends holds IPv4 prefixes: IPv6 is dropped in web.
                (true, 80) => !p.v6 && p.src != Src::P1b,
                (true, 8081) => p.src == Src::P2,
                (true, 8443) => p.src != Src::P2,
                _ => false,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft jumps, gotos and returns",
            needs: &[],
            load: Load::Nft(format!(
                "table ip wpfilter {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname \"v1\" jump from_v1
    tcp dport 40022 drop
    iifname \"v2\" goto from_v2
    udp dport 53 drop
  }}
  chain from_v1 {{
    tcp dport 80 return
    ip saddr {p1b} goto strict
    tcp dport 8443 drop
  }}
  chain strict {{
    tcp dport 22 accept
    udp dport 53 accept
    drop
  }}
  chain from_v2 {{
    tcp dport 22 drop
    jump dns
    tcp dport 80 reject
  }}
  chain dns {{
    counter
    udp dport 53 accept
    return
  }}
}}
"
            )),
            // P1a: from_v1 returns (80) or ends (8443 dropped there), then
            // the base chain drops 40022 and udp 53. P1b: 80 returns as
            // P1a's; the rest goes to strict and ends there. P2: 40022
            // dropped, then goto from_v2 (22 dropped, dns accepts udp 53,
            // 80 rejected) whose end is the base chain's policy accept.
            // (A table of family ip: IPv6 passes.)
            lets: |p| match (p.src, p.tcp, p.port) {
                _ if p.v6 => true,
                (_, true, 80) => p.src != Src::P2,
                (_, true, 40022) => false,
                (Src::P1a, true, 8443) | (Src::P1a, false, 53) => false,
                (Src::P1b, true, 22) | (Src::P1b, false, 53) => true,
                (Src::P1b, _, _) => false,
                (Src::P2, true, 22) => false,
                _ => true,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft base chains at three hooks and priorities",
            needs: &[],
            load: Load::Nft(format!(
                "table inet wpearly {{
  chain input {{
    type filter hook input priority -10; policy accept;
    tcp dport {{ 22, 80, 40022 }} accept
  }}
}}
table inet wplate {{
  chain input {{
    type filter hook input priority 10; policy drop;
    tcp dport 80 accept
    ip saddr {p2} tcp dport 22 accept
    udp dport {{ 53, 40053 }} accept
    tcp dport {{ 8081, 8443 }} accept
  }}
}}
table ip wpraw {{
  chain prerouting {{
    type filter hook prerouting priority raw; policy accept;
    ip saddr {p1b} udp dport 53 drop
  }}
}}
table netdev wpingress {{
  chain ingress {{
    type filter hook ingress device \"v2\" priority 0; policy accept;
    ip saddr {p2} tcp dport 8443 drop
  }}
}}
"
            )),
            // The raw and ingress chains and P2's 22 match IPv4 only.
            lets: |p| match (p.tcp, p.port) {
                (true, 40022) => false,
                (true, 22) => !p.v6 && p.src == Src::P2,
                (false, 53) => p.v6 || p.src != Src::P1b,
                (true, 8443) => p.v6 || p.src != Src::P2,
                _ => true,
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "iptables-legacy INPUT with user chains",
            needs: &["iptables-legacy-restore"],
            load: Load::Restore("iptables-legacy-restore", iptables_input(n1, &a2)),
            lets: iptables_lets,
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "iptables-nft INPUT with user chains",
            needs: &["iptables-nft-restore"],
            load: Load::Restore("iptables-nft-restore", iptables_input(n1, &a2)),
            lets: iptables_lets,
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "ufw default deny, allow 22/tcp",
            needs: &["ufw"],
            load: Load::Ufw(&[
                "ufw default deny incoming",
                "ufw --force enable",
                "ufw allow 22/tcp",
            ]),
            lets: |p| p.tcp && p.port == 22,
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "firewalld zones (shape)",
            needs: &[],
            load: Load::Nft(firewalld(n1)),
            // P1a: the trusted source zone (an IPv4 prefix: its IPv6
            // address is public); P1b: public (ssh); P2 on v2: internal
            // (ssh, dns, http; 8081 denied by a rich rule).
            lets: |p| match p.src {
                Src::P1a if !p.v6 => true,
                Src::P1a |
                Src::P1b => p.tcp && p.port == 22,
                Src::P2 => matches!((p.tcp, p.port), (true, 22 | 80) | (false, 53)),
            },
            forwards: &[],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "Docker published port, DOCKER-USER (shape)",
            needs: &["iptables-nft-restore"],
            load: Load::Restore("iptables-nft-restore", docker(nc, n2)),
            // INPUT accepts (Docker leaves it alone); the published port
            // is forwarded to C, where DOCKER-USER drops P2's subnet.
            lets: |p| !(p.tcp && p.port == PUBLISHED) || p.src != Src::P2,
            forwards: &[PUBLISHED],
            kernel: Kernel::Plain,
        },
        RuleSet {
            name: "nft rate-limit meter",
            needs: &[],
            load: Load::Nft(
                "table inet wpfilter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    tcp dport 22 meter sshrate { ip saddr limit rate 10/minute burst 20 packets } accept
    tcp dport 80 accept
  }
}
"
                .into(),
            ),
            // The meter's `ip saddr` makes its rule IPv4 only.
            lets: |p| p.tcp && (p.port == 80 || (p.port == 22 && !p.v6)),
            forwards: &[],
            kernel: Kernel::Plain,
        },
    ];
    sets.extend(super::rules_more::rule_sets(n));
    sets
}

/// INPUT policy DROP with a TRUSTED chain for P1a's /25 and a SERVICES
/// chain, as hand-written iptables scripts look.
fn iptables_input(n1: &str, a2: &str) -> String {
    format!(
        "*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:SERVICES - [0:0]
:TRUSTED - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -s {n1}.0/25 -j TRUSTED
-A INPUT -j SERVICES
-A TRUSTED -p tcp -m tcp --dport 40022 -j ACCEPT
-A TRUSTED -p udp -j ACCEPT
-A TRUSTED -j RETURN
-A SERVICES -p tcp -m tcp --dport 22 -j ACCEPT
-A SERVICES -i v2 -p tcp -m multiport --dports 80,8081,8443 -j ACCEPT
-A SERVICES -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A SERVICES -d {a2}/32 -p udp -m udp --dport 40053 -j ACCEPT
COMMIT
"
    )
}

/// (iptables filters IPv4 only: IPv6 passes.)
fn iptables_lets(p: &Probe) -> bool {
    match (p.tcp, p.port) {
        _ if p.v6 => true,
        (true, 22) | (false, 40053) => true,
        (true, 40022) | (false, 53) => p.src == Src::P1a,
        (true, 80 | 8081 | 8443) => p.src == Src::P2,
        _ => false,
    }
}

/// firewalld 1.3's inet table (filter part): the source zone `trusted`
/// for P1a's /25, the zone `internal` for v2, the default zone `public`.
fn firewalld(n1: &str) -> String {
    let zone = |name: &str, allow: &str, deny: &str, last: &str| {
        format!(
            "  chain filter_IN_{name} {{
    jump filter_IN_{name}_pre
    jump filter_IN_{name}_log
    jump filter_IN_{name}_deny
    jump filter_IN_{name}_allow
    jump filter_IN_{name}_post
{last}  }}
  chain filter_IN_{name}_pre {{
  }}
  chain filter_IN_{name}_log {{
  }}
  chain filter_IN_{name}_deny {{
{deny}  }}
  chain filter_IN_{name}_allow {{
{allow}  }}
  chain filter_IN_{name}_post {{
  }}
"
        )
    };
    let icmp = "    meta l4proto { icmp, ipv6-icmp } accept\n";
    let ssh = "    tcp dport 22 ct state { new, untracked } accept\n";
    let dhcp6 = "    ip6 daddr fe80::/64 udp dport 546 ct state { new, untracked } accept\n";
    let public = zone("public", &format!("{ssh}{dhcp6}"), "", icmp);
    let internal = zone(
        "internal",
        &format!(
            "{ssh}    ip daddr 224.0.0.251 udp dport 5353 ct state {{ new, untracked }} accept
    udp dport 53 ct state {{ new, untracked }} accept
    tcp dport 80 ct state {{ new, untracked }} accept
{dhcp6}"
        ),
        "    tcp dport 8081 reject with icmpx admin-prohibited\n",
        icmp,
    );
    let trusted = zone("trusted", "", "", "    accept\n");
    format!(
        "table inet firewalld {{
  chain filter_PREROUTING {{
    type filter hook prerouting priority filter + 10; policy accept;
    icmpv6 type {{ nd-router-advert, nd-neighbor-solicit }} accept
    fib saddr . iif oif missing drop
  }}
  chain filter_INPUT {{
    type filter hook input priority filter + 10; policy accept;
    ct state {{ established, related }} accept
    ct status dnat accept
    iifname \"lo\" accept
    ct state invalid drop
    jump filter_INPUT_ZONES
    reject with icmpx admin-prohibited
  }}
  chain filter_FORWARD {{
    type filter hook forward priority filter + 10; policy accept;
    ct state {{ established, related }} accept
    ct status dnat accept
    iifname \"lo\" accept
    ct state invalid drop
    reject with icmpx admin-prohibited
  }}
  chain filter_INPUT_ZONES {{
    ip saddr {n1}.0/25 goto filter_IN_trusted
    iifname \"v2\" goto filter_IN_internal
    goto filter_IN_public
  }}
{public}{internal}{trusted}}}
"
    )
}

/// Docker's nat and filter tables with the container C (`nc`.2) publishing
/// its port 80 as PUBLISHED, and a DOCKER-USER rule dropping `n2`/24.
fn docker(nc: &str, n2: &str) -> String {
    format!(
        "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s {nc}.0/24 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s {nc}.2/32 -d {nc}.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport {PUBLISHED} -j DNAT --to-destination {nc}.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d {nc}.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -s {n2}.0/24 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
"
    )
}
