//! Linux backend: sockets from netlink sock_diag (falling back to the
//! /proc/net text tables), owners from /proc/<pid>/fd, details from
//! /proc/<pid>. With a recorded tree (`--proc-root`) everything, including
//! the socket tables, comes from that tree.

pub(super) mod bpf_iter;
mod fds;
mod firewall;
mod host;
mod legacy;
mod legacy_filter;
mod mountinfo;
mod nat_walk;
mod netlink;
mod netns;
mod nft;
mod nft_filter;
mod pid_state;
mod proc_file;
mod proc_net;
mod proc_text;
mod process;
mod routes;
mod users;
mod xt;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rustix::fs::CWD;

use super::{Details, Source};
use crate::model::{
    Connection, Host, NatRule, NetNamespace, Process, Protocol, Socket, SocketFd, Visibility,
};
use proc_file::Links;
use process::Tree;

/// The CPUs whyport may run on: those of its affinity mask (std's
/// available_parallelism also reads the cgroup's CPU quota, ten system
/// calls more; a quota slows a thread, it does not take a CPU away).
pub(super) fn cpus() -> usize {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity writes
    // at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let n = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if n != 0 {
        return 1;
    }
    // SAFETY: `set` was filled by the kernel.
    (unsafe { libc::CPU_COUNT(&set) } as usize).max(1)
}

/// Listening sockets of the requested protocols, and notes on any fallback.
/// `open_files`: the host's count of open files, when known
/// (`open_files()`), which says whether threads are worth starting.
pub(super) fn sockets(
    source: &Source,
    protocols: &[Protocol],
    ports: &[(u16, u16)],
    open_files: Option<u64>,
) -> anyhow::Result<(Vec<Socket>, Vec<String>)> {
    let proc_root = proc_root(source);
    if let Source::Recorded(root) = source {
        let net = proc_root.join("net");
        anyhow::ensure!(net.is_dir(), "{} has no proc/net directory", root.display());
    }
    let mut sockets = Vec::new();
    let mut notes = Vec::new();
    if matches!(source, Source::Live) && !netlink::filter_fits(ports) {
        notes.push(format!(
            "{} port ranges are more than whyport hands the kernel's socket filter ({}): every socket was read and filtered here",
            ports.len(),
            netlink::MAX_RANGES
        ));
    }
    // One protocol on a thread of its own, the first here: at 10,000
    // listeners TCP's dump and UDP's take ~3 ms each, one core each. Not
    // on a host with few open files (so few sockets), where the dumps
    // take less than starting a thread.
    let one = |protocol| protocol_sockets(source, &proc_root, protocol, ports);
    let parts: Vec<anyhow::Result<Read>> =
        if matches!(source, Source::Live) && open_files.is_none_or(|n| n >= WALK_FROM_FILES) {
            bpf_iter::side_by_side(protocols.len(), |k| one(protocols[k]))
        } else {
            protocols.iter().map(|&p| one(p)).collect()
        };
    let mut inferred = false;
    for part in parts {
        let (found, mut said, v6_inferred) = part?;
        sockets.extend(found);
        notes.append(&mut said);
        inferred |= v6_inferred;
    }
    if inferred {
        let sysctl = proc_root.join("sys/net/ipv6/bindv6only");
        let default = proc_file::read_text(CWD, sysctl, Links::Refuse, proc_file::SMALL)
            .is_ok_and(|s| s.trim() == "1");
        proc_net::infer_v6only(&mut sockets, default);
    }
    Ok((sockets, notes))
}

/// One protocol's listening sockets, what to say about how they were
/// read, and whether dual-stack had to be inferred (/proc/net was read).
type Read = (Vec<Socket>, Vec<String>, bool);

fn protocol_sockets(
    source: &Source,
    proc_root: &Path,
    protocol: Protocol,
    ports: &[(u16, u16)],
) -> anyhow::Result<Read> {
    let mut sockets = Vec::new();
    let mut notes = Vec::new();
    let mut inferred = false;
    if matches!(source, Source::Live)
        && protocol == Protocol::Tcp
        && let Ok(both) = netlink::dump_tcp(ports)
    {
        return Ok((both, notes, inferred));
    }
    for v6 in [false, true] {
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
        let live = match source {
            Source::Live => Some(netlink::dump(family, protocol, ports)),
            Source::Recorded(_) => None,
        };
        match live {
            Some(Ok(found)) => sockets.extend(found),
            Some(Err(e)) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) && v6 => {}
            other => {
                if let Some(Err(e)) = other {
                    notes.push(format!(
                        "sock_diag is unavailable for {}{} ({e}); read /proc/net instead, so dual-stack is inferred",
                        protocol.as_str(),
                        if v6 { "6" } else { "" }
                    ));
                }
                let table = proc_root
                    .join("net")
                    .join(proc_net::table_name(protocol, v6));
                let (found, bad, cut) = read_table(&table, protocol).with_context(|| {
                    format!(
                        "reading the {} socket table under {}",
                        protocol.as_str(),
                        proc_root.display()
                    )
                })?;
                if cut {
                    notes.push(format!(
                        "{} is longer than {} bytes; the rest was not read",
                        table.display(),
                        proc_file::NET_TABLE.total
                    ));
                }
                if bad > 0 {
                    notes.push(format!(
                        "{bad} malformed line{} in {}/net/{}{} skipped",
                        if bad == 1 { "" } else { "s" },
                        proc_root.display(),
                        protocol.as_str(),
                        if v6 { "6" } else { "" }
                    ));
                }
                inferred |= v6;
                sockets.extend(found);
            }
        }
    }
    Ok((sockets, notes, inferred))
}

/// The listening rows of the /proc/net table `path` (streamed: see
/// proc_file.rs), the rows that did not parse (or were too long), and
/// whether the file went on past its limit. A missing file is an empty
/// table (a kernel without IPv6 has no tcp6).
fn read_table(path: &Path, protocol: Protocol) -> std::io::Result<(Vec<Socket>, usize, bool)> {
    let mut rows = proc_net::Rows::new(protocol);
    let read = proc_file::for_each_line(CWD, path, Links::Refuse, proc_file::NET_TABLE, |line| {
        rows.line(&String::from_utf8_lossy(line));
    });
    match read {
        Ok(seen) => Ok((rows.sockets, rows.bad + seen.too_long, seen.truncated)),
        Err(e) if e.is_missing() => Ok((Vec::new(), 0, false)),
        Err(e) => Err(e.into()),
    }
}

/// Non-listening sockets of `protocols` with a local or remote port in
/// `ports`; none for a recorded tree (its tables hold listeners only).
pub(super) fn connections(
    source: &Source,
    protocols: &[Protocol],
    ports: &[(u16, u16)],
) -> Vec<Connection> {
    if matches!(source, Source::Recorded(_)) || ports.is_empty() {
        return Vec::new();
    }
    let on = |p: u16| ports.iter().any(|(lo, hi)| (*lo..=*hi).contains(&p));
    let mut found = Vec::new();
    for &protocol in protocols {
        for family in [libc::AF_INET, libc::AF_INET6] {
            if let Ok(list) = netlink::connections(family as u8, protocol) {
                found.extend(
                    list.into_iter()
                        .filter(|c| on(c.local.port()) || on(c.remote.port())),
                );
            }
        }
    }
    found
}

/// Drop the sockets that found no owner because they closed during the
/// owner scan: dump their tables again and keep those still there. Without
/// this a listener closed mid-scan would be reported as the kernel's (under
/// the churn test's generator: in the first few runs; with it, about one
/// socket in 150-300 runs still is, one closing as the tables are read
/// again; waiting 1 and 10 ms more did not measurably help).
pub(super) fn drop_closed(
    source: &Source,
    sockets: &mut Vec<Socket>,
    fds: &[SocketFd],
    ports: &[(u16, u16)],
    own: u64,
) {
    if matches!(source, Source::Recorded(_)) {
        return;
    }
    let owned: HashSet<u64> = fds.iter().map(|f| f.inode).collect();
    // Only our own namespace's tables are dumped again.
    let mut tables: Vec<(Protocol, bool)> = sockets
        .iter()
        .filter(|s| !owned.contains(&s.inode) && (s.netns == 0 || s.netns == own))
        .map(|s| (s.protocol, s.address.is_ipv6()))
        .collect();
    tables.sort();
    tables.dedup();
    let dump = || -> Option<HashSet<u64>> {
        let mut present = HashSet::new();
        for (protocol, v6) in &tables {
            let family = if *v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
            present.extend(
                netlink::dump(family, *protocol, ports)
                    .ok()?
                    .iter()
                    .map(|s| s.inode),
            );
        }
        Some(present)
    };
    // Cannot tell: keep them all rather than drop a real socket.
    let Some(present) = dump() else { return };
    sockets.retain(|s| {
        owned.contains(&s.inode)
            || (s.netns != 0 && s.netns != own)
            || !tables.contains(&(s.protocol, s.address.is_ipv6()))
            || present.contains(&s.inode)
    });
}

/// The DNAT and redirect rules of whyport's network namespace, a note
/// when they could not be read and an explanation needs them, and the
/// nf_tables dump they were read from (for the filter reader: one dump,
/// not two).
pub(super) fn nat_rules(
    source: &Source,
    explain: bool,
) -> (Vec<NatRule>, Vec<String>, Option<std::sync::Arc<NftDump>>) {
    if matches!(source, Source::Recorded(_)) {
        return Default::default();
    }
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let dump = nft::dump().map(std::sync::Arc::new);
    let nf_tables = dump.as_ref().map_err(|e| std::io::Error::from(e.kind()));
    for (what, found) in [
        ("nf_tables", nf_tables.and_then(|d| nft::nat_rules(d))),
        ("iptables-legacy", legacy::nat_rules()),
    ] {
        match found {
            Ok(found) => rules.extend(found),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                if explain {
                    notes.push(format!("the NAT rules ({what}) could not be read without root, so ports forwarded by DNAT may be missing"));
                }
            }
            // Not there (no nf_tables, no legacy nat table): nothing to read.
            Err(_) => {}
        }
    }
    (rules, notes, dump.ok())
}

/// The chains and rules of one nf_tables dump, shared by its readers.
pub(super) use nft::Dump as NftDump;

/// The packet filter of whyport's network namespace (live only: a
/// recorded tree has none), from the NAT reader's dump when there is one.
pub(super) fn firewall(
    source: &Source,
    dump: Option<&NftDump>,
) -> Option<crate::model::firewall::Ruleset> {
    matches!(source, Source::Live)
        .then(|| firewall::read(dump))
        .flatten()
}

/// Every network namespace with its listening sockets (all ports, each
/// tagged with its namespace's inode) and addresses; and the inode of
/// whyport's own. Entering a namespace needs CAP_SYS_ADMIN: without root,
/// nothing. `known`: each process's namespace, if the owner scan read it.
/// `firewalls`: also read each other namespace's packet filter (the last
/// value: how long that took, in all).
pub(super) fn namespaces(
    source: &Source,
    protocols: &[Protocol],
    known: Option<&[(u32, u64)]>,
    firewalls: bool,
) -> (Vec<NetNamespace>, Vec<Socket>, u64, std::time::Duration) {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if matches!(source, Source::Recorded(_)) || !root {
        return (Vec::new(), Vec::new(), 0, std::time::Duration::ZERO);
    }
    let proc_root = proc_root(source);
    let mut spaces = Vec::new();
    let mut sockets = Vec::new();
    let mut own = 0;
    let mut filter_time = std::time::Duration::ZERO;
    for found in netns::enumerate(&proc_root, known) {
        let mut ns = found.info;
        if let Some(first) = ns.pids.iter().find(|p| **p != std::process::id()) {
            let dir = proc_root.join(first.to_string());
            ns.member_cgroup =
                proc_file::read_text(CWD, dir.join("cgroup"), Links::Refuse, proc_file::CGROUP)
                    .ok();
            let mut name = Vec::new();
            ns.member_name = proc_file::read_capped(
                CWD,
                dir.join("comm"),
                Links::Refuse,
                proc_file::COMM,
                proc_file::Ends::AtEof,
                &mut name,
            )
            .ok()
            .map(|_| {
                if name.last() == Some(&b'\n') {
                    name.pop();
                }
                name
            });
            if !ns.init {
                ns.ns_init = ns_init(&proc_root, &ns.pids);
            }
        }
        if ns.own {
            own = ns.inode;
            ns.addresses = host::addresses();
            spaces.push(ns);
            continue;
        }
        let inode = ns.inode;
        let protocols = protocols.to_vec();
        let read = netns::run_in(&found.path, move || {
            let mut sockets = Vec::new();
            let mut errors = Vec::new();
            for protocol in protocols {
                for family in [libc::AF_INET, libc::AF_INET6] {
                    match netlink::dump(family as u8, protocol, &[]) {
                        Ok(list) => sockets.extend(list),
                        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            // Timed only when read: zero for a namespace only counted.
            let start = std::time::Instant::now();
            let filter = firewalls.then(|| firewall::read(None)).flatten();
            let took = if firewalls {
                start.elapsed()
            } else {
                std::time::Duration::ZERO
            };
            (sockets, host::addresses(), errors, filter, took)
        });
        match read {
            Ok((found_sockets, addresses, errors, filter, took)) => {
                ns.firewall = filter;
                filter_time += took;
                sockets.extend(found_sockets.into_iter().map(|mut s| {
                    s.netns = inode;
                    s
                }));
                ns.addresses = addresses;
                if !errors.is_empty() {
                    ns.error = Some(errors.join("; "));
                }
            }
            Err(e) => ns.error = Some(e.to_string()),
        }
        spaces.push(ns);
    }
    (spaces, sockets, own, filter_time)
}

/// How many of a namespace's first members are asked whether they are the
/// init of a PID namespace: a container's init starts before what it runs,
/// so it has the lowest PID unless PIDs wrapped.
const INIT_CANDIDATES: usize = 16;

/// The init of a PID namespace among `pids` (a network namespace's
/// members), with its parent: the process that started the container.
fn ns_init(proc_root: &Path, pids: &[u32]) -> Option<crate::model::NsInit> {
    let text = |pid: u32, file: &str, cap| {
        let mut buf = Vec::new();
        let path = proc_root.join(pid.to_string()).join(file);
        proc_file::read_capped(
            CWD,
            path,
            Links::Refuse,
            cap,
            proc_file::Ends::AtEof,
            &mut buf,
        )
        .ok()
        .map(|_| buf)
    };
    let own = std::process::id();
    let pid = pids
        .iter()
        .filter(|p| **p != own && **p != 1)
        .take(INIT_CANDIDATES)
        .copied()
        .find(|p| {
            text(*p, "status", proc_file::STATUS).and_then(|s| proc_text::status_nspid(&s))
                == Some(1)
        })?;
    let stat = text(pid, "stat", proc_file::STAT)?;
    let ppid = proc_text::stat_fields(&stat).map(|(ppid, _)| ppid);
    let launcher = ppid.filter(|p| *p != 0).and_then(|ppid| {
        let stat = text(ppid, "stat", proc_file::STAT)?;
        Some(Process {
            pid: ppid,
            ppid: proc_text::stat_fields(&stat).map(|(ppid, _)| ppid),
            name: proc_text::stat_comm(&stat).to_vec(),
            cmdline: text(ppid, "cmdline", proc_file::CMDLINE)
                .map(|c| proc_text::split_cmdline(&c))
                .unwrap_or_default(),
            cgroup: text(ppid, "cgroup", proc_file::CGROUP)
                .map(|c| String::from_utf8_lossy(&c).into_owned()),
            ..Process::default()
        })
    });
    Some(crate::model::NsInit {
        pid,
        name: proc_text::stat_comm(&stat).to_vec(),
        cgroup: text(pid, "cgroup", proc_file::CGROUP)
            .map(|c| String::from_utf8_lossy(&c).into_owned()),
        launcher,
    })
}

/// Below this many open files on the host (/proc/sys/fs/file-nr), the
/// /proc scan is cheaper than loading the BPF walk.
const WALK_FROM_FILES: u64 = 4_096;

/// Below this many open files on the host, the owner scan and the packet
/// filter's read start no thread: a second scan worker, and the filter
/// read beside the scan, cost more to start and join than they save
/// there. Measured side by side (alternating runs, 2026-12-02, this 2-core
/// machine, one port asked): the machine as it is (324 open files) 3.28 ms with threads,
/// 3.02 without; with examples/loadgen's processes added, even at 581 open
/// files (4.54 and 4.47 ms), threads ahead from 911 (5.52 and 5.78 ms).
const THREADS_FROM_FILES: u64 = 512;

/// Whether starting threads pays on a host with `open_files` open files
/// (unknown: as on a busy host).
pub(super) fn threads_pay(open_files: Option<u64>) -> bool {
    open_files.is_none_or(|n| n >= THREADS_FROM_FILES)
}

/// The number of open files on the host: the first field of
/// /proc/sys/fs/file-nr.
pub(super) fn open_files() -> Option<u64> {
    read_small_text(Path::new("/proc/sys/fs/file-nr"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `WHYPORT_BPF=1`: use the walk on a small host too (to compare the two
/// paths there); `WHYPORT_BPF=files`: that, with the `task_file` walk (to
/// compare the two walks).
fn bpf_forced() -> bool {
    std::env::var_os("WHYPORT_BPF").is_some_and(|v| v == "1" || v == "files")
}

fn files_walk() -> bool {
    std::env::var_os("WHYPORT_BPF").is_some_and(|v| v == "files")
}

/// Whether the BPF walk (bpf_iter.rs) is allowed: not turned off with
/// `WHYPORT_NO_BPF=1` (for comparing the two paths). It also needs root and
/// the initial PID namespace (it reports global PIDs): see `owners`.
fn bpf_enabled() -> bool {
    std::env::var_os("WHYPORT_NO_BPF").is_none_or(|v| v.is_empty() || v == "0")
}

/// Docker's container names (id, name), for naming namespaces.
pub(super) fn container_names(source: &Source) -> Vec<(String, String)> {
    match source {
        Source::Live => host::docker_names(Path::new("/"), host::links(true)),
        Source::Recorded(root) => host::docker_names(root, host::links(false)),
    }
}

/// machined's machines (name, leader), for naming namespaces.
pub(super) fn machines(source: &Source) -> Vec<(String, u32)> {
    match source {
        Source::Live => host::machines(Path::new("/"), host::links(true)),
        Source::Recorded(root) => host::machines(root, host::links(false)),
    }
}

/// Host facts for explanations; `addresses`: whyport's own namespace's,
/// when they were read already.
pub(super) fn host(
    source: &Source,
    owners: &[&Process],
    addresses: Option<Vec<(String, std::net::IpAddr)>>,
) -> Host {
    match source {
        Source::Live => host::read(Path::new("/"), true, owners, addresses),
        Source::Recorded(root) => host::read(root, false, owners, None),
    }
}

/// What the owner scan found.
pub(super) struct Owners {
    pub fds: Vec<SocketFd>,
    pub processes: BTreeMap<u32, Process>,
    pub visibility: Visibility,
    /// (pid, network namespace inode) of every process, when asked for.
    pub netns: Vec<(u32, u64)>,
    /// How long the BPF walk took, or why it failed, when it was tried.
    pub walk: Option<Result<(std::time::Duration, bpf_iter::Walk), String>>,
    /// What could not be read of the owners, for a note.
    pub notes: Vec<String>,
}

/// The BPF walk for the owner scan: being made ready (the BTF read, the
/// programs loaded and verified, ~2 ms on the benchmark's machine) on a
/// thread of its own while the sockets are dumped, or not for this run
/// (and why, when that is worth saying under --timings).
pub(super) enum WalkStart {
    Not(Option<String>),
    Pending(std::thread::JoinHandle<std::io::Result<bpf_iter::Prepared>>),
}

/// Start making the walk ready, when it is for this run: as root, in the
/// initial PID namespace (the iterator reports global PIDs), not turned
/// off, and on a host with enough open files. Loading and verifying the
/// walk costs a few milliseconds, more than scanning a small host's
/// descriptors through /proc (measured side by side, alternating runs on
/// 2026-12-02, 68 processes and 320 open files: 8.7 ms with the walk of
/// tables, 7.7 with task_file's, 2.8 ms without, ss -tulpn 5.5 ms; the
/// /proc scan costs about 2 us a descriptor).
pub(super) fn start_walk(source: &Source, open_files: Option<u64>) -> WalkStart {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !matches!(source, Source::Live) || !root || in_pid_namespace() || !bpf_enabled() {
        return WalkStart::Not(None);
    }
    if let Some(n) = open_files.filter(|n| *n < WALK_FROM_FILES && !bpf_forced()) {
        return WalkStart::Not(Some(format!("{n} open files: /proc is cheaper")));
    }
    let files = files_walk();
    match std::thread::Builder::new().spawn(move || bpf_iter::prepare(files)) {
        Ok(ready) => WalkStart::Pending(ready),
        Err(e) => WalkStart::Not(Some(format!("no thread to load it on: {e}"))),
    }
}

/// Whether whyport runs in a PID namespace other than the initial one,
/// which always has this inode number (PROC_PID_INIT_INO). Read once: a
/// process never changes its own PID namespace (setns changes its
/// children's), and the walk, the scan and the namespaces all ask.
pub(super) fn in_pid_namespace() -> bool {
    static IN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() != "pid:[4026531836]")
    })
}

/// Who holds the sockets with these inodes, with the details of each owner
/// (and, to explain them, of every ancestor up to PID 1); `walk` finds
/// them when it is ready, else /proc, on as many threads as the host's
/// `open_files` make worth starting.
pub(super) fn owners(
    source: &Source,
    wanted: &HashSet<u64>,
    details: Details,
    user_names: bool,
    netns: bool,
    walk: WalkStart,
    open_files: Option<u64>,
) -> anyhow::Result<Owners> {
    let proc_root = proc_root(source);
    let live = matches!(source, Source::Live);
    let how = process::Reading {
        clock: process::Clock::read(&proc_root),
        details,
        tree: if live { Tree::Live } else { Tree::Recorded },
    };
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let pid_namespace = live && in_pid_namespace();
    let (walk, not_walked) = match walk {
        WalkStart::Not(why) => (None, why),
        WalkStart::Pending(ready) => (Some(ready), None),
    };
    let mut scan = if wanted.is_empty() {
        fds::FdScan::default()
    } else {
        let walk = walk.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        // One worker per CPU whyport may run on, at most 8; on a small
        // live host only this thread (a recorded tree's size is not the
        // live host's open files).
        let workers = if !live || threads_pay(open_files) {
            cpus().min(8)
        } else {
            1
        };
        fds::scan(&proc_root, wanted, how, netns, walk, workers)
            .with_context(|| format!("listing processes in {}", proc_root.display()))?
    };
    // Said with the walk's failures under --timings: why it was not used
    // (after "whyport: timings: the BPF walk was not used: ", in 80
    // columns; docs/performance.md has the threshold).
    if let Some(why) = not_walked {
        scan.walk = Some(Err(why));
    }
    let mut users = match source {
        Source::Live => users::Users::live(),
        Source::Recorded(root) => users::Users::recorded(&root.join("etc/passwd")),
    };
    let mut processes: BTreeMap<u32, Process> =
        scan.owners.into_iter().map(|p| (p.pid, p)).collect();
    let mut refused = scan.refused;
    if matches!(details, Details::Identity | Details::Explain) {
        let how = process::Reading {
            details: details.max(Details::Full),
            ..how
        };
        add_ancestors(&proc_root, &mut processes, how, &mut refused);
    }
    if user_names {
        for p in processes.values_mut() {
            p.user = p.uid.and_then(|uid| users.name(uid));
        }
    }
    let visibility = match source {
        Source::Live => Visibility {
            unreadable_pids: scan.unreadable,
            root,
            // hidepid hides nothing from root: mountinfo is not read twice.
            hidepid: !root && hidepid(&proc_root),
            pid_namespace,
        },
        Source::Recorded(_) => Visibility {
            unreadable_pids: scan.unreadable,
            root: true,
            hidepid: false,
            pid_namespace: false,
        },
    };
    Ok(Owners {
        fds: scan.fds,
        processes,
        visibility,
        netns: scan.netns,
        walk: scan.walk,
        notes: refused_note(&proc_root, &refused).into_iter().collect(),
    })
}

/// One note for the owners' files that were there and not read: which
/// (the first few) and why. Only pids, fixed file names and whyport's own
/// reasons: nothing of the tree's text.
fn refused_note(proc_root: &Path, refused: &[process::Refused]) -> Option<String> {
    const SHOWN: usize = 5;
    let (first, rest) = refused.split_at(refused.len().min(SHOWN));
    let mut list: Vec<String> = first
        .iter()
        .map(|r| format!("{}/{} ({})", r.pid, r.file, r.why))
        .collect();
    if !rest.is_empty() {
        list.push(format!("{} more", rest.len()));
    }
    (!first.is_empty()).then(|| {
        format!(
            "{} file{} of owning processes under {} could not be read, so those details are missing: {}",
            refused.len(),
            if refused.len() == 1 { "" } else { "s" },
            proc_root.display(),
            list.join(", ")
        )
    })
}

/// Whether the live /proc hides other users' processes (hidepid), from
/// our mountinfo, read line by line.
fn hidepid(proc_root: &Path) -> bool {
    let mut hidden = false;
    let _ = proc_file::for_each_line(
        CWD,
        "/proc/self/mountinfo",
        Links::Refuse,
        proc_file::MOUNTINFO,
        |line| hidden |= mountinfo::hidepid(&String::from_utf8_lossy(line), proc_root),
    );
    hidden
}

/// Read every ancestor of the processes in `processes` up to PID 1.
fn add_ancestors(
    proc_root: &Path,
    processes: &mut BTreeMap<u32, Process>,
    how: process::Reading,
    refused: &mut Vec<process::Refused>,
) {
    let Ok(dir) = rustix::fs::openat(
        rustix::fs::CWD,
        proc_root,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return;
    };
    let mut todo: Vec<u32> = processes.values().filter_map(|p| p.ppid).collect();
    // A chain longer than this is a loop in a corrupt tree, not a process tree.
    let mut budget = 4096;
    while let Some(pid) = todo.pop() {
        budget -= 1;
        if pid == 0 || processes.contains_key(&pid) || budget == 0 {
            continue;
        }
        if let Some(p) = process::read(
            std::os::fd::AsFd::as_fd(&dir),
            &pid.to_string(),
            pid,
            how,
            process::Known::default(),
            refused,
        ) {
            todo.extend(p.ppid);
            processes.insert(pid, p);
        }
    }
}

/// What process `pid` is, for a `--pid` that found no listener.
pub(super) fn pid_state(source: &Source, pid: u32) -> crate::model::PidState {
    pid_state::pid_state(&proc_root(source), pid)
}

/// A one-value file under /proc or a recorded tree (the hostname), read
/// as proc_file.rs reads (never a link, a FIFO or a device; 4 KiB at most).
pub(super) fn read_small_text(path: &Path) -> Option<String> {
    proc_file::read_text(CWD, path, Links::Refuse, proc_file::SMALL).ok()
}

fn proc_root(source: &Source) -> PathBuf {
    match source {
        Source::Live => PathBuf::from("/proc"),
        Source::Recorded(root) => root.join("proc"),
    }
}

/// Name of the interface with this index; `None` for 0 (not bound).
fn interface_name(ifindex: u32) -> Option<String> {
    if ifindex == 0 {
        return None;
    }
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: buf has the IF_NAMESIZE bytes if_indextoname may write.
    let ptr = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr().cast()) };
    if ptr.is_null() {
        // The interface vanished, or lives in another namespace.
        return Some(format!("if{ifindex}"));
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_zero_is_unbound() {
        assert_eq!(interface_name(0), None);
        assert_eq!(interface_name(1).as_deref(), Some("lo"));
    }
}
