//! Where a listener comes from: socket activation, inetd, docker-proxy, a
//! container, a systemd unit, a launcher or the parent, worked out once per
//! process, and the few words the listing shows for it.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Group, Origin, OriginKind, name};
use crate::explain::origin::{
    self, CgroupInfo, Container, Launcher, LauncherKind, Machine, Runtime,
};
use crate::model::Process;
use crate::report::{Listener, OwnerStatus, Report};
use crate::sanitize::escape;

use super::config_text::{activation_unit, inetd_line, inetd_program, xinetd_service};

/// What a process's cgroup and ancestry say of it, by pid: everything in an
/// origin but the inetd line, which depends on the socket. Worked out here,
/// or taken from `known`, worked out beforehand and shared by threads.
#[derive(Debug, Default)]
pub(super) struct OriginCache<'a> {
    pub known: Option<&'a HashMap<u32, Origin>>,
    own: HashMap<u32, Origin>,
}

impl OriginCache<'_> {
    pub fn has(&self, pid: u32) -> bool {
        self.known.is_some_and(|k| k.contains_key(&pid)) || self.own.contains_key(&pid)
    }
}

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
                kind: OriginKind::Kernel,
                summary: "no process holds this socket: the kernel does (an NFS server, a VXLAN or WireGuard device, ...)".into(),
                ..Origin::default()
            };
        }
        OwnerStatus::Hidden(_) => {
            return Origin {
                kind: OriginKind::Hidden,
                summary: "the owner could not be seen (see the warning)".into(),
                ..Origin::default()
            };
        }
        OwnerStatus::Visible | OwnerStatus::Partial(_) => {}
    }
    let Some(leader) = groups.first().map(|g| &g.leader) else {
        return Origin::default();
    };
    if let Some(o) = socket_activation(report, l, groups) {
        return o;
    }
    // The cgroup and the ancestry belong to the process, not the socket:
    // worked out once per process however many sockets it holds.
    let mut o = match cache.known.and_then(|k| k.get(&leader.pid)) {
        Some(o) => o.clone(),
        None => cache
            .own
            .entry(leader.pid)
            .or_insert_with(|| process_origin(report, leader, ancestry))
            .clone(),
    };
    if let OriginKind::Inetd { .. } = o.kind {
        // inetd.conf lines, or xinetd's `service NAME { ... }` blocks.
        let entry = report.host.inetd_conf.as_deref().and_then(|conf| {
            inetd_line(conf, l.port, l.protocol)
                .map(|line| (inetd_program(&line), format!("inetd.conf: {line}"), line))
                .or_else(|| xinetd_service(conf, l.port, l.protocol))
        });
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
        o.kind = OriginKind::Inetd {
            line: entry.map(|(_, _, line)| line),
        };
    }
    o
}

/// The init of a PID namespace holding the socket for a .socket unit:
/// the host's PID 1, or a container's systemd (PID 1 of its namespace).
/// A container's first process that is not a service manager (a Docker
/// container's only program) is not socket activation.
fn socket_activation(report: &Report, l: &Listener, groups: &[Group]) -> Option<Origin> {
    let units = |pid: u32| {
        report
            .host
            .socket_units
            .get(&pid)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let init = l.owners.iter().map(|o| &o.process).find(|p| {
        p.is_init()
            && (p.pid == 1 || p.name == b"systemd" || activation_unit(units(p.pid), l).0.is_some())
    })?;
    let (socket, service) = activation_unit(units(init.pid), l);
    let machine = (init.pid != 1).then(|| machine_of(report, init));
    let running: Vec<String> = groups
        .iter()
        .filter(|g| !g.leader.is_init())
        .map(|g| format!("{} (pid {})", name(&g.leader), g.leader.pid))
        .collect();
    let unit_text = socket.clone().unwrap_or_else(|| "a .socket unit".into());
    let service_text = service.clone().unwrap_or_else(|| "its service".into());
    let who = match &machine {
        None => "systemd (PID 1)".to_string(),
        Some(m) => format!(
            "the systemd of {} (its PID 1; pid {} here)",
            m.describe(),
            init.pid
        ),
    };
    let mut summary = format!(
        "systemd socket activation: {who} listens for {unit_text} and starts {service_text} on the first connection"
    );
    if !running.is_empty() {
        summary.push_str(&format!("; running now: {}", running.join(", ")));
    }
    let (container, container_name) = machine.as_ref().map(container_of).unwrap_or_default();
    Some(Origin {
        kind: OriginKind::SocketActivation { socket, service },
        summary,
        container,
        container_name,
        machine,
        ..Origin::default()
    })
}

/// The machine whose init is `init`, named from its launcher (its parent),
/// machined's registry, its cgroup and the runtimes' state.
fn machine_of(report: &Report, init: &Process) -> Machine {
    let launcher = init.ppid.and_then(|p| report.processes.get(&p));
    origin::machine::identify(
        init,
        launcher.map(Arc::as_ref),
        &report.host.machines,
        &report.host.container_names,
    )
}

/// A machine as the container of an origin, when the runtime is known.
fn container_of(m: &Machine) -> (Option<Container>, Option<String>) {
    let Some(runtime) = m.runtime else {
        return (None, None);
    };
    let Some(id) = m.id.clone().or_else(|| m.name.clone()) else {
        return (None, None);
    };
    let c = Container {
        runtime,
        id,
        pod: None,
    };
    (Some(c), m.name.clone())
}

/// A container runtime's process that holds published ports: the runtime.
/// slirp4netns and pasta are general tools: Podman's only when their
/// arguments or cgroup say so.
fn port_forwarder(p: &Process) -> Option<Runtime> {
    let podmans = || {
        let mentions = |t: &[u8]| {
            [&b"libpod"[..], b"podman", b"/containers/"]
                .iter()
                .any(|m| t.windows(m.len()).any(|w| w == *m))
        };
        p.cmdline.iter().any(|a| mentions(a))
            || p.cgroup.as_deref().is_some_and(|c| mentions(c.as_bytes()))
    };
    match p.name.as_slice() {
        b"docker-proxy" => Some(Runtime::Docker),
        b"conmon" | b"rootlessport" => Some(Runtime::Podman),
        b"slirp4netns" | b"pasta" | b"pasta.avx2" if podmans() => Some(Runtime::Podman),
        _ => None,
    }
}

/// The origin of a port forwarder: the runtime's, with its container.
fn forwarder_origin(report: &Report, leader: &Process, runtime: Runtime, mut o: Origin) -> Origin {
    let args: Vec<String> = leader.cmdline.iter().map(|a| escape(a)).collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let program = String::from_utf8_lossy(&leader.name).into_owned();
    if program == "docker-proxy" {
        let target = match (arg("-container-ip"), arg("-container-port")) {
            (Some(ip), Some(port)) => format!(" to the container at {ip}:{port}"),
            _ => String::new(),
        };
        o.summary = format!(
            "Docker's port forwarder (docker-proxy, pid {}){target}",
            leader.pid
        );
    } else {
        // conmon carries its container's id and name in its arguments.
        let raw: Vec<String> = leader
            .cmdline
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if program == "conmon" {
            let id = origin::machine::option(&raw, "-c", "--cid");
            if let Some(id) = id {
                o.container = Some(Container {
                    runtime,
                    id,
                    pod: None,
                });
            }
            o.container_name = origin::machine::option(&raw, "-n", "--name");
        }
        if o.container_name.is_none()
            && let Some(c) = &o.container
        {
            o.container_name = report
                .host
                .container_names
                .iter()
                .find(|(id, _)| *id == c.id)
                .map(|(_, n)| n.clone());
        }
        let of = match (&o.container_name, &o.container) {
            (Some(n), _) => format!(" for container {}", escape(n.as_bytes())),
            (None, Some(c)) => format!(" for container {}", short(&c.id)),
            (None, None) => String::new(),
        };
        o.summary = format!(
            "{}'s port forwarder ({}, pid {}){of}: it holds the port published on the host",
            runtime.name(),
            escape(&leader.name),
            leader.pid
        );
    }
    o.kind = OriginKind::PortForwarder { runtime, program };
    o
}

/// The origin of a process from its cgroup and its ancestors.
pub(super) fn process_origin(
    report: &Report,
    leader: &Process,
    ancestry: &[Arc<Process>],
) -> Origin {
    let cgroup = leader
        .cgroup
        .as_deref()
        .map(origin::from_cgroup)
        .unwrap_or_default();
    let nearest_first: Vec<&Process> = ancestry.iter().rev().skip(1).map(|p| p.as_ref()).collect();
    let launcher = origin::launcher(leader, &nearest_first);
    // The nearest init of a PID namespace that is not whyport's PID 1:
    // the process runs in that container, whatever the host's cgroups say.
    let machine = ancestry
        .iter()
        .rev()
        .find(|p| p.is_init() && p.pid != 1)
        .map(|init| machine_of(report, init));
    let mut o = Origin {
        unit: cgroup.unit.clone(),
        container: cgroup.container.clone(),
        launcher: launcher.clone(),
        machine: machine.clone(),
        ..Origin::default()
    };
    if launcher
        .as_ref()
        .is_some_and(|x| x.kind == LauncherKind::Inetd)
    {
        o.kind = OriginKind::Inetd { line: None };
        return o;
    }
    if let Some(runtime) = port_forwarder(leader) {
        return forwarder_origin(report, leader, runtime, o);
    }
    if o.container.is_none()
        && let Some(m) = &machine
    {
        (o.container, o.container_name) = container_of(m);
    }
    if let Some(c) = o.container.clone() {
        if o.container_name.is_none() {
            o.container_name = report
                .host
                .container_names
                .iter()
                .find(|(id, _)| *id == c.id)
                .map(|(_, name)| name.clone());
        }
        // A unit of the container's own systemd: that manager stops it.
        if let Some(u) = o.unit.as_ref().filter(|u| u.name.ends_with(".service")) {
            o.kind = OriginKind::SystemdUnit;
            o.summary = format!(
                "systemd unit {} of {}",
                u.name,
                container_text(&c, o.container_name.as_deref())
            );
            return o;
        }
        // A system container (nspawn, LXC) boots an init of its own: what
        // runs in it is explained as on a host of its own (a daemon, a
        // shell), with the machine as context; stopping the machine is not
        // how to stop one program in it.
        if !matches!(c.runtime, Runtime::Nspawn | Runtime::Lxc) {
            return application_container(o, &c);
        }
    }
    general_origin(report, leader, &cgroup, launcher, machine, o)
}

/// A process of an application container (Docker, Podman, containerd,
/// Kubernetes): the runtime stops it with its container.
fn application_container(mut o: Origin, c: &Container) -> Origin {
    o.kind = OriginKind::Container;
    o.summary = container_text(c, None);
    if let Some(name) = &o.container_name {
        o.summary
            .push_str(&format!(" ({})", escape(name.as_bytes())));
    }
    o
}

/// Units, launchers, inits, daemons and parents, on the host or inside a
/// system container (`machine`).
fn general_origin(
    report: &Report,
    leader: &Process,
    cgroup: &CgroupInfo,
    launcher: Option<Launcher>,
    machine: Option<Machine>,
    mut o: Origin,
) -> Origin {
    let parent = leader.ppid.and_then(|p| report.processes.get(&p));
    match (cgroup, &launcher) {
        (CgroupInfo { unit: Some(u), .. }, _) if u.name.ends_with(".service") => {
            let supervised = launcher
                .as_ref()
                .filter(|x| matches!(x.kind, LauncherKind::Supervisord | LauncherKind::Pm2));
            o.kind = if u.user.is_some() {
                OriginKind::UserUnit
            } else {
                OriginKind::SystemdUnit
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
            if let Some(m) = &machine {
                o.summary.push_str(&format!(" of {}", m.describe()));
            }
        }
        (_, Some(x)) => {
            o.kind = OriginKind::Launcher(x.kind.clone());
            o.summary = launcher_text(x);
            if let Some(u) = &cgroup.unit {
                o.summary.push_str(&format!(" (in {})", u.name));
            }
        }
        _ if leader.pid == 1 => {
            o.kind = OriginKind::Init;
            o.summary = "held by PID 1 itself".into();
        }
        _ if leader.is_init() => {
            o.kind = OriginKind::Init;
            let by = match machine.as_ref().and_then(|m| m.launcher.as_ref()) {
                Some((pid, who)) => format!(", started by {} (pid {pid})", escape(who.as_bytes())),
                None => String::new(),
            };
            let what = machine
                .as_ref()
                .map_or_else(|| "a PID namespace".to_string(), Machine::describe);
            o.summary = format!(
                "held by the init of {what} itself (PID 1 there, pid {} here){by}",
                leader.pid
            );
        }
        _ if (leader.ppid == Some(1) || parent.is_some_and(|p| p.is_init()))
            && cgroup.unit.is_none() =>
        {
            // The usual double fork of a daemon: whoever started it is gone.
            let init = parent.map(|p| name(p)).unwrap_or_else(|| "init".into());
            o.kind = OriginKind::Daemon;
            o.summary = format!(
                "a daemon: it detached from whatever started it and now belongs to PID 1 ({init}); no unit, container or session records its origin"
            );
        }
        _ => {
            o.kind = OriginKind::Parent;
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

pub(crate) fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

pub(super) fn container_text(c: &Container, name: Option<&str>) -> String {
    let shown = name.map_or_else(|| short(&c.id).to_string(), |n| escape(n.as_bytes()));
    let mut s = format!("{} container {shown}", c.runtime.name());
    if let Some(pod) = &c.pod {
        s.push_str(&format!(" in pod {pod}"));
    }
    s
}

/// The few words the ORIGIN column shows for origin `o` of a process whose
/// parent, when it was read, is `parent`.
pub(super) fn compact(o: &Origin, parent: Option<&Process>) -> String {
    let parent = || parent.map(name).unwrap_or_default();
    match &o.kind {
        OriginKind::Kernel => "kernel".into(),
        OriginKind::Hidden => "-".into(),
        OriginKind::SocketActivation { .. } => "systemd socket".into(),
        OriginKind::Inetd { .. } => "inetd".into(),
        OriginKind::PortForwarder { runtime, program } => {
            if program == "docker-proxy" {
                "docker-proxy".into()
            } else {
                let runtime = runtime.name().to_ascii_lowercase();
                match (&o.container_name, &o.container) {
                    (Some(n), _) => format!("{runtime}:{}", escape(n.as_bytes())),
                    (None, Some(c)) => format!("{runtime}:{}", short(&c.id)),
                    (None, None) => runtime,
                }
            }
        }
        OriginKind::Container => o
            .container
            .as_ref()
            .map(|c| format!("{}:{}", c.runtime.name().to_ascii_lowercase(), short(&c.id)))
            .unwrap_or_default(),
        OriginKind::SystemdUnit => o.unit.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
        OriginKind::UserUnit => o
            .unit
            .as_ref()
            .map(|u| format!("user:{}", u.name))
            .unwrap_or_default(),
        OriginKind::Launcher(LauncherKind::Shell) => o
            .launcher
            .as_ref()
            .map(|x| format!("shell:{}", escape(x.name.as_bytes())))
            .unwrap_or_default(),
        OriginKind::Launcher(LauncherKind::SshSession) => "ssh".into(),
        OriginKind::Launcher(k) => launcher_id(k).into(),
        OriginKind::Init => "init".into(),
        OriginKind::Daemon => "daemon".into(),
        OriginKind::Unknown | OriginKind::Parent => parent(),
    }
}
