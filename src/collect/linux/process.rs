//! Linux: details of the processes that own sockets, from /proc/<pid>.
//!
//! Only owners are read (not every process), and text fields are kept as raw
//! bytes: names and command lines need not be UTF-8.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, openat, readlinkat};

use procfs::process::{Stat, Status};
use procfs::{FromBufReadSI, FromRead};

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
        let boot_time = File::open(proc_root.join("stat"))
            .ok()
            .and_then(|f| {
                procfs::KernelStats::from_buf_read(BufReader::new(f), procfs::current_system_info())
                    .ok()
            })
            .map(|s| s.btime);
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
pub(super) fn read(
    base: BorrowedFd<'_>,
    path: &str,
    pid: u32,
    clock: Clock,
    details: Details,
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
    let stat = Stat::from_read(buf.as_slice()).ok()?;
    let uid = read_small(&dir, "status", &mut buf)
        .ok()
        .and_then(|()| Status::from_read(buf.as_slice()).ok())
        .map(|s| s.ruid);
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
        .map(|boot| boot + stat.starttime / clock.ticks_per_second);
    Some(Process {
        pid,
        ppid: u32::try_from(stat.ppid).ok(),
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

/// The raw process name inside `pid (name) state ...`: from the first `(`
/// to the last `)`, since the name itself may contain parentheses.
pub(crate) fn stat_comm(stat: &[u8]) -> &[u8] {
    let open = stat.iter().position(|b| *b == b'(');
    let close = stat.iter().rposition(|b| *b == b')');
    match (open, close) {
        (Some(o), Some(c)) if o < c => &stat[o + 1..c],
        _ => &[],
    }
}

/// Split /proc/<pid>/cmdline into arguments. Arguments are NUL-terminated;
/// a process that rewrote its title may use spaces and no trailing NUL.
pub(crate) fn split_cmdline(raw: &[u8]) -> Vec<Vec<u8>> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::{split_cmdline, stat_comm};

    #[test]
    fn comm_may_contain_parentheses_and_any_bytes() {
        assert_eq!(stat_comm(b"42 (nginx) S 1 42"), b"nginx");
        assert_eq!(stat_comm(b"42 (a) b) (c) S 1"), b"a) b) (c");
        assert_eq!(stat_comm(b"42 (\xff\n) S 1"), b"\xff\n");
        assert_eq!(stat_comm(b"garbage"), b"");
    }

    #[test]
    fn splits_on_nul_and_keeps_empty_arguments() {
        assert_eq!(
            split_cmdline(b"nginx\0-g\0\0daemon off;\0"),
            vec![
                b"nginx".to_vec(),
                b"-g".to_vec(),
                b"".to_vec(),
                b"daemon off;".to_vec()
            ]
        );
        assert_eq!(split_cmdline(b""), Vec::<Vec<u8>>::new());
        assert_eq!(
            split_cmdline(b"nginx: worker process"),
            vec![b"nginx: worker process".to_vec()]
        );
        assert_eq!(split_cmdline(b"\xff\xfe\0"), vec![b"\xff\xfe".to_vec()]);
    }
}
