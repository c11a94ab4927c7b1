//! Linux: host facts for explanations: interface addresses (getifaddrs),
//! the inetd configuration, systemd .socket units, and the ephemeral port
//! range. Read only when a port is explained, and only the files that the
//! owners make relevant.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::proc_file::{self, Links};
use crate::model::{Host, Process};

/// Where systemd looks for unit files, most specific first.
const UNIT_DIRS: [&str; 4] = [
    "etc/systemd/system",
    "run/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Which links a file under `root` may be: the live host's own files may be
/// links (see `Links::Follow`); a recorded tree's never.
pub(super) fn links(live: bool) -> Links {
    if live { Links::Follow } else { Links::Refuse }
}

/// A configuration file, as proc_file.rs reads: a regular file of at most
/// `proc_file::CONFIG` bytes.
fn config(path: &Path, links: Links) -> Result<String, proc_file::Error> {
    config_at(rustix::fs::CWD, path, links)
}

/// `config`, relative to the directory `dir`.
fn config_at(dir: impl AsFd, path: &Path, links: Links) -> Result<String, proc_file::Error> {
    let mut buf = Vec::new();
    match proc_file::read_capped(
        dir,
        path,
        links,
        proc_file::CONFIG,
        proc_file::Ends::AtEof,
        &mut buf,
    )? {
        proc_file::Fill::Whole => Ok(String::from_utf8_lossy(&buf).into_owned()),
        proc_file::Fill::Truncated => Err(proc_file::Error::TooLarge(proc_file::CONFIG)),
    }
}

/// Read the host facts; `root` is `/` live or the recorded tree's root;
/// `known`: the live addresses, when they were read already.
pub(super) fn read(
    root: &Path,
    live: bool,
    owners: &[&Process],
    known: Option<Vec<(String, IpAddr)>>,
) -> Host {
    let links = links(live);
    let inetd_conf = owners.iter().find_map(|p| match p.name.as_slice() {
        b"inetd" | b"inetutils-inetd" => config(&root.join(inetd_config(p)), links).ok(),
        b"xinetd" => Some(xinetd_config(root, links)),
        _ => None,
    });
    // Each init's own units: the host's under `root`, a container's under
    // its root as its init sees it (live only; a recorded tree has no
    // container roots).
    let mut socket_units = BTreeMap::new();
    for p in owners.iter().filter(|p| p.is_init()) {
        let units = if p.pid == 1 {
            socket_units_in(root, links)
        } else if live && p.uid == Some(0) {
            // Only a root init's root: an unprivileged user's namespace
            // (`unshare -Urpf`) could mount a FUSE file there that never
            // answers, and O_NONBLOCK does not stop that.
            socket_units_in(&root.join(format!("proc/{}/root", p.pid)), Links::InRoot)
        } else {
            continue;
        };
        socket_units.insert(p.pid, units);
    }
    let ephemeral_ports = proc_file::read_text(
        rustix::fs::CWD,
        root.join("proc/sys/net/ipv4/ip_local_port_range"),
        Links::Refuse,
        proc_file::SMALL,
    )
    .ok()
    .and_then(|t| {
        let mut it = t.split_whitespace().map(|v| v.parse::<u16>().ok());
        Some((it.next()??, it.next()??))
    });
    Host {
        addresses: live.then(|| known.unwrap_or_else(addresses)),
        inetd_conf,
        socket_units,
        ephemeral_ports,
        container_names: if owners
            .iter()
            .any(|p| p.cgroup.as_deref().is_some_and(|c| c.contains("docker")))
        {
            docker_names(root, links)
        } else {
            Vec::new()
        },
        machines: machines(root, links),
    }
}

/// (name, leader PID) of the machines systemd-machined knows: the files of
/// /run/systemd/machines (`LEADER=PID` in each; `unit:` and `.ref` entries
/// are not machines).
pub(super) fn machines(root: &Path, links: Links) -> Vec<(String, u32)> {
    let dir = root.join("run/systemd/machines");
    let mut out: Vec<(String, u32)> =
        proc_file::names_in(rustix::fs::CWD, &dir.to_string_lossy(), links)
            .into_iter()
            .filter(|n| !n.starts_with("unit:") && !n.starts_with('.'))
            .filter_map(|name| {
                let text = proc_file::read_text(
                    rustix::fs::CWD,
                    dir.join(&name),
                    links,
                    proc_file::SMALL * 4,
                )
                .ok()?;
                let leader = text
                    .lines()
                    .find_map(|l| l.strip_prefix("LEADER="))?
                    .trim()
                    .parse()
                    .ok()?;
                Some((name, leader))
            })
            .collect();
    out.sort();
    out
}

/// (id, name) of every Docker container, from
/// /var/lib/docker/containers/<id>/config.v2.json (readable by root).
pub(super) fn docker_names(root: &Path, links: Links) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(root.join("var/lib/docker/containers")) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let Ok(text) = config(&entry.path().join("config.v2.json"), links) else {
            continue;
        };
        if let Some(name) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("Name")?
                    .as_str()
                    .map(|n| n.trim_start_matches('/').to_string())
            })
        {
            names.push((id, name));
        }
    }
    names.sort();
    names
}

/// The configuration file an inetd runs with: its last argument when that
/// is an absolute path (`inetd -i /etc/inetd.alt`), else /etc/inetd.conf.
/// Relative to the root, so a recorded tree's own copy is read. The
/// argument is taken only from an inetd running as root, and never with a
/// `..`: any user can name a process `inetd` and give it arguments, which
/// must not choose a file for root to read and quote.
fn inetd_config(p: &Process) -> String {
    let last = p.cmdline.iter().skip(1).next_back();
    let path = last
        .filter(|_| p.uid == Some(0))
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .filter(|a| a.starts_with('/') && !a.split('/').any(|c| c == ".."));
    match path {
        Some(path) => path.trim_start_matches('/').to_string(),
        None => "etc/inetd.conf".into(),
    }
}

/// /etc/xinetd.conf and every file of /etc/xinetd.d, one after another.
/// At most `proc_file::CONFIG` bytes in all: the files after that are left
/// out.
fn xinetd_config(root: &Path, links: Links) -> String {
    let mut text = config(&root.join("etc/xinetd.conf"), links).unwrap_or_default();
    let mut files: Vec<_> = std::fs::read_dir(root.join("etc/xinetd.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let more = config(&f, links).unwrap_or_default();
        if text.len() + more.len() > proc_file::CONFIG {
            break;
        }
        text.push('\n');
        text.push_str(&more);
    }
    text
}

/// Every `*.socket` unit file under `root`, the first found of each name.
fn socket_units_in(root: &Path, links: Links) -> Vec<(String, String)> {
    let Ok(base) = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return Vec::new();
    };
    let mut units: Vec<(String, String)> = Vec::new();
    for dir in UNIT_DIRS {
        for name in proc_file::names_in(&base, dir, links) {
            if !name.ends_with(".socket") || units.iter().any(|(n, _)| *n == name) {
                continue;
            }
            match config_at(&base, &Path::new(dir).join(&name), links) {
                Ok(text) => units.push((name, text)),
                // Masked (a link to /dev/null): empty, and it hides the
                // unit of the same name in the directories after it.
                Err(proc_file::Error::NotRegular(_)) => units.push((name, String::new())),
                Err(_) => {}
            }
        }
    }
    units.sort();
    units
}

/// (interface, address) of every configured address, from getifaddrs.
pub(super) fn addresses() -> Vec<(String, IpAddr)> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list; it is freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: cur walks the list getifaddrs returned, until its end.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated interface name.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr points to a sockaddr whose family says its type.
        let address = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        };
        if let Some(a) = address {
            out.push((name, a));
        }
    }
    // SAFETY: list came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inetd_reads_the_configuration_it_was_given() {
        let p = |args: &[&str]| Process {
            name: b"inetd".to_vec(),
            cmdline: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            uid: Some(0),
            ..Process::default()
        };
        assert_eq!(inetd_config(&p(&["/usr/sbin/inetd"])), "etc/inetd.conf");
        assert_eq!(
            inetd_config(&p(&["/usr/sbin/inetd", "-i"])),
            "etc/inetd.conf"
        );
        assert_eq!(
            inetd_config(&p(&["inetd", "-i", "/tmp/x/inetd.conf"])),
            "tmp/x/inetd.conf"
        );
        // Anyone can name a process inetd: its argument chooses nothing
        // unless it runs as root, and never climbs out with `..`.
        let mut user = p(&["inetd", "/etc/shadow"]);
        user.uid = Some(1000);
        assert_eq!(inetd_config(&user), "etc/inetd.conf");
        assert_eq!(
            inetd_config(&p(&["inetd", "/etc/../../etc/shadow"])),
            "etc/inetd.conf"
        );
    }

    #[test]
    fn loopback_is_among_the_addresses() {
        let all = addresses();
        assert!(
            all.iter()
                .any(|(i, a)| i == "lo" && *a == IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{all:?}"
        );
    }
}
