//! The BPF walk (collect/linux/bpf_iter.rs) and the /proc scan find the
//! same owners on the same live sockets; and as root in the initial PID
//! namespace the walk is the one used.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::*;

fn listen(domain: Domain, addr: &str, reuse: bool) -> Socket {
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if reuse {
        s.set_reuse_port(true).unwrap();
    }
    s.bind(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    s.listen(8).unwrap();
    s
}

/// (port, address, [(pid, fds, uid, user)], [(ppid, name, exe,
/// started_at)]) of a listener: the walk reads the first ids and the
/// parent and name itself, and shares exe links between processes.
type Row = (
    u16,
    String,
    Vec<(u32, Vec<u32>, Option<u32>, Option<String>)>,
    Vec<(Option<u32>, String, Option<String>, Option<String>)>,
);

#[test]
fn the_bpf_walk_and_the_proc_scan_agree() {
    let _g = sockets_guard();
    let a = listen(Domain::IPV4, "127.0.0.1:0", false);
    let port = a.local_addr().unwrap().as_socket().unwrap().port();
    let b = listen(Domain::IPV4, &format!("127.0.0.1:{}", port + 1), true);
    let c = listen(Domain::IPV4, &format!("127.0.0.1:{}", port + 1), true);
    let d = listen(Domain::IPV6, "[::1]:0", false);
    let p6 = d.local_addr().unwrap().as_socket().unwrap().port();
    // Shared with forked children, one of them with a high descriptor.
    // Close-on-exec, so that whyport itself does not inherit it.
    let high = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900) };
    assert_eq!(high, 900, "descriptor 900 is taken");
    let _kids = [
        Child::fork("wp-bpf-a", &[a.as_raw_fd(), 900], None),
        Child::fork("wp-bpf-b", &[b.as_raw_fd(), c.as_raw_fd()], Some(65534)),
    ];
    let ports = format!("{port},{},{p6}", port + 1);
    // The walk of descriptor tables, the task_file walk, /proc.
    let rows = |how: &str| {
        let out = run(&mut found(how, &["--json", "--timings", "--port", &ports]));
        let list = parse(&out);
        let mut v: Vec<Row> = list
            .listeners
            .iter()
            .map(|l| {
                (
                    l.port,
                    l.address.clone(),
                    l.processes
                        .iter()
                        .map(|p| (p.pid, p.fds.clone(), p.uid, p.user.clone()))
                        .collect(),
                    l.processes
                        .iter()
                        .map(|p| (p.ppid, p.name.clone(), p.exe.clone(), p.started_at.clone()))
                        .collect(),
                )
            })
            .collect();
        v.sort();
        // The table: its ORIGIN column is the owners' cgroups and
        // ancestry, which the walk shares between processes.
        let table = run(&mut found(how, &["--port", &ports])).stdout;
        let table = String::from_utf8_lossy(&table).into_owned();
        (v, String::from_utf8_lossy(&out.stderr).into_owned(), table)
    };
    let (fast, fast_err, fast_table) = rows("1");
    let (files, files_err, files_table) = rows("files");
    let (slow, slow_err, slow_table) = rows("proc");
    assert_eq!(fast.len(), 4, "{fast:?}");
    assert_eq!(fast, slow, "same listeners, owners, descriptors and users");
    assert_eq!(files, slow, "the task_file walk: the same");
    assert_eq!(fast_table, slow_table, "the same table");
    assert_eq!(
        files_table, slow_table,
        "the task_file walk: the same table"
    );
    let first = fast.iter().find(|r| r.0 == port).unwrap();
    assert_eq!(first.2.len(), 2, "the test and wp-bpf-a: {first:?}");
    assert!(
        first.2.iter().any(|(_, fds, _, _)| fds.contains(&900)),
        "{first:?}"
    );
    let second = fast.iter().find(|r| r.0 == port + 1).unwrap();
    assert!(
        second.2.iter().any(|(_, _, uid, _)| *uid == Some(65534)),
        "wp-bpf-b runs as 65534: {second:?}"
    );
    unsafe { libc::close(900) };
    assert!(
        !slow_err.contains("bpf walk"),
        "WHYPORT_NO_BPF=1 scans /proc: {slow_err}"
    );
    if !is_root() {
        skip("the_bpf_walk_is_used", Skip::NotRoot, "not root");
    } else if let Some(why) = why_no_walk().or_else(|| refused(&fast_err)) {
        skip("the_bpf_walk_is_used", Skip::Other, why);
    } else {
        assert!(
            fast_err.contains("of which bpf walk"),
            "the walk was used: {fast_err}"
        );
        assert!(
            files_err.contains("of which bpf walk (task_file)"),
            "WHYPORT_BPF=files: the task_file walk: {files_err}"
        );
        // Where the kernel has open-coded loops (Linux 6.4+), its
        // descriptor tables are walked, not its files one by one.
        if kernel_has("bpf_iter_num_new") {
            assert!(
                !fast_err.contains("(task_file)") && !fast_err.contains("was not used"),
                "the walk of descriptor tables: {fast_err}"
            );
        } else {
            skip(
                "the_walk_of_descriptor_tables_is_used",
                Skip::Other,
                "the kernel has no open-coded loops (Linux 6.4+)",
            );
        }
    }
}

/// whyport with `args`, finding owners `how`: "1" the walk of descriptor
/// tables (a small host scans /proc unless asked for the walk), "files"
/// the task_file walk, "proc" the /proc scan.
fn found(how: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = whyport();
    cmd.args(args);
    if how == "proc" {
        cmd.env("WHYPORT_NO_BPF", "1");
    } else {
        cmd.env("WHYPORT_BPF", how);
    }
    cmd
}

/// The descriptors process `pid` holds of the listener on `port`, as
/// whyport finds them `how` (see `found`), and its --timings.
fn fds_held(how: &str, port: u16, pid: u32) -> (Vec<Vec<u32>>, String) {
    let out = run(&mut found(
        how,
        &["--json", "--timings", "--port", &port.to_string()],
    ));
    let fds = parse(&out)
        .listeners
        .iter()
        .filter(|l| l.port == port)
        .flat_map(|l| l.processes.iter().filter(|p| p.pid == pid))
        .map(|p| p.fds.clone())
        .collect();
    (fds, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether the kernel's BTF names `function`.
fn kernel_has(function: &str) -> bool {
    let name = format!("{function}\0");
    std::fs::read("/sys/kernel/btf/vmlinux")
        .is_ok_and(|btf| btf.windows(name.len()).any(|w| w == name.as_bytes()))
}

/// Why the kernel refused the walk, from a `--timings` run's stderr, when
/// it was for a reason of its own (lockdown, no iterator support); a
/// verifier rejection would be whyport's bug, not a reason.
fn refused(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("whyport: timings: the BPF walk was not used: "))
        .filter(|w| !w.contains("verifier"))
        .map(str::to_string)
}

/// Why the BPF walk cannot run here, if it cannot: it needs root in the
/// initial PID namespace with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN),
/// and the kernel's BTF.
fn why_no_walk() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    let init_ns =
        std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == "pid:[4026531836]");
    if !init_ns {
        return Some("not in the initial PID namespace".into());
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("the kernel has no BTF (/sys/kernel/btf/vmlinux)".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| eff & (1 << bit) != 0;
    // CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39.
    if !(has(21) || (has(38) && has(39))) {
        return Some(format!("missing CAP_BPF and CAP_PERFMON (CapEff {eff:x})"));
    }
    None
}

/// On a small host (few open files) the /proc scan is used: loading the
/// walk costs more than it saves; --timings says why.
#[test]
fn a_small_host_is_scanned_through_proc() {
    let test = "a_small_host_is_scanned_through_proc";
    if let Some(why) = why_no_walk() {
        return skip(test, Skip::Other, why);
    }
    let open: u64 = std::fs::read_to_string("/proc/sys/fs/file-nr")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(u64::MAX);
    if open >= 3_000 {
        return skip(
            test,
            Skip::Other,
            format!("{open} open files here: not a small host"),
        );
    }
    let _g = sockets_guard();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let out = run(whyport().args(["--timings", "--port", &port]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("open files: /proc is cheaper") && !err.contains("of which bpf walk"),
        "{err}"
    );
    let forced = run(whyport()
        .args(["--timings", "--port", &port])
        .env("WHYPORT_BPF", "1"));
    let err = String::from_utf8_lossy(&forced.stderr);
    // Forced, the walk is not declined for the host's size: it runs, or the
    // kernel refuses it for a reason of its own.
    assert!(!err.contains("open files: /proc is cheaper"), "{err}");
    if let Some(why) = refused(&err) {
        return skip(test, Skip::Other, why);
    }
    assert!(err.contains("of which bpf walk"), "{err}");
}

/// The walk reads each owner's uid and its PID in its own PID namespace
/// instead of /proc/<pid>/status: an owner that is PID 1 of a namespace one
/// and two levels down is the init there (its explanation says so), as
/// the /proc scan finds, and everything else whyport says of it is the
/// same.
#[test]
fn the_walk_knows_the_init_of_a_pid_namespace_as_proc_does() {
    let test = "the_walk_knows_the_init_of_a_pid_namespace_as_proc_does";
    if let Some(why) = why_no_walk() {
        return skip(test, Skip::Other, why);
    }
    if !have("unshare") {
        return skip(
            test,
            Skip::Tool("unshare"),
            "unshare (util-linux) is not installed",
        );
    }
    let _g = sockets_guard();
    let listen = "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); \
                  print(s.getsockname()[1], flush=True); sys.stdout.close(); time.sleep(120)";
    // --kill-child: the namespace's init dies with unshare, and every
    // process of the namespace with it.
    let one = ["-p", "-f", "--kill-child", PYTHON3, "-c", listen];
    let two = [
        "-p",
        "-f",
        "--kill-child",
        "unshare",
        "-p",
        "-f",
        "--kill-child",
        PYTHON3,
        "-c",
        listen,
    ];
    for (depth, args) in [(1, &one[..]), (2, &two[..])] {
        let (_ns, port) = start_ready(std::path::Path::new("unshare"), args);
        let port = port.trim();
        assert!(
            port.parse::<u16>().is_ok(),
            "no port from the listener: {port:?}"
        );
        let explain = |no_bpf: bool| {
            let mut cmd = whyport();
            cmd.args(["--json", "--timings", port]);
            cmd.env(
                if no_bpf {
                    "WHYPORT_NO_BPF"
                } else {
                    "WHYPORT_BPF"
                },
                "1",
            );
            let out = run(&mut cmd);
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (fast, fast_err) = explain(false);
        if let Some(why) = refused(&fast_err) {
            return skip(test, Skip::Other, why);
        }
        let (slow, _) = explain(true);
        assert!(fast_err.contains("of which bpf walk"), "{fast_err}");
        assert_eq!(fast, slow, "depth {depth}: the walk and /proc say the same");
        assert!(
            fast.contains("PID 1 there"),
            "depth {depth}: the init of its namespace: {fast}"
        );
    }
}

/// A thread that unshared its descriptor table (`unshare(CLONE_FILES)`)
/// holds sockets its process's table does not: both walks see them, as
/// its process's (the /proc scan reads only /proc/<pid>/fd, the leader's).
#[test]
fn both_walks_see_a_thread_with_a_table_of_its_own() {
    let test = "both_walks_see_a_thread_with_a_table_of_its_own";
    if let Some(why) = why_no_walk() {
        return skip(test, Skip::Other, why);
    }
    let _g = sockets_guard();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // A table of this thread's own, without the copies of every other
        // descriptor (the other tests' pipes to their children: kept open
        // here, those children's output would never end).
        // SAFETY: close_range with CLOSE_RANGE_UNSHARE unshares this
        // thread's descriptor table, then closes descriptors 3 and up in
        // it; the process's table is untouched.
        let unshared = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 2u32) };
        assert_eq!(unshared, 0, "close_range(CLOSE_RANGE_UNSHARE)");
        let s = listen(Domain::IPV4, "127.0.0.1:0", false);
        let port = s.local_addr().unwrap().as_socket().unwrap().port();
        port_tx.send((port, s.as_raw_fd())).unwrap();
        let _ = done_rx.recv();
    });
    let (port, fd) = port_rx.recv().unwrap();
    let me = std::process::id();
    let owners = |how| fds_held(how, port, me);
    let (tables, tables_err) = owners("1");
    let (files, files_err) = owners("files");
    let _ = done_tx.send(());
    thread.join().unwrap();
    if let Some(why) = refused(&tables_err) {
        return skip(test, Skip::Other, why);
    }
    assert_eq!(tables, vec![vec![fd as u32]], "{tables_err}");
    assert_eq!(files, tables, "{files_err}");
}

/// One run of the walk's program reports at most 400 sockets of a process
/// (all it writes for one process must fit the kernel's 32 KiB buffer, or
/// the whole walk fails); a process with more is read through /proc, and
/// its owners are the same either way.
#[test]
fn a_process_with_more_sockets_than_a_run_reports_is_read_through_proc() {
    let test = "a_process_with_more_sockets_than_a_run_reports_is_read_through_proc";
    if let Some(why) = why_no_walk() {
        return skip(test, Skip::Other, why);
    }
    let _g = sockets_guard();
    // Whether the kernel lets the walk run here at all, before the test's
    // sockets are there (with them, a refusal is the bug this is about).
    let before = run(whyport()
        .args(["--timings", "--port", "1"])
        .env("WHYPORT_BPF", "1"));
    if let Some(why) = refused(&String::from_utf8_lossy(&before.stderr)) {
        return skip(test, Skip::Other, why);
    }
    let many: Vec<Socket> = (0..450)
        .map(|_| listen(Domain::IPV4, "127.0.0.1:0", false))
        .collect();
    let last = &many[many.len() - 1];
    let port = last.local_addr().unwrap().as_socket().unwrap().port();
    let me = std::process::id();
    let owners = |how| fds_held(how, port, me);
    let (tables, tables_err) = owners("1");
    let (files, _) = owners("files");
    let (proc, _) = owners("proc");
    assert!(!tables_err.contains("was not used"), "{tables_err}");
    assert_eq!(tables, vec![vec![last.as_raw_fd() as u32]], "{tables_err}");
    assert_eq!(files, tables);
    assert_eq!(proc, tables);
}
