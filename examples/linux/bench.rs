//! whyport's benchmark: starts examples/loadgen (or, with `--small`, takes
//! the machine as it is), checks that whyport and `ss -tulpn` agree on that
//! load, then times whyport, ss, netstat and lsof alternately and prints one
//! table: medians, ratios to `ss -tulpn` of the same run, peak memory, the
//! CPU `whyport watch` takes and how long `whyport audit` takes with a large
//! policy. Run it through `tools/bench` (builds everything in release mode
//! first); `tools/bench --help` lists the options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/cli/ss.rs"]
#[allow(dead_code)]
mod ss;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HELP: &str = "\
tools/bench [OPTIONS]: whyport against ss -tulpn, side by side, on a load

Loads (examples/loadgen: processes holding loopback listeners and other fds):
  --shape 2000x5            2,000 processes x 5 listeners + 55 fds (the default)
  --shape 500x20+1500x50    500 processes x 20 listeners + 50 fds, and 1,500
                            idle processes x 50 fds (many listeners per process)
  --shape 100k              2,000 processes x 50 listeners + 5 fds (100,000)
  --procs N --sockets S --fds F --idle I --idle-fds G   any other shape
  --sparse                  every load process also holds a stray fd 900
  --sizes                   the whyport and ss timings at 1/4, 1/2 and all of it
  --small                   no load: the machine as it is
Who runs the commands:
  --unprivileged            whyport and ss both run as nobody (uid 65534):
                            no BPF, only their own processes readable
What else is measured (after the listing timings):
  --watch SECONDS           CPU of `whyport watch` (1 s interval) over SECONDS
                            after a 3 s warm-up (default 20; 0 skips it)
  --audit-rules N           `whyport audit` with a policy of N rules (default
                            20000; 0 skips it)
  --rounds N                timing rounds (default 11)
  --against PATH            another whyport binary (an earlier build) timed in
                            the same rounds, its rows labelled `against:`
";

struct Args {
    procs: usize,
    sockets: usize,
    fds: usize,
    idle: usize,
    idle_fds: usize,
    rounds: usize,
    sizes: bool,
    sparse: bool,
    small: bool,
    unprivileged: bool,
    watch_seconds: u64,
    audit_rules: usize,
    /// Another whyport binary (an earlier commit's) timed in the same
    /// rounds: before and after, side by side.
    against: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        procs: 2000,
        sockets: 5,
        fds: 55,
        idle: 0,
        idle_fds: 50,
        rounds: 11,
        sizes: false,
        sparse: false,
        small: false,
        unprivileged: false,
        watch_seconds: 20,
        audit_rules: 20_000,
        against: None,
    };
    let mut it = std::env::args().skip(1);
    let usage = |why: String| -> ! {
        eprintln!("bench: {why}; see tools/bench --help");
        std::process::exit(2)
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--help" | "-h" => {
                print!("{HELP}");
                std::process::exit(0)
            }
            "--sizes" => a.sizes = true,
            "--sparse" => a.sparse = true,
            "--small" => a.small = true,
            "--unprivileged" => a.unprivileged = true,
            "--against" => match it.next() {
                Some(path) if Path::new(&path).is_file() => a.against = Some(path),
                other => usage(format!("--against needs a whyport binary, not {other:?}")),
            },
            "--shape" => match it.next().as_deref() {
                Some("2000x5") => (a.procs, a.sockets, a.fds, a.idle) = (2000, 5, 55, 0),
                Some("500x20+1500x50") => {
                    (a.procs, a.sockets, a.fds, a.idle, a.idle_fds) = (500, 20, 50, 1500, 50)
                }
                Some("100k") => (a.procs, a.sockets, a.fds, a.idle) = (2000, 50, 5, 0),
                other => usage(format!("unknown shape {other:?}")),
            },
            _ => {
                let v: usize = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage(format!("{flag} needs a number")));
                match flag.as_str() {
                    "--procs" => a.procs = v,
                    "--sockets" => a.sockets = v,
                    "--fds" => a.fds = v,
                    "--idle" => a.idle = v,
                    "--idle-fds" => a.idle_fds = v,
                    "--rounds" => a.rounds = v.max(1),
                    "--watch" => a.watch_seconds = v as u64,
                    "--audit-rules" => a.audit_rules = v,
                    _ => usage(format!("unknown option {flag}")),
                }
            }
        }
    }
    a
}

/// The running load; closing its stdin (on drop) makes it exit.
struct Load {
    child: Child,
    summary: String,
    prefork_port: u16,
}

impl Load {
    fn start(dir: &Path, procs: usize, a: &Args) -> Load {
        let mut child = Command::new(dir.join("loadgen"))
            .args(["--procs", &procs.to_string()])
            .args(["--sockets", &a.sockets.to_string()])
            .args(["--fds", &a.fds.to_string(), "--seconds", "1800"])
            .args(["--idle", &a.idle.to_string()])
            .args(["--idle-fds", &a.idle_fds.to_string()])
            .args(a.sparse.then_some("--sparse"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start examples/loadgen");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "loadgen did not start: {line}");
        let prefork_port = field(&line, "prefork_port=").parse().unwrap_or(0);
        Load {
            child,
            summary: line.trim().to_string(),
            prefork_port,
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or("")
}

/// Runs commands for the benchmark from a small process (`bench
/// --launcher`): a child's peak RSS as reported by wait4 starts at the RSS of
/// the process that spawned it, and the benchmark itself grows large.
struct Launcher {
    child: Child,
    answers: BufReader<std::process::ChildStdout>,
}

impl Launcher {
    /// `uid`: the user the commands run as (root's supplementary groups
    /// are dropped with it).
    fn start(uid: Option<u32>) -> Launcher {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("--launcher")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(uid) = uid {
            std::os::unix::process::CommandExt::uid(&mut cmd, uid);
            std::os::unix::process::CommandExt::gid(&mut cmd, uid);
        }
        let mut child = cmd.spawn().expect("start the launcher");
        let answers = BufReader::new(child.stdout.take().unwrap());
        Launcher { child, answers }
    }

    fn ask(&mut self, line: &str) -> (f64, u64) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.answers.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let ms = parts
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        (ms, parts.next().and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Wall time (ms) and peak resident memory (KiB) of one run.
    fn measure(&mut self, cmd: &[String]) -> (f64, u64) {
        self.ask(&cmd.join("\t"))
    }

    /// CPU time (ms, user + system, all threads) a long-running command
    /// takes over `seconds` after a 3 s warm-up, and its peak memory.
    fn cpu(&mut self, seconds: u64, cmd: &[String]) -> (f64, u64) {
        self.ask(&format!("@cpu:{seconds}\t{}", cmd.join("\t")))
    }
}

/// The launcher's loop: one tab-separated command per input line, one
/// "milliseconds peak_kib" line out.
fn launcher() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines().map_while(Result::ok) {
        let mut cmd: Vec<String> = line.split('\t').map(String::from).collect();
        let (ms, kib) = match cmd[0].strip_prefix("@cpu:").map(|s| s.parse().unwrap()) {
            Some(seconds) => {
                cmd.remove(0);
                cpu(seconds, &cmd)
            }
            None => measure(&cmd),
        };
        writeln!(out, "{ms} {kib}").unwrap();
        out.flush().unwrap();
    }
}

// wait4 reaps the child and returns its rusage, which Child::wait cannot.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &[String]) -> (f64, u64) {
    let start = Instant::now();
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", cmd[0]));
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    (ms, usage.ru_maxrss as u64)
}

/// utime + stime of a process and all its threads, in ms (from its stat).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 1000.0 / ticks
}

#[allow(clippy::zombie_processes)]
fn cpu(seconds: u64, cmd: &[String]) -> (f64, u64) {
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", cmd[0]));
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(3));
    let before = cpu_ms(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let after = cpu_ms(pid);
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    (after - before, usage.ru_maxrss as u64)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// whyport and ss must agree on this load, socket for socket, PID for PID;
/// the (protocol, port) of every listener.
fn check_correctness(whyport: &Path) -> Vec<(String, u16)> {
    let json = Command::new(whyport).arg("--json").output().unwrap();
    let ss_out = Command::new("ss").arg("-tulpnH").output().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("whyport --json output");
    let mut ours: Vec<ss::Key> = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let pids = l["processes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["pid"].as_u64().unwrap() as u32)
                .collect();
            ss::key(
                l["protocol"].as_str().unwrap(),
                l["address"].as_str().unwrap(),
                l["port"].as_u64().unwrap() as u16,
                l["dual_stack"].as_bool().unwrap(),
                l["interface"].as_str(),
                pids,
            )
        })
        .collect();
    ours.sort();
    let theirs = ss::ss_keys(&String::from_utf8_lossy(&ss_out.stdout));
    if ours != theirs {
        let only_ours: Vec<_> = ours
            .iter()
            .filter(|k| !theirs.contains(k))
            .take(5)
            .collect();
        let only_ss: Vec<_> = theirs
            .iter()
            .filter(|k| !ours.contains(k))
            .take(5)
            .collect();
        eprintln!(
            "MISMATCH: whyport {} listeners, ss {}",
            ours.len(),
            theirs.len()
        );
        eprintln!("  only in whyport: {only_ours:?}\n  only in ss: {only_ss:?}");
        std::process::exit(1);
    }
    ours.into_iter().map(|k| (k.0, k.2)).collect()
}

struct Timing {
    label: String,
    ms: Vec<f64>,
    peak_kib: u64,
    /// Not compared with ss (the audit, watch's CPU): what to print
    /// instead of the ratio.
    note: Option<String>,
}

fn time_all(
    launcher: &mut Launcher,
    commands: &[(String, Vec<String>)],
    rounds: usize,
) -> Vec<Timing> {
    let mut t: Vec<Timing> = commands
        .iter()
        .map(|(label, _)| Timing {
            label: label.clone(),
            ms: vec![],
            peak_kib: 0,
            note: None,
        })
        .collect();
    for _ in 0..rounds {
        for (i, (_, cmd)) in commands.iter().enumerate() {
            let (ms, kib) = launcher.measure(cmd);
            t[i].ms.push(ms);
            t[i].peak_kib = t[i].peak_kib.max(kib);
        }
    }
    t
}

fn report(timings: &mut [Timing]) {
    let ss = timings
        .iter_mut()
        .find(|t| t.label == "ss -tulpn")
        .map(|t| median(&mut t.ms))
        .unwrap_or(f64::NAN);
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>10}",
        "command", "median ms", "min ms", "vs ss -tulpn", "peak MiB"
    );
    for t in timings.iter_mut() {
        let med = median(&mut t.ms);
        let ratio = t
            .note
            .clone()
            .unwrap_or_else(|| format!("{:.2}x", med / ss));
        println!(
            "{:<34} {:>10.1} {:>10.1} {:>12} {:>10.1}",
            t.label,
            med,
            t.ms[0],
            ratio,
            t.peak_kib as f64 / 1024.0
        );
    }
}

/// A policy of `rules` rules for the listeners `ports`: an allow rule for
/// each (owner name, protocol and port), then deny rules for other ports.
fn policy(ports: &[(String, u16)], rules: usize) -> PathBuf {
    let mut text = String::from("default = \"deny\"\n");
    for (protocol, port) in ports.iter().take(rules) {
        text += &format!(
            "\n[[allow]]\nport = {port}\nprotocol = \"{protocol}\"\nprocess = \"loadgen\"\n"
        );
    }
    for i in 0..rules.saturating_sub(ports.len()) {
        let port = 1 + i % 30000;
        text += &format!("\n[[deny]]\nport = {port}\nreason = \"rule {i}\"\n");
    }
    let path =
        std::env::temp_dir().join(format!("whyport-bench-policy-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The listening ports of the machine as it is (no load), from ss.
fn ports_as_is() -> Vec<(String, u16)> {
    let out = Command::new("ss").arg("-tulnH").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (_, port) = ss::split_ss_address(f.get(4)?);
            Some((f[0].to_string(), port))
        })
        .collect()
}

pub fn main() {
    if std::env::args().nth(1).as_deref() == Some("--launcher") {
        return launcher();
    }
    let a = parse_args();
    let mut launcher = Launcher::start(a.unprivileged.then_some(65534));
    let dir: PathBuf = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let whyport = dir.parent().unwrap().join("whyport");
    if !whyport.exists() || !installed("ss") {
        eprintln!(
            "bench: needs {} (cargo build --release) and ss (iproute2); run tools/bench",
            whyport.display()
        );
        std::process::exit(2);
    }
    let w = whyport.display().to_string();
    let sizes: Vec<usize> = if a.sizes {
        vec![a.procs / 4, a.procs / 2, a.procs]
    } else {
        vec![a.procs]
    };
    let last = *sizes.last().unwrap();
    println!(
        "machine: {} cores, kernel {}, load average {}; commands run as {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim(),
        if a.unprivileged {
            "nobody (uid 65534)"
        } else {
            "the caller"
        },
    );
    for procs in sizes {
        let (load, ports, port) = if a.small {
            let ports = ports_as_is();
            let port = ports.first().map_or(22, |p| p.1);
            println!(
                "\nload: none (the machine as it is: {} processes, {} listeners)",
                std::fs::read_dir("/proc")
                    .unwrap()
                    .filter(|e| e.as_ref().is_ok_and(|e| e
                        .file_name()
                        .to_string_lossy()
                        .parse::<u32>()
                        .is_ok()))
                    .count(),
                ports.len()
            );
            (None, ports, port)
        } else {
            let load = Load::start(&dir, procs, &a);
            println!("\nload: {}", load.summary);
            let ports = check_correctness(&whyport);
            println!(
                "correctness: whyport and ss -tulpn agree on all {} listeners and their PIDs",
                ports.len()
            );
            let port = load.prefork_port;
            (Some(load), ports, port)
        };
        let port = port.to_string();
        let mut commands: Vec<(String, Vec<String>)> = vec![
            ("whyport --json".into(), vec![w.clone(), "--json".into()]),
            ("whyport (table)".into(), vec![w.clone()]),
            // The filtered listing (--port), not the explanation that
            // `whyport PORT` would time.
            (
                format!("whyport --port {port}"),
                vec![w.clone(), "--port".into(), port.clone()],
            ),
            ("ss -tulpn".into(), vec!["ss".into(), "-tulpn".into()]),
            (
                format!("ss -tulpn sport = :{port}"),
                vec![
                    "ss".into(),
                    "-tulpn".into(),
                    "sport".into(),
                    "=".into(),
                    format!(":{port}"),
                ],
            ),
        ];
        if installed("netstat") {
            commands.push((
                "netstat -tulpn".into(),
                vec!["netstat".into(), "-tulpn".into()],
            ));
        }
        if installed("lsof") && !a.small {
            commands.push((
                "lsof -nP -i".into(),
                vec!["lsof".into(), "-nP".into(), "-i".into()],
            ));
        }
        if let Some(other) = &a.against {
            commands.extend([
                (
                    "against: --json".into(),
                    vec![other.clone(), "--json".into()],
                ),
                ("against: (table)".into(), vec![other.clone()]),
                (
                    format!("against: --port {port}"),
                    vec![other.clone(), "--port".into(), port.clone()],
                ),
            ]);
        }
        commands.push(("true (launch floor)".into(), vec!["true".into()]));
        let mut timings = time_all(&mut launcher, &commands, a.rounds);
        if procs == last && a.audit_rules > 0 {
            let path = policy(&ports, a.audit_rules);
            let p = path.display().to_string();
            // Readable by the launcher's user.
            let _ = std::fs::set_permissions(
                &path,
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            );
            let cmd = vec![w.clone(), "audit".into(), "--policy".into(), p];
            let mut t = time_all(
                &mut launcher,
                &[(format!("whyport audit ({} rules)", a.audit_rules), cmd)],
                a.rounds.min(5),
            );
            t[0].note = Some("-".into());
            timings.extend(t);
            let _ = std::fs::remove_file(&path);
        }
        if procs == last && a.watch_seconds > 0 {
            let mut watched = vec![("whyport watch", w.clone())];
            if let Some(other) = &a.against {
                watched.push(("against: watch", other.clone()));
            }
            for (label, bin) in watched {
                let cmd = vec![bin, "watch".into(), "--interval".into(), "1".into()];
                let (ms, kib) = launcher.cpu(a.watch_seconds, &cmd);
                let share = ms / (a.watch_seconds as f64 * 1000.0) * 100.0;
                timings.push(Timing {
                    label: format!("{label} (CPU over {} s)", a.watch_seconds),
                    ms: vec![ms],
                    peak_kib: kib,
                    note: Some(format!("{share:.2}% core")),
                });
            }
        }
        report(&mut timings);
        drop(load);
        std::io::stdout().flush().ok();
    }
}
