//! Linux: every network namespace of the host, and running code inside
//! one. Namespaces are found where they are visible: the `ns/net` link of
//! every process, and nsfs bind mounts (`ip netns add` makes
//! /run/netns/NAME, Docker /run/docker/netns/ID) even when no process is
//! left in them.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::proc_file::{self, Links};
use crate::model::NetNamespace;

/// A namespace and a path that opens it (for setns).
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub info: NetNamespace,
    pub path: PathBuf,
}

/// Every network namespace visible from `proc_root` (live only). `known`
/// gives each process's namespace inode when the owner scan already read
/// them; otherwise every process's `ns/net` is looked at here.
pub(super) fn enumerate(proc_root: &Path, known: Option<&[(u32, u64)]>) -> Vec<Found> {
    let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| m.ino());
    let own = inode(&proc_root.join("self/ns/net"));
    let mut members: Vec<(u32, u64)> = match known {
        Some(k) => k.to_vec(),
        None => std::fs::read_dir(proc_root)
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| {
                        let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                        Some((pid, inode(&e.path().join("ns/net"))?))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    // PID 1's namespace, as the scan (or the listing above) read it.
    let init = members
        .iter()
        .find(|(pid, _)| *pid == 1)
        .map(|m| m.1)
        .or_else(|| host_netns(proc_root, &inode));
    let mut found: BTreeMap<u64, Found> = BTreeMap::new();
    let entry = |found: &mut BTreeMap<u64, Found>, ino: u64, path: PathBuf| {
        found.entry(ino).or_insert_with(|| Found {
            info: NetNamespace {
                inode: ino,
                own: Some(ino) == own,
                init: Some(ino) == init,
                ..NetNamespace::default()
            },
            path,
        });
        ino
    };
    if let Some(own) = own {
        // whyport itself (it is not in a scan of other processes).
        members.push((std::process::id(), own));
    }
    for (pid, ino) in members {
        let path = proc_root.join(pid.to_string()).join("ns/net");
        let key = entry(&mut found, ino, path);
        if let Some(f) = found.get_mut(&key) {
            f.info.pids.push(pid);
        }
    }
    for mount in nsfs_mounts(proc_root) {
        if let Some(ino) = inode(Path::new(&mount)) {
            let key = entry(&mut found, ino, PathBuf::from(&mount));
            if let Some(f) = found.get_mut(&key) {
                if f.info.pids.is_empty() {
                    // A bind mount outlives its processes: prefer it for setns.
                    f.path = PathBuf::from(&mount);
                }
                f.info.mounts.push(mount);
            }
        }
    }
    let mut list: Vec<Found> = found.into_values().collect();
    for f in &mut list {
        f.info.pids.sort_unstable();
        f.info.pids.dedup();
        f.info.mounts.sort();
        f.info.mounts.dedup();
    }
    list
}

/// The host's network namespace: PID 1's. Where its link cannot be read
/// (PID 1 not dumpable, or guarded by a security module), kthreadd's.
fn host_netns(proc_root: &Path, inode: &dyn Fn(&Path) -> Option<u64>) -> Option<u64> {
    inode(&proc_root.join("1/ns/net")).or_else(kthreadd_netns)
}

/// The initial network namespace, from kthreadd's link (live /proc):
/// kernel threads never leave the initial namespaces. Only in the initial
/// PID namespace, where PID 2 is always kthreadd (`proc_text::is_kthreadd`
/// says why not elsewhere). Read once: the owner scan and the namespaces
/// both ask, and it cannot change.
pub(super) fn kthreadd_netns() -> Option<u64> {
    static NETNS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *NETNS.get_or_init(|| {
        if super::in_pid_namespace() {
            return None;
        }
        let stat = proc_file::read_text(
            rustix::fs::CWD,
            "/proc/2/stat",
            Links::Refuse,
            proc_file::STAT,
        )
        .ok()?;
        super::proc_text::is_kthreadd(stat.as_bytes())
            .then(|| std::fs::metadata("/proc/2/ns/net").ok().map(|m| m.ino()))?
    })
}

/// Mount points of network namespace files (nsfs mounts whose root is
/// `net:[...]`), from our mountinfo; /run/netns and /run/docker/netns are
/// also listed directly in case they are not mount points of ours.
fn nsfs_mounts(proc_root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let _ = proc_file::for_each_line(
        rustix::fs::CWD,
        proc_root.join("self/mountinfo"),
        Links::Refuse,
        proc_file::MOUNTINFO,
        |line| {
            let line = String::from_utf8_lossy(line);
            let Some((left, right)) = line.split_once(" - ") else {
                return;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let is_net = fields.get(3).is_some_and(|root| root.starts_with("net:["));
            if right.starts_with("nsfs ")
                && is_net
                && let Some(point) = fields.get(4)
            {
                out.push(unescape_mount(point));
            }
        },
    );
    for dir in ["/run/netns", "/run/docker/netns"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            out.extend(
                entries
                    .flatten()
                    .map(|e| e.path().to_string_lossy().into_owned()),
            );
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` (octal).
fn unescape_mount(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run `f` on a thread that has entered the network namespace at `path`
/// (sockets it creates live there; the rest of whyport is unaffected).
/// Needs CAP_SYS_ADMIN.
pub(super) fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    // Opened, not read (setns takes it): without blocking, as proc_file.rs
    // opens, since /run/netns/* may hold anything root put there.
    let file = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::CLOEXEC
            | rustix::fs::OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    )?;
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a descriptor we own.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .map_err(|_| io::Error::other("a namespace thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape_mount(r"/run/netns/a\040b"), "/run/netns/a b");
        assert_eq!(unescape_mount(r"/x\134y"), r"/x\y");
        assert_eq!(unescape_mount(r"/x\1"), r"/x\1");
    }
}
