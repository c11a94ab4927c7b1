//! What the user asked: the targets of `whyport TARGET...` and the
//! filters of the listing. The one owner of their meaning: which ports the
//! kernel may filter on, which sockets to keep, which owners and forwarded
//! ports answer a target. Plain data and predicates over plain values, so
//! every later stage (collect, explain, render) asks here and none decides
//! on its own.

use std::net::IpAddr;

use crate::model::{PortSet, Process, Protocol, Socket};
pub use crate::ports::{PortRange, parse_ports};

/// Everything asked: the targets (none for the plain listing) and the
/// filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What `whyport TARGET...` asks about; empty for the plain listing.
    pub targets: Vec<Target>,
    pub filter: Filter,
    /// Process targets take exact names only (`-q`: a prefix must never
    /// decide what `kill` receives).
    pub exact_names: bool,
}

impl Query {
    /// The whole host, both protocols, no target (audit, snapshot, diff,
    /// watch).
    pub fn whole_host() -> Query {
        Query {
            targets: Vec::new(),
            filter: Filter {
                protocols: vec![Protocol::Tcp, Protocol::Udp],
                ipv4: true,
                ipv6: true,
                ports: Vec::new(),
                reach: None,
                narrowing: false,
            },
            exact_names: false,
        }
    }

    /// Whether targets were given (an explanation, not a listing).
    pub fn asking(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Whether an empty answer is "nothing matched" (exit 1): a target or a
    /// narrowing filter was given.
    pub fn narrowed(&self) -> bool {
        self.asking() || self.filter.narrowing
    }

    /// The port ranges the kernel may filter on: those of `-p`, or, when
    /// there is no `-p` and every target names ports, the targets' ports;
    /// none means all.
    pub fn kernel_ports(&self) -> Vec<(u16, u16)> {
        let from_filter: Vec<(u16, u16)> =
            self.filter.ports.iter().map(|r| (r.start, r.end)).collect();
        let from_targets: Option<Vec<(u16, u16)>> = self
            .targets
            .iter()
            .map(Target::ports)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().map(|r| (r.start, r.end)).collect());
        match from_targets {
            Some(t) if !t.is_empty() && from_filter.is_empty() => t,
            _ => from_filter,
        }
    }

    /// Whether a socket may be one the query asks about, before its owners
    /// are known: it passes the filters, and some target could ask about
    /// its port (pid and process targets can, until owners tell).
    pub fn keeps(&self, socket: &Socket) -> bool {
        self.filter.matches(socket)
            && (!self.asking()
                || self
                    .targets
                    .iter()
                    .any(|t| t.matches_port(socket.port, socket.protocol) != Some(false)))
    }

    /// How a process target is answered, given every owner of the sockets
    /// read: by exact name when some owner has it, else (not with `-q`) by
    /// prefix when some owner's name starts with it, like `lsof -c`.
    /// `None` for other targets and when no owner answers.
    pub fn name_match<'a>(
        &self,
        target: &Target,
        owners: impl Iterator<Item = &'a Process>,
    ) -> Option<NameMatch> {
        let best = owners.filter_map(|p| target.names(p)).min()?;
        (best == NameMatch::Exact || !self.exact_names).then_some(best)
    }

    /// The PIDs `--pid` names.
    pub fn pids(&self) -> Vec<u32> {
        self.targets
            .iter()
            .filter_map(|t| match t {
                Target::Pid(pid) => Some(*pid),
                _ => None,
            })
            .collect()
    }
}

/// One thing to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `8080`, `:8080`, `53/udp`, `8000-8100`.
    Ports {
        range: PortRange,
        protocol: Option<Protocol>,
    },
    /// An IANA service name (`ssh`): the ports registered for it.
    Service {
        name: String,
        ports: Vec<(u16, Protocol)>,
    },
    /// `--pid 1234`: every socket that process holds.
    Pid(u32),
    /// `--process nginx`, or a positional word that is neither a port nor
    /// an IANA service (`positional`): every socket held by a process of
    /// that name (see `Target::names`).
    Process { name: String, positional: bool },
}

/// How a process answers a process target by name; `Exact` sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// Its kernel name (15 bytes at most: the asked name's first 15 bytes
    /// count) or its executable's base name is the name.
    Exact,
    /// One of them starts with the name.
    Prefix,
}

impl Target {
    /// Whether a socket on `port`/`protocol` is one this target asks about;
    /// `None` when only its owners can tell (pid and process targets).
    pub fn matches_port(&self, port: u16, protocol: Protocol) -> Option<bool> {
        match self {
            Target::Ports { range, protocol: p } => {
                Some(range.contains(port) && p.is_none_or(|p| p == protocol))
            }
            Target::Service { ports, .. } => Some(ports.contains(&(port, protocol))),
            Target::Pid(_) | Target::Process { .. } => None,
        }
    }

    /// How `process` answers this target by its names: the kernel's
    /// (`comm`, cut to 15 bytes) and its executable's base name. `None`
    /// for other targets and for a process of another name.
    pub fn names(&self, process: &Process) -> Option<NameMatch> {
        let Target::Process { name, .. } = self else {
            return None;
        };
        let name = name.as_bytes();
        let comm = process.name.as_slice();
        let exe = process.exe.as_deref().and_then(|e| {
            let text = e.as_os_str().as_encoded_bytes();
            // The kernel marks a deleted executable in the link's text.
            let text = text.strip_suffix(b" (deleted)").unwrap_or(text);
            text.rsplit(|b| *b == b'/').next()
        });
        let cut = &name[..name.len().min(15)];
        if comm == name || (name.len() > 15 && comm == cut) || exe == Some(name) {
            Some(NameMatch::Exact)
        } else if comm.starts_with(name) || exe.is_some_and(|e| e.starts_with(name)) {
            Some(NameMatch::Prefix)
        } else {
            None
        }
    }

    /// The target as it would be typed: `8080`, `8000-8100/udp`, `ssh`,
    /// `pid 1234`, `process nginx` (unescaped: renderers escape it).
    pub fn spec(&self) -> String {
        match self {
            Target::Ports { range, protocol } => {
                let p = protocol
                    .map(|p| format!("/{}", p.as_str()))
                    .unwrap_or_default();
                if range.start == range.end {
                    format!("{}{p}", range.start)
                } else {
                    format!("{}-{}{p}", range.start, range.end)
                }
            }
            Target::Service { name, .. } => name.clone(),
            Target::Pid(pid) => format!("pid {pid}"),
            Target::Process {
                name,
                positional: true,
            } => name.clone(),
            Target::Process { name, .. } => format!("process {name}"),
        }
    }

    /// The port ranges this target is about (`None`: any port).
    pub fn ports(&self) -> Option<Vec<PortRange>> {
        match self {
            Target::Ports { range, .. } => Some(vec![*range]),
            Target::Service { ports, .. } => Some(
                ports
                    .iter()
                    .map(|(p, _)| PortRange { start: *p, end: *p })
                    .collect(),
            ),
            Target::Pid(_) | Target::Process { .. } => None,
        }
    }

    /// Whether a socket on `port`/`protocol` held by `owners` is one this
    /// target asks about; a process target by names matching as `how`
    /// (`Query::name_match`) or better.
    pub fn asks_about<'a>(
        &self,
        port: u16,
        protocol: Protocol,
        mut owners: impl Iterator<Item = &'a Process>,
        how: Option<NameMatch>,
    ) -> bool {
        match (self.matches_port(port, protocol), self) {
            (Some(by_port), _) => by_port,
            (None, Target::Pid(pid)) => owners.any(|p| p.pid == *pid),
            (None, Target::Process { .. }) => {
                how.is_some_and(|how| owners.any(|p| self.names(p).is_some_and(|m| m <= how)))
            }
            (None, _) => false,
        }
    }

    /// Whether a forward of `protocol` (`None`: both) that catches `ports`
    /// answers this target: it asks about ports the forward is known to
    /// catch. Pid and process targets ask about sockets only.
    pub fn caught_by(&self, ports: &PortSet, protocol: Option<Protocol>) -> bool {
        let Some(asked) = self.ports() else {
            return false;
        };
        let protocol_ok = match self {
            Target::Ports { protocol: p, .. } => p.is_none_or(|p| protocol.is_none_or(|q| p == q)),
            _ => true,
        };
        let asked: Vec<(u16, u16)> = asked.iter().map(|r| (r.start, r.end)).collect();
        protocol_ok && ports.overlaps(&asked) == Some(true)
    }
}

/// Parse a positional target: a port (`8080`, `:8080`), a range
/// (`8000-8100`), either with `/tcp` or `/udp`, an IANA service name, or
/// else a process name. A word that is a service is the service (its
/// registered ports; `--process` asks for processes of that name): the
/// registry is the one answer that does not depend on what runs now.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let (body, protocol) = match text.rsplit_once('/') {
        Some((body, "tcp")) => (body, Some(Protocol::Tcp)),
        Some((body, "udp")) => (body, Some(Protocol::Udp)),
        Some((_, other)) => {
            return Err(format!(
                "unknown protocol '{other}' in '{text}'; write PORT/tcp or PORT/udp"
            ));
        }
        None => (text, None),
    };
    let body = body.trim_start_matches(':');
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        let ranges = parse_ports(body)?;
        return match ranges.as_slice() {
            [range] => Ok(Target::Ports {
                range: *range,
                protocol,
            }),
            _ => Err(format!(
                "'{text}' holds several ports; give them as separate arguments"
            )),
        };
    }
    let ports: Vec<(u16, Protocol)> = crate::services::ports_for(body)
        .into_iter()
        .filter(|(_, p)| protocol.is_none_or(|want| want == *p))
        .collect();
    if ports.is_empty() {
        let is_name = protocol.is_none()
            && !body.is_empty()
            && !body.starts_with('-')
            && !body.contains(['/', ':'])
            && !body
                .chars()
                .any(|c| c.is_control() || crate::sanitize::is_dangerous(c));
        if !is_name {
            return Err(format!(
                "'{text}' is neither a port, an IANA service name nor a process name; give a number like 8080, a range like 8000-8100, a service like ssh or a process like nginx"
            ));
        }
        return Ok(Target::Process {
            name: body.to_string(),
            positional: true,
        });
    }
    Ok(Target::Service {
        name: body.to_ascii_lowercase(),
        ports,
    })
}

/// Which sockets to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Protocols to read; both when neither -t nor -u was given.
    pub protocols: Vec<Protocol>,
    /// Keep sockets that accept IPv4 (including dual-stack IPv6 sockets).
    pub ipv4: bool,
    /// Keep IPv6 sockets.
    pub ipv6: bool,
    /// Keep only these ports; all when empty.
    pub ports: Vec<PortRange>,
    /// Keep only sockets reachable beyond loopback, or only those that are
    /// not (`--exposed`, `--loopback`); applied by `explain`, which knows
    /// each socket's namespace addresses (`Filter::reaches`).
    pub reach: Option<Reach>,
    /// Any option above narrowed the listing (an empty result is exit 1).
    pub narrowing: bool,
}

/// Who may reach a socket, as `--exposed` and `--loopback` ask: by its
/// bind and its network namespace's addresses, whatever a firewall does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Reachable beyond loopback: a non-loopback address, a wildcard in a
    /// namespace with another address (or whose addresses are unknown).
    Exposed,
    /// Reachable from its own host (or namespace) only.
    Loopback,
}

impl Filter {
    /// Whether a socket reachable beyond loopback or not
    /// (`beyond_loopback`) passes `--exposed`/`--loopback`.
    pub fn reaches(&self, beyond_loopback: bool) -> bool {
        match self.reach {
            None => true,
            Some(Reach::Exposed) => beyond_loopback,
            Some(Reach::Loopback) => !beyond_loopback,
        }
    }

    pub fn matches(&self, socket: &Socket) -> bool {
        let family = match socket.address {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6 || (self.ipv4 && socket.is_dual_stack()),
        };
        family
            && self.protocols.contains(&socket.protocol)
            && (self.ports.is_empty() || self.ports.iter().any(|r| r.contains(socket.port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn socket(address: IpAddr, v6only: Option<bool>, protocol: Protocol) -> Socket {
        Socket {
            protocol,
            address,
            port: 8080,
            v6only,
            interface: None,
            inode: 1,
            uid: 0,
            netns: 0,
        }
    }

    #[test]
    fn ipv4_filter_keeps_dual_stack_sockets() {
        let only4 = Filter {
            protocols: vec![Protocol::Tcp],
            ipv4: true,
            ipv6: false,
            ports: vec![],
            reach: None,
            narrowing: true,
        };
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        assert!(only4.matches(&socket(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            Protocol::Tcp
        )));
        assert!(only4.matches(&socket(any6, Some(false), Protocol::Tcp)));
        assert!(!only4.matches(&socket(any6, Some(true), Protocol::Tcp)));
        assert!(!only4.matches(&socket(
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            Some(false),
            Protocol::Tcp
        )));
        assert!(!only4.matches(&socket(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            Protocol::Udp
        )));
    }

    #[test]
    fn parses_targets() {
        let ports = |start, end, protocol| Target::Ports {
            range: PortRange { start, end },
            protocol,
        };
        assert_eq!(parse_target("8080"), Ok(ports(8080, 8080, None)));
        assert_eq!(parse_target(":8080"), Ok(ports(8080, 8080, None)));
        assert_eq!(
            parse_target("53/udp"),
            Ok(ports(53, 53, Some(Protocol::Udp)))
        );
        assert_eq!(
            parse_target("8000-8100/tcp"),
            Ok(ports(8000, 8100, Some(Protocol::Tcp)))
        );
        assert!(parse_target("80/sctp").is_err_and(|e| e.contains("unknown protocol")));
        assert!(parse_target("70000").is_err_and(|e| e.contains("1-65535")));
        assert!(parse_target("80,443").is_err_and(|e| e.contains("separate")));
        match parse_target("SSH") {
            Ok(Target::Service { name, ports }) => {
                assert_eq!(name, "ssh");
                assert_eq!(ports, vec![(22, Protocol::Tcp), (22, Protocol::Udp)]);
            }
            other => panic!("{other:?}"),
        }
        match parse_target("www/tcp") {
            Ok(Target::Service { ports, .. }) => assert_eq!(ports, vec![(80, Protocol::Tcp)]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_target("nginx"),
            Ok(Target::Process {
                name: "nginx".into(),
                positional: true
            })
        );
        assert!(parse_target("nginx/tcp").is_err_and(|e| e.contains("neither a port")));
    }

    #[test]
    fn port_filter() {
        let f = Filter {
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            ipv4: true,
            ipv6: true,
            ports: parse_ports("8000-8100").unwrap_or_default(),
            reach: Some(Reach::Exposed),
            narrowing: true,
        };
        assert!(f.matches(&socket(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            Protocol::Udp
        )));
        let mut s = socket(IpAddr::V4(Ipv4Addr::LOCALHOST), None, Protocol::Udp);
        s.port = 8101;
        assert!(!f.matches(&s));
        assert!(f.reaches(true) && !f.reaches(false));
        let f = Filter {
            reach: Some(Reach::Loopback),
            ..f
        };
        assert!(!f.reaches(true) && f.reaches(false));
        assert!(Query::whole_host().filter.reaches(true));
    }

    fn asking(targets: Vec<Target>, ports: &str) -> Query {
        let mut q = Query::whole_host();
        q.targets = targets;
        q.filter.ports = if ports.is_empty() {
            Vec::new()
        } else {
            parse_ports(ports).unwrap_or_default()
        };
        q
    }

    #[test]
    fn the_kernel_filters_on_the_filter_or_on_targets_that_all_name_ports() {
        let t = |s: &str| parse_target(s).unwrap_or(Target::Pid(0));
        assert_eq!(asking(vec![], "").kernel_ports(), vec![]);
        assert_eq!(
            asking(vec![], "22,80").kernel_ports(),
            vec![(22, 22), (80, 80)]
        );
        assert_eq!(
            asking(vec![t("8080"), t("ssh")], "").kernel_ports(),
            vec![(8080, 8080), (22, 22), (22, 22)]
        );
        // A pid target may hold any port: the kernel filters nothing.
        assert_eq!(
            asking(vec![t("8080"), Target::Pid(1)], "").kernel_ports(),
            vec![]
        );
        assert_eq!(asking(vec![t("8080")], "80").kernel_ports(), vec![(80, 80)]);
    }

    #[test]
    fn sockets_are_kept_by_port_until_owners_can_tell() {
        let mut s = socket(IpAddr::V4(Ipv4Addr::LOCALHOST), None, Protocol::Tcp);
        let by_port = asking(vec![parse_target("8080/tcp").unwrap_or(Target::Pid(0))], "");
        assert!(by_port.keeps(&s));
        s.port = 8081;
        assert!(!by_port.keeps(&s));
        assert!(asking(vec![Target::Pid(1)], "").keeps(&s));
        assert!(asking(vec![], "").keeps(&s));
    }

    #[test]
    fn process_names_match_exactly_then_by_prefix_and_exactly_only_with_q() {
        let process = |name: &str| Target::Process {
            name: name.into(),
            positional: false,
        };
        let p = |comm: &str, exe: Option<&str>| Process {
            pid: 1,
            name: comm.as_bytes().to_vec(),
            exe: exe.map(std::path::PathBuf::from),
            ..Process::default()
        };
        let redis = p("redis-server", Some("/usr/bin/redis-server"));
        // The kernel name of a long name is cut to 15 bytes; the
        // executable's base name is whole (also when deleted).
        let resolved = p("systemd-resolve", None);
        let py = p("gunicorn: maste", Some("/usr/bin/python3.12 (deleted)"));
        assert_eq!(process("redis").names(&redis), Some(NameMatch::Prefix));
        assert_eq!(
            process("redis-server").names(&redis),
            Some(NameMatch::Exact)
        );
        assert_eq!(
            process("systemd-resolved").names(&resolved),
            Some(NameMatch::Exact)
        );
        assert_eq!(process("python3.12").names(&py), Some(NameMatch::Exact));
        assert_eq!(process("gunicorn").names(&py), Some(NameMatch::Prefix));
        assert_eq!(process("nginx").names(&redis), None);
        assert_eq!(Target::Pid(1).names(&redis), None);
        let mut q = Query::whole_host();
        let both = [&redis, &p("redis", None)];
        assert_eq!(
            q.name_match(&process("redis"), both.into_iter()),
            Some(NameMatch::Exact)
        );
        assert_eq!(
            q.name_match(&process("redis"), [&redis].into_iter()),
            Some(NameMatch::Prefix)
        );
        q.exact_names = true;
        assert_eq!(q.name_match(&process("redis"), [&redis].into_iter()), None);
        assert_eq!(
            q.name_match(&process("redis"), both.into_iter()),
            Some(NameMatch::Exact)
        );
    }

    #[test]
    fn targets_ask_about_owners_and_forwarded_ports() {
        let sshd = Process {
            pid: 7,
            name: b"sshd".to_vec(),
            ..Process::default()
        };
        let owners = [&sshd];
        let pid = Target::Pid(7);
        assert!(pid.asks_about(1, Protocol::Tcp, owners.into_iter(), None));
        assert!(!Target::Pid(8).asks_about(1, Protocol::Tcp, owners.into_iter(), None));
        let process = |name: &str| Target::Process {
            name: name.into(),
            positional: false,
        };
        let exact = Some(NameMatch::Exact);
        assert!(process("sshd").asks_about(1, Protocol::Udp, owners.into_iter(), exact));
        assert!(!process("ssh").asks_about(1, Protocol::Udp, owners.into_iter(), exact));
        assert!(process("ssh").asks_about(
            1,
            Protocol::Udp,
            owners.into_iter(),
            Some(NameMatch::Prefix)
        ));
        let t = |s: &str| parse_target(s).unwrap_or(Target::Pid(0));
        // A forward of 8000-8100 answers 8085; of every port, any port.
        let range = PortSet::only([(8000, 8100)]);
        assert!(t("8085").caught_by(&range, Some(Protocol::Tcp)));
        assert!(!t("8085/udp").caught_by(&range, Some(Protocol::Tcp)));
        assert!(t("8085/udp").caught_by(&range, None));
        assert!(t("9").caught_by(&PortSet::Every, None));
        assert!(!t("9").caught_by(&range, None));
        assert!(t("9").caught_by(&PortSet::except([(22, 22)]), None));
        assert!(!t("22").caught_by(&PortSet::except([(22, 22)]), None));
        // Unknown ports answer nothing: not taken as every port.
        assert!(!t("9").caught_by(&PortSet::Undecoded, None));
        assert!(
            !pid.caught_by(&PortSet::Every, None),
            "a pid asks about sockets only"
        );
    }
}
