//! Command-line parsing (clap). The only module that sees clap types: it
//! resolves the arguments into a plain `Config`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::collect::Source;
use crate::config::{Command, Config, Look, Output, ReportFormat};
use crate::model::Protocol;
use crate::query::{self, Filter, PortRange, Query, Target};

const AFTER_HELP: &str = "\
Examples:
  whyport                 every listening socket, its owners and service
  whyport 8080            why is port 8080 open? (also :8080, 53/udp, 8000-8100)
  whyport ssh             the ports registered for ssh that are open here
  whyport --pid 1234      every port process 1234 holds
  kill $(whyport -q 8080) the PIDs only, for scripts
  whyport --format csv    one row per socket (also: ndjson, json)
  whyport policy init > whyport.toml    a policy allowing what is open now
  whyport audit --policy whyport.toml   does this host comply? (exit 1 if not)
  whyport snapshot -o base.json; whyport diff base.json   what changed since?

Exit codes (the verdict, also when the output pipe is closed early):
  0  success: listed, the host complies, nothing changed
  1  nothing is listening on what was asked (a target or a filter);
     audit: the host does not comply; diff: something changed
  2  usage or runtime error (also a malformed policy or baseline; -q
     without a target, or when an owner cannot be seen; a --pid whose
     open files cannot be read)

ADDRESS '*' means every IPv4 and IPv6 address: an IPv6 socket with
IPV6_V6ONLY off, which also accepts IPv4. '::' is IPv6 only.

Service names come from the IANA Service Name and Transport Protocol Port
Number Registry (CC0), snapshot of 2026-04-09.
The IANA service 'audit' (port 182) is asked about as 182 or audit/tcp,
since 'whyport audit' is the audit command.
JSON schema: docs/json.md. Policies and baselines: docs/policy.md.";

/// whyport: why is this port open? Lists every listening TCP and UDP socket
/// with every process that holds it and the service registered for its port.
#[derive(Debug, Parser)]
#[command(
    name = "whyport",
    version,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,

    /// Explain these: a port (8080, :8080, 53/udp), a range (8000-8100) or an
    /// IANA service name (ssh). Without targets, list every listening socket.
    #[arg(value_name = "TARGET", value_parser = query::parse_target)]
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
    #[arg(short = 'p', long = "port", value_name = "PORTS", value_parser = query::parse_ports)]
    ports: Vec<Vec<PortRange>>,

    /// Numbers only: no service names, uids instead of user names
    #[arg(short = 'n', long = "numeric")]
    numeric: bool,

    /// List the listeners of every network namespace (containers, `ip
    /// netns`), each with its namespace; needs root
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,

    /// Omit the table header
    #[arg(long = "no-header")]
    no_header: bool,

    /// Print one JSON document (schema: docs/json.md); indented on a terminal
    #[arg(long = "json", conflicts_with_all = ["quiet", "format"])]
    json: bool,

    /// Output format of the listing: table, json, csv (a row per socket),
    /// ndjson (a JSON listener per line)
    #[arg(long = "format", value_name = "FORMAT", conflicts_with = "quiet")]
    format: Option<ListFormat>,

    /// Print only the PIDs of the owning processes, one per line
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,

    /// Print how long each phase took (sockets, owners, explain, render) on stderr
    #[arg(long = "timings", hide = true)]
    timings: bool,

    /// Color: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(
        long = "color",
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    color: ColorWhen,

    /// How to read the system: native (Linux: netlink and /proc) or
    /// portable (netstat2 and sysinfo, as on macOS, Windows, FreeBSD)
    #[arg(
        long = "backend",
        value_name = "BACKEND",
        default_value = "native",
        global = true
    )]
    backend: BackendArg,

    /// Do not truncate to the terminal's width
    #[arg(short = 'w', long = "wide", global = true)]
    wide: bool,

    /// Read a recorded tree (DIR/proc, DIR/etc/passwd) instead of the live system
    #[arg(long = "proc-root", value_name = "DIR", hide = true, global = true)]
    proc_root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Native,
    Portable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Table,
    Json,
    Csv,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Junit,
    Prometheus,
    PrometheusDetailed,
}

impl From<Format> for ReportFormat {
    fn from(f: Format) -> ReportFormat {
        match f {
            Format::Table => ReportFormat::Table,
            Format::Json => ReportFormat::Json,
            Format::Junit => ReportFormat::Junit,
            Format::Prometheus => ReportFormat::Prometheus { detail: false },
            Format::PrometheusDetailed => ReportFormat::Prometheus { detail: true },
        }
    }
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Check every listener against a port policy (docs/policy.md); exit 0
    /// when the host complies, 1 when it does not
    Audit {
        /// The policy file (TOML), at most 64 MiB; `-` reads standard input.
        /// Start from `whyport policy init`
        #[arg(long = "policy", value_name = "FILE")]
        policy: PathBuf,
        /// table, json, junit (JUnit XML for CI), prometheus (for
        /// node_exporter's textfile collector) or prometheus-detailed (a
        /// series per socket too)
        #[arg(long = "format", value_name = "FORMAT", default_value = "table")]
        format: Format,
        /// Numbers only: uids instead of user names
        #[arg(short = 'n', long = "numeric")]
        numeric: bool,
    },
    /// Write policies
    Policy {
        #[command(subcommand)]
        command: PolicySub,
    },
    /// Record the listeners (the JSON listing) to compare with later
    Snapshot {
        /// Write to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Stream listeners as they open and close, with owner and origin (one
    /// line each, or NDJSON with --json), until Ctrl-C
    Watch {
        /// Seconds between two looks at the socket table (a listener open
        /// for less than that may be missed)
        #[arg(long = "interval", value_name = "SECONDS", default_value = "1", value_parser = parse_interval)]
        interval: std::time::Duration,
        /// One JSON object per event (schema: docs/json.md)
        #[arg(long = "json")]
        json: bool,
        /// Numbers only: no service names, uids instead of user names
        #[arg(short = 'n', long = "numeric")]
        numeric: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): whyport man > /usr/local/share/man/man1/whyport.1
    Man,
    /// What opened, closed or changed owner, executable, user or bind since
    /// a snapshot; exit 1 if anything did
    Diff {
        /// A file written by `whyport snapshot` (or `whyport --json`), at
        /// most 64 MiB; `-` reads standard input
        #[arg(value_name = "BASELINE")]
        baseline: PathBuf,
        /// table, json, junit or prometheus
        #[arg(long = "format", value_name = "FORMAT", default_value = "table")]
        format: Format,
        /// Also count changed PIDs, start times and command lines (a restart)
        #[arg(long = "strict")]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PolicySub {
    /// Print a policy that allows exactly what is open now, commented
    Init {
        /// Write to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

impl Args {
    /// Resolve the arguments into a `Config`, or say which combination
    /// makes no sense.
    pub fn into_config(self) -> Result<Config, clap::Error> {
        // `kill $(whyport -q $EMPTY)` must not kill every server on the host.
        if self.quiet
            && self.command.is_none()
            && self.targets.is_empty()
            && self.pids.is_empty()
            && self.processes.is_empty()
            && self.ports.is_empty()
        {
            use clap::CommandFactory;
            return Err(Args::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "-q needs a target (a port, a service, -p PORTS, --pid or --process): without one it would print the owner of every listener on the host",
            ));
        }
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
        let json = Output::Json {
            pretty: std::io::stdout().is_terminal(),
        };
        let output = if self.json {
            json
        } else if let Some(format) = self.format {
            match format {
                ListFormat::Table => Output::Table {
                    header: !self.no_header,
                },
                ListFormat::Json => json,
                ListFormat::Csv => Output::Csv {
                    header: !self.no_header,
                },
                ListFormat::Ndjson => Output::Ndjson,
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
        let mut numeric = self.numeric;
        let command = match self.command {
            None => Command::List,
            Some(Sub::Audit {
                policy,
                format,
                numeric: n,
            }) => {
                numeric |= n;
                Command::Audit {
                    policy,
                    format: format.into(),
                }
            }
            Some(Sub::Policy {
                command: PolicySub::Init { output },
            }) => Command::PolicyInit { output },
            Some(Sub::Snapshot { output }) => Command::Snapshot { output },
            Some(Sub::Completions { shell }) => Command::Completions {
                shell: shell.to_string(),
            },
            Some(Sub::Man) => Command::Man,
            Some(Sub::Watch {
                interval,
                json,
                numeric: n,
            }) => {
                numeric |= n;
                Command::Watch { interval, json }
            }
            Some(Sub::Diff {
                baseline,
                format,
                strict,
            }) => Command::Diff {
                baseline,
                format: format.into(),
                strict,
            },
        };
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let look = Look {
            color: match self.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => terminal && !no_color && !dumb,
            },
            width: if self.wide {
                None
            } else {
                crate::collect::terminal_width()
            },
        };
        Ok(Config {
            command,
            look,
            backend: match self.backend {
                BackendArg::Native => crate::collect::Backend::Native,
                BackendArg::Portable => crate::collect::Backend::Portable,
            },
            all_namespaces: self.all_namespaces,
            source: self.proc_root.map_or(Source::Live, Source::Recorded),
            query: Query {
                targets,
                filter: Filter {
                    protocols,
                    ipv4,
                    ipv6,
                    ports,
                    narrowing,
                },
            },
            output,
            numeric,
            timings: self.timings,
        })
    }
}

/// `--interval`: seconds, fractions allowed, from 0.05 to a day.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds; give one like 1 or 0.5"))?;
    if !(0.05..=86_400.0).contains(&secs) {
        return Err(format!(
            "interval {text}s is out of range; give 0.05 to 86400 seconds"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Write the completion script for `shell` (a name `Shell` accepts).
pub fn completions(shell: &str, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let shell: clap_complete::Shell = shell
        .parse()
        .map_err(|e| anyhow::anyhow!("unknown shell {shell}: {e}"))?;
    clap_complete::generate(shell, &mut Args::command(), "whyport", out);
    Ok(())
}

/// Write the man page, generated from the same definition as `--help`.
pub fn man(out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(Args::command()).render(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["whyport"];
        argv.extend_from_slice(args);
        match Args::try_parse_from(argv) {
            Ok(a) => a.into_config().unwrap_or_else(|e| panic!("{e}")),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn quiet_needs_a_target() {
        for args in [&["-q"][..], &["-q", "-t"], &["-qu", "-4"]] {
            let mut argv = vec!["whyport"];
            argv.extend_from_slice(args);
            let parsed = Args::try_parse_from(argv).map(Args::into_config);
            assert!(
                matches!(&parsed, Ok(Err(e)) if e.to_string().contains("-q needs a target")),
                "{args:?}: {parsed:?}"
            );
        }
        for args in [
            &["-q", "8080"][..],
            &["-q", "-p", "80"],
            &["-q", "--pid", "1"],
            &["-q", "--process", "sshd"],
            &["-q", "ssh"],
        ] {
            assert_eq!(config(args).output, Output::Pids, "{args:?}");
        }
    }

    #[test]
    fn defaults_list_everything() {
        let c = config(&[]);
        assert_eq!(c.query.filter.protocols, vec![Protocol::Tcp, Protocol::Udp]);
        assert!(c.query.filter.ipv4 && c.query.filter.ipv6 && !c.query.filter.narrowing);
        assert_eq!(c.output, Output::Table { header: true });
    }

    #[test]
    fn filters_and_outputs() {
        let c = config(&["-t", "-4", "-p", "22,80", "-p", "8000-8100", "--json"]);
        assert_eq!(c.query.filter.protocols, vec![Protocol::Tcp]);
        assert!(c.query.filter.ipv4 && !c.query.filter.ipv6 && c.query.filter.narrowing);
        assert_eq!(c.query.filter.ports.len(), 3);
        assert!(matches!(c.output, Output::Json { .. }));
        assert_eq!(
            config(&["--no-header"]).output,
            Output::Table { header: false }
        );
        assert_eq!(config(&["-tu", "-46"]).query.filter.protocols.len(), 2);
        let c = config(&["8080", "ssh", "--pid", "1", "--process", "nginx"]);
        assert_eq!(c.output, Output::Explain);
        assert_eq!(c.query.targets.len(), 4);
        assert_eq!(config(&["-q", "8080"]).output, Output::Pids);
    }

    #[test]
    fn subcommands_and_formats() {
        let c = config(&["audit", "--policy", "p.toml", "--format", "junit"]);
        assert_eq!(
            c.command,
            Command::Audit {
                policy: "p.toml".into(),
                format: ReportFormat::Junit
            }
        );
        assert_eq!(
            config(&["policy", "init"]).command,
            Command::PolicyInit { output: None }
        );
        assert_eq!(
            config(&["snapshot", "-o", "b.json"]).command,
            Command::Snapshot {
                output: Some("b.json".into())
            }
        );
        assert_eq!(
            config(&["diff", "b.json", "--strict", "--format", "prometheus"]).command,
            Command::Diff {
                baseline: "b.json".into(),
                format: ReportFormat::Prometheus { detail: false },
                strict: true
            }
        );
        assert_eq!(
            config(&["--format", "csv", "--no-header"]).output,
            Output::Csv { header: false }
        );
        assert_eq!(config(&["--format", "ndjson"]).output, Output::Ndjson);
        assert!(matches!(
            config(&["--format", "json"]).output,
            Output::Json { .. }
        ));
        // The hidden --proc-root reaches the subcommands.
        let c = config(&["audit", "--policy", "p", "--proc-root", "/x"]);
        assert!(matches!(c.source, Source::Recorded(_)));
        // A target is still a target; the IANA service "audit" is 182, and
        // is a target wherever it is not the first word.
        assert_eq!(config(&["audit/tcp"]).command, Command::List);
        assert_eq!(config(&["8080", "audit"]).query.targets.len(), 2);
        assert_eq!(config(&["8080"]).command, Command::List);
    }

    #[test]
    fn subcommand_misuse_is_a_usage_error() {
        for argv in [
            vec!["whyport", "audit"],
            vec!["whyport", "audit", "--policy", "p", "--format", "csv"],
            vec!["whyport", "diff"],
            vec!["whyport", "policy"],
            vec!["whyport", "--json", "--format", "csv"],
            vec!["whyport", "--format", "xml"],
        ] {
            assert!(Args::try_parse_from(&argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn bad_ports_are_usage_errors() {
        assert!(Args::try_parse_from(["whyport", "-p", "70000"]).is_err());
        assert!(Args::try_parse_from(["whyport", "-p", "8080-80"]).is_err());
        assert!(Args::try_parse_from(["whyport", "--json", "-q"]).is_err());
    }
}
