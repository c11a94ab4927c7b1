//! Exit codes and error messages: 0 listed, 1 nothing matched, 2 error;
//! errors are one line that says what to do; a closed pipe is not an error.

use std::process::Stdio;

use crate::support::*;

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = run(whyport().args(args));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    for (args, needle) in [
        (&["-p", "70000"][..], "1-65535"),
        (&["-p", "8080-80"][..], "low-high"),
        (&["-p", "http"][..], "not a port"),
        (&["--bogus"][..], "--bogus"),
        (&["80/sctp"][..], "unknown protocol"),
        (&["8080-80"][..], "low-high"),
        (&["--json", "-q"][..], "cannot be used with"),
    ] {
        let (code, err) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("whyport: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

#[test]
fn a_filter_that_matches_nothing_exits_1() {
    // Port 1 (tcpmux) is essentially never open.
    let out = run(whyport().args(["-t", "-p", "1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn help_documents_exit_codes_and_credits_iana() {
    let out = run(whyport().arg("--help"));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Exit codes:") && text.contains("2  usage or runtime error"),
        "{text}"
    );
    assert!(
        text.contains("IANA") && text.contains("2026-04-09"),
        "{text}"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = run(whyport()
        .args(["--proc-root", "fixtures/nginx-netns"])
        .stdout(Stdio::from(writer)));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_proc_root_is_a_clear_error() {
    let (code, err) = stderr_of(&["--proc-root", "/nonexistent/whyport"]);
    assert_eq!(code, Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("whyport: ") && err.contains("--proc-root must name"),
        "{err}"
    );
}
