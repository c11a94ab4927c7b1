//! Linux: details of the processes that own sockets, from /proc/<pid>.
//!
//! Only owners are read (not every process), and text fields are kept as raw
//! bytes: names and command lines need not be UTF-8.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use procfs::process::{Stat, Status};
use procfs::{FromBufReadSI, FromRead};

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

/// Read one process; `None` when it exited or cannot be read at all.
pub(super) fn read(proc_root: &Path, pid: u32, clock: Clock) -> Option<Process> {
    let dir = proc_root.join(pid.to_string());
    let stat = File::open(dir.join("stat"))
        .ok()
        .and_then(|f| Stat::from_read(f).ok())?;
    let status = File::open(dir.join("status"))
        .ok()
        .and_then(|f| Status::from_read(f).ok());
    let name = read_bytes(&dir.join("comm"))
        .map(|mut b| {
            if b.last() == Some(&b'\n') {
                b.pop();
            }
            b
        })
        .unwrap_or_else(|_| stat.comm.clone().into_bytes());
    let cmdline = read_bytes(&dir.join("cmdline"))
        .map(|b| split_cmdline(&b))
        .unwrap_or_default();
    let started_at = clock
        .boot_time
        .map(|boot| boot + stat.starttime / clock.ticks_per_second);
    Some(Process {
        pid,
        ppid: u32::try_from(stat.ppid).ok(),
        name,
        exe: std::fs::read_link(dir.join("exe")).ok(),
        cmdline,
        uid: status.map(|s| s.ruid),
        user: None,
        started_at,
    })
}

fn read_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
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
    use super::split_cmdline;

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
