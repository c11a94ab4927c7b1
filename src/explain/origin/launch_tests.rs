use super::*;

fn proc(pid: u32, name: &str, args: &[&str]) -> Process {
    Process {
        pid,
        name: name.as_bytes().to_vec(),
        cmdline: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        ..Process::default()
    }
}

fn init() -> Process {
    proc(1, "systemd", &["/sbin/init", "splash"])
}

fn sshd() -> Process {
    proc(
        310,
        "sshd",
        &["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
    )
}

fn found(kind: LauncherKind, pid: u32, name: &str) -> Option<Launcher> {
    Some(Launcher {
        kind,
        pid,
        name: name.to_string(),
    })
}

/// `launcher` for a chain written process first, then parent ... PID 1.
fn run(chain: &[Process]) -> Option<Launcher> {
    let (process, ancestors) = chain.split_first()?;
    let ancestors: Vec<&Process> = ancestors.iter().collect();
    launcher(process, &ancestors)
}

#[test]
fn interactive_shell_in_ssh_session() {
    let chain = [
        proc(900, "python3", &["python3", "-m", "http.server"]),
        proc(880, "bash", &["-bash"]),
        proc(870, "sshd", &["sshd: alice@pts/0"]),
        sshd(),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Shell, 880, "bash"));
    // Without the shell (`ssh host cmd` runs `bash -c cmd`), the session.
    let chain = [
        proc(900, "python3", &["python3", "-m", "http.server"]),
        proc(880, "bash", &["bash", "-c", "python3 -m http.server"]),
        proc(870, "sshd-session", &["sshd-session: alice@notty"]),
        sshd(),
        init(),
    ];
    assert_eq!(
        run(&chain),
        found(LauncherKind::SshSession, 870, "sshd-session")
    );
}

#[test]
fn wrappers_and_scripts_are_transparent() {
    let chain = [
        proc(950, "node", &["node", "server.js"]),
        proc(940, "timeout", &["timeout", "1h", "node", "server.js"]),
        proc(930, "bash", &["bash", "./run.sh"]),
        proc(920, "sudo", &["sudo", "./run.sh"]),
        proc(919, "sudo", &["sudo", "./run.sh"]),
        proc(910, "zsh\n", &["-zsh"]),
        proc(870, "sshd", &["sshd: alice@pts/1"]),
        sshd(),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Shell, 910, "zsh"));
}

#[test]
fn nginx_worker_has_no_launcher() {
    let chain = [
        proc(1201, "nginx", &["nginx: worker process"]),
        proc(
            1200,
            "nginx",
            &["nginx: master process /usr/sbin/nginx -g daemon on;"],
        ),
        init(),
    ];
    assert_eq!(run(&chain), None);
}

#[test]
fn supervisors() {
    let supervisord = proc(
        700,
        "supervisord",
        &[
            "/usr/bin/python3",
            "/usr/bin/supervisord",
            "-n",
            "-c",
            "/etc/supervisor/supervisord.conf",
        ],
    );
    let chain = [
        proc(
            710,
            "gunicorn",
            &["/srv/app/bin/python", "/srv/app/bin/gunicorn", "app:app"],
        ),
        proc(705, "sh", &["/bin/sh", "-c", "exec gunicorn app:app"]),
        supervisord,
        init(),
    ];
    assert_eq!(
        run(&chain),
        found(LauncherKind::Supervisord, 700, "supervisord")
    );
    let chain = [
        proc(710, "redis-server", &["redis-server *:6379"]),
        proc(
            700,
            "python3",
            &["python3", "-u", "/usr/local/bin/supervisord", "-n"],
        ),
        init(),
    ];
    assert_eq!(
        run(&chain),
        found(LauncherKind::Supervisord, 700, "python3")
    );
    // A python program that only reads supervisord's config is not it.
    let chain = [
        proc(710, "app", &["app"]),
        proc(
            700,
            "python3",
            &["python3", "check.py", "/etc/supervisord.conf"],
        ),
        init(),
    ];
    assert_eq!(run(&chain), None);

    let chain = [
        proc(820, "node", &["node /srv/api/index.js"]),
        proc(
            800,
            "PM2 v5.3.0: God",
            &["PM2 v5.3.0: God Daemon (/root/.pm2)"],
        ),
        init(),
    ];
    assert_eq!(
        run(&chain),
        found(LauncherKind::Pm2, 800, "PM2 v5.3.0: God")
    );
    let chain = [
        proc(820, "node", &["node /srv/api/index.js"]),
        proc(800, "node", &["PM2 v6.0.8: God Daemon (/home/app/.pm2)"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Pm2, 800, "node"));
}

#[test]
fn cron_job() {
    let chain = [
        proc(1302, "python3", &["python3", "/opt/backup.py"]),
        proc(1301, "sh", &["/bin/sh", "-c", "python3 /opt/backup.py"]),
        proc(1300, "cron", &["/usr/sbin/CRON", "-f"]),
        proc(600, "cron", &["/usr/sbin/cron", "-f"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Cron, 1300, "cron"));
    let chain = [
        proc(1302, "socat", &["socat", "TCP-LISTEN:9000", "-"]),
        proc(1301, "bash", &["bash", "/etc/cron.hourly/listen"]),
        proc(1300, "crond", &["/usr/sbin/crond", "-n"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Cron, 1300, "crond"));
}

#[test]
fn terminal_multiplexers() {
    let tmux = proc(
        400,
        "tmux: server",
        &["tmux", "new", "-d", "python3 -m http.server"],
    );
    let chain = [
        proc(402, "python3", &["python3", "-m", "http.server"]),
        proc(401, "bash", &["bash", "-c", "python3 -m http.server"]),
        tmux.clone(),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Tmux, 400, "tmux: server"));
    // A shell in a tmux pane is the nearer launcher.
    let chain = [
        proc(402, "python3", &["python3", "-m", "http.server"]),
        proc(401, "bash", &["-bash"]),
        tmux,
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Shell, 401, "bash"));
    let chain = [
        proc(502, "java", &["java", "-jar", "minecraft.jar"]),
        proc(
            501,
            "screen",
            &["SCREEN", "-dmS", "mc", "java", "-jar", "minecraft.jar"],
        ),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Screen, 501, "screen"));
}

#[test]
fn inetd() {
    // The super-server holds the listeners itself.
    let chain = [
        proc(650, "xinetd", &["/usr/sbin/xinetd", "-stayalive"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Inetd, 650, "xinetd"));
    let chain = [
        proc(651, "inetutils-inetd", &["/usr/sbin/inetutils-inetd"]),
        init(),
    ];
    assert_eq!(
        run(&chain),
        found(LauncherKind::Inetd, 651, "inetutils-inetd")
    );
    // A `wait` service it started holds the socket it was handed.
    let chain = [
        proc(660, "in.tftpd", &["in.tftpd", "-s", "/srv/tftp"]),
        proc(652, "inetd", &["/usr/sbin/inetd"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Inetd, 652, "inetd"));
}

#[test]
fn busybox_shells() {
    let chain = [
        proc(72, "httpd", &["httpd", "-f", "-p", "8080"]),
        proc(71, "busybox", &["busybox", "sh"]),
        proc(70, "dropbear", &["dropbear", "-R"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::Shell, 71, "busybox"));
    let chain = [
        proc(72, "httpd", &["httpd", "-f", "-p", "8080"]),
        proc(71, "busybox", &["busybox", "sh", "-c", "httpd -f -p 8080"]),
        proc(70, "dropbear", &["dropbear", "-R"]),
        init(),
    ];
    assert_eq!(run(&chain), found(LauncherKind::SshSession, 70, "dropbear"));
    // busybox running another applet is not a shell.
    let chain = [
        proc(72, "httpd", &["httpd"]),
        proc(71, "busybox", &["busybox", "nohup", "httpd"]),
        init(),
    ];
    assert_eq!(run(&chain), None);
}

#[test]
fn nothing_found() {
    assert_eq!(
        run(&[proc(42, "redis-server", &["redis-server *:6379"])]),
        None
    );
    assert_eq!(run(&[proc(42, "redis-server", &[]), init()]), None);
    // PID 1 is never the launcher, whatever it is called.
    assert_eq!(
        run(&[proc(42, "app", &[]), proc(1, "bash", &["bash"])]),
        None
    );
    assert_eq!(run(&[proc(1, "inetd", &["inetd"])]), None);
    // What a service manager starts, its cgroup explains: the user manager,
    // or a container's systemd under an nspawn run from an SSH shell.
    let chain = [
        proc(3000, "app", &["app"]),
        proc(2000, "systemd", &["/lib/systemd/systemd", "--user"]),
        init(),
    ];
    assert_eq!(run(&chain), None);
    let chain = [
        proc(5001, "postgres", &["postgres"]),
        proc(5000, "systemd", &["/usr/lib/systemd/systemd"]),
        proc(
            4999,
            "systemd-nspawn",
            &["systemd-nspawn", "-bD", "/var/lib/machines/db"],
        ),
        proc(880, "bash", &["-bash"]),
        sshd(),
        init(),
    ];
    assert_eq!(run(&chain), None);
    // Not UTF-8, not a known name.
    let odd = Process {
        pid: 7,
        name: vec![0xff, 0xfe],
        cmdline: vec![vec![0xff]],
        ..Process::default()
    };
    let chain = [proc(8, "x", &[]), odd, init()];
    assert_eq!(run(&chain), None);
}
