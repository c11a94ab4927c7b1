//! The portable backend (netstat2 + sysinfo, what macOS, Windows and
//! FreeBSD use) against the native one on the same live sockets: the same
//! listeners and owners, with exactly the documented differences
//! (docs/portable.md): no IPV6_V6ONLY, so a dual-stack socket is not told
//! from a v6-only one; connected UDP sockets are listed; no descriptor
//! numbers.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::*;

fn bound(domain: Domain, ty: Type, addr: &str, v6only: Option<bool>) -> Socket {
    let proto = if ty == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let s = Socket::new(domain, ty, Some(proto)).unwrap();
    if let Some(v) = v6only {
        s.set_only_v6(v).unwrap();
    }
    s.bind(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    if ty == Type::STREAM {
        s.listen(8).unwrap();
    }
    s
}

fn port(s: &Socket) -> u16 {
    s.local_addr().unwrap().as_socket().unwrap().port()
}

/// (protocol, address, port, dual_stack, pids, fds empty) of each listener.
type Row = (String, String, u16, bool, Vec<u32>, bool);

fn rows(list: &Listing) -> Vec<Row> {
    let mut v: Vec<Row> = list
        .listeners
        .iter()
        .map(|l| {
            (
                l.protocol.clone(),
                l.address.clone(),
                l.port,
                l.dual_stack,
                l.pids(),
                l.processes.iter().all(|p| p.fds.is_empty()),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn portable_backend_matches_native_but_for_documented_differences() {
    let _g = sockets_guard();
    let v4 = bound(Domain::IPV4, Type::STREAM, "127.0.0.1:0", None);
    let dual = bound(Domain::IPV6, Type::STREAM, "[::]:0", Some(false));
    let v6only = bound(Domain::IPV6, Type::STREAM, "[::]:0", Some(true));
    let udp = bound(Domain::IPV4, Type::DGRAM, "127.0.0.1:0", None);
    let connected = bound(Domain::IPV6, Type::DGRAM, "[::1]:0", Some(true));
    connected
        .connect(
            &format!("[::1]:{}", port(&v6only))
                .parse::<SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let ports: Vec<String> = [&v4, &dual, &v6only, &udp, &connected]
        .iter()
        .map(|s| port(s).to_string())
        .collect();
    let p = ports.join(",");
    let native = listing(&["--port", &p]);
    let portable = listing(&["--backend", "portable", "--port", &p]);
    let (n, mut q) = (rows(&native), rows(&portable));
    assert_eq!(n.len(), 4, "native: {n:?}");
    // 1. The connected UDP socket is a client: native leaves it out,
    //    netstat2 cannot tell it from a bound one.
    let client = port(&connected);
    let before = q.len();
    q.retain(|r| r.2 != client);
    assert_eq!(
        before - q.len(),
        1,
        "the connected UDP socket is listed by the portable backend: {q:?}"
    );
    assert_eq!(q.len(), n.len(), "native {n:?}\nportable {q:?}");
    for (a, b) in n.iter().zip(&q) {
        assert_eq!(
            (&a.0, &a.1, a.2, &a.4),
            (&b.0, &b.1, b.2, &b.4),
            "same listener and owners"
        );
        // 2. No IPV6_V6ONLY: never dual-stack.
        assert!(!b.3, "portable never claims dual-stack: {b:?}");
        // 3. No descriptor numbers.
        assert!(b.5, "portable has no fds: {b:?}");
        assert!(!a.5, "native has fds: {a:?}");
    }
    let dual_row = n.iter().find(|r| r.2 == port(&dual)).unwrap();
    assert!(dual_row.3, "native tells dual-stack: {dual_row:?}");
    assert!(n.iter().all(|r| r.4 == vec![my_pid()]), "{n:?}");
    // Process details come from sysinfo: the same name and user.
    let pn = portable.listeners[0].processes[0].clone();
    let nn = native.listeners[0].processes[0].clone();
    assert_eq!(
        (pn.name, pn.uid, pn.ppid, pn.exe),
        (nn.name, nn.uid, nn.ppid, nn.exe)
    );
}
