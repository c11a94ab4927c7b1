//! The skip log and its judge: what `.ci/run` counts and fails on, since
//! cargo hides the SKIP lines of passing tests.

use std::path::Path;
use std::process::{Command, Output};

use crate::skip::record;
use crate::support::*;

fn judge(log: &Path, provided: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/skips");
    run(Command::new("bash").arg(script).arg(log).args(provided))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_skip_is_one_line_naming_its_tool_or_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    record(&log, "t1", Skip::Tool("zsh"), "zsh is not installed");
    record(&log, "t2", Skip::NotRoot, "needs root");
    record(
        &log,
        "t\t3",
        Skip::Other,
        "podman run failed:\n\tno\tnetwork",
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "tool\tzsh\tt1\ntool\troot\tt2\nother\tpodman run failed: no network\tt 3\n"
    );
}

#[test]
fn skips_for_provided_tools_fail_and_others_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    record(&log, "completions", Skip::Tool("zsh"), "");
    record(&log, "pwsh_check", Skip::Tool("pwsh"), "");
    record(&log, "loadgen", Skip::Other, "the fd hard limit is 1024");
    record(&log, "bpf", Skip::NotRoot, "");

    let o = judge(&log, &["zsh", "fish", "root"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "skipped: 4 (zsh x1; pwsh x1; other: the fd hard limit is 1024 x1; root x1)\n"
        ),
        "{text}"
    );
    assert!(text.contains("  SKIP pwsh_check (pwsh)\n"), "{text}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("zsh (completions)") && err.contains("root (bpf)") && !err.contains("pwsh"),
        "{err}"
    );

    // A tool .ci/run does not provide may skip, said in the summary.
    let o = judge(&log, &["fish"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).starts_with("skipped: 4 ("), "{}", stdout(&o));

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let o = judge(&empty, &["zsh"]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "skipped: 0\n")
    );
}

#[test]
fn an_unreadable_or_malformed_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    assert_eq!(judge(&log, &[]).status.code(), Some(2), "no log");
    std::fs::write(&log, "tool\tzsh\n").unwrap();
    assert_eq!(judge(&log, &["zsh"]).status.code(), Some(2), "two fields");
}
