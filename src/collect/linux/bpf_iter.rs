//! Linux: every process's socket descriptors in one kernel walk, with BPF
//! iterators, instead of one readlinkat per descriptor.
//!
//! Two walks, both programs written here (no compiler, no libbpf) with the
//! field offsets of the kernel's own BTF (/sys/kernel/btf/vmlinux), both
//! writing the same records: `tgid, fd, socket inode, start time, network
//! namespace, real uid, PID in its own namespace` for each socket
//! descriptor, and markers (inode 0) that say which processes the walk saw.
//! The uid and the namespace's PID are what whyport read
//! /proc/<pid>/status for.
//!
//! - `table_program` (Linux 6.4+: open-coded loops) runs once per task of
//!   the `task` iterator and reads the process's descriptor table itself,
//!   8 slots at a time, under the RCU read lock the iterator holds but
//!   without the reference to each file `task_file` takes (a descriptor
//!   closed and its file reused at that very moment can be misread); one
//!   marker per process, and at most `MOST_RECORDS` sockets (a process
//!   with more is marked incomplete and read through /proc). The
//!   processes are shared out to one iterator per
//!   core, read side by side. On the benchmark load (2,000 processes,
//!   126,000 descriptors) ~10 ms on two cores.
//! - `program` (Linux 5.8+) runs for each descriptor of the `task_file`
//!   iterator, which takes a reference to each open file in turn; markers
//!   for descriptors 0-2. ~31-42 ms on one core on the same load. Used
//!   where the first cannot run, or asked for (`WHYPORT_BPF=files`).
//!
//! Needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN), a kernel with
//! BTF and BPF iterators, and whyport in the initial PID namespace (the
//! iterators report global PIDs). Anything missing: the caller falls back
//! to /proc. Processes the walk did not see (no marker: skipped by the
//! kernel, a table too large for the loop, or no descriptor 0-2 for
//! `program`) are scanned through /proc as before, so a process whose
//! descriptors are unreadable is still reported as such. Loading a BPF
//! program only reads: it is a tracing program attached to the iterator,
//! gone when whyport closes it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";
const BPF_PROG_LOAD: i64 = 5;
const BPF_LINK_CREATE: i64 = 28;
const BPF_ITER_CREATE: i64 = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;
const BPF_FUNC_SEQ_WRITE: i32 = 127;
const RECORD: usize = 80;
/// Where each field of a record is on the program's stack: the record is
/// at r10-RECORD, and its field at byte `offset` of it at `at(offset)`.
const fn at(offset: i16) -> i16 {
    offset - RECORD as i16
}
/// The deepest PID namespace whose PID the program reads (level 0 is the
/// initial namespace; a container in a container is level 2).
const LEVELS: usize = 4;
/// The verifier's log when a rejected program is loaded again to say why:
/// libbpf's size for its retry (a log that overflows fails the load with
/// ENOSPC; since Linux 6.4 the log keeps its last lines).
const LOG_SIZE: usize = 64 * 1024;
/// The most read of the BTF when it cannot be mapped (the kernel's is
/// about 6 MB).
const BTF_MAX: u64 = 64 << 20;

/// One record of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub tgid: u32,
    pub fd: u32,
    /// The socket inode; 0 for a marker (descriptor 0-2, not a socket).
    pub inode: u64,
    /// The process's start, in nanoseconds since boot
    /// (`group_leader->start_boottime`, what /proc/<pid>/stat shows in
    /// clock ticks).
    pub start_ns: u64,
    /// Inode of its network namespace (0: unknown).
    pub netns: u32,
    /// The process's real uid, when the kernel's layout was known.
    pub uid: Option<u32>,
    /// Its PID in its own PID namespace, when the kernel's layout was
    /// known and the namespace is at most `LEVELS` deep.
    pub ns_pid: Option<u32>,
    /// Its parent's tgid and its name (`comm`, up to 16 bytes), as
    /// /proc/<pid>/stat has them, when the kernel's layout was known.
    pub parent_name: Option<(u32, [u8; 16])>,
    /// Which css_set (so which cgroups) and which executable file it has,
    /// as kernel addresses: equal keys, equal /proc/<pid>/cgroup texts
    /// and exe links. 0: unknown.
    pub cgroup_key: u64,
    pub exe_key: u64,
}

/// Offsets the program needs, from BTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// BTF id of the FUNC `bpf_iter_task_file` (the attach point).
    pub attach_id: u32,
    pub ctx_meta: i16,
    pub ctx_task: i16,
    pub ctx_fd: i16,
    pub ctx_file: i16,
    pub meta_seq: i16,
    pub task_tgid: i16,
    pub task_group_leader: i16,
    pub task_start_boottime: i16,
    pub task_nsproxy: i16,
    pub nsproxy_net_ns: i16,
    /// `net.ns.inum`.
    pub net_inum: i16,
    pub file_inode: i16,
    pub inode_mode: i16,
    pub inode_ino: i16,
    /// Where the real uid and the namespace's PID are; `None` when the
    /// BTF does not say (the walk then leaves them to /proc/<pid>/status).
    pub ids: Option<Ids>,
    /// Where the parent, the name, the css_set and the executable are;
    /// `None` when the BTF does not say (then /proc/<pid>/stat, cgroup and
    /// exe are read for each owner).
    pub more: Option<More>,
    /// What the walk of descriptor tables needs (`table_program`); `None`
    /// before Linux 6.4 (no open-coded loops), when only `program` runs.
    pub tables: Option<Tables>,
}

/// Offsets of `task_struct`'s `real_parent`, `comm`, `cgroups` and `mm`,
/// and of `mm_struct`'s `exe_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct More {
    pub task_real_parent: i16,
    pub task_comm: i16,
    pub task_cgroups: i16,
    pub task_mm: i16,
    pub mm_exe_file: i16,
}

/// The `task` iterator's context and the descriptor table's fields, and
/// the BTF ids of the kernel functions `table_program` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    /// BTF id of the FUNC `bpf_iter_task`.
    pub attach_id: u32,
    pub ctx_meta: i16,
    pub ctx_task: i16,
    pub task_pid: i16,
    pub task_files: i16,
    pub files_fdt: i16,
    pub fdt_max_fds: i16,
    pub fdt_fd: i16,
    /// BTF ids of `struct task_struct` and `struct file`.
    pub task_type: u32,
    pub file_type: u32,
    pub num_new: u32,
    pub num_next: u32,
    pub num_destroy: u32,
    pub rdonly_cast: u32,
}

/// Offsets of the owner's ids: `group_leader->real_cred->uid` and
/// `group_leader->thread_pid->numbers[level].nr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub task_real_cred: i16,
    pub cred_uid: i16,
    pub task_thread_pid: i16,
    pub pid_level: i16,
    /// `numbers[k].nr` for each level k the array reaches (a flexible
    /// array since Linux 6.5 reaches every level; `numbers[1]` before
    /// only level 0).
    pub level_nr: [i16; LEVELS],
    pub levels: u8,
}

/// Which walk ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// `table_program`, shared out to iterators read side by side.
    Tables,
    /// `program`, on the `task_file` iterator: asked for
    /// (`WHYPORT_BPF=files`), or `table_program` could not run here (why).
    Files(Option<String>),
}

/// A walk made ready: its programs loaded and its iterators created,
/// nothing read yet (the kernel walks as they are read).
pub struct Prepared {
    iterators: Vec<std::fs::File>,
    kind: Walk,
}

/// Make the walk ready (`Err` when the iterator cannot be used here: the
/// caller then scans /proc). `files`: the `task_file` walk only, to
/// compare the two walks.
pub(super) fn prepare(files: bool) -> io::Result<Prepared> {
    let btf = Mapped::open(BTF_PATH)?;
    let layout = layout(btf.bytes()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the kernel's BTF lacks the task_file iterator",
        )
    })?;
    drop(btf);
    let why = match (files, layout.tables) {
        (true, _) => None,
        (false, None) => {
            Some("the kernel's BTF lacks the task iterator or open-coded loops (Linux 6.4+)".into())
        }
        (false, Some(tables)) => {
            // Shared out to one iterator per core (at most 4), each loaded on
            // a thread of its own.
            let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u32;
            let started = side_by_side(parts as usize, |part| {
                iterator(
                    &table_program(&layout, &tables, part as u32, parts),
                    tables.attach_id,
                )
            });
            // All or none: a part missing would be processes unseen.
            match started.into_iter().collect::<io::Result<Vec<_>>>() {
                Ok(iterators) => {
                    return Ok(Prepared {
                        iterators,
                        kind: Walk::Tables,
                    });
                }
                Err(e) => Some(e.to_string()),
            }
        }
    };
    Ok(Prepared {
        iterators: vec![iterator(&program(&layout), layout.attach_id)?],
        kind: Walk::Files(why),
    })
}

impl Prepared {
    /// Walk every process's descriptors, handing each record to `visit`
    /// as it is read (64 KiB at a time: at 100,000 sockets, holding the
    /// whole output would cost megabytes); the iterators after the first
    /// are read on threads of their own.
    pub(super) fn walk(self, mut visit: impl FnMut(Record)) -> io::Result<Walk> {
        read_side_by_side(self.iterators, &mut visit)?;
        Ok(self.kind)
    }
}

/// `work(0)`, ..., `work(n - 1)`, the first on this thread and the others
/// on threads of their own, in that order. (Here rather than with the
/// crate's other helpers: the fuzz crate compiles this file alone.)
pub(super) fn side_by_side<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let others: Vec<_> = (1..n).map(|k| scope.spawn(move || work(k))).collect();
        let first = (n > 0).then(|| work(0));
        first
            .into_iter()
            .chain(
                others
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            )
            .collect()
    })
}

/// A BPF iterator running `insns`, attached at BTF id `attach_id`: read it
/// for the program's output.
fn iterator(insns: &[u8], attach_id: u32) -> io::Result<std::fs::File> {
    let prog = load(insns, attach_id)?;
    let mut attr = [0u8; 64];
    attr[0..4].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_TRACE_ITER.to_ne_bytes());
    let link = bpf(BPF_LINK_CREATE, &mut attr)?;
    let mut attr = [0u8; 16];
    attr[0..4].copy_from_slice(&(link.as_raw_fd() as u32).to_ne_bytes());
    Ok(std::fs::File::from(bpf(BPF_ITER_CREATE, &mut attr)?))
}

/// Read the first iterator here and the others on threads of their own,
/// handing every record to `visit` on this thread.
fn read_side_by_side(
    mut files: Vec<std::fs::File>,
    visit: &mut impl FnMut(Record),
) -> io::Result<()> {
    let rest = files.split_off(1.min(files.len()));
    // Bounded: a reader ahead of this thread waits rather than holding
    // its output (at 100,000 listeners, megabytes).
    std::thread::scope(|scope| {
        // Made here, so that a panic on this thread drops the receiver
        // before the scope waits for the readers (one blocked on a full
        // channel then wakes to an error instead of waiting forever).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(2);
        let readers: Vec<_> = rest
            .into_iter()
            .map(|file| {
                let tx = tx.clone();
                scope.spawn(move || {
                    read_batches(file, |batch| {
                        let _ = tx.send(batch);
                    })
                })
            })
            .collect();
        drop(tx);
        let mut mine = Ok(());
        for file in files {
            mine = read_batches(file, |batch| {
                batch.into_iter().for_each(&mut *visit);
                rx.try_iter().flatten().for_each(&mut *visit);
            });
        }
        rx.iter().flatten().for_each(&mut *visit);
        readers
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .chain([mine])
            .collect::<io::Result<()>>()
    })
}

/// Read an iterator to its end, 64 KiB at a time, handing on the records
/// of each read.
fn read_batches(mut file: std::fs::File, mut batch: impl FnMut(Vec<Record>)) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut held = 0;
    loop {
        let n = match io::Read::read(&mut file, &mut buf[held..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = held + n;
        let whole = end - end % RECORD;
        batch(records(&buf[..whole]));
        // A record cut by the read boundary waits for the next read.
        buf.copy_within(whole..end, 0);
        held = end - whole;
    }
}

/// The kernel's BTF, mapped (Linux 6.16+ maps /sys/kernel/btf/vmlinux:
/// 0.2 ms, where reading its 5 MB a page per read(2) takes ~4.5 ms), or
/// read where it cannot be mapped.
enum Mapped {
    Map(*mut libc::c_void, usize),
    Read(Vec<u8>),
}

impl Mapped {
    fn open(path: &str) -> io::Result<Mapped> {
        // As collect/linux/proc_file.rs opens (this file is compiled by
        // the fuzz crate too, so it does not use it): without blocking,
        // and a regular file only.
        let file = std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().read(true),
            libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW,
        )
        .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path} is not a regular file"),
            ));
        }
        let len = file.metadata()?.len() as usize;
        // SAFETY: a private, read-only mapping of a file we opened; it is
        // unmapped in Drop and only read through `bytes`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED || len == 0 {
            let mut data = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(&file, BTF_MAX), &mut data)?;
            return Ok(Mapped::Read(data));
        }
        Ok(Mapped::Map(ptr, len))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` readable bytes while self lives.
            Mapped::Map(ptr, len) => unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), *len) },
            Mapped::Read(v) => v,
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Mapped::Map(ptr, len) = self {
            // SAFETY: unmapping the mapping made in `open`, once.
            unsafe { libc::munmap(*ptr, *len) };
        }
    }
}

/// Which of a record's ids the program read.
const HAVE_UID: u32 = 1;
const HAVE_NS_PID: u32 = 2;
/// The parent's tgid, the name, the css_set and executable keys.
const HAVE_PARENT_NAME: u32 = 4;

fn have(r: &[u8]) -> u32 {
    u32::from_ne_bytes([r[36], r[37], r[38], r[39]])
}

/// Decode the walk's output.
pub fn records(raw: &[u8]) -> Vec<Record> {
    raw.chunks_exact(RECORD)
        .map(|r| Record {
            tgid: u32::from_ne_bytes([r[0], r[1], r[2], r[3]]),
            fd: u32::from_ne_bytes([r[4], r[5], r[6], r[7]]),
            inode: u64::from_ne_bytes(r[8..16].try_into().unwrap_or([0; 8])),
            start_ns: u64::from_ne_bytes(r[16..24].try_into().unwrap_or([0; 8])),
            netns: u32::from_ne_bytes([r[24], r[25], r[26], r[27]]),
            uid: (have(r) & HAVE_UID != 0)
                .then(|| u32::from_ne_bytes([r[28], r[29], r[30], r[31]])),
            ns_pid: (have(r) & HAVE_NS_PID != 0)
                .then(|| u32::from_ne_bytes([r[32], r[33], r[34], r[35]])),
            parent_name: (have(r) & HAVE_PARENT_NAME != 0).then(|| {
                (
                    u32::from_ne_bytes([r[40], r[41], r[42], r[43]]),
                    r[48..64].try_into().unwrap_or([0; 16]),
                )
            }),
            cgroup_key: u64::from_ne_bytes(r[64..72].try_into().unwrap_or([0; 8])),
            exe_key: u64::from_ne_bytes(r[72..80].try_into().unwrap_or([0; 8])),
        })
        .collect()
}

fn bpf(cmd: i64, attr: &mut [u8]) -> io::Result<OwnedFd> {
    // SAFETY: attr is valid for its length, which is passed; the kernel
    // reads and writes at most that many bytes.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful call returns a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn load(insns: &[u8], attach_id: u32) -> io::Result<OwnedFd> {
    load_logged(|log| load_once(insns, attach_id, log))
}

/// Load with the verifier's log off, then, only if the program was
/// rejected, once more with a log (level 1, `LOG_SIZE` bytes) to say why,
/// as libbpf does: a log that overflows its buffer fails even a valid
/// program (ENOSPC), and the verifier works faster without one. The
/// error is the first load's, with the log's last line.
fn load_logged<T>(mut attempt: impl FnMut(Option<&mut [u8]>) -> io::Result<T>) -> io::Result<T> {
    let first = match attempt(None) {
        Ok(loaded) => return Ok(loaded),
        Err(e) => e,
    };
    let mut log = vec![0u8; LOG_SIZE];
    match attempt(Some(&mut log)) {
        // Accepted the second time (a transient failure): use it.
        Ok(loaded) => Ok(loaded),
        Err(_) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            // The log ends with its statistics ("processed N insns ...",
            // and at some levels the time and the stack depth): the
            // reason is the last line before them.
            let stats = ["processed ", "verification time", "stack depth"];
            let last = text
                .lines()
                .rfind(|l| !l.trim().is_empty() && !stats.iter().any(|s| l.starts_with(s)))
                .unwrap_or("");
            Err(io::Error::new(
                first.kind(),
                format!("{first}; verifier: {last}"),
            ))
        }
    }
}

/// One BPF_PROG_LOAD, with the verifier's log at level 1 into `log` when
/// given, else none.
fn load_once(insns: &[u8], attach_id: u32, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut attr = [0u8; 128];
    let put32 =
        |a: &mut [u8; 128], at: usize, v: u32| a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    let put64 =
        |a: &mut [u8; 128], at: usize, v: u64| a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    put32(&mut attr, 0, BPF_PROG_TYPE_TRACING);
    put32(&mut attr, 4, (insns.len() / 8) as u32);
    put64(&mut attr, 8, insns.as_ptr() as u64);
    put64(&mut attr, 16, license.as_ptr() as u64);
    if let Some(log) = log {
        put32(&mut attr, 24, 1);
        put32(&mut attr, 28, log.len() as u32);
        put64(&mut attr, 32, log.as_mut_ptr() as u64);
    }
    attr[48..56].copy_from_slice(b"whyport\0");
    put32(&mut attr, 68, BPF_TRACE_ITER);
    put32(&mut attr, 108, attach_id);
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// One instruction: opcode, dst and src registers, offset, immediate.
fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0x0f);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const LDX_DW: u8 = 0x79;
const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const STX_DW: u8 = 0x7b;
const STX_W: u8 = 0x63;
const AND64_K: u8 = 0x57;
const OR64_K: u8 = 0x47;
const ADD64_K: u8 = 0x07;
const ADD64_X: u8 = 0x0f;
const LSH64_K: u8 = 0x67;
const RSH64_K: u8 = 0x77;
const MOD64_K: u8 = 0x97;
const JEQ_K: u8 = 0x15;
const JEQ_X: u8 = 0x1d;
const JNE_K: u8 = 0x55;
const JGT_K: u8 = 0x25;
const JA: u8 = 0x05;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
/// `src_reg` of a call to a kernel function named by its BTF id.
const PSEUDO_KFUNC_CALL: u8 = 2;
const BPF_FUNC_PROBE_READ_KERNEL: i32 = 113;

/// An instruction (with the label it jumps to), or a label.
enum Item {
    Insn([u8; 8], Option<&'static str>),
    Label(&'static str),
}
use Item::{Insn, Label};

fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Item {
    Insn(ins(code, dst, src, off, imm), None)
}

/// A jump to `to`: a conditional one compares `dst` with `imm`, or with
/// register `src` for the `_X` opcodes.
fn j(code: u8, dst: u8, imm: i32, to: &'static str) -> Item {
    Insn(ins(code, dst, 0, 0, imm), Some(to))
}

fn jx(code: u8, dst: u8, src: u8, to: &'static str) -> Item {
    Insn(ins(code, dst, src, 0, 0), Some(to))
}

/// The program's bytes, each jump's offset set to land on its label.
fn assemble(items: Vec<Item>) -> Vec<u8> {
    let mut labels: Vec<(&str, usize)> = Vec::new();
    let mut n = 0;
    for item in &items {
        match item {
            Label(name) => labels.push((name, n)),
            Insn(..) => n += 1,
        }
    }
    let mut out = Vec::with_capacity(n * 8);
    let mut at = 0usize;
    for item in items {
        if let Insn(mut insn, target) = item {
            if let Some((_, to)) = target.and_then(|t| labels.iter().find(|(name, _)| *name == t)) {
                let off = (*to as i64 - at as i64 - 1) as i16;
                insn[2..4].copy_from_slice(&off.to_le_bytes());
            }
            out.extend_from_slice(&insn);
            at += 1;
        }
    }
    out
}

/// The record's fields that belong to the process, with the task in r8:
/// tgid, start, network namespace, and the ids when the layout has them,
/// written to the record on the stack at r10-40. Uses r2-r5 and r7.
fn task_fields(l: &Layout) -> Vec<Item> {
    let mut items = vec![
        i(LDX_W, 5, 8, l.task_tgid, 0),
        i(STX_W, 10, 5, at(0), 0), // tgid
        i(MOV64_K, 3, 0, 0, 0),
        i(LDX_DW, 5, 8, l.task_group_leader, 0),
        j(JEQ_K, 5, 0, "start"),
        i(LDX_DW, 3, 5, l.task_start_boottime, 0),
        Label("start"),
        i(STX_DW, 10, 3, at(16), 0), // start
        i(MOV64_K, 3, 0, 0, 0),
        i(LDX_DW, 5, 8, l.task_nsproxy, 0),
        j(JEQ_K, 5, 0, "netns"),
        i(LDX_DW, 5, 5, l.nsproxy_net_ns, 0),
        j(JEQ_K, 5, 0, "netns"),
        i(LDX_W, 3, 5, l.net_inum, 0),
        Label("netns"),
        i(STX_W, 10, 3, at(24), 0), // netns
        // The ids, as /proc/<pid>/status has them: of the group leader.
        i(MOV64_K, 7, 0, 0, 0), // r7 = which were read
        i(MOV64_K, 3, 0, 0, 0),
        i(STX_W, 10, 3, at(28), 0),
        i(STX_W, 10, 3, at(32), 0),
    ];
    if let Some(ids) = &l.ids {
        items.extend([
            i(LDX_DW, 5, 8, l.task_group_leader, 0),
            j(JEQ_K, 5, 0, "ids"),
            i(LDX_DW, 3, 5, ids.task_real_cred, 0),
            j(JEQ_K, 3, 0, "nspid"),
            i(LDX_W, 3, 3, ids.cred_uid, 0),
            i(STX_W, 10, 3, at(28), 0), // uid
            i(OR64_K, 7, 0, 0, HAVE_UID as i32),
            Label("nspid"),
            i(LDX_DW, 3, 5, ids.task_thread_pid, 0), // r3 = struct pid
            j(JEQ_K, 3, 0, "ids"),
            i(LDX_W, 2, 3, ids.pid_level, 0), // r2 = its level
        ]);
        // numbers[level].nr, each level at its constant offset (the
        // verifier allows no variable one through a kernel pointer).
        const AT: [&str; LEVELS] = ["level0", "level1", "level2", "level3"];
        for (k, at) in AT.iter().enumerate().take(usize::from(ids.levels)) {
            items.push(j(JEQ_K, 2, k as i32, at));
        }
        items.push(j(JA, 0, 0, "ids"));
        for (k, at) in AT.iter().enumerate().take(usize::from(ids.levels)) {
            items.extend([
                Label(at),
                i(LDX_W, 4, 3, ids.level_nr[k], 0),
                j(JA, 0, 0, "nr"),
            ]);
        }
        items.extend([
            Label("nr"),
            i(STX_W, 10, 4, at(32), 0), // ns_pid
            i(OR64_K, 7, 0, 0, HAVE_NS_PID as i32),
        ]);
    }
    items.push(Label("ids"));
    // The parent's tgid and the name, as /proc/<pid>/stat has them (of the
    // group leader), and which css_set and executable file it has: what
    // its cgroup and exe links are read once for (equal pointers, equal
    // texts).
    items.extend([
        i(MOV64_K, 3, 0, 0, 0),
        i(STX_DW, 10, 3, at(40), 0), // ppid, and 4 bytes of padding
        i(STX_DW, 10, 3, at(48), 0), // comm
        i(STX_DW, 10, 3, at(56), 0),
        i(STX_DW, 10, 3, at(64), 0), // css_set
        i(STX_DW, 10, 3, at(72), 0), // exe_file
    ]);
    if let Some(more) = &l.more {
        items.extend([
            i(LDX_DW, 5, 8, l.task_group_leader, 0),
            j(JEQ_K, 5, 0, "more"),
            i(LDX_DW, 3, 5, more.task_real_parent, 0),
            j(JEQ_K, 3, 0, "comm"),
            i(LDX_W, 3, 3, l.task_tgid, 0),
            i(STX_W, 10, 3, at(40), 0), // ppid
            Label("comm"),
            i(LDX_DW, 3, 5, more.task_comm, 0),
            i(STX_DW, 10, 3, at(48), 0),
            i(LDX_DW, 3, 5, more.task_comm + 8, 0),
            i(STX_DW, 10, 3, at(56), 0),
            i(OR64_K, 7, 0, 0, HAVE_PARENT_NAME as i32),
            i(LDX_DW, 3, 5, more.task_cgroups, 0),
            i(STX_DW, 10, 3, at(64), 0),
            i(LDX_DW, 3, 5, more.task_mm, 0),
            j(JEQ_K, 3, 0, "more"),
            i(LDX_DW, 3, 3, more.mm_exe_file, 0),
            i(STX_DW, 10, 3, at(72), 0),
            Label("more"),
        ]);
    }
    items.push(i(STX_W, 10, 7, at(36), 0)); // which were read
    items
}

/// `bpf_seq_write(seq in r6, the record, RECORD)`.
fn write_record() -> [Item; 5] {
    [
        i(MOV64_X, 1, 6, 0, 0),
        i(MOV64_X, 2, 10, 0, 0), // r2 = &record
        i(ADD64_K, 2, 0, 0, -(RECORD as i32)),
        i(MOV64_K, 3, 0, 0, RECORD as i32),
        i(CALL, 0, 0, 0, BPF_FUNC_SEQ_WRITE),
    ]
}

/// The `task_file` iterator's program (BPF, in the host's byte order),
/// run by the kernel for each descriptor of each process. The record it
/// writes, on the stack at r10-40: tgid u32, fd u32, inode u64, start u64,
/// netns u32, uid u32, ns_pid u32, and which of the last two were read
/// (`HAVE_UID | HAVE_NS_PID`) u32.
pub fn program(l: &Layout) -> Vec<u8> {
    let mut items = vec![
        i(MOV64_X, 6, 1, 0, 0),         // r6 = ctx
        i(LDX_DW, 7, 6, l.ctx_file, 0), // r7 = ctx->file
        j(JEQ_K, 7, 0, "exit"),
        i(LDX_DW, 8, 6, l.ctx_task, 0), // r8 = ctx->task
        j(JEQ_K, 8, 0, "exit"),
        i(LDX_W, 9, 6, l.ctx_fd, 0),      // r9 = ctx->fd
        i(MOV64_K, 4, 0, 0, 0),           // r4 = 0: a marker
        i(LDX_DW, 2, 7, l.file_inode, 0), // r2 = file->f_inode
        j(JEQ_K, 2, 0, "marker"),
        i(LDX_H, 3, 2, l.inode_mode, 0), // r3 = i_mode & S_IFMT
        i(AND64_K, 3, 0, 0, 0xf000),
        j(JNE_K, 3, 0xc000, "marker"),   // not a socket
        i(LDX_DW, 4, 2, l.inode_ino, 0), // r4 = i_ino
        j(JA, 0, 0, "emit"),
        Label("marker"),
        j(JGT_K, 9, 2, "exit"), // markers: fds 0-2 only
        Label("emit"),
        i(STX_W, 10, 9, at(4), 0),  // fd
        i(STX_DW, 10, 4, at(8), 0), // inode
    ];
    items.extend(task_fields(l));
    items.extend([
        i(LDX_DW, 1, 6, l.ctx_meta, 0), // r6 = ctx->meta->seq
        i(LDX_DW, 6, 1, l.meta_seq, 0),
    ]);
    items.extend(write_record());
    items.extend([Label("exit"), i(MOV64_K, 0, 0, 0, 0), i(EXIT, 0, 0, 0, 0)]);
    assemble(items)
}

/// Descriptor table slots read at once (one `bpf_probe_read_kernel`).
const SLOTS: i32 = 8;
/// Chunks of `SLOTS` an open-coded loop may take (BPF_MAX_LOOPS, 8M): a
/// larger table is left to /proc.
const MOST_CHUNKS: i32 = 1 << 23;
/// Sockets one run of `table_program` reports, at most: all it writes for
/// a task must fit the iterator's buffer (PAGE_SIZE << 3, 32 KiB with 4 KiB
/// pages, 409 records), or the read fails (E2BIG) and takes the walk with
/// it. A process with more is marked incomplete and read through /proc.
const MOST_RECORDS: i32 = 400;
/// The fd of the record that says a process's table was not walked to its
/// end (inode 0, like a marker).
pub const INCOMPLETE: u32 = u32::MAX;

/// The `task` iterator's program, run by the kernel once for each task:
/// for each process whose tgid is `part` modulo `parts` (the walk is
/// shared out to `parts` iterators read side by side), a marker record
/// (inode 0) that says the process was seen, then a record like
/// `program`'s for each socket in its descriptor table, read 8 slots at a
/// time under the RCU lock the iterator holds, without taking a reference
/// to each file as the `task_file` iterator does. A thread is walked only
/// when its table is not its process's (as `task_file` does).
///
/// Stack: the record at r10-RECORD, the loop's state the 8 bytes below
/// it, the slots read below that.
pub fn table_program(l: &Layout, t: &Tables, part: u32, parts: u32) -> Vec<u8> {
    const ITER: i16 = at(-8);
    const BUDGET: i16 = ITER - 8;
    const BUF: i16 = BUDGET - 8 * SLOTS as i16;
    let mut items = vec![
        i(MOV64_X, 6, 1, 0, 0),         // r6 = ctx
        i(LDX_DW, 1, 6, t.ctx_task, 0), // r1 = ctx->task
        j(JEQ_K, 1, 0, "exit"),
        // r8 = the task, as a pointer the verifier does not trust: it then
        // checks loads through it as it does `program`'s (through a trusted
        // one, each pointer loaded costs it a search of the kernel's BTF by
        // name: 8.7 ms for this program, 0.3 ms so).
        i(MOV64_K, 2, 0, 0, t.task_type as i32),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.rdonly_cast as i32),
        i(MOV64_X, 8, 0, 0, 0),
        i(LDX_W, 2, 8, l.task_tgid, 0), // r2 = tgid
    ];
    if parts > 1 {
        items.extend([
            i(MOV64_X, 3, 2, 0, 0),
            i(MOD64_K, 3, 0, 0, parts as i32),
            j(JNE_K, 3, part as i32, "exit"), // another iterator's
        ]);
    }
    items.extend([
        i(LDX_W, 3, 8, t.task_pid, 0),
        jx(JEQ_X, 3, 2, "leader"),
        // A thread: walked only with a table of its own.
        i(LDX_DW, 4, 8, l.task_group_leader, 0),
        j(JEQ_K, 4, 0, "exit"),
        i(LDX_DW, 5, 8, t.task_files, 0),
        i(LDX_DW, 4, 4, t.task_files, 0),
        jx(JEQ_X, 5, 4, "exit"),
        Label("leader"),
    ]);
    items.extend(task_fields(l));
    items.extend([
        i(LDX_DW, 1, 6, t.ctx_meta, 0), // r6 = ctx->meta->seq
        i(LDX_DW, 6, 1, l.meta_seq, 0),
        i(MOV64_K, 1, 0, 0, 0),
        i(STX_W, 10, 1, at(4), 0),  // fd 0
        i(STX_DW, 10, 1, at(8), 0), // inode 0: the marker
        i(LDX_DW, 7, 8, t.task_files, 0),
        j(JEQ_K, 7, 0, "bare"), // exiting (kernel threads share init_files)
        i(LDX_DW, 7, 7, t.files_fdt, 0),
        j(JEQ_K, 7, 0, "bare"),
        i(LDX_W, 9, 7, t.fdt_max_fds, 0), // r9 = slots (a multiple of 64)
        i(LDX_DW, 7, 7, t.fdt_fd, 0),     // r7 = the slots' address
        i(RSH64_K, 9, 0, 0, 3),           // r9 = chunks
        j(JGT_K, 9, MOST_CHUNKS, "exit"), // no marker: /proc reads it
    ]);
    items.extend(write_record());
    items.extend([
        // The budget of records: bpf_iter_num_new(&budget, 0, MOST_RECORDS)
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, BUDGET.into()),
        i(MOV64_K, 2, 0, 0, 0),
        i(MOV64_K, 3, 0, 0, MOST_RECORDS),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_new as i32),
        // bpf_iter_num_new(&it, 0, chunks)
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, ITER.into()),
        i(MOV64_K, 2, 0, 0, 0),
        i(MOV64_X, 3, 9, 0, 0),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_new as i32),
        Label("next"),
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, ITER.into()),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_next as i32),
        j(JEQ_K, 0, 0, "done"),
        i(LDX_W, 8, 0, 0, 0), // r8 = the chunk
        // bpf_probe_read_kernel(buf, 64, slots + chunk * 64): zeroes
        // when it fails (a table freed under us reads as closed).
        i(MOV64_X, 3, 8, 0, 0),
        i(LSH64_K, 3, 0, 0, 6),
        i(ADD64_X, 3, 7, 0, 0),
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, BUF.into()),
        i(MOV64_K, 2, 0, 0, SLOTS * 8),
        i(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL),
    ]);
    const SKIP: [&str; SLOTS as usize] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    for (k, skip) in SKIP.iter().enumerate() {
        items.extend([
            i(LDX_DW, 1, 10, BUF + 8 * k as i16, 0), // r1 = the file
            j(JEQ_K, 1, 0, skip),
            i(MOV64_K, 2, 0, 0, t.file_type as i32),
            i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.rdonly_cast as i32),
            i(LDX_DW, 1, 0, l.file_inode, 0), // r1 = file->f_inode
            j(JEQ_K, 1, 0, skip),
            i(LDX_H, 2, 1, l.inode_mode, 0),
            i(AND64_K, 2, 0, 0, 0xf000),
            j(JNE_K, 2, 0xc000, skip), // not a socket
            i(LDX_DW, 2, 1, l.inode_ino, 0),
            i(STX_DW, 10, 2, at(8), 0), // inode
            i(MOV64_X, 2, 8, 0, 0),
            i(LSH64_K, 2, 0, 0, 3),
            i(ADD64_K, 2, 0, 0, k as i32),
            i(STX_W, 10, 2, at(4), 0), // fd
            // One record more, if the budget allows.
            i(MOV64_X, 1, 10, 0, 0),
            i(ADD64_K, 1, 0, 0, BUDGET.into()),
            i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_next as i32),
            j(JEQ_K, 0, 0, "full"),
        ]);
        items.extend(write_record());
        items.push(Label(skip));
    }
    items.extend([j(JA, 0, 0, "next"), Label("full")]);
    // The table was not walked to its end: /proc reads the process.
    items.extend([
        i(MOV64_K, 1, 0, 0, 0),
        i(STX_DW, 10, 1, at(8), 0), // inode 0
        i(MOV64_K, 1, 0, 0, INCOMPLETE as i32),
        i(STX_W, 10, 1, at(4), 0),
    ]);
    items.extend(write_record());
    items.extend([
        Label("done"),
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, ITER.into()),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_destroy as i32),
        i(MOV64_X, 1, 10, 0, 0),
        i(ADD64_K, 1, 0, 0, BUDGET.into()),
        i(CALL, 0, PSEUDO_KFUNC_CALL, 0, t.num_destroy as i32),
        j(JA, 0, 0, "exit"),
        Label("bare"),
    ]);
    items.extend(write_record());
    items.extend([Label("exit"), i(MOV64_K, 0, 0, 0, 0), i(EXIT, 0, 0, 0, 0)]);
    assemble(items)
}

/// The offsets of the fields the program reads, from the kernel's BTF.
pub fn layout(btf: &[u8]) -> Option<Layout> {
    let b = Btf::parse(btf)?;
    let ids = b.find_all(&[
        (12, "bpf_iter_task_file"),
        (4, "bpf_iter__task_file"),
        (4, "task_struct"),
        (4, "file"),
        (4, "inode"),
        (4, "bpf_iter_meta"),
        (4, "nsproxy"),
        (4, "net"),
        (4, "ns_common"),
        (4, "cred"),
        (4, "pid"),
        (4, "upid"),
        (12, "bpf_iter_task"),
        (4, "bpf_iter__task"),
        (4, "files_struct"),
        (4, "fdtable"),
        (12, "bpf_iter_num_new"),
        (12, "bpf_iter_num_next"),
        (12, "bpf_iter_num_destroy"),
        (12, "bpf_rdonly_cast"),
        (4, "mm_struct"),
    ]);
    let [
        attach_id,
        ctx,
        task,
        file,
        inode,
        meta,
        nsproxy,
        net,
        ns_common,
        cred,
        pid,
        upid,
        task_attach,
        task_ctx,
        files_struct,
        fdtable,
        num_new,
        num_next,
        num_destroy,
        rdonly_cast,
        mm_struct,
    ] = <[Option<u32>; 21]>::try_from(ids).ok()?;
    let (attach_id, ctx, task, file, inode) = (attach_id?, ctx?, task?, file?, inode?);
    let (meta, nsproxy, net, ns_common) = (meta?, nsproxy?, net?, ns_common?);
    let off = |id: u32, name: &str| b.byte_offset(id, name);
    Some(Layout {
        attach_id,
        ctx_meta: off(ctx, "meta")?,
        ctx_task: off(ctx, "task")?,
        ctx_fd: off(ctx, "fd")?,
        ctx_file: off(ctx, "file")?,
        meta_seq: off(meta, "seq")?,
        task_tgid: off(task, "tgid")?,
        task_group_leader: off(task, "group_leader")?,
        task_start_boottime: off(task, "start_boottime")?,
        task_nsproxy: off(task, "nsproxy")?,
        nsproxy_net_ns: off(nsproxy, "net_ns")?,
        net_inum: off(net, "ns")?.checked_add(off(ns_common, "inum")?)?,
        file_inode: off(file, "f_inode")?,
        inode_mode: off(inode, "i_mode")?,
        inode_ino: off(inode, "i_ino")?,
        ids: ids_layout(&b, task, cred, pid, upid),
        more: (|| {
            // The record has room for TASK_COMM_LEN (16) bytes of name.
            if b.array_len(task, "comm")? != 16 {
                return None;
            }
            Some(More {
                task_real_parent: off(task, "real_parent")?,
                task_comm: off(task, "comm")?,
                task_cgroups: off(task, "cgroups")?,
                task_mm: off(task, "mm")?,
                mm_exe_file: off(mm_struct?, "exe_file")?,
            })
        })(),
        tables: (|| {
            let (ctx, files, fdt) = (task_ctx?, files_struct?, fdtable?);
            Some(Tables {
                attach_id: task_attach?,
                ctx_meta: off(ctx, "meta")?,
                ctx_task: off(ctx, "task")?,
                task_pid: off(task, "pid")?,
                task_files: off(task, "files")?,
                files_fdt: off(files, "fdt")?,
                fdt_max_fds: off(fdt, "max_fds")?,
                fdt_fd: off(fdt, "fd")?,
                task_type: task,
                file_type: file,
                num_new: num_new?,
                num_next: num_next?,
                num_destroy: num_destroy?,
                rdonly_cast: rdonly_cast?,
            })
        })(),
    })
}

/// Where the owner's ids are, when the BTF has `cred`, `pid` and `upid`.
fn ids_layout(
    b: &Btf<'_>,
    task: u32,
    cred: Option<u32>,
    pid: Option<u32>,
    upid: Option<u32>,
) -> Option<Ids> {
    let (cred, pid, upid) = (cred?, pid?, upid?);
    let numbers = b.byte_offset(pid, "numbers")?;
    let (size, nr) = (b.size(upid)?, b.byte_offset(upid, "nr")?);
    // A flexible array (0 elements) reaches every level.
    let levels = match b.array_len(pid, "numbers")? {
        0 => LEVELS,
        n => (n as usize).min(LEVELS),
    };
    let mut level_nr = [0i16; LEVELS];
    for (k, at) in level_nr.iter_mut().enumerate().take(levels) {
        let off = i64::from(numbers) + (k as i64) * i64::from(size) + i64::from(nr);
        *at = i16::try_from(off).ok()?;
    }
    Some(Ids {
        task_real_cred: b.byte_offset(task, "real_cred")?,
        cred_uid: b.byte_offset(cred, "uid")?,
        task_thread_pid: b.byte_offset(task, "thread_pid")?,
        pid_level: b.byte_offset(pid, "level")?,
        level_nr,
        levels: levels as u8,
    })
}

/// Just enough of a BTF reader: the position of every type record, and
/// names and members of structs, unions and functions.
struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Byte offset of type id `i + 1` in `types`.
    at: Vec<u32>,
}

impl<'a> Btf<'a> {
    fn parse(data: &'a [u8]) -> Option<Btf<'a>> {
        let u32_at =
            |b: &[u8], i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
        if data.get(0..2)? != [0x9f, 0xeb] {
            return None; // not BTF, or not little-endian
        }
        let hdr = u32_at(data, 4)? as usize;
        let (type_off, type_len) = (u32_at(data, 8)? as usize, u32_at(data, 12)? as usize);
        let (str_off, str_len) = (u32_at(data, 16)? as usize, u32_at(data, 20)? as usize);
        let types = data.get(hdr + type_off..hdr + type_off + type_len)?;
        let strings = data.get(hdr + str_off..hdr + str_off + str_len)?;
        let mut at = Vec::new();
        let mut i = 0usize;
        while i + 12 <= types.len() {
            at.push(i as u32);
            let info = u32_at(types, i + 4)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            i += 12
                + match kind {
                    1 => 4,             // INT
                    3 => 12,            // ARRAY
                    4 | 5 => 12 * vlen, // STRUCT, UNION
                    6 => 8 * vlen,      // ENUM
                    13 => 8 * vlen,     // FUNC_PROTO
                    14 => 4,            // VAR
                    15 => 12 * vlen,    // DATASEC
                    17 => 4,            // DECL_TAG
                    19 => 12 * vlen,    // ENUM64
                    _ => 0,
                };
        }
        Some(Btf { types, strings, at })
    }

    fn u32(&self, i: usize) -> u32 {
        self.types
            .get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    fn name(&self, off: u32) -> &[u8] {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        &rest[..rest.iter().position(|b| *b == 0).unwrap_or(rest.len())]
    }

    /// The id of the first type of each (kind, name), in one pass that
    /// stops when all are found. A type is passed over on the first byte
    /// of its name unless a name wanted starts with it (comparing every
    /// name with each of the 20 wanted took ~2.7 ms of the kernel's
    /// ~130,000 types; this, ~0.3 ms).
    fn find_all(&self, wanted: &[(u32, &str)]) -> Vec<Option<u32>> {
        let mut found = vec![None; wanted.len()];
        // For each first byte, the names wanted that start with it.
        let mut starting = [0u64; 256];
        for (w, (_, name)) in wanted.iter().enumerate().take(64) {
            if let Some(&b) = name.as_bytes().first() {
                starting[usize::from(b)] |= 1 << w;
            }
        }
        let mut left = found.len();
        for (i, &at) in self.at.iter().enumerate() {
            let at = at as usize;
            let off = self.u32(at) as usize;
            let Some(&first) = self.strings.get(off) else {
                continue;
            };
            let mut candidates = starting[usize::from(first)];
            if candidates == 0 {
                continue;
            }
            let kind = (self.u32(at + 4) >> 24) & 0x1f;
            let rest = &self.strings[off..];
            while candidates != 0 {
                let w = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let (k, name) = wanted[w];
                let name = name.as_bytes();
                if found[w].is_none()
                    && k == kind
                    && rest.starts_with(name)
                    && rest.get(name.len()) == Some(&0)
                {
                    found[w] = Some(i as u32 + 1);
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
        found
    }

    /// Byte offset of member `name` of struct/union `id`, as the program's
    /// 16-bit offsets take it.
    fn byte_offset(&self, id: u32, name: &str) -> Option<i16> {
        i16::try_from(self.member(id, name)? / 8).ok()
    }

    /// The size in bytes of struct `id`.
    fn size(&self, id: u32) -> Option<u32> {
        let at = *self.at.get(id.checked_sub(1)? as usize)? as usize;
        matches!((self.u32(at + 4) >> 24) & 0x1f, 4 | 5).then(|| self.u32(at + 8))
    }

    /// The element count of the array member `name` of struct `id` (a
    /// direct member: the ones asked for are not in anonymous unions).
    fn array_len(&self, id: u32, name: &str) -> Option<u32> {
        let at = *self.at.get(id.checked_sub(1)? as usize)? as usize;
        let info = self.u32(at + 4);
        if !matches!((info >> 24) & 0x1f, 4 | 5) {
            return None;
        }
        let member = (0..(info & 0xffff) as usize)
            .map(|m| at + 12 + 12 * m)
            .find(|&base| self.name(self.u32(base)) == name.as_bytes())?;
        let ty = self.u32(member + 4);
        let arr = *self.at.get(ty.checked_sub(1)? as usize)? as usize;
        // ARRAY: type, index type, element count after the common header.
        ((self.u32(arr + 4) >> 24) & 0x1f == 3).then(|| self.u32(arr + 12 + 8))
    }

    /// Bit offset of member `name` of struct/union `id`, looking into
    /// anonymous struct and union members too.
    fn member(&self, id: u32, name: &str) -> Option<u32> {
        let mut budget = 100_000;
        self.member_within(id, name, 8, &mut budget)
    }

    /// `member`, descending at most `depth` anonymous levels and visiting at
    /// most `budget` members (a corrupt BTF can make a type contain itself:
    /// the fuzzer found the stack overflow that followed).
    fn member_within(&self, id: u32, name: &str, depth: u32, budget: &mut u32) -> Option<u32> {
        let depth = depth.checked_sub(1)?;
        let at = *self.at.get(id.checked_sub(1)? as usize)? as usize;
        let info = self.u32(at + 4);
        if !matches!((info >> 24) & 0x1f, 4 | 5) {
            return None; // only structs and unions have members
        }
        let (vlen, kflag) = ((info & 0xffff) as usize, info >> 31 == 1);
        for m in 0..vlen {
            // A corrupt BTF can make this walk exponential: give up.
            *budget = budget.checked_sub(1)?;
            let base = at + 12 + 12 * m;
            let (n, ty, off) = (self.u32(base), self.u32(base + 4), self.u32(base + 8));
            let bits = if kflag { off & 0x00ff_ffff } else { off };
            let member_name = self.name(n);
            if member_name == name.as_bytes() {
                return Some(bits);
            }
            if member_name.is_empty()
                && let Some(inner) = self.member_within(ty, name, depth, budget)
            {
                return bits.checked_add(inner);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_their_labels() {
        let l = Layout {
            attach_id: 1,
            ctx_meta: 0,
            ctx_task: 8,
            ctx_fd: 16,
            ctx_file: 24,
            meta_seq: 0,
            task_tgid: 1268,
            task_group_leader: 1328,
            task_start_boottime: 1560,
            task_nsproxy: 1840,
            nsproxy_net_ns: 40,
            net_inum: 176,
            file_inode: 32,
            inode_mode: 0,
            inode_ino: 64,
            ids: Some(Ids {
                task_real_cred: 1900,
                cred_uid: 8,
                task_thread_pid: 1500,
                pid_level: 4,
                level_nr: [64, 80, 96, 112],
                levels: 4,
            }),
            more: Some(More {
                task_real_parent: 1400,
                task_comm: 1800,
                task_cgroups: 2000,
                task_mm: 900,
                mm_exe_file: 800,
            }),
            tables: None,
        };
        for l in [l, Layout { ids: None, ..l }, Layout { more: None, ..l }] {
            jumps_land(&l);
        }
        let t = Tables {
            attach_id: 2,
            ctx_meta: 0,
            ctx_task: 8,
            task_pid: 1264,
            task_files: 1960,
            files_fdt: 32,
            fdt_max_fds: 0,
            fdt_fd: 8,
            task_type: 100,
            file_type: 200,
            num_new: 301,
            num_next: 302,
            num_destroy: 303,
            rdonly_cast: 304,
        };
        for (part, parts) in [(0, 1), (1, 2), (3, 4)] {
            let p = table_program(&l, &t, part, parts);
            let n = p.len() / 8;
            let insn = |i: usize| &p[i * 8..i * 8 + 8];
            assert_eq!(
                (insn(n - 1)[0], insn(n - 2)[0]),
                (0x95, 0xb7),
                "r0 = 0; exit"
            );
            for i in 0..n {
                let (code, src) = (insn(i)[0], insn(i)[1] >> 4);
                let off = i16::from_le_bytes([insn(i)[2], insn(i)[3]]);
                let imm = i32::from_le_bytes([insn(i)[4], insn(i)[5], insn(i)[6], insn(i)[7]]);
                if matches!(code, 0x15 | 0x1d | 0x55 | 0x25 | 0x05) {
                    let to = i as i64 + 1 + i64::from(off);
                    assert!((0..n as i64).contains(&to), "jump {i} leaves the program");
                }
                // Kernel functions are called by their BTF ids; helpers by
                // number.
                if code == 0x85 && src == PSEUDO_KFUNC_CALL {
                    assert!((301..=304).contains(&imm), "{i}: {imm}");
                } else if code == 0x85 {
                    assert!(
                        [BPF_FUNC_SEQ_WRITE, BPF_FUNC_PROBE_READ_KERNEL].contains(&imm),
                        "{i}: {imm}"
                    );
                }
            }
            // The partition: tgid modulo parts, only when shared out.
            let modulo = (0..n).any(|i| insn(i)[0] == 0x97);
            assert_eq!(modulo, parts > 1);
        }
    }

    fn jumps_land(l: &Layout) {
        let p = program(l);
        assert_eq!(p.len() % 8, 0);
        let n = p.len() / 8;
        let insn = |i: usize| &p[i * 8..i * 8 + 8];
        let target = |i: usize| {
            (i as i64 + 1 + i64::from(i16::from_le_bytes([insn(i)[2], insn(i)[3]]))) as usize
        };
        assert_eq!(insn(n - 1)[0], 0x95, "ends with exit");
        assert_eq!(insn(n - 2)[0], 0xb7, "r0 = 0 before it");
        assert_eq!(target(2), n - 2, "no file: exit");
        assert_eq!(insn(n - 3)[0], 0x85, "the call to bpf_seq_write");
        // Every jump lands inside the program.
        for i in 0..n {
            if matches!(insn(i)[0], 0x15 | 0x55 | 0x25 | 0x05) {
                assert!(target(i) < n, "jump {i} leaves the program");
            }
        }
    }

    /// The log is off for the load that counts; a rejection is loaded
    /// again with a large log, only to say why.
    #[test]
    fn the_verifier_log_is_asked_for_only_after_a_rejection() {
        let mut sizes = Vec::new();
        let ok = load_logged(|log| {
            sizes.push(log.map(|l| l.len()));
            Ok(7)
        });
        assert_eq!(ok.ok(), Some(7));
        assert_eq!(sizes, [None], "one load, no log");

        let mut sizes = Vec::new();
        let rejected: io::Result<u8> = load_logged(|log| {
            sizes.push(log.as_ref().map(|l| l.len()));
            match log {
                None => Err(io::Error::from_raw_os_error(libc::EACCES)),
                Some(log) => {
                    let text = b"0: (bf) r6 = r1\nR2 invalid mem access 'scalar'\n\n";
                    log[..text.len()].copy_from_slice(text);
                    Err(io::Error::from_raw_os_error(libc::EACCES))
                }
            }
        });
        assert_eq!(sizes, [None, Some(LOG_SIZE)]);
        let e = rejected
            .err()
            .unwrap_or_else(|| panic!("a rejection is an error"));
        assert_eq!(
            e.kind(),
            io::ErrorKind::PermissionDenied,
            "the first load's error"
        );
        assert!(
            e.to_string()
                .ends_with("; verifier: R2 invalid mem access 'scalar'"),
            "{e}"
        );
    }

    #[test]
    fn records_decode() {
        let mut head = Vec::new();
        head.extend_from_slice(&42u32.to_ne_bytes());
        head.extend_from_slice(&3u32.to_ne_bytes());
        head.extend_from_slice(&777u64.to_ne_bytes());
        head.extend_from_slice(&5_000_000_000u64.to_ne_bytes());
        head.extend_from_slice(&4026531840u32.to_ne_bytes());
        head.extend_from_slice(&1000u32.to_ne_bytes());
        head.extend_from_slice(&7u32.to_ne_bytes());
        let mut tail = Vec::new();
        tail.extend_from_slice(&1u32.to_ne_bytes()); // ppid
        tail.extend_from_slice(&0u32.to_ne_bytes());
        tail.extend_from_slice(b"nginx\0\0\0\0\0\0\0\0\0\0\0");
        tail.extend_from_slice(&0xffff_8880_0000_1000u64.to_ne_bytes());
        tail.extend_from_slice(&0xffff_8880_0000_2000u64.to_ne_bytes());
        let mut raw = head.clone();
        raw.extend_from_slice(&(HAVE_UID | HAVE_NS_PID | HAVE_PARENT_NAME).to_ne_bytes());
        raw.extend_from_slice(&tail);
        // The same without the ids, the parent or the name: not read.
        raw.extend_from_slice(&head);
        raw.extend_from_slice(&0u32.to_ne_bytes());
        raw.extend_from_slice(&tail);
        raw.extend_from_slice(&[1, 2, 3]); // a torn tail is ignored
        let mut comm = [0u8; 16];
        comm[..5].copy_from_slice(b"nginx");
        let read = Record {
            tgid: 42,
            fd: 3,
            inode: 777,
            start_ns: 5_000_000_000,
            netns: 4026531840,
            uid: Some(1000),
            ns_pid: Some(7),
            parent_name: Some((1, comm)),
            cgroup_key: 0xffff_8880_0000_1000,
            exe_key: 0xffff_8880_0000_2000,
        };
        assert_eq!(
            records(&raw),
            vec![
                read,
                Record {
                    uid: None,
                    ns_pid: None,
                    parent_name: None,
                    ..read
                }
            ]
        );
    }

    #[test]
    fn layout_from_a_minimal_btf() {
        // fixtures/btf/make_minimal.py: made-up offsets, pointers inside
        // anonymous unions as in the kernel.
        let btf = include_bytes!("../../../fixtures/btf/minimal.btf");
        let l = layout(btf).unwrap_or_else(|| panic!("minimal.btf not understood"));
        assert_eq!(l.attach_id, 14);
        assert_eq!(
            (l.ctx_meta, l.ctx_task, l.ctx_fd, l.ctx_file),
            (0, 8, 16, 24)
        );
        assert_eq!(
            (l.task_tgid, l.task_group_leader, l.task_start_boottime),
            (100, 200, 300)
        );
        assert_eq!(
            (l.task_nsproxy, l.nsproxy_net_ns, l.net_inum),
            (400, 48, 176)
        );
        assert_eq!(
            (l.file_inode, l.inode_mode, l.inode_ino, l.meta_seq),
            (40, 0, 72, 0)
        );
        // It has no cred or pid: the ids are left to /proc; nor the task
        // iterator: only the task_file walk runs.
        assert_eq!(l.ids, None);
        assert_eq!(l.more, None);
        assert_eq!(l.tables, None);
        // Every truncation is refused or understood, never a panic.
        for cut in 0..btf.len() {
            let _ = layout(&btf[..cut]);
        }
    }

    #[test]
    fn layout_from_the_running_kernel() {
        // The offsets are the kernel's: only their presence can be checked.
        let Ok(btf) = std::fs::read(BTF_PATH) else {
            eprintln!("SKIP layout_from_the_running_kernel: no {BTF_PATH}");
            return;
        };
        let l = layout(&btf).unwrap_or_else(|| panic!("BTF without the task_file iterator"));
        assert_eq!(
            (l.ctx_meta, l.ctx_task, l.ctx_fd, l.ctx_file),
            (0, 8, 16, 24)
        );
        assert_eq!(l.inode_mode, 0);
        assert!(l.task_tgid > 0 && l.file_inode > 0 && l.inode_ino > 0);
        let ids = l
            .ids
            .unwrap_or_else(|| panic!("the kernel's BTF has cred and pid"));
        assert!(ids.levels >= 1 && ids.task_real_cred > 0 && ids.task_thread_pid > 0);
        let more = l
            .more
            .unwrap_or_else(|| panic!("the kernel's BTF has real_parent, comm, mm"));
        assert!(more.task_comm > 0 && more.mm_exe_file > 0 && more.task_cgroups > 0);
        // numbers[k] follow one another.
        let steps: Vec<i16> = ids.level_nr[..usize::from(ids.levels)]
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        assert!(
            steps.windows(2).all(|w| w[0] == w[1] && w[0] > 0),
            "{ids:?}"
        );
        // A kernel with open-coded loops (6.4+) walks descriptor tables.
        if btf.windows(17).any(|w| w == b"bpf_iter_num_new\0") {
            let t = l
                .tables
                .unwrap_or_else(|| panic!("bpf_iter_num_new, and no table walk"));
            assert!(t.task_files > 0 && t.fdt_fd > 0 && t.file_type > 0 && t.rdonly_cast > 0);
        }
        assert!(layout(b"not btf").is_none());
        assert!(layout(&btf[..100]).is_none());
    }
}
