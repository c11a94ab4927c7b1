//! Usage errors in one line: clap's message with what clap knew (the
//! missing argument, the valid values, its tips, a command's subcommands)
//! and the `--help` of the command that was being parsed.

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{Command, CommandFactory};

use super::Args;

/// `MESSAGE: run 'whyport COMMAND --help' for usage`, from the error clap
/// returned for `argv` (argv[0] included). Not yet escaped: the caller
/// passes it through `sanitize::one_line` like any text a user typed.
pub fn one_line(e: &clap::Error, argv: &[OsString]) -> String {
    let mut root = Args::command();
    root.build();
    let cmd = command_of(&root, argv);
    let path = cmd.get_bin_name().unwrap_or("whyport").to_string();
    let message = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap prints the whole help here; say what is missing instead.
        let subs: Vec<&str> = cmd
            .get_subcommands()
            .map(Command::get_name)
            .filter(|n| *n != "help")
            .collect();
        format!("'{path}' needs a command: {}", subs.join(", "))
    } else {
        summary(&e.render().to_string())
    };
    format!("{message}: run '{path} --help' for usage")
}

/// clap's rendered error as one line: the message, the lines that detail it
/// (a missing argument, `[possible values: ...]`) and its tips; without the
/// usage and "For more information" blocks, which the hint replaces.
fn summary(text: &str) -> String {
    let mut line = String::new();
    let mut tips = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        if let Some(tip) = l.strip_prefix("tip:") {
            tips.push(tip.trim().to_string());
        } else if line.is_empty() {
            line = l.trim_start_matches("error:").trim().to_string();
        } else {
            // "were not provided:" + "--policy <FILE>" reads as one phrase;
            // several missing arguments as a list.
            let sep = if line.ends_with(':') || l.starts_with('[') {
                " "
            } else {
                ", "
            };
            line.push_str(sep);
            line.push_str(l);
        }
    }
    if line.is_empty() {
        line = "invalid arguments".to_string();
    }
    let line = line.trim_end_matches(':').to_string();
    if tips.is_empty() {
        line
    } else {
        format!("{line} (tip: {})", tips.join("; "))
    }
}

/// The (sub)command the words after `argv[0]` lead to from `cmd`: the first
/// word that is not an option, nor an option's value, names a subcommand or
/// ends the walk.
fn walk<'a>(mut cmd: &'a Command, argv: &[OsString]) -> &'a Command {
    let mut takes_value = false;
    for word in argv.iter().skip(1).filter_map(|w| w.to_str()) {
        if std::mem::take(&mut takes_value) {
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            takes_value = !long.contains('=')
                && cmd
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .is_some_and(|a| a.get_action().takes_values());
            continue;
        }
        if word.starts_with('-') {
            takes_value = word.chars().last().is_some_and(|c| {
                word.len() > 1
                    && cmd
                        .get_arguments()
                        .find(|a| a.get_short() == Some(c))
                        .is_some_and(|a| a.get_action().takes_values())
            });
            continue;
        }
        match cmd.find_subcommand(word) {
            Some(sub) => cmd = sub,
            None => break,
        }
    }
    cmd
}

/// The command clap was parsing: whyport's own commands only as the first
/// word (`args_conflicts_with_subcommands`: after an option, `policy` is a
/// target), theirs wherever their options allow.
fn command_of<'a>(root: &'a Command, argv: &[OsString]) -> &'a Command {
    match argv.get(1).and_then(|w| w.to_str()) {
        Some(first) => match root.find_subcommand(first) {
            Some(sub) => walk(sub, &argv[1..]),
            None => root,
        },
        None => root,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn line(args: &[&str]) -> String {
        let argv: Vec<OsString> = std::iter::once("whyport")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        match Args::try_parse_from(&argv) {
            Ok(a) => panic!("{args:?} parsed: {a:?}"),
            Err(e) => one_line(&e, &argv),
        }
    }

    #[test]
    fn the_missing_argument_is_named() {
        assert_eq!(
            line(&["audit"]),
            "the following required arguments were not provided: --policy <FILE>: run 'whyport audit --help' for usage"
        );
        assert!(line(&["diff"]).contains("<BASELINE>: run 'whyport diff --help'"));
    }

    #[test]
    fn the_valid_values_are_listed() {
        let l = line(&["completions", "tcsh"]);
        assert!(
            l.contains("'tcsh'") && l.contains("bash") && l.contains("zsh") && l.contains("fish"),
            "{l}"
        );
        assert!(
            l.ends_with("run 'whyport completions --help' for usage"),
            "{l}"
        );
        let l = line(&["--color", "sometimes"]);
        assert!(l.contains("always") && l.contains("never"), "{l}");
        let l = line(&["audit", "--policy", "p", "--format", "csv"]);
        assert!(
            l.contains("junit") && l.contains("whyport audit --help"),
            "{l}"
        );
    }

    #[test]
    fn a_command_without_its_subcommand_names_them() {
        assert_eq!(
            line(&["policy"]),
            "'whyport policy' needs a command: init: run 'whyport policy --help' for usage"
        );
        let l = line(&["policy", "--color", "never"]);
        assert!(
            l.contains("init") && l.ends_with("run 'whyport policy --help' for usage"),
            "an option's value is not a command: {l}"
        );
        // After an option, a word is a target (`policy` would be a process
        // name): an error in it points to whyport's own help.
        assert!(
            line(&["--color", "never", "policy/sctp"]).ends_with("run 'whyport --help' for usage")
        );
    }

    #[test]
    fn one_line_with_clap_tips() {
        for args in [
            &["--bogus"][..],
            &["-x"],
            &["--prot", "80"],
            &["audit", "--polcy", "p"],
        ] {
            let l = line(args);
            assert_eq!(l.lines().count(), 1, "{l}");
            assert!(!l.contains("::") && !l.contains("error:"), "{l}");
        }
        assert!(
            line(&["--prot", "80"]).contains("--port"),
            "clap's suggestion is kept"
        );
    }
}
