//! Linux: details of the processes that own sockets, from /proc/<pid>.
//!
//! Only owners are read (not every process), and text fields are kept as raw
//! bytes: names and command lines need not be UTF-8.

use std::ffi::OsString;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, openat, readlinkat, statat};

use super::proc_file::{self, Ends, Fill, Links};
use super::proc_text::{
    boot_time, split_cmdline, stat_comm, stat_fields, status_nspid, status_ruid,
};
use crate::collect::Details;
use crate::model::Process;

/// System facts needed to turn a start time in clock ticks into a date.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    pub boot_time: Option<u64>,
    pub ticks_per_second: u64,
}

impl Clock {
    pub fn read(proc_root: &Path) -> Clock {
        let mut boot = None;
        // Line by line: only `btime` is wanted, after one line per CPU.
        let _ = proc_file::for_each_line(
            rustix::fs::CWD,
            proc_root.join("stat"),
            Links::Refuse,
            proc_file::PROC_STAT,
            |line| {
                if boot.is_none() {
                    boot = boot_time(line);
                }
            },
        );
        Clock {
            boot_time: boot,
            ticks_per_second: procfs::ticks_per_second().max(1),
        }
    }
}

/// Which tree the processes are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tree {
    /// The running system's /proc: the kernel can be asked about a file.
    Live,
    /// A recorded tree (`--proc-root`): only what was written down.
    Recorded,
}

/// How to read each process: the same for every one of a run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    pub clock: Clock,
    pub details: Details,
    pub tree: Tree,
}

/// What the caller already knows of a process (the BPF walk's record of
/// it, and what it read of another process with the same css_set or
/// executable file): read from /proc only what is missing.
///
/// Without the walk's parent and name, /proc/<pid>/stat is read and the
/// start time checked, not trusted: it tells the process from a later one
/// with its PID. With them, stat is not read (it was a third of an
/// owner's cost): the walk saw the process with that start, and the
/// process directory opened here is its, unless it exited and the kernel
/// gave its PID to another in the milliseconds since, which cyclic PID
/// allocation rules out short of pid_max forks in that time.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    /// Its start, in clock ticks since boot.
    pub born: Option<u64>,
    /// Its real uid.
    pub uid: Option<u32>,
    /// Its PID in its own PID namespace.
    pub ns_pid: Option<u32>,
    /// Its parent's PID and its name, as /proc/<pid>/stat has them.
    pub parent_name: Option<(u32, Vec<u8>)>,
    /// Its executable's link and whether it was deleted.
    pub exe: Option<(Option<PathBuf>, Option<bool>)>,
    /// The text of its cgroup file.
    pub cgroup: Option<Option<String>>,
}

/// A file of a process that was there and was not read (or not whole
/// where that matters): a recorded tree's link to a device, a FIFO, a stat
/// over its cap.
#[derive(Debug)]
pub(super) struct Refused {
    pub pid: u32,
    pub file: &'static str,
    pub why: proc_file::Error,
}

/// Read one process relative to the open /proc directory; `None` when it
/// exited or cannot be read at all. About a dozen system calls: the
/// process's directory is opened once and each file read without the size
/// probes `std::fs::read` makes. A process whose stat is refused (see
/// proc_file.rs) is kept by its pid alone, and every refused file is added
/// to `refused`.
/// `base`/`path` names the process's /proc directory: `/proc` and the pid,
/// or an open `/proc/<pid>/fd` and `..`, which can only reach the process
/// whose descriptors were just read, even if its pid has been reused since.
/// `known.born`, when the caller knows the process's start time (in clock
/// ticks since boot, as /proc/<pid>/stat has it), rejects a process that
/// started at another time: the PID was reused. Its ids, when the caller
/// knows both, spare the read of /proc/<pid>/status.
pub(super) fn read(
    base: BorrowedFd<'_>,
    path: &str,
    pid: u32,
    how: Reading,
    known: Known,
    refused: &mut Vec<Refused>,
) -> Option<Process> {
    let born = known.born;
    let details = how.details;
    if details == Details::Pid {
        return Some(Process {
            pid,
            ..Process::default()
        });
    }
    let dir = openat(
        base,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut refuse = |file, why| refused.push(Refused { pid, file, why });
    let mut buf = Vec::with_capacity(4096);
    let links = match how.tree {
        Tree::Live => Links::LiveProc,
        Tree::Recorded => Links::Refuse,
    };
    let read_file = |name, cap, buf: &mut Vec<u8>| {
        proc_file::read_capped(&dir, name, links, cap, Ends::AtShortRead, buf)
    };
    let (name, ppid, starttime) = match (known.parent_name, born, how.tree) {
        (Some((ppid, name)), Some(born), Tree::Live) => (name, ppid, born),
        _ => {
            match read_file("stat", proc_file::STAT, &mut buf) {
                Ok(Fill::Whole) => {}
                Ok(Fill::Truncated) => {
                    refuse("stat", proc_file::Error::TooLarge(proc_file::STAT));
                    return Some(unreadable(pid));
                }
                Err(e) if e.is_missing() => return None,
                Err(e @ proc_file::Error::NotRegular(_)) => {
                    refuse("stat", e);
                    return Some(unreadable(pid));
                }
                Err(_) => return None,
            }
            let name = stat_comm(&buf).to_vec();
            let (ppid, starttime) = stat_fields(&buf)?;
            // Known by its start (clock ticks since boot): another start
            // means the PID now belongs to another process.
            if born.is_some_and(|b| b != starttime) {
                return None;
            }
            (name, ppid, starttime)
        }
    };
    let mut text = |file: &'static str, cap, buf: &mut Vec<u8>| -> Option<Fill> {
        match read_file(file, cap, buf) {
            Ok(fill) => Some(fill),
            Err(e @ proc_file::Error::NotRegular(_)) => {
                refuse(file, e);
                None
            }
            Err(_) => None,
        }
    };
    let (uid, ns_pid) = match (known.uid, known.ns_pid) {
        (Some(uid), Some(ns_pid)) => (Some(uid), Some(ns_pid)),
        _ => text("status", proc_file::STATUS, &mut buf).map_or((None, None), |fill| {
            if fill == Fill::Truncated {
                proc_file::cut_to_line(&mut buf);
            }
            (status_ruid(&buf), status_nspid(&buf))
        }),
    };
    let cmdline = if details >= Details::Full {
        text("cmdline", proc_file::CMDLINE, &mut buf)
            .map(|fill| {
                let mut args = split_cmdline(&buf);
                if fill == Fill::Truncated
                    && let Some(last) = args.last_mut()
                {
                    last.extend_from_slice("…".as_bytes());
                }
                args
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The executable and the cgroup say where the process comes from (the
    // table's ORIGIN and WARN columns, explanations); the JSON listing shows
    // the executable only.
    let (exe, exe_deleted) = known.exe.unwrap_or_else(|| {
        let exe = readlinkat(&dir, "exe", Vec::new())
            .ok()
            .map(|c| PathBuf::from(OsString::from_vec(c.into_bytes())));
        let deleted = exe.as_ref().and_then(|e| exe_deleted(&dir, e, how.tree));
        (exe, deleted)
    });
    let cgroup = if details == Details::Full {
        None
    } else {
        known.cgroup.unwrap_or_else(|| {
            text("cgroup", proc_file::CGROUP, &mut buf).map(|fill| {
                if fill == Fill::Truncated {
                    proc_file::cut_to_line(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        })
    };
    let cwd = if details == Details::Explain {
        readlinkat(&dir, "cwd", Vec::new())
            .ok()
            .map(|c| PathBuf::from(OsString::from_vec(c.into_bytes())))
    } else {
        None
    };
    let started_at = how
        .clock
        .boot_time
        .map(|boot| boot + starttime / how.clock.ticks_per_second);
    Some(Process {
        pid,
        ppid: Some(ppid),
        name,
        exe,
        exe_deleted,
        cmdline,
        uid,
        user: None,
        started_at,
        cwd,
        cgroup,
        ns_pid,
    })
}

/// A process that is there but whose stat was refused: known by its pid.
fn unreadable(pid: u32) -> Process {
    Process {
        pid,
        ..Process::default()
    }
}

/// Whether the executable `exe` (its link's text) was deleted, as the
/// kernel says: the file the link leads to has no name left (a link count
/// of 0: deleted, or replaced by an upgrade that renamed a new file over
/// it). The ` (deleted)` the kernel appends to the text is not proof: a
/// program may be named so. The kernel appends it to every deleted
/// executable, so without it no stat is made. A deleted name of a file
/// that has another hard link still has a count: not deleted (the program
/// is still on disk). In a recorded tree only the text is known: `None`,
/// and the suffix decides (`Process::exe_is_deleted`).
fn exe_deleted(dir: &OwnedFd, exe: &Path, tree: Tree) -> Option<bool> {
    if tree == Tree::Recorded {
        return None;
    }
    if !exe.as_os_str().as_encoded_bytes().ends_with(b" (deleted)") {
        return Some(false);
    }
    // Through the link, to the executable itself; `None` when it cannot
    // be asked (the process exited meanwhile).
    statat(dir, "exe", AtFlags::empty())
        .ok()
        .map(|st| st.st_nlink == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live /proc, this test's PID, its parent and start (from its
    /// stat), and how the table reads processes.
    fn own_process() -> (rustix::fd::OwnedFd, u32, u32, u64, Reading) {
        let proc_dir = super::super::fds::open_dir(Path::new("/proc"))
            .unwrap_or_else(|e| panic!("/proc: {e}"));
        let pid = std::process::id();
        let stat = std::fs::read(format!("/proc/{pid}/stat")).unwrap_or_default();
        let (ppid, start) = super::super::proc_text::stat_fields(&stat)
            .unwrap_or_else(|| panic!("no start time in our own stat"));
        let how = Reading {
            clock: Clock::read(Path::new("/proc")),
            details: Details::Identity,
            tree: Tree::Live,
        };
        (proc_dir, pid, ppid, start, how)
    }

    /// A process is known by its start: the same PID with another start
    /// time (a reused PID) is not read as it.
    #[test]
    fn a_process_with_another_start_is_not_read() {
        let (proc_dir, pid, _, start, how) = own_process();
        let read = |born| {
            read(
                std::os::fd::AsFd::as_fd(&proc_dir),
                &pid.to_string(),
                pid,
                how,
                Known {
                    born,
                    ..Known::default()
                },
                &mut Vec::new(),
            )
        };
        assert!(read(None).is_some());
        assert!(read(Some(start)).is_some_and(|p| p.pid == pid));
        assert!(read(Some(start + 1)).is_none());
        assert!(how.clock.boot_time.is_some(), "btime from /proc/stat");
    }

    /// What the walk read of a process (its parent and name) is not read
    /// again, nor an exe link or cgroup text another owner with the same
    /// keys had; the rest is read. Without the parent and name, stat is
    /// read.
    #[test]
    fn what_the_walk_knows_is_not_read_again() {
        let (proc_dir, pid, ppid, start, how) = own_process();
        let read = |known| {
            read(
                std::os::fd::AsFd::as_fd(&proc_dir),
                &pid.to_string(),
                pid,
                how,
                known,
                &mut Vec::new(),
            )
            .unwrap_or_else(|| panic!("our own process"))
        };
        let told = read(Known {
            born: Some(start),
            parent_name: Some((ppid + 1, b"told".to_vec())),
            exe: Some((Some(PathBuf::from("/told/exe")), Some(false))),
            cgroup: Some(Some("0::/told\n".into())),
            ..Known::default()
        });
        assert_eq!(told.name, b"told");
        assert_eq!(told.ppid, Some(ppid + 1));
        assert_eq!(told.exe.as_deref(), Some(Path::new("/told/exe")));
        assert_eq!(told.cgroup.as_deref(), Some("0::/told\n"));
        let own = read(Known {
            born: Some(start),
            ..Known::default()
        });
        assert_eq!(own.ppid, Some(ppid));
        assert_ne!(own.name, b"told");
        assert_eq!(own.exe, std::env::current_exe().ok());
        assert_eq!(told.started_at, own.started_at, "the start is the walk's");
        // The walk's name without its start: stat is read after all.
        let unborn = read(Known {
            parent_name: Some((ppid + 1, b"told".to_vec())),
            ..Known::default()
        });
        assert_eq!(unborn.ppid, Some(ppid));
    }
}
