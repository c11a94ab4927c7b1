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
        (&["--port", "70000"][..], "1-65535"),
        (&["--port", "8080-80"][..], "low-high"),
        (&["--port", "http"][..], "not a port"),
        (&["--bogus"][..], "--bogus"),
        (&["80/sctp"][..], "unknown protocol"),
        (&["8080-80"][..], "low-high"),
        (&["--json", "-q"][..], "cannot be used with"),
        // What clap knew stays: the missing argument, the valid values, the
        // subcommands, and the help of the command being parsed.
        (
            &["audit"][..],
            "--policy <FILE>: run 'whyport audit --help'",
        ),
        (&["completions", "tcsh"][..], "[possible values: bash, "),
        (&["policy"][..], "needs a command: init"),
    ] {
        let (code, err) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("whyport: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(err.contains("--help"), "{args:?}: {err}");
        assert!(!err.contains("::"), "{args:?}: {err}");
    }
}

#[test]
fn a_filter_that_matches_nothing_exits_1() {
    // Port 1 (tcpmux) is essentially never open.
    let out = run(whyport().args(["-t", "--port", "1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn help_documents_exit_codes_and_credits_iana() {
    let out = run(whyport().arg("--help"));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Exit status:") && text.contains("2  usage or runtime error"),
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

/// Runs whyport with its standard output a pipe nobody reads (closed
/// before whyport writes), as `| head -c1` does to a long output.
fn with_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    run(whyport().args(args).stdout(Stdio::from(writer)))
}

/// `args` exit 1 with a reader, and with none.
fn verdict_is_1_read_or_not(args: &[&str]) {
    assert_eq!(run(whyport().args(args)).status.code(), Some(1), "{args:?}");
    let out = with_closed_pipe(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
}

#[test]
fn a_closed_pipe_does_not_change_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = ["--proc-root", "fixtures/nginx-netns"];
    // The audit fails (every listener is denied) with or without a reader.
    let policy = dir.path().join("deny.toml");
    std::fs::write(&policy, "default = \"deny\"\n").unwrap();
    let policy = policy.to_str().unwrap();
    for format in ["table", "json", "junit", "prometheus"] {
        let args = [
            &["audit", "--policy", policy, "--format", format][..],
            &fixture,
        ]
        .concat();
        verdict_is_1_read_or_not(&args);
    }
    // The diff finds a change (the baseline lists one listener more).
    let snap = run(whyport().arg("snapshot").args(fixture));
    assert_eq!(snap.status.code(), Some(0));
    let mut doc: serde_json::Value = serde_json::from_slice(&snap.stdout).unwrap();
    let listeners = doc["listeners"].as_array_mut().unwrap();
    let mut extra = listeners[0].clone();
    extra["port"] = serde_json::json!(1);
    listeners.push(extra);
    let baseline = dir.path().join("base.json");
    std::fs::write(&baseline, serde_json::to_vec(&doc).unwrap()).unwrap();
    let baseline = baseline.to_str().unwrap();
    for format in ["table", "json"] {
        let args = [&["diff", baseline, "--format", format][..], &fixture].concat();
        verdict_is_1_read_or_not(&args);
    }
    // A port nothing listens on is 1; one something listens on is 0.
    for (args, code) in [
        (&["1"][..], 1),
        (&["1", "--json"], 1),
        (&["-t", "--port", "1"], 1),
        (&["80"], 0),
    ] {
        let out = with_closed_pipe(&[&fixture[..], args].concat());
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    }
}

#[test]
fn quiet_without_a_target_is_refused() {
    for args in [&["-q"][..], &["-q", "-t"], &["-qu"]] {
        let (code, err) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("-q needs a target"), "{err}");
    }
    // With a target it prints PIDs as before.
    let out = run(whyport().args(["--proc-root", "fixtures/nginx-netns", "-q", "80"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "6054\n6055\n6056\n");
}

#[test]
fn a_pid_that_holds_no_listener_says_what_it_is() {
    let explain = |pid: u32| {
        let out = run(whyport().args(["--pid", &pid.to_string()]));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // PIDs never exceed 2^22 on Linux.
    let (code, text) = explain(4_999_999);
    assert_eq!(code, Some(1));
    assert_eq!(text, "process 4999999: no such process\n");

    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, text) = explain(sleeper.id());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(code, Some(1));
    assert_eq!(
        text,
        format!("process {}: holds no listening socket\n", sleeper.id())
    );

    // Exited and not collected: a zombie until waited for.
    let mut zombie = std::process::Command::new("true").spawn().unwrap();
    let pid = zombie.id();
    let dead = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.starts_with(" Z")))
    });
    let (code, text) = explain(pid);
    let _ = zombie.wait();
    assert!(dead, "the child never became a zombie");
    assert_eq!(code, Some(1));
    assert!(text.contains(&format!("process {pid}: a zombie")), "{text}");
}

/// `whyport -tulpn` and friends, typed from ss and netstat habit, print
/// what the letters whyport gives meaning to print: -l, -p and -a change
/// nothing, and `-p 80` is the target 80.
#[test]
fn ss_habits_work_as_typed() {
    let fixture = ["--proc-root", "fixtures/nginx-netns"];
    let out = |args: &[&str]| {
        let o = run(whyport().args([&fixture[..], args].concat()));
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for (habit, meaning) in [
        (&["-tulpn"][..], &["-n"][..]),
        (&["-tlnp"], &["-t", "-n"]),
        (&["-plant"], &["-t", "-n"]),
        (&["-ulpn"], &["-u", "-n"]),
        (&["-l", "-p", "-a"], &[]),
        (&["-p", "80"], &["80"]),
    ] {
        let (code, stdout, stderr) = out(habit);
        assert_eq!(
            (code, &stdout),
            (out(meaning).0, &out(meaning).1),
            "{habit:?}: {stderr}"
        );
        assert!(!stderr.contains("unexpected"), "{habit:?}: {stderr}");
    }
    let (code, listing, _) = out(&["-tulpn"]);
    assert_eq!(code, Some(0));
    assert!(listing.starts_with("PROTO"), "{listing}");
}
