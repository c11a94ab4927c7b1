//! The explanation fields of `whyport TARGET --json`, added to each listener
//! of the listing document (docs/json.md). The listing fields stay as they
//! are; these appear only when targets are explained.

use serde::Serialize;

use crate::explain::exposure::Exposure;
use crate::explain::origin::Runtime;
use crate::explain::why::{Explanation, OriginKind};
use crate::report::ConnectionUse;

#[derive(Debug, Serialize)]
pub struct WhyJson {
    pub exposure: ExposureJson,
    /// Owners grouped: a leader and the workers it forked.
    pub groups: Vec<GroupJson>,
    /// From PID 1 down to the leader of the first group.
    pub ancestors: Vec<AncestorJson>,
    pub origin: OriginJson,
    pub service_note: Option<String>,
    pub warnings: Vec<WarningJson>,
    pub stop: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExposureJson {
    /// loopback, all, address, interface, link-local
    pub kind: &'static str,
    pub beyond_loopback: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    /// The host's addresses that reach the socket, for `all`.
    pub addresses: Vec<String>,
    pub interface: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GroupJson {
    pub leader: u32,
    pub workers: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub struct AncestorJson {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: String,
    pub cmdline: Vec<String>,
    pub user: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OriginJson {
    pub kind: &'static str,
    pub summary: String,
    pub unit: Option<String>,
    /// The uid of the user manager, for a systemd user unit.
    pub unit_user: Option<u32>,
    pub container: Option<ContainerJson>,
    pub launcher: Option<LauncherJson>,
    pub socket_unit: Option<String>,
    pub service_unit: Option<String>,
    pub inetd_line: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ContainerJson {
    pub runtime: &'static str,
    pub id: String,
    pub name: Option<String>,
    pub pod: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LauncherJson {
    pub kind: String,
    pub pid: u32,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct WarningJson {
    pub id: &'static str,
    pub text: String,
}

/// A target that matched no listening socket.
#[derive(Debug, Serialize)]
pub struct UnansweredJson {
    pub target: String,
    pub connections: Vec<ConnectionJson>,
    /// For `--pid`: what the process is (absent for other targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessStateJson>,
    /// Listeners on its ports in other network namespaces (listed by
    /// `-A`): protocol, address, port and the namespace's label.
    pub elsewhere: Vec<ElsewhereJson>,
}

#[derive(Debug, Serialize)]
pub struct ElsewhereJson {
    pub protocol: &'static str,
    pub address: String,
    pub port: u16,
    pub netns: u64,
}

/// What a `--pid` that holds no listener is.
#[derive(Debug, Serialize)]
pub struct ProcessStateJson {
    /// `missing`, `zombie`, `unreadable`, `no-listener`,
    /// `other-namespace` or `unknown`.
    pub state: &'static str,
    /// Why its open files could not be read (`unreadable` only).
    pub reason: Option<String>,
    /// The inode of its network namespace (`other-namespace` only).
    pub netns: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionJson {
    pub protocol: &'static str,
    pub local: String,
    pub remote: String,
    pub state: u8,
    pub pids: Vec<u32>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn why(e: &Explanation<'_>) -> WhyJson {
    let (kind, ipv4, ipv6, addresses, interface) = match &e.exposure {
        Exposure::Loopback => ("loopback", false, false, vec![], None),
        Exposure::All {
            ipv4,
            ipv6,
            addresses,
            ..
        } => (
            "all",
            *ipv4,
            *ipv6,
            addresses.iter().map(|(_, a)| a.to_string()).collect(),
            None,
        ),
        Exposure::Address { interface } => ("address", false, false, vec![], interface.clone()),
        Exposure::Interface { name } => ("interface", false, false, vec![], Some(name.clone())),
        Exposure::LinkLocal { interface } => ("link-local", false, true, vec![], interface.clone()),
    };
    let o = &e.origin;
    WhyJson {
        exposure: ExposureJson {
            kind,
            beyond_loopback: e.exposure.beyond_loopback(),
            ipv4,
            ipv6,
            addresses,
            interface,
        },
        groups: e
            .groups
            .iter()
            .map(|g| GroupJson {
                leader: g.leader.pid,
                workers: g.workers.iter().map(|w| w.pid).collect(),
            })
            .collect(),
        ancestors: e
            .ancestry
            .iter()
            .map(|p| AncestorJson {
                pid: p.pid,
                ppid: p.ppid,
                name: lossy(&p.name),
                cmdline: p.cmdline.iter().map(|a| lossy(a)).collect(),
                user: p.user.clone(),
            })
            .collect(),
        origin: OriginJson {
            kind: o.kind.id(),
            summary: o.summary.clone(),
            unit: o.unit.as_ref().map(|u| u.name.clone()),
            unit_user: o.unit.as_ref().and_then(|u| u.user),
            container: o.container.as_ref().map(|c| ContainerJson {
                runtime: match c.runtime {
                    Runtime::Docker => "docker",
                    Runtime::Containerd => "containerd",
                    Runtime::Kubernetes => "kubernetes",
                    Runtime::Podman => "podman",
                    Runtime::Lxc => "lxc",
                    Runtime::Nspawn => "nspawn",
                },
                id: c.id.clone(),
                name: o.container_name.clone(),
                pod: c.pod.clone(),
            }),
            launcher: o.launcher.as_ref().map(|l| LauncherJson {
                kind: format!("{:?}", l.kind).to_ascii_lowercase(),
                pid: l.pid,
                name: l.name.clone(),
            }),
            socket_unit: o.kind.activation().and_then(|a| a.0.clone()),
            service_unit: o.kind.activation().and_then(|a| a.1.clone()),
            inetd_line: match &o.kind {
                OriginKind::Inetd { line } => line.clone(),
                _ => None,
            },
        },
        service_note: e.mismatch.clone(),
        warnings: e
            .warnings
            .iter()
            .map(|w| WarningJson {
                id: w.id,
                text: w.text.clone(),
            })
            .collect(),
        stop: e.stop.clone(),
    }
}

pub fn unanswered(u: &crate::report::Unanswered) -> UnansweredJson {
    let process = u.process.as_ref().map(|s| ProcessStateJson {
        state: s.id(),
        reason: match s {
            crate::model::PidState::Unreadable(why) => Some(why.clone()),
            _ => None,
        },
        netns: match s {
            crate::model::PidState::OtherNamespace(inode) => Some(*inode),
            _ => None,
        },
    });
    let target = u.target.spec();
    let connections = u
        .connections
        .iter()
        .map(|c: &ConnectionUse| ConnectionJson {
            protocol: c.connection.protocol.as_str(),
            local: c.connection.local.to_string(),
            remote: c.connection.remote.to_string(),
            state: c.connection.state,
            pids: c.owners.iter().map(|o| o.process.pid).collect(),
        })
        .collect();
    UnansweredJson {
        target,
        connections,
        process,
        elsewhere: u
            .elsewhere
            .iter()
            .map(|l| ElsewhereJson {
                protocol: l.protocol.as_str(),
                address: l.address_text(),
                port: l.port,
                netns: l.netns,
            })
            .collect(),
    }
}
