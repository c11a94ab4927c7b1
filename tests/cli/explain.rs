//! `whyport TARGET`: live processes with known ancestry, worker groups, a
//! deleted executable, a port used only by connections, and the target
//! forms.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Kills a pid we did not spawn ourselves (a grandchild) when dropped.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

fn explained(args: &[&str]) -> (Option<i32>, Listing) {
    let out = run(whyport().arg("--json").args(args));
    (out.status.code(), parse(&out))
}

fn why(l: &Listener) -> &Why {
    l.why.as_ref().expect("explained listeners carry `why`")
}

#[test]
fn a_listener_started_from_a_shell_shows_that_chain() {
    let missing = [("python3", PYTHON3), ("bash", "bash")]
        .into_iter()
        .find(|(_, program)| !have(program));
    if let Some((tool, _)) = missing {
        skip(
            "a_listener_started_from_a_shell_shows_that_chain",
            Skip::Tool(tool),
            format!("needs bash and python3; {tool} is not installed"),
        );
        return;
    }
    let _g = sockets_guard();
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let mut shell = Spawned::start(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let script = format!(
        "{PYTHON3} -c 'import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); open(\"{}\", \"w\").write(str(s.getsockname()[1])); time.sleep(120)'\n",
        port_file.display()
    );
    shell
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let port = loop {
        if let Some(p) = std::fs::read_to_string(&port_file)
            .ok()
            .filter(|p| !p.is_empty())
        {
            break p;
        }
        assert!(Instant::now() < deadline, "python did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (code, list) = explained(&[&format!("{port}/tcp"), "-4"]);
    assert_eq!(code, Some(0));
    let l = &list.listeners[0];
    let python = l.processes[0].pid;
    let _kill = KillOnDrop(python);
    let w = why(l);
    let chain: Vec<u32> = w.ancestors.iter().map(|a| a.pid).collect();
    let bash = shell.0.id();
    assert!(chain.ends_with(&[my_pid(), bash, python]), "{chain:?}");
    assert_eq!(chain.first(), Some(&1));
    assert_eq!(w.origin.kind, "shell", "{:?}", w.origin);
    assert_eq!(w.origin.launcher.as_ref().map(|x| x.pid), Some(bash));
    assert_eq!(w.stop, vec![format!("kill {python}")]);
    assert_eq!(w.exposure.kind, "loopback");
    assert!(l.processes[0].cwd.is_some());

    // The prose answer says the same.
    let text = table(&[&port]);
    assert!(
        text.contains(&format!("bash({bash}) -> python3({python})")),
        "{text}"
    );
    assert!(text.contains("started by hand from a shell"), "{text}");
    assert!(text.contains("loopback only"), "{text}");
}

#[test]
fn a_forked_worker_group_is_grouped_under_its_leader() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // Same name as the test process: a pre-fork server's worker.
    let w1 = Child::fork(&my_comm(), &[listener.as_raw_fd()], None);
    let w2 = Child::fork(&my_comm(), &[listener.as_raw_fd()], None);
    let (_, list) = explained(&["-t", "-4", &port]);
    let groups = &why(&list.listeners[0]).groups;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].leader, my_pid());
    let mut workers = vec![w1.pid, w2.pid];
    workers.sort();
    assert_eq!(groups[0].workers, workers);
    let text = table(&["-t", "-4", &port]);
    assert!(
        text.contains(&format!("+ 2 workers {}, {}", workers[0], workers[1])),
        "{text}"
    );
}

/// A copy of the load generator named `name` in `dir`, holding one
/// listener, and the copy's path.
fn one_listener_as(
    loadgen: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
) -> (Spawned, std::path::PathBuf) {
    let copy = dir.join(name);
    std::fs::copy(loadgen, &copy).unwrap();
    let args = [
        "--procs",
        "1",
        "--sockets",
        "1",
        "--fds",
        "0",
        "--prefork",
        "0",
        "--reuseport",
        "0",
        "--seconds",
        "60",
    ];
    let (load, line) = start_ready(&copy, &args);
    assert!(line.starts_with("ready"), "{line}");
    (load, copy)
}

#[test]
fn a_deleted_executable_is_flagged() {
    let loadgen = loadgen_path();
    if !loadgen.exists() {
        skip(
            "a_deleted_executable_is_flagged",
            Skip::Tool("loadgen"),
            "examples/loadgen is not built",
        );
        return;
    }
    let _g = sockets_guard();
    let dir = tempfile::tempdir().unwrap();
    let (load, copy) = one_listener_as(&loadgen, dir.path(), "wp-stale");
    std::fs::remove_file(&copy).unwrap();
    let (_, list) = explained(&["--process", "wp-stale"]);
    let ours: Vec<&Listener> = list
        .listeners
        .iter()
        .filter(|l| l.processes.iter().any(|p| p.ppid == Some(load.0.id())))
        .collect();
    assert_eq!(ours.len(), 1, "{:#?}", list.listeners);
    let ids: Vec<&str> = why(ours[0])
        .warnings
        .iter()
        .map(|w| w.id.as_str())
        .collect();
    assert!(ids.contains(&"deleted-executable"), "{ids:?}");
    assert!(
        ours[0].processes[0]
            .exe
            .as_deref()
            .is_some_and(|e| e.ends_with(" (deleted)"))
    );
}

/// Deletion is the kernel's word, not the link text's: a running program
/// literally named `wp-x (deleted)` is not deleted, however its path
/// reads; the same program deleted is (its path then ends in the suffix
/// twice, and loses only the kernel's).
#[test]
fn a_program_named_deleted_is_not_a_deleted_executable() {
    let loadgen = loadgen_path();
    if !loadgen.exists() {
        skip(
            "a_program_named_deleted_is_not_a_deleted_executable",
            Skip::Tool("loadgen"),
            "examples/loadgen is not built",
        );
        return;
    }
    let _g = sockets_guard();
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str| one_listener_as(&loadgen, dir.path(), name);
    let (named, named_path) = start("wp-x (deleted)");
    let (deleted, deleted_path) = start("wp-y (deleted)");
    std::fs::remove_file(&deleted_path).unwrap();
    let (_, list) = explained(&["--process", "wp-x (deleted)", "--process", "wp-y (deleted)"]);
    let of = |parent: u32| {
        let l = list
            .listeners
            .iter()
            .find(|l| l.processes.iter().any(|p| p.ppid == Some(parent)))
            .unwrap_or_else(|| panic!("{:#?}", list.listeners));
        let ids: Vec<String> = why(l).warnings.iter().map(|w| w.id.clone()).collect();
        (l.processes[0].exe.clone().unwrap_or_default(), ids)
    };
    let (exe, ids) = of(named.0.id());
    assert_eq!(exe, named_path.to_str().unwrap());
    assert!(!ids.iter().any(|i| i == "deleted-executable"), "{ids:?}");
    let (exe, ids) = of(deleted.0.id());
    assert_eq!(exe, format!("{} (deleted)", deleted_path.display()));
    assert!(ids.iter().any(|i| i == "deleted-executable"), "{ids:?}");
}

#[test]
fn a_port_used_only_by_connections_says_so() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    drop(listener);
    let (code, list) = explained(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(1), "nothing listens: {list:#?}");
    assert!(list.listeners.is_empty());
    let missing = list.unanswered.as_ref().unwrap();
    assert_eq!(missing[0].target, format!("{port}/tcp"));
    let conns = &missing[0].connections;
    assert_eq!(conns.len(), 2, "both ends: {conns:?}");
    assert!(
        conns
            .iter()
            .all(|c| c.state == 1 && c.pids == vec![my_pid()]),
        "{conns:?}"
    );
    let text = table(&[&format!("{port}/tcp")]);
    assert!(
        text.contains("nothing is listening; 2 connections use it"),
        "{text}"
    );
    // The same port in the other protocol: TCP connections do not use it.
    let (code, list) = explained(&[&format!("{port}/udp")]);
    assert_eq!(code, Some(1), "nothing listens: {list:#?}");
    let missing = list.unanswered.as_ref().unwrap();
    assert_eq!(missing[0].target, format!("{port}/udp"));
    assert!(missing[0].connections.is_empty(), "{missing:?}");
    let text = table(&[&format!("{port}/udp")]);
    assert!(!text.contains("connection"), "{text}");
    drop((client, server));
}

#[test]
fn target_forms_and_errors() {
    let _g = sockets_guard();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    for form in [
        format!(":{port}"),
        format!("{port}/tcp"),
        format!("{port}-{port}"),
    ] {
        let (code, list) = explained(&["-4", &form]);
        assert_eq!(code, Some(0), "{form}");
        assert!(
            list.listeners
                .iter()
                .any(|l| l.port == port && l.processes.iter().any(|p| p.pid == my_pid())),
            "{form}"
        );
    }
    let (_, by_pid) = explained(&["--pid", &my_pid().to_string()]);
    assert!(by_pid.listeners.iter().any(|l| l.port == port));
    assert!(
        by_pid
            .listeners
            .iter()
            .all(|l| l.processes.iter().any(|p| p.pid == my_pid()))
    );

    // A word that is no port or service is a process name: none listens.
    let out = run(whyport().arg("no-such-service"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'no-such-service' is not a port or an IANA service, and no listening process is named no-such-service"),
        "{err}"
    );
    // With a protocol it can only be a port or a service.
    let out = run(whyport().arg("no-such-service/tcp"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("whyport: ") && err.contains("neither a port, an IANA service name"),
        "{err}"
    );

    let out = run(whyport().args(["-q", "-4", &format!("{port}/tcp")]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", my_pid())
    );
}
