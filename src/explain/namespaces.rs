//! What a network namespace is, in words: the host's, a named one (`ip
//! netns`), a container's, a Kubernetes pod's, or just a number with the
//! process in it. Pure: from where it is mounted and its member's cgroup.

use super::origin::machine::identify;
use super::origin::{Runtime, from_cgroup};
use super::why::origin_of::short;
use crate::model::{NetNamespace, Process};
pub use crate::report::NsView;
use crate::sanitize::{escape, escape_str};

/// Describe `ns`; `names` maps container ids to names, `machines` are
/// machined's (name, leader).
pub fn view(ns: &NetNamespace, names: &[(String, String)], machines: &[(String, u32)]) -> NsView {
    let mut v = NsView {
        inode: ns.inode,
        kind: "other",
        label: format!("net:[{}]", ns.inode),
        summary: String::new(),
        container: None,
        own: ns.own,
        addresses: ns.addresses.clone(),
    };
    let named = ns
        .mounts
        .iter()
        .find_map(|m| m.strip_prefix("/run/netns/"))
        .map(str::to_string);
    let sandbox = ns
        .mounts
        .iter()
        .find_map(|m| m.strip_prefix("/run/docker/netns/"))
        .map(str::to_string);
    let container = ns
        .member_cgroup
        .as_deref()
        .map(from_cgroup)
        .and_then(|c| c.container);
    // Where no cgroup names it (a host without systemd): the init of the
    // PID namespace its processes live in, and who started that.
    let machine = ns.ns_init.as_ref().map(|i| {
        let init = Process {
            pid: i.pid,
            name: i.name.clone(),
            cgroup: i.cgroup.clone(),
            ns_pid: Some(1),
            ..Process::default()
        };
        identify(&init, i.launcher.as_ref(), machines, names)
    });
    let member = || {
        ns.pids.first().map_or_else(
            || "with no process in it".to_string(),
            |pid| {
                let name = ns.member_name.as_deref().map(escape).unwrap_or_default();
                format!("with {name} (pid {pid}) in it")
            },
        )
    };
    if ns.init || (ns.own && ns.pids.contains(&1)) {
        v.kind = "host";
        v.label = "host".into();
        v.summary = "the host's network namespace".into();
    } else if let Some(c) = container {
        // The runtime's state, else what started the container's init
        // (conmon's `-n NAME`).
        let name = names
            .iter()
            .find(|(id, _)| *id == c.id)
            .map(|(_, n)| n.clone())
            .or_else(|| {
                machine
                    .as_ref()
                    .filter(|m| m.id.as_deref() == Some(c.id.as_str()))
                    .and_then(|m| m.name.clone())
            });
        let runtime = c.runtime.name();
        if let (Runtime::Kubernetes, Some(pod)) = (c.runtime, &c.pod) {
            v.kind = "pod";
            v.label = format!("pod:{}", escape_str(pod.get(..8).unwrap_or(pod)));
            v.summary = format!(
                "Kubernetes pod {} (container {})",
                escape_str(pod),
                short(&c.id)
            );
        } else {
            v.kind = "container";
            let shown = name.clone().unwrap_or_else(|| short(&c.id).to_string());
            v.label = format!("{}:{}", runtime.to_ascii_lowercase(), escape_str(&shown));
            v.summary = match &name {
                Some(n) => format!("{runtime} container {} ({})", escape_str(n), short(&c.id)),
                None => format!("{runtime} container {}", short(&c.id)),
            };
        }
        v.container = Some((c.runtime, c.id, name));
    } else if let Some((m, runtime)) = machine
        .as_ref()
        .and_then(|m| Some((m, m.runtime?)))
        .filter(|(m, _)| m.name.is_some() || m.id.is_some())
    {
        let shown = m
            .name
            .clone()
            .or_else(|| m.id.as_deref().map(|id| short(id).to_string()))
            .unwrap_or_default();
        let word = runtime.name();
        v.kind = "container";
        v.label = format!("{}:{}", word.to_ascii_lowercase(), escape_str(&shown));
        v.summary = format!(
            "{word} container {} (its init: pid {}{})",
            escape_str(&shown),
            m.init,
            if m.machined {
                ", registered with systemd-machined"
            } else {
                ""
            }
        );
        let id = m.id.clone().unwrap_or_else(|| shown.clone());
        v.container = Some((runtime, id, m.name.clone()));
    } else if let Some(n) = named {
        v.kind = "netns";
        v.label = format!("netns:{}", escape_str(&n));
        v.summary = format!(
            "named network namespace {} (ip netns), {}",
            escape_str(&n),
            member()
        );
    } else if let Some(id) = sandbox {
        v.kind = "docker-sandbox";
        v.label = format!("docker-sandbox:{}", escape_str(short(&id)));
        v.summary = format!(
            "a Docker network sandbox ({}), {}",
            escape_str(&id),
            member()
        );
    } else {
        v.summary = format!("network namespace {} {}", ns.inode, member());
    }
    if ns.own && !ns.init && v.kind != "host" {
        v.summary.push_str(" (whyport's own)");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(inode: u64) -> NetNamespace {
        NetNamespace {
            inode,
            ..NetNamespace::default()
        }
    }

    #[test]
    fn kinds_of_namespaces() {
        let host = NetNamespace {
            init: true,
            own: true,
            pids: vec![1, 2],
            ..ns(4026531840)
        };
        assert_eq!(view(&host, &[], &[]).label, "host");
        let named = NetNamespace {
            mounts: vec!["/run/netns/blue".into()],
            ..ns(7)
        };
        let v = view(&named, &[], &[]);
        assert_eq!((v.kind, v.label.as_str()), ("netns", "netns:blue"));
        assert!(v.summary.contains("with no process in it"), "{}", v.summary);
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let docker = NetNamespace {
            pids: vec![42],
            member_cgroup: Some(format!("0::/system.slice/docker-{id}.scope\n")),
            member_name: Some(b"nginx".to_vec()),
            mounts: vec![format!("/run/docker/netns/{}", "abc")],
            ..ns(8)
        };
        let v = view(&docker, &[(id.to_string(), "web".to_string())], &[]);
        assert_eq!((v.kind, v.label.as_str()), ("container", "docker:web"));
        assert_eq!(v.summary, "Docker container web (0123456789ab)");
        let v = view(&docker, &[], &[]);
        assert_eq!(v.label, "docker:0123456789ab");
        let sandbox = NetNamespace {
            mounts: vec!["/run/docker/netns/1f2e3d4c5b6a".into()],
            ..ns(9)
        };
        assert_eq!(view(&sandbox, &[], &[]).kind, "docker-sandbox");
        let pod = NetNamespace {
            pids: vec![50],
            member_cgroup: Some(
                "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod3f2a1b4c_5d6e_4f70_8a9b_0c1d2e3f4a5b.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n".into(),
            ),
            ..ns(10)
        };
        let v = view(&pod, &[], &[]);
        assert_eq!(v.kind, "pod", "{v:?}");
        assert!(v.label.starts_with("pod:3f2a1b4c"), "{}", v.label);
        let bare = NetNamespace {
            pids: vec![77],
            member_name: Some(b"x\x1b[2J".to_vec()),
            ..ns(11)
        };
        let v = view(&bare, &[], &[]);
        assert_eq!(v.label, "net:[11]");
        assert!(v.summary.contains("x\\x1b[2J (pid 77)"), "{}", v.summary);
    }

    /// A host without systemd: no cgroup names an nspawn or LXC
    /// container, the init of its PID namespace and its launcher do.
    #[test]
    fn containers_named_by_their_inits_launcher() {
        let launcher = |name: &str, args: &[&str]| Process {
            pid: 500,
            name: name.as_bytes().to_vec(),
            cmdline: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            ..Process::default()
        };
        let with = |l: Process| NetNamespace {
            pids: vec![501, 600],
            member_cgroup: Some("0::/\n".into()),
            ns_init: Some(crate::model::NsInit {
                pid: 501,
                name: b"systemd".to_vec(),
                cgroup: Some("0::/\n".into()),
                launcher: Some(l),
            }),
            ..ns(4026532177)
        };
        let nspawn = with(launcher(
            "systemd-nspawn",
            &["systemd-nspawn", "-b", "-M", "lab1"],
        ));
        let v = view(&nspawn, &[], &[]);
        assert_eq!(
            (v.kind, v.label.as_str()),
            ("container", "systemd-nspawn:lab1")
        );
        let v = view(&nspawn, &[], &[("lab1".into(), 501)]);
        assert!(v.summary.contains("systemd-machined"), "{}", v.summary);
        let lxc = with(launcher("lxc-start", &["[lxc monitor] /var/lib/lxc web1"]));
        assert_eq!(view(&lxc, &[], &[]).label, "lxc:web1");
        // unshare names nothing: the inode stays.
        let bare = with(launcher("unshare", &["unshare", "--pid", "--fork"]));
        assert_eq!(view(&bare, &[], &[]).label, "net:[4026532177]");
    }
}
