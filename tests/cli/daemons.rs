//! whyport against `ss -tulpnH` with real daemons in a private network
//! namespace: nginx (master + 2 workers, v4, v6-only and dual-stack
//! sockets), redis, dnsmasq, openbsd-inetd and a dual-stack python UDP
//! listener. The same sockets and PIDs as ss, and the right IANA names.
//!
//! Only the namespace is touched: the daemons run in it, their files live in
//! a temporary directory, and everything is stopped and removed when the
//! test ends, also when it fails.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::ss_compare::{ss_keys, whyport_keys};
use crate::support::*;

type Key = (String, String, u16, Vec<u32>);

/// How long a daemon may take to open all its sockets.
const READY: Duration = Duration::from_secs(5);
/// The python listener's port: 161/udp is `snmp`.
const PY_PORT: u16 = 161;

/// An executable `name` from PATH or the sbin directories (which a
/// non-login root shell may lack).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// (uid, gid) of a user in /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Running, as opposed to gone or a zombie.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// PIDs whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // "pid (comm) state ppid ..."; comm may hold spaces.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: plain system call; the callers only pass pids that are in the
    // test's own namespace.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Wait until `pid` is gone or a zombie. The detached daemons are not our
/// children: init adopted them when their first process exited, and reaps
/// them.
fn wait_gone(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while alive(pid) && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
}

/// The namespace, the temporary directory and every daemon started in the
/// namespace. Dropping it stops the daemons and removes the rest.
struct Lab {
    ip: PathBuf,
    ss: PathBuf,
    ns: String,
    created: bool,
    dir: Option<tempfile::TempDir>,
    /// Foreground daemons, killed and reaped by their own Drop.
    spawned: Vec<Spawned>,
    /// Pid files of the daemons that detach from their parent.
    pid_files: Vec<PathBuf>,
}

impl Lab {
    /// The lab, or why it cannot be set up here.
    fn new(ip: PathBuf, ss: PathBuf) -> Result<Lab, String> {
        let dir = tempfile::Builder::new()
            .prefix("wp-daemons-")
            .tempdir()
            .unwrap();
        // Workers running as www-data or redis must reach into it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let mut lab = Lab {
            ip,
            ss,
            ns: format!("wp-daemons-{}", my_pid()),
            created: false,
            dir: Some(dir),
            spawned: Vec::new(),
            pid_files: Vec::new(),
        };
        let out = run(Command::new(&lab.ip).args(["netns", "add", &lab.ns]));
        if !out.status.success() {
            return Err(format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        lab.created = true;
        let out = run(lab.exec(&lab.ip).args(["link", "set", "lo", "up"]));
        assert!(
            out.status.success(),
            "ip link set lo up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().unwrap().path().join(name)
    }

    /// `ip netns exec NS program`, with stdin closed. NOTIFY_SOCKET is
    /// removed so that no daemon reports to a service manager.
    fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &self.ns])
            .arg(program)
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null());
        cmd
    }

    /// Send a daemon's stdout and stderr to `DIR/name.log`: a daemon keeps
    /// them open after its parent exits, so they cannot be pipes we wait on.
    fn log_to(&self, cmd: &mut Command, name: &str) {
        let log = File::create(self.path(&format!("{name}.log"))).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
    }

    fn logs(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| {
                let text = fs::read_to_string(self.path(n)).unwrap_or_else(|e| e.to_string());
                format!("--- {n}:\n{text}")
            })
            .collect()
    }

    /// `ss FLAGS` in the namespace: its text and its keys.
    fn ss(&self, flags: &str) -> (String, Vec<Key>) {
        let out = run(self.exec(&self.ss).arg(flags));
        assert!(
            out.status.success(),
            "ss: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let keys = ss_keys(&text);
        (text, keys)
    }

    /// Retry `check` until it succeeds; after READY, fail with its last
    /// complaint and the daemon's logs.
    fn poll<T>(
        &self,
        what: &str,
        logs: &[&str],
        mut check: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + READY;
        loop {
            match check() {
                Ok(v) => return v,
                Err(why) if Instant::now() > deadline => {
                    panic!(
                        "{what}: not ready after {READY:?}: {why}\n{}",
                        self.logs(logs)
                    )
                }
                Err(_) => sleep(Duration::from_millis(25)),
            }
        }
    }

    /// Wait until ss lists every (protocol, address, port) of `want`; ss
    /// writes a dual-stack socket's address as `*`. Without -p: scanning
    /// every process on a busy host makes each poll slow.
    fn wait_for(&self, what: &str, want: &[(&str, &str, u16)], logs: &[&str]) {
        self.poll(what, logs, || {
            let (text, keys) = self.ss("-tulnH");
            let missing: Vec<_> = want
                .iter()
                .filter(|(proto, addr, port)| {
                    !keys
                        .iter()
                        .any(|k| k.0 == *proto && k.1 == *addr && k.2 == *port)
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no {missing:?} in `ss -tulnH`:\n{text}"))
            }
        })
    }

    fn wait_for_pid_file(&self, path: &Path, what: &str, logs: &[&str]) -> u32 {
        self.poll(what, logs, || {
            read_pid(path).ok_or_else(|| format!("no pid in {}", path.display()))
        })
    }

    /// PIDs of every process in the namespace.
    fn members(&self) -> Vec<u32> {
        let out = run(Command::new(&self.ip).args(["netns", "pids", &self.ns]));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p| p != my_pid())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Foreground daemons: SIGKILL and reap.
        self.spawned.clear();
        if self.created {
            // Detached daemons by their pid files, politely, so that the
            // nginx master takes its workers down with it; then anything
            // still in the namespace (a daemon that failed half way, a pid
            // file not written yet).
            let members = self.members();
            let stopping: Vec<u32> = self
                .pid_files
                .iter()
                .filter_map(|f| read_pid(f))
                .filter(|p| members.contains(p))
                .collect();
            for &pid in &stopping {
                signal(pid, libc::SIGTERM);
            }
            for &pid in &stopping {
                wait_gone(pid, Duration::from_secs(3));
            }
            for pid in self.members() {
                signal(pid, libc::SIGKILL);
                wait_gone(pid, Duration::from_secs(2));
            }
            let out = run(Command::new(&self.ip).args(["netns", "del", &self.ns]));
            if !out.status.success() {
                eprintln!(
                    "could not delete network namespace {}: {}",
                    self.ns,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// Whether the program is installed; prints the SKIP line when it is not.
fn installed(daemon: &str, program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        eprintln!("SKIP {daemon}: not installed");
    }
    found
}

/// nginx: master (root) and two workers (www-data) on `80` (IPv4),
/// `[::]:80` (v6-only) and `[::]:8081 ipv6only=off` (dual-stack).
fn start_nginx(lab: &mut Lab) -> Option<u32> {
    let nginx = installed("nginx", "nginx")?;
    if user_ids("www-data").is_none() {
        eprintln!("SKIP nginx: no www-data user");
        return None;
    }
    let pid_file = lab.path("nginx.pid");
    let conf = lab.path("nginx.conf");
    fs::write(
        &conf,
        format!(
            "user www-data;\n\
             worker_processes 2;\n\
             daemon on;\n\
             pid {pid};\n\
             error_log {err};\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   server {{ listen 80; listen [::]:80; listen [::]:8081 ipv6only=off; }}\n\
             }}\n",
            pid = pid_file.display(),
            err = lab.path("nginx.err").display(),
        ),
    )
    .unwrap();
    lab.pid_files.push(pid_file.clone());
    let mut cmd = lab.exec(&nginx);
    cmd.arg("-e")
        .arg(lab.path("nginx.err"))
        .arg("-c")
        .arg(&conf);
    lab.log_to(&mut cmd, "nginx");
    let logs = ["nginx.log", "nginx.err"];
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "nginx: {:?}\n{}",
        out.status,
        lab.logs(&logs)
    );
    let master = lab.wait_for_pid_file(&pid_file, "nginx", &logs);
    lab.wait_for(
        "nginx",
        &[
            ("tcp", "0.0.0.0", 80),
            ("tcp", "::", 80),
            ("tcp", "*", 8081),
        ],
        &logs,
    );
    lab.poll("nginx", &logs, || match children(master).len() {
        2 => Ok(()),
        n => Err(format!("master {master} has {n} workers, not 2")),
    });
    Some(master)
}

/// redis-server on 127.0.0.1:6379, as the redis user when there is one.
/// Returns its pid and the uid it runs as.
fn start_redis(lab: &mut Lab) -> Option<(u32, u32)> {
    let redis = installed("redis", "redis-server")?;
    let dir = lab.path("redis");
    fs::create_dir(&dir).unwrap();
    let mut cmd;
    let mut uid = 0;
    match (user_ids("redis"), find_program("setpriv")) {
        (Some((u, g)), Some(setpriv)) => {
            // Its pid file and log are written as redis.
            std::os::unix::fs::chown(&dir, Some(u), Some(g)).unwrap();
            uid = u;
            cmd = lab.exec(setpriv);
            cmd.args(["--reuid=redis", "--regid=redis", "--init-groups", "--"])
                .arg(&redis);
        }
        (user, _) => {
            let why = if user.is_none() {
                "no redis user"
            } else {
                "no setpriv"
            };
            eprintln!("redis: {why}, running it as root");
            cmd = lab.exec(&redis);
        }
    }
    let pid_file = dir.join("redis.pid");
    lab.pid_files.push(pid_file.clone());
    cmd.args(["--port", "6379", "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--daemonize", "yes", "--dir"])
        .arg(&dir)
        .arg("--pidfile")
        .arg(&pid_file)
        .arg("--logfile")
        .arg(dir.join("redis.log"));
    lab.log_to(&mut cmd, "redis-start");
    let logs = ["redis-start.log", "redis/redis.log"];
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "redis: {:?}\n{}",
        out.status,
        lab.logs(&logs)
    );
    let pid = lab.wait_for_pid_file(&pid_file, "redis", &logs);
    lab.wait_for("redis", &[("tcp", "127.0.0.1", 6379)], &logs);
    Some((pid, uid))
}

/// dnsmasq on 127.0.0.1:53, udp and tcp, running as nobody.
fn start_dnsmasq(lab: &mut Lab) -> Option<u32> {
    let dnsmasq = installed("dnsmasq", "dnsmasq")?;
    let pid_file = lab.path("dnsmasq.pid");
    lab.pid_files.push(pid_file.clone());
    let mut cmd = lab.exec(&dnsmasq);
    cmd.args([
        "--conf-file=/dev/null",
        "--port=53",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--user=nobody",
    ])
    .arg(format!("--pid-file={}", pid_file.display()));
    lab.log_to(&mut cmd, "dnsmasq");
    let logs = ["dnsmasq.log"];
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "dnsmasq: {:?}\n{}",
        out.status,
        lab.logs(&logs)
    );
    let pid = lab.wait_for_pid_file(&pid_file, "dnsmasq", &logs);
    lab.wait_for(
        "dnsmasq",
        &[("udp", "127.0.0.1", 53), ("tcp", "127.0.0.1", 53)],
        &logs,
    );
    Some(pid)
}

/// openbsd-inetd in the foreground (`-i`) with its own configuration:
/// the internal discard (udp), echo and daytime (tcp) services, each on
/// IPv4 and IPv6.
fn start_inetd(lab: &mut Lab) -> Option<u32> {
    let inetd = installed("inetd", "inetd")?;
    let Some(unshare) = find_program("unshare") else {
        eprintln!("SKIP inetd: unshare (util-linux) is not installed");
        return None;
    };
    // Debian's openbsd-inetd; other inetds take other flags.
    let usage = run(lab.exec(&inetd).arg("-h"));
    if !String::from_utf8_lossy(&usage.stderr).contains("[-dEil]") {
        eprintln!(
            "SKIP inetd: {} is not openbsd-inetd: {}",
            inetd.display(),
            String::from_utf8_lossy(&usage.stderr).trim()
        );
        return None;
    }
    let conf = lab.path("inetd.conf");
    fs::write(
        &conf,
        "discard\tdgram\tudp\twait\troot\tinternal\n\
         echo\tstream\ttcp\tnowait\troot\tinternal\n\
         daytime\tstream\ttcp\tnowait\troot\tinternal\n",
    )
    .unwrap();
    // inetd always writes /run/inetd.pid (and removes it on exit), which
    // would clobber the host inetd's: give it a /run of its own, in a
    // private mount namespace. Every step execs, so the pid is inetd's.
    let mut cmd = lab.exec(unshare);
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o mode=755 wp-inetd-run /run && exec "$0" -i "$1""#)
        .arg(&inetd)
        .arg(&conf);
    lab.log_to(&mut cmd, "inetd");
    let child = Spawned::start(&mut cmd);
    let pid = child.0.id();
    lab.spawned.push(child);
    lab.wait_for(
        "inetd",
        &[
            ("udp", "0.0.0.0", 9),
            ("tcp", "0.0.0.0", 7),
            ("tcp", "::", 7),
            ("tcp", "0.0.0.0", 13),
            ("tcp", "::", 13),
        ],
        &["inetd.log"],
    );
    Some(pid)
}

/// A python3 UDP socket on `[::]:PY_PORT` with IPV6_V6ONLY off.
fn start_python(lab: &mut Lab) -> Option<u32> {
    let python = installed("python3", "python3")?;
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
         s.bind(('::', {PY_PORT}))\n\
         time.sleep(600)\n"
    );
    let mut cmd = lab.exec(python);
    cmd.args(["-c", &script]);
    lab.log_to(&mut cmd, "python");
    let child = Spawned::start(&mut cmd);
    let pid = child.0.id();
    lab.spawned.push(child);
    lab.wait_for("python3", &[("udp", "*", PY_PORT)], &["python.log"]);
    Some(pid)
}

/// The listener for (protocol, address, port); address `*` is the
/// dual-stack `::` socket, `::` the v6-only one.
fn find<'a>(list: &'a Listing, proto: &str, addr: &str, port: u16) -> &'a Listener {
    let (address, dual) = match addr {
        "*" => ("::", true),
        a => (a, false),
    };
    let found: Vec<&Listener> = list
        .listeners
        .iter()
        .filter(|l| {
            l.protocol == proto && l.port == port && l.address == address && l.dual_stack == dual
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{proto} {addr} {port}: {found:#?}\nall: {:#?}",
        list.listeners
    );
    found[0]
}

fn service(l: &Listener) -> &str {
    l.service.as_ref().map_or("", |s| s.name.as_str())
}

fn names(l: &Listener) -> BTreeSet<&str> {
    l.processes.iter().map(|p| p.name.as_str()).collect()
}

fn users(l: &Listener) -> BTreeSet<&str> {
    l.processes
        .iter()
        .map(|p| p.user.as_deref().unwrap_or("?"))
        .collect()
}

#[test]
fn real_daemons_match_ss_in_a_private_namespace() {
    if !is_root() {
        eprintln!("SKIP real_daemons_match_ss_in_a_private_namespace: needs root");
        return;
    }
    let (Some(ip), Some(ss)) = (find_program("ip"), find_program("ss")) else {
        eprintln!(
            "SKIP real_daemons_match_ss_in_a_private_namespace: ip and ss (iproute2) are not installed; .ci/run installs them"
        );
        return;
    };
    // The namespace's sockets are invisible to the other tests, but the
    // daemons are forked from this process: held like every test that
    // starts processes, and every fork goes through run() or Spawned.
    let _g = sockets_guard();
    let started_at = Instant::now();
    let mut lab = match Lab::new(ip, ss) {
        Ok(lab) => lab,
        Err(why) => {
            eprintln!("SKIP real_daemons_match_ss_in_a_private_namespace: {why}");
            return;
        }
    };

    let nginx = start_nginx(&mut lab);
    let redis = start_redis(&mut lab);
    let dnsmasq = start_dnsmasq(&mut lab);
    let inetd = start_inetd(&mut lab);
    let python = start_python(&mut lab);
    let daemons = [
        nginx.is_some(),
        redis.is_some(),
        dnsmasq.is_some(),
        inetd.is_some(),
    ];
    assert!(
        daemons.contains(&true),
        "none of nginx, redis-server, dnsmasq, inetd could be started (see the SKIP lines); .ci/run installs them"
    );

    // Socket for socket, PID for PID. ss is read before and after whyport;
    // a round where the two differ (a daemon still settling) is retried.
    let mut compared = None;
    for _ in 0..5 {
        let (_, before) = lab.ss("-tulpnH");
        let out = run(lab.exec(bin_path()).arg("--json"));
        let (text, after) = lab.ss("-tulpnH");
        if before == after {
            compared = Some((parse(&out), after, text));
            break;
        }
        sleep(Duration::from_millis(200));
    }
    let (list, ss, ss_text) = compared.expect("the namespace's sockets kept changing");
    assert_eq!(
        whyport_keys(&list),
        ss,
        "whyport (left) and ss -tulpnH (right) disagree; ss said:\n{ss_text}"
    );
    for l in &list.listeners {
        assert!(
            matches!(l.owner_status.as_str(), "visible" | "partial") && !l.processes.is_empty(),
            "{l:#?}"
        );
    }

    if let Some(master) = nginx {
        for (addr, family) in [("0.0.0.0", "ipv4"), ("::", "ipv6")] {
            let l = find(&list, "tcp", addr, 80);
            assert_eq!(l.family, family);
            assert_eq!(service(l), "http", "{l:#?}");
            assert_eq!(l.processes.len(), 3, "master + 2 workers: {l:#?}");
            assert!(l.pids().contains(&master), "{l:#?}");
            assert_eq!(names(l), BTreeSet::from(["nginx"]));
            assert_eq!(users(l), BTreeSet::from(["root", "www-data"]), "{l:#?}");
            for p in l.processes.iter().filter(|p| p.pid != master) {
                assert_eq!(p.ppid, Some(master), "a worker's parent is the master");
                assert_eq!(p.user.as_deref(), Some("www-data"));
            }
        }
        let dual = find(&list, "tcp", "*", 8081);
        assert!(dual.dual_stack && dual.family == "ipv6", "{dual:#?}");
        assert_eq!(dual.processes.len(), 3, "{dual:#?}");
    }
    if let Some((pid, uid)) = redis {
        let l = find(&list, "tcp", "127.0.0.1", 6379);
        assert_eq!(service(l), "redis", "{l:#?}");
        assert_eq!(l.pids(), [pid]);
        assert_eq!(names(l), BTreeSet::from(["redis-server"]));
        assert_eq!(l.processes[0].uid, Some(uid));
        assert_eq!(l.socket_uid, uid, "the socket was made after setpriv");
    }
    if let Some(pid) = dnsmasq {
        for proto in ["udp", "tcp"] {
            let l = find(&list, proto, "127.0.0.1", 53);
            assert_eq!(service(l), "domain", "{l:#?}");
            assert_eq!(l.pids(), [pid]);
            assert_eq!(names(l), BTreeSet::from(["dnsmasq"]));
            assert_eq!(l.processes[0].user.as_deref(), Some("nobody"));
        }
    }
    if let Some(pid) = inetd {
        for (proto, port, name) in [("tcp", 7, "echo"), ("tcp", 13, "daytime")] {
            for addr in ["0.0.0.0", "::"] {
                let l = find(&list, proto, addr, port);
                assert_eq!(service(l), name, "{l:#?}");
                assert_eq!(l.pids(), [pid]);
                assert_eq!(names(l), BTreeSet::from(["inetd"]));
            }
        }
        let l = find(&list, "udp", "0.0.0.0", 9);
        assert_eq!(service(l), "discard", "{l:#?}");
        assert_eq!(names(l), BTreeSet::from(["inetd"]));
    }
    if let Some(pid) = python {
        let l = find(&list, "udp", "*", PY_PORT);
        assert!(l.dual_stack && l.family == "ipv6", "{l:#?}");
        assert_eq!(service(l), "snmp", "{l:#?}");
        assert_eq!(l.pids(), [pid]);
        assert!(l.processes[0].name.starts_with("python"), "{l:#?}");
    }
    eprintln!(
        "daemons: {} listeners from nginx={} redis={} dnsmasq={} inetd={} python3={} compared with ss in {:?}",
        list.listeners.len(),
        daemons[0],
        daemons[1],
        daemons[2],
        daemons[3],
        python.is_some(),
        started_at.elapsed()
    );
}
