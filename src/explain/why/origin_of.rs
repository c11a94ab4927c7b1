//! Where a listener comes from: socket activation, inetd, docker-proxy, a
//! container, a systemd unit, a launcher or the parent, worked out once per
//! process, and the few words the listing shows for it.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Group, Origin, name};
use crate::explain::origin::{self, CgroupInfo, Container, Launcher, LauncherKind, Runtime};
use crate::model::{Process, Protocol};
use crate::report::{Listener, OwnerStatus, Report};
use crate::sanitize::escape;

/// What a process's cgroup and ancestry say of it, by pid: everything in an
/// origin but the inetd line, which depends on the socket.
pub(super) type OriginCache = HashMap<u32, Origin>;

pub(super) fn origin_of(
    report: &Report,
    l: &Listener,
    groups: &[Group],
    ancestry: &[Arc<Process>],
    cache: &mut OriginCache,
) -> Origin {
    match l.owner_status {
        OwnerStatus::Kernel => {
            return Origin {
                kind: "kernel",
                summary: "no process holds this socket: the kernel does (an NFS server, a VXLAN or WireGuard device, ...)".into(),
                ..Origin::default()
            };
        }
        OwnerStatus::Hidden(_) => {
            return Origin {
                kind: "hidden",
                summary: "the owner could not be seen (see the warning)".into(),
                ..Origin::default()
            };
        }
        OwnerStatus::Visible | OwnerStatus::Partial(_) => {}
    }
    let Some(leader) = groups.first().map(|g| &g.leader) else {
        return Origin::default();
    };
    // PID 1 holding the socket: systemd listens on a service's behalf.
    if l.owners.iter().any(|o| o.process.pid == 1) {
        let (socket, service) = activation_unit(&report.host.socket_units, l);
        let running: Vec<String> = groups
            .iter()
            .filter(|g| g.leader.pid != 1)
            .map(|g| format!("{} (pid {})", name(&g.leader), g.leader.pid))
            .collect();
        let unit_text = socket.clone().unwrap_or_else(|| "a .socket unit".into());
        let service_text = service.clone().unwrap_or_else(|| "its service".into());
        let mut summary = format!(
            "systemd socket activation: systemd (PID 1) listens for {unit_text} and starts {service_text} on the first connection"
        );
        if !running.is_empty() {
            summary.push_str(&format!("; running now: {}", running.join(", ")));
        }
        return Origin {
            kind: "socket-activation",
            summary,
            activation: Some((socket, service)),
            ..Origin::default()
        };
    }
    // The cgroup and the ancestry belong to the process, not the socket:
    // worked out once per process however many sockets it holds.
    let mut o = cache
        .entry(leader.pid)
        .or_insert_with(|| process_origin(report, leader, ancestry))
        .clone();
    if o.kind == "inetd" {
        // inetd.conf lines, or xinetd's `service NAME { ... }` blocks.
        let entry = report.host.inetd_conf.as_deref().and_then(|conf| {
            inetd_line(conf, l.port, l.protocol)
                .map(|line| (inetd_program(&line), format!("inetd.conf: {line}"), line))
                .or_else(|| xinetd_service(conf, l.port, l.protocol))
        });
        o.kind = "inetd";
        o.summary = match &entry {
            Some((program, source, _)) => format!(
                "inetd super-server: {} (pid {}) listens and runs `{program}` for each connection ({source})",
                name(leader),
                leader.pid,
            ),
            None => format!(
                "inetd super-server: {} (pid {}) listens and starts the configured program for each connection",
                name(leader),
                leader.pid
            ),
        };
        o.inetd_line = entry.map(|(_, _, line)| line);
    }
    o
}

/// The origin of a process from its cgroup and its ancestors.
fn process_origin(report: &Report, leader: &Process, ancestry: &[Arc<Process>]) -> Origin {
    let cgroup = leader
        .cgroup
        .as_deref()
        .map(origin::from_cgroup)
        .unwrap_or_default();
    let nearest_first: Vec<&Process> = ancestry.iter().rev().skip(1).map(|p| p.as_ref()).collect();
    let launcher = origin::launcher(leader, &nearest_first);
    let mut o = Origin {
        unit: cgroup.unit.clone(),
        container: cgroup.container.clone(),
        launcher: launcher.clone(),
        ..Origin::default()
    };
    if launcher
        .as_ref()
        .is_some_and(|x| x.kind == LauncherKind::Inetd)
    {
        o.kind = "inetd";
        return o;
    }
    if leader.name == b"docker-proxy" {
        let arg = |flag: &str| {
            let args: Vec<String> = leader.cmdline.iter().map(|a| escape(a)).collect();
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let target = match (arg("-container-ip"), arg("-container-port")) {
            (Some(ip), Some(port)) => format!(" to the container at {ip}:{port}"),
            _ => String::new(),
        };
        o.kind = "docker-proxy";
        o.summary = format!(
            "Docker's port forwarder (docker-proxy, pid {}){target}",
            leader.pid
        );
        return o;
    }
    if let Some(c) = &cgroup.container {
        o.kind = "container";
        o.summary = container_text(c);
        if let Some((_, name)) = report
            .host
            .container_names
            .iter()
            .find(|(id, _)| *id == c.id)
        {
            o.summary
                .push_str(&format!(" ({})", escape(name.as_bytes())));
            o.container_name = Some(name.clone());
        }
        return o;
    }
    match (&cgroup, &launcher) {
        (CgroupInfo { unit: Some(u), .. }, _) if u.name.ends_with(".service") => {
            let supervised = launcher
                .as_ref()
                .filter(|x| matches!(x.kind, LauncherKind::Supervisord | LauncherKind::Pm2));
            o.kind = if u.user.is_some() {
                "user-unit"
            } else {
                "systemd-unit"
            };
            o.summary = match (u.user, supervised) {
                (_, Some(s)) => format!(
                    "run by {} (pid {}) in systemd unit {}",
                    escape(s.name.as_bytes()),
                    s.pid,
                    u.name
                ),
                (Some(uid), None) => format!("systemd user unit {} of uid {uid}", u.name),
                (None, None) => format!("systemd unit {}", u.name),
            };
        }
        (_, Some(x)) => {
            o.kind = launcher_id(&x.kind);
            o.summary = launcher_text(x);
            if let Some(u) = &cgroup.unit {
                o.summary.push_str(&format!(" (in {})", u.name));
            }
        }
        _ if leader.pid == 1 => {
            o.kind = "init";
            o.summary = "held by PID 1 itself".into();
        }
        _ if leader.ppid == Some(1) && cgroup.unit.is_none() => {
            // The usual double fork of a daemon: whoever started it is gone.
            let init = report
                .processes
                .get(&1)
                .map(|p| name(p))
                .unwrap_or_else(|| "init".into());
            o.kind = "daemon";
            o.summary = format!(
                "a daemon: it detached from whatever started it and now belongs to PID 1 ({init}); no unit, container or session records its origin"
            );
        }
        _ => {
            let parent = leader.ppid.and_then(|p| report.processes.get(&p));
            o.kind = "parent";
            o.summary = match parent {
                Some(p) => format!("started by {} (pid {})", name(p), p.pid),
                None => "its parent process could not be read".into(),
            };
            if let Some(u) = &cgroup.unit {
                o.summary.push_str(&format!(" in {}", u.name));
            }
        }
    }
    o
}

pub(super) fn launcher_id(kind: &LauncherKind) -> &'static str {
    match kind {
        LauncherKind::Inetd => "inetd",
        LauncherKind::Supervisord => "supervisord",
        LauncherKind::Pm2 => "pm2",
        LauncherKind::Cron => "cron",
        LauncherKind::Tmux => "tmux",
        LauncherKind::Screen => "screen",
        LauncherKind::SshSession => "ssh-session",
        LauncherKind::Shell => "shell",
    }
}

pub(super) fn launcher_text(x: &Launcher) -> String {
    let who = format!("{} (pid {})", escape(x.name.as_bytes()), x.pid);
    match x.kind {
        LauncherKind::Inetd => format!("inetd super-server {who}"),
        LauncherKind::Supervisord => format!("run by supervisord {who}"),
        LauncherKind::Pm2 => format!("run by the pm2 process manager {who}"),
        LauncherKind::Cron => format!("started by cron {who}"),
        LauncherKind::Tmux => format!("started by hand in a tmux session {who}"),
        LauncherKind::Screen => format!("started by hand in a screen session {who}"),
        LauncherKind::SshSession => format!("started by hand in an SSH session {who}"),
        LauncherKind::Shell => format!("started by hand from a shell, {who}"),
    }
}

pub(crate) fn runtime_name(r: Runtime) -> &'static str {
    match r {
        Runtime::Docker => "Docker",
        Runtime::Containerd => "containerd",
        Runtime::Kubernetes => "Kubernetes",
        Runtime::Podman => "Podman",
        Runtime::Lxc => "LXC",
        Runtime::Nspawn => "systemd-nspawn",
    }
}

pub(crate) fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

pub(super) fn container_text(c: &Container) -> String {
    let mut s = format!("{} container {}", runtime_name(c.runtime), short(&c.id));
    if let Some(pod) = &c.pod {
        s.push_str(&format!(" in pod {pod}"));
    }
    s
}

/// The .socket unit listening on the listener's port, and its service.
pub(super) fn activation_unit(
    units: &[(String, String)],
    l: &Listener,
) -> (Option<String>, Option<String>) {
    let key = match l.protocol {
        Protocol::Tcp => "ListenStream",
        Protocol::Udp => "ListenDatagram",
    };
    for (file, text) in units {
        let mut listens = false;
        let mut service = None;
        let mut accept = false;
        for line in text.lines().map(str::trim) {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k == key && listen_port(v) == Some(l.port) {
                listens = true;
            } else if k == "Service" {
                service = Some(v.to_string());
            } else if k == "Accept" {
                accept = matches!(v, "yes" | "true" | "1" | "on");
            }
        }
        if listens {
            let stem = file.trim_end_matches(".socket");
            let service = service.unwrap_or_else(|| {
                if accept {
                    format!("{stem}@.service")
                } else {
                    format!("{stem}.service")
                }
            });
            return (Some(file.clone()), Some(service));
        }
    }
    (None, None)
}

/// The port of a ListenStream= value: `80`, `0.0.0.0:80`, `[::]:80`; paths
/// and other families have none.
pub(super) fn listen_port(value: &str) -> Option<u16> {
    if value.starts_with('/') || value.starts_with('@') || value.contains("vsock") {
        return None;
    }
    value.rsplit(':').next()?.parse().ok()
}

/// The inetd.conf line serving `port`/`protocol`, comments and blanks skipped.
pub(super) fn inetd_line(conf: &str, port: u16, protocol: Protocol) -> Option<String> {
    conf.lines().map(str::trim).find_map(|line| {
        if line.starts_with('#') || line.is_empty() {
            return None;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (service, proto) = (*f.first()?, *f.get(2)?);
        let service = service.rsplit(':').next()?;
        let proto_ok = match protocol {
            Protocol::Tcp => proto.starts_with("tcp"),
            Protocol::Udp => proto.starts_with("udp"),
        };
        let port_ok = service.parse::<u16>().ok() == Some(port)
            || crate::services::ports_for(service).contains(&(port, protocol));
        (proto_ok && port_ok).then(|| f.join(" "))
    })
}

/// The xinetd `service NAME { key = value ... }` block serving
/// `port`/`protocol` and not disabled: (program, where it was found, a
/// one-line summary of the block).
pub(super) fn xinetd_service(
    conf: &str,
    port: u16,
    protocol: Protocol,
) -> Option<(String, String, String)> {
    let mut lines = conf.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(service) = line.strip_prefix("service ").map(str::trim) else {
            continue;
        };
        let mut keys: Vec<(String, String)> = Vec::new();
        for line in lines.by_ref() {
            if line.starts_with('}') {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                keys.push((
                    k.trim().trim_end_matches(['+', '-']).to_string(),
                    v.trim().to_string(),
                ));
            }
        }
        let get = |k: &str| {
            keys.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let proto = get("protocol").or(match get("socket_type") {
            Some("stream") => Some("tcp"),
            Some("dgram") => Some("udp"),
            _ => None,
        });
        let proto_ok = proto.is_some_and(|p| p.starts_with(protocol.as_str()));
        let port_ok = match get("port").and_then(|p| p.parse::<u16>().ok()) {
            Some(p) => p == port,
            None => crate::services::ports_for(service).contains(&(port, protocol)),
        };
        if proto_ok && port_ok && get("disable") != Some("yes") {
            let internal = get("type").is_some_and(|t| t.contains("INTERNAL"));
            let program = match (internal, get("server")) {
                (true, _) | (false, None) => "internal".to_string(),
                (false, Some(server)) => [Some(server), get("server_args")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let summary = format!(
                "{service} {proto} user={}",
                get("user").unwrap_or("?"),
                proto = proto.unwrap_or("?")
            );
            return Some((program, format!("xinetd service {service}"), summary));
        }
    }
    None
}

/// The program (and arguments) of an inetd.conf line: fields 6 on.
pub(super) fn inetd_program(line: &str) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    match f.get(5..) {
        Some(rest) if !rest.is_empty() => rest.join(" "),
        _ => "?".into(),
    }
}

/// A few words for the ORIGIN column.
pub(super) fn compact(o: &Origin, ancestry: &[Arc<Process>]) -> String {
    let parent = || {
        let n = ancestry.len();
        ancestry
            .get(n.wrapping_sub(2))
            .map(|p| name(p))
            .unwrap_or_default()
    };
    match o.kind {
        "kernel" => "kernel".into(),
        "hidden" => "-".into(),
        "socket-activation" => "systemd socket".into(),
        "inetd" | "docker-proxy" => o.kind.into(),
        "container" => o
            .container
            .as_ref()
            .map(|c| {
                format!(
                    "{}:{}",
                    runtime_name(c.runtime).to_ascii_lowercase(),
                    short(&c.id)
                )
            })
            .unwrap_or_default(),
        "systemd-unit" => o.unit.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
        "user-unit" => o
            .unit
            .as_ref()
            .map(|u| format!("user:{}", u.name))
            .unwrap_or_default(),
        "shell" => o
            .launcher
            .as_ref()
            .map(|x| format!("shell:{}", escape(x.name.as_bytes())))
            .unwrap_or_default(),
        "ssh-session" => "ssh".into(),
        "supervisord" | "pm2" | "cron" | "tmux" | "screen" => o.kind.into(),
        "init" => "init".into(),
        "daemon" => "daemon".into(),
        _ => parent(),
    }
}
