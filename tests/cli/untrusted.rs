//! Process names and command lines are untrusted bytes: JSON keeps them
//! recoverable, the table shows them escaped on one line.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use crate::support::*;

const SCRIPT: &str = r#"
import ctypes, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
ctypes.CDLL(None).prctl(15, b"ev\xff\x1b[2J\n22 tcp", 0, 0, 0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hostile_names_and_command_lines() {
    if !have(PYTHON3) {
        skip(
            "hostile_names_and_command_lines",
            Skip::Tool("python3"),
            "python3 is not installed",
        );
        return;
    }
    let _g = sockets_guard();
    let bad_arg: &[u8] = b"\xff\xfe\x1b]0;pwned\x07";
    let (_child, port) = python_listener(
        SCRIPT,
        &[
            OsStr::from_bytes(bad_arg),
            OsStr::new("line\nbreak \u{202e}txt"),
        ],
    );

    let list = listing(&["-t", "-4", "--port", &port]);
    assert_eq!(list.version, 2);
    assert_eq!(list.iana_snapshot, "2026-04-09");
    let l = &list.listeners[0];
    assert_eq!(l.socket_uid, unsafe { libc::getuid() });
    let p = &l.processes[0];
    let raw_name = b"ev\xff\x1b[2J\n22 tcp";
    assert_eq!(p.name_hex.as_deref(), Some(hex(raw_name).as_str()));
    assert_eq!(p.name, String::from_utf8_lossy(raw_name));
    assert!(p.exe_hex.is_none(), "the python3 path is valid UTF-8");
    let cmd_hex = p
        .cmdline_hex
        .as_ref()
        .expect("cmdline_hex is set when an argument is not UTF-8");
    assert_eq!(cmd_hex[3], hex(bad_arg));
    assert_eq!(cmd_hex.len(), p.cmdline.len());
    assert_eq!(
        p.cmdline[4], "line\nbreak \u{202e}txt",
        "valid UTF-8 is kept as is in JSON"
    );

    let text = table(&["--no-header", "-t", "-4", "--port", &port]);
    assert_eq!(
        text.lines().count(),
        1,
        "an embedded newline must not forge a row: {text}"
    );
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains(r"ev\xff\x1b[2J\x0a22 tcp"), "{text}");

    // The prose explanation escapes the same way: name, command line.
    let prose = table(&["-t", "-4", &port]);
    let dangerous =
        |c: char| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c);
    assert!(!prose.chars().any(dangerous), "{prose:?}");
    assert!(prose.contains(r"ev\xff\x1b[2J\x0a22 tcp"), "{prose}");
    assert!(prose.contains(r"\xff\xfe\x1b]0;pwned\x07"), "{prose}");
    assert!(prose.contains(r"line\x0abreak \u{202e}txt"), "{prose}");
    assert!(
        !prose.lines().any(|l| l.starts_with("22 tcp")),
        "no forged line: {prose}"
    );

    // Audit and diff reports, and the policy init writes, escape it too.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[[allow]]\nport = 1\n").unwrap();
    let audit = run(whyport().args(["audit", "--policy", policy.to_str().unwrap()]));
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(!text.chars().any(dangerous), "{text:?}");
    assert!(text.contains(r"ev\xff\x1b[2J\x0a22 tcp"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("22 tcp")), "{text}");
    let init = run(whyport().args(["policy", "init"]));
    let toml_text = String::from_utf8_lossy(&init.stdout);
    assert!(!toml_text.chars().any(dangerous), "{toml_text:?}");
    assert!(
        !toml_text.lines().any(|l| l.starts_with("22 tcp")),
        "a name cannot forge a policy line: {toml_text}"
    );
    let base = dir.path().join("empty.json");
    std::fs::write(&base, "{\"version\": 1, \"listeners\": []}").unwrap();
    let diff = run(whyport().args(["diff", base.to_str().unwrap()]));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(!text.chars().any(dangerous), "{text:?}");
    assert!(text.contains(r"ev\xff\x1b[2J\x0a22 tcp"), "{text}");
    let watch_text =
        String::from_utf8_lossy(&run(whyport().args(["--format", "ndjson"])).stdout).into_owned();
    for line in watch_text.lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
}

/// A python3 process named `name` (at most 15 bytes: the kernel's limit)
/// holding a listening TCP socket on 127.0.0.1; with its port.
fn named_listener(name: &[u8]) -> (Spawned, String) {
    const NAMED: &str = r#"
import ctypes, os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
ctypes.CDLL(None).prctl(15, os.fsencode(sys.argv[1]), 0, 0, 0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;
    python_listener(NAMED, &[OsStr::from_bytes(name)])
}

/// Debian's python3 running `script` with `args`, which prints the port it
/// listens on first; the process and that port.
fn python_listener(script: &str, args: &[&OsStr]) -> (Spawned, String) {
    let mut child = Spawned::start(
        Command::new(PYTHON3)
            .args(["-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut port = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    (child, port.trim().to_string())
}

/// Characters that must never reach a terminal raw (a newline ends lines).
fn invisible(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}'
            | '\u{e0000}'..='\u{e0fff}' | '\u{2800}' | '\u{3164}' | '\u{115f}' | '\u{1160}' | '\u{ffa0}')
}

/// Tag characters, the Braille blank and the Hangul filler in a process
/// name are escaped in the table, the explanation, audit reports and the
/// comments of `policy init`; a U+202E typed in an argument is escaped in
/// the error that echoes it.
#[test]
fn invisible_characters_in_names_and_arguments_are_escaped() {
    if !have(PYTHON3) {
        skip(
            "invisible_characters_in_names_and_arguments_are_escaped",
            Skip::Tool("python3"),
            "python3 is not installed",
        );
        return;
    }
    let _g = sockets_guard();
    let name = "t\u{e0041}\u{2800}\u{3164}";
    let shown = r"t\u{e0041}\u{2800}\u{3164}";
    let (_child, port) = named_listener(name.as_bytes());

    let row = table(&["--no-header", "-t", "-4", "--port", &port]);
    assert!(!row.chars().any(invisible), "{row:?}");
    assert!(row.contains(shown), "{row}");
    let prose = table(&["-t", "-4", &port]);
    assert!(!prose.chars().any(invisible), "{prose:?}");
    assert!(prose.contains(shown), "{prose}");
    let init = table(&["policy", "init"]);
    assert!(!init.chars().any(invisible), "{init:?}");
    assert!(
        init.contains(r#"process = "t\U000E0041\u2800\u3164""#),
        "{init}"
    );

    for args in [
        vec!["\u{202e}8080"],
        vec!["--pid", "1\u{202e}"],
        vec!["80/\u{202e}tcp"],
    ] {
        let out = run(whyport().args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.chars().any(invisible), "{args:?}: {err:?}");
        assert!(err.contains(r"\u{202e}"), "{args:?}: {err}");
    }
    let out = run(whyport().args(["--process", "x\u{202e}\u{e0041}"]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.chars().any(invisible), "{text:?}");
    assert!(text.contains(r"x\u{202e}\u{e0041}"), "{text}");
}

/// A process named like a spreadsheet formula is written to CSV so that no
/// spreadsheet runs it; the columns whyport writes itself are untouched.
#[test]
fn csv_cells_never_start_a_formula() {
    if !have(PYTHON3) {
        skip(
            "csv_cells_never_start_a_formula",
            Skip::Tool("python3"),
            "python3 is not installed",
        );
        return;
    }
    let _g = sockets_guard();
    // The kernel keeps 15 bytes: `=cmd|'/c calc'!`.
    let (_child, port) = named_listener(b"=cmd|'/c calc'!A1");
    let out = run(whyport().args(["--format", "csv", "-t", "-4", "--port", &port]));
    assert_eq!(out.status.code(), Some(0));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| &rows[0][header.iter().position(|h| h == name).unwrap()];
    assert_eq!(col("processes"), "'=cmd|'/c calc'!");
    assert_eq!(col("port"), port);
    assert_eq!(col("address"), "127.0.0.1");
    for cell in rows[0].iter() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{cell:?} would run as a formula"
        );
    }
}
