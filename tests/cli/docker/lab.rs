//! The Docker lab: dockerd in a private network namespace with its state in
//! a temporary directory, the image, the containers, and the cleanup that
//! removes all of it.

use crate::netns::Netns;
use crate::procs::*;
use crate::ss::{Key, ss_keys};
use crate::support::*;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use super::*;

/// The programs the test runs.
pub(super) struct Tools {
    pub(super) ip: PathBuf,
    pub(super) ss: PathBuf,
    pub(super) dockerd: PathBuf,
    pub(super) docker: PathBuf,
    /// Statically linked: it is the whole image.
    pub(super) busybox: PathBuf,
    /// dockerd's major version (20 for 20.10).
    pub(super) major: u32,
}

impl Tools {
    /// The tools, or the one missing (as .ci/run names it) and why.
    pub(super) fn find() -> Result<Tools, (&'static str, String)> {
        let missing = |what: &'static str| {
            (
                what,
                format!(
                    "{what} is not installed; .ci/run installs it (iproute2, docker.io, busybox-static)"
                ),
            )
        };
        let ip = find_program("ip").ok_or_else(|| missing("ip"))?;
        let ss = find_program("ss").ok_or_else(|| missing("ss"))?;
        let dockerd = find_program("dockerd").ok_or_else(|| missing("dockerd"))?;
        let docker = find_program("docker").ok_or_else(|| missing("docker"))?;
        let busybox = [find_program("busybox"), Some(PathBuf::from("/bin/busybox"))]
            .into_iter()
            .flatten()
            .find(|p| is_static(p))
            .ok_or_else(|| {
                (
                    "busybox",
                    "no statically linked busybox (the image is made of it); .ci/run installs busybox-static"
                        .to_string(),
                )
            })?;
        let version = run(Command::new(&dockerd).arg("--version"));
        let text = String::from_utf8_lossy(&version.stdout);
        // "Docker version 20.10.24+dfsg1, build 5d6db84"
        let major = text
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.split('.').next()?.parse().ok())
            .ok_or_else(|| {
                (
                    "dockerd",
                    format!("cannot read the version of dockerd: {text:?}"),
                )
            })?;
        Ok(Tools {
            ip,
            ss,
            dockerd,
            docker,
            busybox,
            major,
        })
    }
}

/// An ELF executable without a program interpreter (PT_INTERP).
pub(super) fn is_static(path: &Path) -> bool {
    let Ok(elf) = fs::read(path) else {
        return false;
    };
    if elf.get(..4) != Some(b"\x7fELF") || elf.len() < 64 {
        return false;
    }
    let wide = elf[4] == 2;
    let big = elf[5] == 2;
    let int = |at: usize, len: usize| -> Option<usize> {
        let bytes = elf.get(at..at + len)?;
        let fold = |v: usize, b: &u8| (v << 8) | usize::from(*b);
        Some(if big {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        })
    };
    let header = if wide {
        (int(0x20, 8), int(0x36, 2), int(0x38, 2))
    } else {
        (int(0x1c, 4), int(0x2a, 2), int(0x2c, 2))
    };
    let (Some(phoff), Some(size), Some(count)) = header else {
        return false;
    };
    (0..count).all(|i| int(phoff + i * size, 4).is_some_and(|kind| kind != 3))
}

pub(super) fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A running container: its full id, the host pid of its first process
/// and its address on Docker's bridge (empty on the host network).
#[derive(Debug)]
pub(super) struct Container {
    pub(super) id: String,
    pub(super) pid: u32,
    pub(super) ip: String,
}

/// Run `cmd` for at most `limit`; killed after that.
pub(super) fn bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = Spawned::start(cmd);
    let drain = |pipe: Option<Box<dyn Read + Send>>| -> JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.0.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            // Dropping the child kills and reaps it.
            Ok(None) => return Err(format!("{what}: no answer within {limit:?}")),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// The namespace, the temporary directory, dockerd and its containers.
/// Dropping it removes the containers, stops dockerd and removes the rest.
pub(super) struct Lab {
    pub(super) t: Tools,
    ns: Netns,
    dir: Option<tempfile::TempDir>,
    /// `ip netns exec` execs a shell that execs dockerd: the same pid.
    dockerd: Option<Spawned>,
    /// Names to `docker rm -f`, ids to look for in cgroups.
    names: Vec<&'static str>,
    ids: Vec<String>,
    /// `<cgroup mount>/docker` directories that did not exist before.
    new_cgroups: Vec<PathBuf>,
}

impl Lab {
    pub(super) fn new(t: Tools) -> Result<Lab, String> {
        let dir = tempfile::Builder::new()
            .prefix("wp-docker-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let new_cgroups = cgroup_mounts()
            .into_iter()
            .filter(|(_, fstype, _)| fstype != "tmpfs")
            .map(|(mount, _, _)| mount.join("docker"))
            .filter(|d| !d.exists())
            .collect();
        Ok(Lab {
            ns: Netns::create(&t.ip, "wp-docker")?,
            t,
            dir: Some(dir),
            dockerd: None,
            names: Vec::new(),
            ids: Vec::new(),
            new_cgroups,
        })
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().unwrap().path().join(name)
    }

    /// `ip netns exec NS program`, with stdin closed.
    pub(super) fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.ns.exec(program)
    }

    /// The docker client, talking only to this daemon.
    pub(super) fn docker(&self) -> Command {
        let mut cmd = Command::new(&self.t.docker);
        cmd.arg("--host")
            .arg(format!("unix://{}", self.path("docker.sock").display()))
            .env("DOCKER_CONFIG", self.path("cli"))
            .stdin(Stdio::null());
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `docker ARGS`, which must succeed; its stdout, trimmed.
    pub(super) fn docker_ok(&self, cmd: &mut Command) -> String {
        let out = bounded(cmd, DOCKER_CMD).unwrap_or_else(|e| panic!("{e}\n{}", self.log_tail()));
        assert!(
            out.status.success(),
            "{cmd:?}: {:?}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub(super) fn dockerd_pid(&self) -> u32 {
        self.dockerd.as_ref().map_or(0, |d| d.0.id())
    }

    pub(super) fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.path("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        format!("--- dockerd.log (last 25 lines):\n{tail}")
    }

    /// dockerd in the namespace, answering on its socket; or why not.
    pub(super) fn start_dockerd(&mut self) -> Result<(), String> {
        // Before 23, dockerd writes /etc/docker/key.json unless told
        // otherwise, in its configuration file only.
        let config = if self.t.major < 23 {
            serde_json::json!({ "deprecated-key-path": self.path("key.json") })
        } else {
            serde_json::json!({})
        };
        fs::write(self.path("daemon.json"), config.to_string()).unwrap();
        fs::create_dir(self.path("cli")).unwrap();
        let bb = sh_quote(&self.t.busybox);
        let mut script = format!("set -e\n{bb} mount -t tmpfs -o mode=755 wp-docker-run /run\n");
        for (mount, fstype, options) in cgroup_mounts() {
            let mount = sh_quote(&mount);
            let options = match fstype.as_str() {
                "tmpfs" => "mode=755".to_string(),
                "cgroup" => options,
                _ => String::new(),
            };
            let options = if options.is_empty() {
                String::new()
            } else {
                format!("-o {options} ")
            };
            script.push_str(&format!(
                "{bb} mkdir -p {mount}\n{bb} mount -t {fstype} {options}wp-docker-cgroup {mount}\n"
            ));
        }
        script.push_str("exec \"$@\"\n");
        let bin_dir = self.t.dockerd.parent().unwrap_or(Path::new("/"));
        let mut cmd = self.exec(&self.t.busybox);
        cmd.args(["sh", "-c", &script, "wp-dockerd"])
            .arg(&self.t.dockerd)
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("exec"))
            .arg("--pidfile")
            .arg(self.path("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", self.path("docker.sock").display()))
            .arg("--config-file")
            .arg(self.path("daemon.json"))
            .args([
                "--iptables=true",
                "--userland-proxy=true",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                "--shutdown-timeout",
                "3",
            ])
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    bin_dir.display()
                ),
            );
        if self.t.major >= 20 {
            cmd.arg("--ip6tables=false");
        }
        let log = File::create(self.path("dockerd.log")).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        self.dockerd = Some(Spawned::start(&mut cmd));

        let deadline = Instant::now() + DOCKERD_READY;
        loop {
            if let Some(status) = self
                .dockerd
                .as_mut()
                .and_then(|d| d.0.try_wait().ok().flatten())
            {
                return Err(format!(
                    "dockerd could not start in a network namespace: {status}\n{}",
                    self.log_tail()
                ));
            }
            if self.path("docker.sock").exists() {
                let out = bounded(
                    self.docker()
                        .args(["version", "--format", "{{.Server.Version}}"]),
                    Duration::from_secs(5),
                );
                if out.is_ok_and(|o| o.status.success()) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "dockerd did not answer within {DOCKERD_READY:?}\n{}",
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// IMAGE from a root file system of one static busybox, `/bin/sh`
    /// linked to it: `tar -C dir -c . | docker import - IMAGE`.
    pub(super) fn import_image(&self) {
        let tar = busybox_image(&self.t.busybox, &self.path(""));
        let id = self.docker_ok(
            self.docker()
                .args(["import", "-", IMAGE])
                .stdin(File::open(&tar).unwrap()),
        );
        assert!(id.starts_with("sha256:"), "{id}");
    }

    /// `docker run -d --name NAME OPTIONS IMAGE /bin/busybox httpd -f HTTPD`.
    pub(super) fn run_container(
        &mut self,
        name: &'static str,
        options: &[&str],
        httpd: &[&str],
    ) -> Container {
        self.names.push(name);
        let id = self.docker_ok(
            self.docker()
                .args(["run", "-d", "--name", name])
                .args(options)
                .args([IMAGE, "/bin/busybox", "httpd", "-f"])
                .args(httpd),
        );
        self.ids.push(id.clone());
        let text = self.docker_ok(self.docker().args([
            "inspect",
            "--format",
            "{{.Id}}|{{.State.Pid}}|{{.NetworkSettings.IPAddress}}",
            name,
        ]));
        let f: Vec<&str> = text.split('|').collect();
        assert_eq!(f.len(), 3, "{text}");
        assert_eq!(f[0], id, "docker run printed the full id");
        Container {
            id,
            pid: f[1].parse().unwrap_or_else(|_| panic!("{text}")),
            ip: f[2].to_string(),
        }
    }

    /// `ss FLAGS` in the namespace: its text and its keys.
    pub(super) fn ss(&self, flags: &str) -> (String, Vec<Key>) {
        let out = run(self.exec(&self.t.ss).arg(flags));
        assert!(out.status.success(), "ss: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let keys = ss_keys(&text);
        (text, keys)
    }

    /// Until ss lists every (protocol, address, port) of `want`.
    pub(super) fn wait_for_listeners(&self, want: &[(&str, &str, u16)]) {
        let deadline = Instant::now() + LISTENING;
        loop {
            let (text, keys) = self.ss("-tulnH");
            let missing = crate::ss::missing(&keys, want);
            if missing.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {missing:?} after {LISTENING:?} in `ss -tulnH`:\n{text}\n{}",
                self.log_tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Processes whose cgroup names one of the containers: a bridged
    /// container's processes are in a network namespace of their own.
    pub(super) fn container_processes(&self) -> Vec<u32> {
        if self.ids.is_empty() {
            return Vec::new();
        }
        pids()
            .into_iter()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .is_ok_and(|c| self.ids.iter().any(|id| c.contains(id.as_str())))
            })
            .collect()
    }

    pub(super) fn stop_dockerd(&mut self) {
        let Some(mut dockerd) = self.dockerd.take() else {
            return;
        };
        let pid = dockerd.0.id();
        if dockerd.0.try_wait().ok().flatten().is_none() {
            if !self.names.is_empty() {
                let mut rm = self.docker();
                rm.args(["rm", "-f"]).args(&self.names);
                match bounded(&mut rm, DOCKER_CMD) {
                    Ok(out) if out.status.success() => {}
                    Ok(out) => eprintln!(
                        "docker rm -f: {:?}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    ),
                    Err(e) => eprintln!("{e}"),
                }
            }
            // Its containerd is its child: stopped by it.
            let helpers = children(pid);
            signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while dockerd.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
            for helper in helpers {
                wait_gone(helper, Duration::from_secs(10));
            }
        }
        // SIGKILL if still there, and reap.
        drop(dockerd);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_dockerd();
        self.ns.kill_members();
        for pid in self.container_processes() {
            signal(pid, libc::SIGKILL);
            wait_gone(pid, Duration::from_secs(2));
        }
        if let Some(dir) = self.dir.as_ref() {
            unmount_below(dir.path());
        }
        self.ns.delete();
        // Docker removes its containers' cgroups (unless it was killed),
        // not their parent. rmdir fails on a cgroup that is still in use.
        for (mount, fstype, _) in cgroup_mounts() {
            if fstype == "tmpfs" {
                continue;
            }
            let parent = mount.join("docker");
            for id in &self.ids {
                let _ = fs::remove_dir(parent.join(id));
            }
            if self.new_cgroups.contains(&parent) {
                let _ = fs::remove_dir(&parent);
            }
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                eprintln!("could not remove {}: {e}", path.display());
            }
        }
    }
}

/// A one-file image in `dir`: a static busybox with /bin/sh linked to it,
/// as the tar Docker and Podman import; its path.
pub(crate) fn busybox_image(busybox: &Path, dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy(busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let tar = dir.join("rootfs.tar");
    let out = run(Command::new(busybox)
        .args(["tar", "-c", "-f"])
        .arg(&tar)
        .arg("-C")
        .arg(&root)
        .arg("."));
    assert!(out.status.success(), "tar: {out:?}");
    tar
}

/// (mount point, file system type, super options without rw/ro) of the
/// host's mounts at and below /sys/fs/cgroup, parents first.
pub(crate) fn cgroup_mounts() -> Vec<(PathBuf, String, String)> {
    mountinfo()
        .into_iter()
        .filter(|(mount, fstype, _)| {
            mount.starts_with("/sys/fs/cgroup")
                && matches!(fstype.as_str(), "tmpfs" | "cgroup" | "cgroup2")
        })
        .map(|(mount, fstype, options)| {
            let options = options
                .split(',')
                .filter(|o| *o != "rw" && *o != "ro")
                .collect::<Vec<_>>()
                .join(",");
            (mount, fstype, options)
        })
        .collect()
}

/// (mount point, file system type, super options) of /proc/self/mountinfo.
pub(super) fn mountinfo() -> Vec<(PathBuf, String, String)> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount = unescape(left.split(' ').nth(4)?);
            let mut r = right.split(' ');
            let fstype = r.next()?.to_string();
            let options = r.nth(1).unwrap_or_default().to_string();
            Some((PathBuf::from(mount), fstype, options))
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
pub(super) fn unescape(field: &str) -> String {
    let mut out = Vec::new();
    let b = field.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (b[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `umount -l` everything still mounted at or below `dir` in the test's
/// mount namespace, deepest first. dockerd mounts in its own namespace, so
/// there should be nothing.
pub(super) fn unmount_below(dir: &Path) {
    let mut below: Vec<PathBuf> = mountinfo()
        .into_iter()
        .map(|(mount, _, _)| mount)
        .filter(|m| m.starts_with(dir))
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for mount in below {
        eprintln!("unmounting {} left by dockerd", mount.display());
        let Ok(c) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: a plain system call on a NUL-terminated path.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            eprintln!(
                "could not unmount {}: {}",
                mount.display(),
                std::io::Error::last_os_error()
            );
        }
    }
}
