//! whyport against a real rootful Podman (netavark) in a private network
//! namespace: the published port's host socket is held by conmon, which
//! whyport must name as Podman's, with the container's name, without the
//! `root-unneeded` and `shadowed-by-dnat` warnings, and stop with
//! `podman stop NAME`.
//!
//! Only the namespace is touched: podman runs with --root and --runroot in
//! a temporary directory, inside the mount namespace of a process that
//! `ip netns exec` started in the test's network namespace, with /run an
//! empty tmpfs there and the host's cgroup hierarchies mounted again (as
//! tests/cli/docker does for dockerd): netavark's rules go into the test's
//! namespace, never the host's ruleset. The image is one static busybox.
//! The container is removed, and every process killed, when the test ends,
//! also when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::docker::lab::{busybox_image, cgroup_mounts};
use crate::netns::Netns;
use crate::procs::{find_program, signal, wait_gone};
use crate::support::*;

const TEST: &str = "podmans_conmon_is_named_as_podmans";
const NAME: &str = "wp-pod-web";
const PUBLISHED: u16 = 8098;
const LISTENING: Duration = Duration::from_secs(20);

/// The namespace's mount namespace, held by a sleeping shell: podman's
/// state under /run lives as long as it does.
struct Lab {
    podman: PathBuf,
    nsenter: PathBuf,
    dir: tempfile::TempDir,
    holder: Option<Spawned>,
    /// The container's process, killed if podman could not remove it.
    container: Option<u32>,
}

impl Lab {
    fn podman(&self, args: &[&str]) -> Output {
        let holder = self.holder.as_ref().map_or(0, |h| h.0.id());
        let dir = self.dir.path();
        run(Command::new(&self.nsenter)
            .args(["-t", &holder.to_string(), "-m", "-n", "--"])
            .arg(&self.podman)
            .arg("--root")
            .arg(dir.join("storage"))
            .arg("--runroot")
            .arg(dir.join("runroot"))
            .args([
                "--cgroup-manager=cgroupfs",
                "--events-backend=file",
                "--network-backend=netavark",
            ])
            .args(args))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.holder.is_some() {
            let out = self.podman(&["rm", "-f", "-t", "0", NAME]);
            if !out.status.success() {
                eprintln!("podman rm: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        if let Some(pid) = self.container {
            signal(pid, libc::SIGKILL);
            wait_gone(pid, Duration::from_secs(2));
        }
        self.holder.take();
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn podmans_conmon_is_named_as_podmans() {
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root");
        return;
    }
    let names = ["podman", "nsenter", "ip", "busybox"];
    let tools = names.map(find_program);
    let [Some(podman), Some(nsenter), Some(ip), Some(busybox)] = tools.clone() else {
        let missing = names[tools.iter().position(Option::is_none).unwrap_or(0)];
        skip(
            TEST,
            Skip::Tool(missing),
            format!(
                "{missing} is not installed (.ci/run installs podman, util-linux, iproute2, busybox-static)"
            ),
        );
        return;
    };
    let _g = sockets_guard();
    let ns = match Netns::create(&ip, "wp-podman") {
        Ok(ns) => ns,
        Err(why) => {
            skip(TEST, Skip::Other, why);
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let tar = busybox_image(&busybox, dir.path());
    let bb = shell_quote(&busybox);
    let mut script = format!("set -e\n{bb} mount -t tmpfs -o mode=755 wp-podman-run /run\n");
    for (mount, fstype, options) in cgroup_mounts() {
        let options = match fstype.as_str() {
            "tmpfs" => "-o mode=755 ".to_string(),
            "cgroup" if !options.is_empty() => format!("-o {options} "),
            _ => String::new(),
        };
        let mount = shell_quote(&mount);
        script.push_str(&format!(
            "{bb} mkdir -p {mount}\n{bb} mount -t {fstype} {options}wp-podman-cgroup {mount}\n"
        ));
    }
    script.push_str("echo ready\nexec \"$@\"\n");
    let (holder, ready) = {
        let mut cmd = ns.exec(&busybox);
        cmd.args(["sh", "-c", &script, "wp-podman", "sleep", "3600"]);
        start_ready_cmd(&mut cmd)
    };
    let mut lab = Lab {
        podman,
        nsenter,
        dir,
        holder: Some(holder),
        container: None,
    };
    if ready.trim() != "ready" {
        skip(
            TEST,
            Skip::Other,
            format!("could not prepare the namespace's mounts: {ready:?}"),
        );
        return;
    }
    let tar_arg = tar.display().to_string();
    let out = lab.podman(&["import", &tar_arg, "wp-busybox:test"]);
    if !out.status.success() {
        skip(
            TEST,
            Skip::Other,
            format!(
                "podman import failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
        return;
    }
    // The default nofile and nproc limits podman asks for need
    // CAP_SYS_RESOURCE,
    // which a sandbox may not grant: ask for what the test needs.
    let published = format!("{PUBLISHED}:80");
    let out = lab.podman(&[
        "run",
        "-d",
        "--name",
        NAME,
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "-p",
        &published,
        "wp-busybox:test",
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    if !out.status.success() {
        skip(
            TEST,
            Skip::Other,
            format!(
                "podman run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
        return;
    }
    let pid = lab.podman(&["inspect", "--format", "{{.State.Pid}}", NAME]);
    lab.container = String::from_utf8_lossy(&pid.stdout).trim().parse().ok();
    // whyport in the namespace, where netavark's DNAT rule for the port is.
    let deadline = Instant::now() + LISTENING;
    let list = loop {
        let out = run(ns.exec(bin_path()).args(["--json", &PUBLISHED.to_string()]));
        let list = parse(&out);
        if !list.listeners.is_empty() {
            break list;
        }
        assert!(Instant::now() < deadline, "nothing on {PUBLISHED}: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let l = &list.listeners[0];
    assert_eq!(
        l.processes
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["conmon"],
        "{l:?}"
    );
    let why = l.why.as_ref().expect("explained");
    assert_eq!(why.origin.kind, "port-forwarder", "{}", why.origin.summary);
    assert!(
        why.origin
            .summary
            .starts_with("Podman's port forwarder (conmon, pid"),
        "{}",
        why.origin.summary
    );
    let c = why.origin.container.as_ref().expect("its container");
    assert_eq!(
        (c.runtime.as_str(), c.name.as_deref()),
        ("podman", Some(NAME))
    );
    assert!(why.warnings.is_empty(), "{:?}", why.warnings);
    assert_eq!(why.stop, vec![format!("podman stop {NAME}")]);
    // The advice works as given.
    let out = lab.podman(&["stop", "-t", "0", NAME]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = parse(&run(ns
        .exec(bin_path())
        .args(["--json", &PUBLISHED.to_string()])));
    assert!(after.listeners.is_empty(), "{:?}", after.listeners);
    drop(lab);
    drop(ns);
}

/// Start `cmd` with its stdout piped, and return it with its first line.
fn start_ready_cmd(cmd: &mut Command) -> (Spawned, String) {
    let mut child = Spawned::start(cmd.stdout(std::process::Stdio::piped()));
    let mut line = String::new();
    if let Some(out) = child.0.stdout.take() {
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
    }
    (child, line)
}
