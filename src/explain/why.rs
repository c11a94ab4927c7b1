//! Why a port is open: for each listener a target asks about, its owners
//! grouped, their ancestry, the origin that implies, the registered service
//! against the program, warnings, and how to stop it. Pure functions over
//! the report.

use std::collections::HashMap;
use std::sync::Arc;

use super::exposure::{Exposure, exposure};
use super::origin::{self, CgroupInfo, Container, Launcher, LauncherKind, Runtime, Unit};
use super::warnings::{self, Warning};
use crate::config::Target;
use crate::model::{Process, Protocol};
use crate::report::{Listener, OwnerStatus, Report};
use crate::sanitize::escape;

/// The answer for one listening socket.
#[derive(Debug, Clone)]
pub struct Explanation<'a> {
    pub listener: &'a Listener,
    pub exposure: Exposure,
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

/// What started the listener.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Stable id: kernel, hidden, socket-activation, inetd, docker-proxy,
    /// container, systemd-unit, user-unit, supervisord, pm2, cron, tmux,
    /// screen, ssh-session, shell, parent, init.
    pub kind: &'static str,
    /// One sentence for people (process text escaped).
    pub summary: String,
    pub unit: Option<Unit>,
    pub container: Option<Container>,
    pub launcher: Option<Launcher>,
    /// The .socket unit and the service it starts, for socket activation.
    pub activation: Option<(Option<String>, Option<String>)>,
    /// The inetd.conf line that serves the port.
    pub inetd_line: Option<String>,
    /// The container's name, where the runtime's state could be read.
    pub container_name: Option<String>,
}

/// Whether `l` is one of the sockets `target` asks about.
pub fn matches(target: &Target, l: &Listener) -> bool {
    match target {
        Target::Ports { range, protocol } => {
            range.contains(l.port) && protocol.is_none_or(|p| p == l.protocol)
        }
        Target::Service { ports, .. } => ports.contains(&(l.port, l.protocol)),
        Target::Pid(pid) => l.owners.iter().any(|o| o.process.pid == *pid),
        Target::Process(name) => l.owners.iter().any(|o| o.process.name == name.as_bytes()),
    }
}

/// Keep only the listeners some target asks about; the targets that found
/// none, with the connections on their ports.
pub fn select<'a>(report: &mut Report, targets: &'a [Target]) -> Vec<(&'a Target, Vec<usize>)> {
    report
        .listeners
        .retain(|l| targets.iter().any(|t| matches(t, l)));
    targets
        .iter()
        .filter(|t| !report.listeners.iter().any(|l| matches(t, l)))
        .map(|t| {
            let ports = t.ports().unwrap_or_default();
            let conns = report
                .connections
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    let on = |p: u16| ports.iter().any(|r| r.contains(p));
                    on(c.connection.local.port()) || on(c.connection.remote.port())
                })
                .map(|(i, _)| i)
                .collect();
            (t, conns)
        })
        .collect()
}

/// Explain every listener of the report (already narrowed by `select`).
pub fn explain_all(report: &Report) -> Vec<Explanation<'_>> {
    let mut cache = OriginCache::new();
    report
        .listeners
        .iter()
        .map(|l| explain_one(report, l, &mut cache))
        .collect()
}

/// For the listing: a compact origin (a unit, a container, a launcher or
/// the parent program) and the warning ids of every listener, in order.
pub fn compact_all(report: &Report) -> Vec<(String, Vec<&'static str>)> {
    let mut cache = OriginCache::new();
    report
        .listeners
        .iter()
        .map(|l| {
            let groups = groups(l);
            let ancestry = groups
                .first()
                .map(|g| ancestry(report, &g.leader))
                .unwrap_or_default();
            let origin = origin_of(report, l, &groups, &ancestry, &mut cache);
            let exposure = exposure(l, &report.host.addresses);
            let ids = warnings::warnings(l, &exposure, &origin, report.host.ephemeral_ports)
                .into_iter()
                .map(|w| w.id)
                .collect();
            (compact(&origin, &ancestry), ids)
        })
        .collect()
}

/// A few words for the ORIGIN column.
fn compact(o: &Origin, ancestry: &[Arc<Process>]) -> String {
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

fn explain_one<'a>(
    report: &'a Report,
    l: &'a Listener,
    cache: &mut OriginCache,
) -> Explanation<'a> {
    let exposure = exposure(l, &report.host.addresses);
    let groups = groups(l);
    let leader = groups.first().map(|g| Arc::clone(&g.leader));
    let ancestry = leader
        .as_ref()
        .map(|p| ancestry(report, p))
        .unwrap_or_default();
    let origin = origin_of(report, l, &groups, &ancestry, cache);
    let mismatch = mismatch(l, &origin);
    let warnings = warnings::warnings(l, &exposure, &origin, report.host.ephemeral_ports);
    let stop = stop(l, &groups, &origin);
    Explanation {
        listener: l,
        exposure,
        groups,
        ancestry,
        origin,
        mismatch,
        warnings,
        stop,
    }
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

fn name(p: &Process) -> String {
    escape(&p.name)
}

/// What a process's cgroup and ancestry say, by pid.
type OriginCache = HashMap<u32, (CgroupInfo, Option<Launcher>)>;

fn origin_of(
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
    let (cgroup, launcher) = cache
        .entry(leader.pid)
        .or_insert_with(|| {
            let cgroup = leader
                .cgroup
                .as_deref()
                .map(origin::from_cgroup)
                .unwrap_or_default();
            let nearest_first: Vec<&Process> =
                ancestry.iter().rev().skip(1).map(|p| p.as_ref()).collect();
            (cgroup, origin::launcher(leader, &nearest_first))
        })
        .clone();
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
        let line = report
            .host
            .inetd_conf
            .as_deref()
            .and_then(|conf| inetd_line(conf, l.port, l.protocol));
        o.kind = "inetd";
        o.summary = match &line {
            Some(entry) => format!(
                "inetd super-server: {} (pid {}) listens and runs `{}` for each connection (inetd.conf: {})",
                name(leader),
                leader.pid,
                inetd_program(entry),
                entry
            ),
            None => format!(
                "inetd super-server: {} (pid {}) listens and starts the configured program for each connection",
                name(leader),
                leader.pid
            ),
        };
        o.inetd_line = line;
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

fn launcher_id(kind: &LauncherKind) -> &'static str {
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

fn launcher_text(x: &Launcher) -> String {
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

fn runtime_name(r: Runtime) -> &'static str {
    match r {
        Runtime::Docker => "Docker",
        Runtime::Containerd => "containerd",
        Runtime::Kubernetes => "Kubernetes",
        Runtime::Podman => "Podman",
        Runtime::Lxc => "LXC",
        Runtime::Nspawn => "systemd-nspawn",
    }
}

fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

fn container_text(c: &Container) -> String {
    let mut s = format!("{} container {}", runtime_name(c.runtime), short(&c.id));
    if let Some(pod) = &c.pod {
        s.push_str(&format!(" in pod {pod}"));
    }
    s
}

/// The .socket unit listening on the listener's port, and its service.
fn activation_unit(units: &[(String, String)], l: &Listener) -> (Option<String>, Option<String>) {
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
fn listen_port(value: &str) -> Option<u16> {
    if value.starts_with('/') || value.starts_with('@') || value.contains("vsock") {
        return None;
    }
    value.rsplit(':').next()?.parse().ok()
}

/// The inetd.conf line serving `port`/`protocol`, comments and blanks skipped.
fn inetd_line(conf: &str, port: u16, protocol: Protocol) -> Option<String> {
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

/// The program (and arguments) of an inetd.conf line: fields 6 on.
fn inetd_program(line: &str) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    match f.get(5..) {
        Some(rest) if !rest.is_empty() => rest.join(" "),
        _ => "?".into(),
    }
}

/// Programs that normally serve a registered service; a port whose owner is
/// none of them is worth a remark. Only services listed here are judged.
const EXPECTED: &[(&str, &[&str])] = &[
    ("ssh", &["sshd", "sshd-session", "dropbear"]),
    (
        "http",
        &[
            "nginx", "apache2", "httpd", "caddy", "lighttpd", "haproxy", "traefik", "envoy",
            "varnishd",
        ],
    ),
    (
        "https",
        &[
            "nginx", "apache2", "httpd", "caddy", "lighttpd", "haproxy", "traefik", "envoy",
        ],
    ),
    (
        "domain",
        &[
            "dnsmasq",
            "named",
            "unbound",
            "systemd-resolve",
            "pdns_server",
            "coredns",
            "knotd",
        ],
    ),
    ("postgresql", &["postgres", "postmaster"]),
    ("mysql", &["mysqld", "mariadbd"]),
    ("redis", &["redis-server", "valkey-server", "keydb-server"]),
    (
        "smtp",
        &["master", "exim4", "exim", "sendmail", "smtpd", "opensmtpd"],
    ),
    ("memcache", &["memcached"]),
    ("ftp", &["vsftpd", "proftpd", "pure-ftpd"]),
    ("telnet", &["telnetd", "in.telnetd"]),
    ("snmp", &["snmpd"]),
    ("ntp", &["ntpd", "chronyd", "systemd-timesyn"]),
];

fn mismatch(l: &Listener, origin: &Origin) -> Option<String> {
    let service = l.service?;
    let expected = EXPECTED.iter().find(|(s, _)| *s == service.name)?.1;
    if matches!(
        origin.kind,
        "socket-activation" | "inetd" | "docker-proxy" | "container" | "kernel" | "hidden"
    ) || l.owners.is_empty()
    {
        return None;
    }
    if l.owners
        .iter()
        .any(|o| expected.iter().any(|e| o.process.name == e.as_bytes()))
    {
        return None;
    }
    let held: Vec<String> = l
        .owners
        .iter()
        .map(|o| name(&o.process))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Some(format!(
        "{}/{} is registered for {} but is held by {}",
        l.port,
        l.protocol.as_str(),
        service.name,
        held.join(", ")
    ))
}

/// How to stop the listener, fitting its origin.
fn stop(l: &Listener, groups: &[Group], o: &Origin) -> Vec<String> {
    let leaders: Vec<String> = groups.iter().map(|g| g.leader.pid.to_string()).collect();
    let kill = format!("kill {}", leaders.join(" "));
    match o.kind {
        "kernel" => vec!["remove the kernel feature that opened it (ip link del the VXLAN/WireGuard device, stop the NFS server)".into()],
        "hidden" => vec!["run whyport with sudo to see the owner first".into()],
        "socket-activation" => match &o.activation {
            Some((Some(socket), Some(service))) => vec![
                format!("systemctl stop {socket} {service}"),
                format!("systemctl disable {socket}   (so it does not return at boot)"),
            ],
            _ => vec!["systemctl list-sockets   (find the .socket unit, then systemctl stop and disable it)".into()],
        },
        "inetd" => {
            let service = o.inetd_line.as_deref().and_then(|x| x.split_whitespace().next()).unwrap_or("its");
            vec![format!(
                "comment out the {service} line in /etc/inetd.conf, then reload inetd: kill -HUP {}",
                leaders.join(" ")
            )]
        }
        "docker-proxy" => vec![format!(
            "docker ps --filter publish={}   (then docker stop the container that publishes it)",
            l.port
        )],
        "container" => match &o.container {
            Some(c) => vec![match c.runtime {
                Runtime::Docker => format!("docker stop {}", o.container_name.as_deref().unwrap_or(short(&c.id))),
                Runtime::Podman => format!("podman stop {}", short(&c.id)),
                Runtime::Containerd => format!("nerdctl stop {}", short(&c.id)),
                Runtime::Kubernetes => "kubectl delete the pod, or scale its workload to zero (it is recreated otherwise)".into(),
                Runtime::Lxc => format!("lxc-stop -n {}", c.id),
                Runtime::Nspawn => format!("machinectl stop {}", c.id),
            }],
            None => vec![kill],
        },
        "systemd-unit" | "user-unit" => {
            let unit = o.unit.as_ref().map_or("", |u| u.name.as_str());
            let user = if o.kind == "user-unit" { "--user " } else { "" };
            match &o.launcher {
                Some(x) if x.kind == LauncherKind::Supervisord => vec!["supervisorctl status   (then supervisorctl stop the program)".into()],
                Some(x) if x.kind == LauncherKind::Pm2 => vec!["pm2 list   (then pm2 stop the app)".into()],
                _ => vec![
                    format!("systemctl {user}stop {unit}"),
                    format!("systemctl {user}disable {unit}   (so it does not return at boot)"),
                ],
            }
        }
        "supervisord" => vec!["supervisorctl status   (then supervisorctl stop the program)".into()],
        "pm2" => vec!["pm2 list   (then pm2 stop the app)".into()],
        "cron" => vec![kill, "and remove its crontab entry (crontab -l, /etc/cron.d), or it starts again".into()],
        _ => vec![kill],
    }
}

#[cfg(test)]
mod tests;
