//! Shared helpers: running the binary, the JSON contract types, and child
//! processes that hold sockets and are killed when the test ends.

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;
use std::process::Output;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Deserialize;

pub use crate::skip::{Skip, skip};

/// Debian's python3, the interpreter `.ci/run` installs python3 and
/// python3-prometheus-client for. The tests call it by its path: the first
/// python3 on PATH may be another one (a pyenv shim) without the package.
pub const PYTHON3: &str = "/usr/bin/python3";

/// Tests that open sockets hold a read guard while their sockets live; the
/// comparison with `ss` takes the write guard so that the host does not
/// change between its two snapshots.
static LIVE: RwLock<()> = RwLock::new(());

pub fn sockets_guard() -> RwLockReadGuard<'static, ()> {
    LIVE.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive_guard() -> RwLockWriteGuard<'static, ()> {
    LIVE.write().unwrap_or_else(|e| e.into_inner())
}

/// Process creation and whyport runs are serialised: a freshly forked
/// process briefly holds copies of every descriptor of the test process,
/// and a scan at that moment would see it as one more owner.
static RUN: Mutex<()> = Mutex::new(());

pub fn whyport() -> Command {
    Command::new(bin_path())
}

/// Run a command to completion while no other test forks.
pub fn run(cmd: &mut Command) -> Output {
    let _g = RUN.lock().unwrap_or_else(|e| e.into_inner());
    cmd.output().unwrap()
}

/// Run whyport with `args` and return stdout as text.
pub fn table(args: &[&str]) -> String {
    String::from_utf8_lossy(&run(whyport().args(args)).stdout).into_owned()
}

pub fn bin_path() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("whyport")
}

/// Run `whyport --json ARGS` and parse the document strictly.
pub fn listing(args: &[&str]) -> Listing {
    parse(&run(whyport().arg("--json").args(args)))
}

pub fn parse(out: &Output) -> Listing {
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "whyport failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(l) => l,
        Err(e) => panic!(
            "JSON does not match the documented schema: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        ),
    }
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

pub fn my_pid() -> u32 {
    std::process::id()
}

// The JSON contract of docs/json.md. `deny_unknown_fields` makes any schema
// change a visible, deliberate edit here.

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub version: u32,
    pub iana_snapshot: String,
    pub listeners: Vec<Listener>,
    pub hidden: Hidden,
    pub notes: Vec<String>,
    /// Only with targets.
    #[serde(default)]
    pub unanswered: Option<Vec<Unanswered>>,
    /// Ports forwarded by NAT rules (tests/cli/namespaces.rs reads them).
    pub forwarded: Vec<serde_json::Value>,
    /// Listeners in other network namespaces; null when not counted.
    pub other_namespaces: Option<OtherNamespaces>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherNamespaces {
    pub listeners: usize,
    pub namespaces: usize,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unanswered {
    pub target: String,
    pub connections: Vec<ConnectionJson>,
    /// For `--pid` targets only.
    #[serde(default)]
    pub process: Option<ProcessStateJson>,
    pub elsewhere: Vec<ElsewhereJson>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessStateJson {
    pub state: String,
    pub reason: Option<String>,
    pub netns: Option<u64>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElsewhereJson {
    pub protocol: String,
    pub address: String,
    pub port: u16,
    pub netns: u64,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionJson {
    pub protocol: String,
    pub local: String,
    pub remote: String,
    pub state: u8,
    pub pids: Vec<u32>,
}

/// The `why` object of an explained listener (docs/json.md).
// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Why {
    pub exposure: ExposureJson,
    pub groups: Vec<GroupJson>,
    pub ancestors: Vec<AncestorJson>,
    pub origin: OriginJson,
    pub service_note: Option<String>,
    pub warnings: Vec<WarningJson>,
    pub stop: Vec<String>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureJson {
    pub kind: String,
    pub beyond_loopback: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub addresses: Vec<String>,
    pub interface: Option<String>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupJson {
    pub leader: u32,
    pub workers: Vec<u32>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AncestorJson {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: String,
    pub cmdline: Vec<String>,
    pub user: Option<String>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginJson {
    pub kind: String,
    pub summary: String,
    pub unit: Option<String>,
    pub unit_user: Option<u32>,
    pub container: Option<ContainerJson>,
    pub launcher: Option<LauncherJson>,
    pub socket_unit: Option<String>,
    pub service_unit: Option<String>,
    pub inetd_line: Option<String>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerJson {
    pub runtime: String,
    pub id: String,
    pub name: Option<String>,
    pub pod: Option<String>,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LauncherJson {
    pub kind: String,
    pub pid: u32,
    pub name: String,
}

// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningJson {
    pub id: String,
    pub text: String,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub protocol: String,
    pub family: String,
    pub address: String,
    pub port: u16,
    pub interface: Option<String>,
    pub dual_stack: bool,
    pub inode: u64,
    pub socket_uid: u32,
    pub service: Option<Service>,
    pub processes: Vec<Proc>,
    pub owner_status: String,
    pub hidden_reason: Option<String>,
    /// Only with targets.
    #[serde(default)]
    pub why: Option<Why>,
    /// Only with -A.
    #[serde(default)]
    pub netns: Option<serde_json::Value>,
    /// `exposed` or `loopback` (the listing; absent in audit documents).
    #[serde(default)]
    pub exposure: Option<String>,
    /// What the host's packet filter lets in (the listing; docs/firewall.md).
    #[serde(default)]
    pub firewall: Option<Firewall>,
}

/// The `firewall` object of a listener or forward (docs/json.md).
// Every field is part of the contract even where no test reads it.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// `open`, `open-from`, `blocked`, `undecided`, `local-only`.
    pub answer: String,
    pub summary: String,
    pub paths: Vec<FirewallPath>,
    pub notes: Vec<String>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallPath {
    pub interface: String,
    pub address: String,
    pub parts: Vec<FirewallPart>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallPart {
    pub sources: Vec<String>,
    pub outcome: String,
    pub by: Option<FirewallBy>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallBy {
    pub chain: String,
    pub rule: Option<u64>,
    pub text: String,
    pub policy: bool,
    pub unknown: Option<String>,
}

impl Listener {
    pub fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|p| p.pid).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub description: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proc {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: String,
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub started_at: Option<String>,
    pub fds: Vec<u32>,
    #[serde(default)]
    pub name_hex: Option<String>,
    #[serde(default)]
    pub exe_hex: Option<String>,
    #[serde(default)]
    pub cmdline_hex: Option<Vec<String>>,
    /// Only with targets.
    #[serde(default)]
    pub cwd: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    pub reason: Option<String>,
    pub sockets_without_owner: usize,
    pub sockets_with_partial_owners: usize,
}

/// A forked copy of the test process that keeps only the descriptors in
/// `keep`, renames itself, optionally drops to `uid`, and waits to be
/// killed. It dies with the test process too (PR_SET_PDEATHSIG).
pub struct Child {
    pub pid: u32,
}

impl Child {
    pub fn fork(name: &str, keep: &[RawFd], uid: Option<u32>) -> Child {
        let _g = RUN.lock().unwrap_or_else(|e| e.into_inner());
        let mut name_buf = [0u8; 16];
        let n = name.len().min(15);
        name_buf[..n].copy_from_slice(&name.as_bytes()[..n]);
        let (mut ready_r, ready_w) = std::io::pipe().unwrap();
        let ready_fd = ready_w.as_raw_fd();
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the child only makes async-signal-safe system calls
        // (prctl, close, setgid, setuid, write, pause, _exit) before it dies.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
                libc::prctl(libc::PR_SET_NAME, name_buf.as_ptr());
                for fd in 3..4096 {
                    if fd != ready_fd && !keep.contains(&fd) {
                        libc::close(fd);
                    }
                }
                if let Some(uid) = uid {
                    if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                        libc::_exit(3);
                    }
                    // A uid change makes the process non-dumpable, which
                    // would hide its /proc files from its own new user.
                    libc::prctl(libc::PR_SET_DUMPABLE, 1);
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                }
                libc::write(ready_fd, b"!".as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        drop(ready_w);
        let mut byte = [0u8; 1];
        assert_eq!(
            ready_r.read(&mut byte).unwrap(),
            1,
            "forked child did not start"
        );
        Child { pid: pid as u32 }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: the pid is our own child; reaping it avoids a zombie.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGKILL);
            libc::waitpid(self.pid as i32, std::ptr::null_mut(), 0);
        }
    }
}

/// The benchmark's load generator, built by `cargo test` with the examples.
pub fn loadgen_path() -> std::path::PathBuf {
    bin_path()
        .parent()
        .unwrap()
        .join("examples")
        .join("loadgen")
}

/// Start a program that prints one line when it is ready (loadgen), and
/// return it with that line.
pub fn start_ready(program: &std::path::Path, args: &[&str]) -> (Spawned, String) {
    let mut child = Spawned::start(
        Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped()),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line)
}

/// A spawned program, killed and reaped when the test ends.
pub struct Spawned(pub std::process::Child);

impl Spawned {
    pub fn start(cmd: &mut Command) -> Spawned {
        let _g = RUN.lock().unwrap_or_else(|e| e.into_inner());
        Spawned(cmd.spawn().unwrap())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}
