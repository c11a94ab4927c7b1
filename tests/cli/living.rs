//! What makes whyport livable: completions and a man page generated from
//! the CLI definition, color only where it belongs, tables that fit the
//! terminal, and `whyport watch`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::procs::{find_program, signal};
use crate::support::*;

#[test]
fn completions_and_man_page_generate_and_parse() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(whyport().args(["completions", shell]));
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("whyport") && text.contains("audit"),
            "{shell}: {text}"
        );
        // Hidden options are not offered; what is offered still is.
        for hidden in ["--timings", "--proc-root", "Listening sockets only"] {
            assert!(!text.contains(hidden), "{shell} offers {hidden}: {text}");
        }
        for offered in ["no-header", "fail-on", "interval", "all-namespaces"] {
            assert!(text.contains(offered), "{shell} lost {offered}: {text}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("whyport.bash");
    std::fs::write(&script, run(whyport().args(["completions", "bash"])).stdout).unwrap();
    let check = run(Command::new("bash").arg("-n").arg(&script));
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The completion really completes: subcommands, and --format's values.
    let probe = format!(
        "source {}; COMP_WORDS=(whyport au); COMP_CWORD=1; _whyport whyport au whyport; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = run(Command::new("bash").args(["-c", &probe]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "audit",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (shell, flag) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if let Some(bin) = find_program(shell) {
            let file = dir.path().join(format!("c.{shell}"));
            std::fs::write(&file, run(whyport().args(["completions", shell])).stdout).unwrap();
            let check = run(Command::new(bin).arg(flag).arg(&file));
            assert!(
                check.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        } else {
            skip(
                "completions_and_man_page",
                Skip::Tool(shell),
                format!("{shell} is not installed to check its script"),
            );
        }
    }
    let man = run(whyport().arg("man"));
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH whyport 1"), "{page}");
    for word in [
        "audit",
        "snapshot",
        "diff",
        "watch",
        "completions",
        "\\-\\-all\\-namespaces",
        "\\-\\-color",
    ] {
        assert!(page.contains(word), "{word} missing from the man page");
    }
    let Some(groff) = find_program("groff") else {
        skip(
            "completions_and_man_page",
            Skip::Tool("groff"),
            "groff is not installed to render the man page",
        );
        return;
    };
    let file = dir.path().join("whyport.1");
    std::fs::write(&file, &man.stdout).unwrap();
    let render = run(Command::new(groff)
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&file));
    assert!(render.status.success());
    assert!(
        render.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&render.stderr)
    );
    assert!(String::from_utf8_lossy(&render.stdout).contains("why is this port open"));
}

/// The pages `whyport man --dir` writes: one per command and the policy
/// format.
const PAGES: &[&str] = &[
    "whyport.1",
    "whyport-audit.1",
    "whyport-completions.1",
    "whyport-diff.1",
    "whyport-man.1",
    "whyport-policy.1",
    "whyport-policy-init.1",
    "whyport-snapshot.1",
    "whyport-watch.1",
    "whyport-policy.5",
];

#[test]
fn every_man_page_is_written_named_once_and_renders_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(whyport().args(["man", "--dir"]).arg(dir.path()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut want: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    want.sort();
    assert_eq!(written, want);
    let groff = find_program("groff");
    for file in PAGES {
        let page = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let (name, section) = file.rsplit_once('.').unwrap();
        // `whyport man PAGE` prints the same page.
        let short = name.strip_prefix("whyport-").unwrap_or(name);
        let asked = if section == "5" {
            format!("{short}.5")
        } else {
            short.to_string()
        };
        let one = run(whyport().args(["man", &asked]));
        assert_eq!(
            String::from_utf8_lossy(&one.stdout),
            page,
            "whyport man {asked}"
        );
        assert!(page.contains(&format!(".TH {name} {section} ")), "{file}");
        // NAME: "whyport\-audit \- check ...", the name once.
        let roff_name = name.replace('-', "\\-");
        let line = page
            .lines()
            .skip_while(|l| *l != ".SH NAME")
            .nth(1)
            .unwrap_or_default();
        assert!(
            line.starts_with(&format!("{roff_name} \\- ")),
            "{file}: {line}"
        );
        assert_eq!(line.matches("whyport").count(), 1, "{file}: {line}");
        for section in [
            ".SH SYNOPSIS",
            ".SH ENVIRONMENT",
            "WHYPORT_NO_BPF",
            "NO_COLOR",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(section), "{file}: no {section}");
        }
        if section == "1" {
            assert!(
                page.contains(".SH EXAMPLES") && page.contains(".SH \"EXIT STATUS\""),
                "{file}"
            );
        }
        let Some(groff) = &groff else { continue };
        let render = run(Command::new(groff)
            .args(["-man", "-Tutf8", "-ww"])
            .arg(dir.path().join(file)));
        assert!(render.status.success(), "{file}");
        assert!(
            render.stderr.is_empty(),
            "{file}: groff warnings: {}",
            String::from_utf8_lossy(&render.stderr)
        );
    }
    if groff.is_none() {
        skip(
            "every_man_page",
            Skip::Tool("groff"),
            "groff is not installed to render the pages (.ci/run installs groff-base)",
        );
    }
    // SYNOPSIS shows option values; examples stay examples, a line each.
    let audit = std::fs::read_to_string(dir.path().join("whyport-audit.1")).unwrap();
    let synopsis = audit
        .lines()
        .skip_while(|l| *l != ".SH SYNOPSIS")
        .nth(1)
        .unwrap();
    assert!(
        synopsis.contains("\\fB\\-\\-policy\\fR \\fIFILE\\fR"),
        "{synopsis}"
    );
    assert!(synopsis.contains("\\fB\\-o\\fR \\fIFILE\\fR"), "{synopsis}");
    assert!(
        audit.contains(".TP\n\\fBwhyport audit \\-\\-policy whyport.toml \\-\\-json\\fR\n"),
        "{audit}"
    );
    // The policy format page carries docs/policy.md's reference.
    let policy = std::fs::read_to_string(dir.path().join("whyport-policy.5")).unwrap();
    assert!(policy.contains("process_hex") && policy.contains("not\\-allowed"));
    let o = run(whyport().args(["man", "nope"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn short_help_fits_a_screen_and_long_help_has_examples() {
    for command in [
        &["audit"][..],
        &["diff"],
        &["snapshot"],
        &["policy"],
        &["policy", "init"],
        &["watch"],
        &["man"],
        &[],
    ] {
        let help = |flag: &str| {
            let o = run(whyport().args(command).arg(flag));
            assert!(o.status.success(), "{command:?} {flag}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (short, long) = (help("-h"), help("--help"));
        assert!(
            short.lines().count() < long.lines().count(),
            "{command:?}: -h {} lines, --help {}",
            short.lines().count(),
            long.lines().count()
        );
        // One screen: a terminal's 25 lines; the listing's many filters, 50.
        let screen = if command.is_empty() { 50 } else { 25 };
        assert!(short.lines().count() <= screen, "{command:?} -h: {short}");
        assert!(
            !short.contains("Examples:") && short.contains("--help"),
            "{command:?}: {short}"
        );
        let examples = long.split("Examples:\n").nth(1).unwrap_or_default();
        assert!(examples.contains("  whyport "), "{command:?}: {long}");
        assert!(
            long.contains("Exit status:") && long.contains("Manual: man whyport"),
            "{command:?}"
        );
    }
}

/// Run whyport `args` on a pseudo-terminal `cols` wide (util-linux
/// `script`), with `env`; its output with the terminal's \r removed.
fn on_terminal(cols: u16, env: &[(&str, &str)], args: &str) -> Option<String> {
    let script = find_program("script")?;
    let cmd = format!("stty cols {cols}; {} {args}", bin_path().display());
    let mut c = Command::new(script);
    c.args(["-qec", &cmd, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(&mut c);
    Some(String::from_utf8_lossy(&out.stdout).replace('\r', ""))
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A listener held by 12 forked children: a long PID(S) cell.
fn many_owners() -> (Socket, Vec<Child>, u16) {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    s.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    s.listen(8).unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
    let children = (0..12)
        .map(|_| Child::fork("wp-many-owners", &[fd], None))
        .collect();
    (s, children, port)
}

#[test]
fn color_only_on_a_terminal_and_never_in_json() {
    let _g = sockets_guard();
    let (_s, _children, port) = many_owners();
    let p = port.to_string();
    let esc = |t: &str| t.contains('\u{1b}');
    assert!(!esc(&table(&["--port", &p])), "no color in a pipe");
    assert!(esc(&table(&["--port", &p, "--color", "always"])));
    assert!(!esc(&table(&["--port", &p, "--color", "never"])));
    assert!(
        !esc(&table(&["--port", &p, "--json", "--color", "always"])),
        "never in JSON"
    );
    assert!(!esc(&table(&[
        "--port", &p, "--format", "csv", "--color", "always"
    ])));
    let Some(colored) = on_terminal(200, &[], &format!("--port {p}")) else {
        skip(
            "color_only_on_a_terminal",
            Skip::Tool("script"),
            "script (util-linux) is not installed",
        );
        return;
    };
    assert!(esc(&colored), "{colored:?}");
    // The PROCESS cell (its names in pid order) is bold.
    let at = colored
        .find("wp-many-owners")
        .unwrap_or_else(|| panic!("{colored:?}"));
    let (before, after) = colored.split_at(at);
    assert!(
        before.rfind("\u{1b}[1m") > before.rfind("\u{1b}[0m") && after.contains("\u{1b}[0m"),
        "the owners in bold: {colored:?}"
    );
    let plain = on_terminal(200, &[("NO_COLOR", "1")], &format!("--port {p}")).unwrap();
    assert!(!esc(&plain), "NO_COLOR: {plain:?}");
    let forced = on_terminal(
        200,
        &[("NO_COLOR", "1")],
        &format!("--port {p} --color always"),
    )
    .unwrap();
    assert!(esc(&forced), "--color always wins over NO_COLOR");
    let dumb = on_terminal(200, &[("TERM", "dumb")], &format!("--port {p}")).unwrap();
    assert!(!esc(&dumb), "TERM=dumb: {dumb:?}");
}

#[test]
fn tables_fit_the_terminal_unless_wide_or_piped() {
    let _g = sockets_guard();
    let (_s, children, port) = many_owners();
    let p = port.to_string();
    let all_pids: Vec<String> = children.iter().map(|c| c.pid.to_string()).collect();
    let piped = table(&["--port", &p, "--no-header"]);
    for pid in &all_pids {
        assert!(
            piped.contains(pid.as_str()),
            "a pipe gets everything: {piped}"
        );
    }
    let Some(narrow) = on_terminal(80, &[], &format!("--port {p}")) else {
        skip(
            "tables_fit_the_terminal",
            Skip::Tool("script"),
            "script (util-linux) is not installed",
        );
        return;
    };
    let narrow = strip_ansi(&narrow);
    let lines: Vec<&str> = narrow
        .lines()
        .filter(|l| l.contains(&format!("  {p}  ")) || l.starts_with("PROTO"))
        .collect();
    assert_eq!(lines.len(), 2, "{narrow}");
    for l in &lines {
        assert!(unicode_width(l) <= 80, "{} cells: {l}", unicode_width(l));
    }
    assert!(
        lines[1].contains('…'),
        "the PID list is cut with a marker: {}",
        lines[1]
    );
    let wide = strip_ansi(&on_terminal(80, &[], &format!("--port {p} --wide")).unwrap());
    for pid in &all_pids {
        assert!(
            wide.contains(pid.as_str()),
            "--wide shows everything: {wide}"
        );
    }
    // The explanation cuts long lines (the command line) the same way.
    let prose = strip_ansi(&on_terminal(50, &[], &p).unwrap());
    // (stderr's notices share the terminal and are not cut.)
    assert!(
        prose
            .lines()
            .filter(|l| !l.starts_with("whyport: "))
            .all(|l| unicode_width(l) <= 50),
        "{prose}"
    );
    assert!(prose.contains('…'), "{prose}");
}

/// Terminal cells, as whyport measures them (a counted `char` would
/// under-count wide characters).
fn unicode_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `whyport watch --json ARGS`, past its first line on stderr, and its
/// events as they come.
fn watch_events(args: &[&str]) -> (Spawned, std::sync::mpsc::Receiver<serde_json::Value>) {
    let mut child = Spawned::start(
        whyport()
            .args(["watch", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("whyport: watching "), "{line}");
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&l).unwrap()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn watch_reports_a_listener_opened_then_closed() {
    let _g = sockets_guard();
    let interval = Duration::from_millis(500);
    let (mut child, rx) = watch_events(&["--interval", "0.5"]);
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_only_v6(true).unwrap();
    s.bind(&"[::1]:0".parse::<std::net::SocketAddr>().unwrap().into())
        .unwrap();
    let port = u64::from(s.local_addr().unwrap().as_socket().unwrap().port());
    let opened_at = Instant::now();
    let wait_for = |event: &str| loop {
        let v = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no {event} event for port {port}"));
        if v["event"] == event && v["listener"]["port"] == port {
            return v;
        }
    };
    let opened = wait_for("opened");
    let seen_open = opened_at.elapsed();
    assert_eq!(opened["listener"]["protocol"], "udp");
    assert_eq!(opened["listener"]["processes"][0]["pid"], my_pid());
    assert!(opened["time"].as_str().unwrap().ends_with('Z'));
    drop(s);
    let closed_at = Instant::now();
    let closed = wait_for("closed");
    let seen_closed = closed_at.elapsed();
    assert_eq!(closed["listener"]["inode"], opened["listener"]["inode"]);
    eprintln!(
        "watch: open seen after {seen_open:?}, close after {seen_closed:?} (interval {interval:?})"
    );
    // How soon is said above, not asserted: a loaded machine is slower,
    // and timings belong in benchmarks.
    // Ctrl-C ends it cleanly.
    signal(child.0.id(), libc::SIGINT);
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// `watch --exposed` reports a wildcard listener and never a loopback one
/// (the same reach as the listing's --exposed).
#[test]
fn watch_filters_by_reach() {
    let _g = sockets_guard();
    let (mut child, rx) = watch_events(&["--exposed", "-t", "--interval", "0.3"]);
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let wide = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let (local_port, wide_port) = (
        u64::from(local.local_addr().unwrap().port()),
        u64::from(wide.local_addr().unwrap().port()),
    );
    // Is a wildcard exposed on this host at all (a non-loopback address)?
    let wide_exposed = json_exposure(&run(whyport().args([
        "--json",
        "--port",
        &wide_port.to_string(),
    ])));
    if wide_exposed.as_deref() != Some("exposed") {
        signal(child.0.id(), libc::SIGINT);
        let _ = child.0.wait();
        skip(
            "watch_filters_by_reach",
            Skip::Other,
            "this host has no address besides loopback, so nothing is exposed",
        );
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_wide = false;
    while Instant::now() < deadline {
        let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) else {
            if seen_wide {
                break;
            }
            continue;
        };
        let port = &v["listener"]["port"];
        assert_ne!(
            *port, local_port,
            "a loopback listener passed --exposed: {v}"
        );
        if *port == wide_port && v["event"] == "opened" {
            seen_wide = true;
        }
    }
    assert!(
        seen_wide,
        "no opened event for the wildcard port {wide_port}"
    );
    drop((local, wide));
    signal(child.0.id(), libc::SIGINT);
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

fn json_exposure(out: &std::process::Output) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["listeners"][0]["exposure"].as_str().map(str::to_string)
}
