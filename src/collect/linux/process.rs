//! Linux: details of the processes that own sockets, from /proc/<pid>.
//!
//! Only owners are read (not every process), and text fields are kept as raw
//! bytes: names and command lines need not be UTF-8.

use std::ffi::OsString;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, openat, readlinkat};

use super::proc_text::{boot_time, split_cmdline, stat_comm, stat_fields, status_ruid};
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
        let boot_time = std::fs::read(proc_root.join("stat"))
            .ok()
            .and_then(|text| boot_time(&text));
        Clock {
            boot_time,
            ticks_per_second: procfs::ticks_per_second().max(1),
        }
    }
}

/// Read one process relative to the open /proc directory; `None` when it
/// exited or cannot be read at all. About a dozen system calls: the
/// process's directory is opened once and each file read without the size
/// probes `std::fs::read` makes.
/// `base`/`path` names the process's /proc directory: `/proc` and the pid,
/// or an open `/proc/<pid>/fd` and `..`, which can only reach the process
/// whose descriptors were just read, even if its pid has been reused since.
/// `born`, when the caller knows the process's start time (in clock ticks
/// since boot, as /proc/<pid>/stat has it), rejects a process that started
/// at another time: the PID was reused.
pub(super) fn read(
    base: BorrowedFd<'_>,
    path: &str,
    pid: u32,
    clock: Clock,
    details: Details,
    born: Option<u64>,
) -> Option<Process> {
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
    let mut buf = Vec::with_capacity(4096);
    read_small(&dir, "stat", &mut buf).ok()?;
    let name = stat_comm(&buf).to_vec();
    let (ppid, starttime) = stat_fields(&buf)?;
    // Known by its start (clock ticks since boot): another start means the
    // PID now belongs to another process.
    if born.is_some_and(|b| b != starttime) {
        return None;
    }
    let uid = read_small(&dir, "status", &mut buf)
        .ok()
        .and_then(|()| status_ruid(&buf));
    let cmdline = if details >= Details::Full {
        read_small(&dir, "cmdline", &mut buf)
            .map(|()| split_cmdline(&buf))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The executable and the cgroup say where the process comes from (the
    // table's ORIGIN and WARN columns, explanations); the JSON listing shows
    // the executable only.
    let exe = readlinkat(&dir, "exe", Vec::new())
        .ok()
        .map(|c| PathBuf::from(OsString::from_vec(c.into_bytes())));
    let cgroup = if details == Details::Full {
        None
    } else {
        read_small(&dir, "cgroup", &mut buf)
            .ok()
            .map(|()| String::from_utf8_lossy(&buf).into_owned())
    };
    let cwd = if details == Details::Explain {
        readlinkat(&dir, "cwd", Vec::new())
            .ok()
            .map(|c| PathBuf::from(OsString::from_vec(c.into_bytes())))
    } else {
        None
    };
    let started_at = clock
        .boot_time
        .map(|boot| boot + starttime / clock.ticks_per_second);
    Some(Process {
        pid,
        ppid: Some(ppid),
        name,
        exe,
        cmdline,
        uid,
        user: None,
        started_at,
        cwd,
        cgroup,
    })
}

/// Replace `buf` with the contents of `dir/name`.
fn read_small(dir: &OwnedFd, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let fd = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    loop {
        if buf.spare_capacity_mut().len() < 1024 {
            buf.reserve(4096);
        }
        let room = buf.spare_capacity_mut().len();
        let (filled, _) = rustix::io::read(&fd, buf.spare_capacity_mut())?;
        let n = filled.len();
        // SAFETY: read initialised the first n bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        // procfs hands over a whole file in one read when the buffer is
        // large enough, so a short read is the end: saves a read per file.
        if n < room {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process is known by its start: the same PID with another start
    /// time (a reused PID) is not read as it.
    #[test]
    fn a_process_with_another_start_is_not_read() {
        let proc_dir = openat(
            rustix::fs::CWD,
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap_or_else(|e| panic!("/proc: {e}"));
        let pid = std::process::id();
        let stat = std::fs::read(format!("/proc/{pid}/stat")).unwrap_or_default();
        let (_, start) = super::super::proc_text::stat_fields(&stat)
            .unwrap_or_else(|| panic!("no start time in our own stat"));
        let clock = Clock::read(Path::new("/proc"));
        let read = |born| {
            read(
                std::os::fd::AsFd::as_fd(&proc_dir),
                &pid.to_string(),
                pid,
                clock,
                Details::Identity,
                born,
            )
        };
        assert!(read(None).is_some());
        assert!(read(Some(start)).is_some_and(|p| p.pid == pid));
        assert!(read(Some(start + 1)).is_none());
    }
}
