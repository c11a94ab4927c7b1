//! Recorded trees whose files are not what they seem (links to devices,
//! FIFOs, huge files): whyport never blocks on them, reads none past its
//! cap, finishes, and says what it could not read.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::*;

const NGINX: &str = "fixtures/nginx-netns";

/// Copy a recorded tree, links as links.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn replace_with_link(path: &Path, target: &str) {
    let _ = std::fs::remove_file(path);
    symlink(target, path).unwrap();
}

fn replace_with_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Run whyport; a run that has not finished in `limit` is killed and the
/// test fails (a FIFO opened for reading waits for a writer forever).
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: our own child, not yet reaped (the thread still
            // waits for it).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv_timeout(Duration::from_secs(10));
            panic!("whyport did not finish within {limit:?}");
        }
    }
}

fn whyport_on(tree: &Path, args: &[&str]) -> Output {
    run_within(
        whyport().arg("--proc-root").arg(tree).args(args),
        Duration::from_secs(60),
    )
}

/// Exited by itself with `code`, no panic, no abort.
fn assert_exit(out: &Output, code: i32, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: {:?}: {stderr}",
        out.status
    );
}

/// A process's stat linked to /dev/zero (which aborted whyport: it read
/// until a 4 GiB allocation failed), a FIFO as a command line (which hung
/// it), a status linked to /dev/urandom and a 4 MiB command line.
#[test]
fn devices_fifos_and_huge_files_of_processes_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    copy_tree(Path::new(NGINX), tree);
    let proc = tree.join("proc");
    // nginx: the master and its two workers.
    replace_with_link(&proc.join("6054/stat"), "/dev/zero");
    replace_with_fifo(&proc.join("6055/cmdline"));
    replace_with_link(&proc.join("6056/status"), "/dev/urandom");
    // redis: a command line far over the cap.
    let mut huge = b"redis-server\0".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 4 << 20));
    huge.push(0);
    std::fs::write(proc.join("6058/cmdline"), &huge).unwrap();

    let out = whyport_on(tree, &["--json"]);
    assert_exit(&out, 0, "--json");
    let list = parse(&out);
    let process = |pid: u32| {
        list.listeners
            .iter()
            .flat_map(|l| &l.processes)
            .find(|p| p.pid == pid)
            .unwrap_or_else(|| panic!("pid {pid} is not listed: {list:#?}"))
            .clone()
    };
    // The master is still an owner, known by its pid alone.
    let master = process(6054);
    assert_eq!(
        (master.name.as_str(), master.ppid),
        ("", None),
        "{master:?}"
    );
    let worker = process(6055);
    assert_eq!(worker.name, "nginx");
    assert!(worker.cmdline.is_empty(), "{worker:?}");
    let other = process(6056);
    assert_eq!(
        (other.name.as_str(), other.uid),
        ("nginx", None),
        "{other:?}"
    );
    let redis = process(6058);
    let length: usize = redis.cmdline.iter().map(|a| a.len() + 1).sum();
    assert!(length <= 128 * 1024 + 8, "{length} bytes of command line");
    assert_eq!(redis.cmdline[0], "redis-server");
    assert!(redis.cmdline[1].ends_with('…'), "truncated, and marked");
    let note = list
        .notes
        .iter()
        .find(|n| n.contains("could not be read"))
        .unwrap_or_else(|| panic!("no note: {:?}", list.notes));
    for part in [
        "6054/stat (a symbolic link",
        "6055/cmdline (a FIFO",
        "6056/status (a symbolic link",
    ] {
        assert!(note.contains(part), "{part}: {note}");
    }
    assert!(
        !note.contains("6058"),
        "a long command line is cut, not refused"
    );

    // The table (cgroup, ancestors) and an explanation (cwd, host files)
    // read more of each process: they finish too.
    for args in [&[][..], &["80"], &["--json", "80"]] {
        assert_exit(&whyport_on(tree, args), 0, &format!("{args:?}"));
    }
}

/// The tree's own files: /proc/stat (boot time) linked to /dev/zero, FIFOs
/// as etc/passwd and a sysctl, and a socket table that is a FIFO (which
/// cannot be listed without: one clear error).
#[test]
fn devices_and_fifos_of_the_tree_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    copy_tree(Path::new(NGINX), tree);
    replace_with_link(&tree.join("proc/stat"), "/dev/zero");
    replace_with_fifo(&tree.join("etc/passwd"));
    replace_with_fifo(&tree.join("proc/sys/net/ipv6/bindv6only"));
    let out = whyport_on(tree, &["--json"]);
    assert_exit(&out, 0, "--json");
    let list = parse(&out);
    assert!(list.listeners.iter().any(|l| l.port == 80));
    assert!(
        list.listeners
            .iter()
            .flat_map(|l| &l.processes)
            .all(|p| p.user.is_none() && p.started_at.is_none()),
        "no users, no start dates: {list:#?}"
    );

    replace_with_fifo(&tree.join("proc/net/udp6"));
    let out = whyport_on(tree, &["--json"]);
    assert_exit(&out, 2, "a FIFO as a socket table");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("whyport: ") && stderr.contains("a FIFO, not a regular file"),
        "{stderr}"
    );
}
