//! The lab of the daemon test: a private network namespace, a temporary
//! directory, and every daemon started in it, all removed on drop.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::netns::Netns;
pub(super) use crate::procs::*;
use crate::ss::Key;
use crate::ss_compare::ss_keys;
use crate::support::*;

/// How long a daemon may take to open all its sockets.
pub(super) const READY: Duration = Duration::from_secs(5);
/// The python listener's port: 161/udp is `snmp`.
pub(super) const PY_PORT: u16 = 161;

/// (uid, gid) of a user in /etc/passwd.
pub(super) fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// The pid on the first line of a pid file (postmaster.pid has more lines).
pub(super) fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The namespace, the temporary directory and every daemon started in the
/// namespace. Dropping it stops the daemons and removes the rest.
pub(super) struct Lab {
    ss: PathBuf,
    /// Declared before `dir`: deleted (its processes killed) first.
    ns: Netns,
    dir: Option<tempfile::TempDir>,
    /// Foreground daemons, killed and reaped by their own Drop.
    pub(super) spawned: Vec<Spawned>,
    /// Pid files of the daemons that detach from their parent.
    pub(super) pid_files: Vec<PathBuf>,
}

impl Lab {
    /// The lab, or why it cannot be set up here.
    pub(super) fn new(ip: PathBuf, ss: PathBuf) -> Result<Lab, String> {
        let dir = tempfile::Builder::new()
            .prefix("wp-daemons-")
            .tempdir()
            .unwrap();
        // Workers running as www-data or redis must reach into it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Ok(Lab {
            ss,
            ns: Netns::create(&ip, "wp-daemons")?,
            dir: Some(dir),
            spawned: Vec::new(),
            pid_files: Vec::new(),
        })
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().unwrap().path().join(name)
    }

    /// `ip netns exec NS program`, with stdin closed.
    pub(super) fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.ns.exec(program)
    }

    /// Send a daemon's stdout and stderr to `DIR/name.log`: a daemon keeps
    /// them open after its parent exits, so they cannot be pipes we wait on.
    pub(super) fn log_to(&self, cmd: &mut Command, name: &str) {
        let log = File::create(self.path(&format!("{name}.log"))).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
    }

    pub(super) fn logs(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| {
                let text = fs::read_to_string(self.path(n)).unwrap_or_else(|e| e.to_string());
                format!("--- {n}:\n{text}")
            })
            .collect()
    }

    /// `ss FLAGS` in the namespace: its text and its keys.
    pub(super) fn ss(&self, flags: &str) -> (String, Vec<Key>) {
        let out = run(self.exec(&self.ss).arg(flags));
        assert!(
            out.status.success(),
            "ss: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let keys = ss_keys(&text);
        (text, keys)
    }

    /// Retry `check` until it succeeds; after READY, fail with its last
    /// complaint and the daemon's logs.
    pub(super) fn poll<T>(
        &self,
        what: &str,
        logs: &[&str],
        mut check: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + READY;
        loop {
            match check() {
                Ok(v) => return v,
                Err(why) if Instant::now() > deadline => {
                    panic!(
                        "{what}: not ready after {READY:?}: {why}\n{}",
                        self.logs(logs)
                    )
                }
                Err(_) => sleep(Duration::from_millis(25)),
            }
        }
    }

    /// Wait until ss lists every (protocol, address, port) of `want`; ss
    /// writes a dual-stack socket's address as `*`. Without -p: scanning
    /// every process on a busy host makes each poll slow.
    pub(super) fn wait_for(&self, what: &str, want: &[(&str, &str, u16)], logs: &[&str]) {
        self.poll(what, logs, || {
            let (text, keys) = self.ss("-tulnH");
            let missing = crate::ss::missing(&keys, want);
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no {missing:?} in `ss -tulnH`:\n{text}"))
            }
        })
    }

    pub(super) fn wait_for_pid_file(&self, path: &Path, what: &str, logs: &[&str]) -> u32 {
        self.poll(what, logs, || {
            read_pid(path).ok_or_else(|| format!("no pid in {}", path.display()))
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Foreground daemons: SIGKILL and reap.
        self.spawned.clear();
        // Detached daemons by their pid files, politely, so that the nginx
        // master takes its workers down with it; then anything still in the
        // namespace (a daemon that failed half way, a pid file not written
        // yet) goes with the namespace.
        let members = self.ns.members();
        let stopping: Vec<u32> = self
            .pid_files
            .iter()
            .filter_map(|f| read_pid(f))
            .filter(|p| members.contains(p))
            .collect();
        for &pid in &stopping {
            signal(pid, libc::SIGTERM);
        }
        for &pid in &stopping {
            wait_gone(pid, Duration::from_secs(3));
        }
        self.ns.delete();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}
