//! Rule sets loaded with the real `nft` and `iptables-nft` into a network
//! namespace of the test's own (one thread unshares it; the tools run as
//! that thread's children), then read back with `ruleset_nft`.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;
use crate::model::firewall::{Cond, Rule, Verdict};

/// The tool's path, if installed.
fn tool(name: &str) -> Option<String> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).exists())
}

fn netns_of(path: &str) -> String {
    std::fs::read_link(path)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Run `steps` (a program, its arguments, and what to write to its
/// stdin) in a new network namespace, then read it with `ruleset_nft`.
/// `None` (after a SKIP line) without root or a tool. The namespace
/// belongs to one thread: it is gone when the thread ends, whatever
/// happens, and the host's rules are never touched.
fn load(test: &str, steps: &[(&str, &[&str], &str)]) -> Option<Ruleset> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP: {test}: needs root for a network namespace");
        return None;
    }
    let mut found = Vec::new();
    for (name, ..) in steps {
        match tool(name) {
            Some(p) => found.push(p),
            None => {
                println!("SKIP: {test}: needs {name} (apt-get install nftables iptables iproute2)");
                return None;
            }
        }
    }
    let steps: Vec<(String, Vec<String>, String)> = steps
        .iter()
        .zip(found)
        .map(|((_, args, stdin), p)| {
            let args = args.iter().map(|a| a.to_string()).collect();
            (p, args, stdin.to_string())
        })
        .collect();
    let test = test.to_string();
    let read = std::thread::spawn(move || {
        // SAFETY: unshare on this thread only; it owns the namespace.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
        let mine = netns_of("/proc/thread-self/ns/net");
        assert_ne!(
            mine,
            netns_of("/proc/self/ns/net"),
            "{test}: still in the host's namespace"
        );
        // A child inherits the namespace of the thread that spawns it:
        // checked before any rule is loaded.
        let child = Command::new("readlink")
            .arg("/proc/self/ns/net")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&child.stdout).trim(),
            mine,
            "{test}: a child left the namespace"
        );
        for (prog, args, stdin) in &steps {
            let mut c = Command::new(prog)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{test}: {prog} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut rs = Ruleset::default();
        ruleset_nft(&mut rs, None).unwrap();
        // The NAT reader's dump, shared, reads the same.
        let dumped = nft::dump().unwrap();
        let mut shared = Ruleset::default();
        ruleset_nft(&mut shared, Some(&dumped)).unwrap();
        assert_eq!(shared, rs, "{test}: a shared dump reads otherwise");
        rs
    });
    Some(read.join().unwrap())
}

fn nft(script: &str) -> (&'static str, &'static [&'static str], &str) {
    ("nft", &["-f", "-"], script)
}

fn chain<'a>(rs: &'a Ruleset, family: Family, table: &str, name: &str) -> &'a [Rule] {
    let key = chain_ref_of(family, table, name);
    rs.chains
        .get(&key)
        .unwrap_or_else(|| panic!("no chain {key} in {:?}", rs.chains.keys()))
}

fn chain_ref_of(family: Family, table: &str, name: &str) -> ChainRef {
    ChainRef {
        backend: Backend::Nftables,
        family,
        table: table.into(),
        chain: name.into(),
    }
}

fn lines(rules: &[Rule]) -> Vec<String> {
    rules.iter().map(|r| r.to_string()).collect()
}

const ALLOW_LIST: &str = r#"
table inet t {
    set nets {
        type ipv4_addr; flags interval
        elements = { 10.0.0.0/8, 192.168.1.0/24, 172.16.0.1-172.16.0.9 }
    }
    set seen { type ipv4_addr; flags dynamic,timeout; timeout 1m; }
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        ct state { established, related } accept
        iif "lo" accept
        iifname "v1" accept
        iifname "eth*" accept
        ip saddr 10.0.0.0/8 tcp dport 22 accept
        ip saddr @nets accept
        ip6 saddr fd00::/8 accept
        tcp dport { 22, 80 } accept comment "web and ssh"
        tcp dport 1000-2000 accept
        iifname vmap { "v2" : jump sub, "lo" : accept }
        tcp dport vmap { 80 : accept, 8000-8080 : drop }
        ip saddr . tcp dport { 10.0.0.1 . 22, 10.0.0.2 . 80 } accept
        ip saddr @seen drop
        add @seen { ip saddr }
        limit rate 10/second accept
        fib saddr . iif oif missing drop
        fib daddr type { broadcast, multicast } drop
        tcp flags syn / syn,ack accept
        meta mark 42 accept
        jump sub
        goto sub
    }
    chain sub {
        tcp dport 443 accept
        return
    }
}
"#;

#[test]
fn an_allow_list_reads_back_in_nft_words() {
    let veth: &[&str] = &["link", "add", "v1", "type", "veth", "peer", "name", "v2"];
    let Some(rs) = load("an_allow_list", &[("ip", veth, ""), nft(ALLOW_LIST)]) else {
        return;
    };
    assert!(rs.unread.is_empty(), "{:?}", rs.unread);
    let input = chain(&rs, Family::Inet, "t", "input");
    let want = [
        "ct state { established, related } accept",
        "ct state { established, related } accept",
        "iifname \"lo\" accept",
        "iifname \"v1\" accept",
        "iifname \"eth*\" accept",
        "meta nfproto ipv4 saddr 10.0.0.0/8 meta l4proto tcp th dport 22 accept",
        "meta nfproto ipv4 saddr { 10.0.0.0/8, 192.168.1.0/24, 172.16.0.1-172.16.0.9 } accept",
        "meta nfproto ipv6 saddr fd00::/8 accept",
        "meta l4proto tcp th dport { 22, 80 } accept",
        "meta l4proto tcp th dport 1000-2000 accept",
        "iifname \"lo\" accept",
        "iifname \"v2\" jump sub",
        "meta l4proto tcp th dport 80 accept",
        "meta l4proto tcp th dport 8000-8080 drop",
        "meta nfproto ipv4 meta l4proto tcp saddr 10.0.0.1 th dport 22 accept",
        "meta nfproto ipv4 meta l4proto tcp saddr 10.0.0.2 th dport 80 accept",
        "meta nfproto ipv4 ip saddr in dynamic set @seen drop",
        "meta nfproto ipv4",
        "limit rate 10/second accept",
        "fib saddr . iif oif missing drop",
        "fib daddr type { broadcast, multicast } drop",
        "meta l4proto tcp tcp flags & 0x12 0x02 accept",
        "meta mark 0x2a accept",
        "jump sub",
        "goto sub",
    ];
    assert_eq!(lines(input), want);
    // A verdict map's elements share the rule's handle.
    assert_eq!(input[10].number, input[11].number);
    assert_ne!(input[9].number, input[10].number);
    assert_eq!(input[8].comment.as_deref(), Some("web and ssh"));
    assert!(matches!(&input[16].conds[1], Cond::Unknown(_)));
    assert_eq!(
        lines(chain(&rs, Family::Inet, "t", "sub")),
        ["meta l4proto tcp th dport 443 accept", "return"]
    );
    assert_eq!(
        rs.base_chains,
        [BaseChain {
            chain: chain_ref_of(Family::Inet, "t", "input"),
            hook: Hook::Input,
            kind: "filter".into(),
            priority: 0,
            policy: Policy::Drop,
        }]
    );
}

const LAYERS: &str = r#"
table ip early {
    chain pre {
        type filter hook input priority -10; policy accept;
        tcp dport 8080 drop
    }
}
table ip6 late {
    chain in {
        type filter hook input priority 10; policy drop;
    }
}
table netdev edge {
    chain ing {
        type filter hook ingress device "v1" priority -500; policy accept;
        ip saddr 192.0.2.0/24 drop
    }
}
table inet nat {
    chain pre {
        type nat hook prerouting priority -100;
        tcp dport 8080 dnat ip to 10.0.0.1:80
    }
    chain post {
        type nat hook postrouting priority 100;
        masquerade
    }
}
table inet firewalld {
    chain filter_PREROUTING {
        type filter hook prerouting priority 10; policy accept;
        meta nfproto ipv6 fib saddr . mark . iif oif missing drop
    }
    chain filter_INPUT {
        type filter hook input priority 10; policy accept;
        ct state { established, related } accept
        ct status dnat accept
        ct state invalid drop
        jump filter_INPUT_ZONES
        reject with icmpx admin-prohibited
    }
    chain filter_INPUT_ZONES {
        iifname "v1" goto filter_IN_public
        goto filter_IN_public
    }
    chain filter_IN_public {
        meta l4proto { icmp, ipv6-icmp } accept
        tcp dport 22 ct state { new, untracked } accept
    }
}
"#;

#[test]
fn base_chains_of_every_family_and_hook() {
    let veth: &[&str] = &["link", "add", "v1", "type", "veth", "peer", "name", "v2"];
    let Some(rs) = load("base_chains", &[("ip", veth, ""), nft(LAYERS)]) else {
        return;
    };
    let mut got: Vec<String> = rs
        .base_chains
        .iter()
        .map(|b| {
            format!(
                "{} {:?} {} {} {:?}",
                b.chain, b.hook, b.kind, b.priority, b.policy
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "inet firewalld filter_INPUT Input filter 10 Accept",
            "inet firewalld filter_PREROUTING Prerouting filter 10 Accept",
            "inet nat post Postrouting nat 100 Accept",
            "inet nat pre Prerouting nat -100 Accept",
            "ip early pre Input filter -10 Accept",
            "ip6 late in Input filter 10 Drop",
            "netdev edge ing Ingress(\"v1\") filter -500 Accept",
        ]
    );
    assert_eq!(
        lines(chain(&rs, Family::Ip, "early", "pre")),
        ["meta l4proto tcp th dport 8080 drop"]
    );
    assert_eq!(
        lines(chain(&rs, Family::Netdev, "edge", "ing")),
        ["meta nfproto ipv4 saddr 192.0.2.0/24 drop"]
    );
    assert_eq!(
        lines(chain(&rs, Family::Inet, "nat", "pre")),
        ["meta l4proto tcp th dport 8080 meta nfproto ipv4 dnat"]
    );
    // A masquerade ends its chain as an accept does.
    assert_eq!(
        chain(&rs, Family::Inet, "nat", "post")[0].verdict,
        Verdict::Accept
    );
    assert_eq!(
        lines(chain(&rs, Family::Inet, "firewalld", "filter_PREROUTING")),
        ["meta nfproto ipv6 fib saddr . iif oif missing drop"]
    );
    assert_eq!(
        lines(chain(&rs, Family::Inet, "firewalld", "filter_INPUT")),
        [
            "ct state { established, related } accept",
            "ct status dnat accept",
            "ct state invalid drop",
            "jump filter_INPUT_ZONES",
            "reject",
        ]
    );
    assert_eq!(
        lines(chain(&rs, Family::Inet, "firewalld", "filter_INPUT_ZONES")),
        [
            "iifname \"v1\" goto filter_IN_public",
            "goto filter_IN_public"
        ]
    );
    assert_eq!(
        lines(chain(&rs, Family::Inet, "firewalld", "filter_IN_public")),
        [
            "meta l4proto { icmp, ipv6-icmp } accept",
            "meta l4proto tcp th dport 22 ct state { new, untracked } accept",
        ]
    );
    assert!(chain(&rs, Family::Ip6, "late", "in").is_empty());
}

#[test]
fn iptables_nft_rules_as_ufw_writes_them() {
    let ipt = |args: &'static [&'static str]| ("iptables-nft", args, "");
    let Some(rs) = load(
        "iptables_nft",
        &[
            ipt(&["-P", "INPUT", "DROP"]),
            ipt(&["-N", "ufw-user-input"]),
            ipt(&["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]),
            ipt(&[
                "-A",
                "INPUT",
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            ]),
            ipt(&["-A", "INPUT", "-j", "ufw-user-input"]),
            ipt(&[
                "-A",
                "INPUT",
                "-s",
                "10.0.0.0/8",
                "-i",
                "eth+",
                "-p",
                "tcp",
                "--dport",
                "22",
                "-j",
                "ACCEPT",
            ]),
            ipt(&["-A", "INPUT", "-p", "tcp", "-j", "REJECT"]),
            ipt(&[
                "-A",
                "ufw-user-input",
                "-p",
                "tcp",
                "--dport",
                "22",
                "-j",
                "ACCEPT",
            ]),
            ipt(&[
                "-A",
                "ufw-user-input",
                "-p",
                "udp",
                "-m",
                "multiport",
                "--dports",
                "53,67",
                "-m",
                "comment",
                "--comment",
                "dns",
                "-j",
                "ACCEPT",
            ]),
        ],
    ) else {
        return;
    };
    let input = chain(&rs, Family::Ip, "filter", "INPUT");
    assert_eq!(input.len(), 5, "{:?}", lines(input));
    assert_eq!(input[0].to_string(), "iifname \"lo\" accept");
    // The conntrack match, as xt.rs decodes it.
    assert_eq!(input[1].verdict, Verdict::Accept);
    let ct = Cond::CtState {
        negated: false,
        mask: crate::model::firewall::ct::ESTABLISHED | crate::model::firewall::ct::RELATED,
    };
    assert_eq!(input[1].conds, [ct]);
    assert_eq!(input[2].to_string(), "jump ufw-user-input");
    assert_eq!(
        input[3].to_string(),
        "iifname \"eth*\" meta l4proto tcp saddr 10.0.0.0/8 th dport 22 accept"
    );
    assert_eq!(
        input[4].conds[0],
        Cond::L4proto {
            negated: false,
            protos: vec![6]
        }
    );
    assert_eq!(input[4].verdict, Verdict::Reject, "{:?}", input[4]);
    let user = chain(&rs, Family::Ip, "filter", "ufw-user-input");
    assert_eq!(user[0].to_string(), "meta l4proto tcp th dport 22 accept");
    assert_eq!(user[1].comment.as_deref(), Some("dns"));
    assert_eq!(
        user[1].conds[0],
        Cond::L4proto {
            negated: false,
            protos: vec![17]
        }
    );
    assert!(
        user[1].conds.len() > 1,
        "the multiport match is kept: {:?}",
        user[1]
    );
    let base: Vec<_> = rs
        .base_chains
        .iter()
        .filter(|b| b.chain.chain == "INPUT")
        .collect();
    assert_eq!(base.len(), 1);
    assert_eq!((base[0].priority, base[0].policy), (0, Policy::Drop));
}
