//! Command-line parsing (clap). The only module that sees clap types: it
//! resolves the arguments into a plain `Config`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Parser;

use crate::collect::Source;
use crate::config::{self, Config, Filter, Output, PortRange, Target};
use crate::model::Protocol;

const AFTER_HELP: &str = "\
Examples:
  whyport                 every listening socket, its owners and service
  whyport 8080            why is port 8080 open? (also :8080, 53/udp, 8000-8100)
  whyport ssh             the ports registered for ssh that are open here
  whyport --pid 1234      every port process 1234 holds
  kill $(whyport -q 8080) the PIDs only, for scripts

Exit codes:
  0  success (also when the output pipe is closed early)
  1  nothing is listening on what was asked (a target or a filter)
  2  usage or runtime error

ADDRESS '*' means every IPv4 and IPv6 address: an IPv6 socket with
IPV6_V6ONLY off, which also accepts IPv4. '::' is IPv6 only.

Service names come from the IANA Service Name and Transport Protocol Port
Number Registry (CC0), snapshot of 2026-04-09.
JSON schema: docs/json.md.";

/// whyport: why is this port open? Lists every listening TCP and UDP socket
/// with every process that holds it and the service registered for its port.
#[derive(Debug, Parser)]
#[command(name = "whyport", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Explain these: a port (8080, :8080, 53/udp), a range (8000-8100) or an
    /// IANA service name (ssh). Without targets, list every listening socket.
    #[arg(value_name = "TARGET", value_parser = config::parse_target)]
    targets: Vec<Target>,

    /// Explain every socket this process holds (repeatable)
    #[arg(long = "pid", value_name = "PID")]
    pids: Vec<u32>,

    /// Explain every socket held by processes of this name (repeatable)
    #[arg(long = "process", value_name = "NAME")]
    processes: Vec<String>,

    /// Only TCP sockets
    #[arg(short = 't', long = "tcp")]
    tcp: bool,

    /// Only UDP sockets
    #[arg(short = 'u', long = "udp")]
    udp: bool,

    /// Only sockets that accept IPv4 (including dual-stack IPv6 sockets)
    #[arg(short = '4', long = "ipv4")]
    ipv4: bool,

    /// Only IPv6 sockets
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,

    /// Only these ports: 22, 8000-8100, or a comma-separated list (repeatable)
    #[arg(short = 'p', long = "port", value_name = "PORTS", value_parser = config::parse_ports)]
    ports: Vec<Vec<PortRange>>,

    /// Numbers only: no service names, uids instead of user names
    #[arg(short = 'n', long = "numeric")]
    numeric: bool,

    /// Omit the table header
    #[arg(long = "no-header")]
    no_header: bool,

    /// Print one JSON document (schema: docs/json.md); indented on a terminal
    #[arg(long = "json", conflicts_with = "quiet")]
    json: bool,

    /// Print only the PIDs of the owning processes, one per line
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,

    /// Print how long each phase took (sockets, owners, explain, render) on stderr
    #[arg(long = "timings", hide = true)]
    timings: bool,

    /// Read a recorded tree (DIR/proc, DIR/etc/passwd) instead of the live system
    #[arg(long = "proc-root", value_name = "DIR", hide = true)]
    proc_root: Option<PathBuf>,
}

impl Args {
    /// Resolve the arguments into a `Config`.
    pub fn into_config(self) -> Config {
        let protocols = match (self.tcp, self.udp) {
            (true, false) => vec![Protocol::Tcp],
            (false, true) => vec![Protocol::Udp],
            _ => vec![Protocol::Tcp, Protocol::Udp],
        };
        let (ipv4, ipv6) = match (self.ipv4, self.ipv6) {
            (true, false) => (true, false),
            (false, true) => (false, true),
            _ => (true, true),
        };
        let ports: Vec<PortRange> = self.ports.into_iter().flatten().collect();
        let narrowing = self.tcp || self.udp || self.ipv4 || self.ipv6 || !ports.is_empty();
        let mut targets = self.targets;
        targets.extend(self.pids.into_iter().map(Target::Pid));
        targets.extend(self.processes.into_iter().map(Target::Process));
        let output = if self.json {
            Output::Json {
                pretty: std::io::stdout().is_terminal(),
            }
        } else if self.quiet {
            Output::Pids
        } else if !targets.is_empty() {
            Output::Explain
        } else {
            Output::Table {
                header: !self.no_header,
            }
        };
        Config {
            source: self.proc_root.map_or(Source::Live, Source::Recorded),
            filter: Filter {
                protocols,
                ipv4,
                ipv6,
                ports,
                narrowing,
            },
            output,
            numeric: self.numeric,
            timings: self.timings,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["whyport"];
        argv.extend_from_slice(args);
        match Args::try_parse_from(argv) {
            Ok(a) => a.into_config(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults_list_everything() {
        let c = config(&[]);
        assert_eq!(c.filter.protocols, vec![Protocol::Tcp, Protocol::Udp]);
        assert!(c.filter.ipv4 && c.filter.ipv6 && !c.filter.narrowing);
        assert_eq!(c.output, Output::Table { header: true });
    }

    #[test]
    fn filters_and_outputs() {
        let c = config(&["-t", "-4", "-p", "22,80", "-p", "8000-8100", "--json"]);
        assert_eq!(c.filter.protocols, vec![Protocol::Tcp]);
        assert!(c.filter.ipv4 && !c.filter.ipv6 && c.filter.narrowing);
        assert_eq!(c.filter.ports.len(), 3);
        assert!(matches!(c.output, Output::Json { .. }));
        assert_eq!(config(&["-q"]).output, Output::Pids);
        assert_eq!(
            config(&["--no-header"]).output,
            Output::Table { header: false }
        );
        assert_eq!(config(&["-tu", "-46"]).filter.protocols.len(), 2);
        let c = config(&["8080", "ssh", "--pid", "1", "--process", "nginx"]);
        assert_eq!(c.output, Output::Explain);
        assert_eq!(c.targets.len(), 4);
        assert_eq!(config(&["-q", "8080"]).output, Output::Pids);
    }

    #[test]
    fn bad_ports_are_usage_errors() {
        assert!(Args::try_parse_from(["whyport", "-p", "70000"]).is_err());
        assert!(Args::try_parse_from(["whyport", "-p", "8080-80"]).is_err());
        assert!(Args::try_parse_from(["whyport", "--json", "-q"]).is_err());
    }
}
