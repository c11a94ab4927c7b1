//! What looks risky about a listener, each finding with a stable id (audits
//! and policies refer to these) and one line of why.

use super::exposure::Exposure;
use super::why::Origin;
use crate::model::{HiddenReason, Protocol};
use crate::report::firewall::{Answer, Reachability};
use crate::report::{Listener, OwnerStatus};
use crate::sanitize::escape;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable id: exposed-datastore, plaintext-login, deleted-executable,
    /// root-unneeded, owner-unknown, udp-ephemeral-client.
    pub id: &'static str,
    pub text: String,
}

pub use super::warning_ids::IDS;

/// Datastores and admin interfaces: (what, programs, ports).
const DATASTORES: &[(&str, &[&str], &[u16])] = &[
    (
        "Redis",
        &["redis-server", "valkey-server", "keydb-server"],
        &[6379],
    ),
    ("Memcached", &["memcached"], &[11211]),
    ("PostgreSQL", &["postgres", "postmaster"], &[5432]),
    ("MySQL/MariaDB", &["mysqld", "mariadbd"], &[3306]),
    ("MongoDB", &["mongod", "mongos"], &[27017, 27018, 27019]),
    ("Elasticsearch", &["elasticsearch"], &[9200, 9300]),
    ("etcd", &["etcd"], &[2379, 2380]),
    ("the Docker API", &["dockerd"], &[2375, 2376]),
    ("the kubelet API", &["kubelet"], &[10250, 10255]),
    ("CouchDB", &["beam.smp", "couchdb"], &[5984]),
    ("Cassandra", &[], &[9042]),
    ("InfluxDB", &["influxd"], &[8086]),
    ("ZooKeeper", &[], &[2181]),
    ("RabbitMQ", &[], &[5672, 15672]),
    ("Consul", &["consul"], &[8500]),
    ("Vault", &["vault"], &[8200]),
];

/// Protocols that send logins in clear text: (what, ports, programs).
const PLAINTEXT: &[(&str, &[u16], &[&str])] = &[
    (
        "FTP",
        &[21],
        &["vsftpd", "proftpd", "pure-ftpd", "in.ftpd", "ftpd"],
    ),
    ("Telnet", &[23], &["telnetd", "in.telnetd"]),
    ("POP3 on its cleartext port", &[110], &[]),
    ("IMAP on its cleartext port", &[143], &[]),
    ("rexec", &[512], &["in.rexecd", "rexecd"]),
    ("rlogin", &[513], &["in.rlogind", "rlogind"]),
    ("rsh", &[514], &["in.rshd", "rshd"]),
];

/// What this host's firewall lets in, as a clause after "reachable from
/// other hosts" (the bind's reach): the two answers differ, and a person
/// needs both.
fn firewall_clause(f: &Reachability) -> String {
    match f.answer {
        Answer::Open => " (this host's firewall lets every source in)".into(),
        Answer::OpenFrom => format!(" (this host's firewall: {})", f.summary),
        Answer::Blocked => format!(
            " by its bind, though this host's firewall blocks every source now ({}): one rule change exposes it",
            f.summary
        ),
        // The summary says "undecided ..." itself.
        Answer::Undecided => format!(" (this host's firewall: {})", f.summary),
        Answer::LocalOnly => String::new(),
    }
}

/// Every warning for one listener.
pub fn warnings(
    l: &Listener,
    exposure: &Exposure,
    origin: &Origin,
    ephemeral: Option<(u16, u16)>,
    firewall: Option<&Reachability>,
) -> Vec<Warning> {
    // Rules that were not read (not root) say nothing of what they let in.
    let lets_in = firewall
        .filter(|f| f.evaluated())
        .map(firewall_clause)
        .unwrap_or_default();
    let mut out = Vec::new();
    let owned_by = |names: &[&str]| {
        l.owners
            .iter()
            .any(|o| names.iter().any(|n| o.process.name == n.as_bytes()))
    };
    let beyond = exposure.beyond_loopback();

    if let OwnerStatus::Hidden(reason) = l.owner_status {
        let why = match reason {
            HiddenReason::NotRoot => {
                "whyport is not running as root, so other users' processes cannot be inspected; run it with sudo"
            }
            HiddenReason::Hidepid => {
                "/proc is mounted with hidepid, so other users' processes are invisible; run whyport with sudo"
            }
            HiddenReason::FdUnreadable => {
                "some processes refuse access to their open files even to root (a sandbox or security module)"
            }
            HiddenReason::PidNamespace => {
                "whyport runs in a PID namespace of its own (a container), so processes outside it are invisible; run it on the host"
            }
        };
        out.push(Warning {
            id: "owner-unknown",
            text: format!("the owner could not be identified: {why}"),
        });
    }
    if beyond {
        // The program says what it is; a port alone only says what it is
        // usually for, and the text says which it was.
        let by_program = DATASTORES
            .iter()
            .find(|(_, programs, _)| owned_by(programs));
        let by_port = DATASTORES
            .iter()
            .find(|(_, _, ports)| ports.contains(&l.port));
        let advice =
            "datastores and admin APIs belong on loopback or a private address behind a firewall";
        let text = match (by_program, by_port) {
            (Some((what, _, _)), _) => Some(format!(
                "{what} on {}/{} is reachable from other hosts{lets_in}; {advice}",
                l.port,
                l.protocol.as_str()
            )),
            (None, Some((what, _, _))) => Some(format!(
                "{}/{} is {what}'s port and is reachable from other hosts{lets_in}; if it is {what}, {advice}",
                l.port,
                l.protocol.as_str()
            )),
            (None, None) => None,
        };
        if let Some(text) = text {
            out.push(Warning {
                id: "exposed-datastore",
                text,
            });
        }
        if l.protocol == Protocol::Tcp
            && let Some((what, _, _)) = PLAINTEXT
                .iter()
                .find(|(_, ports, programs)| ports.contains(&l.port) || owned_by(programs))
        {
            out.push(Warning {
                    id: "plaintext-login",
                    text: if matches!(l.port, 110 | 143) {
                        format!("{what} ({}) is reachable from other hosts{lets_in}: logins cross the network in clear text unless every client uses STARTTLS; prefer the TLS port ({})", l.port, if l.port == 110 { 995 } else { 993 })
                    } else {
                        format!("{what} on port {} is reachable from other hosts{lets_in} and sends passwords in clear text", l.port)
                    },
                });
        }
    }
    for o in &l.owners {
        if o.process.exe_is_deleted() {
            let exe = o
                .process
                .exe
                .as_ref()
                .map(|e| escape(e.as_os_str().as_encoded_bytes()))
                .unwrap_or_default();
            out.push(Warning {
                id: "deleted-executable",
                text: format!(
                    "{} (pid {}) runs {exe}: the executable was deleted or replaced since it started (an update was installed but the service was not restarted)",
                    escape(&o.process.name),
                    o.process.pid
                ),
            });
        }
    }
    let all_root = !l.owners.is_empty() && l.owners.iter().all(|o| o.process.uid == Some(0));
    let root_needed = origin.kind.listens_for_others();
    if beyond && all_root && l.port >= 1024 && !root_needed {
        out.push(Warning {
            id: "root-unneeded",
            text: format!(
                "runs as root on port {}, which any user may bind (ports from 1024 up need no privilege); run it as an unprivileged user",
                l.port
            ),
        });
    }
    // A kernel socket (WireGuard, VXLAN on an odd port) is a service.
    if l.protocol == Protocol::Udp
        && l.service.is_none()
        && l.owner_status != OwnerStatus::Kernel
        && let Some((lo, hi)) = ephemeral.filter(|(lo, hi)| (*lo..=*hi).contains(&l.port))
    {
        out.push(Warning {
                id: "udp-ephemeral-client",
                text: format!(
                    "an unconnected UDP socket on a port from the kernel's ephemeral range ({lo}-{hi}) is almost always a client (a DNS resolver, NTP, QUIC) waiting for replies, not a service"
                ),
            });
    }
    out
}
