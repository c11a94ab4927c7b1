//! The resolved configuration of one run: what to read, which sockets to
//! keep and how to print them. Built by `cli`, free of clap types.

use std::net::IpAddr;

use crate::collect::Source;
use crate::model::{Protocol, Socket};
pub use crate::ports::{PortRange, parse_ports};

/// Everything `app::run` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The live system, or a recorded tree (`--proc-root`).
    pub source: Source,
    pub filter: Filter,
    pub output: Output,
    /// Show numbers instead of names: no service names, uids for users.
    pub numeric: bool,
    /// Print how long each phase took on stderr (`--timings`).
    pub timings: bool,
    /// What `whyport TARGET...` asks about; empty for the plain listing.
    pub targets: Vec<Target>,
    /// The listing, or one of the subcommands.
    pub command: Command,
    /// List the sockets of every network namespace (`-A`).
    pub all_namespaces: bool,
    /// Color and width of human-readable output.
    pub look: Look,
    /// `--backend`: native (Linux) or portable.
    pub backend: crate::collect::Backend,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// List (or explain targets): `output` says how.
    List,
    /// `whyport audit --policy FILE`.
    Audit {
        policy: std::path::PathBuf,
        format: ReportFormat,
    },
    /// `whyport policy init`: a policy allowing what is open now.
    PolicyInit { output: Option<std::path::PathBuf> },
    /// `whyport snapshot`: the JSON listing, for `diff` later.
    Snapshot { output: Option<std::path::PathBuf> },
    /// `whyport completions SHELL`: a completion script.
    Completions { shell: String },
    /// `whyport man`: the man page.
    Man,
    /// `whyport watch`: listeners opening and closing, as they happen.
    Watch {
        interval: std::time::Duration,
        json: bool,
    },
    /// `whyport diff BASELINE`.
    Diff {
        baseline: std::path::PathBuf,
        format: ReportFormat,
        /// Also count PIDs, start times and command lines.
        strict: bool,
    },
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
    /// `--process nginx`: every socket held by a process of that name.
    Process(String),
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
            Target::Pid(_) | Target::Process(_) => None,
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
            Target::Process(name) => format!("process {name}"),
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
            Target::Pid(_) | Target::Process(_) => None,
        }
    }
}

/// Parse a positional target: a port (`8080`, `:8080`), a range
/// (`8000-8100`), either with `/tcp` or `/udp`, or an IANA service name.
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
        return Err(format!(
            "'{text}' is neither a port nor an IANA service name; give a number like 8080, a range like 8000-8100 or a name like ssh"
        ));
    }
    Ok(Target::Service {
        name: body.to_ascii_lowercase(),
        ports,
    })
}

/// How to print the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table {
        header: bool,
    },
    /// One JSON document; indented for a terminal, compact for a pipe.
    Json {
        pretty: bool,
    },
    /// Only the owning PIDs, one per line.
    Pids,
    /// CSV with a header row (unless `header` is false).
    Csv {
        header: bool,
    },
    /// One JSON listener per line.
    Ndjson,
    /// Why each target is open, in prose (`whyport TARGET`).
    Explain,
}

/// How human-readable output looks: color, and the terminal's width to fit
/// tables into (`None`: no truncation, as in a pipe or with `--wide`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    pub color: bool,
    pub width: Option<usize>,
}

/// Output formats of `whyport audit` and `whyport diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// Prometheus text exposition format, for node_exporter's textfile
    /// collector.
    Prometheus,
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
    /// Any option above narrowed the listing (an empty result is exit 1).
    pub narrowing: bool,
}

impl Filter {
    pub fn matches(&self, socket: &Socket) -> bool {
        let family = match socket.address {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6 || (self.ipv4 && crate::explain::is_dual_stack(socket)),
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
        assert!(parse_target("no-such-service").is_err_and(|e| e.contains("neither a port")));
    }

    #[test]
    fn port_filter() {
        let f = Filter {
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            ipv4: true,
            ipv6: true,
            ports: parse_ports("8000-8100").unwrap_or_default(),
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
    }
}
