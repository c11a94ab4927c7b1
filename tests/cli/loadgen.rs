//! A small run of the benchmark's load generator (examples/loadgen.rs), so
//! that it cannot rot: whyport must find every socket it opens, with the
//! right owners, and agree with ss on them.

use std::process::Command;

use crate::support::*;

fn field(line: &str, name: &str) -> u16 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn loadgen_smoke_run() {
    let path = loadgen_path();
    if !path.exists() {
        skip(
            "loadgen_smoke_run",
            Skip::Tool("loadgen"),
            format!(
                "{} is not built (cargo test builds examples)",
                path.display()
            ),
        );
        return;
    }
    let _g = sockets_guard();
    // --big: a process with more descriptors than a worker takes alone.
    let (load, line) = start_ready(
        &path,
        &[
            "--procs",
            "4",
            "--sockets",
            "4",
            "--fds",
            "6",
            "--prefork",
            "3",
            "--reuseport",
            "2",
            "--seconds",
            "120",
            "--big",
            "12000",
        ],
    );
    assert!(line.starts_with("ready procs=10 listeners=21 "), "{line}");
    let (prefork, reuseport, big) = (
        field(&line, "prefork_port="),
        field(&line, "reuseport_port="),
        field(&line, "big_port="),
    );

    // Every socket of the load, found by the pids that loadgen forked.
    let parent = load.0.id();
    let list = listing(&[]);
    let children = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.split_whitespace().nth(1) == Some(&parent.to_string()))
            })
            .unwrap_or(false)
    };
    let ours: Vec<&Listener> = list
        .listeners
        .iter()
        .filter(|l| !l.processes.is_empty() && l.processes.iter().all(|p| children(p.pid)))
        .collect();
    assert_eq!(ours.len(), 21, "{ours:#?}");

    // The big process: its table is split across workers, and the socket
    // at its very top is found all the same.
    let top: Vec<&&Listener> = ours.iter().filter(|l| l.port == big).collect();
    assert_eq!(top.len(), 2, "tcp and udp on the big process's port");
    assert_eq!(top[0].pids(), top[1].pids());
    let tcp = top.iter().find(|l| l.protocol == "tcp").unwrap();
    // The /proc scan too (the walk is used above when it can be): it
    // splits the big table among its workers and finds the same owner
    // and descriptor at the top.
    let scanned = parse(&run(whyport()
        .args(["--json", "--port", &big.to_string()])
        .env("WHYPORT_NO_BPF", "1")));
    let by_scan: Vec<&Listener> = scanned
        .listeners
        .iter()
        .filter(|l| l.port == big && l.protocol == "tcp")
        .collect();
    assert_eq!(by_scan.len(), 1, "{by_scan:#?}");
    assert_eq!(by_scan[0].pids(), tcp.pids());
    assert_eq!(by_scan[0].processes[0].fds, tcp.processes[0].fds);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_max >= 12_100 {
        assert!(
            tcp.processes[0].fds[0] > 10_000,
            "{:?}",
            tcp.processes[0].fds
        );
    } else {
        skip(
            "the split scan part of loadgen_smoke_run",
            Skip::Other,
            format!("the fd hard limit is {} (needs 12,100)", lim.rlim_max),
        );
    }
    assert!(ours.iter().all(|l| {
        l.processes
            .iter()
            .all(|p| p.ppid == Some(parent) && p.name == "loadgen")
    }));

    let shared: Vec<&&Listener> = ours.iter().filter(|l| l.port == prefork).collect();
    assert_eq!(shared.len(), 1);
    assert_eq!(
        shared[0].processes.len(),
        3,
        "the pre-fork socket has every child as owner"
    );

    let group: Vec<&&Listener> = ours.iter().filter(|l| l.port == reuseport).collect();
    assert_eq!(group.len(), 2, "one listener per SO_REUSEPORT socket");
    assert_ne!(group[0].pids(), group[1].pids());

    let protocols: std::collections::BTreeSet<(&str, &str)> = ours
        .iter()
        .map(|l| (l.protocol.as_str(), l.family.as_str()))
        .collect();
    assert_eq!(
        protocols.len(),
        4,
        "TCP and UDP, IPv4 and IPv6: {protocols:?}"
    );

    // The same sockets and owners as ss reports.
    if have("ss") {
        let ss = run(Command::new("ss").arg("-tulpnH"));
        let theirs = crate::ss::ss_keys(&String::from_utf8_lossy(&ss.stdout));
        for k in crate::ss_compare::keys_of(ours.iter().copied()) {
            assert!(theirs.contains(&k), "ss does not list {k:?}");
        }
    }
}
