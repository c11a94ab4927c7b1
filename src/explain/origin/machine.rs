//! Which container (machine) a PID namespace's init belongs to, from what
//! the kernel and the runtime leave behind: machined's registry, the
//! arguments of the process that started the init (systemd-nspawn,
//! lxc-start, conmon), and the init's cgroup. Pure.

use super::{Runtime, from_cgroup};
use crate::model::Process;

/// A container or machine, known by the init of its PID namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The init's PID as whyport sees it (what `nsenter -t` takes).
    pub init: u32,
    /// The runtime that started it, when something says so.
    pub runtime: Option<Runtime>,
    /// Its name (`-M`/`--machine`, `-n`/`--name`, machined's file name,
    /// the runtime's state).
    pub name: Option<String>,
    /// The runtime's id (a 64-hex container id), when different from the
    /// name.
    pub id: Option<String>,
    /// systemd-machined knows it by `name`: `systemctl -M NAME` and
    /// `machinectl` reach it.
    pub machined: bool,
    /// The process that started the init, when it could be read.
    pub launcher: Option<(u32, String)>,
}

impl Machine {
    /// A few words: `machine web (systemd-nspawn)`, `a PID namespace`.
    pub fn describe(&self) -> String {
        let runtime = self.runtime.map(runtime_word);
        match (&self.name, runtime) {
            (Some(n), Some(r)) => format!("{r} container {}", crate::sanitize::escape_str(n)),
            (Some(n), None) => format!("container {}", crate::sanitize::escape_str(n)),
            (None, Some(r)) => format!("a {r} container"),
            (None, None) => "a PID namespace of its own".into(),
        }
    }
}

fn runtime_word(r: Runtime) -> &'static str {
    r.name()
}

/// The machine whose init is `init`, started by `launcher` (its parent);
/// `machines`: machined's (name, leader); `names`: container id -> name
/// from the runtimes' state.
pub fn identify(
    init: &Process,
    launcher: Option<&Process>,
    machines: &[(String, u32)],
    names: &[(String, String)],
) -> Machine {
    let mut m = Machine {
        init: init.pid,
        runtime: None,
        name: None,
        id: None,
        machined: false,
        launcher: launcher.map(|p| (p.pid, String::from_utf8_lossy(comm(p)).into_owned())),
    };
    if let Some(c) = init
        .cgroup
        .as_deref()
        .map(from_cgroup)
        .and_then(|c| c.container)
    {
        m.runtime = Some(c.runtime);
        match c.runtime {
            // Their cgroups carry the name itself.
            Runtime::Lxc | Runtime::Nspawn => m.name = Some(c.id),
            _ => {
                m.name = names
                    .iter()
                    .find(|(id, _)| *id == c.id)
                    .map(|(_, n)| n.clone());
                m.id = Some(c.id);
            }
        }
    }
    if let Some(p) = launcher {
        from_launcher(&mut m, p);
    }
    if let Some((name, _)) = machines.iter().find(|(_, leader)| *leader == init.pid) {
        m.name = Some(name.clone());
        m.machined = true;
        m.runtime.get_or_insert(Runtime::Nspawn);
    }
    m
}

/// What the launcher's name and arguments say.
fn from_launcher(m: &mut Machine, p: &Process) {
    let args: Vec<String> = p
        .cmdline
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    match comm(p) {
        b"systemd-nspawn" => {
            m.runtime = Some(Runtime::Nspawn);
            let dir = option(&args, "-D", "--directory")
                .or_else(|| option(&args, "-i", "--image"))
                .and_then(|d| {
                    let base = d.trim_end_matches('/').rsplit('/').next()?.to_string();
                    let base = base
                        .strip_suffix(".raw")
                        .map(str::to_string)
                        .unwrap_or(base);
                    (!base.is_empty()).then_some(base)
                });
            if let Some(name) = option(&args, "-M", "--machine").or(dir) {
                m.name = Some(name);
            }
        }
        b"lxc-start" => {
            m.runtime = Some(Runtime::Lxc);
            // LXC's monitor retitles itself `[lxc monitor] /var/lib/lxc NAME`.
            let monitor = args
                .first()
                .filter(|a| a.starts_with("[lxc monitor]"))
                .and_then(|a| a.split_whitespace().next_back())
                .map(str::to_string);
            if let Some(name) = option(&args, "-n", "--name").or(monitor) {
                m.name = Some(name);
            }
        }
        b"conmon" => {
            m.runtime = Some(Runtime::Podman);
            if let Some(name) = option(&args, "-n", "--name") {
                m.name = Some(name);
            }
            if let Some(id) = option(&args, "-c", "--cid") {
                m.id = Some(id);
            }
        }
        _ => {}
    }
}

/// The value of a short or long option: `-n NAME`, `-nNAME`, `--name NAME`,
/// `--name=NAME`.
pub(crate) fn option(args: &[String], short: &str, long: &str) -> Option<String> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == short || a == long {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_string());
        }
        if !short.is_empty()
            && !a.starts_with("--")
            && let Some(v) = a.strip_prefix(short).filter(|v| !v.is_empty())
        {
            return Some(v.to_string());
        }
    }
    None
}

fn comm(p: &Process) -> &[u8] {
    p.name.strip_suffix(b"\n").unwrap_or(&p.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: u32, name: &str, args: &[&str]) -> Process {
        Process {
            pid,
            name: name.as_bytes().to_vec(),
            cmdline: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            ..Process::default()
        }
    }

    #[test]
    fn named_by_the_launchers_arguments() {
        let init = Process {
            ns_pid: Some(1),
            ..proc(31478, "systemd", &["/usr/lib/systemd/systemd"])
        };
        let nspawn = proc(
            31476,
            "systemd-nspawn",
            &[
                "systemd-nspawn",
                "-b",
                "--volatile=overlay",
                "-D",
                "/",
                "-M",
                "lab1",
            ],
        );
        let m = identify(&init, Some(&nspawn), &[], &[]);
        assert_eq!(
            (m.runtime, m.name.as_deref()),
            (Some(Runtime::Nspawn), Some("lab1"))
        );
        assert!(!m.machined);
        let by_dir = proc(
            9,
            "systemd-nspawn",
            &["systemd-nspawn", "-bD", "/var/lib/machines/deb12"],
        );
        // `-bD DIR` is two flags run together: not read as a name.
        assert_eq!(identify(&init, Some(&by_dir), &[], &[]).name, None);
        let by_dir = proc(
            9,
            "systemd-nspawn",
            &["systemd-nspawn", "--directory=/var/lib/machines/deb12/"],
        );
        assert_eq!(
            identify(&init, Some(&by_dir), &[], &[]).name.as_deref(),
            Some("deb12")
        );
        let registered = identify(&init, Some(&nspawn), &[("lab1".into(), 31478)], &[]);
        assert!(registered.machined);
        let lxc = proc(700, "lxc-start", &["[lxc monitor] /var/lib/lxc web1"]);
        let m = identify(&init, Some(&lxc), &[], &[]);
        assert_eq!(
            (m.runtime, m.name.as_deref()),
            (Some(Runtime::Lxc), Some("web1"))
        );
        let lxc = proc(700, "lxc-start", &["lxc-start", "-n", "db", "-F"]);
        assert_eq!(
            identify(&init, Some(&lxc), &[], &[]).name.as_deref(),
            Some("db")
        );
        let conmon = proc(
            800,
            "conmon",
            &[
                "/usr/bin/conmon",
                "--api-version",
                "1",
                "-c",
                "abc123",
                "-u",
                "abc123",
                "-n",
                "web",
                "--exit-dir",
                "/x",
            ],
        );
        let m = identify(&init, Some(&conmon), &[], &[]);
        assert_eq!(
            (m.runtime, m.name.as_deref(), m.id.as_deref()),
            (Some(Runtime::Podman), Some("web"), Some("abc123"))
        );
        let unshare = proc(5, "unshare", &["unshare", "--pid", "--fork"]);
        let m = identify(&init, Some(&unshare), &[], &[]);
        assert_eq!((m.runtime, m.name.as_deref()), (None, None));
        assert_eq!(m.describe(), "a PID namespace of its own");
    }

    #[test]
    fn named_by_the_cgroup_and_the_runtimes_state() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let init = Process {
            ns_pid: Some(1),
            cgroup: Some(format!("0::/system.slice/docker-{id}.scope\n")),
            ..proc(42, "nc", &["nc"])
        };
        let m = identify(&init, None, &[], &[(id.into(), "web".into())]);
        assert_eq!(
            (m.runtime, m.name.as_deref(), m.id.as_deref()),
            (Some(Runtime::Docker), Some("web"), Some(id))
        );
        let nspawn = Process {
            cgroup: Some("0::/machine.slice/machine-deb12.scope/init.scope\n".into()),
            ..init.clone()
        };
        let m = identify(&nspawn, None, &[], &[]);
        assert_eq!(
            (m.runtime, m.name.as_deref()),
            (Some(Runtime::Nspawn), Some("deb12"))
        );
    }
}
