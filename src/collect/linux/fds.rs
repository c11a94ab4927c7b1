//! Linux: which processes hold which socket inodes, from /proc/<pid>/fd, and
//! the details of every process found holding one.
//!
//! This is the hot loop of the whole tool (a busy host has >100,000
//! descriptors): one readlinkat per descriptor, relative to the open fd
//! directory. Dense fd tables are probed 0, 1, 2... up to the count the
//! kernel reports (getdents on /proc/<pid>/fd was 29% of the scan under
//! perf); sparse ones are listed with a reused getdents buffer. procfs's fd
//! iterator makes four system calls per descriptor (measured while the
//! project was planned) and `rustix::fs::Dir::read_from` three more per
//! directory (fcntl, openat, close: seen under strace), hence the raw
//! calls. Processes are shared out to one worker per core through a queue
//! (a small host's to this thread alone: `linux::threads_pay`); a process
//! with a very large fd table is split into chunks so that it does not
//! leave one core working alone. Owner details are read by the
//! worker that found the owner, so they overlap with the scan.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rustix::fs::{Mode, OFlags, RawDir, openat, readlinkat_raw};
use rustix::io::Errno;

use super::bpf_iter::{Prepared, Record, Walk};
use super::proc_file::{self, Links};
use super::process::{self, Reading, Refused};
use crate::collect::Details;
use crate::model::{Process, SocketFd};

/// Processes with more descriptors than this are split across workers.
const SPLIT_ABOVE: usize = 8192;
const CHUNK: usize = 4096;

/// What the scan found, and which processes it could not look into.
#[derive(Debug, Default)]
pub(super) struct FdScan {
    pub fds: Vec<SocketFd>,
    pub owners: Vec<Process>,
    pub unreadable: Vec<u32>,
    /// (pid, inode of its network namespace), when asked for: one more
    /// stat per process, made by the worker that has it open anyway.
    pub netns: Vec<(u32, u64)>,
    /// How long the BPF walk took, when it was used; why not, when it was
    /// tried and failed.
    pub walk: Option<Result<(std::time::Duration, Walk), String>>,
    /// Owners' files that were there and not read (a recorded tree's
    /// links to devices, FIFOs, oversized files).
    pub refused: Vec<Refused>,
}

enum Work {
    Process(u32),
    /// Part of a large process's descriptors, with its open fd directory.
    Chunk(u32, Arc<OwnedFd>, Vec<u32>),
}

struct Shared<'a> {
    proc_dir: OwnedFd,
    /// The live /proc reports the number of open descriptors as the size of
    /// /proc/<pid>/fd (Linux 6.2+); a recorded tree on disk does not.
    sizes_count_fds: bool,
    /// Stat each fd directory before opening it (see `scan_process`).
    empty_first: bool,
    wanted: &'a HashSet<u64>,
    how: Reading,
    netns: bool,
    /// Noted with their namespace without asking each (`kernel_threads`).
    kernel_threads: Option<KernelThreads>,
    queue: Mutex<VecDeque<Work>>,
    /// Signalled when work is queued or the last item is done.
    more: Condvar,
    /// Work items queued or in progress; workers stop when it reaches 0.
    open_items: AtomicUsize,
    /// A worker unwound with an item in hand (a bug): that item is never
    /// finished, so the others stop instead of waiting for it.
    abandoned: AtomicBool,
}

/// The /proc directory (or a recorded tree's), held open: every process's
/// files are opened relative to it.
pub(super) fn open_dir(proc_root: &Path) -> io::Result<OwnedFd> {
    Ok(openat(
        rustix::fs::CWD,
        proc_root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Scan every process under `proc_root` for descriptors of `wanted` inodes:
/// `workers` scanning /proc (this thread among them), or, with the walk,
/// `workers` threads reading the owners it reports.
pub(super) fn scan(
    proc_root: &Path,
    wanted: &HashSet<u64>,
    how: Reading,
    netns: bool,
    walk: Option<io::Result<Prepared>>,
    workers: usize,
) -> io::Result<FdScan> {
    let live = how.tree == process::Tree::Live;
    let proc_dir = open_dir(proc_root)?;
    let mut pids = list_pids(proc_root)?;
    // The fast path: one kernel walk finds every socket descriptor; only
    // the processes it did not see are scanned through /proc below.
    let walk_started = std::time::Instant::now();
    let mut walked = Walked::default();
    let mut walked_in = None;
    let mut read = Vec::new();
    if let Some(Err(e)) = &walk {
        walked_in = Some(Err(e.to_string()));
    }
    if let (true, Some(Ok(walk))) = (live, walk) {
        // Owners' details are read while the walk goes on: each owner is
        // handed to the readers as soon as the walk first reports it, so
        // the kernel's walk and the /proc reads overlap (they share the
        // cores: the walk has one iterator per core).
        let (tx, rx) = std::sync::mpsc::channel::<Record>();
        let rx = Mutex::new(rx);
        let alike = Mutex::new(Alike::default());
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..workers)
                .map(|_| scope.spawn(|| read_owners(&rx, &proc_dir, how, &alike)))
                .collect();
            let tried = walk.walk(|r| {
                if let Some(owner) = walked.add(r, wanted, netns) {
                    let _ = tx.send(owner);
                }
            });
            walked_in = Some(
                tried
                    .map(|kind| (walk_started.elapsed(), kind))
                    .map_err(|e| e.to_string()),
            );
            drop(tx);
            read = readers
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect();
        });
    }
    let fast = matches!(walked_in, Some(Ok(_)));
    let mut found = FdScan::default();
    if fast {
        pids.retain(|p| !walked.seen.contains(p) || walked.incomplete.contains(p));
        found = from_walk(walked, read);
    }
    let sizes = live && sizes_count_fds(&proc_dir);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let empty_first = sizes && root;
    let kernel_threads = (netns && empty_first)
        .then(|| kernel_threads(&proc_dir))
        .flatten();
    let shared = Shared {
        sizes_count_fds: sizes,
        empty_first,
        kernel_threads,
        proc_dir,
        wanted,
        how,
        netns,
        open_items: AtomicUsize::new(pids.len()),
        queue: Mutex::new(pids.into_iter().map(Work::Process).collect()),
        more: Condvar::new(),
        abandoned: AtomicBool::new(false),
    };
    let mut result = found;
    result.walk = walked_in;
    let mut add = |part: FdScan| {
        result.fds.extend(part.fds);
        result.owners.extend(part.owners);
        result.unreadable.extend(part.unreadable);
        result.netns.extend(part.netns);
        result.refused.extend(part.refused);
    };
    std::thread::scope(|scope| {
        // This thread is one of the workers: one thread fewer to start.
        let handles: Vec<_> = (1..workers)
            .map(|_| scope.spawn(|| worker(&shared)))
            .collect();
        add(worker(&shared));
        for h in handles {
            add(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
    });
    result.fds.sort_unstable();
    result.owners.sort_unstable_by_key(|p| p.pid);
    result.owners.dedup_by_key(|p| p.pid);
    result.unreadable.sort_unstable();
    result.unreadable.dedup();
    Ok(result)
}

/// What the BPF walk reported, kept as it is read: the wanted socket
/// descriptors, each owner's start time, the processes seen, and their
/// network namespaces.
#[derive(Default)]
struct Walked {
    fds: Vec<SocketFd>,
    starts: std::collections::HashMap<u32, u64>,
    seen: HashSet<u32>,
    /// Processes whose tables the walk did not read to their end (more
    /// sockets than one run of the program reports): /proc reads them.
    incomplete: HashSet<u32>,
    netns: Vec<(u32, u64)>,
    /// Processes first seen without a network namespace (a zombie group
    /// leader's marker: its threads' records say it).
    netns_unknown: HashSet<u32>,
}

impl Walked {
    /// Keep record `r`; the record again when it is the first wanted
    /// socket of its process (a new owner).
    fn add(&mut self, r: Record, wanted: &HashSet<u64>, netns: bool) -> Option<Record> {
        if r.inode == 0 && r.fd == super::bpf_iter::INCOMPLETE {
            self.incomplete.insert(r.tgid);
            return None;
        }
        if self.seen.insert(r.tgid) {
            if netns && r.netns == 0 {
                self.netns_unknown.insert(r.tgid);
            } else if netns {
                self.netns.push((r.tgid, u64::from(r.netns)));
            }
        } else if r.netns != 0
            && !self.netns_unknown.is_empty()
            && self.netns_unknown.remove(&r.tgid)
        {
            self.netns.push((r.tgid, u64::from(r.netns)));
        }
        if r.inode != 0 && wanted.contains(&r.inode) {
            self.fds.push(SocketFd {
                pid: r.tgid,
                fd: Some(r.fd),
                inode: r.inode,
            });
            if self.starts.insert(r.tgid, r.start_ns).is_none() {
                return Some(r);
            }
        }
        None
    }
}

/// What one owner's files said that others share: the cgroup text of
/// each css_set and the exe link of each executable file (keys from the
/// walk), read once for all the owners that have them.
#[derive(Default)]
struct Alike {
    cgroups: std::collections::HashMap<u64, Option<String>>,
    exes: std::collections::HashMap<u64, (Option<std::path::PathBuf>, Option<bool>)>,
}

/// Read the details of each owner the walk sends until it ends; a process
/// whose start time is not the walk's has exited and its PID was reused:
/// left out.
fn read_owners(
    owners: &Mutex<std::sync::mpsc::Receiver<Record>>,
    proc_dir: &OwnedFd,
    how: Reading,
    alike: &Mutex<Alike>,
) -> (Vec<Process>, Vec<Refused>) {
    let mut read = Vec::new();
    let mut refused = Vec::new();
    // The walk's start time in the ticks of /proc/<pid>/stat
    // (nsec_to_clock_t).
    let tick_ns = 1_000_000_000 / how.clock.ticks_per_second.max(1);
    loop {
        let next = owners.lock().ok().and_then(|rx| rx.recv().ok());
        let Some(r) = next else {
            return (read, refused);
        };
        // Key 0 (unknown) is never kept, so never found.
        let (exe, cgroup) = alike.lock().map_or((None, None), |s| {
            (
                s.exes.get(&r.exe_key).cloned(),
                s.cgroups.get(&r.cgroup_key).cloned(),
            )
        });
        let (fresh_exe, fresh_cgroup) = (exe.is_none(), cgroup.is_none());
        let known = process::Known {
            born: (how.details != Details::Pid).then_some(r.start_ns / tick_ns),
            uid: r.uid,
            ns_pid: r.ns_pid,
            parent_name: r.parent_name.map(|(ppid, comm)| {
                let len = comm.iter().position(|b| *b == 0).unwrap_or(comm.len());
                (ppid, comm[..len].to_vec())
            }),
            exe,
            cgroup,
        };
        let Some(p) = process::read(
            proc_dir.as_fd(),
            &r.tgid.to_string(),
            r.tgid,
            how,
            known,
            &mut refused,
        ) else {
            continue;
        };
        // What was read is what any owner with the same keys would read
        // (for details that read no cgroup, `None` for all of them).
        if let Ok(mut s) = alike.lock() {
            if fresh_exe && r.exe_key != 0 {
                s.exes.insert(r.exe_key, (p.exe.clone(), p.exe_deleted));
            }
            if fresh_cgroup && r.cgroup_key != 0 {
                s.cgroups.insert(r.cgroup_key, p.cgroup.clone());
            }
        }
        read.push(p);
    }
}

/// The owners the walk found, with their details as `read_owners` read
/// them: the descriptors of an owner that was not read (exited, PID
/// reused) are left out.
fn from_walk(walked: Walked, read: Vec<(Vec<Process>, Vec<Refused>)>) -> FdScan {
    let Walked { fds, netns, .. } = walked;
    let mut owners = Vec::new();
    let mut refused = Vec::new();
    for (o, r) in read {
        owners.extend(o);
        refused.extend(r);
    }
    let alive: HashSet<u32> = owners.iter().map(|p| p.pid).collect();
    let mut fds = fds;
    fds.retain(|f| alive.contains(&f.pid));
    FdScan {
        fds,
        owners,
        netns,
        refused,
        ..FdScan::default()
    }
}

fn worker(shared: &Shared<'_>) -> FdScan {
    // A panic here would leave its item unfinished and the other workers
    // waiting for it: they are told to stop, and the panic reaches the
    // caller instead of a hang.
    let _abandon = Abandon(shared);
    let mut out = FdScan::default();
    let mut dents: Vec<u8> = Vec::with_capacity(32 * 1024);
    loop {
        let Some(item) = next_item(shared) else {
            return out;
        };
        match item {
            Work::Process(pid) => scan_process(shared, pid, &mut dents, &mut out),
            Work::Chunk(pid, dir, fds) => {
                if let Err(()) = read_links(shared, pid, dir.as_fd(), &fds, &mut out) {
                    out.unreadable.push(pid);
                }
            }
        }
        if shared.open_items.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last item: wake the workers waiting for more.
            let _queue = shared.queue.lock();
            shared.more.notify_all();
        }
    }
}

/// Marks the scan abandoned when a worker unwinds, and wakes the others.
struct Abandon<'a, 'b>(&'a Shared<'b>);

impl Drop for Abandon<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandoned.store(true, Ordering::Release);
            let _queue = self.0.queue.lock();
            self.0.more.notify_all();
        }
    }
}

/// The next work item; `None` when all are done (or abandoned). While
/// another worker may still split a large process into more items, wait
/// for them (asleep: a worker that yielded in a loop spent 2% of a small
/// host's run in sched_yield, perf).
fn next_item(shared: &Shared<'_>) -> Option<Work> {
    let mut queue = shared.queue.lock().ok()?;
    loop {
        if let Some(item) = queue.pop_front() {
            return Some(item);
        }
        if shared.open_items.load(Ordering::Acquire) == 0
            || shared.abandoned.load(Ordering::Acquire)
        {
            return None;
        }
        queue = shared.more.wait(queue).ok()?;
    }
}

/// Whether this kernel reports the number of open descriptors as the size
/// of /proc/<pid>/fd (Linux 6.2+; before, it is 0): ours is never empty
/// (the /proc directory is open). Then a size of 0 is an empty table (a
/// kernel thread: most processes of a small host), not listed.
fn sizes_count_fds(proc_dir: &OwnedFd) -> bool {
    rustix::fs::statat(proc_dir, "self/fd", rustix::fs::AtFlags::empty())
        .is_ok_and(|st| st.st_size > 0)
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

fn scan_process(shared: &Shared<'_>, pid: u32, dents: &mut Vec<u8>, out: &mut FdScan) {
    // Most processes of a small host are kernel threads, with no
    // descriptor: one stat says so, where opening, sizing and closing the
    // directory took three calls. Only as root: another user's process
    // that holds nothing would no longer count as unreadable.
    if shared.empty_first
        && rustix::fs::statat(
            &shared.proc_dir,
            format!("{pid}/fd"),
            rustix::fs::AtFlags::empty(),
        )
        .is_ok_and(|st| st.st_size == 0)
    {
        if shared.netns {
            match &shared.kernel_threads {
                Some(k) if k.pids.contains(&pid) => out.netns.push((pid, k.netns)),
                _ => note_netns(&shared.proc_dir, &format!("{pid}/ns/net"), pid, out),
            }
        }
        return;
    }
    let fd_dir = match openat(
        &shared.proc_dir,
        format!("{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(Errno::ACCESS | Errno::PERM) => return out.unreadable.push(pid),
        Err(_) => return, // exited since the listing: not an error
    };
    if shared.netns {
        note_netns(&fd_dir, "../ns/net", pid, out);
    }
    let before = out.fds.len();
    // Descriptors are allocated lowest-first, so most tables are dense:
    // when the kernel says how many are open, probing 0, 1, 2... costs one
    // readlinkat each and skips getdents, a third of the scan's time.
    let (mut probed, mut left) = (0, None);
    if shared.sizes_count_fds {
        match probe(shared, pid, &fd_dir, out) {
            Ok(Probe::Complete) => return read_details_if_owner(shared, &fd_dir, pid, before, out),
            Ok(Probe::Sparse { next, unread }) => (probed, left) = (next, Some(unread)),
            Ok(Probe::Unknown) => {}
            Err(()) => return out.unreadable.push(pid),
        }
    }
    let fds = match list_fds(&fd_dir, dents, probed, left) {
        Ok(fds) => fds,
        Err(Errno::ACCESS | Errno::PERM) => return out.unreadable.push(pid),
        Err(_) => return,
    };
    if fds.len() > SPLIT_ABOVE {
        // Keep the first chunk, queue the rest for idle workers, and read
        // the details now: whether a later chunk holds a socket is unknown.
        let dir = Arc::new(fd_dir);
        let mut chunks = fds.chunks(CHUNK);
        let first = chunks.next().unwrap_or_default().to_vec();
        let rest: Vec<Work> = chunks
            .map(|c| Work::Chunk(pid, Arc::clone(&dir), c.to_vec()))
            .collect();
        shared.open_items.fetch_add(rest.len(), Ordering::AcqRel);
        if let Ok(mut q) = shared.queue.lock() {
            q.extend(rest);
            shared.more.notify_all();
        }
        if read_links(shared, pid, dir.as_fd(), &first, out).is_err() {
            out.unreadable.push(pid);
        }
        out.owners.extend(process::read(
            dir.as_fd(),
            "..",
            pid,
            shared.how,
            process::Known::default(),
            &mut out.refused,
        ));
        return;
    }
    if read_links(shared, pid, fd_dir.as_fd(), &fds, out).is_err() {
        out.unreadable.push(pid);
    }
    read_details_if_owner(shared, &fd_dir, pid, before, out);
}

/// Note the network namespace of `pid`, from its `ns/net` link at `path`.
fn note_netns(dir: &OwnedFd, path: &str, pid: u32, out: &mut FdScan) {
    if let Some(ino) = netns_inode(dir, path) {
        out.netns.push((pid, ino));
    }
}

/// The inode of the network namespace an `ns/net` link at `path` names.
fn netns_inode(dir: &OwnedFd, path: &str) -> Option<u64> {
    // The link text `net:[INODE]`: cheaper than a stat through it.
    let mut buf = [0u8; 64];
    let n = readlinkat_raw(dir, path, &mut buf[..]).ok()?;
    std::str::from_utf8(&buf[..n.min(buf.len())])
        .ok()?
        .strip_prefix("net:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The host's kernel threads (kthreadd and its children) and their network
/// namespace.
struct KernelThreads {
    pids: HashSet<u32>,
    netns: u64,
}

/// Kernel threads hold no descriptor and never leave the initial
/// namespaces: their namespace is read once, from kthreadd, and who they
/// are from kthreadd's `children` file, instead of one readlink each (a
/// small host's ~60 kernel threads took 0.22 ms of a 3.4 ms run: alternating
/// runs, 2026-12-02). None where kthreadd cannot be trusted or read
/// (`netns::kthreadd_netns`) or its children file cannot be read: each
/// process's link is then read. A kernel thread started after the list
/// was read is read like any process. Live /proc only.
fn kernel_threads(proc_dir: &OwnedFd) -> Option<KernelThreads> {
    let netns = super::netns::kthreadd_netns()?;
    let mut list = Vec::new();
    let read = proc_file::read_capped(
        proc_dir,
        "2/task/2/children",
        Links::Refuse,
        proc_file::CHILDREN,
        proc_file::Ends::AtEof,
        &mut list,
    );
    if !matches!(read, Ok(proc_file::Fill::Whole)) {
        return None;
    }
    let mut pids = std::str::from_utf8(&list)
        .ok()?
        .split_ascii_whitespace()
        .map(|p| p.parse().ok())
        .collect::<Option<HashSet<u32>>>()?;
    pids.insert(2);
    Some(KernelThreads { pids, netns })
}

fn read_details_if_owner(
    shared: &Shared<'_>,
    fd_dir: &OwnedFd,
    pid: u32,
    fds_before: usize,
    out: &mut FdScan,
) {
    if out.fds.len() > fds_before {
        out.owners.extend(process::read(
            fd_dir.as_fd(),
            "..",
            pid,
            shared.how,
            process::Known::default(),
            &mut out.refused,
        ));
    }
}

enum Probe {
    /// Every open descriptor was read.
    Complete,
    /// Too many gaps: descriptors from `next` up are still unread, `unread`
    /// of them by the kernel's count.
    Sparse { next: u32, unread: usize },
    /// The count is unknown (older kernel) or too large to probe.
    Unknown,
}

/// Read descriptors 0, 1, 2... until as many as the kernel says are open
/// have been found, or the gaps say the table is sparse.
fn probe(shared: &Shared<'_>, pid: u32, fd_dir: &OwnedFd, out: &mut FdScan) -> Result<Probe, ()> {
    let open = match rustix::fs::fstat(fd_dir) {
        Ok(st) if st.st_size == 0 => return Ok(Probe::Complete),
        Ok(st) if (st.st_size as usize) <= SPLIT_ABOVE => st.st_size as usize,
        _ => return Ok(Probe::Unknown),
    };
    // A miss costs one call; listing the rest costs about two for a small
    // table (getdents until it returns nothing) and grows with its size. A
    // shell's 0, 1, 2 and 255 used to cost nine misses before the listing
    // (a third of a small host's failed calls, under strace).
    let max_misses = 2 + open / 16;
    let (mut found, mut misses, mut fd) = (0, 0, 0u32);
    let mut link = [0u8; 64];
    let mut name = itoa_buf();
    while found < open {
        if misses >= max_misses {
            return Ok(Probe::Sparse {
                next: fd,
                unread: open - found,
            });
        }
        match readlinkat_raw(fd_dir, fd_name(&mut name, fd), &mut link[..]) {
            Ok(n) => {
                found += 1;
                keep_if_wanted(shared, pid, fd, &link[..n.min(link.len())], out);
            }
            Err(Errno::ACCESS | Errno::PERM) => return Err(()),
            Err(Errno::NOENT) => misses += 1,
            Err(_) => return Ok(Probe::Complete), // the process is gone
        }
        fd += 1;
    }
    Ok(Probe::Complete)
}

/// The descriptor numbers from `from` up in an open /proc/<pid>/fd
/// directory. With `left`, the number of them the kernel counted, the
/// listing stops when that many are found: a small table comes whole in
/// one getdents, and the second, empty one is not asked for (a call saved
/// for each shell of a small host).
fn list_fds(
    dir: &OwnedFd,
    dents: &mut Vec<u8>,
    from: u32,
    left: Option<usize>,
) -> Result<Vec<u32>, Errno> {
    let mut fds = Vec::new();
    let mut raw = RawDir::new(dir, dents.spare_capacity_mut());
    while let Some(entry) = raw.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        match std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()) {
            Some(fd) if fd >= from => fds.push(fd),
            _ => {} // "." and "..", or already probed
        }
        if left.is_some_and(|n| fds.len() >= n) {
            break;
        }
    }
    Ok(fds)
}

/// readlinkat each descriptor; `Err` when the process refuses access (even
/// root can be refused: PID 1 of a sandbox, a security module).
fn read_links(
    shared: &Shared<'_>,
    pid: u32,
    dir: impl AsFd,
    fds: &[u32],
    out: &mut FdScan,
) -> Result<(), ()> {
    let mut link = [0u8; 64];
    let mut name = itoa_buf();
    for &fd in fds {
        match readlinkat_raw(&dir, fd_name(&mut name, fd), &mut link[..]) {
            Ok(n) => keep_if_wanted(shared, pid, fd, &link[..n.min(link.len())], out),
            Err(Errno::ACCESS | Errno::PERM) => return Err(()),
            Err(_) => {} // closed since the listing
        }
    }
    Ok(())
}

/// Note descriptor `fd` of `pid` if its link names a wanted socket.
fn keep_if_wanted(shared: &Shared<'_>, pid: u32, fd: u32, link: &[u8], out: &mut FdScan) {
    if let Some(inode) = socket_inode(link).filter(|i| shared.wanted.contains(i)) {
        out.fds.push(SocketFd {
            pid,
            fd: Some(fd),
            inode,
        });
    }
}

fn itoa_buf() -> [u8; 12] {
    [0; 12]
}

/// `fd` as a NUL-terminated decimal name, without allocating.
fn fd_name(buf: &mut [u8; 12], fd: u32) -> &std::ffi::CStr {
    let mut i = buf.len() - 1;
    buf[i] = 0;
    let mut n = fd;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::ffi::CStr::from_bytes_with_nul(&buf[i..]).unwrap_or(c"0")
}

/// The inode of a `socket:[12345]` link target.
pub(crate) fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test's own descriptors of `inode`, owner and namespace, as a
    /// scan on `workers` threads finds them (other tests' children may
    /// hold copies for a moment between fork and exec: not counted).
    fn found_by_us(inode: u64, workers: usize) -> (Vec<SocketFd>, bool, Option<u64>) {
        let how = Reading {
            clock: process::Clock::read(Path::new("/proc")),
            details: Details::Identity,
            tree: process::Tree::Live,
        };
        let me = std::process::id();
        let wanted: HashSet<u64> = [inode].into();
        let scan = scan(Path::new("/proc"), &wanted, how, true, None, workers)
            .unwrap_or_else(|e| panic!("{workers} workers: {e}"));
        let fds = scan.fds.into_iter().filter(|f| f.pid == me).collect();
        let owner = scan.owners.iter().any(|p| p.pid == me);
        let netns = scan.netns.iter().find(|(pid, _)| *pid == me).map(|n| n.1);
        (fds, owner, netns)
    }

    /// A loopback listener of this test's, and its socket's inode.
    fn listening() -> (std::net::TcpListener, u64) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot listen: {e}"));
        let inode = rustix::fs::fstat(&listener)
            .unwrap_or_else(|e| panic!("fstat: {e}"))
            .st_ino;
        (listener, inode)
    }

    fn own_netns() -> Option<u64> {
        std::fs::metadata("/proc/self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    }

    /// Kernel threads' namespace, read once from kthreadd, is each one's:
    /// every process kthreadd's children file names is a kernel thread
    /// (its parent is kthreadd), holds no descriptor, and links to it.
    #[test]
    fn kernel_threads_share_kthreadds_namespace() {
        let proc_dir = open_dir(Path::new("/proc")).unwrap_or_else(|e| panic!("/proc: {e}"));
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let Some(k) = kernel_threads(&proc_dir) else {
            // As root in the initial PID namespace kthreadd is always there.
            assert!(
                !root || super::super::in_pid_namespace(),
                "kthreadd's children not read as root in the initial PID namespace"
            );
            // Its namespace link needs root; in another PID namespace,
            // PID 2 is not kthreadd.
            eprintln!("SKIP kernel_threads_share_kthreadds_namespace: kthreadd not readable here");
            return;
        };
        assert!(k.pids.contains(&2) && k.pids.len() > 1, "{:?}", k.pids);
        let mut checked = 0;
        for pid in k.pids.iter().filter(|p| **p != 2) {
            let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
                continue; // exited since
            };
            assert_eq!(
                super::super::proc_text::stat_fields(&stat).map(|f| f.0),
                Some(2),
                "{pid}"
            );
            let fds =
                rustix::fs::statat(&proc_dir, format!("{pid}/fd"), rustix::fs::AtFlags::empty());
            assert!(
                fds.is_ok_and(|st| st.st_size == 0),
                "{pid} holds descriptors"
            );
            if let Some(ns) = netns_inode(&proc_dir, &format!("{pid}/ns/net")) {
                assert_eq!(ns, k.netns, "{pid}");
                checked += 1;
            }
        }
        assert!(checked > 0, "no kernel thread's namespace was read");
    }

    /// A worker that panics with an item in hand wakes the others, which
    /// would otherwise wait for that item forever: the scan's caller gets
    /// the panic, not a hang.
    #[test]
    fn a_worker_that_panics_does_not_leave_the_others_waiting() {
        let wanted = HashSet::new();
        let shared = Shared {
            proc_dir: open_dir(Path::new("/proc")).unwrap_or_else(|e| panic!("/proc: {e}")),
            sizes_count_fds: false,
            empty_first: false,
            wanted: &wanted,
            how: Reading {
                clock: process::Clock::read(Path::new("/proc")),
                details: Details::Pid,
                tree: process::Tree::Live,
            },
            netns: false,
            kernel_threads: None,
            // One item in hand (the panicking worker's), none queued.
            open_items: AtomicUsize::new(1),
            queue: Mutex::new(VecDeque::new()),
            more: Condvar::new(),
            abandoned: AtomicBool::new(false),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let got = next_item(&shared).is_some();
                let _ = tx.send(got);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _abandon = Abandon(&shared);
                std::panic::resume_unwind(Box::new("a bug in a worker"));
            }));
            assert!(unwound.is_err());
            let woke = rx.recv_timeout(std::time::Duration::from_secs(10));
            if woke.is_err() {
                // Release the waiter so that the test fails, not hangs.
                shared.open_items.store(0, Ordering::Release);
                let _queue = shared.queue.lock();
                shared.more.notify_all();
            }
            assert_eq!(woke, Ok(false), "the waiting worker was not told to stop");
        });
    }

    /// A small host's scan runs on this thread alone, a busy host's on
    /// several: both find a listener this test holds, with its descriptor,
    /// its owner and the owner's network namespace.
    #[test]
    fn one_worker_finds_what_several_find() {
        use std::os::fd::AsRawFd;
        let (listener, inode) = listening();
        let fd = SocketFd {
            pid: std::process::id(),
            fd: Some(listener.as_raw_fd() as u32),
            inode,
        };
        let expected = (vec![fd], true, own_netns());
        assert_eq!(found_by_us(inode, 1), expected);
        assert_eq!(found_by_us(inode, 3), expected);
    }

    /// A table larger than SPLIT_ABOVE is split into chunks queued for the
    /// workers; one worker alone reads them all too.
    #[test]
    fn one_worker_reads_every_chunk_of_a_split_table() {
        use std::os::fd::AsRawFd;
        let (listener, inode) = listening();
        let copies = SPLIT_ABOVE + CHUNK / 2;
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let needed = (copies + 1024) as u64;
        if limit.current.is_some_and(|cur| cur < needed) {
            // Above the hard limit only as root.
            let raised = rustix::process::Rlimit {
                current: Some(needed),
                maximum: limit.maximum.map(|max| max.max(needed)),
            };
            if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised) {
                eprintln!(
                    "SKIP one_worker_reads_every_chunk_of_a_split_table: cannot hold {needed} descriptors: {e}"
                );
                return;
            }
        }
        // Close-on-exec: other tests' children do not take them along.
        let held: Vec<OwnedFd> = (0..copies)
            .map(|_| {
                rustix::io::fcntl_dupfd_cloexec(&listener, 0).unwrap_or_else(|e| panic!("dup: {e}"))
            })
            .collect();
        let mut expected: Vec<u32> = held
            .iter()
            .map(|f| f.as_raw_fd() as u32)
            .chain([listener.as_raw_fd() as u32])
            .collect();
        expected.sort_unstable();
        for workers in [1, 3] {
            let (fds, owner, _) = found_by_us(inode, workers);
            let mut numbers: Vec<u32> = fds.iter().filter_map(|f| f.fd).collect();
            numbers.sort_unstable();
            assert_eq!(numbers.len(), expected.len(), "{workers} workers");
            assert_eq!(numbers, expected, "{workers} workers");
            assert!(owner, "{workers} workers: no owner");
        }
    }

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
    }

    /// A process's network namespace comes from its first record that has
    /// one (a zombie leader's marker has none; its threads' records do).
    #[test]
    fn the_namespace_of_a_zombie_leader_comes_from_its_threads() {
        let record = |tgid, fd, inode, netns| Record {
            tgid,
            fd,
            inode,
            start_ns: 1,
            netns,
            uid: None,
            ns_pid: None,
            parent_name: None,
            cgroup_key: 0,
            exe_key: 0,
        };
        let wanted: HashSet<u64> = [77].into_iter().collect();
        let mut walked = Walked::default();
        assert!(walked.add(record(10, 0, 0, 0), &wanted, true).is_none());
        assert!(
            walked
                .add(record(10, 5, 77, 4026531840), &wanted, true)
                .is_some()
        );
        assert!(
            walked
                .add(record(10, 6, 78, 4026531841), &wanted, true)
                .is_none()
        );
        assert!(
            walked
                .add(record(11, 0, 0, 4026531840), &wanted, true)
                .is_none()
        );
        assert_eq!(walked.netns, [(10, 4026531840), (11, 4026531840)]);
        // Not asked for: none noted.
        let mut quiet = Walked::default();
        quiet.add(record(10, 0, 0, 0), &wanted, false);
        quiet.add(record(10, 5, 77, 4026531840), &wanted, false);
        assert!(quiet.netns.is_empty());
        // A process the walk did not finish is read through /proc.
        walked.add(
            record(12, super::super::bpf_iter::INCOMPLETE, 0, 1),
            &wanted,
            true,
        );
        assert!(walked.incomplete.contains(&12));
    }

    #[test]
    fn fd_names_are_decimal() {
        let mut b = itoa_buf();
        assert_eq!(fd_name(&mut b, 0).to_bytes(), b"0");
        assert_eq!(fd_name(&mut b, 7).to_bytes(), b"7");
        assert_eq!(fd_name(&mut b, 1234567).to_bytes(), b"1234567");
        assert_eq!(fd_name(&mut b, u32::MAX).to_bytes(), b"4294967295");
    }
}
