//! Recorded /proc trees (fixtures/*/), each with a CAPTURE.md saying how it
//! was made: the same answers every time, on any machine.

use crate::support::*;

const NGINX: &str = "fixtures/nginx-netns";

#[test]
fn recorded_tree_table() {
    let out = run(whyport().args(["--proc-root", NGINX]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(format!("{NGINX}/expected-table.txt")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(
        out.stderr.is_empty(),
        "every process of the tree is readable"
    );
}

#[test]
fn recorded_tree_matches_ss_taken_at_capture() {
    let list = listing(&["--proc-root", NGINX]);
    let ss = std::fs::read_to_string(format!("{NGINX}/ss.txt")).unwrap();
    assert_eq!(
        crate::ss_compare::whyport_keys(&list),
        crate::ss_compare::ss_keys(&ss)
    );
}

#[test]
fn recorded_tree_details() {
    let list = listing(&["--proc-root", NGINX]);
    let port = |p: u16, proto: &str| {
        list.listeners
            .iter()
            .filter(|l| l.port == p && l.protocol == proto)
            .cloned()
            .collect::<Vec<_>>()
    };
    // nginx: master (root) and two workers (www-data) on both sockets.
    let http = port(80, "tcp");
    assert_eq!(http.len(), 2);
    for l in &http {
        assert_eq!(l.service.as_ref().unwrap().name, "http");
        let users: Vec<&str> = l
            .processes
            .iter()
            .map(|p| p.user.as_deref().unwrap())
            .collect();
        assert_eq!(users, ["root", "www-data", "www-data"]);
        assert!(
            l.processes[1..]
                .iter()
                .all(|p| p.ppid == Some(l.processes[0].pid))
        );
        assert_eq!(
            l.processes[0].cmdline,
            ["nginx: master process nginx -c /tmp/tmp.ce1qZUlE8U/nginx.conf"]
        );
        assert_eq!(l.processes[0].exe.as_deref(), Some("/usr/sbin/nginx"));
    }
    assert_eq!(
        (http[1].address.as_str(), http[1].dual_stack),
        ("::", false)
    );
    // The VXLAN socket has no process at all: the kernel holds it.
    let vxlan = &port(4789, "udp")[0];
    assert!(vxlan.processes.is_empty());
    assert_eq!(
        (vxlan.owner_status.as_str(), vxlan.hidden_reason.as_deref()),
        ("kernel", None)
    );
    assert_eq!(list.hidden.sockets_without_owner, 0);
    // Dual-stack python listener shared with its child.
    let py = &port(8080, "tcp")[0];
    assert!(py.dual_stack);
    assert_eq!(py.pids().len(), 2);
    assert_eq!(py.service.as_ref().unwrap().name, "http-alt");
    assert!(py.processes.iter().all(|p| {
        p.started_at
            .as_deref()
            .is_some_and(|t| t.starts_with("2026-11-25T"))
    }));
}

/// Truncated, empty and garbage trees give partial results or one clear
/// error line, never a panic.
#[test]
fn damaged_trees_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, data: &[u8]| {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    let check = |what: &str, want_ok: bool| {
        let out = run(whyport().arg("--proc-root").arg(root).arg("--json"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        match out.status.code() {
            Some(0) => {
                let _ = parse(&out);
            }
            Some(2) => {
                assert!(!want_ok, "{what}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
                assert!(stderr.starts_with("whyport: "), "{what}: {stderr}");
            }
            other => panic!("{what}: exit {other:?}: {stderr}"),
        }
    };
    check("an empty directory", false);
    write("proc/net/tcp", b"");
    check("empty tables", true);
    write("proc/net/tcp", b"header only\n");
    write("proc/net/udp6", &[0xff, 0xfe, b'\n', 0, 1, 2, b':', b'\n']);
    check("garbage tables", true);
    write(
        "proc/net/tcp",
        b"h\n 0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 42 1\n 1: 0100007F:00",
    );
    write("proc/7/stat", b"7 (trunc");
    write("proc/7/status", b"");
    std::fs::create_dir_all(root.join("proc/7/fd")).unwrap();
    std::os::unix::fs::symlink("socket:[42]", root.join("proc/7/fd/3")).unwrap();
    write("proc/8/stat", b"");
    std::fs::create_dir_all(root.join("proc/9/fd")).unwrap();
    std::os::unix::fs::symlink("not a socket", root.join("proc/9/fd/0")).unwrap();
    write("proc/stat", b"btime garbage\n");
    check("a truncated row and broken processes", true);
    // What made procfs's stat parser panic (a non-ASCII byte after the last
    // `)`, a `(` first), for the table, the snapshot and the audit too.
    write(
        "proc/10/stat",
        b"10 (a) b) (c\n)\xff\xfeS 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0",
    );
    std::fs::create_dir_all(root.join("proc/10/fd")).unwrap();
    std::os::unix::fs::symlink("socket:[42]", root.join("proc/10/fd/3")).unwrap();
    write("proc/11/stat", b"(x) S 1");
    std::fs::create_dir_all(root.join("proc/11/fd")).unwrap();
    std::os::unix::fs::symlink("socket:[42]", root.join("proc/11/fd/4")).unwrap();
    check("stat lines procfs could not parse", true);
    let policy = root.join("policy.toml");
    std::fs::write(&policy, "default = \"allow\"\n").unwrap();
    for args in [
        vec!["--no-header"],
        vec!["snapshot"],
        vec!["policy", "init"],
        vec!["audit", "--policy", policy.to_str().unwrap()],
    ] {
        let out = run(whyport().args(&args).arg("--proc-root").arg(root));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {stderr}"
        );
    }
}
