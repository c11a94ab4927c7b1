//! Listeners in network namespaces the tests make: sockets opened inside
//! a namespace (by a thread that enters it) and held by forked children
//! with known names, and whyport run inside a namespace.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Output;

use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::Netns;
use crate::procs::find_program;
use crate::support::*;

/// A socket to open: protocol, address, port, IPV6_V6ONLY, SO_REUSEPORT.
#[derive(Clone, Copy)]
pub struct Spec(
    pub &'static str,
    pub &'static str,
    pub u16,
    pub bool,
    pub bool,
);

pub const fn tcp(address: &'static str, port: u16) -> Spec {
    Spec("tcp", address, port, true, false)
}

/// Open `specs` inside `ns` (a thread enters the namespace; the sockets
/// stay in it after the thread ends).
pub fn open_in(ns: &Netns, specs: &[Spec]) -> Vec<OwnedFd> {
    let path = ns.path();
    let specs = specs.to_vec();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on this thread only, with a namespace fd we own.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        specs
            .iter()
            .map(|Spec(proto, address, port, v6only, reuse)| {
                let addr: SocketAddr = SocketAddr::new(address.parse().unwrap(), *port);
                let (ty, p) = if *proto == "tcp" {
                    (Type::STREAM, Protocol::TCP)
                } else {
                    (Type::DGRAM, Protocol::UDP)
                };
                let s = Socket::new(Domain::for_address(addr), ty, Some(p)).unwrap();
                if addr.is_ipv6() {
                    s.set_only_v6(*v6only).unwrap();
                }
                if *reuse {
                    s.set_reuse_port(true).unwrap();
                }
                s.bind(&addr.into()).unwrap();
                if *proto == "tcp" {
                    s.listen(16).unwrap();
                }
                OwnedFd::from(s)
            })
            .collect()
    })
    .join()
    .unwrap()
}

/// A child named `name` holding new sockets `specs` in `ns`.
pub fn hold(ns: &Netns, name: &str, specs: &[Spec]) -> Child {
    let fds = open_in(ns, specs);
    let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    // Not root: a root owner on a port from 1024 up is a warning of its own.
    Child::fork(name, &raw, Some(65534))
}

pub fn lab(test: &str, prefix: &str) -> Option<Netns> {
    if !is_root() {
        skip(test, Skip::NotRoot, "needs root for a network namespace");
        return None;
    }
    let Some(ip) = find_program("ip") else {
        skip(
            test,
            Skip::Tool("ip"),
            "needs ip (iproute2) for a network namespace",
        );
        return None;
    };
    match Netns::create(&ip, prefix) {
        Ok(ns) => {
            // An address besides loopback, as a host has: a wildcard bind
            // reaches only what its namespace has (a veth pair with both
            // ends inside, so no packet leaves the namespace).
            for args in [
                &["link", "add", "d0", "type", "veth", "peer", "name", "d1"][..],
                &["addr", "add", "198.51.100.2/24", "dev", "d0"],
                &["link", "set", "d0", "up"],
            ] {
                let out = run(ns.exec(&ip).args(args));
                assert!(
                    out.status.success(),
                    "ip {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(ns)
        }
        Err(e) => {
            skip(test, Skip::Other, e);
            None
        }
    }
}

/// whyport with `args`, run inside `ns`.
pub fn whyport_in(ns: &Netns, args: &[&str]) -> Output {
    run(ns.exec(bin_path()).args(args))
}

pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            text(o),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}
