//! The Prometheus output's series: escaping, and the audit's default
//! output bounded and stable on a host with many listeners.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::*;
use crate::audit::eval::{Opening, audit};
use crate::config::ReportFormat;
use crate::model::{Process, Protocol, Snapshot, Socket, SocketFd};

#[test]
fn equal_label_sets_are_one_series() {
    let mut f = Family::gauge("m", "help");
    f.add(vec![("a", "x".into())], 1.0);
    f.add(vec![("a", "x".into())], 1.0);
    f.add(vec![("a", "q\"\\\n".into())], 1.0);
    let mut out = Vec::new();
    f.write(&mut out).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(
        text,
        "# HELP m help\n# TYPE m gauge\nm{a=\"q\\\"\\\\\\n\"} 1\nm{a=\"x\"} 2\n"
    );
}

/// A host like examples/loadgen's: 2,000 processes (PIDs from `pid_base`)
/// holding 5,000 TCP listeners on loopback, `clients` UDP clients on
/// ephemeral ports (shifted by `shift` from one run to the next, as they
/// are), and 10 TCP listeners on every address.
fn host(pid_base: u32, clients: u32, shift: u32) -> Report {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut sockets = Vec::new();
    let mut add = |protocol, address, port: u32| {
        sockets.push(Socket {
            protocol,
            address,
            port: u16::try_from(port).unwrap_or(0),
            v6only: None,
            interface: None,
            inode: sockets.len() as u64 + 1,
            uid: 1000,
            netns: 0,
        });
    };
    for port in 20_000..25_000 {
        add(Protocol::Tcp, loopback, port);
    }
    for k in 0..clients {
        add(Protocol::Udp, loopback, 32_768 + shift + k);
    }
    for port in 8000..8010 {
        add(Protocol::Tcp, IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    }
    let procs = 2000u32;
    let socket_fds = sockets
        .iter()
        .zip(0u32..)
        .map(|(s, i)| SocketFd {
            pid: pid_base + i % procs,
            fd: Some(3 + i / procs),
            inode: s.inode,
        })
        .collect();
    let processes = (0..procs)
        .map(|i| {
            let p = Process {
                pid: pid_base + i,
                ppid: Some(1),
                name: b"loadgen".to_vec(),
                exe: Some(PathBuf::from("/usr/local/bin/loadgen")),
                exe_deleted: None,
                cmdline: vec![b"loadgen".to_vec()],
                uid: Some(1000),
                user: Some("app".into()),
                started_at: Some(1_764_081_842 + u64::from(pid_base)),
                cwd: None,
                cgroup: None,
                ns_pid: None,
            };
            (p.pid, p)
        })
        .collect();
    let mut snapshot = Snapshot {
        sockets,
        socket_fds,
        processes,
        ..Snapshot::default()
    };
    snapshot.host.ephemeral_ports = Some((32_768, 60_999));
    let options = crate::explain::Options {
        services: true,
        all_namespaces: false,
        compact: true,
        firewall: false,
    };
    crate::explain::explain(snapshot, &crate::query::Query::whole_host(), options)
}

const LOOPBACK_TCP: &str = "default = \"deny\"\n[[allow]]\nprotocol = \"tcp\"\nbind = \"loopback\"\nrange = \"20000-25000\"\n";

/// The audit's Prometheus output of `report` against a policy that allows
/// the loopback TCP listeners only: each series as its name and labels.
fn series(report: &Report, detail: bool) -> BTreeSet<String> {
    series_against(report, detail, LOOPBACK_TCP)
}

fn series_against(report: &Report, detail: bool, policy: &str) -> BTreeSet<String> {
    let policy = crate::audit::policy::parse(policy).unwrap_or_else(|e| panic!("{e:?}"));
    let openings = Opening::all(report);
    let judged = audit(&policy, &openings);
    let cx = crate::render::audit::Context {
        source: "/etc/whyport.toml".into(),
        hostname: "web-1".into(),
        timestamp: "2026-12-01T00:00:00Z".into(),
        unix_time: 1_795_996_800,
        look: Default::default(),
        policy_sha256: "0".repeat(64),
        full_visibility: true,
    };
    let mut out = Vec::new();
    crate::render::audit::render(
        &judged,
        report,
        ReportFormat::Prometheus { detail },
        &cx,
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').map_or(l, |(s, _)| s).to_string())
        .collect()
}

#[test]
fn default_audit_series_are_few_and_survive_restarts() {
    let before = series(&host(1000, 4990, 0), false);
    // Every process restarted (new PIDs, start times) and every client
    // on another ephemeral port.
    let after = series(&host(70_000, 4990, 7), false);
    assert_eq!(before, after, "a restart changed the series");
    // Bounded: as many series with 2,000 clients as with 4,990, and a few
    // dozen for 10,000 listeners (the 10 exposed ones are findings).
    let few = series(&host(1000, 2000, 0), false);
    let only: Vec<_> = before.symmetric_difference(&few).collect();
    assert!(only.is_empty(), "{only:#?}");
    assert!(before.len() <= 40, "{} series:\n{before:#?}", before.len());
    let clients = "whyport_audit_finding{id=\"udp-ephemeral-client\",protocol=\"udp\",address=\"\",port=\"32768-60999\",rule=\"warning\"}";
    assert!(before.contains(clients), "{before:#?}");
    assert!(
        before.contains(
            "whyport_exposed_listener{protocol=\"tcp\",address=\"0.0.0.0\",port=\"8009\"}"
        ),
        "{before:#?}"
    );
    assert!(!before.iter().any(|s| s.contains("line")), "{before:#?}");
    // Per-socket detail is there when asked for.
    assert!(series(&host(1000, 4990, 0), true).len() > 10_000);
}

#[test]
fn a_warning_is_labelled_warning_as_in_the_table() {
    // The clients are allowed by a rule: their warning is still a
    // warning, not the rule that allowed them.
    let policy = format!("{LOOPBACK_TCP}[[allow]]\nprotocol = \"udp\"\nrange = \"32768-60999\"\n");
    let s = series_against(&host(1000, 100, 0), false, &policy);
    let warnings: Vec<&String> = s
        .iter()
        .filter(|l| l.starts_with("whyport_audit_finding{id=\"udp-ephemeral-client\""))
        .collect();
    assert_eq!(
        warnings,
        [
            "whyport_audit_finding{id=\"udp-ephemeral-client\",protocol=\"udp\",address=\"\",port=\"32768-60999\",rule=\"warning\"}"
        ],
        "{s:#?}"
    );
}
