//! The portable backend: sockets and their owning PIDs from netstat2,
//! process details from sysinfo. It serves macOS, Windows and FreeBSD, and
//! runs on Linux behind `--backend portable` so that it is tested here.
//!
//! What it cannot tell, and how it copes (docs/portable.md):
//! - netstat2 does not report IPV6_V6ONLY: an IPv6 wildcard socket shows as
//!   `::` even when it also accepts IPv4 (the native backend shows `*`).
//! - it does not tell a connected UDP socket from a bound one: every UDP
//!   socket with a local port is listed.
//! - no descriptor numbers, interfaces (SO_BINDTODEVICE), cgroups, network
//!   namespaces or NAT rules: ORIGIN falls back to the parent program.
//! - on Linux the socket inode comes from netstat2; elsewhere whyport numbers
//!   the sockets itself (the `inode` field is then only an identifier).

use std::collections::BTreeMap;

use super::Request;
use crate::model::{Process, Protocol, Snapshot, Socket, SocketFd, Visibility};

pub fn collect(request: Request<'_>, keep: impl Fn(&Socket) -> bool) -> anyhow::Result<Snapshot> {
    use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
    let start = std::time::Instant::now();
    let mut flags = ProtocolFlags::empty();
    for p in request.protocols {
        flags |= match p {
            Protocol::Tcp => ProtocolFlags::TCP,
            Protocol::Udp => ProtocolFlags::UDP,
        };
    }
    let infos =
        netstat2::get_sockets_info(AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6, flags)
            .map_err(|e| anyhow::anyhow!("reading the socket table (netstat2): {e}"))?;
    let mut notes = Vec::new();
    if request.all_namespaces {
        notes.push(
            "network namespaces (-A) and NAT rules are not available on this platform (or with --backend portable): only whyport's own network is listed".to_string(),
        );
    }
    let mut sockets = Vec::new();
    let mut socket_fds = Vec::new();
    for info in &infos {
        let protocol = match &info.protocol_socket_info {
            ProtocolSocketInfo::Tcp(t) if t.state == TcpState::Listen => Protocol::Tcp,
            ProtocolSocketInfo::Tcp(_) => continue,
            ProtocolSocketInfo::Udp(_) => Protocol::Udp,
        };
        let port = info.local_port();
        let in_ports = request.ports.is_empty()
            || request
                .ports
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&port));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (inode, uid) = (u64::from(info.inode), info.uid);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let (inode, uid) = (synthetic_inode(info), 0);
        let socket = Socket {
            protocol,
            address: info.local_addr(),
            port,
            v6only: None,
            interface: None,
            inode,
            uid,
            netns: 0,
        };
        if !in_ports || !keep(&socket) {
            continue;
        }
        for pid in &info.associated_pids {
            socket_fds.push(SocketFd {
                pid: *pid,
                fd: None,
                inode,
            });
        }
        sockets.push(socket);
    }
    let dumped = start.elapsed();
    let mut pids: Vec<u32> = socket_fds.iter().map(|f| f.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let processes = processes(&pids, request.user_names);
    // A pid netstat2 named whose details are gone exited meanwhile.
    socket_fds.retain(|f| processes.contains_key(&f.pid));
    Ok(Snapshot {
        sockets,
        socket_fds,
        processes,
        visibility: Visibility {
            unreadable_pids: Vec::new(),
            hidepid: false,
            root: is_root(),
            pid_namespace: false,
        },
        timings: vec![("sockets", dumped), ("owners", start.elapsed() - dumped)],
        notes,
        pid_states: request
            .pids
            .iter()
            .map(|&pid| (pid, crate::model::PidState::Unknown))
            .collect(),
        ..Snapshot::default()
    })
}

/// Where netstat2 gives no inode: an identifier stable across runs for the
/// same socket (protocol, address, port, first owner), so that `whyport
/// watch` can tell sockets apart between two polls.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn synthetic_inode(info: &netstat2::SocketInfo) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let tcp = matches!(
        info.protocol_socket_info,
        netstat2::ProtocolSocketInfo::Tcp(_)
    );
    (
        tcp,
        info.local_addr(),
        info.local_port(),
        info.associated_pids.first(),
    )
        .hash(&mut h);
    h.finish()
}

/// The listening sockets alone (for `whyport watch` on other platforms).
#[cfg(not(target_os = "linux"))]
pub fn listening_sockets(protocols: &[Protocol]) -> anyhow::Result<Vec<Socket>> {
    let request = Request {
        protocols,
        ports: &[],
        details: super::Details::Pid,
        user_names: false,
        owner_files: false,
        all_namespaces: false,
        elsewhere: false,
        firewall: false,
        backend: super::Backend::Portable,
    };
    Ok(collect(request, |_| true)?.sockets)
}

fn processes(pids: &[u32], user_names: bool) -> BTreeMap<u32, Process> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};
    let wanted: Vec<Pid> = pids.iter().map(|p| Pid::from_u32(*p)).collect();
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&wanted),
        true,
        ProcessRefreshKind::nothing()
            .with_exe(UpdateKind::Always)
            .with_cmd(UpdateKind::Always)
            .with_user(UpdateKind::Always)
            .with_cwd(UpdateKind::Always),
    );
    let users = user_names.then(Users::new_with_refreshed_list);
    let mut out = BTreeMap::new();
    for pid in &wanted {
        let Some(p) = system.process(*pid) else {
            continue;
        };
        let uid = p.user_id().and_then(uid_number);
        let user = users
            .as_ref()
            .zip(p.user_id())
            .and_then(|(u, id)| u.get_user_by_id(id))
            .map(|u| u.name().to_string());
        out.insert(
            pid.as_u32(),
            Process {
                pid: pid.as_u32(),
                ppid: p.parent().map(Pid::as_u32),
                name: p.name().as_encoded_bytes().to_vec(),
                exe: p.exe().map(std::path::Path::to_path_buf),
                // sysinfo strips the kernel's ` (deleted)` and says nothing
                // of it: unknown.
                exe_deleted: None,
                cmdline: p
                    .cmd()
                    .iter()
                    .map(|a| a.as_encoded_bytes().to_vec())
                    .collect(),
                uid,
                user,
                started_at: Some(p.start_time()).filter(|t| *t > 0),
                cwd: p.cwd().map(std::path::Path::to_path_buf),
                cgroup: None,
                ns_pid: None,
            },
        );
    }
    out
}

#[cfg(unix)]
fn uid_number(uid: &sysinfo::Uid) -> Option<u32> {
    Some(**uid)
}

#[cfg(not(unix))]
fn uid_number(_: &sysinfo::Uid) -> Option<u32> {
    None
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}
