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
    if !have("python3") {
        eprintln!("SKIP hostile_names_and_command_lines: python3 is not installed");
        return;
    }
    let _g = sockets_guard();
    let bad_arg: &[u8] = b"\xff\xfe\x1b]0;pwned\x07";
    let mut child = Spawned::start(
        Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(OsStr::from_bytes(bad_arg))
            .arg("line\nbreak \u{202e}txt")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut port = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port = port.trim().to_string();

    let list = listing(&["-t", "-4", "-p", &port]);
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

    let text = table(&["--no-header", "-t", "-4", "-p", &port]);
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
