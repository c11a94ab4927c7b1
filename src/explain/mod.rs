//! From what was read to what it means: joins sockets to their owners, names
//! services and judges how complete the owner lists are. Pure functions.

pub mod exposure;
pub mod firewall;
pub mod forward;
pub mod namespaces;
pub mod origin;
pub mod warning_ids;
pub mod warnings;
pub mod why;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::model::{PidState, Process, Snapshot, Socket, SocketFd};
use crate::query::{Query, Target};
use crate::report::{
    ConnectionUse, HiddenSummary, Listener, NameAnswer, Owner, OwnerStatus, Report, Unanswered,
};
use crate::services;
use exposure::Exposure;
use forward::Forward;
use namespaces::NsView;

/// How to build the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Name the registered services (not with `--numeric`).
    pub services: bool,
    /// Every namespace is listed (`-A`).
    pub all_namespaces: bool,
    /// Work out each listed socket's compact origin and warnings (the
    /// table, watch).
    pub compact: bool,
    /// Walk each listed opening through the packet filter.
    pub firewall: bool,
}

/// Build the report for a snapshot: the sockets and forwards `query` asks
/// about, joined to their owners, and the targets nothing answers. The
/// report is complete when returned; nobody edits it afterwards.
pub fn explain(mut snapshot: Snapshot, query: &Query, options: Options) -> Report {
    let mut fds = std::mem::take(&mut snapshot.socket_fds);
    fds.sort_unstable_by_key(|f| (f.inode, f.pid, f.fd));
    fds.dedup();
    let processes: BTreeMap<u32, Arc<Process>> = snapshot
        .processes
        .into_iter()
        .map(|(pid, p)| (pid, Arc::new(p)))
        .collect();
    let reason = snapshot.visibility.hidden_reason();
    let with_services = options.services;
    // In the listing's order, sorted as sockets (a listener is several
    // times larger to move; inodes are unique, so the order is total).
    snapshot.sockets.sort_unstable_by(|a, b| {
        let key = |s: &Socket| (s.port, s.protocol, s.address.is_ipv6(), s.address);
        (key(a), a.interface.as_deref(), a.inode).cmp(&(key(b), b.interface.as_deref(), b.inode))
    });
    let mut listeners: Vec<Listener> = snapshot
        .sockets
        .iter()
        .map(|socket| {
            let owners = owners(&fds, socket.inode, &processes);
            let owner_status = match (owners.is_empty(), reason) {
                (false, None) => OwnerStatus::Visible,
                (false, Some(r)) => OwnerStatus::Partial(r),
                (true, None) => OwnerStatus::Kernel,
                (true, Some(r)) => OwnerStatus::Hidden(r),
            };
            listener(socket, owners, owner_status, with_services)
        })
        .collect();
    debug_assert!(listeners.is_sorted_by(|a, b| sort_key(a) <= sort_key(b)));
    let mut ns_listeners: Vec<Listener> = snapshot
        .ns_sockets
        .iter()
        .map(|socket| {
            let owners = owners(&fds, socket.inode, &processes);
            let status = if owners.is_empty() {
                OwnerStatus::Kernel
            } else {
                OwnerStatus::Visible
            };
            listener(socket, owners, status, with_services)
        })
        .collect();
    // The sockets are listeners now: freed here, not when the report is
    // returned (at 100,000 sockets, ~10 MB held through the rest).
    drop(std::mem::take(&mut snapshot.sockets));
    drop(std::mem::take(&mut snapshot.ns_sockets));
    let own_netns = snapshot
        .namespaces
        .iter()
        .find(|n| n.own)
        .map_or(0, |n| n.inode);
    let no_namespaces = snapshot.namespaces.is_empty();
    let namespaces: Vec<NsView> = snapshot
        .namespaces
        .iter()
        .map(|n| namespaces::view(n, &snapshot.host.container_names, &snapshot.host.machines))
        .collect();
    // Forwards are followed over every socket read, before the query
    // narrows the listing: a forward's receivers need not be asked about.
    let mut forwards = {
        let all = Report {
            namespaces: namespaces.clone(),
            listeners: std::mem::take(&mut listeners),
            ns_listeners: std::mem::take(&mut ns_listeners),
            ..Report::default()
        };
        let forwards = forward::follow(&all, &snapshot.nat_rules, own_netns);
        listeners = all.listeners;
        ns_listeners = all.ns_listeners;
        forwards
    };
    // Who may reach each socket, by its own namespace's addresses; the
    // forwards above were followed first, since a receiver need not be
    // asked about.
    let exposures: BTreeMap<u64, Exposure> = listeners
        .iter()
        .chain(&ns_listeners)
        .map(|l| {
            let addresses = if l.netns == 0 || l.netns == own_netns {
                snapshot.host.addresses.as_deref()
            } else {
                namespaces
                    .iter()
                    .find(|n| n.inode == l.netns)
                    .map(|n| n.addresses.as_slice())
            };
            (l.inode, exposure::exposure(l, addresses))
        })
        .collect();
    let beyond = |l: &Listener| {
        exposures
            .get(&l.inode)
            .is_some_and(Exposure::beyond_loopback)
    };
    listeners.retain(|l| query.filter.reaches(beyond(l)));
    let mut unanswered = Vec::new();
    let mut names = Vec::new();
    if query.asking() {
        names = name_answers(query, &listeners);
        let how = |t: &Target| names.iter().find(|n| n.target == *t).and_then(|n| n.how);
        let asks = |t: &Target, l: &Listener| {
            t.asks_about(
                l.port,
                l.protocol,
                l.owners.iter().map(|o| o.process.as_ref()),
                how(t),
            )
        };
        let catches = |t: &Target, f: &Forward| t.caught_by(&f.rule.ports, f.rule.protocol);
        forwards.retain(|f| query.targets.iter().any(|t| catches(t, f)));
        let (asked, not_asked): (Vec<Listener>, Vec<Listener>) = listeners
            .into_iter()
            .partition(|l| query.targets.iter().any(|t| asks(t, l)));
        listeners = asked;
        // A socket not asked about that receives a forward that is.
        let receiving: Vec<Listener> = not_asked
            .into_iter()
            .filter(|l| forwards.iter().any(|f| f.receivers.contains(&l.inode)))
            .filter(|l| !ns_listeners.iter().any(|n| n.inode == l.inode))
            .collect();
        ns_listeners.extend(receiving);
        let pid_states: BTreeMap<u32, PidState> = snapshot.pid_states.into_iter().collect();
        let connections: Vec<ConnectionUse> = snapshot
            .connections
            .into_iter()
            .map(|connection| ConnectionUse {
                owners: owners(&fds, connection.inode, &processes),
                connection,
            })
            .collect();
        unanswered = query
            .targets
            .iter()
            .filter(|t| {
                !listeners.iter().any(|l| asks(t, l)) && !forwards.iter().any(|f| catches(t, f))
            })
            .map(|t| {
                let mut u = unanswered_target(t, &connections, &pid_states);
                u.elsewhere = ns_listeners
                    .iter()
                    .filter(|l| l.netns != 0 && l.netns != own_netns)
                    .filter(|l| t.matches_port(l.port, l.protocol) == Some(true))
                    .cloned()
                    .collect();
                u
            })
            .collect();
    }
    let mut hidden = HiddenSummary {
        reason,
        unreadable_pids: snapshot.visibility.unreadable_pids.clone(),
        ..HiddenSummary::default()
    };
    for l in &listeners {
        match l.owner_status {
            OwnerStatus::Partial(_) => hidden.partial += 1,
            OwnerStatus::Hidden(_) => hidden.hidden += 1,
            _ => {}
        }
    }
    let mut firewalls = BTreeMap::new();
    if options.firewall {
        let ruleset_of = |netns: u64| {
            if netns == 0 || netns == own_netns {
                snapshot.firewall.as_ref()
            } else {
                snapshot
                    .namespaces
                    .iter()
                    .find(|n| n.inode == netns)
                    .and_then(|n| n.firewall.as_ref())
            }
        };
        let addresses_of = |netns: u64| {
            if netns == 0 || netns == own_netns {
                snapshot.host.addresses.as_deref()
            } else {
                namespaces
                    .iter()
                    .find(|n| n.inode == netns)
                    .map(|n| n.addresses.as_slice())
            }
        };
        // The listed sockets, and those of other namespaces only where a
        // forward leads (the rest are counted for the footer, not shown).
        let receivers: std::collections::HashSet<u64> = forwards
            .iter()
            .flat_map(|f| f.receivers.iter().copied())
            .collect();
        let shown = ns_listeners.iter().filter(|l| receivers.contains(&l.inode));
        // Most sockets share their answer with others (every loopback one
        // is local-only; every wildcard one on the same ports' rules is
        // open the same way): one copy each, not one per socket (at
        // 100,000 listeners ~30 MB).
        let mut recent: Vec<Arc<crate::report::firewall::Reachability>> = Vec::new();
        for l in listeners.iter().chain(shown) {
            let answer = firewall::of_socket(l, addresses_of(l.netns), ruleset_of(l.netns));
            let shared = match recent.iter().position(|r| **r == answer) {
                Some(i) => Arc::clone(&recent[i]),
                None => {
                    let new = Arc::new(answer);
                    if recent.len() == 8 {
                        recent.remove(0);
                    }
                    recent.push(Arc::clone(&new));
                    new
                }
            };
            firewalls.insert(l.inode, shared);
        }
        for f in &mut forwards {
            f.firewall = Some(firewall::of_forward(
                f,
                addresses_of(own_netns),
                ruleset_of(own_netns),
            ));
        }
    }
    let mut report = Report {
        firewalls,
        listeners,
        hidden,
        notes: snapshot.notes,
        processes,
        unanswered,
        names,
        exposures,
        host: snapshot.host,
        origins: BTreeMap::new(),
        namespaces,
        ns_listeners,
        forwards,
        other_listeners: snapshot.other_listeners,
        own_netns,
        // Without namespace information (not root, another platform) the
        // listing is the plain one.
        all_namespaces: options.all_namespaces && !no_namespaces,
    };
    if options.compact {
        report.origins = why::compact_all(&report);
        let marked = report
            .origins
            .values()
            .any(|c| c.firewall.and_then(firewall::mark).is_some());
        if marked {
            report.notes.push(firewall::LEGEND.to_string());
        }
    }
    report
}

/// How each process target is answered by the names of the listeners'
/// owners (exactly, else by prefix), and which names that took.
fn name_answers(query: &Query, listeners: &[Listener]) -> Vec<NameAnswer> {
    let owners = || {
        listeners
            .iter()
            .flat_map(|l| &l.owners)
            .map(|o| o.process.as_ref())
    };
    query
        .targets
        .iter()
        .filter(|t| matches!(t, Target::Process { .. }))
        .map(|t| {
            let how = query.name_match(t, owners());
            // With -q and no exact name: the names a prefix would take, to
            // say why nothing was printed.
            let shown = how.or_else(|| owners().filter_map(|p| t.names(p)).min());
            let mut names: Vec<Vec<u8>> = owners()
                .filter(|p| shown.is_some_and(|s| t.names(p).is_some_and(|m| m <= s)))
                .map(|p| p.name.clone())
                .collect();
            names.sort();
            names.dedup();
            NameAnswer {
                target: t.clone(),
                how,
                names,
            }
        })
        .collect()
}

/// What is known of a target nothing answers: the connections on its
/// ports, and for `--pid` what the process is.
fn unanswered_target(
    target: &Target,
    connections: &[ConnectionUse],
    pid_states: &BTreeMap<u32, PidState>,
) -> Unanswered {
    // A connection uses the target's port only in the target's protocol:
    // 80/udp is not answered by TCP connections to 80.
    let on = |c: &ConnectionUse, port: u16| {
        target.matches_port(port, c.connection.protocol) == Some(true)
    };
    Unanswered {
        target: target.clone(),
        connections: connections
            .iter()
            .filter(|c| on(c, c.connection.local.port()) || on(c, c.connection.remote.port()))
            .cloned()
            .collect(),
        process: match target {
            Target::Pid(pid) => pid_states.get(pid).cloned(),
            _ => None,
        },
        elsewhere: Vec::new(),
    }
}

/// The owners of `inode`, by pid, each with its descriptors, from `fds`
/// sorted by (inode, pid, fd).
fn owners(fds: &[SocketFd], inode: u64, processes: &BTreeMap<u32, Arc<Process>>) -> Vec<Owner> {
    let start = fds.partition_point(|f| f.inode < inode);
    let end = start + fds[start..].partition_point(|f| f.inode == inode);
    // One owner per run of a process's descriptors, a process that exited
    // between the scan and the details read left out (it no longer holds
    // the socket). Allocated for as many as there are (a Vec grown from
    // empty holds room for four: ~10 MB at 100,000 listeners with one
    // owner each).
    let runs = fds[start..end].chunk_by(|a, b| a.pid == b.pid);
    let mut owners = Vec::with_capacity(runs.clone().count());
    owners.extend(runs.filter_map(|run| {
        let process = processes.get(&run.first()?.pid)?;
        Some(Owner {
            process: Arc::clone(process),
            fds: run.iter().filter_map(|f| f.fd).collect(),
        })
    }));
    owners
}

/// A socket as a listener nobody was found to hold (`whyport watch`, for
/// one that closed before its owner could be read).
pub fn unowned(socket: &Socket, with_services: bool) -> Listener {
    listener(socket, Vec::new(), OwnerStatus::Kernel, with_services)
}

fn listener(
    socket: &Socket,
    owners: Vec<Owner>,
    owner_status: OwnerStatus,
    with_services: bool,
) -> Listener {
    Listener {
        protocol: socket.protocol,
        address: socket.address,
        port: socket.port,
        interface: socket.interface.clone(),
        dual_stack: socket.is_dual_stack(),
        inode: socket.inode,
        socket_uid: socket.uid,
        netns: socket.netns,
        service: if with_services {
            services::lookup(socket.port, socket.protocol)
        } else {
            None
        },
        owners,
        owner_status,
    }
}

fn sort_key(l: &Listener) -> (u16, crate::model::Protocol, bool, IpAddr, Option<&str>, u64) {
    (
        l.port,
        l.protocol,
        l.address.is_ipv6(),
        l.address,
        l.interface.as_deref(),
        l.inode,
    )
}

#[cfg(test)]
mod tests;
