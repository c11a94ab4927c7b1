//! The answers built from the walk: summaries, exposure warnings,
//! Docker's notes, and the paths of a dual-stack socket.

use std::net::IpAddr;

use super::tests::*;
use super::*;
use crate::explain::why::tests::listener;
use crate::model::firewall::{Cond, Hook, Policy, Rule, Ruleset, Verdict};

#[test]
fn answers_and_summaries_say_open_from_whom() {
    let rs = allow_list();
    let addresses = vec![
        ("lo".to_string(), "127.0.0.1".parse().unwrap()),
        ("eth0".to_string(), "10.9.0.1".parse().unwrap()),
    ];
    let listener = |port: u16| listener(Protocol::Tcp, "0.0.0.0", port, &[]);
    let ssh = of_socket(&listener(22), Some(&addresses), Some(&rs));
    assert_eq!(ssh.answer, Answer::OpenFrom);
    assert_eq!(
        ssh.summary,
        "open from 10.0.0.0/8 on eth0 to 10.9.0.1 (inet filter input, rule 4 'meta l4proto tcp th dport 22 saddr 10.0.0.0/8 accept'); blocked elsewhere by policy drop (inet filter input)"
    );
    assert_eq!(
        ssh.lines,
        [
            "open from 10.0.0.0/8 on eth0 to 10.9.0.1",
            "  by inet filter input, rule 4 'meta l4proto tcp th dport 22 saddr 10.0.0.0/8 accept'",
            "blocked elsewhere",
            "  by policy drop (inet filter input)",
        ]
    );
    assert_eq!(ssh.paths.len(), 1, "lo is not a path from beyond");
    let http = of_socket(&listener(80), Some(&addresses), Some(&rs));
    assert_eq!(http.answer, Answer::Open);
    let other = of_socket(&listener(8080), Some(&addresses), Some(&rs));
    assert_eq!(other.answer, Answer::Blocked);
    assert_eq!(
        other.summary,
        "blocked on eth0 by policy drop (inet filter input)"
    );
    let none = of_socket(&listener(8080), Some(&addresses), Some(&Ruleset::default()));
    assert_eq!(
        none.summary,
        "open to every source on eth0: no rule filters it"
    );
    let unread = of_socket(&listener(8080), Some(&addresses), None);
    assert_eq!(unread.answer, Answer::Undecided);
    let mut lo = listener(22);
    lo.address = "127.0.0.1".parse().unwrap();
    assert_eq!(
        of_socket(&lo, Some(&addresses), Some(&rs)).answer,
        Answer::LocalOnly
    );
}

#[test]
fn exposure_warnings_say_what_the_firewall_lets_in() {
    let rs = allow_list();
    let addresses = vec![("eth0".to_string(), "10.9.0.1".parse().unwrap())];
    let mut l = listener(Protocol::Tcp, "0.0.0.0", 23, &[]);
    let exposure = crate::explain::exposure::exposure(&l, Some(&addresses));
    let origin = crate::explain::why::Origin::default();
    let text = |l: &Listener, fw: &Reachability| {
        crate::explain::warnings::warnings(l, &exposure, &origin, None, Some(fw))
            .into_iter()
            .find(|w| w.id == "plaintext-login")
            .map(|w| w.text)
            .unwrap_or_default()
    };
    let blocked = of_socket(&l, Some(&addresses), Some(&rs));
    assert!(
        text(&l, &blocked).contains("though this host's firewall blocks every source now (blocked on eth0 by policy drop (inet filter input))"),
        "{}",
        text(&l, &blocked)
    );
    let mut open_rs = rs.clone();
    open_rs
        .chains
        .get_mut(&chain("filter", "input"))
        .unwrap()
        .push(rule(
            9,
            vec![tcp(), dport(23), saddr("10.0.0.0/8")],
            Verdict::Accept,
        ));
    let from = of_socket(&l, Some(&addresses), Some(&open_rs));
    assert!(text(&l, &from).contains("(this host's firewall: open from 10.0.0.0/8 on eth0"));
    l.port = 21;
    let none = of_socket(&l, Some(&addresses), Some(&Ruleset::default()));
    assert!(text(&l, &none).contains("(this host's firewall lets every source in)"));
    // Rules not read (not root): nothing said of them, rather than
    // "is undecided: undecided: ...".
    let unread = of_socket(&l, Some(&addresses), None);
    assert!(!unread.evaluated());
    let said = text(&l, &unread);
    assert!(!said.is_empty() && !said.contains("firewall"), "{said}");
}

#[test]
fn a_docker_port_says_whether_docker_user_restricts_it_and_that_ufw_does_not_apply() {
    use crate::model::{NatAction, NatHook, NatRule, PortSet};
    let forward = Forward {
        rule: NatRule {
            family: "ip".into(),
            table: "nat".into(),
            chain: "DOCKER".into(),
            protocol: Some(Protocol::Tcp),
            ports: PortSet::only([(8080, 8080)]),
            iif: Some((true, "docker0".into())),
            action: NatAction::Dnat {
                address: Some("172.17.0.2".parse().unwrap()),
                ports: Some((80, 80)),
            },
            hook: NatHook::Prerouting,
            local_only: true,
            ..NatRule::default()
        },
        destination: crate::report::Destination::Namespace(7),
        to_address: Some("172.17.0.2".parse().unwrap()),
        to_ports: Some((80, 80)),
        receivers: vec![],
        firewall: None,
    };
    let addresses = vec![
        ("eth0".to_string(), "192.0.2.2".parse().unwrap()),
        ("docker0".to_string(), "172.17.0.1".parse().unwrap()),
        ("lo".to_string(), "127.0.0.1".parse().unwrap()),
    ];
    let docker_user = |rules: Vec<Rule>| {
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
                        rule(2, vec![oifname("docker0")], Verdict::Accept),
                    ],
                ),
                ("filter", "DOCKER-USER", rules),
                ("filter", "INPUT", vec![]),
                ("filter", "ufw-user-input", vec![]),
            ],
        );
        rs.routes_v4.main = vec![
            (prefix("0.0.0.0/0"), "eth0".into()),
            (prefix("172.17.0.0/16"), "docker0".into()),
        ];
        rs
    };
    let open = docker_user(vec![rule(1, vec![], Verdict::Return)]);
    let fw = of_forward(&forward, Some(&addresses), Some(&open));
    assert_eq!(fw.answer, Answer::Open, "{}", fw.summary);
    // eth0 only: docker0 is excluded by the rule's `! -i docker0`.
    assert_eq!(fw.paths.len(), 2, "{:?}", fw.paths);
    assert!(fw.paths.iter().all(|p| p.interface == "eth0"));
    assert_eq!(
        fw.notes,
        [
            "DOCKER-USER does not restrict it",
            "ufw's rules (its input chains) do not apply to it: forwarded traffic takes the FORWARD path"
        ]
    );
    let restricted = docker_user(vec![
        rule(1, vec![saddr("10.0.0.0/8")], Verdict::Return),
        rule(2, vec![], Verdict::Drop),
    ]);
    let fw = of_forward(&forward, Some(&addresses), Some(&restricted));
    assert_eq!(fw.answer, Answer::OpenFrom, "{}", fw.summary);
    assert_eq!(fw.notes[0], "DOCKER-USER restricts who reaches it");
    assert!(
        fw.summary
            .starts_with("open from 10.0.0.0/8 on eth0 to 172.17.0.1"),
        "{}",
        fw.summary
    );
}

/// A dual-stack socket on a host with two links and a bridge (the
/// firewall matrix's lab): its IPv4 and IPv6 paths are counted apart, so
/// a packet on v1 for v2's address has a path in both families, as the
/// two single-family sockets' packets do.
#[test]
fn a_dual_stack_socket_keeps_every_path_of_each_family() {
    let mut addresses: Vec<(String, IpAddr)> = vec![("lo".into(), "127.0.0.1".parse().unwrap())];
    for (iface, v4, v6, ll) in [
        ("v1", "10.1.0.1", "fd00:1::1", "fe80::1"),
        ("v2", "10.2.0.1", "fd00:2::1", "fe80::2"),
        ("docker0", "172.17.0.1", "", "fe80::3"),
        ("vc0", "", "", "fe80::4"),
    ] {
        for a in [v4, v6, ll].into_iter().filter(|a| !a.is_empty()) {
            addresses.push((iface.into(), a.parse().unwrap()));
        }
    }
    let l = |address: &str, dual_stack: bool| Listener {
        dual_stack,
        ..listener(Protocol::Tcp, address, 80, &[])
    };
    let rs = Ruleset::default();
    let has = |r: &Reachability, iface: &str, a: &str| {
        r.paths
            .iter()
            .any(|p| p.interface == iface && p.address == a.parse::<IpAddr>().unwrap())
    };
    let dual = of_socket(&l("::", true), Some(&addresses), Some(&rs));
    assert!(dual.notes.is_empty(), "{:?}", dual.notes);
    assert!(has(&dual, "v1", "10.2.0.1") && has(&dual, "v2", "fd00:1::1"));
    assert!(has(&dual, "v1", "fe80::1") && !has(&dual, "v2", "fe80::1"));
    assert_eq!(dual.paths.len(), 12 + 8 + 4);
    let v4 = of_socket(&l("0.0.0.0", false), Some(&addresses), Some(&rs));
    let v6 = of_socket(&l("::", false), Some(&addresses), Some(&rs));
    assert_eq!(v4.paths.len() + v6.paths.len(), dual.paths.len());
    // Each interface named once, though both families arrive on it.
    assert_eq!(
        dual.summary,
        "open to every source on docker0, v1, v2, vc0: no rule filters it"
    );
}

/// An answer that is undecided everywhere says where, not "elsewhere"
/// with nothing before it.
#[test]
fn an_undecided_answer_says_on_which_interfaces() {
    let limit = Cond::Unknown("limit rate 10/second".into());
    let rs = ruleset(
        vec![base("filter", "input", Hook::Input, 0, Policy::Drop)],
        vec![(
            "filter",
            "input",
            vec![rule(1, vec![tcp(), dport(22), limit], Verdict::Accept)],
        )],
    );
    let addresses = vec![
        ("lo".to_string(), "127.0.0.1".parse().unwrap()),
        ("eth0".to_string(), "10.9.0.1".parse().unwrap()),
    ];
    let ssh = of_socket(
        &listener(Protocol::Tcp, "0.0.0.0", 22, &[]),
        Some(&addresses),
        Some(&rs),
    );
    assert_eq!(ssh.answer, Answer::Undecided);
    assert!(
        ssh.summary.starts_with("undecided on eth0 by "),
        "{}",
        ssh.summary
    );
}
