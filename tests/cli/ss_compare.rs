//! whyport against `ss -tulpnH` on the same live host state: the same set of
//! (protocol, address, port, PIDs).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::*;

type Key = (String, String, u16, Vec<u32>);

/// `0.0.0.0:22`, `[::]:22`, `*:22`, `127.0.0.53%lo:53`, `[fe80::1]%eth0:546`
/// -> ("0.0.0.0", 22), ("::", 22), ("*", 22), ("127.0.0.53%lo", 53), ...
pub(crate) fn split_ss_address(local: &str) -> (String, u16) {
    let (addr, port) = local.rsplit_once(':').unwrap();
    let addr = match addr.strip_prefix('[') {
        Some(rest) => {
            let (inner, tail) = rest.split_once(']').unwrap();
            format!("{inner}{tail}")
        }
        None => addr.to_string(),
    };
    (addr, port.parse().unwrap())
}

fn ss_pids(users: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = users
        .split("pid=")
        .skip(1)
        .map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

pub(crate) fn ss_keys(text: &str) -> Vec<Key> {
    let mut keys: Vec<Key> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = split_ss_address(f[4]);
            let users = f.get(6..).map(|u| u.join(" ")).unwrap_or_default();
            (f[0].to_string(), addr, port, ss_pids(&users))
        })
        .collect();
    keys.sort();
    keys
}

pub(crate) fn whyport_keys(list: &Listing) -> Vec<Key> {
    let mut keys: Vec<Key> = list
        .listeners
        .iter()
        .map(|l| {
            let addr = match (&l.dual_stack, &l.interface) {
                (true, Some(i)) => format!("*%{i}"),
                (true, None) => "*".into(),
                _ => l.address.clone(),
            };
            let mut pids = l.pids();
            pids.sort();
            (l.protocol.clone(), addr, l.port, pids)
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn same_sockets_and_pids_as_ss() {
    if Command::new("ss").arg("-V").output().is_err() {
        eprintln!(
            "SKIP same_sockets_and_pids_as_ss: ss (iproute2) is not installed; .ci/run installs it"
        );
        return;
    }
    let _g = exclusive_guard();
    // A varied live state of our own on top of whatever the host runs.
    let t4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let u6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
    let dual = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)).unwrap();
    dual.set_only_v6(false).unwrap();
    dual.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
        .unwrap();
    dual.listen(4).unwrap();
    let v6only = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    v6only.set_only_v6(true).unwrap();
    v6only
        .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
        .unwrap();
    let lo_bound = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    let bound_to_device = is_root() && lo_bound.bind_device(Some(b"lo")).is_ok();
    lo_bound
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into())
        .unwrap();
    let _child = Child::fork("wp-ss-shared", &[t4.as_raw_fd(), dual.as_raw_fd()], None);

    let ss = run(Command::new("ss").arg("-tulpnH"));
    assert!(ss.status.success());
    let list = listing(&[]);
    let (ss_keys, ours) = (
        ss_keys(&String::from_utf8_lossy(&ss.stdout)),
        whyport_keys(&list),
    );
    assert_eq!(
        ours, ss_keys,
        "whyport (left) and ss -tulpnH (right) disagree"
    );

    // Our own sockets are among them, in the forms we expect.
    let port = |s: &Socket| s.local_addr().unwrap().as_socket().unwrap().port();
    assert!(
        ours.iter()
            .any(|k| k.1 == "*" && k.2 == port(&dual) && k.3.len() == 2)
    );
    assert!(
        ours.iter()
            .any(|k| k.0 == "udp" && k.1 == "::" && k.2 == port(&v6only))
    );
    assert!(
        ours.iter()
            .any(|k| k.0 == "udp" && k.1 == "::1" && k.2 == u6.local_addr().unwrap().port())
    );
    if bound_to_device {
        assert!(
            ours.iter()
                .any(|k| k.1 == "0.0.0.0%lo" && k.2 == port(&lo_bound)),
            "{ours:?}"
        );
    }
}

#[test]
fn parses_ss_address_forms() {
    assert_eq!(split_ss_address("0.0.0.0:22"), ("0.0.0.0".into(), 22));
    assert_eq!(split_ss_address("[::]:22"), ("::".into(), 22));
    assert_eq!(split_ss_address("*:22"), ("*".into(), 22));
    assert_eq!(
        split_ss_address("127.0.0.53%lo:53"),
        ("127.0.0.53%lo".into(), 53)
    );
    assert_eq!(
        split_ss_address("[fe80::1]%eth0:546"),
        ("fe80::1%eth0".into(), 546)
    );
    assert_eq!(
        ss_pids(r#"users:(("nginx",pid=10,fd=6),("nginx",pid=9,fd=6),("nginx",pid=9,fd=7))"#),
        vec![9, 10]
    );
}
