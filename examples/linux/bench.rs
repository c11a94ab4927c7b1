//! whyport's benchmark: starts examples/loadgen, checks that whyport and
//! `ss -tulpn` agree on that load, then times whyport, ss, netstat and lsof
//! alternately and prints medians, ratios to `ss -tulpn` and peak memory.
//!
//! Run it through `tools/bench` (builds everything in release mode first):
//! `tools/bench [--procs 2000] [--sockets 5] [--fds 55] [--rounds 11] [--sizes] [--sparse]`
//! `--sparse` gives every load process one descriptor far above the others.
//! `--sizes` repeats the whyport and ss timings at 1/4, 1/2 and all of the
//! load to show how the cost grows with the number of descriptors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/cli/ss.rs"]
#[allow(dead_code)]
mod ss;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

struct Args {
    procs: usize,
    sockets: usize,
    fds: usize,
    rounds: usize,
    sizes: bool,
    sparse: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        procs: 2000,
        sockets: 5,
        fds: 55,
        rounds: 11,
        sizes: false,
        sparse: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--sizes" || flag == "--sparse" {
            a.sizes |= flag == "--sizes";
            a.sparse |= flag == "--sparse";
            continue;
        }
        let v: usize = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("bench: {flag} needs a number");
            std::process::exit(2)
        });
        match flag.as_str() {
            "--procs" => a.procs = v,
            "--sockets" => a.sockets = v,
            "--fds" => a.fds = v,
            "--rounds" => a.rounds = v.max(1),
            _ => {
                eprintln!(
                    "bench: unknown option {flag}; see the comment at the top of examples/bench.rs"
                );
                std::process::exit(2)
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
    fn start() -> Launcher {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--launcher")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the launcher");
        let answers = BufReader::new(child.stdout.take().unwrap());
        Launcher { child, answers }
    }

    /// Wall time (ms) and peak resident memory (KiB) of one run.
    fn measure(&mut self, cmd: &[String]) -> (f64, u64) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", cmd.join("\t")).unwrap();
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
}

/// The launcher's loop: one tab-separated command per input line, one
/// "milliseconds peak_kib" line out.
fn launcher() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines().map_while(Result::ok) {
        let cmd: Vec<String> = line.split('\t').map(String::from).collect();
        let (ms, kib) = measure(&cmd);
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

/// whyport and ss must agree on this load, socket for socket, PID for PID.
fn check_correctness(whyport: &Path) -> usize {
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
    ours.len()
}

struct Timing {
    label: String,
    ms: Vec<f64>,
    peak_kib: u64,
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
        "{:<28} {:>10} {:>10} {:>12} {:>10}",
        "command", "median ms", "min ms", "vs ss -tulpn", "peak MiB"
    );
    for t in timings.iter_mut() {
        let med = median(&mut t.ms);
        println!(
            "{:<28} {:>10.1} {:>10.1} {:>11.2}x {:>10.1}",
            t.label,
            med,
            t.ms[0],
            med / ss,
            t.peak_kib as f64 / 1024.0
        );
    }
}

pub fn main() {
    if std::env::args().nth(1).as_deref() == Some("--launcher") {
        return launcher();
    }
    let mut launcher = Launcher::start();
    let a = parse_args();
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
    for procs in sizes {
        let load = Load::start(&dir, procs, &a);
        println!("\nload: {}", load.summary);
        let n = check_correctness(&whyport);
        println!("correctness: whyport and ss -tulpn agree on all {n} listeners and their PIDs");
        let port = load.prefork_port.to_string();
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
        ];
        if installed("netstat") {
            commands.push((
                "netstat -tulpn".into(),
                vec!["netstat".into(), "-tulpn".into()],
            ));
        }
        if installed("lsof") {
            commands.push((
                "lsof -nP -i".into(),
                vec!["lsof".into(), "-nP".into(), "-i".into()],
            ));
        }
        commands.push(("true (launch floor)".into(), vec!["true".into()]));
        let mut timings = time_all(&mut launcher, &commands, a.rounds);
        report(&mut timings);
        std::io::stdout().flush().ok();
    }
}
