//! Live sockets opened by the tests themselves: every protocol and family,
//! dual-stack truth, shared and SO_REUSEPORT sockets, connected UDP.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::*;

fn v6_socket(ty: Type, v6only: bool) -> Socket {
    let protocol = if ty == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let s = Socket::new(Domain::IPV6, ty, Some(protocol)).unwrap();
    s.set_only_v6(v6only).unwrap();
    s
}

fn bound_port(s: &Socket) -> u16 {
    s.local_addr().unwrap().as_socket().unwrap().port()
}

fn only(list: &Listing) -> &Listener {
    assert_eq!(list.listeners.len(), 1, "{:#?}", list.listeners);
    &list.listeners[0]
}

fn assert_owned_by_me(l: &Listener) {
    let me = l
        .processes
        .iter()
        .find(|p| p.pid == my_pid())
        .unwrap_or_else(|| panic!("{l:#?}"));
    assert_eq!(me.name, my_comm());
    assert_eq!(me.uid, Some(unsafe { libc::getuid() }));
    assert!(
        me.started_at.as_deref().is_some_and(|t| t.ends_with('Z')),
        "{me:?}"
    );
    assert!(
        me.exe.is_some() && !me.cmdline.is_empty() && !me.fds.is_empty(),
        "{me:?}"
    );
    assert!(
        matches!(l.owner_status.as_str(), "visible" | "partial"),
        "{l:?}"
    );
}

#[test]
fn tcp_and_udp_on_ipv4_and_ipv6_with_their_owner() {
    let _g = sockets_guard();
    let t4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let t6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
    let u4 = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let u6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
    let cases = [
        ("tcp", "127.0.0.1", "ipv4", t4.local_addr().unwrap()),
        ("tcp", "::1", "ipv6", t6.local_addr().unwrap()),
        ("udp", "127.0.0.1", "ipv4", u4.local_addr().unwrap()),
        ("udp", "::1", "ipv6", u6.local_addr().unwrap()),
    ];
    for (proto, addr, family, local) in cases {
        let flag = if proto == "tcp" { "-t" } else { "-u" };
        let fam = if family == "ipv4" { "-4" } else { "-6" };
        let list = listing(&[flag, fam, "--port", &local.port().to_string()]);
        // sock_diag took the port filter (a rejected filter would fall
        // back to /proc/net and say so in notes).
        assert!(list.notes.is_empty(), "{:?}", list.notes);
        let l = only(&list);
        assert_eq!(
            (l.protocol.as_str(), l.address.as_str(), l.family.as_str()),
            (proto, addr, family)
        );
        assert_eq!(l.port, local.port());
        assert!(!l.dual_stack);
        assert_owned_by_me(l);
    }
}

/// More port ranges than fit the kernel's socket filter (its u16 lengths
/// wrapped at about 3,270: the kernel refused the request, read as
/// "sock_diag is unavailable"): every socket is read and the ranges
/// applied by whyport, which still leaves out a port not asked for.
#[test]
fn thousands_of_port_ranges_are_filtered_here() {
    let _g = sockets_guard();
    let asked = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let other = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let (p, q) = (
        asked.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    // `p` and 3,400 single ports of the other parity than `q`.
    let mut ports = vec![p];
    ports.extend(
        (1..=u16::MAX)
            .filter(|n| n % 2 != q % 2 && *n != p)
            .take(3400),
    );
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let out = run(whyport().args(["--json", "-t", "-4", "--port", &list.join(",")]));
    let listing = parse(&out);
    let found: Vec<u16> = listing.listeners.iter().map(|l| l.port).collect();
    assert!(found.contains(&p), "{found:?}");
    assert!(!found.contains(&q), "{q} was not asked for: {found:?}");
    assert_owned_by_me(
        listing
            .listeners
            .iter()
            .find(|l| l.port == p)
            .unwrap_or_else(|| panic!("{p}")),
    );
    assert!(
        !listing.notes.iter().any(|n| n.contains("sock_diag")),
        "{:?}",
        listing.notes
    );
    assert!(
        listing
            .notes
            .iter()
            .any(|n| n.contains("every socket was read")),
        "{:?}",
        listing.notes
    );
}

#[test]
fn dual_stack_and_v6only_wildcards_are_told_apart() {
    let _g = sockets_guard();
    let dual = v6_socket(Type::STREAM, false);
    dual.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
        .unwrap();
    dual.listen(8).unwrap();
    let dual_port = bound_port(&dual);

    // A v6-only [::]:P next to a separate 0.0.0.0:P: two distinct sockets.
    let (v6only, v4) = loop {
        let v6only = v6_socket(Type::STREAM, true);
        v6only
            .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
            .unwrap();
        v6only.listen(8).unwrap();
        if let Ok(v4) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, bound_port(&v6only))) {
            break (v6only, v4);
        }
    };
    let split_port = bound_port(&v6only);

    let list = listing(&["-t", "--port", &dual_port.to_string()]);
    let l = only(&list);
    assert_eq!((l.address.as_str(), l.dual_stack), ("::", true));
    assert_owned_by_me(l);

    let list = listing(&["-t", "--port", &split_port.to_string()]);
    let got: Vec<(&str, bool)> = list
        .listeners
        .iter()
        .map(|l| (l.address.as_str(), l.dual_stack))
        .collect();
    assert_eq!(got, vec![("0.0.0.0", false), ("::", false)]);

    // -4 means "accepts IPv4": the dual-stack socket is included, the
    // v6-only one is not.
    let ports = format!("{dual_port},{split_port}");
    let list = listing(&["-t", "-4", "--port", &ports]);
    let got: Vec<(u16, &str)> = list
        .listeners
        .iter()
        .map(|l| (l.port, l.address.as_str()))
        .collect();
    let mut want = vec![(dual_port, "::"), (split_port, "0.0.0.0")];
    want.sort();
    assert_eq!(got, want);

    // The table shows the dual-stack socket as '*', like ss.
    let text = table(&["-t", "--no-header", "--port", &dual_port.to_string()]);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields[..3],
        ["tcp", "*", dual_port.to_string().as_str()],
        "{text}"
    );
    drop((v4, dual));
}

#[test]
fn udp_dual_stack_and_connected_udp_is_not_a_listener() {
    let _g = sockets_guard();
    let dual = v6_socket(Type::DGRAM, false);
    dual.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
        .unwrap();
    let port = bound_port(&dual);
    let l = only(&listing(&["-u", "--port", &port.to_string()])).clone();
    assert!(l.dual_stack);

    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    client.connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let out = run(whyport().args(["--json", "-u", "-4", "--port", &client_port.to_string()]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a connected UDP socket is a client"
    );
    assert!(parse(&out).listeners.is_empty());
}

#[test]
fn socket_shared_with_a_forked_child_lists_both_owners() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = Child::fork("wp-forked", &[listener.as_raw_fd()], None);
    let list = listing(&["-t", "-4", "--port", &port.to_string()]);
    let l = only(&list);
    let mut want = vec![my_pid(), child.pid];
    want.sort();
    assert_eq!(l.pids(), want);
    let kid = l.processes.iter().find(|p| p.pid == child.pid).unwrap();
    assert_eq!(kid.name, "wp-forked");
    assert_eq!(kid.ppid, Some(my_pid()));
    assert_owned_by_me(l);

    // The table lists every PID and both names.
    let text = table(&["--no-header", "-t", "-4", "--port", &port.to_string()]);
    assert!(text.contains(&format!("{},{}", want[0], want[1])), "{text}");
    assert!(text.contains("wp-forked"), "{text}");
}

#[test]
fn reuseport_group_lists_each_socket_with_its_own_owner() {
    let _g = sockets_guard();
    let make = |port: u16| {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
            .unwrap();
        s.listen(8).unwrap();
        s
    };
    let a = make(0);
    let port = bound_port(&a);
    let b = make(port);
    // The child keeps only b; the parent then drops b.
    let child = Child::fork("wp-reuseport", &[b.as_raw_fd()], None);
    drop(b);
    let list = listing(&["-t", "-4", "--port", &port.to_string()]);
    assert_eq!(list.listeners.len(), 2, "{:#?}", list.listeners);
    let mut owners: Vec<Vec<u32>> = list.listeners.iter().map(Listener::pids).collect();
    owners.sort();
    let mut want = vec![vec![my_pid()], vec![child.pid]];
    want.sort();
    assert_eq!(owners, want);
    assert_ne!(list.listeners[0].inode, list.listeners[1].inode);
    drop(a);
}

#[test]
fn service_names_come_from_the_registry_and_numeric_hides_them() {
    let _g = sockets_guard();
    // Registered, unprivileged ports: 8080/tcp is http-alt, 5353/udp mdns.
    let Ok(t) = TcpListener::bind((Ipv4Addr::LOCALHOST, 8080)) else {
        skip(
            "service_names",
            Skip::Other,
            "127.0.0.1:8080 is in use on this host",
        );
        return;
    };
    let l = only(&listing(&["-t", "--port", "8080"])).clone();
    let s = l.service.unwrap();
    assert_eq!(s.name, "http-alt");
    assert_eq!(s.description, "HTTP Alternate (see port 80)");
    assert!(
        only(&listing(&["-n", "-t", "--port", "8080"]))
            .service
            .is_none()
    );

    let text = table(&["-t", "--port", "8080"]);
    let header = text.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "PROTO", "ADDRESS", "PORT", "SERVICE", "PID(S)", "PROCESS", "USER", "ORIGIN", "WARN"
        ]
    );
    // Root on 8080, reachable only on loopback: no warning; the origin is
    // the test's parent program.
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert!(!row.contains(&"root-unneeded"), "{text}");
    assert!(text.lines().nth(1).unwrap().contains("http-alt"), "{text}");

    // An unregistered dynamic-range port has no service.
    let high = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = high.local_addr().unwrap().port();
    if port >= 49152 {
        assert!(
            only(&listing(&["-t", "-4", "--port", &port.to_string()]))
                .service
                .is_none()
        );
    }
    drop(t);
}

#[test]
fn quiet_prints_only_the_pids() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = Child::fork("wp-quiet", &[listener.as_raw_fd()], None);
    let out = run(whyport().args(["-q", "-t", "-4", "--port", &port.to_string()]));
    let mut want = [my_pid(), child.pid];
    want.sort();
    let want: String = want.iter().map(|p| format!("{p}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn service_aliases_are_kept() {
    // Pure registry fact reached through the binary: 80/tcp is http with
    // www and www-http as aliases. Needs no socket on 80: use a fixture.
    let list = listing(&["--proc-root", "fixtures/nginx-netns", "--port", "80"]);
    let s = list.listeners[0].service.clone().unwrap();
    assert_eq!(s.name, "http");
    assert_eq!(s.aliases, ["www", "www-http"]);
    assert!(list.notes.is_empty());
}
