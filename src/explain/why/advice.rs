//! Advice for one listener: a remark when the registered service and the
//! program disagree, and how to stop it, fitting its origin.

use super::origin_of::short;
use super::{Group, Origin, name};
use crate::explain::origin::{LauncherKind, Runtime};
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
pub(super) fn stop(l: &Listener, groups: &[Group], o: &Origin) -> Vec<String> {
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
