//! Targets as people type them: a word that is a process name, a prefix of
//! one, `-q` with process names (exact only), the stop advice for a socket
//! a forked child holds too (run, and the port checked closed), and the
//! `--exposed`/`--loopback` filters.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A name no other process has: `wpt` and this test process's pid.
fn unique_name(tag: &str) -> String {
    let mut name = format!("wpt{}{tag}", my_pid());
    name.truncate(15);
    name
}

#[test]
fn a_word_that_is_no_port_or_service_is_a_process_name_exact_then_prefix() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let full = unique_name("-srv");
    let prefix = unique_name("");
    let child = Child::fork(&full, &[listener.as_raw_fd()], None);
    drop(listener);

    // The whole name: the process, said on stderr.
    let out = run(whyport().args(["--json", &full]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = parse(&out);
    assert_eq!(list.listeners.len(), 1, "{list:#?}");
    assert_eq!(list.listeners[0].port, port);
    assert_eq!(list.listeners[0].pids(), vec![child.pid]);
    assert!(
        stderr(&out).contains(&format!(
            "'{full}' is not a port or an IANA service: showing processes named {full}"
        )),
        "{}",
        stderr(&out)
    );

    // A prefix: the same process, and the note names what it took.
    for args in [vec![prefix.as_str()], vec!["--process", prefix.as_str()]] {
        let out = run(whyport().arg("--json").args(&args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let list = parse(&out);
        assert_eq!(list.listeners.len(), 1, "{args:?}: {list:#?}");
        assert_eq!(list.listeners[0].pids(), vec![child.pid]);
        assert!(
            stderr(&out).contains(&format!("whose name starts with it ({full})")),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    // -q: the exact name prints the pid, by word or by --process ...
    for args in [vec![full.as_str()], vec!["--process", full.as_str()]] {
        let out = run(whyport().arg("-q").args(&args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{}\n", child.pid), "{args:?}");
    }
    // ... and a prefix never does: nothing on stdout, exit 1, and why.
    for args in [vec![prefix.as_str()], vec!["--process", prefix.as_str()]] {
        let out = run(whyport().arg("-q").args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
        assert!(
            stderr(&out).contains("-q takes exact names only")
                && stderr(&out).contains(&format!("without -q it would match {full}")),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    // A word that is a service stays the service.
    let out = run(whyport().args(["--json", "ssh"]));
    assert!(!stderr(&out).contains("not a port or an IANA service"));
    drop(child);
}

/// Kills a pid we did not spawn ourselves (a grandchild) when dropped.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

#[test]
fn stop_advice_names_every_holder_and_following_it_closes_the_port() {
    if !have(PYTHON3) {
        skip(
            "stop_advice_names_every_holder_and_following_it_closes_the_port",
            Skip::Tool("python3"),
            "needs python3 for a server that forks",
        );
        return;
    }
    let _g = sockets_guard();
    // A server whose forked child keeps the listening socket: killing the
    // parent alone leaves the port open.
    let script = "import os, socket, sys, time\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
        child = os.fork()\n\
        if child == 0:\n    time.sleep(120); os._exit(0)\n\
        print(s.getsockname()[1], os.getpid(), child, flush=True)\n\
        time.sleep(120)\n";
    let mut server = Spawned::start(
        Command::new(PYTHON3)
            .args(["-c", script])
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let fields: Vec<u32> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let (port, parent, child) = (fields[0] as u16, fields[1], fields[2]);
    let parent_guard = KillOnDrop(parent);
    let child_guard = KillOnDrop(child);

    let out = run(whyport().args(["--json", &format!("{port}/tcp")]));
    let list = parse(&out);
    assert_eq!(list.listeners.len(), 1, "{list:#?}");
    let mut pids = list.listeners[0].pids();
    pids.sort();
    let mut both = vec![parent, child];
    both.sort();
    assert_eq!(pids, both, "both hold it: {list:#?}");
    let why = list.listeners[0].why.as_ref().unwrap();
    let Some(kill) = why.stop.iter().find(|s| s.starts_with("kill ")) else {
        skip(
            "stop_advice_names_every_holder_and_following_it_closes_the_port",
            Skip::Other,
            format!(
                "the server's origin is not a plain process here: {:?}",
                why.stop
            ),
        );
        return;
    };
    let command = kill.split("   (").next().unwrap();
    let named: Vec<u32> = command
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        named.contains(&parent) && named.contains(&child),
        "{kill:?} must name {parent} and {child}"
    );
    // Follow the advice as written, and the port closes.
    let status = Command::new("kill")
        .args(command.split_whitespace().skip(1))
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
    // Both were killed: their PIDs may be another process's by the time
    // the test ends, so the guards must not kill again.
    std::mem::forget(parent_guard);
    std::mem::forget(child_guard);
    let _ = server.0.wait();
    let start = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "port {port} still open after `{command}`"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn exposed_and_loopback_filter_by_bind_and_namespace_addresses() {
    let _g = sockets_guard();
    let local = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let wild = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let local_port = local.local_addr().unwrap().port();
    let wild_port = wild.local_addr().unwrap().port();
    // Whether the wildcard reaches beyond loopback depends on this
    // namespace's addresses: the explanation says.
    let explained = listing(&[&format!("{wild_port}/tcp")]);
    let wild_exposed = explained.listeners[0]
        .why
        .as_ref()
        .unwrap()
        .exposure
        .beyond_loopback;
    let ports = |args: &[&str]| -> Vec<(u16, Option<String>)> {
        listing(args)
            .listeners
            .iter()
            .filter(|l| l.port == local_port || l.port == wild_port)
            .map(|l| (l.port, l.exposure.clone()))
            .collect()
    };
    let word = |beyond: bool| Some(if beyond { "exposed" } else { "loopback" }.to_string());
    let mut all = ports(&["-t"]);
    all.sort();
    let mut want = vec![(local_port, word(false)), (wild_port, word(wild_exposed))];
    want.sort();
    assert_eq!(all, want, "the listing says each one's exposure");
    let exposed = ports(&["-t", "--exposed"]);
    let loopback = ports(&["-t", "--loopback"]);
    assert!(
        !exposed.iter().any(|(p, _)| *p == local_port),
        "{exposed:?}"
    );
    assert!(
        loopback.iter().any(|(p, _)| *p == local_port),
        "{loopback:?}"
    );
    assert_eq!(
        exposed.iter().any(|(p, _)| *p == wild_port),
        wild_exposed,
        "{exposed:?}"
    );
    assert_eq!(
        loopback.iter().any(|(p, _)| *p == wild_port),
        !wild_exposed,
        "{loopback:?}"
    );
    // -q with a target and the filter: the loopback socket is not exposed.
    let out = run(whyport().args(["-q", "--exposed", &format!("{local_port}/tcp")]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let out = run(whyport().args(["-q", "--loopback", &format!("{local_port}/tcp")]));
    assert_eq!(stdout(&out), format!("{}\n", my_pid()), "{}", stderr(&out));
    // CSV and NDJSON carry it too.
    let csv = table(&["-t", "--format", "csv", "--loopback"]);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[header.len() - 2..],
        ["exposure", "firewall"],
        "{csv}"
    );
    let row = csv
        .lines()
        .find(|r| r.split(',').nth(3) == Some(local_port.to_string().as_str()))
        .unwrap_or_else(|| panic!("{csv}"));
    // Loopback: nothing beyond the host can send to it.
    assert!(row.ends_with(",loopback,local-only"), "{row}");
    let ndjson = table(&["-t", "--format", "ndjson", "--loopback"]);
    assert!(
        ndjson
            .lines()
            .any(|l| l.contains(&format!("\"port\":{local_port},"))
                && l.contains("\"exposure\":\"loopback\"")),
        "{ndjson}"
    );
    drop((local, wild));
}
