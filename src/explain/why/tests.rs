use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::model::{Host, Process, Protocol};
use crate::report::{Listener, Owner, OwnerStatus, Report};
use crate::services;

pub(crate) fn process(pid: u32, ppid: u32, name: &str, uid: u32, cgroup: &str) -> Arc<Process> {
    Arc::new(Process {
        pid,
        ppid: Some(ppid),
        name: name.as_bytes().to_vec(),
        exe: Some(PathBuf::from(format!("/usr/sbin/{name}"))),
        exe_deleted: None,
        cmdline: vec![name.as_bytes().to_vec()],
        uid: Some(uid),
        user: Some(if uid == 0 {
            "root".into()
        } else {
            format!("u{uid}")
        }),
        started_at: Some(1_000),
        cwd: Some(PathBuf::from("/")),
        cgroup: Some(cgroup.into()),
        ns_pid: None,
    })
}

pub(crate) fn listener(
    protocol: Protocol,
    address: &str,
    port: u16,
    owners: &[&Arc<Process>],
) -> Listener {
    Listener {
        protocol,
        address: address.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        port,
        interface: None,
        dual_stack: false,
        inode: u64::from(port),
        socket_uid: 0,
        netns: 0,
        service: services::lookup(port, protocol),
        owners: owners
            .iter()
            .map(|p| Owner {
                process: Arc::clone(p),
                fds: vec![3],
            })
            .collect(),
        owner_status: if owners.is_empty() {
            OwnerStatus::Kernel
        } else {
            OwnerStatus::Visible
        },
    }
}

pub(crate) fn report(listeners: Vec<Listener>, extra: &[&Arc<Process>]) -> Report {
    let mut processes: BTreeMap<u32, Arc<Process>> = BTreeMap::new();
    for p in listeners
        .iter()
        .flat_map(|l| l.owners.iter().map(|o| &o.process))
        .chain(extra.iter().copied())
    {
        processes.insert(p.pid, Arc::clone(p));
    }
    Report {
        listeners,
        processes,
        host: Host {
            addresses: Some(vec![(
                "eth0".into(),
                "10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            )]),
            ephemeral_ports: Some((32768, 60999)),
            ..Host::default()
        },
        ..Report::default()
    }
}

const UNIT: &str = "0::/system.slice/nginx.service\n";

#[test]
fn nginx_master_and_workers_in_a_unit() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let master = process(812, 1, "nginx", 0, UNIT);
    let w1 = process(813, 812, "nginx", 33, UNIT);
    let w2 = process(814, 812, "nginx", 33, UNIT);
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 80, &[&master, &w1, &w2])],
        &[&init],
    );
    let e = &explain_all(&r)[0];
    assert_eq!(e.groups.len(), 1);
    assert_eq!(e.groups[0].leader.pid, 812);
    assert_eq!(
        e.groups[0]
            .workers
            .iter()
            .map(|w| w.pid)
            .collect::<Vec<_>>(),
        vec![813, 814]
    );
    assert_eq!(
        e.ancestry.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![1, 812]
    );
    assert_eq!(e.origin.kind.id(), "systemd-unit");
    assert_eq!(e.origin.summary, "systemd unit nginx.service");
    assert_eq!(e.stop[0], "systemctl stop nginx.service");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(e.mismatch, None);
    assert!(matches!(
        e.exposure,
        crate::explain::exposure::Exposure::All { .. }
    ));
}

#[test]
fn python_on_the_ssh_port_by_hand_is_flagged() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let sshd = process(640, 1, "sshd", 0, "0::/system.slice/ssh.service\n");
    let session = "0::/user.slice/user-1000.slice/session-3.scope\n";
    let bash = process(901, 640, "bash", 1000, session);
    let py = process(950, 901, "python3", 0, session);
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 22, &[&py])],
        &[&init, &sshd, &bash],
    );
    let e = &explain_all(&r)[0];
    assert_eq!(
        e.ancestry.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![1, 640, 901, 950]
    );
    assert_eq!(
        e.mismatch.as_deref(),
        Some("22/tcp is registered for ssh but is held by python3")
    );
    assert_eq!(e.stop, vec!["kill 950".to_string()]);
}

#[test]
fn exposed_redis_and_root_on_a_high_port() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let redis = process(
        700,
        1,
        "redis-server",
        0,
        "0::/system.slice/redis-server.service\n",
    );
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 6379, &[&redis])],
        &[&init],
    );
    let ids: Vec<&str> = explain_all(&r)[0].warnings.iter().map(|w| w.id).collect();
    assert_eq!(ids, vec!["exposed-datastore", "root-unneeded"]);

    let local = process(
        701,
        1,
        "redis-server",
        100,
        "0::/system.slice/redis-server.service\n",
    );
    let r = report(
        vec![listener(Protocol::Tcp, "127.0.0.1", 6379, &[&local])],
        &[&init],
    );
    assert!(
        explain_all(&r)[0].warnings.is_empty(),
        "loopback redis is fine"
    );
}

#[test]
fn telnet_deleted_executable_and_udp_client_ports() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let mut stale =
        (*process(800, 1, "in.telnetd", 0, "0::/system.slice/telnet.service\n")).clone();
    stale.exe = Some(PathBuf::from("/usr/sbin/in.telnetd (deleted)"));
    let stale = Arc::new(stale);
    let resolver = process(900, 1, "chronyd", 106, "0::/system.slice/chrony.service\n");
    let r = report(
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 23, &[&stale]),
            listener(Protocol::Udp, "0.0.0.0", 50001, &[&resolver]),
        ],
        &[&init],
    );
    let all = explain_all(&r);
    let ids = |i: usize| all[i].warnings.iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(ids(0), vec!["plaintext-login", "deleted-executable"]);
    assert_eq!(ids(1), vec!["udp-ephemeral-client"]);
}

#[test]
fn socket_activation_names_the_units() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let mut r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 8080, &[&init])],
        &[],
    );
    r.host.socket_units = BTreeMap::from([(
        1,
        vec![
            (
                "other.socket".into(),
                "[Socket]\nListenStream=/run/other.sock\n".into(),
            ),
            (
                "web.socket".into(),
                "[Socket]\nListenStream=0.0.0.0:8080\n".into(),
            ),
        ],
    )]);
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind.id(), "socket-activation");
    assert_eq!(
        e.origin.kind,
        OriginKind::SocketActivation {
            socket: Some("web.socket".into()),
            service: Some("web.service".into())
        }
    );
    assert_eq!(e.stop[0], "systemctl stop web.socket web.service");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn inetd_names_the_program_it_starts() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let inetd = process(
        300,
        1,
        "inetd",
        0,
        "0::/system.slice/openbsd-inetd.service\n",
    );
    let mut r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 13, &[&inetd])],
        &[&init],
    );
    r.host.inetd_conf = Some("# comment\necho stream tcp nowait root internal\ndaytime  stream  tcp  nowait  root  /usr/sbin/tcpd  in.daytimed -l\n".into());
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind.id(), "inetd");
    assert_eq!(
        e.origin.kind,
        OriginKind::Inetd {
            line: Some("daytime stream tcp nowait root /usr/sbin/tcpd in.daytimed -l".into())
        }
    );
    assert!(
        e.origin
            .summary
            .contains("runs `/usr/sbin/tcpd in.daytimed -l`"),
        "{}",
        e.origin.summary
    );
    assert!(
        e.stop[0].contains("daytime line in /etc/inetd.conf"),
        "{:?}",
        e.stop
    );
}

#[test]
fn docker_container_and_kernel_sockets() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let id = "4f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
    let app = process(
        4000,
        3990,
        "node",
        1000,
        &format!("0::/system.slice/docker-{id}.scope\n"),
    );
    let mut r = report(
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 3000, &[&app]),
            listener(Protocol::Udp, "0.0.0.0", 4789, &[]),
        ],
        &[&init],
    );
    let all = explain_all(&r);
    assert_eq!(all[0].origin.kind.id(), "container");
    assert_eq!(all[0].origin.summary, "Docker container 4f1c2b3a4d5e");
    assert_eq!(all[0].stop, vec!["docker stop 4f1c2b3a4d5e".to_string()]);
    assert_eq!(all[1].origin.kind.id(), "kernel");
    r.host.container_names = vec![(id.to_string(), "web".to_string())];
    let all = explain_all(&r);
    assert_eq!(all[0].origin.summary, "Docker container 4f1c2b3a4d5e (web)");
    assert_eq!(all[0].stop, vec!["docker stop web".to_string()]);
    assert_eq!(all[1].origin.kind.id(), "kernel");
}

#[test]
fn warnings_say_whether_the_program_or_only_the_port_matched() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let app = process(500, 1, "java", 1000, "0::/system.slice/app.service\n");
    let r = report(
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 8086, &[&app]),
            // WireGuard: a kernel socket on an unregistered high port.
            listener(Protocol::Udp, "0.0.0.0", 51820, &[]),
        ],
        &[&init],
    );
    let all = explain_all(&r);
    assert_eq!(all[0].warnings.len(), 1);
    assert_eq!(
        all[0].warnings[0].text,
        "8086/tcp is InfluxDB's port and is reachable from other hosts; if it is InfluxDB, datastores and admin APIs belong on loopback or a private address behind a firewall"
    );
    assert!(
        all[1].warnings.is_empty(),
        "a kernel socket is no client: {:?}",
        all[1].warnings
    );
}

#[test]
fn xinetd_names_the_service_block() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let xinetd = process(310, 1, "xinetd", 0, "0::/system.slice/xinetd.service\n");
    let mut r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 13, &[&xinetd])],
        &[&init],
    );
    r.host.inetd_conf = Some(
        "defaults\n{\n}\nservice echo\n{\n disable = yes\n type = INTERNAL\n socket_type = stream\n}\n\
         service daytime\n{\n disable = no\n socket_type = stream\n protocol = tcp\n user = nobody\n wait = no\n server = /usr/sbin/in.daytimed\n server_args = -l\n}\n"
            .into(),
    );
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind.id(), "inetd");
    assert!(
        e.origin.summary.contains("runs `/usr/sbin/in.daytimed -l`")
            && e.origin.summary.contains("xinetd service daytime"),
        "{}",
        e.origin.summary
    );
    assert!(
        e.stop[0].contains("disable = yes") && e.stop[0].contains("kill -HUP 310"),
        "{:?}",
        e.stop
    );
}

/// The listing's compact origins are worked out on several threads for a
/// long list: the same as on one, for owners of every kind (a unit, a
/// parent, master and workers where the first owner is not the leader,
/// the kernel, a user's unit).
#[test]
fn compact_origins_on_threads_are_those_on_one() {
    let init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let shell = process(
        40,
        1,
        "bash",
        1000,
        "0::/user.slice/user-1000.slice/session-2.scope\n",
    );
    let mut owners = vec![];
    for i in 0..400u32 {
        owners.push(match i % 4 {
            0 => process(1000 + i, 1, "nginx", 0, UNIT),
            1 => process(
                1000 + i,
                40,
                "python3",
                1000,
                "0::/user.slice/user-1000.slice/session-2.scope\n",
            ),
            2 => process(
                1000 + i,
                1,
                "redis",
                0,
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/redis.service\n",
            ),
            _ => process(1000 + i, 999_999, "orphan", 0, "0::/\n"),
        });
    }
    let listeners: Vec<Listener> = (0..3_000u32)
        .map(|i| {
            let owner = &owners[(i % 400) as usize];
            let mut l = match i % 7 {
                // Kernel-held.
                0 => listener(Protocol::Udp, "0.0.0.0", 0, &[]),
                // A worker listed before its master.
                1 => listener(
                    Protocol::Tcp,
                    "0.0.0.0",
                    0,
                    &[&owners[((i + 4) % 400) as usize], owner],
                ),
                _ => listener(Protocol::Tcp, "0.0.0.0", 0, &[owner]),
            };
            l.port = 1 + (i % 60_000) as u16;
            l.inode = 10_000 + u64::from(i);
            l
        })
        .collect();
    let report = report(listeners, &[&init, &shell]);
    let one = compact_on(&report, Some(1));
    assert_eq!(one.len(), 3_000);
    assert_eq!(compact_on(&report, Some(3)), one);
    let origins: std::collections::BTreeSet<&str> = one.values().map(|c| &*c.origin).collect();
    assert!(origins.len() >= 4, "owners of several kinds: {origins:?}");
}
