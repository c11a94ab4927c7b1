//! Command-line parsing (clap). The only module that sees clap types: it
//! resolves the arguments into a plain `Config`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::audit::severity::Severity;
use crate::collect::Source;
use crate::config::{Command, Config, Look, Output, ReportFormat};
use crate::model::Protocol;
use crate::query::{self, Filter, PortRange, Query, Reach, Target};

mod help;
mod man;
mod policy_page;
mod usage;

/// Why is this port open? Every listening socket, its owners and the reason
///
/// Lists every listening TCP and UDP socket with every process that holds
/// it and the service registered for its port; explains a port, a service
/// or a process in full (what started it, where it is reachable from, what
/// looks risky); audits the host against a port policy and compares it with
/// a snapshot.
#[derive(Debug, Parser)]
#[command(
    name = "whyport",
    version,
    after_help = help::SHORT,
    after_long_help = help::long("whyport", help::LIST, help::EXIT_LIST, help::LIST_NOTES),
    args_conflicts_with_subcommands = true,
    // Help fits 80 columns in a pipe too (clap's default there is 100).
    max_term_width = 80
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,

    /// Explain these: a port, a range, a service or a process name
    ///
    /// A port (8080, :8080, 53/udp), a range (8000-8100), an IANA service
    /// name (ssh), else a process name. Without targets, list every
    /// listening socket.
    #[arg(value_name = "TARGET", value_parser = query::parse_target)]
    targets: Vec<Target>,

    /// Explain every socket this process holds (repeatable)
    #[arg(long = "pid", value_name = "PID")]
    pids: Vec<u32>,

    /// Explain every socket of processes of this name (repeatable)
    #[arg(long = "process", value_name = "NAME")]
    processes: Vec<String>,

    /// Only TCP sockets
    #[arg(short = 't', long = "tcp")]
    tcp: bool,

    /// Only UDP sockets
    #[arg(short = 'u', long = "udp")]
    udp: bool,

    /// Only sockets that accept IPv4 (dual-stack ones too)
    #[arg(short = '4', long = "ipv4")]
    ipv4: bool,

    /// Only IPv6 sockets
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,

    /// Only sockets reachable beyond loopback
    ///
    /// By the bind and the addresses of the socket's network namespace; a
    /// firewall is not consulted.
    #[arg(long = "exposed", conflicts_with = "loopback")]
    exposed: bool,

    /// Only sockets reachable from this host (namespace) alone
    #[arg(long = "loopback")]
    loopback: bool,

    /// Only these ports: 22, 8000-8100, 22,80 (repeatable)
    ///
    /// No short form: -p is ss's "show processes", always on.
    #[arg(long = "port", value_name = "PORTS", value_parser = query::parse_ports)]
    ports: Vec<Vec<PortRange>>,

    // ss and netstat habits (`-tulpn`, `-plant`): whyport lists only
    // listeners and always shows their processes, so -l, -p and -a change
    // nothing. Hidden from `-h` and completion; `--help` says it in
    // help::LIST_NOTES. None takes a value: `-p 8080` reads as the target 8080.
    /// Listening sockets only (ss -l): always so
    #[arg(short = 'l', hide = true)]
    _listening: bool,

    /// Show processes (ss -p, netstat -p): always so
    #[arg(short = 'p', hide = true)]
    _processes: bool,

    /// All sockets (ss -a): whyport still lists only listeners
    #[arg(short = 'a', hide = true)]
    _all: bool,

    /// Numbers only: no service names, uids instead of user names
    #[arg(short = 'n', long = "numeric")]
    numeric: bool,

    /// Every network namespace's listeners (needs root)
    ///
    /// Containers' and `ip netns` ones, each with its namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,

    /// Omit the table header
    #[arg(long = "no-header")]
    no_header: bool,

    /// Print one JSON document
    ///
    /// Indented on a terminal. Schema: docs/json.md, installed in
    /// /usr/share/doc/whyport.
    #[arg(long = "json", conflicts_with_all = ["quiet", "format"])]
    json: bool,

    /// Output format: table, json, csv, ndjson
    ///
    /// csv: a row per socket; ndjson: a JSON listener per line.
    #[arg(
        long = "format",
        value_name = "FORMAT",
        conflicts_with = "quiet",
        hide_possible_values = true
    )]
    format: Option<ListFormat>,

    /// Print only the owners' PIDs, one per line
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,

    /// Print how long each phase took (sockets, owners, explain, render) on stderr
    #[arg(long = "timings", hide = true)]
    timings: bool,

    /// Color: auto, always, never
    ///
    /// auto: on a terminal, unless NO_COLOR is set.
    #[arg(
        long = "color",
        value_name = "WHEN",
        default_value = "auto",
        global = true,
        hide_possible_values = true
    )]
    color: ColorWhen,

    /// How to read the system: native (Linux: netlink and /proc) or
    /// portable (netstat2 and sysinfo, as on macOS, Windows, FreeBSD)
    // Only in --help: -h must fit a screen, and few need another backend.
    #[arg(
        long = "backend",
        value_name = "BACKEND",
        default_value = "native",
        global = true,
        hide_short_help = true
    )]
    backend: BackendArg,

    /// Do not truncate to the terminal's width
    #[arg(short = 'w', long = "wide", global = true)]
    wide: bool,

    /// Say in full what could not be read, and why
    #[arg(short = 'v', long = "verbose", global = true)]
    verbose: bool,

    /// Read a recorded tree (DIR/proc, DIR/etc/passwd) instead of the live system
    #[arg(long = "proc-root", value_name = "DIR", hide = true, global = true)]
    proc_root: Option<PathBuf>,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Low,
    Medium,
    High,
    Critical,
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
    /// Check every listener against a port policy
    ///
    /// Every listening socket and every port a NAT rule forwards is judged
    /// by the policy (man 5 whyport-policy): deny rules, allow rules, the
    /// default, and the warnings whyport explains. The exit status is the
    /// verdict: 0 when the host complies, 1 when it does not, whatever the
    /// format and wherever the report goes.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-audit", help::AUDIT, help::EXIT_AUDIT, "")
    )]
    Audit {
        /// The policy file (TOML); `-` reads standard input
        ///
        /// At most 64 MiB, a regular file not under /proc or /sys. Start
        /// from `whyport policy init`; the format: man 5 whyport-policy.
        #[arg(long = "policy", value_name = "FILE")]
        policy: PathBuf,
        /// table, json, junit (JUnit XML for CI), prometheus (for
        /// node_exporter's textfile collector) or prometheus-detailed (a
        /// series per socket too)
        #[arg(long = "format", value_name = "FORMAT", default_value = "table")]
        format: Format,
        /// The report as one JSON document: --format json
        #[arg(long = "json", conflicts_with = "format")]
        json: bool,
        /// Write the report to FILE instead of standard output
        ///
        /// Written whole or not at all (a new file renamed over it); a
        /// symbolic link is followed only to a device or FIFO. The exit
        /// status stays the verdict.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The least severe finding that fails the audit: low (any), medium,
        /// high, critical
        #[arg(long = "fail-on", value_name = "SEVERITY", default_value = "low")]
        fail_on: FailOn,
        /// Numbers only: uids instead of user names
        #[arg(short = 'n', long = "numeric")]
        numeric: bool,
    },
    /// Write policies
    ///
    /// `whyport policy init` prints a policy that allows what is open now;
    /// the policy format: man 5 whyport-policy.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-policy", help::POLICY, help::EXIT_OTHER, "")
    )]
    Policy {
        #[command(subcommand)]
        command: PolicySub,
    },
    /// Record the listeners (the JSON listing) to compare with later
    ///
    /// The same document as `whyport --json` over the whole host, for
    /// `whyport diff`.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-snapshot", help::SNAPSHOT, help::EXIT_OTHER, "")
    )]
    Snapshot {
        /// Write to FILE instead of standard output
        ///
        /// Written whole or not at all (a new file renamed over it); a
        /// symbolic link is followed only to a device or FIFO.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Stream listeners as they open and close, until Ctrl-C
    ///
    /// One line per event with owner and origin, or one JSON object per
    /// event with --json. Ends with exit status 0 on Ctrl-C or SIGTERM.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-watch", help::WATCH, help::EXIT_OTHER, "")
    )]
    Watch {
        /// Seconds between two looks at the socket table
        ///
        /// A listener open for less than that may be missed; 0.05 to 86400.
        #[arg(long = "interval", value_name = "SECONDS", default_value = "1", value_parser = parse_interval)]
        interval: std::time::Duration,
        /// One JSON object per event (schema: docs/json.md)
        #[arg(long = "json")]
        json: bool,
        /// Numbers only: no service names, uids instead of user names
        #[arg(short = 'n', long = "numeric")]
        numeric: bool,
        /// Only TCP sockets
        #[arg(short = 't', long = "tcp")]
        tcp: bool,
        /// Only UDP sockets
        #[arg(short = 'u', long = "udp")]
        udp: bool,
        /// Only these ports: 22, 8000-8100, or a comma-separated list (repeatable)
        #[arg(long = "port", value_name = "PORTS", value_parser = query::parse_ports)]
        ports: Vec<Vec<PortRange>>,
        /// Only sockets reachable beyond loopback (as the listing's --exposed)
        #[arg(long = "exposed", conflicts_with = "loopback")]
        exposed: bool,
        /// Only sockets reachable from this host alone
        #[arg(long = "loopback")]
        loopback: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, ...)
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-completions", help::COMPLETIONS, help::EXIT_OTHER, "")
    )]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page, or write them all to a directory
    ///
    /// The pages: whyport(1), one per command (whyport-audit(1), ...) and
    /// whyport-policy(5), the policy file format.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-man", help::MAN, help::EXIT_OTHER, "")
    )]
    Man {
        /// The page: whyport (the default), a command (audit, diff,
        /// policy-init, ...) or policy.5
        #[arg(value_name = "PAGE", conflicts_with = "dir")]
        page: Option<String>,
        /// Write every page to DIR as NAME.SECTION (whyport-audit.1, ...)
        #[arg(long = "dir", value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// What opened, closed or changed since a snapshot
    ///
    /// Compares the listeners of now with a baseline written by `whyport
    /// snapshot`: a listener that opened or closed, or changed owner,
    /// executable, user or bind. The exit status is the verdict: 0 when
    /// nothing changed, 1 when something did, whatever the format and
    /// wherever the report goes.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-diff", help::DIFF, help::EXIT_DIFF, "")
    )]
    Diff {
        /// A file written by `whyport snapshot`; `-` reads standard input
        ///
        /// Or by `whyport --json`; at most 64 MiB.
        #[arg(value_name = "BASELINE")]
        baseline: PathBuf,
        /// table, json, junit or prometheus
        #[arg(long = "format", value_name = "FORMAT", default_value = "table")]
        format: Format,
        /// Write the report to FILE instead of standard output
        ///
        /// Written whole or not at all (a new file renamed over it); a
        /// symbolic link is followed only to a device or FIFO. The exit
        /// status stays the verdict.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also count changed PIDs, start times and command lines (a restart)
        #[arg(long = "strict")]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PolicySub {
    /// Print a policy that allows exactly what is open now, commented
    ///
    /// One allow rule per listener and per forwarded port, each after
    /// comments saying what it allowed, so that `whyport audit` passes on
    /// the same host and the risks stay visible.
    #[command(
        after_help = help::SHORT,
        after_long_help = help::long("whyport-policy-init", help::POLICY, help::EXIT_OTHER, "")
    )]
    Init {
        /// Write to FILE instead of standard output
        ///
        /// Written whole or not at all (a new file renamed over it); a
        /// symbolic link is followed only to a device or FIFO.
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
                "-q needs a target (a port, a service, --port PORTS, --pid or --process): without one it would print the owner of every listener on the host",
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
        let reach = match (self.exposed, self.loopback) {
            (true, _) => Some(query::Reach::Exposed),
            (_, true) => Some(query::Reach::Loopback),
            _ => None,
        };
        let narrowing =
            self.tcp || self.udp || self.ipv4 || self.ipv6 || !ports.is_empty() || reach.is_some();
        let mut targets = self.targets;
        targets.extend(self.pids.into_iter().map(Target::Pid));
        targets.extend(self.processes.into_iter().map(|name| Target::Process {
            name,
            positional: false,
        }));
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
                json,
                output,
                fail_on,
                numeric: n,
            }) => {
                numeric |= n;
                Command::Audit {
                    policy,
                    format: if json {
                        ReportFormat::Json
                    } else {
                        format.into()
                    },
                    output,
                    fail_on: match fail_on {
                        FailOn::Low => Severity::Low,
                        FailOn::Medium => Severity::Medium,
                        FailOn::High => Severity::High,
                        FailOn::Critical => Severity::Critical,
                    },
                }
            }
            Some(Sub::Policy {
                command: PolicySub::Init { output },
            }) => Command::PolicyInit { output },
            Some(Sub::Snapshot { output }) => Command::Snapshot { output },
            Some(Sub::Completions { shell }) => Command::Completions {
                shell: shell.to_string(),
            },
            Some(Sub::Man { page, dir }) => Command::Man { page, dir },
            Some(Sub::Watch {
                interval,
                json,
                numeric: n,
                tcp,
                udp,
                ports,
                exposed,
                loopback,
            }) => {
                numeric |= n;
                let ports: Vec<PortRange> = ports.into_iter().flatten().collect();
                let filter = Filter {
                    protocols: match (tcp, udp) {
                        (true, false) => vec![Protocol::Tcp],
                        (false, true) => vec![Protocol::Udp],
                        _ => vec![Protocol::Tcp, Protocol::Udp],
                    },
                    ipv4: true,
                    ipv6: true,
                    narrowing: tcp || udp || exposed || loopback || !ports.is_empty(),
                    ports,
                    reach: match (exposed, loopback) {
                        (true, _) => Some(Reach::Exposed),
                        (_, true) => Some(Reach::Loopback),
                        _ => None,
                    },
                };
                Command::Watch {
                    interval,
                    json,
                    live: !json && std::io::stdout().is_terminal(),
                    filter,
                }
            }
            Some(Sub::Diff {
                baseline,
                format,
                output,
                strict,
            }) => Command::Diff {
                baseline,
                format: format.into(),
                output,
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
                    reach,
                    narrowing,
                },
                exact_names: self.quiet,
            },
            output,
            numeric,
            timings: self.timings,
            verbose: self.verbose,
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
    clap_complete::generate(shell, &mut visible(&Args::command()), "whyport", out);
    Ok(())
}

/// `cmd` without its hidden arguments, for completion scripts:
/// clap_complete's generators offer hidden options (they honour `hide` only
/// on values), and clap cannot remove an argument, so the command is built
/// again from what completion uses: names, help, arguments, subcommands.
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(cmd.get_subcommands().map(visible))
        .aliases(cmd.get_aliases().map(str::to_string))
        .hide(cmd.is_hide_set())
        .subcommand_required(cmd.is_subcommand_required_set())
        .arg_required_else_help(cmd.is_arg_required_else_help_set())
        .args_conflicts_with_subcommands(cmd.is_args_conflicts_with_subcommands_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set());
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        out = out.long_about(about.clone());
    }
    // Their presence decides whether -h says "see more with '--help'".
    if let Some(text) = cmd.get_after_help() {
        out = out.after_help(text.clone());
    }
    if let Some(text) = cmd.get_after_long_help() {
        out = out.after_long_help(text.clone());
    }
    if let Some(name) = cmd.get_subcommand_value_name() {
        out = out.subcommand_value_name(name.to_string());
    }
    out
}

pub use man::{man, pages};
pub use usage::one_line as usage_line;

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
            &["-q", "--port", "80"],
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
        let c = config(&[
            "-t",
            "-4",
            "--port",
            "22,80",
            "--port",
            "8000-8100",
            "--json",
        ]);
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
                format: ReportFormat::Junit,
                output: None,
                fail_on: Severity::Low
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
                output: None,
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
        // audit --json is --format json; -o goes with audit and diff.
        assert_eq!(
            config(&["audit", "--policy", "p", "--json", "-o", "r.json"]).command,
            Command::Audit {
                policy: "p".into(),
                format: ReportFormat::Json,
                output: Some("r.json".into()),
                fail_on: Severity::Low
            }
        );
        assert!(matches!(
            config(&["diff", "b.json", "-o", "d.txt"]).command,
            Command::Diff {
                output: Some(_),
                ..
            }
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
        assert!(Args::try_parse_from(["whyport", "--port", "70000"]).is_err());
        assert!(Args::try_parse_from(["whyport", "--port", "8080-80"]).is_err());
        assert!(Args::try_parse_from(["whyport", "--json", "-q"]).is_err());
    }

    #[test]
    fn ss_and_netstat_habits_work_as_typed() {
        // -l, -p and -a change nothing: the same listing as no flag at all.
        for (args, protocols) in [
            (&["-tulpn"][..], vec![Protocol::Tcp, Protocol::Udp]),
            (&["-tlnp"], vec![Protocol::Tcp]),
            (&["-ulpn"], vec![Protocol::Udp]),
            (&["-plant"], vec![Protocol::Tcp]),
            (&["-l", "-p", "-a"], vec![Protocol::Tcp, Protocol::Udp]),
        ] {
            let c = config(args);
            assert_eq!(c.query.filter.protocols, protocols, "{args:?}");
            assert!(c.query.targets.is_empty() && c.query.filter.ports.is_empty());
            assert_eq!(c.output, Output::Table { header: true }, "{args:?}");
            assert_eq!(c.numeric, args[0].contains('n'), "{args:?}");
        }
        // -p takes no value: what follows is a target (port 1234 for the
        // lsof user who meant a PID, documented in docs/usage.md).
        let c = config(&["-p", "1234"]);
        assert_eq!(c.output, Output::Explain);
        assert!(
            matches!(
                c.query.targets.as_slice(),
                [Target::Ports { range, protocol: None }] if (range.start, range.end) == (1234, 1234)
            ),
            "{:?}",
            c.query.targets
        );
        assert!(c.query.filter.ports.is_empty());
        // Ports as a filter are spelled out.
        let c = config(&["-tulpn", "--port", "22,80"]);
        assert_eq!(c.query.filter.ports.len(), 2);
        assert_eq!(c.output, Output::Table { header: true });
    }
}
