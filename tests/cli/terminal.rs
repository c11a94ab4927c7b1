//! The table and the live view in a real terminal: tmux panes of 80, 100
//! and 200 columns, captured as a user sees them.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Child, Skip, bin_path, have, skip, sockets_guard};

/// A detached tmux session running `command`, killed when dropped.
struct Pane {
    name: String,
}

impl Pane {
    fn start(test: &str, width: u16, command: &str) -> Pane {
        Pane::sized(test, width, 24, command)
    }

    fn sized(test: &str, width: u16, height: u16, command: &str) -> Pane {
        let name = format!("wp-{test}-{}-{width}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", &width.to_string()])
            .args(["-y", &height.to_string(), command])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Pane { name }
    }

    /// The screen's text; with `joined`, wrapped lines joined into one.
    fn capture(&self, joined: bool) -> String {
        let mut cmd = Command::new("tmux");
        cmd.args(["capture-pane", "-p", "-t", &self.name]);
        if joined {
            cmd.arg("-J");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    }

    /// Wait up to 10 s for the screen to satisfy `ok`; the last screen.
    fn wait(&self, ok: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.capture(false);
            if ok(&text) || Instant::now() > until {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.name, keys])
            .status()
            .unwrap();
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

#[test]
fn the_table_fits_80_100_and_200_columns_and_says_how_many_pids_it_cut() {
    let test = "the_table_fits_80_100_and_200_columns_and_says_how_many_pids_it_cut";
    if !have("tmux") {
        return skip(test, Skip::Tool("tmux"), "tmux is not installed");
    }
    let _g = sockets_guard();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Thirteen holders: a PID list of ~80 cells that cannot fit at 80.
    let _children: Vec<Child> = (0..12)
        .map(|_| Child::fork("wp-holder", &[listener.as_raw_fd()], None))
        .collect();
    let holders = 13;
    for width in [80u16, 100, 200] {
        // The whole host, then only our port: both must fit.
        let command = format!(
            "{bin}; {bin} --port {port}; echo DONE; sleep 60",
            bin = bin_path().display()
        );
        let pane = Pane::start("fits", width, &command);
        let screen = pane.wait(|s| s.contains("DONE"));
        assert!(screen.contains("DONE"), "{screen}");
        // Nothing wrapped: joining wrapped lines changes nothing (a
        // captured line can never be wider than the pane; a joined one can).
        assert_eq!(pane.capture(true), screen, "a line wrapped at {width}");
        let row = screen
            .lines()
            .rev()
            .find(|l| l.split_whitespace().nth(2) == Some(&port.to_string()))
            .unwrap_or_else(|| panic!("no row for port {port}:\n{screen}"));
        let pids = row.split_whitespace().nth(4).unwrap();
        let more = row
            .split_whitespace()
            .nth(5)
            .and_then(|m| m.strip_prefix('+'))
            .and_then(|n| n.parse::<usize>().ok());
        let shown = pids.split(',').count();
        match more {
            Some(n) => assert_eq!(shown + n, holders, "{row}"),
            None => assert_eq!(shown, holders, "the whole list or +N: {row}"),
        }
        if width == 80 {
            assert!(more.is_some(), "13 PIDs cannot fit at 80: {row}");
        }
    }
}

#[test]
fn watch_on_a_terminal_is_a_live_table_marking_what_opened_and_closed() {
    let test = "watch_on_a_terminal_is_a_live_table_marking_what_opened_and_closed";
    if !have("tmux") {
        return skip(test, Skip::Tool("tmux"), "tmux is not installed");
    }
    let _g = sockets_guard();
    let command = format!(
        "echo BEFORE; {} watch --interval 0.2; echo EXIT=$?; sleep 60",
        bin_path().display()
    );
    let pane = Pane::start("watch", 80, &command);
    let screen = pane.wait(|s| s.contains("PROTO"));
    assert!(screen.starts_with("whyport watch:"), "{screen}");
    assert!(
        !screen.contains("BEFORE"),
        "on the alternate screen: {screen}"
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let row_of = |s: &str, mark: &str| {
        s.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&mark) && f.get(3) == Some(&port.as_str())
        })
    };
    let screen = pane.wait(|s| row_of(s, "+"));
    assert!(row_of(&screen, "+"), "opened row marked +:\n{screen}");
    // The live view redraws, so one joined capture: a line the terminal
    // wrapped comes back whole, wider than the pane.
    for line in pane.capture(true).lines() {
        assert!(line.chars().count() <= 80, "wrapped: {line}\n{screen}");
    }
    drop(listener);
    let screen = pane.wait(|s| row_of(s, "-"));
    assert!(row_of(&screen, "-"), "closed row marked -:\n{screen}");
    pane.keys("C-c");
    let screen = pane.wait(|s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "Ctrl-C exits 0:\n{screen}");
    assert!(
        screen.contains("BEFORE"),
        "the screen is restored:\n{screen}"
    );
    assert!(!screen.contains("PROTO"), "the table is gone:\n{screen}");
}

/// An audit's WHY is prose: at 80 columns it wraps under its column, whole,
/// instead of being cut.
#[test]
fn audit_prose_wraps_at_80_columns() {
    let test = "audit_prose_wraps_at_80_columns";
    if !have("tmux") {
        return skip(test, Skip::Tool("tmux"), "tmux is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nport = 80\nbind = \"loopback\"\nprocess = \"nginx\"\n",
    )
    .unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nginx-netns");
    let command = format!(
        "{} audit --policy {} --proc-root {}; echo DONE; sleep 60",
        bin_path().display(),
        policy.display(),
        fixture.display()
    );
    let pane = Pane::sized("prose", 80, 200, &command);
    let screen = pane.wait(|s| s.contains("DONE"));
    assert!(screen.contains("DONE"), "{screen}");
    assert_eq!(pane.capture(true), screen, "a line wrapped by the terminal");
    // Every WHY said in full across its lines (a narrow column breaks
    // within words, so compare without white space).
    let whole: String = screen.split_whitespace().collect();
    for said in [
        "runitasanunprivilegeduser",
        "thesocketisboundto",
        "andthedefaultisdeny",
    ] {
        assert!(whole.contains(said), "{said} in\n{screen}");
    }
}
