//! Who started a process, read from the names and command lines of its
//! ancestors: the nearest one that is a launcher wins.

use super::{Launcher, LauncherKind};
use crate::model::Process;

/// Shells that count as "started by hand" when interactive.
const SHELLS: &[&[u8]] = &[
    b"bash", b"sh", b"dash", b"ash", b"zsh", b"fish", b"ksh", b"mksh", b"tcsh", b"csh",
];

/// The nearest launcher of `process`: the process itself when it is a
/// super-server (it holds the listeners of the services it will start),
/// else the nearest ancestor that is one.
///
/// Ancestors that are not launchers are passed over: wrappers (`sudo`, `su`,
/// `env`, `nohup`, `timeout`, `setpriv`, `runuser`, `stdbuf`), shells running
/// a script or a `-c` command line (how cron, supervisord, tmux and `ssh host
/// cmd` run a command), and parents such as an nginx master. The search
/// stops at a service manager (the init of any PID namespace: the host's
/// PID 1 or a container's, or a systemd user manager): what it starts is explained by the unit in the cgroup,
/// not by whoever started the manager.
pub(super) fn find(process: &Process, ancestors: &[&Process]) -> Option<Launcher> {
    if !process.is_init() && super_server(process) {
        return Some(launcher(LauncherKind::Inetd, process));
    }
    for ancestor in ancestors {
        if ancestor.is_init() || comm(ancestor) == b"systemd" {
            return None;
        }
        if let Some(kind) = kind(ancestor) {
            return Some(launcher(kind, ancestor));
        }
    }
    None
}

fn launcher(kind: LauncherKind, process: &Process) -> Launcher {
    Launcher {
        kind,
        pid: process.pid,
        name: String::from_utf8_lossy(comm(process)).into_owned(),
    }
}

fn kind(p: &Process) -> Option<LauncherKind> {
    let name = comm(p);
    let kind = match name {
        b"supervisord" => LauncherKind::Supervisord,
        b"cron" | b"crond" | b"CRON" => LauncherKind::Cron,
        // tmux renames its server process "tmux: server".
        b"tmux" | b"tmux: server" => LauncherKind::Tmux,
        b"screen" | b"SCREEN" => LauncherKind::Screen,
        // OpenSSH 9.8 moved sessions into sshd-session.
        b"sshd" | b"sshd-session" | b"dropbear" => LauncherKind::SshSession,
        _ if super_server(p) => LauncherKind::Inetd,
        _ if is_pm2(p) => LauncherKind::Pm2,
        _ if name.starts_with(b"python") && runs_script(p, b"supervisord") => {
            LauncherKind::Supervisord
        }
        _ if is_shell(p) && interactive(p) => LauncherKind::Shell,
        _ => return None,
    };
    Some(kind)
}

fn super_server(p: &Process) -> bool {
    matches!(comm(p), b"inetd" | b"xinetd" | b"inetutils-inetd")
}

/// pm2's daemon retitles itself `PM2 v5.3.0: God Daemon (/root/.pm2)`; the
/// kernel keeps the first 15 bytes as its name.
fn is_pm2(p: &Process) -> bool {
    let god = |s: &[u8], marker: &[u8]| {
        s.starts_with(b"PM2 v") && s.windows(marker.len()).any(|w| w == marker)
    };
    god(comm(p), b": God") || p.cmdline.first().is_some_and(|a| god(a, b"God Daemon"))
}

/// An interpreter running `script` (`python3 /usr/bin/supervisord -n`): the
/// kernel names the process after the interpreter then.
fn runs_script(p: &Process, script: &[u8]) -> bool {
    p.cmdline
        .iter()
        .skip(1)
        .find(|a| !a.starts_with(b"-"))
        .is_some_and(|a| basename(a) == script)
}

fn is_shell(p: &Process) -> bool {
    let name = comm(p);
    if SHELLS.contains(&name) {
        return true;
    }
    // `busybox sh`, or a busybox binary exec'd under the name sh/ash.
    name == b"busybox"
        && p.cmdline
            .iter()
            .take(2)
            .any(|a| matches!(basename(a), b"sh" | b"ash"))
}

/// A shell someone types into: options only (`-bash`, `bash -l`, `zsh -i`),
/// no script operand and no `-c` command string.
fn interactive(p: &Process) -> bool {
    let mut args = p.cmdline.iter().skip(1);
    if comm(p) == b"busybox" && p.cmdline.first().is_some_and(|a| basename(a) == b"busybox") {
        // `busybox sh ...`: the applet name is not an operand.
        args.next();
    }
    args.all(|a| match a.strip_prefix(b"--") {
        Some(long) => !long.is_empty() && !long.starts_with(b"command"),
        None => a.len() > 1 && a.starts_with(b"-") && !a.contains(&b'c'),
    })
}

/// The process name (/proc/<pid>/comm), without a trailing newline.
fn comm(p: &Process) -> &[u8] {
    p.name.strip_suffix(b"\n").unwrap_or(&p.name)
}

/// Last path component, without the `-` a login shell's argv[0] carries.
fn basename(arg: &[u8]) -> &[u8] {
    let base = arg.rsplit(|&b| b == b'/').next().unwrap_or(arg);
    base.strip_prefix(b"-").unwrap_or(base)
}
