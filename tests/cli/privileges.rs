//! Running unprivileged: every socket is still listed, and whyport says
//! which owners it could not see and how to see them.

use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;

use crate::support::*;

const NOBODY: u32 = 65534;

fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    if !is_root() {
        skip(
            "unprivileged run",
            Skip::NotRoot,
            format!("needs root to switch to uid {NOBODY}"),
        );
        return None;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    cmd.arg(bin_path()).args(args);
    let out = match Command::new("setpriv").arg("--version").output() {
        Ok(_) => run(&mut cmd),
        Err(_) => {
            skip(
                "unprivileged run",
                Skip::Tool("setpriv"),
                "setpriv (util-linux) is not installed",
            );
            return None;
        }
    };
    if out.status.code() == Some(126)
        || String::from_utf8_lossy(&out.stderr).contains("Permission denied")
    {
        skip(
            "unprivileged run",
            Skip::Other,
            format!("uid {NOBODY} cannot execute {}", bin_path().display()),
        );
        return None;
    }
    Some(out)
}

#[test]
fn unprivileged_run_lists_every_socket_and_says_what_is_hidden() {
    let _g = sockets_guard();
    let root_owned = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let nobody_owned = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let child = Child::fork("wp-nobody", &[nobody_owned.as_raw_fd()], Some(NOBODY));
    let ports = format!(
        "{},{}",
        root_owned.local_addr().unwrap().port(),
        nobody_owned.local_addr().unwrap().port()
    );
    let Some(out) = as_nobody(&["--json", "-t", "-4", "--port", &ports]) else {
        return;
    };
    let list = parse(&out);
    assert_eq!(
        list.listeners.len(),
        2,
        "every socket is listed, seen or not"
    );
    let by_port = |p: u16| list.listeners.iter().find(|l| l.port == p).unwrap();

    let hidden = by_port(root_owned.local_addr().unwrap().port());
    assert!(hidden.processes.is_empty());
    assert_eq!(hidden.owner_status, "hidden");
    assert_eq!(hidden.hidden_reason.as_deref(), Some("not_root"));

    // The process that runs as nobody is visible to nobody; other owners
    // may exist among the processes nobody cannot inspect.
    let seen = by_port(nobody_owned.local_addr().unwrap().port());
    assert_eq!(seen.pids(), vec![child.pid]);
    assert_eq!(seen.owner_status, "partial");
    assert_eq!(seen.processes[0].uid, Some(NOBODY));

    assert_eq!(list.hidden.reason.as_deref(), Some("not_root"));
    assert_eq!(list.hidden.sockets_without_owner, 1);
    assert_eq!(list.hidden.sockets_with_partial_owners, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    assert!(
        stderr.contains("1 socket without owner") && stderr.contains("sudo"),
        "{stderr}"
    );

    // The table marks the hidden owner instead of dropping the row.
    let out = as_nobody(&["--no-header", "-t", "-4", "--port", &ports]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(hidden: not root)"), "{text}");
    assert!(text.contains("wp-nobody"), "{text}");
}

/// Whether the test can run; a SKIP line naming what it lacks when not.
fn root_and_unshare(test: &str) -> bool {
    if !is_root() {
        skip(test, Skip::NotRoot, "needs root and unshare (util-linux)");
        false
    } else if !have("unshare") {
        skip(
            test,
            Skip::Tool("unshare"),
            "needs root and unshare (util-linux)",
        );
        false
    } else {
        true
    }
}

#[test]
fn hidepid_is_named_as_the_reason() {
    if !root_and_unshare("hidepid_is_named_as_the_reason") {
        return;
    }
    let _g = sockets_guard();
    let root_owned = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = root_owned.local_addr().unwrap().port().to_string();
    // A fresh proc instance with hidepid=2, in a private mount namespace:
    // the host's /proc is not touched.
    let script = format!(
        "mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups -- '{}' --json -t -4 --port {port}",
        bin_path().display()
    );
    let out = run(Command::new("unshare").args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]));
    if out.status.code() == Some(126) || out.stdout.is_empty() {
        skip(
            "hidepid_is_named_as_the_reason",
            Skip::Other,
            format!(
                "could not run in a private mount namespace: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        );
        return;
    }
    let list = parse(&out);
    assert_eq!(list.listeners.len(), 1);
    assert_eq!(list.listeners[0].owner_status, "hidden");
    assert_eq!(list.listeners[0].hidden_reason.as_deref(), Some("hidepid"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hidepid") && stderr.contains("sudo"),
        "{stderr}"
    );
}

#[test]
fn a_pid_namespace_is_named_as_the_reason() {
    if !root_and_unshare("a_pid_namespace_is_named_as_the_reason") {
        return;
    }
    let _g = sockets_guard();
    let outside = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = outside.local_addr().unwrap().port().to_string();
    // whyport in a PID namespace of its own, with its own /proc, as in a
    // container: the test process that holds the socket is outside it.
    let out = run(Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(bin_path())
        .args(["--json", "-t", "-4", "--port", &port]));
    if out.stdout.is_empty() {
        skip(
            "a_pid_namespace_is_named_as_the_reason",
            Skip::Other,
            format!(
                "unshare --pid failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        );
        return;
    }
    assert_eq!(out.status.code(), Some(0));
    let list = parse(&out);
    assert_eq!(list.listeners.len(), 1, "the socket is listed all the same");
    assert_eq!(list.listeners[0].owner_status, "hidden");
    assert_eq!(
        list.listeners[0].hidden_reason.as_deref(),
        Some("pid_namespace")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PID namespace") && stderr.contains("on the host"),
        "{stderr}"
    );
}

#[test]
fn quiet_says_when_it_cannot_name_an_owner() {
    let _g = sockets_guard();
    let root_owned = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = root_owned.local_addr().unwrap().port().to_string();
    let Some(out) = as_nobody(&["-q", "-t", &port]) else {
        return;
    };
    // No PID at all would read as "nothing holds it" to `kill $(...)`.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot name the owner of tcp 127.0.0.1:{port}"))
            && stderr.contains("not running as root")
            && stderr.contains("sudo"),
        "{stderr}"
    );
}

#[test]
fn a_pid_whose_files_cannot_be_read_is_not_called_empty() {
    // PID 1 belongs to root; nobody cannot list its descriptors.
    let Some(out) = as_nobody(&["--pid", "1"]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("process 1: its open files could not be read")
            && text.contains("not running as root"),
        "{text}"
    );
    let Some(out) = as_nobody(&["--pid", "1", "--json"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["unanswered"][0]["process"]["state"], "unreadable");
}
