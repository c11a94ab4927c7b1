//! whyport against a real Docker daemon in a private network namespace: a
//! port published through docker-proxy, a host-network container, their
//! origins in the JSON, the listing's ORIGIN column, and the same sockets
//! and PIDs as `ss -tulpnH`.
//!
//! Only the namespace is touched. dockerd runs in it with --iptables=false
//! and its data root, exec root, pid file and socket in a temporary
//! directory. It runs in the mount namespace `ip netns exec` gives it (its
//! mounts never reach the host), where the host's cgroup hierarchies are
//! mounted again (`ip netns exec` replaces /sys) and /run is an empty tmpfs
//! (so dockerd starts a containerd of its own instead of using a system one,
//! whose shims would run host-network containers in the host's namespace).
//! The image is imported from a static busybox: no registry is used.
//! Everything is stopped and removed when the test ends, also when it fails.

use std::fs;
use std::time::{Duration, Instant};

use crate::ss_compare::compare_settled;
use crate::support::*;

pub(crate) mod lab;
use lab::*;

const TEST: &str = "docker_proxy_and_host_network_container";
const IMAGE: &str = "wp-busybox:test";
const WEB: &str = "wp-web";
const HOSTNET: &str = "wp-hostnet";
const PUBLISHED: u16 = 8088;
const HOSTNET_PORT: u16 = 8089;
/// How long dockerd may take to answer on its socket.
const DOCKERD_READY: Duration = Duration::from_secs(30);
/// How long one docker command may take.
const DOCKER_CMD: Duration = Duration::from_secs(30);
/// How long a container may take to open its socket.
const LISTENING: Duration = Duration::from_secs(10);

#[test]
fn docker_proxy_and_host_network_container() {
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root");
        return;
    }
    let tools = match Tools::find() {
        Ok(t) => t,
        Err((tool, why)) => {
            skip(TEST, Skip::Tool(tool), why);
            return;
        }
    };
    // dockerd and everything else are forked from this process: held like
    // every test that starts processes, and every fork goes through run()
    // or Spawned.
    let _g = sockets_guard();
    let started_at = Instant::now();
    let host = host_network();
    let mut lab = match Lab::new(tools) {
        Ok(lab) => lab,
        Err(why) => {
            skip(TEST, Skip::Other, why);
            return;
        }
    };
    if let Err(why) = lab.start_dockerd() {
        skip(TEST, Skip::Other, why);
        return;
    }
    let ready_at = started_at.elapsed();
    lab.import_image();

    let web = lab.run_container(WEB, &["-p", &format!("{PUBLISHED}:80")], &["-p", "80"]);
    let hostnet = lab.run_container(
        HOSTNET,
        &["--network", "host"],
        &["-p", &format!("127.0.0.1:{HOSTNET_PORT}")],
    );
    assert!(!web.ip.is_empty(), "{WEB} has no address: {web:?}");
    assert!(
        is_full_id(&hostnet.id) && is_full_id(&web.id),
        "{web:?} {hostnet:?}"
    );
    lab.wait_for_listeners(&[
        ("tcp", "0.0.0.0", PUBLISHED),
        ("tcp", "127.0.0.1", HOSTNET_PORT),
    ]);

    let list = parse(&run(lab.exec(bin_path()).args([
        "--json",
        &PUBLISHED.to_string(),
        &HOSTNET_PORT.to_string(),
    ])));
    check_published(&list, &lab, &web);
    check_forwarded(&list, &web);
    let hostnet_name = check_hostnet(&list, &hostnet);
    check_firewall(&lab);
    check_name_with_default_data_root(&lab, &hostnet);
    check_table(&lab, &hostnet);
    let compared = compare_with_ss(&lab);
    assert_eq!(
        host_network(),
        host,
        "the host's own interfaces or forwarding changed while dockerd ran"
    );
    let checked_at = started_at.elapsed();
    let cleanup = Instant::now();
    drop(lab);
    eprintln!(
        "docker: dockerd ready after {ready_at:?}; {compared} listeners compared with ss; \
         container name from the custom data root: {hostnet_name:?}; checked after {checked_at:?}, \
         cleaned up in {:?}",
        cleanup.elapsed()
    );
}

/// The test's own (the host's) network interfaces and IPv4 forwarding:
/// dockerd must change neither.
fn host_network() -> (Vec<String>, String) {
    let mut names: Vec<String> = fs::read_dir("/sys/class/net")
        .map(|dir| {
            dir.filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    (names, forward)
}

/// 8088: docker-proxy, on the host side, forwarding to the container.
fn check_published(list: &Listing, lab: &Lab, web: &Container) {
    let published: Vec<&Listener> = list
        .listeners
        .iter()
        .filter(|l| l.port == PUBLISHED)
        .collect();
    assert!(
        published
            .iter()
            .any(|l| l.protocol == "tcp" && l.address == "0.0.0.0"),
        "no 0.0.0.0:{PUBLISHED}: {:#?}",
        list.listeners
    );
    let dockerd = lab.dockerd_pid();
    for l in &published {
        assert_eq!(l.protocol, "tcp", "{l:#?}");
        assert!(!l.processes.is_empty(), "{l:#?}");
        for p in &l.processes {
            assert_eq!(p.name, "docker-proxy", "{l:#?}");
            assert_eq!(p.ppid, Some(dockerd), "dockerd starts docker-proxy: {l:#?}");
        }
        let why = l.why.as_ref().expect("explained");
        assert_eq!(why.origin.kind, "docker-proxy", "{:#?}", why.origin);
        let target = format!("{}:80", web.ip);
        assert!(
            why.origin.summary.contains(&target),
            "{target} not in {:?}",
            why.origin.summary
        );
        assert!(why.origin.container.is_none(), "{:#?}", why.origin);
        assert!(
            !why.stop.is_empty() && why.stop.iter().all(|s| s.contains("docker")),
            "{:?}",
            why.stop
        );
        assert!(
            why.stop[0].contains(&format!("publish={PUBLISHED}")),
            "{:?}",
            why.stop
        );
        assert!(
            why.ancestors
                .iter()
                .any(|a| a.pid == dockerd && a.name == "dockerd"),
            "{:#?}",
            why.ancestors
        );
        assert!(why.warnings.is_empty(), "{:?}", why.warnings);
        if l.address == "0.0.0.0" {
            assert!(why.exposure.beyond_loopback, "{:#?}", why.exposure);
        }
    }
}

/// Docker's DNAT rule for 8088 (written by dockerd with iptables inside the
/// namespace): followed to the container's namespace and its httpd.
fn check_forwarded(list: &Listing, web: &Container) {
    let f = list
        .forwarded
        .iter()
        .find(|f| f["ports"]["ranges"][0][0] == PUBLISHED)
        .unwrap_or_else(|| panic!("no forward of {PUBLISHED}: {:#?}", list.forwarded));
    assert_eq!(f["action"], "dnat", "{f:#}");
    assert_eq!(f["to_address"], web.ip.as_str(), "{f:#}");
    assert_eq!(f["to_ports"], serde_json::json!([80, 80]), "{f:#}");
    assert_eq!(f["destination"], "namespace", "{f:#}");
    assert_eq!(f["netns"]["kind"], "container", "{f:#}");
    let label = f["netns"]["label"].as_str().unwrap_or_default();
    assert!(
        label == format!("docker:{WEB}") || label == format!("docker:{}", &web.id[..12]),
        "{label}"
    );
    assert_eq!(f["rule"]["chain"], "DOCKER", "{f:#}");
    assert_eq!(f["rule"]["undecoded"], serde_json::json!([]), "{f:#}");
    let target = &f["listeners"][0];
    assert_eq!(target["port"], 80, "{f:#}");
    assert_eq!(target["processes"][0]["pid"], web.pid, "{f:#}");
    assert_eq!(target["processes"][0]["name"], "busybox", "{f:#}");
}

/// The published port through Docker's own rules: from an uplink (a veth
/// pair inside the lab, so no packet leaves it), the forward path is open
/// while DOCKER-USER is empty, and restricted once it drops a source; the
/// bridge's ports are no path of their own.
fn check_firewall(lab: &Lab) {
    for args in [
        &[
            "link", "add", "wpup0", "type", "veth", "peer", "name", "wpup1",
        ][..],
        &["addr", "add", "203.0.113.9/24", "dev", "wpup0"],
        &["link", "set", "wpup0", "up"],
    ] {
        let out = run(lab.exec(&lab.t.ip).args(args));
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let forward = |lab: &Lab| {
        let list = parse(&run(lab
            .exec(bin_path())
            .args(["--json", &PUBLISHED.to_string()])));
        list.forwarded
            .iter()
            .find(|f| f["ports"]["ranges"][0][0] == PUBLISHED)
            .map(|f| f["firewall"].clone())
            .unwrap_or_else(|| panic!("no forward of {PUBLISHED}"))
    };
    let fw = forward(lab);
    assert_eq!(fw["answer"], "open", "{fw:#}");
    assert_eq!(fw["notes"][0], "DOCKER-USER does not restrict it", "{fw:#}");
    let paths = fw["paths"].as_array().unwrap();
    assert!(
        !paths.is_empty() && paths.iter().all(|p| p["interface"] == "wpup0"),
        "docker0 is excluded by the rule, its ports are no path: {fw:#}"
    );
    let Some(iptables) = crate::procs::find_program("iptables") else {
        skip(
            TEST,
            Skip::Tool("iptables-nft"),
            "needs iptables to change DOCKER-USER",
        );
        return;
    };
    let out = run(lab.exec(&iptables).args([
        "-I",
        "DOCKER-USER",
        "-s",
        "203.0.113.128/25",
        "-j",
        "DROP",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fw = forward(lab);
    assert_eq!(fw["answer"], "open-from", "{fw:#}");
    assert_eq!(
        fw["notes"][0], "DOCKER-USER restricts who reaches it",
        "{fw:#}"
    );
    assert!(
        fw["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("blocked elsewhere by ip filter DOCKER-USER, rule "),
        "{fw:#}"
    );
}

/// 8089: the container's own process in the namespace, its cgroup naming
/// the container. Returns the name whyport found, if any.
fn check_hostnet(list: &Listing, hostnet: &Container) -> Option<String> {
    let l = only_one(list, HOSTNET_PORT);
    assert_eq!(
        (l.protocol.as_str(), l.address.as_str()),
        ("tcp", "127.0.0.1")
    );
    assert_eq!(l.pids(), [hostnet.pid], "the container's init: {l:#?}");
    assert_eq!(l.processes[0].name, "busybox", "{l:#?}");
    let why = l.why.as_ref().expect("explained");
    assert_eq!(why.origin.kind, "container", "{:#?}", why.origin);
    let c = why.origin.container.as_ref().expect("a container");
    assert_eq!(c.runtime, "docker");
    assert_eq!(c.id, hostnet.id);
    assert_eq!(c.pod, None);
    let short = &hostnet.id[..12];
    assert!(
        why.origin
            .summary
            .starts_with(&format!("Docker container {short}")),
        "{:?}",
        why.origin.summary
    );
    // whyport reads the names from /var/lib/docker/containers; this
    // daemon's data root is elsewhere, so the name may be missing here (see
    // check_name_with_default_data_root), but never wrong.
    if let Some(name) = &c.name {
        assert_eq!(name, HOSTNET);
    }
    assert_eq!(
        why.stop[0],
        format!("docker stop {}", c.name.as_deref().unwrap_or(short)),
        "{:?}",
        why.stop
    );
    assert!(!why.exposure.beyond_loopback, "{:#?}", why.exposure);
    assert!(why.warnings.is_empty(), "{:?}", why.warnings);
    c.name.clone()
}

/// The container's name as a default installation shows it: whyport run in
/// a mount namespace of its own where the data root's `containers` is
/// mounted on /var/lib/docker/containers (over an empty /var/lib).
fn check_name_with_default_data_root(lab: &Lab, hostnet: &Container) {
    let bb = sh_quote(&lab.t.busybox);
    let script = format!(
        "set -e\n\
         {bb} mount -t tmpfs -o mode=755 wp-docker-varlib /var/lib\n\
         {bb} mkdir -p /var/lib/docker/containers\n\
         {bb} mount -o bind {} /var/lib/docker/containers\n\
         exec \"$@\"\n",
        sh_quote(&lab.path("data/containers"))
    );
    let out = run(lab
        .exec(&lab.t.busybox)
        .args(["sh", "-c", &script, "wp-whyport"])
        .arg(bin_path())
        .args(["--json", &HOSTNET_PORT.to_string()]));
    let list = parse(&out);
    let l = only_one(&list, HOSTNET_PORT);
    let why = l.why.as_ref().expect("explained");
    let c = why.origin.container.as_ref().expect("a container");
    assert_eq!(c.id, hostnet.id);
    assert_eq!(c.name.as_deref(), Some(HOSTNET), "{:#?}", why.origin);
    assert!(
        why.origin.summary.ends_with(&format!("({HOSTNET})")),
        "{:?}",
        why.origin.summary
    );
    assert_eq!(why.stop[0], format!("docker stop {HOSTNET}"));
}

/// The plain listing's ORIGIN column.
fn check_table(lab: &Lab, hostnet: &Container) {
    let out = run(&mut lab.exec(bin_path()));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let published = origins(&text, PUBLISHED);
    assert!(!published.is_empty(), "no {PUBLISHED}:\n{text}");
    assert!(published.iter().all(|o| o == "docker-proxy"), "{text}");
    assert_eq!(
        origins(&text, HOSTNET_PORT),
        [format!("docker:{}", &hostnet.id[..12])],
        "{text}"
    );
}

/// The ORIGIN of every row on `port`, cut at the header's columns.
fn origins(table: &str, port: u16) -> Vec<String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let (Some(start), Some(end)) = (header.find("ORIGIN"), header.find("WARN")) else {
        panic!("no ORIGIN and WARN columns:\n{table}");
    };
    lines
        .filter(|line| line.split_whitespace().nth(2) == Some(&port.to_string()))
        .map(|line| {
            line.get(start..end.min(line.len()))
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

/// `whyport --json` against `ss -tulpnH` in the namespace, socket for
/// socket and PID for PID; a round where ss changed meanwhile is retried.
/// Returns how many listeners were compared.
fn compare_with_ss(lab: &Lab) -> usize {
    compare_settled(
        || lab.ss("-tulpnH"),
        || run(lab.exec(bin_path()).arg("--json")),
    )
    .listeners
    .len()
}

fn only_one(list: &Listing, port: u16) -> &Listener {
    let found: Vec<&Listener> = list.listeners.iter().filter(|l| l.port == port).collect();
    assert_eq!(found.len(), 1, "{port}: {:#?}", list.listeners);
    found[0]
}

fn is_full_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}
