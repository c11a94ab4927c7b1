//! Containers seen from the host: the init of a container's PID namespace
//! is treated as an init, and a runtime's port holder as the runtime's.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::tests::{listener, process, report};
use super::*;
use crate::model::{Process, Protocol};

/// A booted nspawn container: systemd-nspawn (pid 500) started its
/// systemd, PID 1 of its namespace and 501 on the host.
fn machine() -> (Arc<Process>, Arc<Process>, Arc<Process>) {
    let host_init = process(1, 0, "process_api", 0, "0::/\n");
    let nspawn = Arc::new(Process {
        cmdline: [
            "systemd-nspawn",
            "-b",
            "--volatile=overlay",
            "-D",
            "/",
            "-M",
            "lab1",
        ]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect(),
        ..(*process(500, 1, "systemd-nspawn", 0, "0::/\n")).clone()
    });
    let init = Arc::new(Process {
        ns_pid: Some(1),
        ..(*process(501, 500, "systemd", 0, "0::/init.scope\n")).clone()
    });
    (host_init, nspawn, init)
}

fn units() -> BTreeMap<u32, Vec<(String, String)>> {
    BTreeMap::from([(
        501,
        vec![(
            "echo.socket".into(),
            "[Socket]\nListenStream=7777\nAccept=yes\n".into(),
        )],
    )])
}

#[test]
fn a_containers_systemd_is_socket_activation() {
    let (host_init, nspawn, init) = machine();
    let mut r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 7777, &[&init])],
        &[&host_init, &nspawn],
    );
    r.host.socket_units = units();
    let e = &explain_all(&r)[0];
    assert_eq!(
        e.origin.kind,
        OriginKind::SocketActivation {
            socket: Some("echo.socket".into()),
            service: Some("echo@.service".into())
        }
    );
    assert!(e.origin.summary.contains("lab1"), "{}", e.origin.summary);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    // machined does not know it: into its namespaces, never a kill.
    assert_eq!(
        e.stop[0],
        "nsenter -t 501 -a systemctl stop echo.socket echo@*.service"
    );
    assert!(e.stop.iter().all(|s| !s.contains("kill")), "{:?}", e.stop);
    // machined knows it: systemctl -M.
    r.host.machines = vec![("lab1".into(), 501)];
    let e = &explain_all(&r)[0];
    assert_eq!(
        e.stop[0],
        "systemctl -M lab1 stop echo.socket echo@*.service"
    );
    assert_eq!(compact_all(&r)[&7777].origin.as_ref(), "systemd socket");
}

#[test]
fn processes_of_a_container_belong_to_its_manager() {
    let (host_init, nspawn, init) = machine();
    // Seen from a host without systemd, the container's cgroups are its
    // own manager's: system.slice/web.service.
    let web = process(600, 501, "python3", 0, "0::/system.slice/web.service\n");
    // A daemon that detached inside the container: its parent is the
    // container's init, not the host's.
    let daemon = process(610, 501, "mydaemon", 1000, "0::/\n");
    let r = report(
        vec![
            listener(Protocol::Tcp, "0.0.0.0", 8000, &[&web]),
            listener(Protocol::Tcp, "0.0.0.0", 8001, &[&daemon]),
        ],
        &[&host_init, &nspawn, &init],
    );
    let all = explain_all(&r);
    assert_eq!(all[0].origin.kind, OriginKind::SystemdUnit);
    assert_eq!(
        all[0].stop[0],
        "nsenter -t 501 -a systemctl stop web.service"
    );
    assert_eq!(
        all[0].origin.container_name.as_deref(),
        Some("lab1"),
        "{:?}",
        all[0].origin
    );
    assert_eq!(all[1].origin.kind, OriginKind::Daemon);
    assert!(
        all[1].origin.summary.contains("(systemd)"),
        "{}",
        all[1].origin.summary
    );
    assert_eq!(all[1].stop, vec!["kill 610".to_string()]);
}

#[test]
fn an_init_of_its_own_pid_namespace_is_not_killed() {
    let host_init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let unshare = process(700, 1, "unshare", 0, "0::/user.slice\n");
    let server = Arc::new(Process {
        ns_pid: Some(1),
        ..(*process(701, 700, "python3", 0, "0::/user.slice\n")).clone()
    });
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 9000, &[&server])],
        &[&host_init, &unshare],
    );
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind, OriginKind::Init, "{}", e.origin.summary);
    assert!(
        e.origin.summary.contains("unshare (pid 700)"),
        "{}",
        e.origin.summary
    );
    assert!(
        !e.stop.is_empty() && e.stop.iter().all(|s| !s.starts_with("kill")),
        "advice, and no kill of an init: {:?}",
        e.stop
    );
    assert!(
        e.warnings.iter().all(|w| w.id != "root-unneeded"),
        "{:?}",
        e.warnings
    );
}

#[test]
fn podmans_conmon_is_podmans_port_forwarder() {
    let host_init = process(1, 0, "systemd", 0, "0::/init.scope\n");
    let conmon = Arc::new(Process {
        cmdline: [
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
            "-u",
            "3f2a1b4c5d6e",
            "-r",
            "/usr/bin/crun",
            "-n",
            "web",
            "--exit-dir",
            "/run/libpod/exits",
        ]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect(),
        ..(*process(900, 1, "conmon", 0, "0::/\n")).clone()
    });
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 8080, &[&conmon])],
        &[&host_init],
    );
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind.id(), "port-forwarder");
    assert!(e.origin.kind.is_port_forwarder());
    assert!(
        e.origin
            .summary
            .starts_with("Podman's port forwarder (conmon, pid 900) for container web"),
        "{}",
        e.origin.summary
    );
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(e.stop, vec!["podman stop web".to_string()]);
    assert_eq!(compact_all(&r)[&8080].origin.as_ref(), "podman:web");
    // docker-proxy keeps its id.
    let proxy = process(
        950,
        1,
        "docker-proxy",
        0,
        "0::/system.slice/docker.service\n",
    );
    let r = report(
        vec![listener(Protocol::Tcp, "0.0.0.0", 8081, &[&proxy])],
        &[&host_init],
    );
    let e = &explain_all(&r)[0];
    assert_eq!(e.origin.kind.id(), "docker-proxy");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}
