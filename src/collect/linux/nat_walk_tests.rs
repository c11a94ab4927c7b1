//! The walk over synthetic chains in the shapes real hosts have. The
//! kube-proxy shapes are hand-made from its documented iptables-save and
//! nft output (kube-proxy is not installable here), rule for rule.

use super::*;
use crate::model::NatAction;

fn step(verdict: Verdict) -> Step {
    Step {
        verdict,
        ..Step::default()
    }
}

fn jump(to: &str) -> Step {
    step(Verdict::Jump(to.into()))
}

/// `-p tcp` plus `f`'s conditions.
fn tcp(mut s: Step, f: impl FnOnce(&mut NatRule)) -> Step {
    s.rule.protocol = Some(Protocol::Tcp);
    f(&mut s.rule);
    s
}

fn comment(mut s: Step, c: &str) -> Step {
    s.rule.comment = Some(c.into());
    s
}

fn dnat(chain: &str, handle: u64, to: &str) -> Step {
    let mut s = step(Verdict::Nat);
    s.rule.protocol = Some(Protocol::Tcp);
    s.rule.chain = chain.into();
    s.rule.handle = handle;
    s.rule.action = NatAction::Dnat {
        address: to.parse().ok(),
        ports: Some((80, 80)),
    };
    s
}

fn port(p: u16) -> PortSet {
    PortSet::only([(p, p)])
}

fn table(chains: Vec<(&str, Vec<Step>)>) -> Chains {
    chains
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect()
}

fn prerouting() -> Vec<(String, NatHook)> {
    vec![("PREROUTING".into(), NatHook::Prerouting)]
}

/// kube-proxy, iptables mode: a NodePort service `default/web:http` on
/// 30080 (cluster IP 10.96.0.10:80) with two endpoints.
fn kube_iptables() -> Chains {
    let random = |mut s: Step| {
        s.random = true;
        s
    };
    table(vec![
        (
            "PREROUTING",
            vec![comment(jump("KUBE-SERVICES"), "kubernetes service portals")],
        ),
        (
            "OUTPUT",
            vec![comment(jump("KUBE-SERVICES"), "kubernetes service portals")],
        ),
        (
            "KUBE-SERVICES",
            vec![
                comment(
                    tcp(jump("KUBE-SVC-WEB"), |r| {
                        r.daddr = "10.96.0.10".parse().ok();
                        r.ports = port(80);
                    }),
                    "default/web:http cluster IP",
                ),
                comment(
                    {
                        let mut s = jump("KUBE-NODEPORTS");
                        s.rule.local_only = true;
                        s
                    },
                    "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
                ),
            ],
        ),
        (
            "KUBE-NODEPORTS",
            vec![comment(
                tcp(jump("KUBE-EXT-WEB"), |r| r.ports = port(30080)),
                "default/web:http",
            )],
        ),
        (
            "KUBE-EXT-WEB",
            vec![
                comment(
                    jump("KUBE-MARK-MASQ"),
                    "masquerade traffic for default/web:http external destinations",
                ),
                jump("KUBE-SVC-WEB"),
            ],
        ),
        ("KUBE-MARK-MASQ", vec![step(Verdict::Continue)]),
        (
            "KUBE-SVC-WEB",
            vec![
                comment(
                    random(jump("KUBE-SEP-A")),
                    "default/web:http -> 10.244.1.5:80",
                ),
                comment(jump("KUBE-SEP-B"), "default/web:http -> 10.244.2.6:80"),
            ],
        ),
        (
            "KUBE-SEP-A",
            vec![
                jump("KUBE-MARK-MASQ"),
                comment(dnat("KUBE-SEP-A", 1, "10.244.1.5"), "default/web:http"),
            ],
        ),
        (
            "KUBE-SEP-B",
            vec![
                jump("KUBE-MARK-MASQ"),
                comment(dnat("KUBE-SEP-B", 1, "10.244.2.6"), "default/web:http"),
            ],
        ),
    ])
}

#[test]
fn kube_proxy_iptables_nodeport_is_found_through_its_chains() {
    let bases = vec![
        ("PREROUTING".to_string(), NatHook::Prerouting),
        ("OUTPUT".to_string(), NatHook::Output),
    ];
    let rules = walk(&kube_iptables(), &bases);
    // Two paths (cluster IP, node port) to two endpoints, from two hooks.
    assert_eq!(rules.len(), 8, "{rules:#?}");
    assert!(
        rules.iter().all(|r| r.ports != PortSet::Every),
        "no forward of every port: {rules:#?}"
    );
    let node: Vec<&NatRule> = rules
        .iter()
        .filter(|r| r.ports == port(30080) && r.hook == NatHook::Prerouting)
        .collect();
    assert_eq!(node.len(), 2, "{rules:#?}");
    for r in &node {
        assert!(r.local_only);
        assert_eq!(r.protocol, Some(Protocol::Tcp));
        assert_eq!(r.split.as_deref(), Some("KUBE-SVC-WEB"));
        assert_eq!(r.service.as_deref(), Some("default/web:http"));
        assert_eq!(
            r.path[..5],
            [
                "PREROUTING",
                "KUBE-SERVICES",
                "KUBE-NODEPORTS",
                "KUBE-EXT-WEB",
                "KUBE-SVC-WEB"
            ]
        );
    }
    let to: Vec<_> = node.iter().map(|r| (r.chain.as_str(), &r.action)).collect();
    assert!(
        matches!(to[0], ("KUBE-SEP-A", NatAction::Dnat { address: Some(a), .. }) if a.to_string() == "10.244.1.5")
    );
    assert_eq!(to[1].0, "KUBE-SEP-B");
    let cluster = rules
        .iter()
        .filter(|r| r.daddr == "10.96.0.10".parse().ok() && r.ports == port(80))
        .count();
    assert_eq!(cluster, 4, "both endpoints from both hooks");
    assert!(
        rules
            .iter()
            .any(|r| r.hook == NatHook::Output && r.ports == port(30080))
    );
}

#[test]
fn kube_proxy_nftables_verdict_maps_and_numgen_split() {
    // table ip kube-proxy: services has `ip daddr . meta l4proto . th
    // dport vmap @service-ips` and `fib daddr type local ... meta l4proto
    // . th dport vmap @service-nodeports`; the service chain splits with
    // `numgen random mod 2 vmap { 0 : goto endpoint-A, 1 : goto ... }`.
    let branch = |protocol, ports, daddr: Option<&str>, random, to: &str| Branch {
        protocol,
        ports,
        daddr: daddr.and_then(|d| d.parse().ok()),
        random,
        verdict: Verdict::Goto(to.into()),
    };
    let mut nodeports = step(Verdict::Branches(vec![branch(
        Some(Protocol::Tcp),
        port(30080),
        None,
        false,
        "external-web",
    )]));
    nodeports.rule.local_only = true;
    let chains = table(vec![
        ("nat-prerouting", vec![jump("services")]),
        (
            "services",
            vec![
                step(Verdict::Branches(vec![branch(
                    Some(Protocol::Tcp),
                    port(80),
                    Some("10.96.0.10"),
                    false,
                    "service-web",
                )])),
                nodeports,
            ],
        ),
        (
            "external-web",
            vec![
                jump("mark-for-masquerade"),
                step(Verdict::Goto("service-web".into())),
            ],
        ),
        ("mark-for-masquerade", vec![step(Verdict::Continue)]),
        (
            "service-web",
            vec![step(Verdict::Branches(vec![
                branch(None, PortSet::Every, None, true, "endpoint-a"),
                branch(None, PortSet::Every, None, true, "endpoint-b"),
            ]))],
        ),
        ("endpoint-a", vec![dnat("endpoint-a", 7, "10.244.1.5")]),
        ("endpoint-b", vec![dnat("endpoint-b", 8, "10.244.2.6")]),
    ]);
    let rules = walk(&chains, &[("nat-prerouting".into(), NatHook::Prerouting)]);
    assert_eq!(rules.len(), 4, "{rules:#?}");
    let node: Vec<_> = rules.iter().filter(|r| r.ports == port(30080)).collect();
    assert_eq!(node.len(), 2);
    assert!(
        node.iter()
            .all(|r| r.local_only && r.split.as_deref() == Some("service-web"))
    );
    assert_eq!(
        node.iter().map(|r| r.handle).collect::<Vec<_>>(),
        vec![7, 8]
    );
    // A map that could not be read is undecoded, never every port.
    let chains = table(vec![
        ("nat-prerouting", vec![jump("services")]),
        (
            "services",
            vec![step(Verdict::Undecoded(
                "the verdict map @service-nodeports".into(),
            ))],
        ),
    ]);
    let rules = walk(&chains, &[("nat-prerouting".into(), NatHook::Prerouting)]);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].ports, PortSet::Undecoded);
    assert_eq!(rules[0].action, NatAction::Unknown);
    assert_eq!(
        rules[0].undecoded,
        vec!["the verdict map @service-nodeports"]
    );
}

#[test]
fn portmap_and_docker_shapes() {
    // CNI portmap: CNI-HOSTPORT-DNAT -> CNI-DN-xxx (--dport 8080 DNAT);
    // Docker: PREROUTING -m addrtype --dst-type LOCAL -j DOCKER, where
    // `-i docker0 -j RETURN` comes first.
    let mut local = jump("DOCKER");
    local.rule.local_only = true;
    let mut from_bridge = step(Verdict::Return);
    from_bridge.rule.iif = Some((false, "docker0".into()));
    let mut docker_dnat = tcp(dnat("DOCKER", 3, "172.17.0.2"), |r| r.ports = port(8081));
    docker_dnat.rule.iif = Some((true, "docker0".into()));
    let chains = table(vec![
        ("PREROUTING", vec![jump("CNI-HOSTPORT-DNAT"), local]),
        (
            "CNI-HOSTPORT-DNAT",
            vec![comment(
                tcp(jump("CNI-DN-abc"), |r| r.ports = port(8080)),
                "dnat name: \"cbr0\" id: \"abc\"",
            )],
        ),
        (
            "CNI-DN-abc",
            vec![tcp(dnat("CNI-DN-abc", 2, "10.88.0.5"), |r| {
                r.ports = port(8080)
            })],
        ),
        ("DOCKER", vec![from_bridge, docker_dnat]),
    ]);
    let rules = walk(&chains, &prerouting());
    assert_eq!(rules.len(), 2, "{rules:#?}");
    assert_eq!(rules[0].ports, port(8080));
    assert_eq!(
        rules[0].path,
        ["PREROUTING", "CNI-HOSTPORT-DNAT", "CNI-DN-abc"]
    );
    assert_eq!(rules[0].service, None, "a portmap comment names no service");
    assert_eq!(rules[1].ports, port(8081));
    assert!(rules[1].local_only);
    assert_eq!(rules[1].iif, Some((true, "docker0".into())));
}

#[test]
fn returns_gotos_loops_and_contradictions() {
    let nat = |h| dnat("X", h, "192.0.2.1");
    // An unconditional return ends the chain; a rule after it is dead.
    let chains = table(vec![
        ("PREROUTING", vec![jump("A"), nat(9)]),
        ("A", vec![step(Verdict::Return), nat(1)]),
    ]);
    let handles: Vec<u64> = walk(&chains, &prerouting())
        .iter()
        .map(|r| r.handle)
        .collect();
    assert_eq!(handles, vec![9], "after the jump returns the walk goes on");
    // An unconditional goto does not come back; an unconditional DNAT in
    // a called chain ends the whole traversal.
    let chains = table(vec![
        ("PREROUTING", vec![step(Verdict::Goto("A".into())), nat(9)]),
        ("A", vec![nat(1)]),
    ]);
    let mut a = walk(&chains, &prerouting());
    assert_eq!(a.len(), 1);
    assert_eq!(a.remove(0).handle, 1);
    let mut only_tcp = dnat("A", 1, "192.0.2.1");
    only_tcp.rule.protocol = None;
    let chains = table(vec![
        ("PREROUTING", vec![jump("A"), nat(9)]),
        ("A", vec![only_tcp]),
    ]);
    assert_eq!(walk(&chains, &prerouting()).len(), 1);
    // Loops end; so does an over-deep nest.
    let chains = table(vec![
        ("PREROUTING", vec![jump("A")]),
        ("A", vec![jump("B"), nat(1)]),
        ("B", vec![jump("A"), jump("B"), nat(2)]),
    ]);
    let handles: Vec<u64> = walk(&chains, &prerouting())
        .iter()
        .map(|r| r.handle)
        .collect();
    assert_eq!(handles, vec![2, 1]);
    let mut deep: Vec<(String, Vec<Step>)> = (0..40)
        .map(|i| (format!("C{i}"), vec![jump(&format!("C{}", i + 1))]))
        .collect();
    deep.push(("C40".into(), vec![nat(1)]));
    deep.push(("PREROUTING".into(), vec![jump("C0")]));
    let deep: Chains = deep.into_iter().collect();
    assert!(walk(&deep, &prerouting()).is_empty());
    // Conditions that cannot both hold: nothing reached.
    let chains = table(vec![
        (
            "PREROUTING",
            vec![tcp(jump("A"), |r| r.ports = PortSet::only([(8000, 8100)]))],
        ),
        (
            "A",
            vec![
                tcp(nat(1), |r| r.ports = port(9000)),
                tcp(nat(2), |r| r.ports = PortSet::except([(8050, 8050)])),
                {
                    let mut u = nat(3);
                    u.rule.protocol = Some(Protocol::Udp);
                    u
                },
            ],
        ),
    ]);
    let rules = walk(&chains, &prerouting());
    assert_eq!(rules.len(), 1, "{rules:#?}");
    assert_eq!(rules[0].handle, 2);
    assert_eq!(rules[0].ports, PortSet::only([(8000, 8049), (8051, 8100)]));
    // A chain nothing jumps to forwards nothing.
    let chains = table(vec![("PREROUTING", vec![]), ("ORPHAN", vec![nat(1)])]);
    assert!(walk(&chains, &prerouting()).is_empty());
}

#[test]
fn kube_service_names_from_comments() {
    assert_eq!(
        kube_service("default/web:http").as_deref(),
        Some("default/web:http")
    );
    assert_eq!(
        kube_service("kube-system/kube-dns:dns-tcp cluster IP").as_deref(),
        Some("kube-system/kube-dns:dns-tcp")
    );
    assert_eq!(kube_service("default/web").as_deref(), Some("default/web"));
    for no in [
        "kubernetes service nodeports; NOTE: this must be the last rule",
        "dnat name: \"cbr0\" id: \"abc\"",
        "a/B",
        "",
        "/x",
    ] {
        assert_eq!(kube_service(no), None, "{no}");
    }
}
