use super::*;
use crate::audit::{eval, policy};
use crate::explain::why::tests::{listener, process, report};
use crate::model::Protocol;

/// Text with every kind of character a reviewer must not be fooled by.
const HOSTILE: &str = "a\n[[allow]]\nport = 1\n\u{202e}b\u{200b}c\u{85}d\u{e0041}\u{2800}\"\\\t";

fn hostile(pid: u32, name: &[u8], exe: &[u8]) -> std::sync::Arc<crate::model::Process> {
    use std::os::unix::ffi::OsStrExt;
    let mut p = (*process(
        pid,
        1,
        "x",
        1000,
        "0::/system.slice/a\\x0a[[allow]]\u{202e}.service\n",
    ))
    .clone();
    p.name = name.to_vec();
    p.exe = Some(std::ffi::OsStr::from_bytes(exe).into());
    p.user = Some(format!("u{HOSTILE}"));
    std::sync::Arc::new(p)
}

/// Hostile names, paths, users and units round-trip: the written TOML
/// parses back to exactly the original values, holds none of those
/// characters raw, has no line that looks like a rule header but the
/// real ones, and allows what it was written from.
#[test]
fn hostile_values_round_trip_on_single_lines() {
    let exe = format!("/opt/{HOSTILE}");
    let p = hostile(10, HOSTILE.as_bytes(), exe.as_bytes());
    let r = report(vec![listener(Protocol::Tcp, "127.0.0.1", 8080, &[&p])], &[]);
    let ex = Opening::all(&r);
    let text = policy_for(&ex, None, "host\u{202e}\n[[allow]]", "2026-11-25");
    let raw: Vec<char> = text
        .chars()
        .filter(|c| *c != '\n' && crate::sanitize::is_dangerous(*c))
        .collect();
    assert!(raw.is_empty(), "{raw:?} written raw:\n{text}");
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("[["))
        .collect();
    assert_eq!(headers, ["[[allow]]"], "{text}");
    let pol = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let rule = &pol.rules[0];
    assert_eq!(rule.process.as_deref(), Some(HOSTILE.as_bytes()), "{text}");
    assert_eq!(rule.exe.as_deref(), Some(exe.as_bytes()), "{text}");
    assert_eq!(rule.user.as_deref(), Some(format!("u{HOSTILE}").as_str()));
    assert_eq!(
        rule.unit.as_deref(),
        Some("a\\x0a[[allow]]\u{202e}.service"),
        "{text}"
    );
    assert!(eval::audit(&pol, &ex).compliant(), "{text}");
}

/// Names and paths that are not UTF-8 are written as `_hex`, after a
/// comment showing them escaped; the rule allows the process it came
/// from and not one whose bytes differ only where they are not UTF-8.
#[test]
fn names_that_are_not_utf8_are_written_as_exact_bytes() {
    let a = hostile(10, b"ev\xff\n[[allow]]", b"/p/ev\xff\xe2\x80\xae");
    let b = hostile(20, b"ev\xfe\n[[allow]]", b"/p/ev\xfe\xe2\x80\xae");
    let on_port = |p| report(vec![listener(Protocol::Tcp, "127.0.0.1", 8080, &[p])], &[]);
    let (ra, rb) = (on_port(&a), on_port(&b));
    let (ea, eb) = (Opening::all(&ra), Opening::all(&rb));
    let text = policy_for(&ea, None, "host", "2026-11-25");
    assert!(
        text.contains("\nprocess_hex = \"6576ff0a5b5b616c6c6f775d5d\"\n"),
        "{text}"
    );
    assert!(
        text.contains("\nexe_hex = \"2f702f6576ffe280ae\"\n"),
        "{text}"
    );
    assert!(
        text.contains("\n# exe is not UTF-8: /p/ev\\xff\\u{202e}\n"),
        "{text}"
    );
    let headers = text.lines().filter(|l| l.starts_with("[[")).count();
    assert_eq!(headers, 1, "{text}");
    let pol = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        pol.rules[0].exe.as_deref(),
        Some(&b"/p/ev\xff\xe2\x80\xae"[..])
    );
    assert!(eval::audit(&pol, &ea).compliant(), "{text}");
    let other = eval::audit(&pol, &eb);
    let ids: Vec<_> = other.findings().map(|(_, f)| f.id.as_str()).collect();
    assert_eq!(ids, ["not-allowed"], "{text}");
}

/// What `policy init` writes, an audit of the same host passes; and
/// containers are named so that the rule matches them (an LXC name is
/// not cut to 12 characters like a Docker id).
#[test]
fn the_policy_written_passes_its_own_audit() {
    let lxc = process(
        10,
        1,
        "nginx",
        33,
        "0::/lxc.payload.customer-web-frontend/system.slice/nginx.service\n",
    );
    let mut stale =
        (*process(20, 1, "redis-server", 0, "0::/system.slice/redis.service\n")).clone();
    stale.exe = Some("/usr/bin/redis-server (deleted)".into());
    let stale = std::sync::Arc::new(stale);
    let r = report(
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 80, &[&lxc]),
            listener(Protocol::Tcp, "127.0.0.1", 6379, &[&stale]),
        ],
        &[],
    );
    let ex = Opening::all(&r);
    let text = policy_for(&ex, Some((32768, 60999)), "host", "2026-11-25");
    assert!(
        text.contains("container = \"customer-web-frontend\""),
        "{text}"
    );
    assert!(text.contains("exe = \"/usr/bin/redis-server\""), "{text}");
    let p = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let audit = eval::audit(&p, &ex);
    let findings: Vec<_> = audit.findings().map(|(_, f)| f.id.clone()).collect();
    assert!(audit.compliant(), "{findings:?}\n{text}");
}

/// Pieces hostile values are made of: every class `sanitize` escapes, TOML
/// syntax, and bytes that are not UTF-8 (names and paths only).
const PIECES: &[&[u8]] = &[
    b"a",
    b"nginx",
    b" ",
    b"=",
    b"#",
    b"\"",
    b"\\",
    b"'''",
    b"\"\"\"",
    b"\n",
    b"\r",
    b"\t",
    b"\0",
    b"\x1b[2J",
    b"\x7f",
    b"[[allow]]",
    b"[[deny]]\nport = 1",
    "\u{85}".as_bytes(),
    "\u{9b}".as_bytes(),
    "\u{ad}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{200d}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{2066}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{2800}".as_bytes(),
    "\u{3164}".as_bytes(),
    "\u{fe0f}".as_bytes(),
    "\u{feff}".as_bytes(),
    "\u{fffd}".as_bytes(),
    "\u{e0001}".as_bytes(),
    "\u{e0041}".as_bytes(),
    "\u{e007f}".as_bytes(),
    "é".as_bytes(),
    "\u{65e5}".as_bytes(),
    b"\xff",
    b"\xfe",
    b"\xc3",
    b"\xe2\x80",
    b"\xed\xa0\x80",
];

/// A deterministic xorshift generator: the same cases on every run.
struct Cases(u64);

impl Cases {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    /// Up to 6 pieces; `utf8` keeps to the pieces that are valid UTF-8.
    fn value(&mut self, utf8: bool) -> Vec<u8> {
        let mut v = Vec::new();
        for _ in 0..self.next(7) {
            let p = PIECES[self.next(PIECES.len())];
            if !utf8 || std::str::from_utf8(p).is_ok() {
                v.extend_from_slice(p);
            }
        }
        v
    }
}

/// The property the fuzz target `policy_values` checks, over a fixed set
/// of generated cases and through the whole of `policy init`: for hostile
/// names, paths, users and units, the written policy parses, gives back
/// exactly the values, holds none of the dangerous characters raw and no
/// rule header but its own, and allows every listener it was written from.
#[test]
fn hostile_values_round_trip_through_init_parse_and_audit() {
    use std::os::unix::ffi::OsStrExt;
    let mut g = Cases(0x9e37_79b9_7f4a_7c15);
    let (mut values, mut units, mut hex) = (0, 0, 0);
    for case in 0..400 {
        let mut owners = Vec::new();
        for i in 0..3u32 {
            let unit: String = String::from_utf8(g.value(true))
                .unwrap_or_default()
                .replace(['\n', '/'], "_");
            let cgroup = format!("0::/system.slice/{unit}.service\n");
            let mut p = (*process(10 + i, 1, "x", 1000 + i, &cgroup)).clone();
            p.name = g.value(false);
            let mut exe = b"/opt/".to_vec();
            exe.extend(g.value(false));
            p.exe = Some(std::ffi::OsStr::from_bytes(&exe).into());
            p.user = Some(String::from_utf8(g.value(true)).unwrap_or_default());
            owners.push(std::sync::Arc::new(p));
        }
        let listeners = owners
            .iter()
            .enumerate()
            .map(|(i, p)| listener(Protocol::Tcp, "127.0.0.1", 9000 + i as u16, &[p]))
            .collect();
        let r = report(listeners, &[]);
        let ex = Opening::all(&r);
        let text = policy_for(&ex, None, "host", "2026-11-25");
        let raw = text
            .chars()
            .find(|c| *c != '\n' && crate::sanitize::is_dangerous(*c));
        assert_eq!(raw, None, "case {case}:\n{text}");
        let headers: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("[["))
            .collect();
        let pol = policy::parse(&text).unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        assert_eq!(headers.len(), pol.rules.len(), "case {case}:\n{text}");
        assert!(
            headers.iter().all(|h| *h == "[[allow]]"),
            "case {case}:\n{text}"
        );
        assert_eq!(pol.rules.len(), 3, "case {case}:\n{text}");
        for (rule, (p, e)) in pol.rules.iter().zip(owners.iter().zip(&ex)) {
            assert_eq!(
                rule.process.as_deref(),
                Some(p.name.as_slice()),
                "case {case}"
            );
            assert_eq!(rule.exe.as_deref(), p.exe_bytes(), "case {case}");
            let user = p.user.clone().filter(|u| !u.contains('\u{fffd}'));
            assert_eq!(
                rule.user,
                user.or(p.uid.map(|u| u.to_string())),
                "case {case}"
            );
            if let Some(u) = &rule.unit {
                units += 1;
                assert_eq!(
                    Some(u),
                    e.origins()[0].unit.as_ref().map(|u| &u.name),
                    "case {case}"
                );
            }
            values += 5;
            hex += usize::from(std::str::from_utf8(&p.name).is_err());
        }
        let audit = eval::audit(&pol, &ex);
        assert!(audit.compliant(), "case {case}:\n{text}");
        assert_eq!(audit.decided(), [1, 1, 1], "case {case}:\n{text}");
    }
    assert_eq!(values, 400 * 3 * 5);
    // The cases reach units and names that are not UTF-8.
    assert!(units > 100 && hex > 100, "{units} units, {hex} hex names");
}

/// Forwards of every shape round-trip: the rules init writes allow them,
/// and only as forwards.
#[test]
fn forwards_round_trip_through_init_and_audit() {
    use crate::model::{NatAction, NatRule, PortSet};
    let fw = |ports: PortSet, protocol: Option<Protocol>, handle: u64| crate::report::Forward {
        rule: NatRule {
            family: "ip".into(),
            table: "nat".into(),
            chain: "PREROUTING".into(),
            handle,
            protocol,
            ports,
            action: NatAction::Redirect { ports: None },
            ..Default::default()
        },
        destination: crate::report::Destination::ThisHost,
        to_address: None,
        to_ports: None,
        receivers: vec![],
        firewall: None,
    };
    let mut r = report(vec![], &[]);
    r.forwards = vec![
        fw(
            PortSet::only([(8000, 8100), (9000, 9000)]),
            Some(Protocol::Tcp),
            1,
        ),
        fw(PortSet::Every, Some(Protocol::Udp), 2),
        fw(PortSet::except([(22, 22)]), Some(Protocol::Tcp), 3),
        fw(PortSet::Undecoded, None, 4),
    ];
    let o = Opening::all(&r);
    let text = policy_for(&o, None, "host", "2026-11-25");
    let pol = policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let a = eval::audit(&pol, &o);
    assert!(a.compliant(), "{text}");
    assert!(text.contains("ports = [\"8000-8100\", 9000]"), "{text}");
    assert!(text.contains("range = \"1-65535\""), "{text}");
    assert!(text.contains("ports = [\"1-21\", \"23-65535\"]"), "{text}");
    assert_eq!(text.matches("forwarded = true").count(), 4, "{text}");
    // The rule for the undecoded forward allows no socket.
    let mut s = report(vec![listener(Protocol::Tcp, "0.0.0.0", 4444, &[])], &[]);
    s.forwards.clear();
    let so = Opening::all(&s);
    assert!(!eval::audit(&pol, &so).compliant(), "{text}");
}

/// A small deterministic generator (xorshift), so that every run checks
/// the same cases and a failure names its case.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// init -> audit passes on every host state whose owners can be seen:
/// sockets of both protocols and families, loopback, wildcard, dual-stack
/// and specific binds, UDP clients in the ephemeral range, kernel sockets,
/// shared and reuse-port sockets with owners of one or several names,
/// units, containers, hostile names, and forwards of every port-set shape;
/// and it never passes one with an owner nobody can see.
#[test]
fn init_then_audit_passes_on_generated_hosts() {
    use crate::model::{NatAction, NatRule, PortSet};
    use crate::report::{Destination, Forward, OwnerStatus};
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let names = [
        "nginx",
        "redis-server",
        "sshd",
        "python3",
        "wp-\u{202e}x",
        "a b",
    ];
    let cgroups = [
        "0::/system.slice/nginx.service\n",
        "0::/user.slice/user-1000.slice/session-3.scope\n",
        "0::/system.slice/docker-4f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8.scope\n",
        "0::/init.scope\n",
    ];
    let addresses = ["0.0.0.0", "127.0.0.1", "10.0.0.5", "::", "::1", "fe80::1"];
    let (mut cases, mut sockets, mut forwards, mut blind) = (0, 0, 0, 0);
    for case in 0..300 {
        let mut pid = 100;
        let mut listeners = Vec::new();
        let mut hidden = false;
        for _ in 0..g.below(12) + 1 {
            let protocol = *g.pick(&[Protocol::Tcp, Protocol::Udp]);
            let address = *g.pick(&addresses);
            let port = match g.below(4) {
                0 => 40_000 + g.below(20_000) as u16,
                _ => 1 + g.below(10_000) as u16,
            };
            let mut owners = Vec::new();
            for _ in 0..g.below(3) {
                pid += 1;
                let (name, cgroup) = (*g.pick(&names), *g.pick(&cgroups));
                owners.push(process(pid, 1, name, g.below(2) as u32 * 1000, cgroup));
            }
            let refs: Vec<&std::sync::Arc<crate::model::Process>> = owners.iter().collect();
            let mut l = listener(protocol, address, port, &refs);
            l.inode = 1_000 + listeners.len() as u64;
            l.dual_stack = address == "::" && g.below(2) == 0;
            if g.below(25) == 0 {
                l.owners.clear();
                l.owner_status = OwnerStatus::Hidden(crate::model::HiddenReason::NotRoot);
                hidden = true;
            }
            listeners.push(l);
        }
        let mut r = report(listeners, &[]);
        for i in 0..g.below(3) {
            let ports = match g.below(4) {
                0 => PortSet::only([(8000, 8000 + g.below(100) as u16), (9000, 9000)]),
                1 => PortSet::except([(22, 22)]),
                2 => PortSet::Every,
                _ => PortSet::Undecoded,
            };
            r.forwards.push(Forward {
                rule: NatRule {
                    family: g.pick(&["ip", "ip6", "inet"]).to_string(),
                    table: "nat".into(),
                    chain: "PREROUTING".into(),
                    handle: i,
                    protocol: *g.pick(&[Some(Protocol::Tcp), Some(Protocol::Udp), None]),
                    ports,
                    action: NatAction::Redirect { ports: None },
                    ..Default::default()
                },
                destination: Destination::ThisHost,
                to_address: None,
                to_ports: None,
                receivers: r.listeners.first().map(|l| l.inode).into_iter().collect(),
                firewall: None,
            });
        }
        let o = Opening::all(&r);
        let text = policy_for(&o, Some((32768, 60999)), "host", "2026-11-25");
        let pol = policy::parse(&text).unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        let audit = eval::audit(&pol, &o);
        if hidden {
            assert!(
                !audit.compliant(),
                "case {case}: an unseen owner passed\n{text}"
            );
            blind += 1;
        } else {
            let findings: Vec<String> = audit
                .findings()
                .map(|(_, f)| format!("{}: {}", f.id, f.message))
                .collect();
            assert!(audit.compliant(), "case {case}: {findings:?}\n{text}");
        }
        cases += 1;
        sockets += r.listeners.len();
        forwards += r.forwards.len();
    }
    assert_eq!(cases, 300);
    eprintln!(
        "{cases} hosts, {sockets} sockets, {forwards} forwards, {blind} with an unseen owner"
    );
    assert!(
        sockets > 1_000 && forwards > 200 && blind > 20,
        "{sockets} {forwards} {blind}"
    );
}
