//! What whyport concluded: listeners with their owners and services, ready
//! for any renderer. Built by `explain`, read by `render`.

pub mod firewall;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::model::{Connection, HiddenReason, Host, NatRule, PidState, Process, Protocol, Runtime};
use crate::query::Target;
use crate::services::ServiceRecord;

/// Everything a renderer needs.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sorted by port, protocol, address.
    pub listeners: Vec<Listener>,
    pub hidden: HiddenSummary,
    pub notes: Vec<String>,
    /// Every process read, owners and (for explanations) their ancestors.
    pub processes: BTreeMap<u32, Arc<Process>>,
    /// The targets asked about that no listener or forward answers.
    pub unanswered: Vec<Unanswered>,
    /// How each process target was answered by name.
    pub names: Vec<NameAnswer>,
    /// Who can reach each listed socket (and each that receives a
    /// forward), by inode: worked out once, from its own namespace's
    /// addresses.
    pub exposures: BTreeMap<u64, Exposure>,
    /// What this host's packet filter lets in to each listed socket (and
    /// each that receives a forward), by inode, when it was worked out.
    /// Shared: most sockets' answers are the same answer.
    pub firewalls: BTreeMap<u64, Arc<firewall::Reachability>>,
    /// Host facts for explanations.
    pub host: Host,
    /// For the table and watch: each listed socket's compact origin and
    /// warning ids, by inode (empty when not worked out).
    pub origins: BTreeMap<u64, Compact>,
    /// The network namespaces read (with `-A`, or to follow DNAT rules).
    pub namespaces: Vec<NsView>,
    /// Sockets that are not listed but receive forwarded traffic: of other
    /// namespaces, or of this one outside what was asked.
    pub ns_listeners: Vec<Listener>,
    /// Ports forwarded by DNAT or redirect rules.
    pub forwards: Vec<Forward>,
    /// (listeners, namespaces) elsewhere, not listed (for the footer).
    pub other_listeners: Option<(usize, usize)>,
    /// Inode of whyport's own network namespace (0: not read).
    pub own_netns: u64,
    /// Whether every namespace is listed (`-A`).
    pub all_namespaces: bool,
}

impl Report {
    /// The socket with this inode, listed or not (a forward's receiver).
    pub fn listener(&self, inode: u64) -> Option<&Listener> {
        self.listeners
            .iter()
            .chain(&self.ns_listeners)
            .find(|l| l.inode == inode)
    }

    /// The addresses of the network namespace with this inode (0:
    /// whyport's own), or `None` when they were not read.
    pub fn addresses_of(&self, netns: u64) -> Option<&[(String, IpAddr)]> {
        if netns == 0 || netns == self.own_netns {
            return self.host.addresses.as_deref();
        }
        self.namespace(netns).map(|n| n.addresses.as_slice())
    }

    /// `exposed` or `loopback` for the socket with this inode (the JSON,
    /// CSV and NDJSON `exposure`), when it was worked out.
    pub fn exposure_id(&self, inode: u64) -> Option<&'static str> {
        self.exposures.get(&inode).map(|e| {
            if e.beyond_loopback() {
                "exposed"
            } else {
                "loopback"
            }
        })
    }

    /// The namespace with this inode.
    pub fn namespace(&self, inode: u64) -> Option<&NsView> {
        self.namespaces.iter().find(|n| n.inode == inode)
    }
}

impl Listener {
    /// How an address is written: no brackets, `%interface` when bound to one.
    pub fn address_text(&self) -> String {
        match &self.interface {
            Some(i) => format!("{}%{i}", self.address),
            None => self.address.to_string(),
        }
    }

    /// How an address is shown to people, escaped: `*` for a dual-stack socket
    /// (as `ss` writes it), with `%interface` when bound to one; IPv6 in
    /// brackets when a port follows.
    pub fn address_shown(&self, before_port: bool) -> String {
        let text = match (self.dual_stack, &self.interface) {
            (true, Some(i)) => format!("*%{i}"),
            (true, None) => "*".into(),
            (false, _) if before_port && self.address.is_ipv6() => {
                format!("[{}]", self.address_text())
            }
            (false, _) => self.address_text(),
        };
        crate::sanitize::escape_str(&text)
    }
}

/// The version of the JSON document (`--json`, snapshots) that renders
/// this report, and that baselines are read in; raised only for an
/// incompatible change (docs/json.md).
pub const JSON_VERSION: u32 = 2;

/// The compact form of a listener's origin and its warning ids, for one
/// line of a table. Boxed, not growable: one is kept for every listener
/// (at 100,000 listeners the 16 bytes saved on each are what keeps the
/// table within 64 MiB).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compact {
    pub origin: Box<str>,
    pub warnings: Box<[&'static str]>,
    /// The firewall's answer, for the address column's mark.
    pub firewall: Option<firewall::Answer>,
}

/// A target nothing listens on or forwards.
#[derive(Debug, Clone)]
pub struct Unanswered {
    pub target: Target,
    /// Non-listening sockets on its ports (outgoing or established), with
    /// their owners.
    pub connections: Vec<ConnectionUse>,
    /// For `--pid`: what the process is.
    pub process: Option<PidState>,
    /// Listeners on its ports in other network namespaces (a container's),
    /// which `-A` would list.
    pub elsewhere: Vec<Listener>,
}

/// How a process target was answered by name, for the one-line note that
/// says so (`whyport nginx`, `--process redis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAnswer {
    pub target: Target,
    /// `None`: no owner answered (with `-q`, none by its exact name).
    pub how: Option<crate::query::NameMatch>,
    /// The kernel names of the owners taken; with `-q` and no exact
    /// match, those a prefix would have taken.
    pub names: Vec<Vec<u8>>,
}

/// A non-listening socket and who holds it.
#[derive(Debug, Clone)]
pub struct ConnectionUse {
    pub connection: Connection,
    pub owners: Vec<Owner>,
}

/// One listening socket.
#[derive(Debug, Clone)]
pub struct Listener {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    pub interface: Option<String>,
    /// An IPv6 wildcard socket with IPV6_V6ONLY off: it accepts IPv4 too.
    pub dual_stack: bool,
    pub inode: u64,
    /// Uid that created the socket.
    pub socket_uid: u32,
    /// Inode of its network namespace (0: whyport's own, not read).
    pub netns: u64,
    pub service: Option<&'static ServiceRecord>,
    /// Every process holding the socket, by pid.
    pub owners: Vec<Owner>,
    pub owner_status: OwnerStatus,
}

/// A process holding a listening socket, and the descriptors it holds it by.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Shared: one process often holds many sockets.
    pub process: Arc<Process>,
    pub fds: Vec<u32>,
}

/// How complete `owners` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerStatus {
    /// Every process was inspected; these are all the owners.
    Visible,
    /// Owners were found, but some processes could not be inspected.
    Partial(HiddenReason),
    /// No owner found, and some processes could not be inspected.
    Hidden(HiddenReason),
    /// No process holds it although every process was inspected: a socket
    /// the kernel itself owns (NFS, VXLAN, WireGuard, ...).
    Kernel,
}

/// Counts for the one-line notice about what could not be seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiddenSummary {
    pub reason: Option<HiddenReason>,
    /// Sockets with no visible owner.
    pub hidden: usize,
    /// Sockets whose visible owners may be incomplete.
    pub partial: usize,
    /// Processes whose descriptors could not be read.
    pub unreadable_pids: Vec<u32>,
}

/// One forwarded port range of one rule.
#[derive(Debug, Clone)]
pub struct Forward {
    pub rule: NatRule,
    pub destination: Destination,
    /// The address and port range traffic goes to (`None`: unchanged).
    pub to_address: Option<IpAddr>,
    pub to_ports: Option<(u16, u16)>,
    /// The sockets that receive it, by inode: listed ones, or others
    /// (`Report::listener` finds either).
    pub receivers: Vec<u64>,
    /// What this host's packet filter lets in, when it was worked out.
    pub firewall: Option<firewall::Reachability>,
}

/// Where a forward leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// This host's own namespace (a redirect, or DNAT to one of its own
    /// addresses).
    ThisHost,
    /// Another network namespace of this host, by inode.
    Namespace(u64),
    /// An address no namespace of this host has: another machine.
    OtherHost,
    /// The rule could not be decoded far enough to tell.
    Unknown,
}

/// A namespace as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsView {
    pub inode: u64,
    /// `host`, `netns`, `container`, `pod`, `docker-sandbox`, `other`.
    pub kind: &'static str,
    /// Short, for a table column: `host`, `netns:blue`, `docker:web`,
    /// `pod:3f2a1b4c`, `net:[4026532310]`. Escaped.
    pub label: String,
    /// One phrase for people. Escaped.
    pub summary: String,
    /// Container runtime, id and name, when it is a container's.
    pub container: Option<(Runtime, String, Option<String>)>,
    /// whyport's own namespace.
    pub own: bool,
    /// (interface, address) configured in it.
    pub addresses: Vec<(String, std::net::IpAddr)>,
}

/// The reach of one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// 127.0.0.0/8 or ::1: only this host.
    Loopback,
    /// A wildcard bind: every address of its network namespace of the
    /// families it accepts, listed (interface, address), loopback
    /// excluded. `known` is false when the namespace's addresses could not
    /// be read: then it is taken as reachable from beyond.
    All {
        ipv4: bool,
        ipv6: bool,
        addresses: Vec<(String, IpAddr)>,
        known: bool,
    },
    /// Bound to one non-loopback address (and the interface holding it).
    Address { interface: Option<String> },
    /// Bound to a device: reachable only through that interface.
    Interface { name: String },
    /// fe80::/10: reachable only from the same network segment.
    LinkLocal { interface: Option<String> },
}

impl Exposure {
    /// Whether anything beyond its namespace's loopback can reach the
    /// socket: a wildcard bind in a namespace with no other address (a
    /// container with only `lo`) cannot, while that stays so.
    pub fn beyond_loopback(&self) -> bool {
        match self {
            Exposure::Loopback => false,
            Exposure::All {
                addresses, known, ..
            } => !known || !addresses.is_empty(),
            _ => true,
        }
    }
}
