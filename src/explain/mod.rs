//! From what was read to what it means: joins sockets to their owners, names
//! services and judges how complete the owner lists are. Pure functions.

pub mod exposure;
pub mod forward;
pub mod namespaces;
pub mod origin;
pub mod warning_ids;
pub mod warnings;
pub mod why;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::model::{Process, Snapshot, Socket, SocketFd};
use crate::report::{ConnectionUse, HiddenSummary, Listener, Owner, OwnerStatus, Report};
use crate::services;

/// Build the report for a snapshot. `services` false skips service names
/// (`--numeric`).
pub fn explain(snapshot: Snapshot, with_services: bool, all_namespaces: bool) -> Report {
    let mut fds = snapshot.socket_fds;
    fds.sort_unstable_by_key(|f| (f.inode, f.pid, f.fd));
    fds.dedup();
    let processes: BTreeMap<u32, Arc<Process>> = snapshot
        .processes
        .into_iter()
        .map(|(pid, p)| (pid, Arc::new(p)))
        .collect();
    let reason = snapshot.visibility.hidden_reason();
    let mut hidden = HiddenSummary {
        reason,
        unreadable_pids: snapshot.visibility.unreadable_pids.clone(),
        ..HiddenSummary::default()
    };
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
            match owner_status {
                OwnerStatus::Partial(_) => hidden.partial += 1,
                OwnerStatus::Hidden(_) => hidden.hidden += 1,
                _ => {}
            }
            listener(socket, owners, owner_status, with_services)
        })
        .collect();
    listeners.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let ns_listeners: Vec<Listener> = snapshot
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
    let own_netns = snapshot
        .namespaces
        .iter()
        .find(|n| n.own)
        .map_or(0, |n| n.inode);
    let no_namespaces = snapshot.namespaces.is_empty();
    let namespaces = snapshot
        .namespaces
        .iter()
        .map(|n| namespaces::view(n, &snapshot.host.container_names))
        .collect();
    let connections = snapshot
        .connections
        .into_iter()
        .map(|connection| ConnectionUse {
            owners: owners(&fds, connection.inode, &processes),
            connection,
        })
        .collect();
    let mut report = Report {
        listeners,
        hidden,
        notes: snapshot.notes,
        processes,
        connections,
        host: snapshot.host,
        origins: Vec::new(),
        namespaces,
        ns_listeners,
        forwards: Vec::new(),
        other_listeners: snapshot.other_listeners,
        own_netns,
        // Without namespace information (not root, another platform) the
        // listing is the plain one.
        all_namespaces: all_namespaces && !no_namespaces,
    };
    report.forwards = forward::follow(&report, &snapshot.nat_rules, own_netns);
    report
}

/// The owners of `inode`, by pid, each with its descriptors, from `fds`
/// sorted by (inode, pid, fd).
fn owners(fds: &[SocketFd], inode: u64, processes: &BTreeMap<u32, Arc<Process>>) -> Vec<Owner> {
    let start = fds.partition_point(|f| f.inode < inode);
    let end = start + fds[start..].partition_point(|f| f.inode == inode);
    let mut owners: Vec<Owner> = Vec::new();
    for f in &fds[start..end] {
        match owners.last_mut() {
            Some(o) if o.process.pid == f.pid => o.fds.extend(f.fd),
            _ => {
                // A process that exited between the scan and the details
                // read no longer holds the socket.
                if let Some(p) = processes.get(&f.pid) {
                    owners.push(Owner {
                        process: Arc::clone(p),
                        fds: f.fd.into_iter().collect(),
                    });
                }
            }
        }
    }
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
        dual_stack: is_dual_stack(socket),
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
        forwarded_to: None,
    }
}

/// An IPv6 socket accepts IPv4 only when bound to the wildcard with
/// IPV6_V6ONLY off; a specific IPv6 address never matches IPv4 traffic.
pub fn is_dual_stack(socket: &Socket) -> bool {
    matches!(socket.address, IpAddr::V6(a) if a.is_unspecified()) && socket.v6only == Some(false)
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
