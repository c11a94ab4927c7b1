//! Tests of the legacy filter reader: tables built by hand from the
//! ipt_entry / ip6t_entry layouts, and (as root) real tables loaded with
//! Debian's iptables-legacy in a private network namespace.

use super::*;

/// One entry: the header (`head` fills the ipt_ip / ip6t_ip6 part), its
/// matches and its target.
fn entry(
    l: &Layout,
    head: impl FnOnce(&mut [u8]),
    matches: &[(&str, u8, Vec<u8>)],
    target: &str,
    data: &[u8],
) -> Vec<u8> {
    let mut e = vec![0u8; l.entry];
    head(&mut e);
    for (name, rev, m) in matches {
        let mut h = vec![0u8; XT_HEADER];
        h[..2].copy_from_slice(&((XT_HEADER + m.len()) as u16).to_ne_bytes());
        h[2..2 + name.len()].copy_from_slice(name.as_bytes());
        h[31] = *rev;
        e.extend(h);
        e.extend(m);
    }
    let target_offset = e.len();
    let mut h = vec![0u8; XT_HEADER];
    h[..2].copy_from_slice(&((XT_HEADER + data.len()) as u16).to_ne_bytes());
    h[2..2 + target.len()].copy_from_slice(target.as_bytes());
    e.extend(h);
    e.extend(data);
    let next = e.len();
    e[l.target_offset..l.target_offset + 2].copy_from_slice(&(target_offset as u16).to_ne_bytes());
    e[l.target_offset + 2..l.target_offset + 4].copy_from_slice(&(next as u16).to_ne_bytes());
    e
}

fn verdict(v: i32) -> Vec<u8> {
    [v.to_ne_bytes(), [0; 4]].concat()
}

/// The ERROR entry that heads a user chain (and, named ERROR, ends the
/// table).
fn error(l: &Layout, name: &str) -> Vec<u8> {
    let mut n = vec![0u8; 32];
    n[..name.len()].copy_from_slice(name.as_bytes());
    entry(l, |_| {}, &[], "ERROR", &n)
}

fn printed(rs: &Ruleset, family: Family, table: &str, chain: &str) -> Vec<String> {
    let key = ChainRef {
        backend: Backend::IptablesLegacy,
        family,
        table: table.into(),
        chain: chain.into(),
    };
    rs.chains
        .get(&key)
        .unwrap_or_else(|| panic!("no chain {key}: {:?}", rs.chains.keys()))
        .iter()
        .map(|r| format!("{} {r}", r.number))
        .collect()
}

#[test]
fn ipv4_filter_with_a_user_chain() {
    let mut tcp = vec![0u8; 12];
    tcp[2..4].copy_from_slice(&u16::MAX.to_ne_bytes());
    tcp[4..6].copy_from_slice(&22u16.to_ne_bytes());
    tcp[6..8].copy_from_slice(&22u16.to_ne_bytes());
    let mut comment = vec![0u8; 256];
    comment[..6].copy_from_slice(b"office");
    // Sizes are fixed by the contents, so offsets are known before the
    // verdicts are filled in.
    let ssh_head = |e: &mut [u8]| {
        e[0..4].copy_from_slice(&[10, 1, 2, 3]);
        e[8..12].copy_from_slice(&[255, 0, 0, 0]);
        e[16..19].copy_from_slice(b"eth");
        e[48..51].copy_from_slice(&[0xff; 3]);
        e[80..82].copy_from_slice(&6u16.to_ne_bytes());
    };
    let jump_len = entry(&V4, ssh_head, &[("tcp", 0, tcp.clone())], "", &verdict(0)).len();
    let bare_len = entry(
        &V4,
        |_| {},
        &[("comment", 0, comment.clone())],
        "",
        &verdict(0),
    )
    .len();
    let policy_len = entry(&V4, |_| {}, &[], "", &verdict(-1)).len();
    let input_policy = jump_len + bare_len;
    let forward = input_policy + policy_len;
    let output = forward + policy_len;
    let user_head = output + policy_len;
    let ssh_at = user_head + error(&V4, "SSH").len();
    let jump = entry(
        &V4,
        ssh_head,
        &[("tcp", 0, tcp)],
        "",
        &verdict(ssh_at as i32),
    );
    // No target: a standard verdict to the next entry.
    let bare = entry(
        &V4,
        |_| {},
        &[("comment", 0, comment)],
        "",
        &verdict(input_policy as i32),
    );
    let in_ssh = entry(
        &V4,
        |e| {
            e[4..8].copy_from_slice(&[192, 0, 2, 1]);
            e[12..16].copy_from_slice(&[255; 4]);
            e[32..35].copy_from_slice(b"lo\0");
            e[64..67].copy_from_slice(&[0xff; 3]);
            e[83] = 0x10 | 0x02;
        },
        &[],
        "REJECT",
        &[0; 8],
    );
    // A goto back to SSH's head (IPT_F_GOTO), then the chain's own RETURN.
    let goto = entry(
        &V4,
        |e| {
            e[80..82].copy_from_slice(&17u16.to_ne_bytes());
            e[82] = 0x02;
        },
        &[],
        "",
        &verdict(ssh_at as i32),
    );
    let ret = entry(&V4, |_| {}, &[], "", &verdict(-5));
    let bytes = [
        jump,
        bare,
        entry(&V4, |_| {}, &[], "", &verdict(-1)),
        entry(&V4, |_| {}, &[], "", &verdict(-2)),
        entry(&V4, |_| {}, &[], "", &verdict(-2)),
        error(&V4, "SSH"),
        in_ssh,
        goto,
        ret,
        error(&V4, "ERROR"),
    ]
    .concat();
    let table = Table {
        valid_hooks: 0b1110,
        hook_entry: [0, 0, forward as u32, output as u32, 0],
        underflow: [0, input_policy as u32, forward as u32, output as u32, 0],
        entries: bytes.clone(),
    };
    let mut rs = Ruleset::default();
    decode(&table, false, "filter", &mut rs);
    assert!(rs.unread.is_empty(), "{:?}", rs.unread);
    let bases: Vec<(String, Hook, i32, Policy)> = rs
        .base_chains
        .iter()
        .map(|b| (b.chain.to_string(), b.hook.clone(), b.priority, b.policy))
        .collect();
    assert_eq!(
        bases,
        [
            (
                "iptables-legacy filter INPUT".into(),
                Hook::Input,
                0,
                Policy::Drop
            ),
            (
                "iptables-legacy filter FORWARD".into(),
                Hook::Forward,
                0,
                Policy::Accept
            ),
            (
                "iptables-legacy filter OUTPUT".into(),
                Hook::Output,
                0,
                Policy::Accept
            ),
        ]
    );
    assert_eq!(
        printed(&rs, Family::Ip, "filter", "INPUT"),
        [
            "1 meta l4proto tcp saddr 10.0.0.0/8 iifname \"eth*\" th dport 22 jump SSH",
            "2 continue",
        ]
    );
    assert_eq!(
        rs.chains
            .values()
            .flatten()
            .filter_map(|r| r.comment.clone())
            .collect::<Vec<_>>(),
        ["office"]
    );
    assert_eq!(
        printed(&rs, Family::Ip, "filter", "SSH"),
        [
            "1 daddr != 192.0.2.1 oifname != \"lo\" reject",
            "2 meta l4proto udp goto SSH",
        ]
    );
    assert!(printed(&rs, Family::Ip, "filter", "FORWARD").is_empty());
    // Cut or corrupt: never a panic, never half a table.
    for cut in 0..bytes.len() {
        let mut rs = Ruleset::default();
        let t = Table {
            entries: bytes[..cut].to_vec(),
            ..table.clone()
        };
        decode(&t, false, "filter", &mut rs);
        assert!(rs.chains.is_empty() && rs.unread.len() == 1, "{cut}");
    }
}

#[test]
fn ipv6_raw_and_nat_priorities() {
    let accept = entry(
        &V6,
        |e| {
            e[0..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            e[32..36].copy_from_slice(&[0xff; 4]);
            e[128..130].copy_from_slice(&6u16.to_ne_bytes());
            e[131] = 0x01;
            e[132] = 0x08;
        },
        &[],
        "",
        &verdict(-2),
    );
    let policy = entry(&V6, |_| {}, &[], "", &verdict(-2));
    let (a, p) = (accept.len() as u32, policy.len() as u32);
    let terminator = error(&V6, "ERROR");
    let table = Table {
        valid_hooks: 0b1001,
        hook_entry: [0, 0, 0, a + p, 0],
        underflow: [a, 0, 0, a + p, 0],
        entries: [accept, policy.clone(), policy, terminator].concat(),
    };
    let mut rs = Ruleset::default();
    decode(&table, true, "raw", &mut rs);
    assert_eq!(
        printed(&rs, Family::Ip6, "raw", "PREROUTING"),
        ["1 meta l4proto tcp saddr != 2001:db8::/32 accept"]
    );
    assert_eq!(
        rs.base_chains
            .iter()
            .map(|b| b.priority)
            .collect::<Vec<_>>(),
        [-300, -300]
    );
    assert_eq!(
        rs.base_chains[0].chain.to_string(),
        "ip6tables-legacy raw PREROUTING"
    );
    let nat: Vec<i32> = (0..5).map(|h| priority("nat", h)).collect();
    assert_eq!(nat, [-100, 100, 100, -100, 100]);
    assert_eq!((priority("mangle", 1), priority("security", 1)), (-150, 50));
}

/// Run `f` on a thread of its own in a new, empty network namespace: the
/// host's rules are never touched, and the namespace goes with the thread.
/// `None` only when the namespace cannot be made; a panic in `f` (the code
/// under test) fails the test.
fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(move || {
        // SAFETY: unshare on this thread only.
        (unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0).then(f)
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn tool_present(name: &str) -> bool {
    std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn real_iptables_legacy_rules_are_read_back() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP real_iptables_legacy_rules_are_read_back: needs root");
        return;
    }
    if !tool_present("iptables-legacy") || !tool_present("ip6tables-legacy") {
        eprintln!(
            "SKIP real_iptables_legacy_rules_are_read_back: needs iptables-legacy (apt-get install iptables)"
        );
        return;
    }
    let read = in_private_netns(|| {
        let script: &[(&str, &str)] = &[
            ("iptables-legacy", "-N SSH"),
            ("iptables-legacy", "-A INPUT -i lo -j ACCEPT"),
            (
                "iptables-legacy",
                "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ),
            (
                "iptables-legacy",
                "-A INPUT -s 10.0.0.0/8 -i eth+ -p tcp --dport 22 -j SSH",
            ),
            (
                "iptables-legacy",
                "-A INPUT -p udp -m multiport --dports 53,5353:5355 -j ACCEPT",
            ),
            (
                "iptables-legacy",
                "-A INPUT -m addrtype --dst-type BROADCAST -j DROP",
            ),
            (
                "iptables-legacy",
                "-A INPUT -m recent --name x --rcheck -j DROP",
            ),
            (
                "iptables-legacy",
                "-A INPUT ! -d 192.0.2.1 -p tcp -m state --state NEW -j LOG",
            ),
            (
                "iptables-legacy",
                "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
            ),
            (
                "iptables-legacy",
                "-A SSH -m comment --comment office -j ACCEPT",
            ),
            ("iptables-legacy", "-A SSH -j REJECT"),
            ("iptables-legacy", "-P INPUT DROP"),
            (
                "iptables-legacy",
                "-t raw -A PREROUTING -m rpfilter --invert -j DROP",
            ),
            (
                "ip6tables-legacy",
                "-A INPUT -p tcp --syn --dport 443 -j ACCEPT",
            ),
            ("ip6tables-legacy", "-A INPUT ! -s 2001:db8::/32 -j DROP"),
        ];
        for (tool, args) in script {
            let out = std::process::Command::new(tool)
                .args(args.split(' '))
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "{tool} {args}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let mut rs = Ruleset::default();
        ruleset_legacy(&mut rs).map_err(|e| e.to_string())?;
        Ok(rs)
    });
    let rs = match read {
        None => {
            eprintln!(
                "SKIP real_iptables_legacy_rules_are_read_back: unshare(CLONE_NEWNET) failed"
            );
            return;
        }
        Some(r) => r.unwrap_or_else(|e| panic!("{e}")),
    };
    assert!(rs.unread.is_empty(), "{:?}", rs.unread);
    assert_eq!(
        printed(&rs, Family::Ip, "filter", "INPUT"),
        [
            "1 iifname \"lo\" accept",
            "2 ct state { established, related } accept",
            "3 meta l4proto tcp saddr 10.0.0.0/8 iifname \"eth*\" th dport 22 jump SSH",
            "4 meta l4proto udp th dport { 53, 5353-5355 } accept",
            "5 fib daddr type broadcast drop",
            "6 -m recent --rcheck --name x drop",
            "7 meta l4proto tcp daddr != 192.0.2.1 ct state new",
            // firewalld's shape: one rule per alternative, same number.
            "8 ct state { established, related } accept",
            "8 ct status dnat accept",
        ]
    );
    assert_eq!(
        printed(&rs, Family::Ip, "filter", "SSH"),
        ["1 accept", "2 reject"]
    );
    assert_eq!(
        printed(&rs, Family::Ip, "raw", "PREROUTING"),
        ["1 fib saddr . iif oif missing drop"]
    );
    assert_eq!(
        printed(&rs, Family::Ip6, "filter", "INPUT"),
        [
            "1 meta l4proto tcp th dport 443 tcp flags & 0x17 0x02 accept",
            "2 saddr != 2001:db8::/32 drop",
        ]
    );
    let policy = |family, chain: &str| {
        rs.base_chains
            .iter()
            .find(|b| {
                b.chain.family == family && b.chain.chain == chain && b.chain.table == "filter"
            })
            .map(|b| b.policy)
    };
    assert_eq!(policy(Family::Ip, "INPUT"), Some(Policy::Drop));
    assert_eq!(policy(Family::Ip6, "INPUT"), Some(Policy::Accept));
    // raw and filter for IPv4, filter for IPv6: nothing else was asked for.
    let mut tables: Vec<(Family, &str)> = rs
        .base_chains
        .iter()
        .map(|b| (b.chain.family, b.chain.table.as_str()))
        .collect();
    tables.dedup();
    assert_eq!(
        tables,
        [
            (Family::Ip, "raw"),
            (Family::Ip, "filter"),
            (Family::Ip6, "filter")
        ]
    );
}

#[test]
fn a_negated_plus_interface_matches_nothing() {
    // `! -i +` and `-i +`: an empty name with an empty mask.
    let b = vec![0u8; 112];
    let conds = header(&b, false, 0, 0x01);
    assert_eq!(conds.len(), 1, "{conds:?}");
    let Cond::Iif { negated, names } = &conds[0] else {
        panic!("{conds:?}")
    };
    assert!(*negated && names.iter().any(|n| n.matches("eth0") && n.matches("")));
    assert!(
        header(&b, false, 0, 0).is_empty(),
        "`-i +` is every interface"
    );
}
