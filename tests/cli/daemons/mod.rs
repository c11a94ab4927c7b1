//! whyport against `ss -tulpnH` with real daemons in a private network
//! namespace: nginx (master + 2 workers, v4, v6-only and dual-stack
//! sockets), redis, dnsmasq, openbsd-inetd and a dual-stack python UDP
//! listener. The same sockets and PIDs as ss, and the right IANA names.
//!
//! Only the namespace is touched: the daemons run in it, their files live in
//! a temporary directory, and everything is stopped and removed when the
//! test ends, also when it fails.

mod lab;
mod more;
mod start;

use std::collections::BTreeSet;
use std::time::Instant;

use lab::*;
use more::*;
use start::*;

use crate::ss_compare::compare_settled;
use crate::support::*;

/// The listener for (protocol, address, port); address `*` is the
/// dual-stack `::` socket, `::` the v6-only one.
fn find<'a>(list: &'a Listing, proto: &str, addr: &str, port: u16) -> &'a Listener {
    let (address, dual) = match addr {
        "*" => ("::", true),
        a => (a, false),
    };
    let found: Vec<&Listener> = list
        .listeners
        .iter()
        .filter(|l| {
            l.protocol == proto && l.port == port && l.address == address && l.dual_stack == dual
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{proto} {addr} {port}: {found:#?}\nall: {:#?}",
        list.listeners
    );
    found[0]
}

fn service(l: &Listener) -> &str {
    l.service.as_ref().map_or("", |s| s.name.as_str())
}

fn names(l: &Listener) -> BTreeSet<&str> {
    l.processes.iter().map(|p| p.name.as_str()).collect()
}

fn users(l: &Listener) -> BTreeSet<&str> {
    l.processes
        .iter()
        .map(|p| p.user.as_deref().unwrap_or("?"))
        .collect()
}

const TEST: &str = "real_daemons_match_ss_in_a_private_namespace";

#[test]
fn real_daemons_match_ss_in_a_private_namespace() {
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root");
        return;
    }
    let (Some(ip), Some(ss)) = (find_program("ip"), find_program("ss")) else {
        let tool = if find_program("ip").is_none() {
            "ip"
        } else {
            "ss"
        };
        skip(
            TEST,
            Skip::Tool(tool),
            "ip and ss (iproute2) are not installed; .ci/run installs them",
        );
        return;
    };
    // The namespace's sockets are invisible to the other tests, but the
    // daemons are forked from this process: held like every test that
    // starts processes, and every fork goes through run() or Spawned.
    let _g = sockets_guard();
    let started_at = Instant::now();
    let mut lab = match Lab::new(ip, ss) {
        Ok(lab) => lab,
        Err(why) => {
            skip(TEST, Skip::Other, why);
            return;
        }
    };

    let nginx = start_nginx(&mut lab);
    let redis = start_redis(&mut lab);
    let dnsmasq = start_dnsmasq(&mut lab);
    let inetd = start_inetd(&mut lab);
    let python = start_python(&mut lab);
    let sshd = start_sshd(&mut lab);
    let postgres = start_postgres(&mut lab);
    let daemons = [
        nginx.is_some(),
        redis.is_some(),
        dnsmasq.is_some(),
        inetd.is_some(),
    ];
    if !daemons.contains(&true) {
        // A fresh machine without the lab's daemons skips (each missing one
        // was logged as a tool, which .ci/run, installing them all, refuses);
        // installed daemons that all declined to start fail.
        let missing: Vec<&str> = ["nginx", "redis-server", "dnsmasq", "inetd"]
            .into_iter()
            .filter(|p| find_program(p).is_none())
            .collect();
        assert!(
            !missing.is_empty(),
            "none of nginx, redis-server, dnsmasq, inetd could be started though all are installed (see the SKIP lines)"
        );
        skip(
            TEST,
            Skip::Tool(missing[0]),
            format!(
                "none of nginx, redis-server, dnsmasq, inetd could be started; not installed: {}; .ci/run installs them",
                missing.join(", ")
            ),
        );
        return;
    }

    // Socket for socket, PID for PID.
    let list = compare_settled(
        || lab.ss("-tulpnH"),
        || run(lab.exec(bin_path()).arg("--json")),
    );
    for l in &list.listeners {
        assert!(
            matches!(l.owner_status.as_str(), "visible" | "partial") && !l.processes.is_empty(),
            "{l:#?}"
        );
    }

    if let Some(master) = nginx {
        for (addr, family) in [("0.0.0.0", "ipv4"), ("::", "ipv6")] {
            let l = find(&list, "tcp", addr, 80);
            assert_eq!(l.family, family);
            assert_eq!(service(l), "http", "{l:#?}");
            assert_eq!(l.processes.len(), 3, "master + 2 workers: {l:#?}");
            assert!(l.pids().contains(&master), "{l:#?}");
            assert_eq!(names(l), BTreeSet::from(["nginx"]));
            assert_eq!(users(l), BTreeSet::from(["root", "www-data"]), "{l:#?}");
            for p in l.processes.iter().filter(|p| p.pid != master) {
                assert_eq!(p.ppid, Some(master), "a worker's parent is the master");
                assert_eq!(p.user.as_deref(), Some("www-data"));
            }
        }
        let dual = find(&list, "tcp", "*", 8081);
        assert!(dual.dual_stack && dual.family == "ipv6", "{dual:#?}");
        assert_eq!(dual.processes.len(), 3, "{dual:#?}");
    }
    if let Some((pid, uid)) = redis {
        let l = find(&list, "tcp", "127.0.0.1", 6379);
        assert_eq!(service(l), "redis", "{l:#?}");
        assert_eq!(l.pids(), [pid]);
        assert_eq!(names(l), BTreeSet::from(["redis-server"]));
        assert_eq!(l.processes[0].uid, Some(uid));
        assert_eq!(l.socket_uid, uid, "the socket was made after setpriv");
    }
    if let Some(pid) = dnsmasq {
        for proto in ["udp", "tcp"] {
            let l = find(&list, proto, "127.0.0.1", 53);
            assert_eq!(service(l), "domain", "{l:#?}");
            assert_eq!(l.pids(), [pid]);
            assert_eq!(names(l), BTreeSet::from(["dnsmasq"]));
            assert_eq!(l.processes[0].user.as_deref(), Some("nobody"));
        }
    }
    if let Some(pid) = inetd {
        for (proto, port, name) in [("tcp", 7, "echo"), ("tcp", 13, "daytime")] {
            for addr in ["0.0.0.0", "::"] {
                let l = find(&list, proto, addr, port);
                assert_eq!(service(l), name, "{l:#?}");
                assert_eq!(l.pids(), [pid]);
                assert_eq!(names(l), BTreeSet::from(["inetd"]));
            }
        }
        let l = find(&list, "udp", "0.0.0.0", 9);
        assert_eq!(service(l), "discard", "{l:#?}");
        assert_eq!(names(l), BTreeSet::from(["inetd"]));
    }
    if let Some(pid) = sshd {
        for addr in ["0.0.0.0", "::"] {
            let l = find(&list, "tcp", addr, 22);
            assert_eq!(service(l), "ssh", "{l:#?}");
            assert_eq!(l.pids(), [pid]);
            assert_eq!(names(l), BTreeSet::from(["sshd"]));
        }
    }
    if let Some(pid) = postgres {
        for addr in ["127.0.0.1", "::1"] {
            let l = find(&list, "tcp", addr, 5432);
            assert_eq!(service(l), "postgresql", "{l:#?}");
            assert_eq!(l.pids(), [pid], "the postmaster alone holds it");
            assert_eq!(names(l), BTreeSet::from(["postgres"]));
            assert_eq!(users(l), BTreeSet::from(["postgres"]));
        }
    }
    if let Some(pid) = python {
        let l = find(&list, "udp", "*", PY_PORT);
        assert!(l.dual_stack && l.family == "ipv6", "{l:#?}");
        assert_eq!(service(l), "snmp", "{l:#?}");
        assert_eq!(l.pids(), [pid]);
        assert!(l.processes[0].name.starts_with("python"), "{l:#?}");
    }
    explain_them(&lab, nginx, inetd);
    eprintln!(
        "daemons: {} listeners from nginx={} redis={} dnsmasq={} inetd={} python3={} compared with ss in {:?}",
        list.listeners.len(),
        daemons[0],
        daemons[1],
        daemons[2],
        daemons[3],
        python.is_some(),
        started_at.elapsed()
    );
}

/// `whyport TARGET` on every daemon: the right origin, and no false
/// warnings (all of them run as they should: nginx workers unprivileged,
/// redis and dnsmasq on loopback, inetd on its privileged ports).
fn explain_them(lab: &Lab, nginx: Option<u32>, inetd: Option<u32>) {
    let out = run(lab.exec(bin_path()).args([
        "--json", "80", "8081", "6379", "53", "7", "13", "9", "161", "22", "5432",
    ]));
    let list = parse(&out);
    for l in &list.listeners {
        let why = l.why.as_ref().expect("explained");
        assert!(
            why.warnings.is_empty(),
            "false warning for {}/{}: {:?}",
            l.protocol,
            l.port,
            why.warnings
        );
        assert!(!why.stop.is_empty());
        assert_eq!(
            why.ancestors.first().map(|a| a.pid),
            Some(1),
            "{:?}",
            why.ancestors
        );
    }
    if let Some(master) = nginx {
        let l = find(&list, "tcp", "0.0.0.0", 80);
        let why = l.why.as_ref().expect("explained");
        assert_eq!(why.groups.len(), 1, "{:?}", why.groups);
        assert_eq!(why.groups[0].leader, master);
        assert_eq!(why.groups[0].workers.len(), 2);
        assert_eq!(why.exposure.kind, "all");
    }
    if let Some(pid) = inetd {
        let l = find(&list, "tcp", "0.0.0.0", 7);
        let why = l.why.as_ref().expect("explained");
        assert_eq!(why.origin.kind, "inetd", "{:?}", why.origin);
        assert_eq!(why.origin.launcher.as_ref().map(|x| x.pid), Some(pid));
        let line = why.origin.inetd_line.as_deref().unwrap_or("");
        assert!(
            line.starts_with("echo") && line.contains("internal"),
            "{line}"
        );
        assert!(
            why.stop[0].contains("inetd.conf") && why.stop[0].contains(&format!("kill -HUP {pid}")),
            "{:?}",
            why.stop
        );
    }
    let text = String::from_utf8_lossy(&run(lab.exec(bin_path()).arg("6379")).stdout).into_owned();
    if !text.is_empty() {
        assert!(
            text.contains("loopback only") && !text.contains("warnings"),
            "{text}"
        );
    }
}
