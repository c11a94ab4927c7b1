//! Advice for one listener: a remark when the registered service and the
//! program disagree, and how to stop it, fitting its origin.

use super::origin_of::short;
use super::{Group, Origin, OriginKind, name};
use crate::explain::origin::{Container, LauncherKind, Machine, Runtime};
use crate::report::Listener;

/// Programs that normally serve a registered service; a port whose owner is
/// none of them is worth a remark. Only services listed here are judged.
pub(super) const EXPECTED: &[(&str, &[&str])] = &[
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

pub(super) fn mismatch(l: &Listener, origin: &Origin) -> Option<String> {
    let service = l.service?;
    let expected = EXPECTED.iter().find(|(s, _)| *s == service.name())?.1;
    if origin.kind.listens_for_others()
        || matches!(origin.kind, OriginKind::Kernel | OriginKind::Hidden)
        || l.owners.is_empty()
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
        service.name(),
        held.join(", ")
    ))
}

/// Programs that pass a port on to someone else (a container, a forked
/// server): their name says nothing about the service.
const FORWARDERS: &[&str] = &[
    "docker-proxy",
    "rootlessport",
    "conmon",
    "slirp4netns",
    "pasta",
    "inetd",
    "xinetd",
    "systemd",
];

/// Programs that serve services not in `EXPECTED` under a name unlike the
/// service's.
const ALSO: &[(&str, &[&str])] = &[
    ("mdns", &["avahi-daemon", "systemd-resolve"]),
    ("llmnr", &["systemd-resolve"]),
    (
        "bootpc",
        &["dhclient", "dhcpcd", "NetworkManager", "systemd-network"],
    ),
    ("bootps", &["dnsmasq", "dhcpd", "kea-dhcp4"]),
    ("ipp", &["cupsd"]),
];

/// The table's compact form of `mismatch`, without the origin: whether the
/// listener's owners evidently are not the program its port is registered
/// for (a dev server on 3000 is not `hbci`). Unknown owners (hidden, the
/// kernel's) and port forwarders are not judged. A service `EXPECTED`
/// lists is judged by that list; any other by `ALSO`, then by name: an
/// owner whose name starts with the service's (or the reverse, for names of
/// four letters or more) looks like it.
pub(crate) fn unlike_service(l: &Listener) -> bool {
    let Some(service) = l.service else {
        return false;
    };
    let names: Vec<String> = l
        .owners
        .iter()
        .map(|o| String::from_utf8_lossy(&o.process.name).to_ascii_lowercase())
        .collect();
    if names.is_empty() || names.iter().any(|n| FORWARDERS.contains(&n.as_str())) {
        return false;
    }
    let known = |table: &[(&str, &[&str])]| {
        table
            .iter()
            .find(|(s, _)| *s == service.name())
            .map(|(_, progs)| {
                names
                    .iter()
                    .any(|n| progs.iter().any(|p| p.eq_ignore_ascii_case(n)))
            })
    };
    if let Some(judged) = known(EXPECTED) {
        return !judged;
    }
    if known(ALSO) == Some(true) {
        return false;
    }
    let s = service.name().to_ascii_lowercase();
    let stem = |x: &str| x.get(..4).map(str::to_string);
    !names
        .iter()
        .any(|n| n.starts_with(&s) || stem(n).is_some_and(|p| Some(p) == stem(&s)))
}

/// How to stop the listener, fitting its origin. Never by killing an init:
/// the host's PID 1 or a container's (that ends the whole container).
pub(super) fn stop(l: &Listener, groups: &[Group], o: &Origin) -> Vec<String> {
    let leaders: Vec<String> = groups.iter().map(|g| g.leader.pid.to_string()).collect();
    // Every holder: a forked child keeps the socket open after its parent
    // exits, and only some servers take their workers down with them.
    let holders: Vec<String> = groups
        .iter()
        .flat_map(|g| std::iter::once(&g.leader).chain(&g.workers))
        .map(|p| p.pid.to_string())
        .collect();
    let kill = if holders.len() > leaders.len() {
        format!(
            "kill {}   (each holds the socket: it stays open until all have exited)",
            holders.join(" ")
        )
    } else {
        format!("kill {}", leaders.join(" "))
    };
    let machine = o.machine.as_ref();
    match &o.kind {
        OriginKind::Kernel => vec!["remove the kernel feature that opened it (ip link del the VXLAN/WireGuard device, stop the NFS server)".into()],
        OriginKind::Hidden => vec!["run whyport with sudo to see the owner first".into()],
        OriginKind::Unknown => vec![],
        OriginKind::SocketActivation { socket, service } => match (socket, service) {
            (Some(socket), Some(service)) => vec![
                // An Accept=yes socket's service is a template: its
                // instances are stopped by pattern (the template itself
                // cannot be).
                systemctl(machine, "", &format!("stop {socket} {}", service.replace("@.", "@*."))),
                format!(
                    "{}   (so it does not return at boot)",
                    systemctl(machine, "", &format!("disable {socket}"))
                ),
            ],
            _ => vec![format!(
                "{}   (find the .socket unit, then systemctl stop and disable it)",
                systemctl(machine, "", "list-sockets")
            )],
        },
        OriginKind::Inetd { line } => {
            let service = line.as_deref().and_then(|x| x.split_whitespace().next()).unwrap_or("its");
            let xinetd = groups.first().is_some_and(|g| g.leader.name == b"xinetd");
            vec![if xinetd {
                format!(
                    "set `disable = yes` in the {service} service (/etc/xinetd.d), then reload xinetd: kill -HUP {}",
                    leaders.join(" ")
                )
            } else {
                format!(
                    "comment out the {service} line in /etc/inetd.conf, then reload inetd: kill -HUP {}",
                    leaders.join(" ")
                )
            }]
        }
        OriginKind::PortForwarder { runtime: Runtime::Docker, .. } => vec![format!(
            "docker ps --filter publish={}   (then docker stop the container that publishes it)",
            l.port
        )],
        OriginKind::PortForwarder { runtime, .. } => {
            let tool = runtime.name().to_ascii_lowercase();
            match (&o.container_name, &o.container) {
                (Some(n), _) => vec![format!("{tool} stop {n}")],
                (None, Some(c)) => vec![format!("{tool} stop {}", short(&c.id))],
                (None, None) => vec![format!(
                    "{tool} ps   (then {tool} stop the container that publishes port {})",
                    l.port
                )],
            }
        }
        OriginKind::Container => match &o.container {
            Some(c) => vec![container_stop(c, o.container_name.as_deref(), machine)],
            None => vec![kill],
        },
        OriginKind::SystemdUnit | OriginKind::UserUnit => {
            let unit = o.unit.as_ref().map_or("", |u| u.name.as_str());
            let user = if o.kind == OriginKind::UserUnit { "--user " } else { "" };
            match &o.launcher {
                Some(x) if x.kind == LauncherKind::Supervisord => vec!["supervisorctl status   (then supervisorctl stop the program)".into()],
                Some(x) if x.kind == LauncherKind::Pm2 => vec!["pm2 list   (then pm2 stop the app)".into()],
                _ => vec![
                    systemctl(machine, user, &format!("stop {unit}")),
                    format!(
                        "{}   (so it does not return at boot)",
                        systemctl(machine, user, &format!("disable {unit}"))
                    ),
                ],
            }
        }
        OriginKind::Launcher(LauncherKind::Supervisord) => vec!["supervisorctl status   (then supervisorctl stop the program)".into()],
        OriginKind::Launcher(LauncherKind::Pm2) => vec!["pm2 list   (then pm2 stop the app)".into()],
        OriginKind::Launcher(LauncherKind::Cron) => vec![kill, "and remove its crontab entry (crontab -l, /etc/cron.d), or it starts again".into()],
        OriginKind::Init => match machine {
            None => vec!["PID 1 holds it itself: change its configuration; stopping PID 1 stops the system".into()],
            Some(m) => {
                let mut out = vec![format!(
                    "it is the init of {} (pid {} here): stopping it ends every process of that PID namespace; stop it through what started it, or change its configuration",
                    m.describe(),
                    m.init
                )];
                if let Some((pid, who)) = &m.launcher {
                    out.push(format!("started by {} (pid {pid})", crate::sanitize::escape_str(who)));
                }
                out
            }
        },
        OriginKind::Launcher(_) | OriginKind::Daemon | OriginKind::Parent => vec![kill],
    }
}

/// `systemctl [--user] ARGS`, run by the manager that owns the unit: the
/// host's, or a container's own, reached from the host as it is (machined
/// knows the machine: `-M`; LXC: lxc-attach; else nsenter into the init).
fn systemctl(machine: Option<&Machine>, user: &str, args: &str) -> String {
    let Some(m) = machine else {
        return format!("systemctl {user}{args}");
    };
    match (&m.name, m.runtime) {
        (Some(name), _) if m.machined => format!("systemctl {user}-M {name} {args}"),
        (Some(name), Some(Runtime::Lxc)) => {
            format!("lxc-attach -n {name} -- systemctl {user}{args}")
        }
        _ => format!("nsenter -t {} -a systemctl {user}{args}", m.init),
    }
}

/// How a container's runtime stops it.
fn container_stop(c: &Container, name: Option<&str>, machine: Option<&Machine>) -> String {
    let shown = name.unwrap_or(short(&c.id));
    match c.runtime {
        Runtime::Docker => format!("docker stop {shown}"),
        Runtime::Podman => format!("podman stop {shown}"),
        Runtime::Containerd => format!("nerdctl stop {}", short(&c.id)),
        Runtime::Kubernetes => {
            "kubectl delete the pod, or scale its workload to zero (it is recreated otherwise)"
                .into()
        }
        Runtime::Lxc => format!("lxc-stop -n {shown}"),
        Runtime::Nspawn if machine.is_none_or(|m| m.machined) => format!("machinectl stop {shown}"),
        // Without machined: systemd-nspawn shuts its container down
        // cleanly on SIGTERM.
        Runtime::Nspawn => match machine.and_then(|m| m.launcher.as_ref()) {
            Some((pid, _)) => format!(
                "kill {pid}   (the systemd-nspawn that runs {shown}: it shuts the container down)"
            ),
            None => format!(
                "nsenter -t {} -a systemctl poweroff   (shuts {shown} down)",
                machine.map_or(0, |m| m.init)
            ),
        },
    }
}
