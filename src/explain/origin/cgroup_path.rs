//! One cgroup path read as systemd, Docker, containerd, Kubernetes, Podman,
//! LXC or systemd-nspawn lay it out (see fixtures/cgroup/README.md for the
//! layouts and where they are documented).

use super::{CgroupInfo, Container, Runtime, Unit};

/// The container a cgroup path names, and the inner unit if the container
/// runs its own systemd. The outermost container wins: for Docker in Docker
/// (`/docker/<outer>/docker/<inner>`) the host's runtime knows only the
/// outer one.
pub(super) fn container(path: &str) -> Option<CgroupInfo> {
    let parts: Vec<&str> = components(path).collect();
    (0..parts.len()).find_map(|i| {
        let (container, used) = container_at(&parts, i)?;
        let inner = parts.get(i + used..).unwrap_or_default();
        Some(CgroupInfo {
            unit: unit_in(inner),
            container: Some(container),
        })
    })
}

/// The unit a cgroup path names (no container involved).
pub(super) fn unit(path: &str) -> Option<Unit> {
    let parts: Vec<&str> = components(path).collect();
    unit_in(&parts)
}

/// Path components, without the `.`/`..` a cgroup namespace can add.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
}

/// The first unit in the path: anything below it is a subgroup the unit
/// delegated (`foo.service/bar`), except below a user manager, whose own
/// units follow (`user@1000.service/app.slice/myapp.service`).
fn unit_in(parts: &[&str]) -> Option<Unit> {
    let mut manager: Option<(&str, u32)> = None;
    for part in parts.iter().copied().filter(|p| is_unit(p)) {
        match (manager, user_manager(part)) {
            (None, Some(uid)) => manager = Some((part, uid)),
            _ => {
                return Some(Unit {
                    name: part.to_string(),
                    user: manager.map(|(_, uid)| uid),
                });
            }
        }
    }
    // The user manager with nothing below it (v1 puts it there directly).
    manager.map(|(name, _)| Unit {
        name: name.to_string(),
        user: None,
    })
}

/// Unit types that get a cgroup of their own with processes in it (slices
/// never hold processes).
fn is_unit(part: &str) -> bool {
    [".service", ".scope", ".socket", ".mount", ".swap"]
        .iter()
        .any(|suffix| part.strip_suffix(suffix).is_some_and(|s| !s.is_empty()))
}

/// `user@1000.service` -> 1000.
fn user_manager(part: &str) -> Option<u32> {
    part.strip_prefix("user@")?
        .strip_suffix(".service")?
        .parse()
        .ok()
}

/// A container whose cgroup starts at `parts[i]`, and how many components
/// name it.
fn container_at(parts: &[&str], i: usize) -> Option<(Container, usize)> {
    let part = *parts.get(i)?;
    let next = parts.get(i + 1).copied();
    let make = |runtime, id: String| Container {
        runtime,
        id,
        pod: None,
    };
    // kubepods (cgroupfs), kubepods.slice (systemd), kubelet-kubepods.slice
    // (kind and other nested kubelets).
    if part == "kubepods" || part == "kubepods.slice" || part.ends_with("-kubepods.slice") {
        let rest = parts.get(i + 1..).unwrap_or_default();
        if let Some((found, used)) = kubernetes(rest) {
            return Some((found, used + 1));
        }
    }
    if let Some(found) = kubernetes_joined(part) {
        return Some((found, 1));
    }
    if let Some(id) = scoped_id(part, "docker-") {
        return Some((make(Runtime::Docker, id), 1));
    }
    if part == "docker"
        && let Some(id) = next.and_then(hex_id)
    {
        return Some((make(Runtime::Docker, id), 2));
    }
    if let Some(id) = scoped_id(part, "nerdctl-") {
        return Some((make(Runtime::Containerd, id), 1));
    }
    // nerdctl's cgroupfs driver puts containers under their namespace.
    if i == 0
        && part == "default"
        && let Some(id) = next.and_then(hex_id)
    {
        return Some((make(Runtime::Containerd, id), 2));
    }
    // libpod-<id>.scope (systemd driver), libpod-<id> (cgroupfs driver);
    // libpod-conmon-<id>.scope is the monitor, not the container.
    let podman = part
        .strip_prefix("libpod-")
        .map(|s| s.strip_suffix(".scope").unwrap_or(s));
    if let Some(id) = podman.and_then(hex_id) {
        return Some((make(Runtime::Podman, id), 1));
    }
    if let Some(name) = part.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
        return Some((make(Runtime::Lxc, name.to_string()), 1));
    }
    if (part == "lxc" || part == "lxc.payload")
        && let Some(name) = next
    {
        return Some((make(Runtime::Lxc, name.to_string()), 2));
    }
    nspawn(part, i.checked_sub(1).and_then(|p| parts.get(p).copied()))
        .map(|name| (make(Runtime::Nspawn, name), 1))
}

/// Pod and container below the kubepods root: an optional QoS level
/// (`besteffort`, `kubepods-burstable.slice`), the pod (`pod<uid>`,
/// `kubepods-burstable-pod<uid_with_underscores>.slice`), then the container
/// (`<id>`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
/// `docker-<id>.scope`).
fn kubernetes(rest: &[&str]) -> Option<(Container, usize)> {
    let (j, pod) = rest
        .iter()
        .take(2)
        .enumerate()
        .find_map(|(j, part)| Some((j, pod_uid(part)?)))?;
    let id = rest.get(j + 1).and_then(|c| k8s_container_id(c))?;
    Some((pod_container(pod, id), j + 2))
}

/// `<pod slice>:cri-containerd:<id>` as one directory: the kubelet's
/// systemd driver hands containerd a systemd-style `slice:prefix:name`, and
/// runc without its systemd driver takes it for a plain name.
fn kubernetes_joined(part: &str) -> Option<Container> {
    let mut fields = part.splitn(3, ':');
    let pod = pod_uid(fields.next()?)?;
    fields.next().filter(|runtime| !runtime.is_empty())?;
    Some(pod_container(pod, hex_id(fields.next()?)?))
}

fn pod_container(pod: String, id: String) -> Container {
    Container {
        runtime: Runtime::Kubernetes,
        id,
        pod: Some(pod),
    }
}

/// The pod uid in a pod cgroup's name, with dashes.
fn pod_uid(part: &str) -> Option<String> {
    let uid = match part.strip_suffix(".slice") {
        // kubelet's systemd driver turns the uid's `-` into `_`, which
        // systemd would otherwise read as slice nesting.
        Some(slice) => slice.rsplit_once("-pod")?.1.replace('_', "-"),
        None => part.strip_prefix("pod")?.to_string(),
    };
    let valid = !uid.is_empty() && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    valid.then_some(uid)
}

fn k8s_container_id(part: &str) -> Option<String> {
    let bare = part.strip_suffix(".scope").unwrap_or(part);
    let id = ["cri-containerd-", "crio-", "docker-"]
        .iter()
        .find_map(|prefix| bare.strip_prefix(prefix))
        .unwrap_or(bare);
    hex_id(id)
}

/// `<prefix><64 hex>.scope` -> the id.
fn scoped_id(part: &str, prefix: &str) -> Option<String> {
    hex_id(part.strip_prefix(prefix)?.strip_suffix(".scope")?)
}

/// Docker, containerd, CRI-O and Podman ids are 64 lowercase hex digits;
/// requiring all 64 keeps look-alike names from passing as containers.
fn hex_id(s: &str) -> Option<String> {
    let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    valid.then(|| s.to_string())
}

/// The machine name of an nspawn container: `systemd-nspawn@<name>.service`
/// (`machinectl start`), or `machine-<name>.scope` under `machine.slice`
/// (`systemd-nspawn` run directly registers a scope with machined).
fn nspawn(part: &str, parent: Option<&str>) -> Option<String> {
    if let Some(name) = part
        .strip_prefix("systemd-nspawn@")
        .and_then(|s| s.strip_suffix(".service"))
    {
        return Some(unescape(name)).filter(|n| !n.is_empty());
    }
    let name = part.strip_prefix("machine-")?.strip_suffix(".scope")?;
    let name = unescape(name);
    // libvirt registers its VMs with machined too: machine-qemu\x2d1\x2dvm.scope.
    let is_container =
        parent == Some("machine.slice") && !name.is_empty() && !name.starts_with("qemu-");
    is_container.then_some(name)
}

/// Undo systemd's unit name escaping (`foo\x2dbar` -> `foo-bar`).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match bytes.get(i..i + 4) {
            Some([b'\\', b'x', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}
