use super::*;
use crate::audit::policy::parse;
use crate::explain::why::tests::{listener, process};
use crate::model::{HiddenReason, Protocol};
use crate::report::Listener;
use crate::report::{OwnerStatus, Report};

fn dual(mut l: Listener) -> Listener {
    l.dual_stack = true;
    l
}

fn report(listeners: Vec<Listener>) -> Report {
    crate::explain::why::tests::report(listeners, &[])
}

fn policy(text: &str) -> Policy {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// (finding ids, deciding rule label) per listener.
fn judge_all(text: &str, listeners: Vec<Listener>) -> Vec<(Vec<String>, Option<String>)> {
    let p = policy(text);
    let r = report(listeners);
    let ex = Opening::all(&r);
    let a = audit(&p, &ex);
    a.results
        .iter()
        .map(|j| {
            (
                j.findings.iter().map(|f| f.id.clone()).collect(),
                j.rule.map(|i| p.rules[i].label()),
            )
        })
        .collect()
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const SSH: &str = "0::/system.slice/ssh.service\n";

#[test]
fn default_deny_flags_what_no_rule_allows() {
    let sshd = process(10, 1, "sshd", 0, SSH);
    let py = process(20, 5, "python3", 1000, "0::/user.slice\n");
    let got = judge_all(
        "default = \"deny\"\n[[allow]]\nport = 22\nprocess = \"sshd\"\n",
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 22, &[&sshd]),
            listener(Protocol::Tcp, "127.0.0.1", 8080, &[&py]),
        ],
    );
    assert_eq!(got[0], (vec![], Some("allow #1 (line 2)".into())));
    assert_eq!(got[1], (ids(&["not-allowed"]), None));
}

#[test]
fn default_allow_flags_only_denied() {
    let tel = process(10, 1, "inetd", 0, "0::/system.slice/inetd.service\n");
    let py = process(20, 5, "python3", 1000, "0::/user.slice\n");
    let got = judge_all(
        "default = \"allow\"\n[[deny]]\nport = 23\nreason = \"telnet\"\n",
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 23, &[&tel]),
            listener(Protocol::Tcp, "127.0.0.1", 8080, &[&py]),
        ],
    );
    assert_eq!(got[0].0, ids(&["denied", "plaintext-login"]));
    assert_eq!(got[0].1.as_deref(), Some("deny #1 (line 2)"));
    assert_eq!(got[1], (vec![], None));
}

#[test]
fn deny_wins_over_allow_whatever_the_order() {
    let p = process(10, 1, "nc", 1000, "0::/user.slice\n");
    let got = judge_all(
        "[[allow]]\nrange = \"1-1024\"\n[[deny]]\nport = 23\n",
        vec![listener(Protocol::Tcp, "127.0.0.1", 23, &[&p])],
    );
    assert_eq!(got[0].0, ids(&["denied"]));
}

#[test]
fn each_condition_is_checked() {
    let sshd = process(10, 1, "sshd", 0, SSH);
    let l = || listener(Protocol::Tcp, "0.0.0.0", 22, &[&sshd]);
    let allowed = |rule: &str| {
        let got = judge_all(&format!("[[allow]]\nport = 22\n{rule}\n"), vec![l()]);
        got[0].0.is_empty()
    };
    for (good, bad) in [
        ("protocol = \"tcp\"", "protocol = \"udp\""),
        ("family = \"ipv4\"", "family = \"ipv6\""),
        ("bind = \"any\"", "bind = \"loopback\""),
        ("bind = \"exposed\"", "bind = \"127.0.0.0/8\""),
        ("bind = \"0.0.0.0/0\"", "bind = \"10.0.0.0/8\""),
        ("process = \"sshd\"", "process = \"nginx\""),
        ("exe = \"/usr/sbin/sshd\"", "exe = \"/usr/bin/sshd\""),
        ("user = \"root\"", "user = \"nobody\""),
        ("user = \"0\"", "user = \"1000\""),
        ("unit = \"ssh.service\"", "unit = \"sshd.service\""),
        ("unit = \"ssh\"", "unit = \"ssh.socket\""),
    ] {
        assert!(allowed(good), "{good} should allow");
        assert!(!allowed(bad), "{bad} should not allow");
    }
    assert!(!allowed("container = \"web\""));
    // ports and ranges
    let got = judge_all("[[allow]]\nports = [21, 22]\n", vec![l()]);
    assert!(got[0].0.is_empty());
    let got = judge_all("[[allow]]\nrange = \"23-30\"\n", vec![l()]);
    assert_eq!(got[0].0, ids(&["not-allowed"]));
}

#[test]
fn containers_match_by_name_or_id_prefix() {
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let app = process(
        30,
        29,
        "app",
        0,
        &format!("0::/system.slice/docker-{id}.scope\n"),
    );
    let l = || listener(Protocol::Tcp, "127.0.0.1", 9000, &[&app]);
    let allowed = |rule: &str| {
        judge_all(&format!("[[allow]]\n{rule}\n"), vec![l()])[0]
            .0
            .is_empty()
    };
    assert!(allowed("container = \"0123456789ab\""));
    assert!(allowed(&format!("container = \"{id}\"")));
    assert!(!allowed("container = \"0123\""));
    assert!(!allowed("container = \"other\""));
}

#[test]
fn long_process_names_match_the_truncated_kernel_name() {
    let p = process(
        40,
        1,
        "systemd-resolve",
        100,
        "0::/system.slice/systemd-resolved.service\n",
    );
    let got = judge_all(
        "[[allow]]\nport = 53\nprocess = \"systemd-resolved\"\n",
        vec![listener(Protocol::Udp, "127.0.0.53", 53, &[&p])],
    );
    assert!(got[0].0.is_empty(), "{got:?}");
}

/// The oldest bug of port auditors: a dual-stack `::` socket accepts IPv4
/// too, so it must meet the IPv4 rules a `0.0.0.0` socket meets.
#[test]
fn dual_stack_sockets_are_judged_as_ipv4_wildcards_too() {
    let redis = process(
        50,
        1,
        "redis-server",
        100,
        "0::/system.slice/redis.service\n",
    );
    let policy = "default = \"allow\"\nignore_warnings = [\"exposed-datastore\"]\n\
                  [[deny]]\nport = 6379\nfamily = \"ipv4\"\nbind = \"exposed\"\n";
    let v4 = listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis]);
    let both = dual(listener(Protocol::Tcp, "::", 6379, &[&redis]));
    let v6only = listener(Protocol::Tcp, "::", 6379, &[&redis]);
    let got = judge_all(policy, vec![v4, both, v6only]);
    assert_eq!(got[0].0, ids(&["denied"]));
    assert_eq!(got[1].0, ids(&["denied"]), "dual-stack accepts IPv4");
    assert!(got[2].0.is_empty(), "v6-only does not");
    // And an allow rule for IPv4 loopback only is not met by a wildcard of
    // either kind.
    let policy = "[[allow]]\nport = 6379\nbind = \"loopback\"\n";
    let got = judge_all(
        policy,
        vec![
            dual(listener(Protocol::Tcp, "::", 6379, &[&redis])),
            listener(Protocol::Tcp, "127.0.0.1", 6379, &[&redis]),
            listener(Protocol::Tcp, "::1", 6379, &[&redis]),
        ],
    );
    assert_eq!(got[0].0, ids(&["not-allowed", "exposed-datastore"]));
    assert!(got[1].0.is_empty() && got[2].0.is_empty(), "{got:?}");
    // A network rule: 0.0.0.0/0 covers an IPv4 wildcard but not a
    // dual-stack one, which also takes IPv6.
    let policy =
        "[[allow]]\nport = 6379\nbind = \"0.0.0.0/0\"\nignore_warnings = [\"exposed-datastore\"]\n";
    let got = judge_all(
        policy,
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis]),
            dual(listener(Protocol::Tcp, "::", 6379, &[&redis])),
            listener(Protocol::Tcp, "::ffff:10.1.2.3", 6379, &[&redis]),
        ],
    );
    assert!(got[0].0.is_empty());
    assert_eq!(got[1].0, ids(&["not-allowed", "exposed-datastore"]));
    assert!(got[2].0.is_empty(), "a v4-mapped address is IPv4");
    let got = judge_all(
        "[[allow]]\nport = 6379\nfamily = \"ipv6\"\nignore_warnings = [\"exposed-datastore\"]\n",
        vec![listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis])],
    );
    // The rule does not match, so its ignore_warnings does not apply.
    assert_eq!(got[0].0, ids(&["not-allowed", "exposed-datastore"]));
}

#[test]
fn warnings_are_findings_unless_ignored() {
    let redis = process(50, 1, "redis-server", 0, "0::/system.slice/redis.service\n");
    let l = || listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis]);
    let got = judge_all("default = \"allow\"\n", vec![l()]);
    assert_eq!(got[0].0, ids(&["exposed-datastore", "root-unneeded"]));
    let got = judge_all(
        "default = \"allow\"\nignore_warnings = [\"root-unneeded\"]\n",
        vec![l()],
    );
    assert_eq!(got[0].0, ids(&["exposed-datastore"]));
    // Per rule: only for what that rule allows.
    let got = judge_all(
        "ignore_warnings = [\"root-unneeded\"]\n[[allow]]\nport = 6379\nignore_warnings = [\"exposed-datastore\"]\n",
        vec![l()],
    );
    assert!(got[0].0.is_empty(), "{got:?}");
    let got = judge_all(
        "default = \"allow\"\n[[allow]]\nport = 6380\nignore_warnings = [\"exposed-datastore\", \"root-unneeded\"]\n",
        vec![l()],
    );
    assert_eq!(got[0].0, ids(&["exposed-datastore", "root-unneeded"]));
}

#[test]
fn unseen_owners_never_satisfy_owner_conditions() {
    let mut l = listener(Protocol::Tcp, "127.0.0.1", 22, &[]);
    l.owner_status = OwnerStatus::Hidden(HiddenReason::NotRoot);
    let r = report(vec![l]);
    let p = policy("[[allow]]\nport = 22\nprocess = \"sshd\"\n");
    let ex = Opening::all(&r);
    let a = audit(&p, &ex);
    let f: Vec<&str> = a.results[0]
        .findings
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(f, vec!["not-allowed", "owner-unknown"]);
    let text = &a.results[0].findings[0].message;
    assert!(text.contains("could not be seen"), "{text}");
    assert!(!a.compliant());
}

#[test]
fn the_message_names_the_nearest_rule_and_what_it_wants() {
    let py = process(20, 5, "python3", 1000, "0::/user.slice\n");
    let r = report(vec![listener(Protocol::Tcp, "0.0.0.0", 8080, &[&py])]);
    let p = policy(
        "[[allow]]\nport = 8080\nprocess = \"nginx\"\nbind = \"loopback\"\n\n[[allow]]\nport = 8080\nprocess = \"nginx\"\n[[allow]]\nport = 9090\n",
    );
    let ex = Opening::all(&r);
    let a = audit(&p, &ex);
    let m = &a.results[0].findings[0].message;
    assert!(m.starts_with("no allow rule matches 8080/tcp"), "{m}");
    assert!(m.contains("nearest rule allow #2 (line 6)"), "{m}");
    assert!(
        m.contains("process = \"nginx\"") && m.contains("python3 (pid 20)"),
        "{m}"
    );
    assert_eq!(a.decided(), vec![0, 0, 0]);
}

#[test]
fn rule_use_is_counted() {
    let sshd = process(10, 1, "sshd", 0, SSH);
    let r = report(vec![
        listener(Protocol::Tcp, "0.0.0.0", 22, &[&sshd]),
        listener(Protocol::Tcp, "::", 22, &[&sshd]),
    ]);
    let p = policy("[[allow]]\nport = 22\n[[allow]]\nport = 80\n[[deny]]\nport = 23\n");
    let ex = Opening::all(&r);
    let a = audit(&p, &ex);
    assert_eq!(a.decided(), vec![0, 2, 0]);
    assert!(a.compliant());
}

#[test]
fn hostile_rule_text_is_escaped_in_messages() {
    let p = process(20, 5, "x\u{1b}]0;pwn\u{7}", 1000, "0::/user.slice\n");
    let r = report(vec![listener(Protocol::Tcp, "127.0.0.1", 8080, &[&p])]);
    let pol = policy(
        "[[allow]]\nport = 8080\nprocess = \"a\\u001b[2J\"\n[[deny]]\nport = 8080\nprocess = \"zz\"\n",
    );
    let ex = Opening::all(&r);
    let a = audit(&pol, &ex);
    let m = &a.results[0].findings[0].message;
    assert!(!m.chars().any(|c| c.is_control()), "{m:?}");
    assert!(m.contains("\\x1b"), "{m}");
}

/// A process whose name and executable are raw bytes.
fn raw(pid: u32, name: &[u8], exe: &[u8]) -> std::sync::Arc<Process> {
    use std::os::unix::ffi::OsStrExt;
    let mut p = (*process(pid, 1, "x", 1000, "0::/user.slice\n")).clone();
    p.name = name.to_vec();
    p.exe = Some(std::ffi::OsStr::from_bytes(exe).into());
    std::sync::Arc::new(p)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Two executables whose paths differ only in bytes that are not UTF-8:
/// a rule for one never allows the other, and the lossy form (U+FFFD)
/// allows neither.
#[test]
fn names_and_paths_are_matched_on_their_bytes_never_lossily() {
    let a = raw(10, b"ev\xff", b"/p/ev\xff");
    let b = raw(20, b"ev\xfe", b"/p/ev\xfe");
    let two = || {
        vec![
            listener(Protocol::Tcp, "127.0.0.1", 8001, &[&a]),
            listener(Protocol::Tcp, "127.0.0.1", 8002, &[&b]),
        ]
    };
    let allowed = |rule: &str| -> Vec<bool> {
        judge_all(&format!("[[allow]]\n{rule}\n"), two())
            .into_iter()
            .map(|(f, _)| f.is_empty())
            .collect()
    };
    assert_eq!(allowed("exe = \"/p/ev\\uFFFD\""), [false, false]);
    assert_eq!(allowed("process = \"ev\\uFFFD\""), [false, false]);
    assert_eq!(
        allowed(&format!("exe_hex = \"{}\"", hex(b"/p/ev\xff"))),
        [true, false]
    );
    assert_eq!(
        allowed(&format!("exe_hex = \"{}\"", hex(b"/p/ev\xfe"))),
        [false, true]
    );
    assert_eq!(
        allowed(&format!("process_hex = \"{}\"", hex(b"ev\xfe"))),
        [false, true]
    );
    // A deleted executable is still matched by its exact path.
    let mut gone = (*a).clone();
    gone.exe = Some(std::ffi::OsStr::new("/p/ev (deleted)").into());
    let gone = std::sync::Arc::new(gone);
    let got = judge_all(
        "[[allow]]\nexe = \"/p/ev\"\nignore_warnings = [\"deleted-executable\"]\n",
        vec![listener(Protocol::Tcp, "127.0.0.1", 8003, &[&gone])],
    );
    assert_eq!(got[0].0, Vec::<String>::new());
}

/// User names come from the system as text; one read lossily (holding
/// U+FFFD) has unknown bytes and matches no rule's name (its uid still
/// does).
#[test]
fn a_user_name_read_lossily_matches_no_rule() {
    let mut p = (*process(10, 1, "x", 1000, "0::/user.slice\n")).clone();
    p.user = Some("u\u{fffd}".into());
    let p = std::sync::Arc::new(p);
    let one = || vec![listener(Protocol::Tcp, "127.0.0.1", 8001, &[&p])];
    let got = judge_all("[[allow]]\nuser = \"u\\uFFFD\"\n", one());
    assert_eq!(got[0].0, ids(&["not-allowed"]));
    let got = judge_all("[[allow]]\nuser = \"1000\"\n", one());
    assert_eq!(got[0].0, Vec::<String>::new());
}

fn forward(ports: crate::model::PortSet, protocol: Option<Protocol>) -> crate::report::Forward {
    crate::report::Forward {
        rule: crate::model::NatRule {
            family: "ip".into(),
            table: "nat".into(),
            chain: "PREROUTING".into(),
            handle: 9,
            protocol,
            ports,
            action: crate::model::NatAction::Dnat {
                address: "10.1.2.3".parse().ok(),
                ports: None,
            },
            ..Default::default()
        },
        destination: crate::report::Destination::OtherHost,
        to_address: "10.1.2.3".parse().ok(),
        to_ports: None,
        receivers: vec![],
        firewall: None,
    }
}

/// A forward is judged whole: a rule must name every port it catches;
/// every port and unknown ports are judged too, never skipped.
#[test]
fn forwards_are_judged_by_their_whole_port_set() {
    use crate::model::PortSet;
    let judge = |text: &str, f: crate::report::Forward| {
        let mut r = report(vec![]);
        r.forwards = vec![f];
        let p = policy(text);
        let o = Opening::all(&r);
        let a = audit(&p, &o);
        a.results[0]
            .findings
            .iter()
            .map(|f| f.id.clone())
            .collect::<Vec<_>>()
    };
    let range = || forward(PortSet::only([(8000, 8100)]), Some(Protocol::Tcp));
    assert_eq!(
        judge("[[allow]]\nport = 8000\n", range()),
        ids(&["not-allowed"])
    );
    assert_eq!(
        judge("[[allow]]\nrange = \"8000-8100\"\n", range()),
        ids(&[])
    );
    assert_eq!(
        judge(
            "[[allow]]\nports = [\"8000-8050\", \"8051-8100\"]\n",
            range()
        ),
        ids(&[])
    );
    assert_eq!(
        judge("[[deny]]\nport = 8085\n", range()),
        ids(&["not-allowed"]),
        "a deny for one port of the range does not match the whole forward"
    );
    let set = || forward(PortSet::only([(8085, 8086)]), Some(Protocol::Tcp));
    assert_eq!(
        judge("[[allow]]\nport = 8085\n", set()),
        ids(&["not-allowed"])
    );
    // Every port: only a rule that names them all, or no port.
    let every = || forward(PortSet::Every, Some(Protocol::Tcp));
    assert_eq!(
        judge("[[allow]]\nport = 80\n", every()),
        ids(&["not-allowed"])
    );
    assert_eq!(judge("[[allow]]\nrange = \"1-65535\"\n", every()), ids(&[]));
    let all_but_22 = || forward(PortSet::except([(22, 22)]), Some(Protocol::Tcp));
    assert_eq!(
        judge(
            "[[allow]]\nports = [\"1-21\", \"23-65535\"]\n",
            all_but_22()
        ),
        ids(&[])
    );
    // Unknown ports: no port list covers them; `forwarded = true` does.
    let unknown = || forward(PortSet::Undecoded, Some(Protocol::Tcp));
    assert_eq!(
        judge("[[allow]]\nrange = \"1-65535\"\n", unknown()),
        ids(&["not-allowed"])
    );
    assert_eq!(judge("[[allow]]\nforwarded = true\n", unknown()), ids(&[]));
    assert_eq!(
        judge("[[allow]]\nforwarded = false\n", unknown()),
        ids(&["not-allowed"])
    );
    // A forward of both protocols needs a rule for both.
    let both = || forward(PortSet::only([(53, 53)]), None);
    assert_eq!(
        judge("[[allow]]\nport = 53\nprotocol = \"udp\"\n", both()),
        ids(&["not-allowed"])
    );
    assert_eq!(judge("[[allow]]\nport = 53\n", both()), ids(&[]));
}

/// A DNAT reached from the output hook rewrites this host's own
/// connections only: it opens nothing to others and is not judged.
#[test]
fn output_hook_forwards_are_not_openings() {
    let mut r = report(vec![]);
    let mut f = forward(
        crate::model::PortSet::only([(8443, 8443)]),
        Some(Protocol::Tcp),
    );
    f.rule.hook = crate::model::NatHook::Output;
    r.forwards = vec![f.clone()];
    assert!(Opening::all(&r).is_empty());
    f.rule.hook = crate::model::NatHook::Prerouting;
    r.forwards = vec![f];
    assert_eq!(Opening::all(&r).len(), 1);
}

/// "matched no listener; remove it if it is stale" is never said of the
/// rule a finding names as the nearest: that rule is what the host
/// drifted from (redis moved from loopback to 0.0.0.0).
#[test]
fn the_nearest_rule_of_a_finding_is_not_stale() {
    let redis = process(
        7,
        1,
        "redis-server",
        100,
        "0::/system.slice/redis.service\n",
    );
    let r = report(vec![listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis])]);
    let p = policy(
        "[[allow]]\nport = 6379\nbind = \"loopback\"\nprocess = \"redis-server\"\n\
         [[allow]]\nport = 9999\n",
    );
    let o = Opening::all(&r);
    let a = audit(&p, &o);
    let f = &a.results[0].findings[0];
    assert_eq!((f.id.as_str(), f.nearest), ("not-allowed", Some(0)));
    assert_eq!(a.decided(), vec![0, 0]);
    assert_eq!(a.stale(), vec![1], "only the rule nothing came near");
}

/// A waiver holds a finding until its date (UTC, the last day included);
/// after it the finding fails again and the lapse is a finding of its own.
/// `--fail-on` names the least severity that fails; `[warnings.ID]` sets a
/// warning's severity or waiver.
#[test]
fn waivers_expire_and_severities_decide_what_fails() {
    use crate::audit::severity::{Date, Severity};
    let telnet = process(9, 1, "telnetd", 0, "0::/system.slice/telnet.service\n");
    let r = report(vec![listener(Protocol::Tcp, "0.0.0.0", 23, &[&telnet])]);
    let p = policy(
        "default = \"allow\"\n\
         [[deny]]\nid = \"NET-023\"\nport = 23\nreason = \"telnet\"\nseverity = \"critical\"\n\
         waiver = { reason = \"legacy switch\", ticket = \"OPS-12\", until = 2027-01-31 }\n",
    );
    let o = Opening::all(&r);
    let day = |t: &str| {
        Date::parse(t).unwrap_or(Date {
            year: 0,
            month: 1,
            day: 1,
        })
    };
    let on = |today: &str, fail_on| {
        audit_on(
            &p,
            &o,
            Terms {
                today: day(today),
                fail_on,
            },
        )
    };
    let held = on("2027-01-31", Severity::Low);
    let ids: Vec<&str> = held.findings().map(|(_, f)| f.id.as_str()).collect();
    assert!(ids.contains(&"denied"), "{ids:?}");
    assert!(!ids.contains(&"waiver-expired"), "{ids:?}");
    let denied = held
        .findings()
        .find(|(_, f)| f.id == "denied")
        .map(|(_, f)| f.clone());
    assert!(
        denied
            .as_ref()
            .is_some_and(|f| !held.counts(f) && f.severity == Severity::Critical)
    );
    // The plaintext-login warning (high) still fails a plain audit ...
    assert!(!held.compliant());
    // ... and not one that fails on critical findings only.
    assert!(on("2027-01-31", Severity::Critical).compliant());
    let lapsed = on("2027-02-01", Severity::Critical);
    assert!(!lapsed.compliant());
    let expired: Vec<String> = lapsed
        .findings()
        .filter(|(_, f)| f.id == "waiver-expired")
        .map(|(_, f)| f.message.clone())
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert!(
        expired[0].contains("OPS-12") && expired[0].contains("2027-01-31"),
        "{expired:?}"
    );
    // A warning's severity and waiver come from [warnings.ID].
    let p = policy(
        "default = \"allow\"\n[warnings.plaintext-login]\nseverity = \"low\"\n\
         waiver = { reason = \"lab\", until = 2027-01-31 }\n",
    );
    let a = audit_on(
        &p,
        &o,
        Terms {
            today: day("2027-01-01"),
            fail_on: Severity::Low,
        },
    );
    assert!(
        a.compliant(),
        "{:?}",
        a.findings().map(|(_, f)| &f.id).collect::<Vec<_>>()
    );
    let f = a
        .findings()
        .find(|(_, f)| f.id == "plaintext-login")
        .map(|(_, f)| f.severity);
    assert_eq!(f, Some(Severity::Low));
}

/// A report whose listeners have these firewall answers.
fn with_firewall(listeners: Vec<(Listener, crate::report::firewall::Answer)>) -> Report {
    let answers: Vec<_> = listeners.iter().map(|(l, a)| (l.inode, *a)).collect();
    let mut r = report(listeners.into_iter().map(|(l, _)| l).collect());
    for (inode, answer) in answers {
        r.firewalls.insert(
            inode,
            std::sync::Arc::new(crate::report::firewall::Reachability {
                answer,
                paths: vec![],
                notes: vec![],
                summary: format!("{} (made up for the test)", answer.id()),
                lines: vec![],
            }),
        );
    }
    r
}

#[test]
fn reach_conditions_follow_the_firewall_and_undecided_meets_neither() {
    use crate::report::firewall::Answer;
    let redis = process(
        10,
        1,
        "redis-server",
        100,
        "0::/system.slice/redis.service\n",
    );
    let at = |port: u16, inode: u64| {
        let mut l = listener(Protocol::Tcp, "0.0.0.0", port, &[&redis]);
        l.inode = inode;
        l
    };
    let r = with_firewall(vec![
        (at(6379, 1), Answer::OpenFrom),
        (at(6380, 2), Answer::Blocked),
        (at(6381, 3), Answer::Undecided),
        (at(6382, 4), Answer::Open),
    ]);
    let p = policy(
        "default = \"deny\"\n[[deny]]\nrange = \"6379-6382\"\nreach = \"open\"\nid = \"no-open-redis\"\n[[allow]]\nrange = \"6379-6382\"\nreach = \"firewalled\"\n",
    );
    let ex = Opening::all(&r);
    let a = audit(&p, &ex);
    let decided: Vec<(u16, Option<String>, Vec<String>)> = a
        .results
        .iter()
        .zip(&ex)
        .map(|(j, o)| {
            let Opening::Socket(e) = o else { panic!() };
            (
                e.listener.port,
                j.rule.map(|i| p.rules[i].label()),
                j.findings.iter().map(|f| f.id.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(decided[0].1.as_deref(), Some("deny #1 (line 2)"));
    assert_eq!(decided[1].1.as_deref(), Some("allow #1 (line 6)"));
    // Allowed; the bind's exposure is still a warning (a firewall is one
    // rule change away from letting it in), which a rule may ignore.
    assert_eq!(decided[1].2, ids(&["exposed-datastore"]));
    // Undecided: neither rule; the default denies it.
    assert_eq!(decided[2].1, None);
    assert_eq!(decided[2].2, ids(&["not-allowed", "exposed-datastore"]));
    assert_eq!(decided[3].1.as_deref(), Some("deny #1 (line 2)"));
    // A loopback socket is firewalled: nothing beyond the host reaches it.
    let lo = listener(Protocol::Tcp, "127.0.0.1", 6379, &[&redis]);
    let got = judge_all(
        "default = \"deny\"\n[[allow]]\nport = 6379\nreach = \"firewalled\"\n",
        vec![lo],
    );
    assert_eq!(got[0], (vec![], Some("allow #1 (line 2)".into())));
    // The rule's content digest says it has a reach condition.
    let plain = policy("[[allow]]\nport = 22\n");
    let reach = policy("[[allow]]\nport = 22\nreach = \"open\"\n");
    assert_ne!(plain.rules[0].digest, reach.rules[0].digest);
    assert!(parse("[[allow]]\nport = 22\nreach = \"maybe\"\n").is_err());
}

/// Rules are found through an index by port (RuleIndex): whatever the
/// index holds them in, the first deny in policy order decides, then the
/// first allow, whether a rule names one port, a few, many (tried on
/// every listener) or none; a `[[require]]` rule finds its listener the
/// same way.
#[test]
fn indexed_rules_keep_policy_order() {
    let p = process(10, 1, "nc", 1000, "0::/user.slice\n");
    let decided = |text: &str, listeners: Vec<Listener>| {
        let pol = policy(text);
        let r = report(listeners);
        let o = Opening::all(&r);
        let a = audit(&pol, &o);
        let id = |i: usize| pol.rules[i].id.clone().unwrap_or_default();
        let rules: Vec<String> = a
            .results
            .iter()
            .map(|j| j.rule.map(id).unwrap_or_default())
            .collect();
        let missing: Vec<String> = a.missing.iter().map(|i| id(*i)).collect();
        (rules, missing)
    };
    let few = "\
[[allow]]\nport = 8080\nid = \"ONE\"\n\
[[allow]]\nports = [8080, \"8079-8081\"]\nid = \"FEW\"\n\
[[allow]]\nprotocol = \"tcp\"\nid = \"ANY\"\n\
[[deny]]\nports = [7000, 8080]\nprocess = \"other\"\nid = \"NOPE\"\n\
[[deny]]\nrange = \"1-65535\"\nprocess = \"nc\"\nid = \"LATE\"\nprotocol = \"udp\"\n\
[[require]]\nport = 8080\nid = \"NEED\"\n\
[[require]]\nrange = \"100-200\"\nid = \"GONE\"\n\
[[require]]\nrange = \"9000-9999\"\nid = \"WIDE-NEED\"\n";
    let wide = format!("[[allow]]\nrange = \"8000-9000\"\nid = \"WIDE\"\n{few}");
    let listeners = || {
        vec![
            listener(Protocol::Tcp, "127.0.0.1", 8080, &[&p]),
            listener(Protocol::Tcp, "127.0.0.1", 8081, &[&p]),
            listener(Protocol::Tcp, "127.0.0.1", 9500, &[&p]),
            listener(Protocol::Udp, "127.0.0.1", 8080, &[&p]),
            listener(Protocol::Udp, "127.0.0.1", 9999, &[&p]),
        ]
    };
    let (rules, missing) = decided(&wide, listeners());
    assert_eq!(rules, ["WIDE", "WIDE", "ANY", "LATE", "LATE"]);
    assert_eq!(missing, ["GONE"]);
    let (rules, missing) = decided(few, listeners());
    assert_eq!(rules, ["ONE", "FEW", "ANY", "LATE", "LATE"]);
    assert_eq!(missing, ["GONE"]);
}
