//! Linux: which processes hold which socket inodes, from /proc/<pid>/fd.
//!
//! One readlinkat per descriptor, relative to an open fd directory: this is
//! the hot loop of the whole tool (a busy host has >100,000 descriptors).
//! procfs's fd iterator costs four syscalls per descriptor, hence the direct
//! rustix calls. Processes are split across threads.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use rustix::fs::{Dir, Mode, OFlags, openat, readlinkat_raw};
use rustix::io::Errno;

use crate::model::SocketFd;

/// What the scan found, and which processes it could not look into.
#[derive(Debug, Default)]
pub(super) struct FdScan {
    pub fds: Vec<SocketFd>,
    pub unreadable: Vec<u32>,
}

/// Scan every process under `proc_root` for descriptors of `wanted` inodes.
pub(super) fn scan(proc_root: &Path, wanted: &HashSet<u64>) -> io::Result<FdScan> {
    let proc_dir = openat(
        rustix::fs::CWD,
        proc_root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let pids = list_pids(proc_root)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let mut result = FdScan::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let pids = &pids;
                let proc_dir = &proc_dir;
                scope.spawn(move || {
                    let mut part = FdScan::default();
                    for pid in pids.iter().skip(t).step_by(threads) {
                        scan_process(proc_dir, *pid, wanted, &mut part);
                    }
                    part
                })
            })
            .collect();
        for h in handles {
            if let Ok(part) = h.join() {
                result.fds.extend(part.fds);
                result.unreadable.extend(part.unreadable);
            }
        }
    });
    result.fds.sort_unstable();
    result.unreadable.sort_unstable();
    Ok(result)
}

/// Numeric entries of the /proc directory: one per process (not thread).
fn list_pids(proc_root: &Path) -> io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn scan_process(
    proc_dir: &impl rustix::fd::AsFd,
    pid: u32,
    wanted: &HashSet<u64>,
    out: &mut FdScan,
) {
    let path = format!("{pid}/fd");
    let fd_dir = match openat(
        proc_dir,
        path.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(Errno::ACCESS | Errno::PERM) => return out.unreadable.push(pid),
        Err(_) => return, // exited since the listing: not an error
    };
    let Ok(mut dir) = Dir::read_from(&fd_dir) else {
        return out.unreadable.push(pid);
    };
    let mut link = [0u8; 64];
    while let Some(entry) = dir.read() {
        let entry = match entry {
            Ok(e) => e,
            Err(Errno::ACCESS | Errno::PERM) => return out.unreadable.push(pid),
            Err(_) => return,
        };
        let name = entry.file_name();
        let Some(fd) = name.to_str().ok().and_then(|s| s.parse::<u32>().ok()) else {
            continue; // "." and ".."
        };
        match readlinkat_raw(&fd_dir, name, &mut link[..]) {
            Ok(n) => match socket_inode(&link[..n.min(link.len())]) {
                Some(inode) if wanted.contains(&inode) => {
                    out.fds.push(SocketFd { pid, fd, inode });
                }
                _ => {}
            },
            // Root can be refused too (PID 1 of a sandbox, a security module).
            Err(Errno::ACCESS | Errno::PERM) => return out.unreadable.push(pid),
            Err(_) => continue, // closed since the listing
        }
    }
}

/// The inode of a `socket:[12345]` link target.
pub(crate) fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::socket_inode;

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
    }
}
