use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::model::{HiddenReason, NatAction, NatRule, Process, Protocol, Visibility};

fn socket(
    protocol: Protocol,
    address: IpAddr,
    port: u16,
    inode: u64,
    v6only: Option<bool>,
) -> Socket {
    Socket {
        protocol,
        address,
        port,
        v6only,
        interface: None,
        inode,
        uid: 0,
        netns: 0,
    }
}

fn process(pid: u32, name: &str) -> Process {
    Process {
        pid,
        ppid: Some(1),
        name: name.as_bytes().to_vec(),
        ..Process::default()
    }
}

fn with_services() -> Options {
    Options {
        services: true,
        ..Options::default()
    }
}

fn asking(targets: Vec<Target>) -> Query {
    Query {
        targets,
        ..Query::whole_host()
    }
}

fn port(port: u16) -> Target {
    Target::Ports {
        range: crate::query::PortRange {
            start: port,
            end: port,
        },
        protocol: None,
    }
}

fn snapshot() -> Snapshot {
    let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    Snapshot {
        sockets: vec![
            socket(Protocol::Udp, any4, 53, 30, None),
            socket(Protocol::Tcp, any6, 80, 20, Some(true)),
            socket(Protocol::Tcp, any4, 80, 10, None),
            socket(Protocol::Tcp, any6, 22, 40, Some(false)),
            socket(Protocol::Udp, any4, 4789, 50, None),
        ],
        socket_fds: vec![
            SocketFd {
                pid: 101,
                fd: Some(6),
                inode: 10,
            },
            SocketFd {
                pid: 100,
                fd: Some(6),
                inode: 10,
            },
            SocketFd {
                pid: 100,
                fd: Some(7),
                inode: 10,
            },
            SocketFd {
                pid: 100,
                fd: Some(8),
                inode: 20,
            },
            SocketFd {
                pid: 101,
                fd: Some(8),
                inode: 20,
            },
            SocketFd {
                pid: 7,
                fd: Some(3),
                inode: 40,
            },
            SocketFd {
                pid: 999,
                fd: Some(3),
                inode: 30,
            }, // exited before its details were read
        ],
        processes: [
            (100, process(100, "nginx")),
            (101, process(101, "nginx")),
            (7, process(7, "sshd")),
        ]
        .into_iter()
        .collect(),
        visibility: Visibility::default(),
        notes: vec![],
        timings: vec![],
        connections: vec![],
        host: Default::default(),
        ..Snapshot::default()
    }
}

#[test]
fn joins_every_owner_and_sorts_by_port_protocol_address() {
    let r = explain(snapshot(), &Query::whole_host(), with_services());
    let rows: Vec<(u16, &str, String, Vec<u32>)> = r
        .listeners
        .iter()
        .map(|l| {
            let pids = l.owners.iter().map(|o| o.process.pid).collect();
            (l.port, l.protocol.as_str(), l.address.to_string(), pids)
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (22, "tcp", "::".into(), vec![7]),
            (53, "udp", "0.0.0.0".into(), vec![]),
            (80, "tcp", "0.0.0.0".into(), vec![100, 101]),
            (80, "tcp", "::".into(), vec![100, 101]),
            (4789, "udp", "0.0.0.0".into(), vec![]),
        ]
    );
    let nginx = &r.listeners[2];
    assert_eq!(
        nginx.owners[0].fds,
        vec![6, 7],
        "one process may hold a socket twice"
    );
    assert_eq!(nginx.service.map(|s| s.name()), Some("http"));
}

#[test]
fn dual_stack_only_for_wildcard_without_v6only() {
    let r = explain(snapshot(), &Query::whole_host(), with_services());
    let dual: Vec<(u16, bool)> = r.listeners.iter().map(|l| (l.port, l.dual_stack)).collect();
    assert_eq!(
        dual,
        vec![
            (22, true),
            (53, false),
            (80, false),
            (80, false),
            (4789, false)
        ]
    );
    let specific = socket(
        Protocol::Tcp,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        1,
        1,
        Some(false),
    );
    assert!(!specific.is_dual_stack());
    let unknown = socket(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 1, 1, None);
    assert!(!unknown.is_dual_stack());
}

#[test]
fn full_visibility_means_ownerless_sockets_belong_to_the_kernel() {
    let r = explain(snapshot(), &Query::whole_host(), with_services());
    let status: Vec<OwnerStatus> = r.listeners.iter().map(|l| l.owner_status).collect();
    use OwnerStatus::*;
    assert_eq!(status, vec![Visible, Kernel, Visible, Visible, Kernel]);
    assert_eq!(
        (r.hidden.hidden, r.hidden.partial, r.hidden.reason),
        (0, 0, None)
    );
}

#[test]
fn partial_visibility_marks_hidden_and_partial_with_the_reason() {
    let mut s = snapshot();
    s.visibility = Visibility {
        unreadable_pids: vec![1, 2],
        hidepid: false,
        root: false,
        pid_namespace: false,
    };
    let r = explain(s, &Query::whole_host(), with_services());
    use OwnerStatus::*;
    let r_ = HiddenReason::NotRoot;
    let status: Vec<OwnerStatus> = r.listeners.iter().map(|l| l.owner_status).collect();
    assert_eq!(
        status,
        vec![
            Partial(r_),
            Hidden(r_),
            Partial(r_),
            Partial(r_),
            Hidden(r_)
        ]
    );
    assert_eq!((r.hidden.hidden, r.hidden.partial), (2, 3));
    assert_eq!(r.hidden.unreadable_pids, vec![1, 2]);
}

#[test]
fn hidden_reason_priorities() {
    let v = |unreadable: Vec<u32>, hidepid, root| Visibility {
        unreadable_pids: unreadable,
        hidepid,
        root,
        pid_namespace: false,
    };
    assert_eq!(v(vec![], false, true).hidden_reason(), None);
    assert_eq!(
        v(vec![], true, true).hidden_reason(),
        None,
        "hidepid does not hide from root"
    );
    assert_eq!(
        v(vec![], true, false).hidden_reason(),
        Some(HiddenReason::Hidepid)
    );
    assert_eq!(
        v(vec![1], false, false).hidden_reason(),
        Some(HiddenReason::NotRoot)
    );
    assert_eq!(
        v(vec![1], false, true).hidden_reason(),
        Some(HiddenReason::FdUnreadable)
    );
    let contained = Visibility {
        pid_namespace: true,
        ..v(vec![], false, true)
    };
    assert_eq!(contained.hidden_reason(), Some(HiddenReason::PidNamespace));
}

#[test]
fn numeric_skips_service_names() {
    let r = explain(snapshot(), &Query::whole_host(), Options::default());
    assert!(r.listeners.iter().all(|l| l.service.is_none()));
}

#[test]
fn the_query_selects_listeners_and_says_which_targets_found_nothing() {
    let mut s = snapshot();
    s.pid_states = vec![(42, PidState::Missing)];
    let targets = vec![
        Target::Process {
            name: "sshd".into(),
            positional: false,
        },
        port(9000),
        Target::Pid(42),
    ];
    let r = explain(s, &asking(targets.clone()), with_services());
    let ports: Vec<u16> = r.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![22]);
    let missing: Vec<Target> = r.unanswered.iter().map(|u| u.target.clone()).collect();
    assert_eq!(missing, targets[1..].to_vec());
    assert_eq!(r.unanswered[1].process, Some(PidState::Missing));
    assert_eq!(r.unanswered[0].process, None);
    // Only what was asked counts as hidden or partial.
    assert_eq!((r.hidden.hidden, r.hidden.partial), (0, 0));
}

/// A forward's receiver is known by its socket, not by its place in a
/// list the query narrows: `--pid 100 8080` with 8080 redirected to 22
/// names sshd's socket as the receiver, not whatever took its index.
#[test]
fn a_forward_names_its_receiver_whatever_the_query_keeps() {
    let mut s = snapshot();
    s.nat_rules = vec![NatRule {
        family: "ip".into(),
        table: "nat".into(),
        chain: "PREROUTING".into(),
        handle: 7,
        protocol: Some(Protocol::Tcp),
        ports: crate::model::PortSet::only([(8080, 8080)]),
        action: NatAction::Redirect {
            ports: Some((22, 22)),
        },
        ..NatRule::default()
    }];
    let r = explain(
        s,
        &asking(vec![Target::Pid(100), port(8080)]),
        with_services(),
    );
    let ports: Vec<u16> = r.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![80, 80], "nginx's two sockets");
    assert_eq!(r.forwards.len(), 1);
    let receivers: Vec<(u16, u32)> = r.forwards[0]
        .receivers
        .iter()
        .filter_map(|i| r.listener(*i))
        .map(|l| (l.port, l.owners[0].process.pid))
        .collect();
    assert_eq!(receivers, vec![(22, 7)]);
    assert!(r.unanswered.is_empty(), "the forward answers 8080");
}

#[test]
fn compact_origins_are_found_by_socket() {
    let options = Options {
        compact: true,
        ..with_services()
    };
    let r = explain(snapshot(), &asking(vec![port(22)]), options);
    assert_eq!(r.listeners.len(), 1);
    assert_eq!(r.origins.keys().copied().collect::<Vec<_>>(), vec![40]);
}
