//! Why a port is open: for each listener a target asks about, its owners
//! grouped, their ancestry, the origin that implies, the registered service
//! against the program, warnings, and how to stop it. Pure functions over
//! the report.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::exposure::{Exposure, exposure};
use super::origin::{Container, Launcher, LauncherKind, Machine, Runtime, Unit};
use super::warnings::{self, Warning};
use crate::model::Process;
use crate::report::{Compact, Listener, Report};
use crate::sanitize::escape;

mod advice;
mod config_text;
pub(crate) mod origin_of;

pub(crate) use advice::unlike_service;
use advice::{mismatch, stop};
use origin_of::{OriginCache, compact, origin_of, process_origin};

/// The answer for one listening socket.
#[derive(Debug, Clone)]
pub struct Explanation<'a> {
    pub listener: &'a Listener,
    pub exposure: Exposure,
    /// What this host's packet filter lets in, when it was worked out.
    pub firewall: Option<&'a crate::report::firewall::Reachability>,
    pub groups: Vec<Group>,
    /// From PID 1 down to the leader of the first group.
    pub ancestry: Vec<Arc<Process>>,
    pub origin: Origin,
    /// "22/tcp is registered for ssh but is held by python3".
    pub mismatch: Option<String>,
    pub warnings: Vec<Warning>,
    /// Commands or steps that stop the listener, fitting its origin.
    pub stop: Vec<String>,
}

/// Owners of one name: a leader and the workers it forked.
#[derive(Debug, Clone)]
pub struct Group {
    pub leader: Arc<Process>,
    pub workers: Vec<Arc<Process>>,
}

/// What started the listener: the kind, with what only that kind has,
/// and the facts of the process any kind may use (its unit, container,
/// launcher and machine).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub kind: OriginKind,
    /// One sentence for people (process text escaped).
    pub summary: String,
    /// The systemd unit its cgroup names (of the container's own manager
    /// when `machine` is set).
    pub unit: Option<Unit>,
    pub container: Option<Container>,
    pub launcher: Option<Launcher>,
    /// The container's name, where the runtime's state could be read.
    pub container_name: Option<String>,
    /// The container or machine whose PID namespace it runs in, seen from
    /// outside it (its init is not whyport's PID 1); `None` on the host
    /// and inside the container itself.
    pub machine: Option<Machine>,
}

/// The kinds of origin, each with its own data. `id` is the stable string
/// JSON, audits and the listing use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OriginKind {
    /// No owner to explain.
    #[default]
    Unknown,
    /// No process: the kernel holds the socket.
    Kernel,
    /// The owner could not be seen.
    Hidden,
    /// The init of a PID namespace (the host's or a container's systemd)
    /// listens for a .socket unit of its own.
    SocketActivation {
        socket: Option<String>,
        service: Option<String>,
    },
    /// An inetd or xinetd listens for the services of its configuration.
    Inetd { line: Option<String> },
    /// A container runtime's process holds a published port for a
    /// container (docker-proxy, Podman's conmon, rootlessport,
    /// slirp4netns, pasta).
    PortForwarder { runtime: Runtime, program: String },
    /// A process of a container (see `Origin::container`).
    Container,
    /// A system unit (see `Origin::unit`).
    SystemdUnit,
    /// A user manager's unit.
    UserUnit,
    /// Started by a supervisor or by hand (supervisord, pm2, cron, tmux,
    /// screen, an SSH session, a shell).
    Launcher(LauncherKind),
    /// The init of a PID namespace holds it itself.
    Init,
    /// Detached from whatever started it; its parent is an init.
    Daemon,
    /// Nothing better than its parent process is known.
    Parent,
}

impl OriginKind {
    /// Stable id: kernel, hidden, socket-activation, inetd, docker-proxy,
    /// port-forwarder, container, systemd-unit, user-unit, supervisord,
    /// pm2, cron, tmux, screen, ssh-session, shell, parent, init, daemon;
    /// empty when there is no owner.
    pub fn id(&self) -> &'static str {
        match self {
            OriginKind::Unknown => "",
            OriginKind::Kernel => "kernel",
            OriginKind::Hidden => "hidden",
            OriginKind::SocketActivation { .. } => "socket-activation",
            OriginKind::Inetd { .. } => "inetd",
            OriginKind::PortForwarder { program, .. } if program == "docker-proxy" => {
                "docker-proxy"
            }
            OriginKind::PortForwarder { .. } => "port-forwarder",
            OriginKind::Container => "container",
            OriginKind::SystemdUnit => "systemd-unit",
            OriginKind::UserUnit => "user-unit",
            OriginKind::Launcher(k) => origin_of::launcher_id(k),
            OriginKind::Init => "init",
            OriginKind::Daemon => "daemon",
            OriginKind::Parent => "parent",
        }
    }

    /// A container runtime's forwarder holds the port on purpose, next to
    /// the NAT rule the runtime wrote for the same port: no "shadowed"
    /// warning, no "runs as root" one.
    pub fn is_port_forwarder(&self) -> bool {
        matches!(self, OriginKind::PortForwarder { .. })
    }

    /// The .socket unit and its service, for socket activation.
    pub fn activation(&self) -> Option<(&Option<String>, &Option<String>)> {
        match self {
            OriginKind::SocketActivation { socket, service } => Some((socket, service)),
            _ => None,
        }
    }

    /// Kinds whose holder needs root or is not the program to judge: the
    /// manager, super-server, runtime or init that listens on a service's
    /// behalf.
    pub fn listens_for_others(&self) -> bool {
        match self {
            OriginKind::SocketActivation { .. }
            | OriginKind::Inetd { .. }
            | OriginKind::PortForwarder { .. }
            | OriginKind::Container
            | OriginKind::Init => true,
            OriginKind::Unknown
            | OriginKind::Kernel
            | OriginKind::Hidden
            | OriginKind::SystemdUnit
            | OriginKind::UserUnit
            | OriginKind::Launcher(_)
            | OriginKind::Daemon
            | OriginKind::Parent => false,
        }
    }
}

/// Explain every listener of the report.
pub fn explain_all(report: &Report) -> Vec<Explanation<'_>> {
    let mut cache = OriginCache::default();
    report
        .listeners
        .iter()
        .map(|l| explain_one(report, l, &mut cache))
        .collect()
}

/// Explain these sockets of the report (a forward's receivers, listed or
/// not), against the report's processes and host facts.
pub fn explain_each<'a>(
    report: &'a Report,
    listeners: impl IntoIterator<Item = &'a Listener>,
) -> Vec<Explanation<'a>> {
    let mut cache = OriginCache::default();
    listeners
        .into_iter()
        .map(|l| explain_one(report, l, &mut cache))
        .collect()
}

/// Who can reach `l`: as explain worked it out, or, for a socket it did
/// not (none here), from its namespace's addresses.
fn exposure_of(report: &Report, l: &Listener) -> Exposure {
    report
        .exposures
        .get(&l.inode)
        .cloned()
        .unwrap_or_else(|| exposure(l, report.addresses_of(l.netns)))
}

/// For the listing: a compact origin (a unit, a container, a launcher or
/// the parent program) and the warning ids of every listener, by inode.
pub fn compact_all(report: &Report) -> BTreeMap<u64, Compact> {
    compact_on(report, None)
}

/// `compact_all` on `threads` threads, a chunk at a time (10,000
/// listeners took one core 35-40 ms): first each owner's origin, once
/// however many sockets it holds, then each listener's.
fn compact_on(report: &Report, threads: Option<usize>) -> BTreeMap<u64, Compact> {
    let mut leaders: Vec<&Arc<Process>> = report
        .listeners
        .iter()
        .filter_map(|l| l.owners.first().map(|o| &o.process))
        .collect();
    leaders.sort_unstable_by_key(|p| p.pid);
    leaders.dedup_by_key(|p| p.pid);
    // The owner listed first is the group leader of most listeners (the
    // rest are worked out as they come).
    let known: HashMap<u32, Origin> = crate::chunks::in_order(
        &leaders,
        64,
        threads,
        |_: &mut (), _, chunk| {
            chunk
                .iter()
                .map(|p| (p.pid, process_origin(report, p, &ancestry(report, p))))
                .collect::<Vec<_>>()
        },
        |chunks| chunks.flatten().collect(),
    );
    crate::chunks::in_order(
        &report.listeners,
        256,
        threads,
        |cache: &mut OriginCache, _, chunk| {
            cache.known = Some(&known);
            chunk
                .iter()
                .map(|l| (l.inode, compact_one(report, l, cache)))
                .collect::<Vec<_>>()
        },
        |chunks| chunks.flatten().collect(),
    )
}

fn compact_one(report: &Report, l: &Listener, cache: &mut OriginCache) -> Compact {
    let groups = groups(l);
    let leader = groups.first().map(|g| &g.leader);
    // The ancestry is only wanted for a process not yet in the cache: every
    // listener's chain shares its ancestors, whose counts two threads
    // would otherwise bump in turn.
    let ancestry = leader
        .filter(|p| !cache.has(p.pid))
        .map(|p| ancestry(report, p))
        .unwrap_or_default();
    let origin = origin_of(report, l, &groups, &ancestry, cache);
    let parent = leader
        .and_then(|p| p.ppid.filter(|pp| *pp != p.pid && *pp != 0))
        .and_then(|pp| report.processes.get(&pp));
    let exposure = exposure_of(report, l);
    let warnings = all_warnings(report, l, &exposure, &origin)
        .into_iter()
        .map(|w| w.id)
        .collect();
    Compact {
        origin: compact(&origin, parent.map(|p| &**p)).into_boxed_str(),
        warnings,
        firewall: report
            .firewalls
            .get(&l.inode)
            .filter(|f| f.evaluated())
            .map(|f| f.answer),
    }
}

fn explain_one<'a>(
    report: &'a Report,
    l: &'a Listener,
    cache: &mut OriginCache,
) -> Explanation<'a> {
    let exposure = exposure_of(report, l);
    let groups = groups(l);
    let leader = groups.first().map(|g| Arc::clone(&g.leader));
    let ancestry = leader
        .as_ref()
        .map(|p| ancestry(report, p))
        .unwrap_or_default();
    let origin = origin_of(report, l, &groups, &ancestry, cache);
    let mismatch = mismatch(l, &origin);
    let warnings = all_warnings(report, l, &exposure, &origin);
    let stop = stop(l, &groups, &origin);
    Explanation {
        listener: l,
        exposure,
        firewall: report.firewalls.get(&l.inode).map(|f| &**f),
        groups,
        ancestry,
        origin,
        mismatch,
        warnings,
        stop,
    }
}

/// The explanation's warnings, and whether a DNAT rule shadows the port.
fn all_warnings(
    report: &Report,
    l: &Listener,
    exposure: &Exposure,
    origin: &Origin,
) -> Vec<Warning> {
    let mut out = warnings::warnings(
        l,
        exposure,
        origin,
        report.host.ephemeral_ports,
        report.firewalls.get(&l.inode).map(|f| &**f),
    );
    if !origin.kind.is_port_forwarder() {
        out.extend(super::forward::shadowed(
            l,
            &report.forwards,
            report.own_netns,
        ));
    }
    out
}

/// Owners grouped by name; within a name, each process whose parent is not
/// an owner of that name leads the ones below it ("master + workers").
fn groups(l: &Listener) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for o in &l.owners {
        let p = &o.process;
        let same = |pid: Option<u32>| {
            l.owners
                .iter()
                .find(|x| Some(x.process.pid) == pid && x.process.name == p.name)
        };
        // Climb to the topmost owner of the same name.
        let mut top = Arc::clone(p);
        let mut steps = 0;
        while let Some(parent) = same(top.ppid) {
            if steps > 64 || parent.process.pid == top.pid {
                break;
            }
            top = Arc::clone(&parent.process);
            steps += 1;
        }
        match groups.iter_mut().find(|g| g.leader.pid == top.pid) {
            Some(g) if g.leader.pid != p.pid => g.workers.push(Arc::clone(p)),
            Some(_) => {}
            None => {
                let mut g = Group {
                    leader: Arc::clone(&top),
                    workers: Vec::new(),
                };
                if top.pid != p.pid {
                    g.workers.push(Arc::clone(p));
                }
                groups.push(g);
            }
        }
    }
    for g in &mut groups {
        g.workers.sort_by_key(|w| w.pid);
        g.workers.dedup_by_key(|w| w.pid);
    }
    groups
}

/// The chain from PID 1 down to `p`, as far as the processes read reach.
fn ancestry(report: &Report, p: &Arc<Process>) -> Vec<Arc<Process>> {
    let mut chain = vec![Arc::clone(p)];
    let mut next = p.ppid;
    while let Some(pid) = next {
        if pid == 0 || chain.len() > 256 || chain.iter().any(|c| c.pid == pid) {
            break;
        }
        let Some(parent) = report.processes.get(&pid) else {
            break;
        };
        chain.push(Arc::clone(parent));
        next = parent.ppid;
    }
    chain.reverse();
    chain
}

pub(super) fn name(p: &Process) -> String {
    escape(&p.name)
}

#[cfg(test)]
mod container_tests;
#[cfg(test)]
pub(crate) mod tests;
