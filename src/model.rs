//! What the collectors read from the system: sockets, processes and how much
//! of the system could be seen. Plain data, no platform types.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// Transport protocol of a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A TCP socket in LISTEN or an unconnected, bound UDP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    /// IPV6_V6ONLY for IPv6 sockets; `None` for IPv4 sockets and when the
    /// kernel interface used does not report it.
    pub v6only: Option<bool>,
    /// Interface the socket is bound to (SO_BINDTODEVICE or a scope id).
    pub interface: Option<String>,
    /// Socket inode: the key that joins sockets to file descriptors.
    pub inode: u64,
    /// Uid that created the socket.
    pub uid: u32,
    /// Inode of the network namespace it lives in; 0 when only whyport's
    /// own namespace was read (the default) or the tree is recorded.
    pub netns: u64,
}

/// A network namespace of the host: where it is visible (member processes,
/// bind mounts such as /run/netns/NAME) and its addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetNamespace {
    /// The namespace's inode (`net:[INODE]`).
    pub inode: u64,
    /// whyport runs in it.
    pub own: bool,
    /// PID 1's: the host's.
    pub init: bool,
    /// Paths it is bind-mounted on (`/run/netns/NAME`,
    /// `/run/docker/netns/ID`).
    pub mounts: Vec<String>,
    /// Processes in it, by pid (all of them).
    pub pids: Vec<u32>,
    /// The cgroup text and name of its first member process, which say
    /// which container or pod it belongs to.
    pub member_cgroup: Option<String>,
    pub member_name: Option<Vec<u8>>,
    /// (interface, address) of every address configured in it.
    pub addresses: Vec<(String, IpAddr)>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// A NAT rule that makes a port reachable without a socket on it: a DNAT
/// or redirect in the host's nf_tables (or iptables-legacy) ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatRule {
    /// `ip`, `ip6`, `inet` (nf_tables families) or `iptables-legacy`.
    pub family: String,
    pub table: String,
    pub chain: String,
    /// nf_tables rule handle (for `nft delete rule ... handle N`); the
    /// rule's position for iptables-legacy.
    pub handle: u64,
    pub comment: Option<String>,
    /// Conditions: transport protocol, destination ports, destination
    /// address, input interface (negated when `!`).
    pub protocol: Option<Protocol>,
    /// Destination port ranges matched; empty: any port.
    pub ports: Vec<(u16, u16)>,
    pub daddr: Option<IpAddr>,
    pub iif: Option<(bool, String)>,
    /// The translation.
    pub action: NatAction,
    /// Conditions whyport could not decode (the rule may match less than
    /// the fields above say), or why the rule could not be decoded at all.
    pub undecoded: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
// Only the Linux backend reads NAT rules.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub enum NatAction {
    /// DNAT to this address (and port range, if the rule changes it).
    Dnat {
        address: Option<IpAddr>,
        ports: Option<(u16, u16)>,
    },
    /// Redirect to a port of the host itself.
    Redirect { ports: Option<(u16, u16)> },
    /// Not a DNAT or redirect whyport could read.
    #[default]
    Unknown,
}

/// A file descriptor that refers to one of the sockets of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocketFd {
    pub pid: u32,
    /// The descriptor number; `None` where the backend cannot see it (the
    /// portable one: netstat2 reports owning PIDs only).
    pub fd: Option<u32>,
    pub inode: u64,
}

/// Details of one process that holds a listening socket. Text fields are raw
/// bytes: they belong to whoever started the process and need not be UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: Vec<u8>,
    pub exe: Option<PathBuf>,
    pub cmdline: Vec<Vec<u8>>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// Start time in seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Working directory (read for explanations only).
    pub cwd: Option<PathBuf>,
    /// The text of /proc/<pid>/cgroup (read for explanations only).
    pub cgroup: Option<String>,
}

impl Process {
    /// The executable's path as raw bytes, without the ` (deleted)` the kernel
    /// adds once it was deleted or replaced (policies match it by path; the
    /// deletion is a warning of its own).
    pub fn exe_bytes(&self) -> Option<&[u8]> {
        let exe = self.exe.as_ref()?.as_os_str().as_encoded_bytes();
        Some(exe.strip_suffix(b" (deleted)").unwrap_or(exe))
    }
}

/// A socket that is not listening: a TCP connection in any state but
/// LISTEN, or a connected UDP socket. Read only to explain a port that is
/// busy without being open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub protocol: Protocol,
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    /// Kernel TCP state number (1 ESTABLISHED ... 11 CLOSING).
    pub state: u8,
    pub inode: u64,
}

/// Facts about the host that explanations need: its addresses (what a
/// wildcard bind exposes), the inetd configuration, systemd socket units,
/// and the range the kernel picks ephemeral ports from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// (interface, address) for every configured address.
    pub addresses: Vec<(String, IpAddr)>,
    /// The configuration of the inetd (its file, else /etc/inetd.conf) or
    /// xinetd (/etc/xinetd.conf and /etc/xinetd.d) that owns a socket.
    pub inetd_conf: Option<String>,
    /// (unit file name, its text) of systemd .socket units, when an owner
    /// is PID 1 (socket activation).
    pub socket_units: Vec<(String, String)>,
    /// net.ipv4.ip_local_port_range.
    pub ephemeral_ports: Option<(u16, u16)>,
    /// Container id -> name, from the runtimes' state on disk (Docker's
    /// config.v2.json files), when an owner runs in a container.
    pub container_names: Vec<(String, String)>,
}

/// Why owners of some sockets could not be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HiddenReason {
    /// Not running as root: other users' file descriptors are unreadable.
    NotRoot,
    /// /proc is mounted with hidepid: other users' processes are invisible.
    Hidepid,
    /// Running as root, yet some processes' descriptors are unreadable
    /// (missing capabilities, a security module).
    FdUnreadable,
    /// whyport runs in a PID namespace of its own (a container): processes
    /// outside it are invisible, and may hold sockets of this network.
    PidNamespace,
}

/// How much of the process table the owner scan could see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Processes whose descriptors could not be read.
    pub unreadable_pids: Vec<u32>,
    /// /proc hides other users' processes from us.
    pub hidepid: bool,
    /// The effective uid is 0.
    pub root: bool,
    /// whyport's PID namespace is not the host's initial one.
    pub pid_namespace: bool,
}

impl Visibility {
    /// Why the scan was incomplete, or `None` when every process was read.
    pub fn hidden_reason(&self) -> Option<HiddenReason> {
        if self.hidepid && !self.root {
            Some(HiddenReason::Hidepid)
        } else if self.pid_namespace {
            Some(HiddenReason::PidNamespace)
        } else if self.unreadable_pids.is_empty() {
            None
        } else if self.root {
            Some(HiddenReason::FdUnreadable)
        } else {
            Some(HiddenReason::NotRoot)
        }
    }
}

/// Everything one run read from the system.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub sockets: Vec<Socket>,
    pub socket_fds: Vec<SocketFd>,
    pub processes: BTreeMap<u32, Process>,
    pub visibility: Visibility,
    /// Warnings about the collection itself (a fallback was used, ...).
    pub notes: Vec<String>,
    /// Non-listening sockets on the requested ports (explanations only).
    pub connections: Vec<Connection>,
    /// Host facts (explanations only).
    pub host: Host,
    /// How long each collection phase took, for `--timings`.
    pub timings: Vec<(&'static str, std::time::Duration)>,
    /// Every network namespace read (`--all-namespaces`, or to follow a
    /// DNAT rule); empty when only whyport's own was.
    pub namespaces: Vec<NetNamespace>,
    /// Listeners in network namespaces other than whyport's own, when they
    /// were counted but not listed (for the footer).
    pub other_listeners: Option<(usize, usize)>,
    /// DNAT and redirect rules of whyport's network namespace.
    pub nat_rules: Vec<NatRule>,
    /// Listening sockets of the other namespaces when they are not listed
    /// (they may be where a DNAT rule leads).
    pub ns_sockets: Vec<Socket>,
    /// Why the BPF walk could not be used, when it was tried (for
    /// `--timings`; the /proc scan then found the owners).
    pub walk_error: Option<String>,
}
