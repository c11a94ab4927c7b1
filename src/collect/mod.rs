//! Reading the system: one backend per platform, each returning the
//! project's own model types, and the files a user names (`files`: read
//! and written with the same care for what the platform is). All
//! `cfg(target_os)` code lives below here.

pub mod files;
#[cfg(target_os = "linux")]
mod linux;
pub mod portable;

use std::path::PathBuf;

use crate::model::{Protocol, Snapshot, Socket};

pub use crate::config::{Backend, Source};

/// How much to read about each process that holds a socket: each file read
/// costs several microseconds per process, and a busy host has thousands of
/// owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Details {
    /// Only the pid (`--quiet`).
    Pid,
    /// Name, parent, user, start time, executable, cgroup, and the
    /// ancestors up to PID 1 (the table, with its ORIGIN column).
    Identity,
    /// Also the command line (JSON).
    Full,
    /// Identity and the command line, the working directory, and the
    /// non-listening sockets on the asked ports (`whyport PORT`).
    Explain,
}

/// What to read.
#[derive(Debug, Clone, Copy)]
// The portable backend reads less than the Linux one asks for.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct Request<'a> {
    pub protocols: &'a [Protocol],
    /// Inclusive port ranges a backend may filter on early (all when empty);
    /// `keep` still has the last word.
    pub ports: &'a [(u16, u16)],
    /// PIDs asked about (`--pid`): what each is, when it holds nothing.
    pub pids: &'a [u32],
    pub details: Details,
    /// Resolve uids to user names.
    pub user_names: bool,
    /// Also read the host files the owners make relevant (inetd.conf,
    /// .socket units, container names): explanations and audits.
    pub owner_files: bool,
    /// List the sockets of every network namespace, not only whyport's.
    pub all_namespaces: bool,
    /// Count the listeners of other network namespaces (for the footer)
    /// and read the NAT rules.
    pub elsewhere: bool,
    /// Read the packet filter (nf_tables, iptables-legacy, reverse-path
    /// facts) of whyport's namespace, and of every other namespace that
    /// is listed or followed: what says who can reach a listener.
    pub firewall: bool,
    /// Which backend reads the system.
    pub backend: Backend,
}

/// Read the listening sockets the request names, keep those `keep`
/// accepts, then find every process that holds one of them and read the
/// requested details of it.
pub fn collect(
    source: &Source,
    request: Request<'_>,
    keep: impl Fn(&Socket) -> bool,
) -> anyhow::Result<Snapshot> {
    #[cfg(not(target_os = "linux"))]
    {
        let _ = source;
        portable::collect(request, keep)
    }
    #[cfg(target_os = "linux")]
    {
        if request.backend == Backend::Portable {
            return portable::collect(request, keep);
        }
        let start = std::time::Instant::now();
        // How busy the host is says whether threads and the walk pay.
        let open_files = linux::open_files();
        // Made ready while the sockets are read.
        let walk = linux::start_walk(source, open_files);
        let (mut sockets, notes) =
            linux::sockets(source, request.protocols, request.ports, open_files)?;
        sockets.retain(|s| keep(s));
        let explain = request.details == Details::Explain;
        let connections = if explain {
            linux::connections(source, request.protocols, request.ports)
        } else {
            Vec::new()
        };
        let own_dumped = start.elapsed();
        let looking = request.elsewhere || request.all_namespaces;
        let (nat_rules, mut nat_notes, nft_dump) = if looking {
            linux::nat_rules(source, explain)
        } else {
            Default::default()
        };
        let nat_read = start.elapsed().saturating_sub(own_dumped);
        let mut notes = notes;
        notes.append(&mut nat_notes);
        // Every namespace is read before the owner scan when its sockets
        // are listed (-A) or a DNAT rule may lead into one, so that one scan
        // finds every owner. Otherwise the scan notes each process's
        // namespace on the way, and the other namespaces are only counted
        // afterwards, for the footer.
        let dnat = nat_rules
            .iter()
            .any(|r| matches!(r.action, crate::model::NatAction::Dnat { .. }));
        let upfront = request.all_namespaces || (looking && dnat);
        let (mut namespaces, mut other_sockets, mut own_netns, filters_read) = if upfront {
            linux::namespaces(source, request.protocols, None, request.firewall)
        } else {
            Default::default()
        };
        let mut ns_sockets: Vec<Socket> = Vec::new();
        if request.all_namespaces && namespaces.is_empty() && matches!(source, Source::Live) {
            notes.push(
                "listing other network namespaces (-A) needs root (to enter them); only whyport's own is listed".into(),
            );
        }
        if request.all_namespaces {
            for s in &mut sockets {
                s.netns = own_netns;
            }
            let (listed, other): (Vec<Socket>, Vec<Socket>) = std::mem::take(&mut other_sockets)
                .into_iter()
                .partition(|s| keep(s));
            sockets.extend(listed);
            ns_sockets = other;
        } else {
            ns_sockets.append(&mut other_sockets);
        }
        // A forward may lead to a port of this namespace that the port
        // filter left out (`whyport 8080` redirected to 9091).
        if !nat_rules.is_empty() && !request.ports.is_empty() {
            let (all, _) = linux::sockets(source, request.protocols, &[], open_files)?;
            let listed: std::collections::HashSet<u64> = sockets.iter().map(|s| s.inode).collect();
            ns_sockets.extend(all.into_iter().filter(|s| !listed.contains(&s.inode)).map(
                |mut s| {
                    s.netns = own_netns;
                    s
                },
            ));
        }
        let dumped = start.elapsed();
        let upfront_read = dumped.saturating_sub(own_dumped);
        let mut namespaces_read = upfront_read;
        let wanted: std::collections::HashSet<u64> = sockets
            .iter()
            .chain(&ns_sockets)
            .map(|s| s.inode)
            .chain(connections.iter().map(|c| c.inode))
            .filter(|i| *i != 0)
            .collect();
        let count_later = looking && !upfront;
        // The packet filter is read on a thread of its own while the owner
        // scan runs: a few netlink dumps that need nothing the scan finds.
        // Not on a small host, where the scan is short and starting and
        // joining the thread costs more than the read (linux::threads_pay):
        // there it is read after the scan.
        let mut read_filter = request.firewall.then(|| {
            let source = source.clone();
            move || {
                let start = std::time::Instant::now();
                (
                    linux::firewall(&source, nft_dump.as_deref()),
                    start.elapsed(),
                )
            }
        });
        let filter_thread = if linux::threads_pay(open_files) {
            read_filter.take().map(std::thread::spawn)
        } else {
            None
        };
        let linux::Owners {
            fds: socket_fds,
            processes,
            visibility,
            netns: members,
            walk,
            notes: owner_notes,
        } = linux::owners(
            source,
            &wanted,
            request.details,
            request.user_names,
            count_later,
            walk,
            open_files,
        )?;
        let scanned = start.elapsed();
        notes.extend(owner_notes);
        if count_later {
            let known = (!members.is_empty()).then_some(members.as_slice());
            // Counted only, for the footer: their filters are not needed.
            let (spaces, found, own, _) =
                linux::namespaces(source, request.protocols, known, false);
            namespaces = spaces;
            own_netns = own;
            ns_sockets.extend(found);
            namespaces_read += start.elapsed().saturating_sub(scanned);
        }
        // A namespace that could not be entered or read leaves a hole in
        // -A and in the footer's count: say so.
        for n in namespaces.iter().filter(|n| n.error.is_some()) {
            let place = n
                .mounts
                .first()
                .cloned()
                .or_else(|| n.pids.first().map(|p| format!("process {p}")))
                .unwrap_or_default();
            notes.push(format!(
                "network namespace {} ({}) could not be read: {}",
                n.inode,
                crate::sanitize::escape_str(&place),
                n.error.as_deref().unwrap_or_default()
            ));
        }
        let mut other_listeners = None;
        if !request.all_namespaces && looking && !namespaces.is_empty() {
            let shown: Vec<&Socket> = ns_sockets
                .iter()
                .filter(|s| s.netns != own_netns && keep(s))
                .collect();
            let mut spaces: Vec<u64> = shown.iter().map(|s| s.netns).collect();
            spaces.sort_unstable();
            spaces.dedup();
            other_listeners = Some((shown.len(), spaces.len()));
        }
        linux::drop_closed(source, &mut sockets, &socket_fds, request.ports, own_netns);
        let (firewall, filter_read) = match (filter_thread, read_filter) {
            (Some(thread), _) => thread.join().ok(),
            (None, Some(read)) => Some(read()),
            (None, None) => None,
        }
        .unwrap_or_default();
        // The table's WARN column needs the ephemeral port range; the files
        // its owners make relevant (inetd.conf, .socket units, container
        // names) only an explanation shows.
        // The addresses say who may reach a wildcard bind (the listing's
        // `exposure`, `--exposed`).
        let mut host = if request.details != Details::Pid {
            let holders: std::collections::HashSet<u32> =
                socket_fds.iter().map(|f| f.pid).collect();
            let owners: Vec<&crate::model::Process> = processes
                .values()
                .filter(|p| request.owner_files && holders.contains(&p.pid))
                .collect();
            // Our namespace's addresses, when they were read with the
            // namespaces: one getifaddrs a run.
            let own_addresses = namespaces
                .iter()
                .find(|n| n.own)
                .map(|n| n.addresses.clone());
            linux::host(source, &owners, own_addresses)
        } else {
            Default::default()
        };
        let docker = |n: &crate::model::NetNamespace| {
            n.member_cgroup
                .as_deref()
                .is_some_and(|c| c.contains("docker"))
        };
        if host.container_names.is_empty() && namespaces.iter().any(docker) {
            host.container_names = linux::container_names(source);
        }
        // A container named by its init needs machined's registry.
        if host.machines.is_empty() && namespaces.iter().any(|n| n.ns_init.is_some()) {
            host.machines = linux::machines(source);
        }
        Ok(Snapshot {
            sockets,
            socket_fds,
            processes,
            visibility,
            notes,
            connections,
            host,
            // Each "of which" follows the phase it is part of.
            timings: [
                Some(("sockets", dumped.saturating_sub(upfront_read))),
                Some(("nat rules", nat_read)),
                Some(("namespaces", namespaces_read.saturating_sub(nat_read))),
                (filters_read > std::time::Duration::ZERO)
                    .then_some(("of which firewalls", filters_read)),
                Some(("owners", scanned.saturating_sub(dumped))),
                walk.as_ref()
                    .and_then(|w| w.as_ref().ok())
                    .map(|(took, kind)| {
                        let phase = match kind {
                            linux::bpf_iter::Walk::Tables => "of which bpf walk",
                            linux::bpf_iter::Walk::Files(_) => "of which bpf walk (task_file)",
                        };
                        (phase, *took)
                    }),
                request.firewall.then_some(("firewall", filter_read)),
            ]
            .into_iter()
            .flatten()
            .collect(),
            namespaces,
            other_listeners,
            nat_rules,
            firewall,
            ns_sockets,
            walk_error: match walk {
                Some(Err(why)) => Some(format!("the BPF walk was not used: {why}")),
                Some(Ok((_, linux::bpf_iter::Walk::Files(Some(why))))) => {
                    Some(format!("task_file's walk, not the tables': {why}"))
                }
                _ => None,
            },
            pid_states: request
                .pids
                .iter()
                .map(|&pid| (pid, pid_state(source, request.backend, pid)))
                .collect(),
        })
    }
}

/// What process `pid` is (gone, a zombie, unreadable, or alive without a
/// listener), for a `--pid` target that found no listener.
/// The portable backend cannot tell these apart.
pub fn pid_state(source: &Source, backend: Backend, pid: u32) -> crate::model::PidState {
    #[cfg(target_os = "linux")]
    {
        if backend == Backend::Native {
            return linux::pid_state(source, pid);
        }
    }
    let _ = (source, backend, pid);
    crate::model::PidState::Unknown
}

/// The host's name, for reports (`audit`, `diff`); "unknown" when it cannot
/// be read.
pub fn hostname(source: &Source) -> String {
    let path = match source {
        Source::Live => PathBuf::from("/proc/sys/kernel/hostname"),
        Source::Recorded(dir) => dir.join("proc/sys/kernel/hostname"),
    };
    #[cfg(target_os = "linux")]
    let text = linux::read_small_text(&path);
    #[cfg(not(target_os = "linux"))]
    let text = std::fs::read_to_string(path).ok();
    text.map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// How many CPUs whyport may run on (at least 1).
pub fn cpus() -> usize {
    #[cfg(target_os = "linux")]
    return linux::cpus();
    #[cfg(not(target_os = "linux"))]
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The width of the terminal standard output is, in cells; `None` when it
/// is not a terminal. The kernel's window size first, then `COLUMNS`, then
/// 80.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdout())
            && size.ws_col > 0
        {
            return Some(usize::from(size.ws_col));
        }
    }
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    Some(columns.filter(|c| *c > 0).unwrap_or(80))
}

/// The terminal's height in lines, for the live view; `None` off a terminal.
pub fn terminal_height() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdout())
            && size.ws_row > 0
        {
            return Some(usize::from(size.ws_row));
        }
    }
    let lines = std::env::var("LINES").ok().and_then(|c| c.parse().ok());
    Some(lines.filter(|c| *c > 0).unwrap_or(24))
}

/// The listening sockets of whyport's namespace, without owners: the cheap
/// half of a run (one sock_diag dump), for `whyport watch` to poll.
pub fn listening_sockets(source: &Source, protocols: &[Protocol]) -> anyhow::Result<Vec<Socket>> {
    #[cfg(target_os = "linux")]
    {
        Ok(linux::sockets(source, protocols, &[], linux::open_files())?.0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = source;
        portable::listening_sockets(protocols)
    }
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, Ctrl-C (SIGINT) and SIGTERM set a flag instead of killing
/// the process, so `whyport watch` can end cleanly (exit 0).
pub fn catch_interrupts() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Whether Ctrl-C or SIGTERM arrived since `catch_interrupts`.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
