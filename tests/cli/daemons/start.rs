//! Starting each daemon of the lab; a daemon that is not installed is
//! skipped with a SKIP line, one that fails to start fails the test.

use std::fs;
use std::path::PathBuf;

use super::lab::*;
use crate::support::*;

/// Whether the program is installed; prints the SKIP line when it is not.
pub(super) fn installed(daemon: &str, program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        skip(
            daemon,
            Skip::Tool(program),
            format!("{program} is not installed"),
        );
    }
    found
}

/// nginx: master (root) and two workers (www-data) on `80` (IPv4),
/// `[::]:80` (v6-only) and `[::]:8081 ipv6only=off` (dual-stack).
pub(super) fn start_nginx(lab: &mut Lab) -> Option<u32> {
    let nginx = installed("nginx", "nginx")?;
    if user_ids("www-data").is_none() {
        skip("nginx", Skip::Other, "no www-data user");
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
pub(super) fn start_redis(lab: &mut Lab) -> Option<(u32, u32)> {
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
pub(super) fn start_dnsmasq(lab: &mut Lab) -> Option<u32> {
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
pub(super) fn start_inetd(lab: &mut Lab) -> Option<u32> {
    let inetd = installed("inetd", "inetd")?;
    let Some(unshare) = find_program("unshare") else {
        skip(
            "inetd",
            Skip::Tool("unshare"),
            "unshare (util-linux) is not installed",
        );
        return None;
    };
    // Debian's openbsd-inetd; other inetds take other flags.
    let usage = run(lab.exec(&inetd).arg("-h"));
    if !String::from_utf8_lossy(&usage.stderr).contains("[-dEil]") {
        skip(
            "inetd",
            Skip::Other,
            format!(
                "{} is not openbsd-inetd: {}",
                inetd.display(),
                String::from_utf8_lossy(&usage.stderr).trim()
            ),
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
pub(super) fn start_python(lab: &mut Lab) -> Option<u32> {
    let python = PathBuf::from(PYTHON3);
    if !python.exists() {
        skip("python3", Skip::Tool("python3"), "python3 is not installed");
        return None;
    }
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
