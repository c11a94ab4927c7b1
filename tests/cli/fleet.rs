//! The fleet monitoring that whyport ships (dist/prometheus, dist/systemd):
//! the alerting rules under `promtool test rules`, and end to end with
//! Debian's node_exporter reading the audit's textfile and a Prometheus
//! server scraping it and evaluating the shipped rules. Both daemons are
//! our own instances (own flags, config and storage in a tempdir) on
//! 127.0.0.1; the host's /etc/prometheus and services are not touched.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn dist(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dist")
        .join(path)
}

/// The program, or a skip (logged for `.ci/run`, which provides it) naming
/// it and the package that ships it.
fn tool(test: &str, program: &str, package: &str) -> Option<()> {
    if have(program) {
        Some(())
    } else {
        skip(
            test,
            Skip::Tool(program),
            format!("{program} is not installed (Debian package {package})"),
        );
        None
    }
}

#[test]
fn shipped_rules_pass_promtool() {
    if tool("shipped_rules_pass_promtool", "promtool", "prometheus").is_none() {
        return;
    }
    let rules = dist("prometheus");
    let check = run(Command::new("promtool")
        .args(["check", "rules", "whyport.rules.yml"])
        .current_dir(&rules));
    assert!(check.status.success(), "{}", text(&check));
    // Staleness, a new exposed listener, a finding appearing and clearing,
    // over synthetic time.
    let test = run(Command::new("promtool")
        .args(["test", "rules", "whyport.rules.test.yml"])
        .current_dir(&rules));
    assert!(test.status.success(), "{}", text(&test));
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A port free on 127.0.0.1 now (another process may take it before we do;
/// the daemon then fails to start and the test says so).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped unit's command, as systemd runs it (`${VAR}` is one
/// word), with the unit's variables pointing here and this whyport.
fn shipped_audit(policy: &Path, textfile: &Path) -> std::process::Output {
    let unit = std::fs::read_to_string(dist("systemd/whyport-audit.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("whyport-audit.service has an ExecStart=");
    let words: Vec<String> = exec
        .split_whitespace()
        .map(|w| {
            w.replace("/usr/bin/whyport", &bin_path().to_string_lossy())
                .replace("${POLICY}", &policy.to_string_lossy())
                .replace("${TEXTFILE_DIR}", &textfile.to_string_lossy())
        })
        .collect();
    run(Command::new(&words[0]).args(&words[1..]))
}

/// GET a Prometheus API path on 127.0.0.1:`port` and parse its JSON.
fn api(port: u16, path: &str) -> Result<serde_json::Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).map_err(|e| e.to_string())?;
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).map_err(|e| format!("{e}: {reply}"))
}

/// The firing WhyportFinding alerts' (id, port), sorted.
fn findings_firing(port: u16) -> Result<Vec<(String, String)>, String> {
    let v = api(port, "/api/v1/alerts")?;
    let alerts = v["data"]["alerts"]
        .as_array()
        .ok_or_else(|| format!("no alerts in {v}"))?;
    let mut out: Vec<(String, String)> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "WhyportFinding" && a["state"] == "firing")
        .map(|a| {
            let label = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_string();
            (label("id"), label("port"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// A query's result vector.
fn query(port: u16, q: &str) -> Result<Vec<serde_json::Value>, String> {
    let v = api(port, &format!("/api/v1/query?query={q}"))?;
    v["data"]["result"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("no result in {v}"))
}

/// Poll `ok` every 200 ms until it holds or `limit` passes; the time it took.
fn wait(
    what: &str,
    limit: Duration,
    mut ok: impl FnMut() -> Result<bool, String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < limit {
        match ok() {
            Ok(true) => return Ok(start.elapsed()),
            Ok(false) => {}
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("{what}: not within {limit:?} (last error: {last})"))
}

#[test]
fn finding_alert_fires_when_a_port_opens_and_clears_when_it_closes() {
    let name = "finding_alert_fires";
    if tool(name, "prometheus", "prometheus").is_none()
        || tool(name, "prometheus-node-exporter", "prometheus-node-exporter").is_none()
    {
        return;
    }
    let _g = sockets_guard();
    let dir = tempfile::tempdir().unwrap();
    let textfile = dir.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    // Our listener's port is the one port the policy does not allow.
    let port = free_port();
    let policy = dir.path().join("policy.toml");
    let mut allow = String::from("default = \"deny\"\n");
    for (lo, hi) in [(1, port - 1), (port + 1, 65535)] {
        if lo <= hi {
            allow.push_str(&format!("[[allow]]\nrange = \"{lo}-{hi}\"\n"));
        }
    }
    std::fs::write(&policy, allow).unwrap();

    let exporter_port = free_port();
    let log = |n: &str| std::fs::File::create(dir.path().join(n)).unwrap();
    let _exporter = Spawned::start(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!(
                "--collector.textfile.directory={}",
                textfile.display()
            ))
            .stdout(Stdio::null())
            .stderr(log("node_exporter.log")),
    );
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n",
            dist("prometheus/whyport.rules.yml").display()
        ),
    )
    .unwrap();
    let prom = free_port();
    let _prometheus = Spawned::start(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
            .stdout(Stdio::null())
            .stderr(log("prometheus.log")),
    );
    let logs = || {
        [
            "node_exporter.log",
            "prometheus.log",
            "textfile/whyport.prom",
        ]
        .iter()
        .map(|n| {
            let t = std::fs::read_to_string(dir.path().join(n)).unwrap_or_default();
            format!("--- {n} (last lines)\n{}\n", tail(&t))
        })
        .collect::<String>()
    };
    let limit = Duration::from_secs(60);

    // A first result, with the port closed: Prometheus has it, no alert for
    // our port.
    let o = shipped_audit(&policy, &textfile);
    // 1 is findings, a result the unit publishes (SuccessExitStatus=1).
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert!(textfile.join("whyport.prom").exists());
    let up = wait("Prometheus has whyport's timestamp", limit, || {
        Ok(!query(prom, "whyport_audit_timestamp_seconds")?.is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs()));
    let mine = ("not-allowed".to_string(), port.to_string());
    assert!(
        !findings_firing(prom).unwrap().contains(&mine),
        "{}",
        logs()
    );

    // The port opens; the next audit run has the finding; the alert fires.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let o = shipped_audit(&policy, &textfile);
    // 1 is findings, a result the unit publishes (SuccessExitStatus=1).
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    let fired = wait("WhyportFinding fires for the opened port", limit, || {
        let firing = findings_firing(prom)?;
        if firing.contains(&mine) {
            Ok(true)
        } else {
            Err(format!("firing: {firing:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs()));

    // It closes; the next run has no finding for it; the alert clears.
    drop(listener);
    let o = shipped_audit(&policy, &textfile);
    // 1 is findings, a result the unit publishes (SuccessExitStatus=1).
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    let cleared = wait("WhyportFinding clears after the port closes", limit, || {
        let firing = findings_firing(prom)?;
        if firing.contains(&mine) {
            Err(format!("firing: {firing:?}"))
        } else {
            Ok(true)
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs()));
    // node_exporter read every result (a file it cannot parse is dropped and
    // counted here).
    let errors = query(prom, "node_textfile_scrape_error").unwrap();
    assert_eq!(
        errors.first().map(|r| r["value"][1].clone()),
        Some(serde_json::json!("0")),
        "{errors:?}"
    );
    // Not asserted (timings belong in benchmarks): for the report.
    eprintln!(
        "fleet e2e: first result in Prometheus after {up:?}; alert fired {fired:?} and cleared {cleared:?} after the audit result was written"
    );
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
