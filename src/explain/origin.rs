//! Why a process is running, from what /proc shows of it: the systemd unit
//! or container its cgroup names, and the launcher its ancestry reveals
//! (SSH session, terminal multiplexer, cron, supervisord, pm2, a shell,
//! inetd). Pure functions over recorded text; never guessed from a process
//! name alone when the cgroup can tell.

mod cgroup_path;
#[cfg(test)]
mod cgroup_tests;
mod launch;
#[cfg(test)]
mod launch_tests;
pub mod machine;

pub use machine::Machine;

use crate::model::Process;

/// The systemd unit a process belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// e.g. `nginx.service`, `session-3.scope`, `app.service` (user unit).
    pub name: String,
    /// The uid of the user manager for a user unit (`user@1000.service/...`),
    /// `None` for a system unit.
    pub user: Option<u32>,
}

pub use crate::model::Runtime;

/// The container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub runtime: Runtime,
    /// Full container id (64 hex digits for Docker/containerd/Podman), or the
    /// container/machine name for LXC and systemd-nspawn.
    pub id: String,
    /// Kubernetes pod uid, when the cgroup names one.
    pub pod: Option<String>,
}

/// What a cgroup path says about a process.
///
/// When `container` is set, `unit` is `None` unless the container runs its
/// own systemd (LXC, nspawn, a podman `--systemd` container) and the path
/// names a unit of that inner manager: `nginx.service` inside container `c1`
/// is then `unit: nginx.service` (for `systemctl -M c1`), never a host unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupInfo {
    pub unit: Option<Unit>,
    pub container: Option<Container>,
}

/// The nearest ancestor (or the process itself) that explains how it was
/// started by hand or by a supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LauncherKind {
    Inetd,
    Supervisord,
    Pm2,
    Cron,
    Tmux,
    Screen,
    SshSession,
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    pub kind: LauncherKind,
    /// The process that is the launcher (the shell, sshd, supervisord ...).
    pub pid: u32,
    /// Its name as shown (e.g. `bash`, `sshd`, `supervisord`).
    pub name: String,
}

/// Parse the text of /proc/<pid>/cgroup (cgroup v1, v2 or hybrid).
///
/// The unit comes from the unified (`0::`) line when it names more than the
/// root, else from the `name=systemd` line, else (v1 without systemd) from
/// the pids, memory or cpu line. A container found on any line wins over
/// that: on a hybrid host, Docker's and the kubelet's cgroupfs drivers
/// manage only the v1 hierarchies, so the unified line still reads
/// `containerd.service` while the v1 lines name the container.
pub fn from_cgroup(text: &str) -> CgroupInfo {
    let mut lines: Vec<(Rank, &str)> = text.lines().filter_map(hierarchy).collect();
    lines.sort_by_key(|&(rank, _)| rank);
    let found = lines
        .iter()
        .filter(|(_, path)| !is_root(path))
        .find_map(|(_, path)| cgroup_path::container(path));
    if let Some(info) = found {
        return info;
    }
    CgroupInfo {
        unit: unit_line(&lines).and_then(cgroup_path::unit),
        container: None,
    }
}

/// The launcher of `process`, given its ancestors from parent up to PID 1.
pub fn launcher(process: &Process, ancestors: &[&Process]) -> Option<Launcher> {
    launch::find(process, ancestors)
}

/// How much a hierarchy's path says about units, best first. v1 controller
/// paths stop at the deepest cgroup systemd realised for that controller
/// (often the slice, or `/`), so they come after the systemd hierarchies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Unified,
    NameSystemd,
    Pids,
    Memory,
    Cpu,
    Other,
}

/// One line `hierarchy-id:controllers:path`; `None` for anything else. The
/// path may itself hold `:` (some kubelet setups), so split only twice.
fn hierarchy(line: &str) -> Option<(Rank, &str)> {
    let (id, rest) = line.split_once(':')?;
    let (controllers, path) = rest.split_once(':')?;
    // A removed v2 cgroup that still holds a zombie reads "<path> (deleted)".
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    if !path.starts_with('/') {
        return None;
    }
    let has = |name: &str| controllers.split(',').any(|c| c == name);
    let rank = if id == "0" && controllers.is_empty() {
        Rank::Unified
    } else if has("name=systemd") {
        Rank::NameSystemd
    } else if has("pids") {
        Rank::Pids
    } else if has("memory") {
        Rank::Memory
    } else if has("cpu") {
        Rank::Cpu
    } else {
        Rank::Other
    };
    Some((rank, path))
}

/// The line to read the unit from, given lines sorted by rank.
fn unit_line<'a>(lines: &[(Rank, &'a str)]) -> Option<&'a str> {
    let pick = |rank: Rank| lines.iter().find(|l| l.0 == rank).map(|l| l.1);
    if let Some(path) = pick(Rank::Unified).filter(|p| !is_root(p)) {
        return Some(path);
    }
    // With a systemd hierarchy present, a root path there means "no unit"
    // (a kernel thread, or no systemd at all); a v1 controller that names a
    // path then belongs to someone else's scheme.
    if let Some(path) = pick(Rank::NameSystemd) {
        return Some(path);
    }
    [Rank::Pids, Rank::Memory, Rank::Cpu]
        .into_iter()
        .filter_map(pick)
        .find(|p| !is_root(p))
}

fn is_root(path: &str) -> bool {
    path.split('/')
        .all(|c| c.is_empty() || c == "." || c == "..")
}
