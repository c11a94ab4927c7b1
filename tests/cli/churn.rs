//! whyport while the host changes under it: a churn generator opens and
//! closes listeners and forks short-lived children; every run must exit 0
//! with well-formed output, report the test's long-lived listener with its
//! exact owners, and (but for a measured rare race) never present a socket
//! that closed mid-scan as one nobody holds.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use crate::support::*;

const RUNS: usize = 200;

const CHURN: &str = r#"
import os, random, signal, socket, sys, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
print("ready", flush=True)
end = time.time() + 120
while time.time() < end:
    kind = socket.SOCK_STREAM if random.random() < 0.5 else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    if random.random() < 0.3 and os.fork() == 0:
        time.sleep(random.random() * 0.005)
        os._exit(0)
    time.sleep(random.random() * 0.002)
    s.close()
"#;

/// (protocol, address, port) of every listener shown with no owner at all
/// ("kernel" where every process could be inspected, "hidden" where some
/// could not, as in a sandbox whose PID 1 hides its descriptors).
fn ownerless(list: &Listing) -> BTreeSet<(String, String, u16)> {
    list.listeners
        .iter()
        .filter(|l| l.processes.is_empty())
        .map(|l| (l.protocol.clone(), l.address.clone(), l.port))
        .collect()
}

/// Runs in which a socket closing just as its tables are read again may
/// still show with no owner. Measured under this generator: 1-3 runs of 200
/// (always a UDP socket), against 92 of 200 without the second read of the
/// tables; the bound sits between the two.
const ALLOWED_OWNERLESS_RUNS: usize = RUNS / 20;

#[test]
fn repeated_runs_under_churn() {
    if !have(PYTHON3) {
        skip(
            "repeated_runs_under_churn",
            Skip::Tool("python3"),
            "python3 is not installed",
        );
        return;
    }
    let _g = sockets_guard();
    let steady = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = steady.local_addr().unwrap().port();
    let child = Child::fork(&my_comm(), &[steady.as_raw_fd()], None);
    let mut owners = vec![my_pid(), child.pid];
    owners.sort();
    let before = ownerless(&listing(&[]));

    let mut churn = Spawned::start(
        Command::new(PYTHON3)
            .args(["-c", CHURN])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(churn.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");

    let mut ownerless_runs = 0;
    for i in 0..RUNS {
        let out = run(whyport().args(["--json", "-t", "-u", "-4"]));
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list = parse(&out);
        let steady: Vec<&Listener> = list
            .listeners
            .iter()
            .filter(|l| l.protocol == "tcp" && l.port == port)
            .collect();
        assert_eq!(
            steady.len(),
            1,
            "run {i}: the long-lived listener is always there"
        );
        assert_eq!(steady[0].pids(), owners, "run {i}: with exactly its owners");
        let new: Vec<_> = ownerless(&list).difference(&before).cloned().collect();
        if !new.is_empty() {
            eprintln!("run {i}: sockets shown with no owner: {new:?}");
            ownerless_runs += 1;
        }
    }
    assert!(
        ownerless_runs <= ALLOWED_OWNERLESS_RUNS,
        "{ownerless_runs} of {RUNS} runs showed closing sockets with no owner"
    );
}
