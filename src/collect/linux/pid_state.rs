//! Linux: what a process named by `--pid` is, from /proc/<pid>/stat and
//! whether /proc/<pid>/fd can be listed.

use std::path::Path;

use rustix::fs::{Mode, OFlags, openat};
use rustix::io::Errno;

use super::proc_file::{self, Ends, Links};
use crate::model::PidState;

/// The state of `pid` under `proc_root` (`/proc` or a recorded tree).
pub(super) fn pid_state(proc_root: &Path, pid: u32) -> PidState {
    let dir = match rustix::fs::open(
        proc_root.join(pid.to_string()),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(Errno::NOENT) => return PidState::Missing,
        Err(e) => return PidState::Unreadable(format!("/proc/{pid}: {e}")),
    };
    // The state is the field after the name in parentheses; the name may
    // hold any byte, ')' included, so the last ')' ends it.
    let mut buf = Vec::new();
    let state = proc_file::read_capped(
        &dir,
        "stat",
        Links::Refuse,
        proc_file::STAT,
        Ends::AtShortRead,
        &mut buf,
    )
    .ok()
    .and_then(|_| {
        let close = buf.iter().rposition(|b| *b == b')')?;
        buf.get(close + 2).copied()
    });
    match state {
        None => return PidState::Missing,
        Some(b'Z') => return PidState::Zombie,
        Some(b'X' | b'x') => return PidState::Missing,
        Some(_) => {}
    }
    // A process of another network namespace (a container's) holds its
    // sockets there: say where, rather than "holds nothing".
    let netns = |d: &dyn rustix::fd::AsFd| {
        rustix::fs::statat(d, "ns/net", rustix::fs::AtFlags::empty())
            .ok()
            .map(|st| st.st_ino)
    };
    if let (Some(theirs), Ok(self_dir)) = (
        netns(&dir),
        rustix::fs::open(
            proc_root.join("self"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ),
    ) && netns(&self_dir).is_some_and(|ours| ours != theirs)
    {
        return PidState::OtherNamespace(theirs);
    }
    match openat(
        &dir,
        "fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(_) => PidState::NoListener,
        Err(Errno::NOENT) => PidState::Missing,
        Err(Errno::ACCESS | Errno::PERM) => {
            let why = if rustix::process::geteuid().is_root() {
                "even root may not read its open files (a security module, or missing CAP_SYS_PTRACE)"
            } else {
                "it belongs to another user and whyport is not running as root"
            };
            PidState::Unreadable(why.into())
        }
        Err(e) => PidState::Unreadable(format!("reading /proc/{pid}/fd: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_live_processes() {
        let proc_root = Path::new("/proc");
        assert_eq!(
            pid_state(proc_root, std::process::id()),
            PidState::NoListener
        );
        // PIDs are at most 2^22 on Linux.
        assert_eq!(pid_state(proc_root, 4_999_999), PidState::Missing);
    }

    #[test]
    fn a_zombie_is_told_apart() {
        let mut child = match std::process::Command::new("true").spawn() {
            Ok(c) => c,
            Err(e) => panic!("spawning true: {e}"),
        };
        // Not waited for: once it exits it stays a zombie.
        let pid = child.id();
        let mut state = PidState::NoListener;
        for _ in 0..200 {
            state = pid_state(Path::new("/proc"), pid);
            if state == PidState::Zombie {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.wait();
        assert_eq!(state, PidState::Zombie);
    }
}
