//! whyport against `ss -tulpnH` on the same live host state: the same set of
//! (protocol, address, port, PIDs).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::*;

pub(crate) use crate::ss::ss_keys;
use crate::ss::{Key, key, split_ss_address, ss_pids};

/// whyport against ss on a live state that may still be settling: ss is
/// read before and after whyport, and a round where the two readings differ
/// is retried (5 rounds at most). Asserts that whyport's listing equals
/// ss's, socket for socket and PID for PID, and returns it.
pub(crate) fn compare_settled(
    ss: impl Fn() -> (String, Vec<Key>),
    whyport_json: impl Fn() -> std::process::Output,
) -> Listing {
    for _ in 0..5 {
        let (_, before) = ss();
        let out = whyport_json();
        let (text, after) = ss();
        if before == after {
            let list = parse(&out);
            assert_eq!(
                whyport_keys(&list),
                after,
                "whyport (left) and ss -tulpnH (right) disagree; ss said:\n{text}"
            );
            return list;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the sockets kept changing while whyport and ss read them");
}

pub(crate) fn whyport_keys(list: &Listing) -> Vec<Key> {
    keys_of(&list.listeners)
}

/// The ss-comparable keys of some listeners, sorted.
pub(crate) fn keys_of<'a>(listeners: impl IntoIterator<Item = &'a Listener>) -> Vec<Key> {
    let mut keys: Vec<Key> = listeners
        .into_iter()
        .map(|l| {
            key(
                &l.protocol,
                &l.address,
                l.port,
                l.dual_stack,
                l.interface.as_deref(),
                l.pids(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn same_sockets_and_pids_as_ss() {
    if Command::new("ss").arg("-V").output().is_err() {
        skip(
            "same_sockets_and_pids_as_ss",
            Skip::Tool("ss"),
            "ss (iproute2) is not installed; .ci/run installs it",
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

    // ss and whyport run one after the other, and other processes on the
    // host (or a test that opens sockets outside the guards) may open
    // or close sockets meanwhile: compare a run that ss saw the same just
    // before and just after. A host that never holds still for that long
    // is compared on what ss saw both times.
    let ss_now = || {
        let ss = run(Command::new("ss").arg("-tulpnH"));
        assert!(ss.status.success());
        ss_keys(&String::from_utf8_lossy(&ss.stdout))
    };
    let mut tries = 0;
    let ours = loop {
        tries += 1;
        let before = ss_now();
        let ours = whyport_keys(&listing(&[]));
        let after = ss_now();
        if before == after {
            assert_eq!(
                ours, before,
                "whyport (left) and ss -tulpnH (right) disagree"
            );
            break ours;
        }
        if tries == 10 {
            let stable: Vec<_> = before.iter().filter(|k| after.contains(k)).collect();
            let missing: Vec<_> = stable.iter().filter(|k| !ours.contains(k)).collect();
            assert!(
                missing.is_empty(),
                "ss listed these both before and after whyport, which did not: {missing:?}"
            );
            break ours;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };

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
