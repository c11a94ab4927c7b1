//! Tests of the routing facts: rtnetlink payloads built by hand from
//! struct rtmsg / fib_rule_hdr, and (as root) a private network namespace
//! with veths, routes and a policy rule.

use super::*;

fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut a = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
    a.extend(kind.to_ne_bytes());
    a.extend(value);
    a.resize((a.len() + 3) & !3, 0);
    a
}

fn route(dst: Option<&[u8]>, dst_len: u8, table: u8, kind: u8, rest: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0u8; RTMSG];
    b[0] = if dst.is_some_and(|d| d.len() == 16) {
        10
    } else {
        2
    };
    b[1] = dst_len;
    b[4] = table;
    b[7] = kind;
    if let Some(d) = dst {
        b.extend(attr(RTA_DST, d));
    }
    for a in rest {
        b.extend(a);
    }
    b
}

fn p(text: &str, len: u8) -> Prefix {
    Prefix {
        address: text.parse().unwrap(),
        len,
    }
}

#[test]
fn routes_of_the_main_table() {
    let oif = |i: u32| attr(RTA_OIF, &i.to_ne_bytes());
    // default via ... dev 2 (no RTA_DST).
    assert_eq!(
        parse_route(&route(None, 0, 254, 1, &[oif(2)]), false),
        Some(Route::Main(vec![(p("0.0.0.0", 0), 2)]))
    );
    // The local table is not main.
    assert_eq!(
        parse_route(&route(Some(&[10, 0, 0, 1]), 32, 255, 2, &[oif(2)]), false),
        Some(Route::Other)
    );
    // A table id above 255 is in RTA_TABLE (the byte says RT_TABLE_COMPAT).
    let t = attr(RTA_TABLE, &254u32.to_ne_bytes());
    assert_eq!(
        parse_route(&route(Some(&[10, 0, 0, 0]), 8, 252, 1, &[t, oif(3)]), false),
        Some(Route::Main(vec![(p("10.0.0.0", 8), 3)]))
    );
    // blackhole 203.0.113.0/24: no interface.
    assert_eq!(
        parse_route(&route(Some(&[203, 0, 113, 0]), 24, 254, 6, &[]), false),
        Some(Route::Main(vec![(p("203.0.113.0", 24), 0)]))
    );
    // Multipath: one entry per nexthop.
    let mut mp = Vec::new();
    for ifindex in [4i32, 5] {
        mp.extend(8u16.to_ne_bytes());
        mp.extend([0, 0]);
        mp.extend(ifindex.to_ne_bytes());
    }
    let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        parse_route(
            &route(Some(&v6), 32, 254, 1, &[attr(RTA_MULTIPATH, &mp)]),
            true
        ),
        Some(Route::Main(vec![
            (p("2001:db8::", 32), 4),
            (p("2001:db8::", 32), 5)
        ]))
    );
    // Through a nexthop object: the interface is not in the route.
    assert_eq!(
        parse_route(
            &route(None, 0, 254, 1, &[attr(RTA_NH_ID, &7u32.to_ne_bytes())]),
            false
        ),
        Some(Route::NexthopObject)
    );
    assert_eq!(parse_route(&[0; 5], false), None);
    assert_eq!(
        parse_route(&route(Some(&[1, 2]), 8, 254, 1, &[]), false),
        None
    );
}

fn rule(priority: u32, table: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0u8; RTMSG];
    b[4] = table.min(252) as u8;
    b[7] = 1;
    b.extend(attr(15, &table.to_ne_bytes()));
    b.extend(attr(14, &u32::MAX.to_ne_bytes()));
    b.extend(attr(21, &[2]));
    if priority != 0 {
        b.extend(attr(6, &priority.to_ne_bytes()));
    }
    for a in extra {
        b.extend(a);
    }
    b
}

#[test]
fn policy_rules_beyond_the_defaults() {
    let v4: Vec<RuleFacts> = [(0, 255), (32766, 254), (32767, 253)]
        .iter()
        .map(|(p, t)| parse_rule(&rule(*p, *t, &[])))
        .collect();
    assert!(!extra_rules(&v4, false));
    assert!(!extra_rules(&v4[..2], true));
    // ip rule add fwmark 1 lookup 100
    let mut more = v4;
    more.push(parse_rule(&rule(
        32765,
        100,
        &[attr(10, &1u32.to_ne_bytes())],
    )));
    assert!(extra_rules(&more, false));
    // A default rule with a selector is not the default: from 10.0.0.0/8.
    let mut from = rule(32766, 254, &[]);
    from[2] = 8;
    assert!(!parse_rule(&from).plain);
    // Without the main rule, main is not what routes.
    let only_local = [parse_rule(&rule(0, 255, &[]))];
    assert!(extra_rules(&only_local, true));
    assert!(!parse_rule(&[0; 3]).plain);
}

#[test]
fn real_routes_and_rules_in_a_private_namespace() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP real_routes_and_rules_in_a_private_namespace: needs root");
        return;
    }
    if !std::process::Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIP real_routes_and_rules_in_a_private_namespace: needs ip (iproute2)");
        return;
    }
    let read = std::thread::spawn(|| {
        // SAFETY: unshare on this thread only: its namespace goes with it.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        for cmd in [
            "link add wpa0 type veth peer name wpb0",
            "link set wpa0 up",
            "link set wpb0 up",
            "addr add 10.9.0.1/24 dev wpa0",
            "route add 198.51.100.0/24 dev wpb0",
            "route add blackhole 203.0.113.0/24",
            "-6 addr add 2001:db8:9::1/64 dev wpa0 nodad",
            "-4 rule add fwmark 1 table 100",
        ] {
            let out = std::process::Command::new("ip")
                .args(cmd.split(' '))
                .output()
                .ok()?;
            assert!(
                out.status.success(),
                "ip {cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::write("/proc/sys/net/ipv4/conf/wpa0/rp_filter", "2").ok()?;
        // The setup may fail (a SKIP); the code under test may not.
        let links = interfaces().unwrap_or_else(|e| panic!("links: {e}"));
        let v4 = routes(false, &links.names).unwrap_or_else(|e| panic!("IPv4 routes: {e}"));
        let v6 = routes(true, &links.names).unwrap_or_else(|e| panic!("IPv6 routes: {e}"));
        // The netlink dump and the files agree, interface for interface.
        let by_netlink = netconf_rp_filter(&links.names).unwrap_or_else(|e| panic!("netconf: {e}"));
        assert_eq!(by_netlink, rp_filter_files());
        Some((rp_filter(&links.names), v4, v6))
    })
    .join()
    .unwrap();
    let Some((rp, (v4, unread4), (v6, unread6))) = read else {
        eprintln!(
            "SKIP real_routes_and_rules_in_a_private_namespace: could not make the namespace"
        );
        return;
    };
    assert_eq!(rp.get("wpa0"), Some(&2));
    assert!(rp.contains_key("all") && rp.contains_key("lo"), "{rp:?}");
    assert_eq!(
        v4.main,
        [
            (p("10.9.0.0", 24), "wpa0".to_string()),
            (p("198.51.100.0", 24), "wpb0".to_string()),
            (p("203.0.113.0", 24), String::new()),
        ]
    );
    assert!(v4.extra_rules);
    assert!(!v6.extra_rules);
    assert!(
        v6.main
            .contains(&(p("2001:db8:9::", 64), "wpa0".to_string())),
        "{:?}",
        v6.main
    );
    assert!(unread4.is_empty() && unread6.is_empty());
}

#[test]
fn of_routes_to_one_prefix_the_lowest_metric_is_kept() {
    let p = |s: &str| {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            address: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    };
    let kept = super::best_routes(vec![
        (p("10.50.0.0/16"), "zz0".into(), 100),
        (p("10.50.0.0/16"), "eth0".into(), 10),
        (p("0.0.0.0/0"), "eth0".into(), 0),
        (p("0.0.0.0/0"), "wlan0".into(), 0),
    ]);
    assert_eq!(
        kept,
        [
            (p("10.50.0.0/16"), "eth0".to_string()),
            (p("0.0.0.0/0"), "eth0".to_string()),
            (p("0.0.0.0/0"), "wlan0".to_string()),
        ]
    );
}
