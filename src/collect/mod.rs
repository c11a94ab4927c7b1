//! Reading the system: one backend per platform, each returning the
//! project's own model types. All `cfg(target_os)` code lives below here.

#[cfg(target_os = "linux")]
mod linux;

use std::path::PathBuf;

use crate::model::{Protocol, Snapshot, Socket};

/// Where to read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The running system.
    Live,
    /// A recorded tree: `<dir>/proc` (including `proc/net`) and optionally
    /// `<dir>/etc/passwd`. Used by tests and for offline analysis.
    Recorded(PathBuf),
}

/// How much to read about each process that holds a socket: each file read
/// costs several microseconds per process, and a busy host has thousands of
/// owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Details {
    /// Only the pid (`--quiet`).
    Pid,
    /// Name, parent, user, start time (the table).
    Identity,
    /// Also the executable and the command line (JSON).
    Full,
}

/// Read the listening sockets of `protocols`, keep those `keep` accepts,
/// then find every process that holds one of them and read `details` of it
/// (with user names when `user_names`).
pub fn collect(
    source: &Source,
    protocols: &[Protocol],
    keep: impl Fn(&Socket) -> bool,
    details: Details,
    user_names: bool,
) -> anyhow::Result<Snapshot> {
    #[cfg(target_os = "linux")]
    {
        let start = std::time::Instant::now();
        let (mut sockets, notes) = linux::sockets(source, protocols)?;
        sockets.retain(|s| keep(s));
        let dumped = start.elapsed();
        let (socket_fds, processes, visibility) =
            linux::owners(source, &sockets, details, user_names)?;
        Ok(Snapshot {
            sockets,
            socket_fds,
            processes,
            visibility,
            notes,
            timings: vec![("sockets", dumped), ("owners", start.elapsed() - dumped)],
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (source, protocols, keep, details, user_names);
        anyhow::bail!(
            "this platform is not supported yet: whyport currently reads Linux's /proc and netlink"
        )
    }
}
