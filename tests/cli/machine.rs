//! A booted systemd container (systemd-nspawn on the machine's own root,
//! `--volatile=yes`: nothing is downloaded and nothing it writes stays),
//! in a network namespace of the test's own with an address the host does
//! not have. Inside it: a normal service, socket-activated services
//! (Accept=no over TCP and UDP, Accept=yes over TCP) and a transient unit.
//! whyport run inside the container and on the host with `-A` must give
//! the same origin and exposure, the same warnings (none for what systemd
//! holds), and stop advice that works where it is run and never kills the
//! container's init. The container is powered off, then killed, and the
//! namespace deleted when the test ends, also when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::procs::{find_program, signal, wait_gone};
use crate::support::*;

const TEST: &str = "a_booted_containers_systemd_is_its_init";
const WEB: u16 = 7811;
const STREAM: u16 = 7812;
const DGRAM: u16 = 7813;
const ACCEPT: u16 = 7814;
const TRANSIENT: u16 = 7815;
/// How long the container may take to boot and its units to listen.
const BOOT: Duration = Duration::from_secs(60);
/// The address of the namespace, which the host does not have.
const ADDRESS: &str = "10.77.31.1";

/// The unit files, bound read-only on the container's /etc/systemd/system
/// (whyport on the host reads them through /proc/INIT/root).
fn units(dir: &Path) {
    let files = [
        (
            "wpweb.service",
            format!("[Service]\nUser=nobody\nExecStart=/usr/bin/python3 -m http.server {WEB}\n"),
        ),
        (
            "wpstream.socket",
            format!("[Socket]\nListenStream={STREAM}\n"),
        ),
        (
            "wpstream.service",
            "[Service]\nExecStart=/bin/true\n".into(),
        ),
        (
            "wpdgram.socket",
            format!("[Socket]\nListenDatagram={DGRAM}\n"),
        ),
        ("wpdgram.service", "[Service]\nExecStart=/bin/true\n".into()),
        (
            "wpaccept.socket",
            format!("[Socket]\nListenStream={ACCEPT}\nAccept=yes\n"),
        ),
        (
            "wpaccept@.service",
            "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n".into(),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// The booted container: powered off through systemd-nspawn (SIGTERM),
/// then its init killed if it is still there.
struct Machine {
    nspawn: Option<std::process::Child>,
    init: Option<u32>,
    console: PathBuf,
}

impl Machine {
    fn console(&self) -> String {
        let text = std::fs::read_to_string(&self.console).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Some(mut child) = self.nspawn.take() {
            signal(child.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(init) = self.init {
            signal(init, libc::SIGKILL);
            wait_gone(init, Duration::from_secs(5));
        }
    }
}

/// The PID of the container's init: the child of systemd-nspawn.
fn child_of(parent: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn json(out: &std::process::Output) -> Listing {
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "whyport: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(out)
}

fn explained(list: &Listing, port: u16, protocol: &str) -> (Why, Option<serde_json::Value>) {
    let l = list
        .listeners
        .iter()
        .find(|l| l.port == port && l.protocol == protocol)
        .unwrap_or_else(|| panic!("no {protocol} {port} in {:?}", list.listeners));
    (l.why.clone().expect("explained"), l.netns.clone())
}

fn ids(w: &Why) -> Vec<String> {
    w.warnings.iter().map(|w| w.id.clone()).collect()
}

#[test]
fn a_booted_containers_systemd_is_its_init() {
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root");
        return;
    }
    let Some(nspawn) = find_program("systemd-nspawn") else {
        skip(
            TEST,
            Skip::Tool("systemd-nspawn"),
            "systemd-nspawn not installed (apt-get install systemd-container)",
        );
        return;
    };
    let Some(nsenter) = find_program("nsenter") else {
        skip(
            TEST,
            Skip::Tool("nsenter"),
            "nsenter not installed (util-linux)",
        );
        return;
    };
    if !Path::new("/usr/lib/systemd/systemd").exists() {
        skip(TEST, Skip::Tool("systemd"), "systemd is not installed");
        return;
    }
    let Some(ip) = find_program("ip") else {
        skip(TEST, Skip::Tool("ip"), "ip (iproute2) is not installed");
        return;
    };
    let _g = sockets_guard();
    let ns = match Netns::create(&ip, "wp-machine") {
        Ok(ns) => ns,
        Err(why) => {
            skip(TEST, Skip::Other, why);
            return;
        }
    };
    // A veth pair inside the namespace: an address the host lacks.
    for args in [
        vec![
            "link", "add", "wpm0", "type", "veth", "peer", "name", "wpm1",
        ],
        vec!["addr", "add", &format!("{ADDRESS}/24"), "dev", "wpm0"],
        vec!["link", "set", "wpm0", "up"],
        vec!["link", "set", "wpm1", "up"],
    ] {
        let out = run(ns.exec(&ip).args(&args));
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let unit_dir = dir.path().join("units");
    std::fs::create_dir(&unit_dir).unwrap();
    units(&unit_dir);
    let name = format!("wpm{}", my_pid());
    let console = dir.path().join("console");
    // No machined, no D-Bus on a host without systemd: --register=no
    // --keep-unit. A minimal boot (basic.target) keeps the host's own
    // services from starting in it.
    let child = Command::new(&nspawn)
        .args(["-b", "--volatile=yes", "-D", "/", "-M", &name])
        .args(["--register=no", "--keep-unit"])
        .arg(format!("--network-namespace-path={}", ns.path().display()))
        .arg(format!(
            "--bind-ro={}:/etc/systemd/system",
            unit_dir.display()
        ))
        .args(["--", "systemd.firstboot=off", "systemd.unit=basic.target"])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&console).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let nspawn_pid = child.id();
    let mut machine = Machine {
        nspawn: Some(child),
        init: None,
        console,
    };
    // Booted: its systemd answers systemctl.
    let deadline = Instant::now() + BOOT;
    let init = loop {
        if let Some(init) = child_of(nspawn_pid) {
            machine.init = Some(init);
            let ready = run(Command::new(&nsenter).args([
                "-t",
                &init.to_string(),
                "-a",
                "systemctl",
                "is-system-running",
            ]))
            .stdout;
            let state = String::from_utf8_lossy(&ready);
            if ["running", "degraded"].contains(&state.trim()) {
                break init;
            }
        }
        if let Some(Ok(Some(status))) = machine.nspawn.as_mut().map(|c| c.try_wait()) {
            let err = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
            skip(
                TEST,
                Skip::Other,
                format!("systemd-nspawn -b exited ({status}): {}", err.trim()),
            );
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "the container did not boot in {BOOT:?}:\n{}",
                machine.console()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let inside = |args: &[&str]| {
        let out = run(Command::new(&nsenter)
            .args(["-t", &init.to_string(), "-a"])
            .args(args));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    inside(&[
        "systemctl",
        "start",
        "wpweb.service",
        "wpstream.socket",
        "wpdgram.socket",
        "wpaccept.socket",
    ]);
    inside(&[
        "systemd-run",
        "--unit",
        "wptransient",
        "-p",
        "User=nobody",
        "/usr/bin/python3",
        "-m",
        "http.server",
        &TRANSIENT.to_string(),
    ]);
    // whyport inside: a copy in the container's own /tmp.
    std::fs::copy(bin_path(), format!("/proc/{init}/root/tmp/whyport")).unwrap();
    let ports: Vec<String> = [WEB, STREAM, DGRAM, ACCEPT, TRANSIENT]
        .iter()
        .map(u16::to_string)
        .collect();
    let deadline = Instant::now() + BOOT;
    let (host, guest) = loop {
        let host = json(&run(whyport().args(["--json", "-A"]).args(&ports)));
        let guest = json(&run(Command::new(&nsenter)
            .args(["-t", &init.to_string(), "-a", "/tmp/whyport", "--json"])
            .args(&ports)));
        if host.listeners.len() >= 5 && guest.listeners.len() >= 5 {
            break (host, guest);
        }
        assert!(
            Instant::now() < deadline,
            "not every unit listens: {:?}",
            host.listeners
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let cases = [
        (WEB, "tcp", "systemd-unit", Some("wpweb.service"), None),
        (
            STREAM,
            "tcp",
            "socket-activation",
            None,
            Some(("wpstream.socket", "wpstream.service")),
        ),
        (
            DGRAM,
            "udp",
            "socket-activation",
            None,
            Some(("wpdgram.socket", "wpdgram.service")),
        ),
        (
            ACCEPT,
            "tcp",
            "socket-activation",
            None,
            Some(("wpaccept.socket", "wpaccept@.service")),
        ),
        (
            TRANSIENT,
            "tcp",
            "systemd-unit",
            Some("wptransient.service"),
            None,
        ),
    ];
    for (port, proto, kind, unit, activation) in cases {
        let (h, netns) = explained(&host, port, proto);
        let (g, _) = explained(&guest, port, proto);
        for (side, w) in [("host", &h), ("container", &g)] {
            assert_eq!(w.origin.kind, kind, "{side} {port}: {}", w.origin.summary);
            if let Some(unit) = unit {
                assert_eq!(w.origin.unit.as_deref(), Some(unit), "{side} {port}");
            }
            if let Some((socket, service)) = activation {
                assert_eq!(
                    w.origin.socket_unit.as_deref(),
                    Some(socket),
                    "{side} {port}"
                );
                assert_eq!(
                    w.origin.service_unit.as_deref(),
                    Some(service),
                    "{side} {port}"
                );
            }
            // No false warning: what systemd holds needs root; the
            // services run as nobody.
            assert!(ids(w).is_empty(), "{side} {port}: {:?}", w.warnings);
            assert!(
                w.exposure.beyond_loopback,
                "{side} {port}: {:?}",
                w.exposure
            );
            assert!(
                w.exposure.addresses.iter().any(|a| a == ADDRESS),
                "{side} {port}: the namespace's own address: {:?}",
                w.exposure
            );
            assert!(
                w.stop.iter().all(|s| !s.starts_with("kill")),
                "{side} {port}: {:?}",
                w.stop
            );
        }
        // Inside: its own systemctl. On the host: the container's, reached
        // through its init's namespaces (no machined here).
        assert!(g.stop[0].starts_with("systemctl stop "), "{:?}", g.stop);
        let through = format!("nsenter -t {init} -a systemctl stop ");
        assert!(h.stop[0].starts_with(&through), "{port}: {:?}", h.stop);
        assert_eq!(
            h.stop[0].strip_prefix(&through),
            g.stop[0].strip_prefix("systemctl stop ")
        );
        // The namespace is named after the machine, not its inode.
        let label = netns
            .and_then(|n| n.get("label").cloned())
            .unwrap_or_default();
        assert_eq!(label, format!("systemd-nspawn:{name}"), "{port}");
    }
    // The host's advice works on the host as it is: stop the Accept=yes
    // socket with it, and the port closes.
    let (h, _) = explained(&host, ACCEPT, "tcp");
    let words: Vec<&str> = h.stop[0].split_whitespace().collect();
    let out = run(Command::new(&nsenter).args(&words[1..]));
    assert!(
        out.status.success(),
        "{:?}: {}",
        h.stop[0],
        String::from_utf8_lossy(&out.stderr)
    );
    let after = json(&run(whyport().args(["--json", "-A", &ACCEPT.to_string()])));
    assert!(after.listeners.is_empty(), "{:?}", after.listeners);
    assert!(
        crate::procs::alive(init),
        "the advice must not stop the container's init"
    );
    drop(machine);
    drop(ns);
}

/// A process that is PID 1 of a PID namespace of its own (`unshare --pid
/// --fork`), listening itself: it is an init, not a program to kill.
#[test]
fn an_init_of_its_own_pid_namespace() {
    const NAME: &str = "an_init_of_its_own_pid_namespace";
    const PORT: u16 = 7821;
    if !is_root() {
        skip(NAME, Skip::NotRoot, "needs root");
        return;
    }
    let python = Path::new(PYTHON3);
    let (Some(ip), Some(unshare), true) =
        (find_program("ip"), find_program("unshare"), python.exists())
    else {
        let tool = ["ip", "unshare"]
            .into_iter()
            .find(|t| find_program(t).is_none())
            .unwrap_or("python3");
        skip(NAME, Skip::Tool(tool), format!("{tool} is not installed"));
        return;
    };
    let _g = sockets_guard();
    let ns = match Netns::create(&ip, "wp-pidns") {
        Ok(ns) => ns,
        Err(why) => {
            skip(NAME, Skip::Other, why);
            return;
        }
    };
    let script = format!(
        "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',{PORT}))\ns.listen()\nprint('ready',flush=True)\ntime.sleep(600)\n"
    );
    let mut cmd = ns.exec(&unshare);
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(python)
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped());
    let mut child = Spawned::start(&mut cmd);
    let mut line = String::new();
    if let Some(out) = child.0.stdout.take() {
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
    }
    assert_eq!(line.trim(), "ready");
    let list = json(&run(whyport().args(["--json", "-A", &PORT.to_string()])));
    let (w, _) = explained(&list, PORT, "tcp");
    assert_eq!(w.origin.kind, "init", "{}", w.origin.summary);
    assert!(
        w.origin.summary.contains("unshare (pid"),
        "{}",
        w.origin.summary
    );
    assert!(
        w.stop.iter().all(|s| !s.starts_with("kill")),
        "{:?}",
        w.stop
    );
    assert!(ids(&w).is_empty(), "{:?}", w.warnings);
    drop(child);
    drop(ns);
}
