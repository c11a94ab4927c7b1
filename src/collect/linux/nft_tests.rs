//! Rules encoded as the kernel sends them (attribute for attribute, as
//! `nft --debug=netlink` shows them), decoded.

use super::*;

/// The rule as a NAT rule, when it is one (its conditions alone, as the
/// walk finds them before adding those on the way).
fn decode(raw: &RawRule) -> Option<NatRule> {
    let (step, _) = decode_step(raw);
    (step.verdict == Verdict::Nat).then_some(step.rule)
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

fn u32a(kind: u16, v: u32) -> Vec<u8> {
    attr(kind, &v.to_be_bytes())
}

fn data(kind: u16, bytes: &[u8]) -> Vec<u8> {
    attr(kind, &attr(1, bytes))
}

fn expr(name: &str, parts: &[Vec<u8>]) -> (String, Vec<u8>) {
    (name.to_string(), parts.concat())
}

fn raw(family: u8, exprs: Vec<(String, Vec<u8>)>) -> RawRule {
    RawRule {
        family,
        table: "nat".into(),
        chain: "PREROUTING".into(),
        handle: 4,
        userdata: Vec::new(),
        exprs,
    }
}

fn l4(proto: u8) -> Vec<(String, Vec<u8>)> {
    vec![
        expr("meta", &[u32a(1, 1), u32a(2, 16)]),
        expr("cmp", &[u32a(1, 1), u32a(2, 0), data(3, &[proto])]),
    ]
}

fn dport(p: u16) -> Vec<(String, Vec<u8>)> {
    vec![
        expr("payload", &[u32a(1, 1), u32a(2, 2), u32a(3, 2), u32a(4, 2)]),
        expr("cmp", &[u32a(1, 1), u32a(2, 0), data(3, &p.to_be_bytes())]),
    ]
}

#[test]
fn native_dnat_with_address_port_and_comment() {
    // tcp dport 8080 dnat to 10.231.0.2:80 comment "test rule"
    let mut e = l4(6);
    e.extend(dport(8080));
    e.push(expr("immediate", &[u32a(1, 1), data(2, &[10, 231, 0, 2])]));
    e.push(expr("immediate", &[u32a(1, 2), data(2, &[0, 80, 0, 0])]));
    e.push(expr(
        "nat",
        &[
            u32a(1, 1),
            u32a(2, 2),
            u32a(3, 1),
            u32a(4, 1),
            u32a(5, 2),
            u32a(6, 2),
            u32a(7, 3),
        ],
    ));
    let mut r = raw(2, e);
    r.userdata = b"\x00\x0atest rule\x00".to_vec();
    let rule = decode(&r).unwrap_or_else(|| panic!("not decoded"));
    assert_eq!(rule.family, "ip");
    assert_eq!(rule.protocol, Some(Protocol::Tcp));
    assert_eq!(rule.ports, PortSet::only([(8080, 8080)]));
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(
                "10.231.0.2"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            ),
            ports: Some((80, 80))
        }
    );
    assert_eq!(rule.comment.as_deref(), Some("test rule"));
    assert!(rule.undecoded.is_empty(), "{:?}", rule.undecoded);
}

#[test]
fn interface_condition_and_address_only_dnat() {
    // iifname != "d0" tcp dport 8090 dnat to 10.231.0.2
    let mut e = vec![
        expr("meta", &[u32a(1, 1), u32a(2, 6)]),
        expr(
            "cmp",
            &[
                u32a(1, 1),
                u32a(2, 1),
                data(3, b"d0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
            ],
        ),
    ];
    e.extend(l4(6));
    e.extend(dport(8090));
    e.push(expr("immediate", &[u32a(1, 1), data(2, &[10, 231, 0, 2])]));
    e.push(expr(
        "nat",
        &[u32a(1, 1), u32a(2, 2), u32a(3, 1), u32a(4, 1), u32a(7, 1)],
    ));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.iif, Some((true, "d0".to_string())));
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(IpAddr::V4(Ipv4Addr::new(10, 231, 0, 2))),
            ports: None
        }
    );
}

#[test]
fn native_redirect() {
    // tcp dport 8091 redirect to :9091
    let mut e = l4(6);
    e.extend(dport(8091));
    e.push(expr(
        "immediate",
        &[u32a(1, 1), data(2, &9091u16.to_be_bytes())],
    ));
    e.push(expr("redir", &[u32a(1, 1), u32a(2, 1), u32a(3, 2)]));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(
        rule.action,
        NatAction::Redirect {
            ports: Some((9091, 9091))
        }
    );
}

#[test]
fn iptables_nft_compat_targets_and_matches() {
    // iptables-nft -t nat -A PREROUTING -p tcp --dport 8081 -j DNAT --to-destination 10.231.0.2:81
    let mut range2 = vec![0u8; 44];
    range2[..4].copy_from_slice(&3u32.to_ne_bytes());
    range2[4..8].copy_from_slice(&[10, 231, 0, 2]);
    range2[20..24].copy_from_slice(&[10, 231, 0, 2]);
    range2[36..38].copy_from_slice(&81u16.to_be_bytes());
    range2[38..40].copy_from_slice(&81u16.to_be_bytes());
    let mut e = l4(6);
    e.extend(dport(8081));
    e.push(expr("counter", &[]));
    e.push(expr(
        "target",
        &[attr(1, b"DNAT\0"), u32a(2, 2), attr(3, &range2)],
    ));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(IpAddr::V4(Ipv4Addr::new(10, 231, 0, 2))),
            ports: Some((81, 81))
        }
    );
    assert!(rule.undecoded.is_empty(), "{:?}", rule.undecoded);

    // -p udp -m udp --dport 5000 -m comment --comment hello -j REDIRECT --to-ports 5001
    let mut compat = vec![0u8; 20];
    compat[..4].copy_from_slice(&1u32.to_ne_bytes());
    compat[4..8].copy_from_slice(&2u32.to_ne_bytes());
    compat[16..18].copy_from_slice(&5001u16.to_be_bytes());
    compat[18..20].copy_from_slice(&5001u16.to_be_bytes());
    let mut comment = vec![0u8; 256];
    comment[..5].copy_from_slice(b"hello");
    let mut e = l4(17);
    e.extend(dport(5000));
    e.push(expr(
        "match",
        &[attr(1, b"comment\0"), u32a(2, 0), attr(3, &comment)],
    ));
    e.push(expr(
        "target",
        &[attr(1, b"REDIRECT\0"), u32a(2, 0), attr(3, &compat)],
    ));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.protocol, Some(Protocol::Udp));
    assert_eq!(rule.ports, PortSet::only([(5000, 5000)]));
    assert_eq!(rule.comment.as_deref(), Some("hello"));
    assert_eq!(
        rule.action,
        NatAction::Redirect {
            ports: Some((5001, 5001))
        }
    );

    // An older iptables: -m tcp --dport 2222 as an xt match, DNAT rev 0.
    let mut xt_tcp = vec![0u8; 12];
    xt_tcp[0..2].copy_from_slice(&0u16.to_ne_bytes());
    xt_tcp[2..4].copy_from_slice(&u16::MAX.to_ne_bytes());
    xt_tcp[4..6].copy_from_slice(&2222u16.to_ne_bytes());
    xt_tcp[6..8].copy_from_slice(&2222u16.to_ne_bytes());
    let mut compat = vec![0u8; 20];
    compat[..4].copy_from_slice(&1u32.to_ne_bytes());
    compat[4..8].copy_from_slice(&3u32.to_ne_bytes());
    compat[8..12].copy_from_slice(&[172, 17, 0, 2]);
    compat[16..18].copy_from_slice(&22u16.to_be_bytes());
    compat[18..20].copy_from_slice(&22u16.to_be_bytes());
    let e = vec![
        expr("match", &[attr(1, b"tcp\0"), u32a(2, 0), attr(3, &xt_tcp)]),
        expr(
            "target",
            &[attr(1, b"DNAT\0"), u32a(2, 0), attr(3, &compat)],
        ),
    ];
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(
        (rule.protocol, rule.ports.clone()),
        (Some(Protocol::Tcp), PortSet::only([(2222, 2222)]))
    );
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2))),
            ports: Some((22, 22))
        }
    );
}

#[test]
fn ipv6_dnat() {
    let to: Ipv6Addr = "fd00::2".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let mut e = l4(6);
    e.extend(dport(443));
    e.push(expr("immediate", &[u32a(1, 1), data(2, &to.octets())]));
    e.push(expr(
        "nat",
        &[u32a(1, 1), u32a(2, 10), u32a(3, 1), u32a(4, 1)],
    ));
    let rule = decode(&raw(10, e)).unwrap_or_default();
    assert_eq!(rule.family, "ip6");
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(IpAddr::V6(to)),
            ports: None
        }
    );
}

#[test]
fn what_cannot_be_decoded_is_said() {
    // dnat to tcp dport map { 8094 : 10.231.0.4 }: a map decides.
    let mut e = l4(6);
    e.push(expr(
        "payload",
        &[u32a(1, 1), u32a(2, 2), u32a(3, 2), u32a(4, 2)],
    ));
    e.push(expr(
        "lookup",
        &[attr(1, b"__map0\0"), u32a(2, 1), u32a(3, 1)],
    ));
    e.push(expr(
        "nat",
        &[u32a(1, 1), u32a(2, 2), u32a(3, 1), u32a(4, 1)],
    ));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert!(matches!(rule.action, NatAction::Dnat { address: None, .. }));
    assert!(
        rule.undecoded.iter().any(|u| u.contains("map @__map0")),
        "{:?}",
        rule.undecoded
    );
    assert!(
        rule.undecoded.iter().any(|u| u.contains("DNAT address")),
        "{:?}",
        rule.undecoded
    );
    // An unknown expression is named.
    let mut e = l4(6);
    e.push(expr("hash", &[]));
    e.push(expr("redir", &[]));
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.undecoded, vec!["expression hash"]);
}

#[test]
fn rules_without_dnat_are_not_forwards() {
    let mut e = l4(6);
    e.push(expr("masq", &[]));
    assert_eq!(decode(&raw(2, e)), None);
    let e = vec![expr("nat", &[u32a(1, 0)])];
    assert_eq!(decode(&raw(2, e)), None);
    assert_eq!(decode(&raw(2, l4(6))), None);
}

#[test]
fn rule_attributes_are_parsed() {
    let exprs = attr(4, &attr(1, &[attr(1, b"counter\0"), attr(2, &[])].concat()));
    let body = [
        attr(1, b"nat\0"),
        attr(2, b"DOCKER\0"),
        attr(3, &9u64.to_be_bytes()),
        exprs,
        attr(7, b"\x00\x03hi\x00"),
    ]
    .concat();
    let r = parse_rule(2, &body);
    assert_eq!(
        (r.table.as_str(), r.chain.as_str(), r.handle),
        ("nat", "DOCKER", 9)
    );
    assert_eq!(r.exprs.len(), 1);
    assert_eq!(r.exprs[0].0, "counter");
    assert_eq!(comment(&r.userdata).as_deref(), Some("hi"));
    // Truncated input: no panic, fewer attributes.
    let _ = parse_rule(2, &body[..body.len() - 3]);
    let _ = attrs(&[0xff, 0xff, 1]);
}

#[test]
fn set_elements_become_ports() {
    let elem = |p: u16, flags: u32| {
        attr(
            1,
            &[attr(1, &attr(1, &p.to_be_bytes())), u32a(3, flags)].concat(),
        )
    };
    let single = attr(3, &[elem(8093, 0), elem(8092, 0)].concat());
    assert_eq!(
        set_ports([single.as_slice()].into_iter()),
        Some(vec![(8092, 8092), (8093, 8093)])
    );
    // Interval set { 8000-8010, 9000 }: ends are one past, flagged.
    let interval = attr(
        3,
        &[elem(8000, 0), elem(8011, 1), elem(9000, 0), elem(9001, 1)].concat(),
    );
    assert_eq!(
        set_ports([interval.as_slice()].into_iter()),
        Some(vec![(8000, 8010), (9000, 9000)])
    );
    // Adjacent ranges { 1-5, 6-9 }: at 6 the first's end and the second's
    // start share a key, and the end comes first.
    let adjacent = attr(
        3,
        &[elem(6, 0), elem(10, 1), elem(1, 0), elem(6, 1)].concat(),
    );
    assert_eq!(
        set_ports([adjacent.as_slice()].into_iter()),
        Some(vec![(1, 5), (6, 9)])
    );
    assert_eq!(set_ports(std::iter::empty()), None);
}

#[test]
fn inet_tables_hold_both_families() {
    // inet: meta nfproto ipv6; ip6 daddr fd00::9 tcp dport 443 dnat ip6 to [fd00::1]:8443
    let daddr: Ipv6Addr = "fd00::9".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let to: Ipv6Addr = "fd00::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let mut e = vec![
        expr("meta", &[u32a(1, 1), u32a(2, 15)]),
        expr("cmp", &[u32a(1, 1), u32a(2, 0), data(3, &[10])]),
        expr(
            "payload",
            &[u32a(1, 1), u32a(2, 1), u32a(3, 24), u32a(4, 16)],
        ),
        expr("cmp", &[u32a(1, 1), u32a(2, 0), data(3, &daddr.octets())]),
    ];
    e.extend(l4(6));
    e.extend(dport(443));
    e.push(expr("immediate", &[u32a(1, 1), data(2, &to.octets())]));
    e.push(expr(
        "immediate",
        &[u32a(1, 2), data(2, &8443u16.to_be_bytes())],
    ));
    e.push(expr(
        "nat",
        &[
            u32a(1, 1),
            u32a(2, 10),
            u32a(3, 1),
            u32a(4, 1),
            u32a(5, 2),
            u32a(6, 2),
        ],
    ));
    let rule = decode(&raw(1, e)).unwrap_or_default();
    assert_eq!(rule.family, "inet");
    assert_eq!(rule.daddr, Some(IpAddr::V6(daddr)));
    assert_eq!(
        rule.action,
        NatAction::Dnat {
            address: Some(IpAddr::V6(to)),
            ports: Some((8443, 8443))
        }
    );
    assert!(rule.undecoded.is_empty(), "{:?}", rule.undecoded);
}

/// `tcp dport != 22 dnat ...` catches every port but 22, not every port;
/// a range with NEQ likewise; a map on the port leaves them unknown.
#[test]
fn negated_ports_and_maps_are_their_own_port_sets() {
    let redirect = || {
        vec![
            expr("immediate", &[u32a(1, 1), data(2, &8080u16.to_be_bytes())]),
            expr("redir", &[u32a(1, 1), u32a(2, 1)]),
        ]
    };
    let load = || expr("payload", &[u32a(1, 1), u32a(2, 2), u32a(3, 2), u32a(4, 2)]);
    let mut e = l4(6);
    e.push(load());
    e.push(expr(
        "cmp",
        &[u32a(1, 1), u32a(2, 1), data(3, &22u16.to_be_bytes())],
    ));
    e.extend(redirect());
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.ports, PortSet::except([(22, 22)]));
    assert_eq!(rule.ports.contains(22), Some(false));
    assert_eq!(rule.ports.contains(23), Some(true));

    let mut e = l4(6);
    e.push(load());
    e.push(expr(
        "range",
        &[
            u32a(1, 1),
            u32a(2, 1),
            data(3, &1000u16.to_be_bytes()),
            data(4, &2000u16.to_be_bytes()),
        ],
    ));
    e.extend(redirect());
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.ports, PortSet::except([(1000, 2000)]));

    let mut e = l4(6);
    e.push(load());
    e.push(expr(
        "lookup",
        &[attr(1, b"__map0\0"), u32a(2, 1), u32a(3, 1)],
    ));
    e.extend(redirect());
    let rule = decode(&raw(2, e)).unwrap_or_default();
    assert_eq!(rule.ports, PortSet::Undecoded, "a map is not every port");
}

/// NFTA_DATA_VERDICT: code (and chain) nested in a data attribute.
fn verdict(kind: u16, code: i32, chain: &str) -> Vec<u8> {
    let mut v = u32a(1, code as u32);
    if !chain.is_empty() {
        v.extend(attr(2, format!("{chain}\0").as_bytes()));
    }
    attr(kind, &attr(2, &v))
}

#[test]
fn jumps_gotos_and_returns_are_read() {
    // tcp dport 30080 jump kube-ext
    let mut e = l4(6);
    e.extend(dport(30080));
    e.push(expr("immediate", &[u32a(1, 0), verdict(2, -3, "kube-ext")]));
    let (s, map) = decode_step(&raw(2, e));
    assert_eq!(s.verdict, Verdict::Jump("kube-ext".into()));
    assert_eq!(s.rule.ports, PortSet::only([(30080, 30080)]));
    assert_eq!(map, None);
    for (code, want) in [
        (-4, Verdict::Goto("x".into())),
        (-5, Verdict::Return),
        (1, Verdict::Stop),
        (0, Verdict::Stop),
    ] {
        let e = vec![expr("immediate", &[u32a(1, 0), verdict(2, code, "x")])];
        assert_eq!(decode_step(&raw(2, e)).0.verdict, want, "{code}");
    }
    // fib daddr type local: only to this host's addresses.
    let e = vec![
        expr("fib", &[u32a(1, 1), u32a(2, 3), u32a(3, 2)]),
        expr(
            "cmp",
            &[u32a(1, 1), u32a(2, 0), data(3, &2u32.to_ne_bytes())],
        ),
        expr("immediate", &[u32a(1, 0), verdict(2, -3, "nodeports")]),
    ];
    let (s, _) = decode_step(&raw(2, e));
    assert!(s.rule.local_only);
    assert!(s.rule.undecoded.is_empty(), "{:?}", s.rule.undecoded);
    // iptables-nft: -m statistic (a split), -m addrtype --dst-type LOCAL.
    let mut addrtype = vec![0u8; 8];
    addrtype[2..4].copy_from_slice(&4u16.to_ne_bytes());
    let e = vec![
        expr(
            "match",
            &[attr(1, b"statistic\0"), u32a(2, 0), attr(3, &[0; 24])],
        ),
        expr(
            "match",
            &[attr(1, b"addrtype\0"), u32a(2, 1), attr(3, &addrtype)],
        ),
        expr("immediate", &[u32a(1, 0), verdict(2, -3, "KUBE-SEP-A")]),
    ];
    let (s, _) = decode_step(&raw(2, e));
    assert!(s.random && s.rule.local_only);
    assert!(s.rule.undecoded.is_empty(), "{:?}", s.rule.undecoded);
}

#[test]
fn verdict_maps_become_branches() {
    // meta l4proto . th dport vmap @service-nodeports: registers 1 and 9
    // (the 4-byte register after register 1's first).
    let e = vec![
        expr("meta", &[u32a(1, 8), u32a(2, 16)]),
        expr("payload", &[u32a(1, 9), u32a(2, 2), u32a(3, 2), u32a(4, 2)]),
        expr(
            "lookup",
            &[attr(1, b"service-nodeports\0"), u32a(2, 8), u32a(3, 0)],
        ),
    ];
    let (s, map) = decode_step(&raw(2, e));
    let map = map.unwrap_or_else(|| panic!("a verdict map"));
    assert_eq!(map.key, vec![Reg::L4proto, Reg::Dport]);
    assert!(matches!(s.verdict, Verdict::Undecoded(_)), "until read");
    let elem = |proto: u8, p: u16, code: i32, chain: &str| {
        let mut key = vec![proto, 0, 0, 0];
        key.extend(p.to_be_bytes());
        key.extend([0, 0]);
        attr(
            1,
            &[attr(1, &attr(1, &key)), verdict(2, code, chain)].concat(),
        )
    };
    let body = attr(
        3,
        &[
            elem(6, 30080, -4, "external-web"),
            elem(17, 30053, -3, "external-dns"),
            elem(6, 30090, 0, ""),
        ]
        .concat(),
    );
    let Some(Verdict::Branches(b)) = map_branches([body.as_slice()].into_iter(), &map) else {
        panic!("branches")
    };
    assert_eq!(b.len(), 2, "a drop element leads nowhere: {b:?}");
    assert_eq!(
        (b[0].protocol, b[0].ports.clone(), b[0].verdict.clone()),
        (
            Some(Protocol::Tcp),
            PortSet::only([(30080, 30080)]),
            Verdict::Goto("external-web".into())
        )
    );
    assert_eq!(b[1].protocol, Some(Protocol::Udp));
    // numgen random mod 2 vmap { 0 : goto a, 1 : goto b }: a split.
    let ng = MapKey {
        set: "__map0".into(),
        key: vec![Reg::Numgen],
        inverted: false,
    };
    let elem = |n: u32, chain: &str| {
        attr(
            1,
            &[attr(1, &attr(1, &n.to_ne_bytes())), verdict(2, -4, chain)].concat(),
        )
    };
    let body = attr(3, &[elem(0, "a"), elem(1, "b")].concat());
    let Some(Verdict::Branches(b)) = map_branches([body.as_slice()].into_iter(), &ng) else {
        panic!("branches")
    };
    assert!(b.iter().all(|b| b.random && b.ports == PortSet::Every));
    // An interval or a key part whyport does not model: not decoded.
    let odd = MapKey {
        key: vec![Reg::Other("ct mark".into())],
        ..ng
    };
    assert_eq!(map_branches([body.as_slice()].into_iter(), &odd), None);
}

#[test]
fn base_chains_are_read_with_their_hook() {
    let chain = |name: &str, hook: Option<(u32, i32)>, kind: &str| {
        let mut b = [
            attr(1, b"kube-proxy\0"),
            attr(3, format!("{name}\0").as_bytes()),
        ]
        .concat();
        if let Some((n, p)) = hook {
            b.extend(attr(4, &[u32a(1, n), u32a(2, p as u32)].concat()));
        }
        b.extend(attr(7, format!("{kind}\0").as_bytes()));
        parse_chain(2, &b)
    };
    assert_eq!(chain("services", None, ""), None, "a regular chain");
    let all: Vec<_> = [
        chain("nat-output", Some((3, -100)), "nat"),
        chain("nat-prerouting", Some((0, -100)), "nat"),
        chain("filter-input", Some((1, 0)), "filter"),
        chain("nat-postrouting", Some((4, 100)), "nat"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(
        base_chains(&all, 2, "kube-proxy"),
        vec![
            ("nat-prerouting".to_string(), NatHook::Prerouting),
            ("nat-output".to_string(), NatHook::Output)
        ]
    );
    assert!(base_chains(&all, 10, "kube-proxy").is_empty());
}
