//! The resolved configuration of one run: what to read, what was asked
//! (a `Query`) and how to print it. Built by `cli`, free of clap types;
//! plain data.

use std::path::PathBuf;

use crate::query::Query;

/// Everything `app::run` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The live system, or a recorded tree (`--proc-root`).
    pub source: Source,
    /// What was asked: targets and filters.
    pub query: Query,
    pub output: Output,
    /// Show numbers instead of names: no service names, uids for users.
    pub numeric: bool,
    /// `--verbose`: say in full what could not be seen, why, and the fix.
    pub verbose: bool,
    /// Print how long each phase took on stderr (`--timings`).
    pub timings: bool,
    /// The listing, or one of the subcommands.
    pub command: Command,
    /// List the sockets of every network namespace (`-A`).
    pub all_namespaces: bool,
    /// Color and width of human-readable output.
    pub look: Look,
    /// `--backend`: native (Linux) or portable.
    pub backend: Backend,
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
        /// `-o FILE`: the report goes there instead of standard output.
        output: Option<std::path::PathBuf>,
        /// `--fail-on`: the least severity that fails the audit.
        fail_on: crate::audit::severity::Severity,
    },
    /// `whyport policy init`: a policy allowing what is open now.
    PolicyInit { output: Option<std::path::PathBuf> },
    /// `whyport snapshot`: the JSON listing, for `diff` later.
    Snapshot { output: Option<std::path::PathBuf> },
    /// `whyport completions SHELL`: a completion script.
    Completions { shell: String },
    /// `whyport man [PAGE]`: one man page (whyport(1) by default), or
    /// with `--dir DIR` every page written there.
    Man {
        page: Option<String>,
        dir: Option<std::path::PathBuf>,
    },
    /// `whyport watch`: listeners opening and closing, as they happen.
    Watch {
        interval: std::time::Duration,
        json: bool,
        /// On a terminal: the table, redrawn in place, instead of events.
        live: bool,
        /// `-t`, `-u`, `--port`: only the listeners these keep.
        filter: crate::query::Filter,
    },
    /// `whyport diff BASELINE`.
    Diff {
        baseline: std::path::PathBuf,
        format: ReportFormat,
        /// `-o FILE`: the report goes there instead of standard output.
        output: Option<std::path::PathBuf>,
        /// Also count PIDs, start times and command lines.
        strict: bool,
    },
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
    /// collector; `detail` (`prometheus-detailed`) adds a series per socket
    /// and per forward to the audit's bounded default.
    Prometheus {
        detail: bool,
    },
}

/// Where to read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The running system.
    Live,
    /// A recorded tree: `<dir>/proc` (including `proc/net`) and optionally
    /// `<dir>/etc/passwd`. Used by tests and for offline analysis.
    Recorded(PathBuf),
}

/// The Linux backend (netlink, /proc), or the portable one (netstat2,
/// sysinfo) that other platforms use and Linux can be asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Native,
    Portable,
}
