//! whyport: why is this port open? Parse, run, map the result to an exit
//! code (0 listed, 1 nothing matched, 2 error; a closed pipe is success).

mod app;
mod audit;
mod chunks;
mod cli;
mod collect;
mod config;
mod explain;
mod model;
mod ports;
mod query;
mod render;
mod report;
mod sanitize;
mod services;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::collect::Source;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(collect::files::Output(stdout.lock()));
    let mut err = io::stderr();
    match app::run(&config, &mut out, &mut err) {
        Ok(app::Outcome::Listed) => ExitCode::SUCCESS,
        Ok(app::Outcome::NothingMatched | app::Outcome::Findings) => ExitCode::from(1),
        Ok(app::Outcome::Undetermined) => ExitCode::from(2),
        // Only where no verdict was reached (watch, completions, man):
        // commands with a verdict return it despite a closed pipe.
        Err(e) if app::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<app::UserError>().is_some() => {
            if let Some(u) = e.downcast_ref::<app::UserError>() {
                let _ = writeln!(
                    err,
                    "whyport: {}: {}",
                    sanitize::one_line(&u.message),
                    u.hint
                );
            }
            ExitCode::from(2)
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "whyport: {}: {}",
                sanitize::one_line(&format!("{e:#}")),
                hint(&config.source, &e)
            );
            ExitCode::from(2)
        }
    }
}

/// clap's own message, reduced to one line in whyport's error format with
/// what clap knew (cli::usage_line); `--help` and `--version` print as usual.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // clap quotes the offending argument as typed: escaped like any other
    // text a user (or a script fed hostile input) put there.
    eprintln!(
        "whyport: {}",
        sanitize::one_line(&cli::usage_line(e, &argv))
    );
    ExitCode::from(2)
}

/// What the user can do about a runtime error.
fn hint(source: &Source, e: &anyhow::Error) -> &'static str {
    if collect::files::is_unwritten(e) {
        return "free space where standard output goes, or send it somewhere writable";
    }
    let denied = e
        .chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::PermissionDenied);
    match source {
        Source::Recorded(_) => {
            "--proc-root must name a recorded tree that contains proc/net and proc/<pid> directories"
        }
        Source::Live if denied => "run whyport with sudo",
        Source::Live => "check that /proc is mounted; if it is, please report this as a bug",
    }
}
