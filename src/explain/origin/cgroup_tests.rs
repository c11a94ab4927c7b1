use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../fixtures/cgroup/", $name, ".txt"))
    };
}

const NGINX_DOCKER: &str = "efe59d9fc8be2765418234c68b244d82e50886c4a1e4c8edc0dc6f869b8c6a5d";
const ID: &str = "beac3bf12fb4b37a2942a69220cdf2609246c87583d895c15b3f2d13d504a2ea";
const POD: &str = "1d2c3b4a-0000-4000-8000-00000000beef";

fn unit(name: &str, user: Option<u32>) -> CgroupInfo {
    CgroupInfo {
        unit: Some(Unit {
            name: name.to_string(),
            user,
        }),
        container: None,
    }
}

fn container(runtime: Runtime, id: &str, pod: Option<&str>) -> CgroupInfo {
    CgroupInfo {
        unit: None,
        container: Some(Container {
            runtime,
            id: id.to_string(),
            pod: pod.map(str::to_string),
        }),
    }
}

fn with_unit(mut info: CgroupInfo, name: &str) -> CgroupInfo {
    info.unit = unit(name, None).unit;
    info
}

#[test]
fn systemd_units_from_fixtures() {
    let nginx = unit("nginx.service", None);
    assert_eq!(from_cgroup(fixture!("systemd-v2-system-unit")), nginx);
    assert_eq!(from_cgroup(fixture!("systemd-v1-system-unit")), nginx);
    let redis = unit("redis-server.service", None);
    assert_eq!(from_cgroup(fixture!("systemd-hybrid")), redis);
    let myapp = unit("myapp.service", Some(1000));
    assert_eq!(from_cgroup(fixture!("user-unit-v2")), myapp);
    let session = unit("session-3.scope", None);
    assert_eq!(from_cgroup(fixture!("login-session")), session);
    assert_eq!(from_cgroup(fixture!("init")), unit("init.scope", None));
}

#[test]
fn containers_from_fixtures() {
    let docker = container(Runtime::Docker, NGINX_DOCKER, None);
    // The unified line says containerd.service; the v1 lines name the container.
    assert_eq!(from_cgroup(fixture!("docker-cgroupfs-v1")), docker);
    let id = "83d57af37b3df931cf924ae7cfdce74ab9a76c189da167218934a65bd70d4124";
    let docker = container(Runtime::Docker, id, None);
    assert_eq!(from_cgroup(fixture!("docker-systemd-v2")), docker);

    let id = "e778a6d473e45403f84a2116d3f87a2d1f79cf38a97b6dcc704053007cb2461e";
    let pod = Some("c73e12d2-fc07-42f2-a95c-e638ca49905d");
    let k8s = container(Runtime::Kubernetes, id, pod);
    assert_eq!(from_cgroup(fixture!("kubernetes-containerd-systemd")), k8s);
    let id = "bfd6e67496fb632d97d5621ebdecd46b7b07210cee26c27a2d8f1ff3dea02451";
    let pod = Some("f29da45d-6d32-4469-bba2-207e6e294235");
    let k8s = container(Runtime::Kubernetes, id, pod);
    assert_eq!(from_cgroup(fixture!("kubernetes-cgroupfs-v1")), k8s);

    let id = "00de0a64ef26aca8a24a5bd58fdfd8f36c3de104cca4b83ccdfeb65066c295ca";
    let podman = container(Runtime::Podman, id, None);
    assert_eq!(from_cgroup(fixture!("podman-rootful")), podman);
    let id = "52fad684d12fdb5582c06370179e544be25db12c8200a137db71056a77d96b1f";
    let podman = container(Runtime::Podman, id, None);
    assert_eq!(from_cgroup(fixture!("podman-rootless")), podman);

    // System containers run their own systemd: the unit is theirs.
    let lxc = with_unit(container(Runtime::Lxc, "web1", None), "nginx.service");
    assert_eq!(from_cgroup(fixture!("lxc")), lxc);
    let nspawn = container(Runtime::Nspawn, "build-box", None);
    let nspawn = with_unit(nspawn, "postgresql.service");
    assert_eq!(from_cgroup(fixture!("nspawn")), nspawn);
}

#[test]
fn live_captures_name_nothing() {
    // No systemd: only the memory controller names a (non-systemd) path.
    let none = CgroupInfo::default();
    assert_eq!(from_cgroup(fixture!("live-hybrid-no-systemd")), none);
    assert_eq!(from_cgroup(fixture!("live-cgroupns-private")), none);
}

#[test]
fn systemd_layouts() {
    let cases = [
        ("0::/system.slice/foo.service/bar\n", "foo.service", None),
        (
            "0::/system.slice/foo.service/bar.service\n",
            "foo.service",
            None,
        ),
        (
            "0::/system.slice/system-getty.slice/getty@tty1.service\n",
            "getty@tty1.service",
            None,
        ),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/init.scope",
            "init.scope",
            Some(1000),
        ),
        (
            "1:name=systemd:/user.slice/user-42.slice/user@42.service",
            "user@42.service",
            None,
        ),
        ("0::/system.slice/cups.socket", "cups.socket", None),
        // A reader in a cgroup namespace sees paths relative to its root.
        ("0::/../../system.slice/ssh.service", "ssh.service", None),
        // A removed cgroup that still holds a zombie.
        (
            "0::/system.slice/old.service (deleted)",
            "old.service",
            None,
        ),
        // Windows line endings, surrounding lines that are not cgroup lines.
        (
            "junk\r\n0::/system.slice/crlf.service\r\n\r\n",
            "crlf.service",
            None,
        ),
    ];
    for (text, name, user) in cases {
        assert_eq!(from_cgroup(text), unit(name, user), "{text:?}");
    }
}

#[test]
fn line_preference() {
    // Hybrid: the unified line is `/`, the systemd one knows the unit.
    let text = "1:name=systemd:/system.slice/a.service\n0::/\n";
    assert_eq!(from_cgroup(text), unit("a.service", None));
    // Unified wins over name=systemd when it names something.
    let text = "1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n";
    assert_eq!(from_cgroup(text), unit("b.service", None));
    // v1 without a systemd hierarchy: pids, then memory, then cpu.
    let text = "4:cpu,cpuacct:/system.slice/c.service\n3:memory:/system.slice/m.service\n2:devices:/system.slice/d.service\n";
    assert_eq!(from_cgroup(text), unit("m.service", None));
    let text = "4:cpu,cpuacct:/system.slice/c.service\n5:blkio:/system.slice/b.service\n";
    assert_eq!(from_cgroup(text), unit("c.service", None));
    // A systemd hierarchy at `/` means no unit, whatever memory says.
    let text = "2:memory:/system.slice/m.service\n1:name=systemd:/\n";
    assert_eq!(from_cgroup(text), CgroupInfo::default());
}

#[test]
fn container_layouts() {
    let docker = container(Runtime::Docker, ID, None);
    let containerd = container(Runtime::Containerd, ID, None);
    let k8s = container(Runtime::Kubernetes, ID, Some(POD));
    let lxc = container(Runtime::Lxc, "db", None);
    // kubelet's systemd driver writes the pod uid with `_` for `-`.
    let pod = POD.replace('-', "_");
    let cases = [
        (format!("/docker/{ID}/sub"), docker.clone()),
        (
            format!("/docker/{ID}/docker/{NGINX_DOCKER}"),
            docker.clone(),
        ),
        (format!("/system.slice/docker-{ID}.scope"), docker),
        (format!("/default/{ID}"), containerd.clone()),
        (format!("/system.slice/nerdctl-{ID}.scope"), containerd),
        (
            format!("/libpod_parent/libpod-{ID}"),
            container(Runtime::Podman, ID, None),
        ),
        (format!("/kubepods/pod{POD}/{ID}"), k8s.clone()),
        (
            format!("/kubepods/burstable/pod{POD}/crio-{ID}"),
            k8s.clone(),
        ),
        (
            format!("/kubepods.slice/kubepods-pod{pod}.slice/crio-{ID}.scope"),
            k8s.clone(),
        ),
        (
            format!(
                "/kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod{pod}.slice/docker-{ID}.scope"
            ),
            k8s.clone(),
        ),
        // kind: the node's kubelet runs in a slice of its own.
        (
            format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/\
                 kubelet-kubepods-besteffort-pod{pod}.slice/cri-containerd-{ID}.scope"
            ),
            k8s.clone(),
        ),
        (
            format!(
                "/kubepods.slice/kubepods-burstable.slice/\
                 kubepods-burstable-pod{pod}.slice:cri-containerd:{ID}"
            ),
            k8s.clone(),
        ),
        (
            format!("/kubepods-besteffort-pod{pod}.slice:cri-containerd:{ID}"),
            k8s,
        ),
        ("/lxc/db".to_string(), lxc.clone()),
        (
            "/lxc.payload/db/init.scope".to_string(),
            with_unit(lxc, "init.scope"),
        ),
        (
            r"/machine.slice/machine-foo\x2dbar.scope/payload".to_string(),
            container(Runtime::Nspawn, "foo-bar", None),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(from_cgroup(&format!("0::{path}\n")), want, "{path}");
        let v1 = format!("3:pids:{path}\n2:memory:{path}\n1:name=systemd:{path}\n");
        assert_eq!(from_cgroup(&v1), want, "{path}");
    }
}

#[test]
fn not_containers() {
    let cases = [
        // Podman's monitor, short or upper-case ids, a VM, an lxc monitor.
        (
            format!("0::/machine.slice/libpod-conmon-{ID}.scope"),
            "libpod-conmon-",
        ),
        (
            "0::/system.slice/docker-0123456789ab.scope".to_string(),
            "docker-0123456789ab.scope",
        ),
        (
            format!("0::/system.slice/docker-{}.scope", ID.to_uppercase()),
            "docker-",
        ),
        (
            r"0::/machine.slice/machine-qemu\x2d1\x2dvm.scope/libvirt/emulator".to_string(),
            r"machine-qemu\x2d1\x2dvm.scope",
        ),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4242.scope"
                .to_string(),
            "podman-4242.scope",
        ),
    ];
    for (text, unit_prefix) in cases {
        let info = from_cgroup(&text);
        assert_eq!(info.container, None, "{text}");
        let name = info.unit.map(|u| u.name).unwrap_or_default();
        assert!(name.starts_with(unit_prefix), "{text}: {name}");
    }
    // A pod without a recognisable container is no container either.
    let text = "0::/kubepods/besteffort/pod1d2c3b4a-0000-4000-8000-00000000beef/pause";
    assert_eq!(from_cgroup(text), CgroupInfo::default());
}

#[test]
fn garbage_is_nothing_and_never_panics() {
    let none = CgroupInfo::default();
    for text in [
        "",
        "/",
        "0::/",
        "0::",
        "::::",
        "0::relative/path.service",
        "\u{0}\u{ffff}:\u{1F600}:/\u{1F600}.service\\x",
        "0::/lxc.payload.",
        "0::/kubepods/pod/",
        "0::/kubepods.slice/kubepods-pod.slice:x:",
        "0::/docker",
        "0::/system.slice/.service",
    ] {
        assert_eq!(from_cgroup(text), none, "{text:?}");
    }
    // Every prefix of two fixtures, cut at each char boundary.
    for text in [
        fixture!("nspawn"),
        fixture!("kubernetes-containerd-systemd"),
    ] {
        for (i, _) in text.char_indices() {
            let _ = from_cgroup(text.get(..i).unwrap_or_default());
        }
    }
    // Odd escapes decode what they can and keep the rest.
    let info = from_cgroup(r"0::/machine.slice/machine-a\x2\xzz\x2D\xc3\xa9.scope");
    let name = info.container.map(|c| c.id).unwrap_or_default();
    assert_eq!(name, r"a\x2\xzz-é");
}
