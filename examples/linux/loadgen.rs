//! Load generator for whyport's benchmark: forks processes that hold
//! listening sockets and other descriptors, like a busy server host.
//!
//! `loadgen [--procs N] [--sockets S] [--fds F] [--prefork K] [--reuseport R] [--seconds T] [--sparse] [--big B] [--idle I] [--idle-fds G]`
//!
//! Each of N processes holds S listening sockets (TCP and UDP, IPv4 and IPv6,
//! on loopback, ephemeral ports) and about F other descriptors (pipes and
//! /dev/null), numbered densely from 0 as a daemon's are; with `--sparse`
//! each also holds one descriptor at 900. With `--big B` one more process
//! holds about B descriptors (up to its hard limit) with a TCP and a UDP
//! listener on one port at the top of its table. With `--idle I`, I more
//! processes hold G descriptors each (default 50) and no socket: the
//! fd-holders of a busy host that own nothing whyport lists. A pre-fork group of K processes shares one TCP socket, and an
//! SO_REUSEPORT group of R processes holds R sockets on one port. It binds
//! only to loopback. When every process is ready it prints one line
//! (`ready procs=... listeners=... fds=... prefork_port=... reuseport_port=...`)
//! and then runs until its standard input closes, T seconds pass, or it gets
//! SIGINT/SIGTERM; its children die with it (PR_SET_PDEATHSIG).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

struct Args {
    procs: usize,
    sockets: usize,
    fds: usize,
    prefork: usize,
    reuseport: usize,
    seconds: u32,
    sparse: bool,
    big: usize,
    idle: usize,
    idle_fds: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        procs: 2000,
        sockets: 5,
        fds: 55,
        prefork: 8,
        reuseport: 4,
        seconds: 900,
        sparse: false,
        big: 0,
        idle: 0,
        idle_fds: 50,
    };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|x| x == "--sparse") {
        a.sparse = true;
        argv.remove(i);
    }
    for pair in argv.chunks(2) {
        let value = || -> usize {
            pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("loadgen: {} needs a number", pair[0]);
                std::process::exit(2)
            })
        };
        match pair[0].as_str() {
            "--procs" => a.procs = value(),
            "--sockets" => a.sockets = value(),
            "--fds" => a.fds = value(),
            "--prefork" => a.prefork = value(),
            "--reuseport" => a.reuseport = value(),
            "--seconds" => a.seconds = value() as u32,
            "--big" => a.big = value(),
            "--idle" => a.idle = value(),
            "--idle-fds" => a.idle_fds = value(),
            other => {
                eprintln!(
                    "loadgen: unknown option {other}; see the comment at the top of examples/loadgen.rs"
                );
                std::process::exit(2)
            }
        }
    }
    a
}

/// A listening socket of the given kind (0 tcp4, 1 tcp6, 2 udp4, 3 udp6).
fn listener(kind: usize, port: u16, reuseport: bool) -> socket2::Socket {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, ty, proto) = match kind % 4 {
        0 => (Domain::IPV4, Type::STREAM, Protocol::TCP),
        1 => (Domain::IPV6, Type::STREAM, Protocol::TCP),
        2 => (Domain::IPV4, Type::DGRAM, Protocol::UDP),
        _ => (Domain::IPV6, Type::DGRAM, Protocol::UDP),
    };
    let s = Socket::new(domain, ty, Some(proto)).expect("socket");
    if reuseport {
        s.set_reuse_port(true).expect("SO_REUSEPORT");
    }
    let addr: SocketAddr = if domain == Domain::IPV4 {
        (Ipv4Addr::LOCALHOST, port).into()
    } else {
        (Ipv6Addr::LOCALHOST, port).into()
    };
    s.bind(&addr.into()).expect("bind on loopback");
    if ty == Type::STREAM {
        s.listen(16).expect("listen");
    }
    s
}

/// Open about `fds` descriptors: half pipes, the rest /dev/null.
fn hold_fds(fds: usize) {
    let mut other = 0;
    while other + 2 <= fds / 2 {
        let mut p = [0i32; 2];
        unsafe { libc::pipe(p.as_mut_ptr()) };
        other += 2;
    }
    while other < fds {
        unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        other += 1;
    }
}

fn port_of(s: &socket2::Socket) -> u16 {
    s.local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map_or(0, |a| a.port())
}

/// Fork a child that runs `setup`, reports on `ready`, then sleeps until
/// killed, its parent dies, or `seconds` pass. Descriptors the child needs
/// from the parent (a pre-fork socket) must be passed through `keep`.
fn spawn(ready: i32, keep: i32, parent: i32, seconds: u32, setup: impl FnOnce()) -> i32 {
    // SAFETY: the parent is single-threaded, so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        return pid;
    }
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        libc::alarm(seconds);
        // Like a daemon, start from a clean descriptor table: keep stdio
        // and the ready pipe, close whatever the shell or the benchmark
        // left open (it would also be counted as load).
        for fd in 3..1024 {
            if fd != ready && fd != keep {
                libc::close(fd);
            }
        }
    }
    setup();
    unsafe {
        libc::write(ready, b"!".as_ptr().cast(), 1);
        libc::close(ready);
        loop {
            libc::pause();
        }
    }
}

pub fn main() {
    let a = parse_args();
    let (mut ready_r, ready_w) = std::io::pipe().expect("pipe");
    let ready = ready_w.as_raw_fd();
    let parent = unsafe { libc::getpid() };
    let mut children = Vec::new();
    let mut fds_total = 0usize;

    for i in 0..a.procs {
        let (sockets, fds) = (a.sockets, a.fds);
        let sparse = a.sparse;
        children.push(spawn(ready, -1, parent, a.seconds, move || {
            let held: Vec<socket2::Socket> = (0..sockets)
                .map(|j| listener(i * sockets + j, 0, false))
                .collect();
            hold_fds(fds);
            if sparse {
                // One descriptor far above the rest, as a shell's fd 255.
                unsafe { libc::dup2(0, 900) };
            }
            std::mem::forget(held);
        }));
        fds_total += a.sockets + a.fds + 3;
    }

    for _ in 0..a.idle {
        let fds = a.idle_fds;
        children.push(spawn(ready, -1, parent, a.seconds, move || hold_fds(fds)));
        fds_total += a.idle_fds + 3;
    }

    let shared = listener(0, 0, false);
    let prefork_port = port_of(&shared);
    for _ in 0..a.prefork {
        children.push(spawn(ready, shared.as_raw_fd(), parent, a.seconds, || {}));
        fds_total += 4;
    }
    drop(shared);

    let first = listener(0, 0, true);
    let reuseport_port = port_of(&first);
    drop(first);
    for _ in 0..a.reuseport {
        children.push(spawn(ready, -1, parent, a.seconds, move || {
            std::mem::forget(listener(0, reuseport_port, true));
        }));
        fds_total += 4;
    }
    // One process with a very large fd table (up to its hard limit), and
    // two listeners at its very top: the scan must split it across cores.
    let mut big_port = 0;
    if a.big > 0 {
        let top = listener(0, 0, false);
        big_port = port_of(&top);
        let fds = a.big;
        let top_fd = top.as_raw_fd();
        children.push(spawn(ready, top_fd, parent, a.seconds, move || {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            unsafe {
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            let want = fds.min(lim.rlim_cur as usize).saturating_sub(16);
            for _ in 0..want {
                if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) } < 0 {
                    break;
                }
            }
            // Move the socket to the top of the table, and add a UDP one.
            unsafe {
                let high = libc::fcntl(top_fd, libc::F_DUPFD, 0);
                libc::close(top_fd);
                let _ = high;
            }
            std::mem::forget(listener(2, big_port, false));
        }));
        fds_total += a.big;
        drop(top);
    }
    drop(ready_w);

    let mut got = vec![0u8; children.len()];
    ready_r
        .read_exact(&mut got)
        .expect("every child reports ready");
    let listeners =
        a.procs * a.sockets + usize::from(a.prefork > 0) + a.reuseport + 2 * usize::from(a.big > 0);
    println!(
        "ready procs={} listeners={listeners} fds={fds_total} prefork_port={prefork_port} reuseport_port={reuseport_port} big_port={big_port}",
        children.len()
    );
    std::io::stdout().flush().ok();

    // Run until stdin closes, the time is up, or a signal arrives.
    unsafe { libc::alarm(a.seconds) };
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    for pid in children {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
