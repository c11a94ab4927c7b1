//! A network namespace made by a test, with what runs in it: deleted, and
//! every process in it killed, when dropped (also when the test fails).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::procs::{signal, wait_gone};
use crate::support::{my_pid, run};

pub struct Netns {
    ip: PathBuf,
    name: String,
    deleted: bool,
}

impl Netns {
    /// `ip netns add <prefix>-<pid>` with its loopback up, or why not.
    pub fn create(ip: &Path, prefix: &str) -> Result<Netns, String> {
        let name = format!("{prefix}-{}", my_pid());
        let out = run(Command::new(ip).args(["netns", "add", &name]));
        if !out.status.success() {
            return Err(format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let ns = Netns {
            ip: ip.to_path_buf(),
            name,
            deleted: false,
        };
        let out = run(ns.exec(ip).args(["link", "set", "lo", "up"]));
        assert!(
            out.status.success(),
            "ip link set lo up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(ns)
    }

    /// `ip netns exec NS program`, with stdin closed and no service manager
    /// (NOTIFY_SOCKET) to report to.
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null());
        cmd
    }

    /// The namespace's bind mount, for setns(2).
    /// Its name, as `ip netns` lists it.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// PIDs of every process in the namespace but the test's own.
    pub fn members(&self) -> Vec<u32> {
        let out = run(Command::new(&self.ip).args(["netns", "pids", &self.name]));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p| p != my_pid())
            .collect()
    }

    /// SIGKILL everything still in the namespace.
    pub fn kill_members(&self) {
        for pid in self.members() {
            signal(pid, libc::SIGKILL);
            wait_gone(pid, Duration::from_secs(2));
        }
    }

    /// Kill what is left in it and delete it; once.
    pub fn delete(&mut self) {
        if self.deleted {
            return;
        }
        self.deleted = true;
        self.kill_members();
        let out = run(Command::new(&self.ip).args(["netns", "del", &self.name]));
        if !out.status.success() {
            eprintln!(
                "could not delete network namespace {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.delete();
    }
}
