//! Snapshot tests of every output format over one hand-built report.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::*;
use crate::model::{Process, Protocol, Snapshot, Socket, SocketFd, Visibility};

fn socket(protocol: Protocol, address: IpAddr, port: u16, inode: u64) -> Socket {
    Socket {
        protocol,
        address,
        port,
        v6only: address.is_ipv6().then_some(true),
        interface: None,
        inode,
        uid: 0,
        netns: 0,
    }
}

fn report(visibility: Visibility) -> Report {
    let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut dual = socket(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 8080, 3);
    dual.v6only = Some(false);
    let mut link_local = socket(Protocol::Udp, "fe80::1".parse().unwrap_or(any4), 546, 4);
    link_local.interface = Some("eth0".into());
    let master = Process {
        pid: 812,
        ppid: Some(1),
        name: b"nginx".to_vec(),
        exe: Some(PathBuf::from("/usr/sbin/nginx")),
        exe_deleted: None,
        cmdline: vec![b"nginx: master process /usr/sbin/nginx".to_vec()],
        uid: Some(0),
        user: Some("root".into()),
        started_at: Some(1_764_081_842),
        cwd: None,
        cgroup: None,
        ns_pid: None,
    };
    let worker = Process {
        pid: 813,
        ppid: Some(812),
        user: Some("www-data".into()),
        uid: Some(33),
        cmdline: vec![b"nginx: worker process".to_vec()],
        ..master.clone()
    };
    let hostile = Process {
        pid: 950,
        ppid: Some(901),
        name: b"ev\xff\x1b[2J\n22 tcp".to_vec(),
        exe: Some(PathBuf::from("/usr/bin/python3.11")),
        exe_deleted: None,
        cmdline: vec![
            b"python3".to_vec(),
            b"\xff\xfe".to_vec(),
            "a\u{202e}b".as_bytes().to_vec(),
        ],
        uid: Some(1000),
        user: None,
        started_at: None,
        cwd: None,
        cgroup: None,
        ns_pid: None,
    };
    let snapshot = Snapshot {
        sockets: vec![
            socket(Protocol::Tcp, any4, 80, 1),
            socket(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80, 2),
            dual,
            link_local,
            socket(Protocol::Udp, any4, 4789, 5),
        ],
        socket_fds: vec![
            SocketFd {
                pid: 812,
                fd: Some(6),
                inode: 1,
            },
            SocketFd {
                pid: 813,
                fd: Some(6),
                inode: 1,
            },
            SocketFd {
                pid: 812,
                fd: Some(7),
                inode: 2,
            },
            SocketFd {
                pid: 813,
                fd: Some(7),
                inode: 2,
            },
            SocketFd {
                pid: 950,
                fd: Some(3),
                inode: 3,
            },
        ],
        processes: [(812, master), (813, worker), (950, hostile)]
            .into_iter()
            .collect(),
        visibility,
        notes: vec![],
        timings: vec![],
        connections: vec![],
        host: Default::default(),
        ..Snapshot::default()
    };
    let options = crate::explain::Options {
        services: true,
        all_namespaces: false,
        compact: true,
        firewall: false,
    };
    crate::explain::explain(snapshot, &crate::query::Query::whole_host(), options)
}

fn text(report: &Report, output: Output, numeric: bool) -> String {
    let mut buf = Vec::new();
    let result = render(report, None, output, numeric, &Default::default(), &mut buf);
    assert!(result.is_ok());
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn table() {
    let r = report(Visibility::default());
    insta::assert_snapshot!(text(&r, Output::Table { header: true }, false));
}

#[test]
fn table_numeric_without_header() {
    let r = report(Visibility::default());
    insta::assert_snapshot!(text(&r, Output::Table { header: false }, true));
}

#[test]
fn json() {
    let r = report(Visibility::default());
    insta::assert_snapshot!(text(&r, Output::Json { pretty: true }, false));
}

#[test]
fn json_is_valid_even_for_hostile_bytes() {
    let r = report(Visibility::default());
    let parsed: Result<serde_json::Value, _> =
        serde_json::from_str(&text(&r, Output::Json { pretty: true }, false));
    assert!(parsed.is_ok());
}

#[test]
fn pids() {
    let r = report(Visibility::default());
    assert_eq!(text(&r, Output::Pids, false), "812\n813\n950\n");
}

#[test]
fn hidden_notices() {
    let v = |unreadable: Vec<u32>, hidepid, root| Visibility {
        unreadable_pids: unreadable,
        hidepid,
        root,
        pid_namespace: false,
    };
    assert_eq!(hidden_notice(&report(v(vec![], false, true))), None);
    assert_eq!(hidden_details(&report(v(vec![], false, true))), None);
    insta::assert_snapshot!(
        [
            hidden_details(&report(v(vec![5], false, false))),
            hidden_details(&report(v(vec![], true, false))),
            hidden_details(&report(v(vec![1], false, true))),
            hidden_details(&report(v((1..=8).collect(), false, true))),
        ]
        .map(Option::unwrap_or_default)
        .join("\n")
    );
    // The line a run ends with is short; the details are in --verbose.
    let short = [
        hidden_notice(&report(v(vec![5], false, false))),
        hidden_notice(&report(v(vec![], true, false))),
        hidden_notice(&report(v(vec![1], false, true))),
        hidden_notice(&report(v((1..=8).collect(), false, true))),
    ]
    .map(Option::unwrap_or_default);
    assert_eq!(
        short,
        [
            "whyport: 2 sockets without owner, 3 maybe incomplete: not root, use sudo; see -v",
            "whyport: 2 sockets without owner, 3 maybe incomplete: hidepid, use sudo; see -v",
            "whyport: 2 sockets without owner, 3 maybe incomplete: pid 1 refuses root; see -v",
            "whyport: 2 sockets without owner, 3 maybe incomplete: 8 pids refuse root; see -v",
        ]
    );
}

#[test]
fn explanation_text() {
    use crate::query::{PortRange, Query, Target};
    let proc = |pid: u32, ppid: u32, name: &str, uid: u32, cgroup: &str, cmd: &[&str]| Process {
        pid,
        ppid: Some(ppid),
        name: name.as_bytes().to_vec(),
        exe: Some(PathBuf::from(format!("/usr/bin/{name}"))),
        exe_deleted: None,
        cmdline: cmd.iter().map(|a| a.as_bytes().to_vec()).collect(),
        uid: Some(uid),
        user: Some(if uid == 0 {
            "root".into()
        } else {
            "alice".into()
        }),
        started_at: Some(1_764_081_842),
        cwd: Some(PathBuf::from("/home/alice/app")),
        cgroup: Some(cgroup.into()),
        ns_pid: None,
    };
    let session = "0::/user.slice/user-1000.slice/session-3.scope\n";
    let processes = [
        proc(1, 0, "systemd", 0, "0::/init.scope\n", &["/sbin/init"]),
        proc(
            640,
            1,
            "sshd",
            0,
            "0::/system.slice/ssh.service\n",
            &["sshd: /usr/sbin/sshd -D"],
        ),
        proc(901, 640, "bash", 1000, session, &["-bash"]),
        proc(950, 901, "python3", 1000, session, &["python3", "app.py"]),
        proc(951, 950, "python3", 1000, session, &["python3", "app.py"]),
    ];
    let mut sock = socket(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 22, 7);
    sock.v6only = Some(false);
    let snapshot = Snapshot {
        sockets: vec![sock],
        socket_fds: vec![
            SocketFd {
                pid: 950,
                fd: Some(3),
                inode: 7,
            },
            SocketFd {
                pid: 951,
                fd: Some(3),
                inode: 7,
            },
        ],
        processes: processes.into_iter().map(|p| (p.pid, p)).collect(),
        host: crate::model::Host {
            addresses: Some(vec![
                ("lo".into(), IpAddr::V4(Ipv4Addr::LOCALHOST)),
                ("eth0".into(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
                (
                    "eth0".into(),
                    "2001:db8::5"
                        .parse()
                        .unwrap_or(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                ),
            ]),
            ephemeral_ports: Some((32768, 60999)),
            ..Default::default()
        },
        pid_states: vec![(4242, crate::model::PidState::Missing)],
        ..Snapshot::default()
    };
    let query = Query {
        targets: vec![
            Target::Ports {
                range: PortRange { start: 22, end: 22 },
                protocol: None,
            },
            Target::Pid(4242),
        ],
        ..Query::whole_host()
    };
    let options = crate::explain::Options {
        services: true,
        ..Default::default()
    };
    let report = crate::explain::explain(snapshot, &query, options);
    let answer = Answer {
        explanations: crate::explain::why::explain_all(&report),
        now: 1_764_081_842 + 3 * 3600 + 12 * 60,
    };
    let mut buf = Vec::new();
    assert!(
        render(
            &report,
            Some(&answer),
            Output::Explain,
            false,
            &Default::default(),
            &mut buf
        )
        .is_ok()
    );
    insta::assert_snapshot!(String::from_utf8_lossy(&buf));
}

/// Unit names come from cgroup paths, which a user can make up in the
/// cgroup tree delegated to them: the explanation (why, stop) and the table
/// escape them like process names.
#[test]
fn unit_names_from_cgroups_are_escaped() {
    use crate::query::{PortRange, Query, Target};
    let unit = "ev\u{202e}\u{e0041}\u{2800}x.service";
    let p = Process {
        pid: 950,
        ppid: Some(1),
        name: b"python3".to_vec(),
        exe: Some(PathBuf::from("/usr/bin/python3")),
        cmdline: vec![b"python3".to_vec()],
        uid: Some(1000),
        user: Some("alice".into()),
        started_at: Some(1_764_081_842),
        cwd: None,
        cgroup: Some(format!(
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/{unit}\n"
        )),
        exe_deleted: None,
        ns_pid: None,
    };
    let snapshot = Snapshot {
        sockets: vec![socket(
            Protocol::Tcp,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            8080,
            7,
        )],
        socket_fds: vec![SocketFd {
            pid: 950,
            fd: Some(3),
            inode: 7,
        }],
        processes: [(950, p)].into_iter().collect(),
        ..Snapshot::default()
    };
    let query = Query {
        targets: vec![Target::Ports {
            range: PortRange {
                start: 8080,
                end: 8080,
            },
            protocol: None,
        }],
        ..Query::whole_host()
    };
    let options = crate::explain::Options {
        services: true,
        all_namespaces: false,
        compact: true,
        firewall: false,
    };
    let report = crate::explain::explain(snapshot, &query, options);
    let table = text(&report, Output::Table { header: true }, false);
    let answer = Answer {
        explanations: crate::explain::why::explain_all(&report),
        now: 1_764_081_842,
    };
    let mut buf = Vec::new();
    let rendered = render(
        &report,
        Some(&answer),
        Output::Explain,
        false,
        &Default::default(),
        &mut buf,
    );
    assert!(rendered.is_ok());
    let prose = String::from_utf8_lossy(&buf);
    for out in [&table, &*prose] {
        let raw: Vec<char> = out
            .chars()
            .filter(|c| *c != '\n' && crate::sanitize::is_dangerous(*c))
            .collect();
        assert!(raw.is_empty(), "{raw:?} raw in:\n{out}");
        assert!(
            out.contains(r"ev\u{202e}\u{e0041}\u{2800}x.service"),
            "{out}"
        );
    }
}

/// A long listing is written on several threads, a chunk at a time: the
/// document must be the one written whole, byte for byte, hostile names,
/// several owners and the order included.
#[test]
fn json_written_on_threads_is_the_document_written_whole() {
    let base = report(Visibility::default());
    let mut many = report(Visibility::default());
    many.listeners = (0..3_000u64)
        .map(|i| {
            let mut l = base.listeners[(i % 5) as usize].clone();
            l.inode = 100 + i;
            l.port = 1 + (i / 5) as u16;
            l
        })
        .collect();
    let texts = json::texts(&many);
    // Serialized whole by serde, as --pretty and short listings are.
    let mut whole = serde_json::to_vec(&json::document(&many, None, &texts)).unwrap_or_default();
    whole.push(b'\n');
    for threads in [1, 3] {
        let mut buf = Vec::new();
        let doc = json::document(&many, None, &texts);
        assert!(json::write_document(doc, false, Some(threads), &mut buf).is_ok());
        assert_eq!(
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(&whole),
            "{threads} threads"
        );
    }
    let parsed: serde_json::Value = serde_json::from_slice(&whole).unwrap_or_default();
    assert_eq!(parsed["listeners"].as_array().map(Vec::len), Some(3_000));
    assert_eq!(parsed["listeners"][2_999]["inode"], 3_099);
}
