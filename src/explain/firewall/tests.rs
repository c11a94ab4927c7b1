use std::collections::BTreeMap;
use std::net::IpAddr;

use super::walk::{Fate, Packet, Translated, evaluate};
use super::*;
use crate::model::firewall::{
    Backend, BaseChain, ChainRef, Cond, Family, Hook, IfName, Policy, Prefix, Rule, Ruleset,
    Verdict, ct, rtn,
};

pub(super) fn chain(table: &str, name: &str) -> ChainRef {
    ChainRef {
        backend: Backend::Nftables,
        family: Family::Inet,
        table: table.into(),
        chain: name.into(),
    }
}

pub(super) fn base(
    table: &str,
    name: &str,
    hook: Hook,
    priority: i32,
    policy: Policy,
) -> BaseChain {
    BaseChain {
        chain: chain(table, name),
        hook,
        kind: "filter".into(),
        priority,
        policy,
    }
}

pub(super) fn rule(number: u64, conds: Vec<Cond>, verdict: Verdict) -> Rule {
    Rule {
        number,
        conds,
        verdict,
        comment: None,
    }
}

pub(super) fn tcp() -> Cond {
    Cond::L4proto {
        negated: false,
        protos: vec![6],
    }
}

pub(super) fn dport(p: u16) -> Cond {
    Cond::Dport {
        negated: false,
        ranges: vec![(p, p)],
    }
}

pub(super) fn saddr(s: &str) -> Cond {
    Cond::Saddr {
        negated: false,
        set: Addresses {
            prefixes: vec![prefix(s)],
            ranges: vec![],
        },
    }
}

pub(super) fn prefix(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix {
        address: a.parse().unwrap(),
        len: l.parse().unwrap(),
    }
}

pub(super) fn oifname(name: &str) -> Cond {
    Cond::Oif {
        negated: false,
        names: vec![IfName {
            name: name.into(),
            prefix: false,
        }],
    }
}

pub(super) fn iif(name: &str) -> Cond {
    Cond::Iif {
        negated: false,
        names: vec![IfName {
            name: name.into(),
            prefix: false,
        }],
    }
}

pub(super) fn ruleset(bases: Vec<BaseChain>, chains: Vec<(&str, &str, Vec<Rule>)>) -> Ruleset {
    let mut map = BTreeMap::new();
    for (t, c, rules) in chains {
        map.insert(chain(t, c), rules);
    }
    Ruleset {
        base_chains: bases,
        chains: map,
        ..Ruleset::default()
    }
}

pub(super) fn packet(port: u16, iface: &'static str) -> Packet<'static> {
    Packet {
        ipv6: false,
        l4proto: 6,
        iif: iface,
        daddr: "10.9.0.1".parse().unwrap(),
        dport: port,
        forward: None,
    }
}

/// The fate of one source.
pub(super) fn fate_of(fates: &[(Sources, Fate)], source: &str) -> String {
    let a: IpAddr = source.parse().unwrap();
    let (_, f) = fates
        .iter()
        .find(|(s, _)| s.contains(a))
        .expect("a partition");
    match f {
        Fate::Open(_) => "open".into(),
        Fate::Blocked(by) => format!(
            "blocked {}",
            by.rule.map_or(by.text.clone(), |n| n.to_string())
        ),
        Fate::Undecided(by) | Fate::Lost(by) => format!("undecided {}", by.rule.unwrap_or(0)),
    }
}

/// An nft `inet filter input` with policy drop: ct state, lo, ssh from
/// 10.0.0.0/8, http from anywhere.
pub(super) fn allow_list() -> Ruleset {
    ruleset(
        vec![base("filter", "input", Hook::Input, 0, Policy::Drop)],
        vec![(
            "filter",
            "input",
            vec![
                rule(
                    2,
                    vec![Cond::CtState {
                        negated: false,
                        mask: ct::ESTABLISHED | ct::RELATED,
                    }],
                    Verdict::Accept,
                ),
                rule(3, vec![iif("lo")], Verdict::Accept),
                rule(
                    4,
                    vec![tcp(), dport(22), saddr("10.0.0.0/8")],
                    Verdict::Accept,
                ),
                rule(5, vec![tcp(), dport(80)], Verdict::Accept),
            ],
        )],
    )
}

#[test]
fn an_allow_list_opens_what_it_lists_to_whom_it_lists() {
    let rs = allow_list();
    let ssh = evaluate(&rs, &packet(22, "eth0"));
    assert_eq!(fate_of(&ssh, "10.1.2.3"), "open");
    assert_eq!(fate_of(&ssh, "192.0.2.7"), "blocked policy drop");
    let http = evaluate(&rs, &packet(80, "eth0"));
    assert_eq!(fate_of(&http, "192.0.2.7"), "open");
    // `ct state established,related accept` does not open a new
    // connection to any other port.
    let other = evaluate(&rs, &packet(8080, "eth0"));
    assert_eq!(fate_of(&other, "10.1.2.3"), "blocked policy drop");
    // UDP to the TCP ports is not let in either.
    let mut udp = packet(80, "eth0");
    udp.l4proto = 17;
    assert_eq!(
        fate_of(&evaluate(&rs, &udp), "10.1.2.3"),
        "blocked policy drop"
    );
}

#[test]
fn jumps_return_and_gotos_do_not_return() {
    let rs = ruleset(
        vec![base("filter", "input", Hook::Input, 0, Policy::Drop)],
        vec![
            (
                "filter",
                "input",
                vec![
                    rule(1, vec![iif("eth0")], Verdict::Jump("from_eth0".into())),
                    rule(2, vec![iif("eth1")], Verdict::Goto("from_eth1".into())),
                    rule(3, vec![tcp(), dport(25)], Verdict::Accept),
                ],
            ),
            (
                "filter",
                "from_eth0",
                vec![
                    rule(10, vec![saddr("192.0.2.0/24")], Verdict::Return),
                    rule(11, vec![tcp(), dport(22)], Verdict::Accept),
                ],
            ),
            (
                "filter",
                "from_eth1",
                vec![rule(20, vec![tcp(), dport(22)], Verdict::Accept)],
            ),
        ],
    );
    let ssh0 = evaluate(&rs, &packet(22, "eth0"));
    assert_eq!(fate_of(&ssh0, "10.0.0.1"), "open");
    // Returned to `input`: nothing there lets 22 in.
    assert_eq!(fate_of(&ssh0, "192.0.2.1"), "blocked policy drop");
    // 25 is accepted after the jump returns, not after the goto: a goto's
    // end is the end of the calling chain.
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(25, "eth0")), "10.0.0.1"),
        "open"
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(25, "eth1")), "10.0.0.1"),
        "blocked policy drop"
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth1")), "10.0.0.1"),
        "open"
    );
}

#[test]
fn an_accept_in_one_base_chain_does_not_stop_a_later_drop() {
    let rs = ruleset(
        vec![
            base("a", "early", Hook::Input, -10, Policy::Accept),
            base("b", "late", Hook::Input, 10, Policy::Accept),
        ],
        vec![
            ("a", "early", vec![rule(1, vec![tcp()], Verdict::Accept)]),
            (
                "b",
                "late",
                vec![rule(
                    7,
                    vec![tcp(), dport(22), saddr("10.0.0.0/8")],
                    Verdict::Drop,
                )],
            ),
        ],
    );
    let f = evaluate(&rs, &packet(22, "eth0"));
    assert_eq!(fate_of(&f, "10.0.0.1"), "blocked 7");
    assert_eq!(fate_of(&f, "11.0.0.1"), "open");
    // A drop before the accept, at prerouting, wins too.
    let mut rs2 = rs.clone();
    rs2.base_chains
        .push(base("c", "pre", Hook::Prerouting, 0, Policy::Drop));
    rs2.chains.insert(chain("c", "pre"), vec![]);
    assert_eq!(
        fate_of(&evaluate(&rs2, &packet(22, "eth0")), "11.0.0.1"),
        "blocked policy drop"
    );
}

#[test]
fn what_is_not_evaluated_is_undecided_and_a_later_drop_still_decides() {
    let limit = Cond::Unknown("limit rate 10/second".into());
    let rs = ruleset(
        vec![base("filter", "input", Hook::Input, 0, Policy::Drop)],
        vec![(
            "filter",
            "input",
            vec![
                // A log with a limit changes nothing.
                rule(1, vec![limit.clone()], Verdict::Continue),
                rule(2, vec![tcp(), dport(22), limit.clone()], Verdict::Accept),
                rule(
                    3,
                    vec![tcp(), dport(80), saddr("10.0.0.0/8"), limit],
                    Verdict::Accept,
                ),
            ],
        )],
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "undecided 2"
    );
    let http = evaluate(&rs, &packet(80, "eth0"));
    assert_eq!(fate_of(&http, "10.0.0.9"), "undecided 3");
    assert_eq!(fate_of(&http, "11.0.0.9"), "blocked policy drop");
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(443, "eth0")), "10.0.0.9"),
        "blocked policy drop"
    );
    // Undecided in one chain, dropped for certain by a later one: blocked.
    let mut rs2 = rs.clone();
    rs2.base_chains
        .push(base("z", "last", Hook::Input, 100, Policy::Drop));
    rs2.chains.insert(chain("z", "last"), vec![]);
    assert_eq!(
        fate_of(&evaluate(&rs2, &packet(22, "eth0")), "1.2.3.4"),
        "blocked policy drop"
    );
    // A ruleset that could not be read decides nothing.
    let unread = Ruleset {
        unread: vec!["the nf_tables rules could not be read without root".into()],
        ..Ruleset::default()
    };
    assert_eq!(
        fate_of(&evaluate(&unread, &packet(22, "eth0")), "1.2.3.4"),
        "undecided 0"
    );
}

#[test]
fn reverse_path_filtering_drops_sources_routed_elsewhere() {
    let mut rs = Ruleset::default();
    rs.routes_v4.main = vec![
        (prefix("0.0.0.0/0"), "eth0".into()),
        (prefix("10.2.0.0/16"), "eth1".into()),
    ];
    rs.rp_filter.insert("all".into(), 1);
    let f = evaluate(&rs, &packet(22, "eth0"));
    assert_eq!(fate_of(&f, "8.8.8.8"), "open");
    assert!(fate_of(&f, "10.2.3.4").starts_with("blocked net.ipv4.conf.eth0.rp_filter = 1"));
    let g = evaluate(&rs, &packet(22, "eth1"));
    assert_eq!(fate_of(&g, "10.2.3.4"), "open");
    assert!(fate_of(&g, "8.8.8.8").starts_with("blocked"));
    // Loose: anything routed gets in on any interface.
    rs.rp_filter.insert("all".into(), 2);
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth1")), "8.8.8.8"),
        "open"
    );
    // Policy routing: the main table is not the answer.
    rs.routes_v4.extra_rules = true;
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth1")), "8.8.8.8"),
        "undecided 0"
    );
    // nft's `fib saddr . iif oif missing drop` reads the same routes.
    let mut fw = ruleset(
        vec![base(
            "firewalld",
            "filter_PREROUTING",
            Hook::Prerouting,
            -290,
            Policy::Accept,
        )],
        vec![(
            "firewalld",
            "filter_PREROUTING",
            vec![rule(
                5,
                vec![Cond::RpfFails {
                    negated: false,
                    loose: false,
                }],
                Verdict::Drop,
            )],
        )],
    );
    fw.routes_v4.main = vec![
        (prefix("0.0.0.0/0"), "eth0".into()),
        (prefix("10.2.0.0/16"), "eth1".into()),
    ];
    assert_eq!(
        fate_of(&evaluate(&fw, &packet(22, "eth0")), "10.2.0.1"),
        "blocked 5"
    );
    assert_eq!(
        fate_of(&evaluate(&fw, &packet(22, "eth0")), "10.3.0.1"),
        "open"
    );
}

#[test]
fn a_forwarded_port_meets_the_forward_chains_with_its_translated_destination() {
    // Docker's shape: FORWARD policy drop, DOCKER-USER first, then the
    // DOCKER chain accepting the container's port on the bridge.
    let mut rs = ruleset(
        vec![
            base("filter", "FORWARD", Hook::Forward, 0, Policy::Drop),
            base("filter", "INPUT", Hook::Input, 0, Policy::Drop),
        ],
        vec![
            (
                "filter",
                "FORWARD",
                vec![
                    rule(1, vec![], Verdict::Jump("DOCKER-USER".into())),
                    rule(2, vec![oifname("docker0")], Verdict::Jump("DOCKER".into())),
                ],
            ),
            (
                "filter",
                "DOCKER-USER",
                vec![
                    rule(1, vec![iif("eth1")], Verdict::Drop),
                    rule(2, vec![], Verdict::Return),
                ],
            ),
            (
                "filter",
                "DOCKER",
                vec![rule(
                    1,
                    vec![
                        Cond::Daddr {
                            negated: false,
                            set: Addresses {
                                prefixes: vec![Prefix {
                                    address: "172.17.0.2".parse().unwrap(),
                                    len: 32,
                                }],
                                ranges: vec![],
                            },
                        },
                        tcp(),
                        dport(80),
                        Cond::DaddrType {
                            negated: true,
                            types: vec![rtn::LOCAL],
                        },
                    ],
                    Verdict::Accept,
                )],
            ),
            ("filter", "INPUT", vec![]),
        ],
    );
    let fwd = |iface: &'static str| Packet {
        forward: Some(Translated {
            daddr: "172.17.0.2".parse().unwrap(),
            dport: 80,
            oif: Some("docker0"),
            to_local: false,
        }),
        ..packet(8080, iface)
    };
    // INPUT's policy drop does not apply: this is the forward path.
    assert_eq!(fate_of(&evaluate(&rs, &fwd("eth0")), "1.2.3.4"), "open");
    assert_eq!(
        fate_of(&evaluate(&rs, &fwd("eth1")), "1.2.3.4"),
        "blocked 1"
    );
    // Where the packet leaves is not known: the DOCKER jump is undecided.
    let unknown = Packet {
        forward: Some(Translated {
            oif: None,
            ..fwd("eth0").forward.unwrap()
        }),
        ..fwd("eth0")
    };
    assert_eq!(fate_of(&evaluate(&rs, &unknown), "1.2.3.4"), "undecided 2");
    rs.chains.remove(&chain("filter", "DOCKER"));
    assert!(fate_of(&evaluate(&rs, &fwd("eth0")), "1.2.3.4").starts_with("undecided"));
}

#[test]
fn an_extension_header_drop_is_avoided_and_an_accept_on_one_is_undecided() {
    let rt = Cond::Ipv6Header("-m rt --rt-type 0".into());
    let rs = ruleset(
        vec![base("filter", "input", Hook::Input, 0, Policy::Drop)],
        vec![(
            "filter",
            "input",
            vec![
                // ufw6-before-input: drop type-0 routing headers.
                rule(1, vec![rt.clone()], Verdict::Drop),
                rule(2, vec![tcp(), dport(22)], Verdict::Accept),
                rule(3, vec![tcp(), dport(80), rt], Verdict::Accept),
            ],
        )],
    );
    let v6 = |port: u16| Packet {
        ipv6: true,
        daddr: "fd00::1".parse().unwrap(),
        ..packet(port, "eth0")
    };
    assert_eq!(fate_of(&evaluate(&rs, &v6(22)), "fd00::2"), "open");
    // A crafted packet with the header would get in on 80.
    assert_eq!(fate_of(&evaluate(&rs, &v6(80)), "fd00::2"), "undecided 3");
    assert_eq!(
        fate_of(&evaluate(&rs, &v6(443)), "fd00::2"),
        "blocked policy drop"
    );
}

/// The review's cases: each was a wrong claim before (checked against the
/// kernel in a namespace by the reviewer).
#[test]
fn notrack_before_conntrack_flags_and_no_output_interface() {
    let raw = |rules: Vec<Rule>, input: Vec<Rule>, policy: Policy| {
        ruleset(
            vec![
                base("t", "raw", Hook::Prerouting, -300, Policy::Accept),
                base("t", "input", Hook::Input, 0, policy),
            ],
            vec![("t", "raw", rules), ("t", "input", input)],
        )
    };
    let new = |negated: bool| Cond::CtState {
        negated,
        mask: ct::NEW,
    };
    let notrack = rule(
        1,
        vec![tcp(), dport(22)],
        Verdict::Unknown("notrack".into()),
    );
    // Untracked, a later `ct state new drop` does not drop it, and a later
    // `ct state new accept` does not accept it: neither open nor blocked.
    let rs = raw(
        vec![notrack.clone()],
        vec![rule(2, vec![new(false)], Verdict::Drop)],
        Policy::Accept,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "undecided 1"
    );
    let rs = raw(
        vec![notrack],
        vec![rule(2, vec![new(false), tcp(), dport(22)], Verdict::Accept)],
        Policy::Drop,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "undecided 1"
    );
    // Before conntrack (-300) the state is `invalid`.
    let rs = raw(
        vec![rule(
            3,
            vec![Cond::CtState {
                negated: false,
                mask: ct::INVALID,
            }],
            Verdict::Drop,
        )],
        vec![],
        Policy::Accept,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "blocked 3"
    );
    let mut rs = raw(
        vec![rule(4, vec![new(false)], Verdict::Accept)],
        vec![],
        Policy::Accept,
    );
    rs.base_chains[0].policy = Policy::Drop;
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "blocked policy drop"
    );
    // `tcp flags == syn drop` lets an ECN client's SYN (SYN|ECE|CWR) by.
    let rs = raw(
        vec![],
        vec![rule(
            5,
            vec![Cond::TcpFlags {
                negated: false,
                mask: 0xff,
                value: 0x02,
            }],
            Verdict::Drop,
        )],
        Policy::Accept,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "undecided 5"
    );
    // `tcp flags syn / syn,ack` is the same for every SYN form.
    let rs = raw(
        vec![],
        vec![rule(
            6,
            vec![Cond::TcpFlags {
                negated: false,
                mask: 0x12,
                value: 0x02,
            }],
            Verdict::Drop,
        )],
        Policy::Accept,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "blocked 6"
    );
    // At input there is no output interface: `oifname != "eth0"` matches.
    let rs = raw(
        vec![],
        vec![rule(
            7,
            vec![Cond::Oif {
                negated: true,
                names: vec![IfName {
                    name: "eth0".into(),
                    prefix: false,
                }],
            }],
            Verdict::Drop,
        )],
        Policy::Accept,
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "blocked 7"
    );
}

#[test]
fn reverse_path_takes_every_hop_and_fails_routes_to_nowhere() {
    let mut rs = Ruleset::default();
    // Two default routes of one metric (a multipath route's hops).
    rs.routes_v4.main = vec![
        (prefix("0.0.0.0/0"), "wlan0".into()),
        (prefix("0.0.0.0/0"), "eth0".into()),
        (prefix("10.50.0.0/16"), String::new()),
    ];
    rs.rp_filter.insert("all".into(), 1);
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "8.8.8.8"),
        "open"
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "wlan0")), "8.8.8.8"),
        "open"
    );
    // A blackhole route fails loose mode too.
    rs.rp_filter.insert("all".into(), 2);
    assert!(fate_of(&evaluate(&rs, &packet(22, "eth0")), "10.50.0.5").starts_with("blocked"));
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "10.49.0.5"),
        "open"
    );
}

#[test]
fn a_negated_empty_output_prefix_never_matches_at_input() {
    // iptables `! -o +`: at input the output name is empty, which the
    // empty prefix matches; negated, the rule matches nothing.
    let rs = ruleset(
        vec![base("t", "input", Hook::Input, 0, Policy::Accept)],
        vec![(
            "t",
            "input",
            vec![rule(
                1,
                vec![Cond::Oif {
                    negated: true,
                    names: vec![IfName {
                        name: String::new(),
                        prefix: true,
                    }],
                }],
                Verdict::Drop,
            )],
        )],
    );
    assert_eq!(
        fate_of(&evaluate(&rs, &packet(22, "eth0")), "1.2.3.4"),
        "open"
    );
}
