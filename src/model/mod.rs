//! What the collectors read from the system: sockets, processes and how much
//! of the system could be seen. Plain data, no platform types.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

pub mod firewall;

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

/// Container runtimes whyport recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Docker,
    Containerd,
    Kubernetes,
    Podman,
    Lxc,
    Nspawn,
}

impl Runtime {
    /// Its name, as its own documentation writes it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "Docker",
            Runtime::Containerd => "containerd",
            Runtime::Kubernetes => "Kubernetes",
            Runtime::Podman => "Podman",
            Runtime::Lxc => "LXC",
            Runtime::Nspawn => "systemd-nspawn",
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

impl Socket {
    /// An IPv6 socket accepts IPv4 only when bound to the wildcard with
    /// IPV6_V6ONLY off; a specific IPv6 address never matches IPv4 traffic.
    pub fn is_dual_stack(&self) -> bool {
        matches!(self.address, IpAddr::V6(a) if a.is_unspecified()) && self.v6only == Some(false)
    }
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
    /// The init of a PID namespace among its members (a container's first
    /// process, a booted container's systemd), and who started it: what
    /// names a container where no cgroup does.
    pub ns_init: Option<NsInit>,
    /// (interface, address) of every address configured in it.
    pub addresses: Vec<(String, IpAddr)>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
    /// Its packet filter, when namespaces were listed (-A) or followed
    /// (a DNAT rule may lead into them) and it could be entered. `None`:
    /// not read, and always for whyport's own (that one is
    /// `Snapshot::firewall`, read once).
    pub firewall: Option<firewall::Ruleset>,
}

/// The init of a container's PID namespace, and its parent (the runtime's
/// launcher: systemd-nspawn, lxc-start, conmon, containerd-shim, unshare).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsInit {
    pub pid: u32,
    pub name: Vec<u8>,
    pub cgroup: Option<String>,
    pub launcher: Option<Process>,
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
    /// The destination ports it catches.
    pub ports: PortSet,
    pub daddr: Option<IpAddr>,
    pub iif: Option<(bool, String)>,
    /// The translation.
    pub action: NatAction,
    /// Conditions whyport could not decode (the rule may match less than
    /// the fields above say), or why the rule could not be decoded at all.
    pub undecoded: Vec<String>,
    /// The hook of the base chain the rule was reached from: `Prerouting`
    /// rewrites traffic arriving from outside, `Output` only this host's
    /// own connections.
    pub hook: NatHook,
    /// The chains walked from that base chain to the rule's own (base
    /// chain first, `chain` last); the conditions above are those of every
    /// rule on the way.
    pub path: Vec<String>,
    /// Only traffic to an address of this host (`-m addrtype --dst-type
    /// LOCAL`, `fib daddr type local`).
    pub local_only: bool,
    /// One endpoint of a random split (`-m statistic --mode random`,
    /// `numgen random`): the chain that splits. The rules reached through
    /// the same split (same hook, path to it and conditions) are the
    /// destinations of one forward.
    pub split: Option<String>,
    /// The Kubernetes service (`namespace/name:port`) the nearest rule
    /// comment on the path names, as kube-proxy writes them.
    pub service: Option<String>,
}

/// The netfilter hook a NAT base chain is attached to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
// Only the Linux backend reads NAT rules.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub enum NatHook {
    /// Traffic arriving on an interface (NF_INET_PRE_ROUTING).
    #[default]
    Prerouting,
    /// Connections made by this host itself (NF_INET_LOCAL_OUT).
    Output,
    /// Another hook, by number (input 1, forward 2, postrouting 4).
    Other(u32),
}

impl NatHook {
    /// The kernel's hook number (NF_INET_*).
    pub fn from_number(n: u32) -> NatHook {
        match n {
            0 => NatHook::Prerouting,
            3 => NatHook::Output,
            n => NatHook::Other(n),
        }
    }

    /// `prerouting`, `output`, `input`, `forward`, `postrouting`.
    pub fn as_str(self) -> &'static str {
        match self {
            NatHook::Prerouting => "prerouting",
            NatHook::Output => "output",
            NatHook::Other(1) => "input",
            NatHook::Other(2) => "forward",
            NatHook::Other(4) => "postrouting",
            NatHook::Other(_) => "unknown",
        }
    }
}

/// The destination ports a NAT rule catches. "Every port" and "could not
/// be decoded" are different answers: the first opens every port, the
/// second says nothing of which.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PortSet {
    /// Every port: the rule has no port condition.
    #[default]
    Every,
    /// These inclusive ranges (a port, a range, a set), sorted and merged.
    Only(Vec<(u16, u16)>),
    /// Every port but these (`tcp dport != 22`), sorted and merged.
    Except(Vec<(u16, u16)>),
    /// A port condition whyport could not decode (a map, a set it could
    /// not read): which ports it catches is unknown.
    Undecoded,
}

impl PortSet {
    /// `Only` these ranges, sorted and merged.
    pub fn only(ranges: impl IntoIterator<Item = (u16, u16)>) -> PortSet {
        PortSet::Only(merged(ranges))
    }

    /// `Except` these ranges, sorted and merged.
    pub fn except(ranges: impl IntoIterator<Item = (u16, u16)>) -> PortSet {
        PortSet::Except(merged(ranges))
    }

    /// The ranges it catches, ports 1 to 65535; `None` when unknown.
    pub fn ranges(&self) -> Option<Vec<(u16, u16)>> {
        match self {
            PortSet::Every => Some(vec![(1, u16::MAX)]),
            PortSet::Only(r) => Some(r.clone()),
            PortSet::Except(r) => {
                let mut out = Vec::new();
                let mut next: u32 = 1;
                for &(lo, hi) in r {
                    if u32::from(lo) > next {
                        out.push((next as u16, lo - 1));
                    }
                    next = next.max(u32::from(hi) + 1);
                }
                if next <= u32::from(u16::MAX) {
                    out.push((next as u16, u16::MAX));
                }
                Some(out)
            }
            PortSet::Undecoded => None,
        }
    }

    /// Whether it catches `port`; `None` when unknown.
    pub fn contains(&self, port: u16) -> Option<bool> {
        let inside = |r: &[(u16, u16)]| r.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port));
        match self {
            PortSet::Every => Some(true),
            PortSet::Only(r) => Some(inside(r)),
            PortSet::Except(r) => Some(!inside(r)),
            PortSet::Undecoded => None,
        }
    }

    /// The ports both catch (a rule's port condition met after another's
    /// on the way to it); undecoded when either is.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        match (self, other) {
            (PortSet::Undecoded, _) | (_, PortSet::Undecoded) => PortSet::Undecoded,
            (PortSet::Every, x) | (x, PortSet::Every) => x.clone(),
            (PortSet::Except(a), PortSet::Except(b)) => PortSet::except(a.iter().chain(b).copied()),
            (a, b) => {
                let (a, b) = (
                    a.ranges().unwrap_or_default(),
                    b.ranges().unwrap_or_default(),
                );
                let mut out = Vec::new();
                for (alo, ahi) in &a {
                    for (blo, bhi) in &b {
                        let (lo, hi) = (*alo.max(blo), *ahi.min(bhi));
                        if lo <= hi {
                            out.push((lo, hi));
                        }
                    }
                }
                PortSet::only(out)
            }
        }
    }

    /// Whether it catches any port of `asked`; `None` when unknown.
    pub fn overlaps(&self, asked: &[(u16, u16)]) -> Option<bool> {
        let ranges = self.ranges()?;
        Some(
            asked
                .iter()
                .any(|(alo, ahi)| ranges.iter().any(|(lo, hi)| alo <= hi && lo <= ahi)),
        )
    }
}

/// `8080`, `8092,8093`, `8000-8010`, `*` (every port), `all but 22`, `?`
/// (its port condition could not be decoded), `none`.
impl std::fmt::Display for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, r: &[(u16, u16)]| {
            for (i, (lo, hi)) in r.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                if lo == hi {
                    write!(f, "{sep}{lo}")?;
                } else {
                    write!(f, "{sep}{lo}-{hi}")?;
                }
            }
            Ok(())
        };
        match self {
            PortSet::Every => f.write_str("*"),
            PortSet::Only(r) if r.is_empty() => f.write_str("none"),
            PortSet::Only(r) => list(f, r),
            PortSet::Except(r) => {
                f.write_str("all but ")?;
                list(f, r)
            }
            PortSet::Undecoded => f.write_str("?"),
        }
    }
}

/// Ranges sorted, overlapping and adjacent ones joined.
pub(crate) fn merged(ranges: impl IntoIterator<Item = (u16, u16)>) -> Vec<(u16, u16)> {
    let mut r: Vec<(u16, u16)> = ranges
        .into_iter()
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
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
    /// The executable's path, as the kernel's link text has it: a
    /// deleted one ends in ` (deleted)`.
    pub exe: Option<PathBuf>,
    /// Whether the executable was deleted or replaced since the process
    /// started, as the kernel says (the Linux backend asks it: the file's
    /// link count is 0); `None` where only the link's text is known (a
    /// recorded tree, the portable backend), and `exe_is_deleted` then
    /// goes by the text.
    pub exe_deleted: Option<bool>,
    pub cmdline: Vec<Vec<u8>>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// Start time in seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Working directory (read for explanations only).
    pub cwd: Option<PathBuf>,
    /// The text of /proc/<pid>/cgroup (read for explanations only).
    pub cgroup: Option<String>,
    /// Its PID in its innermost PID namespace (the last field of `NSpid:`
    /// in /proc/<pid>/status): 1 for the init of a container's PID
    /// namespace; `None` where it was not read.
    pub ns_pid: Option<u32>,
}

impl Process {
    /// Whether it is the init of its PID namespace: PID 1 as whyport sees
    /// it, or PID 1 of a container's namespace (a booted container's
    /// systemd, a container's first process). Everything PID 1 is to the
    /// host (the parent of orphans, the manager of units, a process never
    /// to be killed) it is to the processes of its namespace.
    pub fn is_init(&self) -> bool {
        self.pid == 1 || self.ns_pid == Some(1)
    }

    /// Whether the executable was deleted or replaced since the process
    /// started: the kernel's answer where there is one; else whether the
    /// link's text ends in the ` (deleted)` the kernel appends then (which
    /// a program can also be named).
    pub fn exe_is_deleted(&self) -> bool {
        self.exe_deleted.unwrap_or_else(|| {
            self.exe
                .as_ref()
                .is_some_and(|e| e.as_os_str().as_encoded_bytes().ends_with(DELETED))
        })
    }

    /// The executable's path as raw bytes, without the ` (deleted)` the
    /// kernel adds once it was deleted or replaced (policies match it by
    /// path; the deletion is a warning of its own). A live program named
    /// `x (deleted)` keeps its name.
    pub fn exe_bytes(&self) -> Option<&[u8]> {
        let exe = self.exe.as_ref()?.as_os_str().as_encoded_bytes();
        if self.exe_is_deleted() {
            Some(exe.strip_suffix(b" (deleted)").unwrap_or(exe))
        } else {
            Some(exe)
        }
    }
}

/// What the kernel appends to the path of a deleted executable.
const DELETED: &[u8] = b" (deleted)";

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
    /// (interface, address) for every configured address of whyport's
    /// network namespace; `None` when not read (a recorded tree, the
    /// portable backend): unknown, not "none".
    pub addresses: Option<Vec<(String, IpAddr)>>,
    /// The configuration of the inetd (its file, else /etc/inetd.conf) or
    /// xinetd (/etc/xinetd.conf and /etc/xinetd.d) that owns a socket.
    pub inetd_conf: Option<String>,
    /// (unit file name, its text) of systemd .socket units, when an owner
    /// is the init of a PID namespace (socket activation), by that init's
    /// PID: 1 for the host's own units, a container's init for the units
    /// in that container's root.
    pub socket_units: BTreeMap<u32, Vec<(String, String)>>,
    /// net.ipv4.ip_local_port_range.
    pub ephemeral_ports: Option<(u16, u16)>,
    /// Container id -> name, from the runtimes' state on disk (Docker's
    /// config.v2.json files), when an owner runs in a container.
    pub container_names: Vec<(String, String)>,
    /// (name, leader PID) of every machine systemd-machined registered
    /// (/run/systemd/machines/NAME): `systemctl -M NAME` reaches these.
    pub machines: Vec<(String, u32)>,
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
    /// The packet filter of whyport's network namespace, when it was read
    /// (`None`: not asked for, or a recorded tree).
    pub firewall: Option<firewall::Ruleset>,
    /// Listening sockets of the other namespaces when they are not listed
    /// (they may be where a DNAT rule leads).
    pub ns_sockets: Vec<Socket>,
    /// Why the BPF walk could not be used, when it was tried (for
    /// `--timings`; the /proc scan then found the owners), or why the walk
    /// of descriptor tables gave way to the `task_file` walk.
    pub walk_error: Option<String>,
    /// For each PID `--pid` names: what the process is.
    pub pid_states: Vec<(u32, PidState)>,
}

/// What a process asked about with `--pid` turned out to be, when it
/// holds no listener that could be seen: the four answers differ for the
/// person and for the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidState {
    /// No such process (it exited, or never was).
    Missing,
    /// It exited and its parent has not collected it: it holds nothing.
    Zombie,
    /// Alive, but its descriptors could not be read: why.
    Unreadable(String),
    /// Alive, its descriptors read: it holds no listening socket.
    NoListener,
    /// Alive in another network namespace (by inode) than whyport's: its
    /// sockets there are listed with `-A`.
    OtherNamespace(u64),
    /// The backend cannot tell (the portable one).
    Unknown,
}

impl PidState {
    /// Stable id, for JSON.
    pub fn id(&self) -> &'static str {
        match self {
            PidState::Missing => "missing",
            PidState::Zombie => "zombie",
            PidState::Unreadable(_) => "unreadable",
            PidState::NoListener => "no-listener",
            PidState::OtherNamespace(_) => "other-namespace",
            PidState::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PortSet, Process};

    #[test]
    fn port_sets_say_every_port_apart_from_unknown_ports() {
        assert_eq!(
            PortSet::only([(8086, 8086), (8085, 8085), (9000, 9100), (9050, 9200)]),
            PortSet::Only(vec![(8085, 8086), (9000, 9200)])
        );
        assert_eq!(
            PortSet::except([(22, 22)]).ranges(),
            Some(vec![(1, 21), (23, u16::MAX)])
        );
        assert_eq!(
            PortSet::except([(1, 10), (u16::MAX, u16::MAX)]).ranges(),
            Some(vec![(11, u16::MAX - 1)])
        );
        assert_eq!(PortSet::Every.contains(1), Some(true));
        assert_eq!(PortSet::Undecoded.contains(1), None);
        assert_eq!(PortSet::Undecoded.overlaps(&[(1, u16::MAX)]), None);
        assert_eq!(
            PortSet::only([(8000, 8100)]).overlaps(&[(8100, 8200)]),
            Some(true)
        );
        assert_eq!(
            PortSet::except([(8000, 8100)]).overlaps(&[(8050, 8060)]),
            Some(false)
        );
    }

    #[test]
    fn a_deleted_executable_is_the_kernels_word() {
        let p = |exe: &str, deleted| Process {
            exe: Some(exe.into()),
            exe_deleted: deleted,
            ..Process::default()
        };
        // A live program named `x (deleted)`: the kernel says it is not.
        let named = p("/tmp/x (deleted)", Some(false));
        assert!(!named.exe_is_deleted());
        assert_eq!(named.exe_bytes(), Some(&b"/tmp/x (deleted)"[..]));
        // The same program deleted: one suffix more, one stripped.
        let gone = p("/tmp/x (deleted) (deleted)", Some(true));
        assert!(gone.exe_is_deleted());
        assert_eq!(gone.exe_bytes(), Some(&b"/tmp/x (deleted)"[..]));
        // Only the text known (a recorded tree): the text decides.
        let recorded = p("/usr/sbin/nginx (deleted)", None);
        assert!(recorded.exe_is_deleted());
        assert_eq!(recorded.exe_bytes(), Some(&b"/usr/sbin/nginx"[..]));
        assert!(!p("/usr/sbin/nginx", None).exe_is_deleted());
        assert!(!Process::default().exe_is_deleted());
    }
}
