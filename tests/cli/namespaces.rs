//! Listeners in every network namespace (`-A`), and ports open with no
//! socket: DNAT and redirect rules installed by the tests inside network
//! namespaces of their own (never in the host's ruleset), followed to the
//! namespace and process that get the traffic.

use std::process::Command;

use crate::netns::Netns;
use crate::nslab::*;
use crate::procs::find_program;
use crate::support::*;

/// A subnet no other test uses at the same time: 10.(200+k).(pid).0/24.
pub(crate) fn subnet(k: u32) -> String {
    format!("10.{}.{}", 200 + k, my_pid() % 250)
}

/// Run `program args` inside `ns`, asserting success.
pub(crate) fn must(ns: &Netns, program: &str, args: &[&str]) {
    let out = run(ns.exec(program).args(args));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `host` and `ctr` joined as Docker joins a container: a bridge in
/// `host` with .1, a veth pair from it into `ctr`, which has .2.
pub(crate) fn pair(host: &Netns, ctr: &Netns, net: &str) {
    let id = my_pid() % 10000;
    let (a, b, bridge) = (format!("wa{id}"), format!("wb{id}"), format!("wbr{id}"));
    let ctr_path = ctr.path();
    let ctr_path = ctr_path.to_str().unwrap();
    let host_net = format!("{net}.1/24");
    let ctr_net = format!("{net}.2/24");
    let steps: [(&Netns, &[&str]); 9] = [
        (
            host,
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        ),
        (host, &["link", "set", &b, "netns", ctr_path]),
        (host, &["link", "add", &bridge, "type", "bridge"]),
        (host, &["link", "set", &a, "master", &bridge]),
        (host, &["addr", "add", &host_net, "dev", &bridge]),
        (host, &["link", "set", &bridge, "up"]),
        (host, &["link", "set", &a, "up"]),
        (ctr, &["addr", "add", &ctr_net, "dev", &b]),
        (ctr, &["link", "set", &b, "up"]),
    ];
    for (ns, args) in steps {
        must(ns, "ip", args);
    }
}

pub(crate) fn nft(ns: &Netns, ruleset: &str) {
    let mut child = ns
        .exec("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), ruleset.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_namespace_with_its_listeners() {
    let Some(named) = lab("every_namespace_with_its_listeners", "wp-na") else {
        return;
    };
    let Some(empty) = lab("every_namespace_with_its_listeners", "wp-nb") else {
        return;
    };
    let _g = sockets_guard();
    // Sockets created inside two namespaces, held by children that live in
    // the host's namespace: neither namespace has a process in it, the
    // second is told apart by its bind mount alone.
    let _a = hold(&named, "wp-in-named", &[tcp("0.0.0.0", 7301)]);
    let _b = hold(
        &empty,
        "wp-in-empty",
        &[Spec("udp", "::", 7302, false, false)],
    );
    let j = json(&run(whyport().args([
        "-A",
        "--json",
        "--port",
        "7301,7302",
    ])));
    let rows: Vec<(u64, String, String, String)> = j["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["port"].as_u64().unwrap(),
                l["netns"]["label"].as_str().unwrap_or("").to_string(),
                l["netns"]["summary"].as_str().unwrap_or("").to_string(),
                l["processes"][0]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let name = |ns: &Netns| {
        ns.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(rows.len(), 2, "{j}");
    assert_eq!(rows[0].0, 7301);
    assert_eq!(rows[0].1, format!("netns:{}", name(&named)));
    assert_eq!(rows[0].3, "wp-in-named");
    assert_eq!(rows[1].0, 7302);
    assert_eq!(rows[1].1, format!("netns:{}", name(&empty)));
    assert!(rows[1].2.contains("with no process in it"), "{}", rows[1].2);
    assert_eq!(
        rows[1].3, "wp-in-empty",
        "one owner scan serves every namespace"
    );

    // The table says where each listener is.
    let t = text(&run(whyport().args(["-A", "--port", "7301,7302"])));
    assert!(t.lines().next().unwrap().starts_with("NETNS "), "{t}");
    assert!(t.contains(&format!("netns:{}", name(&empty))), "{t}");

    // Without -A: not listed, but counted in a footer.
    let o = run(whyport().args(["--port", "7301,7302"]));
    assert_eq!(o.status.code(), Some(1), "nothing of ours listens here");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines().any(|l| l
            .starts_with("whyport: 2 more listeners in 2 other network namespaces")
            && l.ends_with("whyport -A lists them")),
        "{err}"
    );
    let j = json(&run(whyport().args(["--json"])));
    assert!(
        j["other_namespaces"]["listeners"].as_u64().unwrap() >= 2,
        "{j}"
    );
}

#[test]
fn a_dnat_rule_is_followed_to_the_container_and_its_process() {
    let Some(host) = lab("a_dnat_rule_is_followed", "wp-nh") else {
        return;
    };
    let Some(ctr) = lab("a_dnat_rule_is_followed", "wp-nc") else {
        return;
    };
    if find_program("nft").is_none() {
        skip(
            "a_dnat_rule_is_followed",
            Skip::Tool("nft"),
            "nft (nftables) is not installed",
        );
        return;
    }
    let _g = sockets_guard();
    let net = subnet(1);
    pair(&host, &ctr, &net);
    let _app = hold(&ctr, "wp-app", &[tcp("0.0.0.0", 80)]);
    // Docker's userland proxy holds the host port next to the rule; a
    // plain listener under a DNAT rule is shadowed.
    let _proxy = hold(&host, "docker-proxy", &[tcp("0.0.0.0", 8080)]);
    let _shadowed = hold(&host, "wp-old", &[tcp("0.0.0.0", 8085)]);
    let _redirected = hold(&host, "wp-local", &[tcp("127.0.0.1", 9091)]);
    nft(
        &host,
        &format!(
            "table ip wptest {{
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 dnat to {net}.2:80 comment \"published\"
    tcp dport {{ 8085, 8086 }} dnat to {net}.2:80
    udp dport 5353 dnat to {net}.2
    tcp dport 8091 redirect to :9091
    tcp dport 8092 dnat to 192.0.2.7:80
  }}
}}\n"
        ),
    );
    let o = whyport_in(&host, &["--json"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&o);
    let fw = j["forwarded"].as_array().unwrap();
    assert_eq!(fw.len(), 5, "{j}");
    let by_port = |p: u64| {
        fw.iter()
            .find(|f| f["ports"]["ranges"][0][0] == p)
            .unwrap_or_else(|| panic!("no forward of {p}: {j}"))
    };
    let f = by_port(8080);
    assert_eq!(f["protocol"], "tcp");
    assert_eq!(f["action"], "dnat");
    assert_eq!(f["to_address"], format!("{net}.2"));
    assert_eq!(f["to_ports"], serde_json::json!([80, 80]));
    assert_eq!(f["destination"], "namespace");
    let ctr_name = ctr
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(f["netns"]["label"], format!("netns:{ctr_name}"));
    assert_eq!(f["rule"]["table"], "wptest");
    assert_eq!(f["rule"]["chain"], "prerouting");
    assert_eq!(f["rule"]["comment"], "published");
    assert_eq!(f["listeners"][0]["port"], 80);
    assert_eq!(f["listeners"][0]["processes"][0]["name"], "wp-app");
    assert_eq!(
        by_port(8085)["ports"],
        serde_json::json!({"kind": "only", "ranges": [[8085, 8086]]}),
        "a port set is read from the kernel (adjacent ports joined)"
    );
    assert_eq!(by_port(5353)["protocol"], "udp");
    assert_eq!(by_port(5353)["listeners"].as_array().unwrap().len(), 0);
    let r = by_port(8091);
    assert_eq!(
        (r["action"].as_str(), r["destination"].as_str()),
        (Some("redirect"), Some("this_host"))
    );
    // A redirect of incoming traffic goes to the incoming interface's
    // address: the socket bound to 127.0.0.1 never gets it.
    assert_eq!(r["listeners"], serde_json::json!([]), "{r}");
    assert_eq!(by_port(8092)["destination"], "other_host");

    // The table: listeners, then the forwarded ports.
    let t = text(&whyport_in(&host, &[]));
    let row = |needle: &str| {
        t.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{t}"))
            .to_string()
    };
    assert!(row("wp-old").contains("shadowed-by-dnat"), "{t}");
    assert!(!row("docker-proxy").contains("shadowed-by-dnat"), "{t}");
    assert!(t.contains("\nFORWARDED "), "{t}");
    let f = row(&format!("{net}.2:80 "));
    assert!(
        f.contains(&format!("netns:{ctr_name}")) && f.contains("wp-app"),
        "{f}"
    );

    // Why is 8080 open? The path from the port to the process.
    let o = whyport_in(&host, &["8092"]);
    assert_eq!(code(&o), 0, "a forwarded port is an answer");
    let prose = text(&whyport_in(&host, &["8086"]));
    assert!(
        prose.starts_with(
            "tcp port 8085-8086  forwarded by a NAT rule (no socket listens on it here)"
        ),
        "{prose}"
    );
    assert!(
        prose.contains(&format!("{net}.2:80 in netns:{ctr_name}")),
        "{prose}"
    );
    assert!(prose.contains("wp-app: "), "{prose}");
    assert!(
        prose.contains("nft delete rule ip wptest prerouting handle "),
        "{prose}"
    );

    // Audits judge forwarded ports like listeners: a policy that allows
    // only the sockets fails on the forwarded 8080; `policy init` covers it.
    let dir = tempfile::tempdir().unwrap();
    let sockets_only = dir.path().join("sockets.toml");
    std::fs::write(
        &sockets_only,
        "default = \"deny\"\nignore_warnings = [\"shadowed-by-dnat\"]\n[[allow]]\nports = [8080, 8085, 9091]\nprocess = \"docker-proxy\"\n[[allow]]\nports = [8085, 9091]\n",
    )
    .unwrap();
    let o = whyport_in(
        &host,
        &[
            "audit",
            "--policy",
            sockets_only.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    let j = json(&o);
    let forwarded: Vec<&serde_json::Value> = j["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["forward"].is_object())
        .collect();
    let f8080 = forwarded
        .iter()
        .find(|l| l["forward"]["ports"]["ranges"][0][0] == 8080)
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(
        f8080["allowed"], false,
        "held by wp-app, not docker-proxy: {f8080}"
    );
    let fw = &f8080["forward"];
    assert_eq!(fw["listeners"][0]["processes"][0]["name"], "wp-app");
    assert_eq!(fw["to_address"], format!("{net}.2"));
    // The set {8085, 8086} is judged whole: the rule names 8085 alone.
    let f8085 = forwarded
        .iter()
        .find(|l| l["forward"]["ports"]["ranges"][0][0] == 8085)
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(f8085["allowed"], false, "{f8085}");
    let init = dir.path().join("init.toml");
    assert_eq!(
        code(&whyport_in(
            &host,
            &["policy", "init", "-o", init.to_str().unwrap()]
        )),
        0
    );
    let written = std::fs::read_to_string(&init).unwrap();
    assert!(written.contains("forwarded by NAT rule"), "{written}");
    assert!(written.contains("forwarded = true"), "{written}");
    let o = whyport_in(&host, &["audit", "--policy", init.to_str().unwrap()]);
    assert_eq!(
        code(&o),
        0,
        "init then audit passes: {}\n{written}",
        text(&o)
    );

    // A baseline records the forwards: removing the rules is a change.
    let base = dir.path().join("base.json");
    let b = base.to_str().unwrap();
    assert_eq!(code(&whyport_in(&host, &["snapshot", "-o", b])), 0);
    assert_eq!(code(&whyport_in(&host, &["diff", b])), 0);
    must(&host, "nft", &["delete", "table", "ip", "wptest"]);
    let d = whyport_in(&host, &["diff", b, "--format", "json"]);
    assert_eq!(code(&d), 1, "{}", text(&d));
    let j = json(&d);
    let closed: Vec<&serde_json::Value> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "closed" && c["forwarded_to"].is_string())
        .collect();
    assert!(
        closed
            .iter()
            .any(|c| c["port"] == 8080 && c["forwarded_to"] == format!("{net}.2:80")),
        "{j}"
    );
}

#[test]
fn iptables_nft_rules_and_undecodable_rules() {
    let Some(host) = lab("iptables_nft_rules", "wp-ni") else {
        return;
    };
    let (Some(_), Some(iptables)) = (find_program("nft"), find_program("iptables-nft")) else {
        let tool = if find_program("nft").is_none() {
            "nft"
        } else {
            "iptables-nft"
        };
        skip(
            "iptables_nft_rules",
            Skip::Tool(tool),
            "nft and iptables-nft (nftables, iptables) are needed",
        );
        return;
    };
    let _g = sockets_guard();
    let out = run(host.exec(&iptables).args([
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-p",
        "tcp",
        "--dport",
        "8081",
        "-m",
        "comment",
        "--comment",
        "wp compat",
        "-j",
        "DNAT",
        "--to-destination",
        "192.0.2.9:81",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(host.exec(&iptables).args([
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "-m",
        "udp",
        "--dport",
        "5000",
        "-j",
        "REDIRECT",
        "--to-ports",
        "5001",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    nft(
        &host,
        "table ip wpmap {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    dnat to tcp dport map { 8094 : 192.0.2.4 }
  }
}\n",
    );
    let j = json(&whyport_in(&host, &["--json"]));
    let fw = j["forwarded"].as_array().unwrap();
    let compat = fw
        .iter()
        .find(|f| f["rule"]["comment"] == "wp compat")
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(compat["rule"]["table"], "nat");
    assert_eq!(compat["rule"]["chain"], "PREROUTING");
    assert_eq!(
        compat["ports"],
        serde_json::json!({"kind": "only", "ranges": [[8081, 8081]]})
    );
    assert_eq!(compat["to_address"], "192.0.2.9");
    assert_eq!(compat["to_ports"], serde_json::json!([81, 81]));
    assert_eq!(compat["rule"]["undecoded"], serde_json::json!([]));
    let redirect = fw
        .iter()
        .find(|f| f["rule"]["chain"] == "OUTPUT")
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(redirect["action"], "redirect");
    assert_eq!(redirect["protocol"], "udp");
    assert_eq!(redirect["to_ports"], serde_json::json!([5001, 5001]));
    let map = fw
        .iter()
        .find(|f| f["rule"]["table"] == "wpmap")
        .unwrap_or_else(|| panic!("an undecodable rule is reported, not skipped: {j}"));
    let undecoded = map["rule"]["undecoded"].as_array().unwrap();
    assert!(
        undecoded
            .iter()
            .any(|u| u.as_str().unwrap().contains("map @")),
        "{map}"
    );
    assert_eq!(map["destination"], "unknown");
    let t = text(&whyport_in(&host, &[]));
    let row = t
        .lines()
        .find(|l| l.contains("wpmap"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.contains("not decoded"), "{row}");
    assert!(row.split_whitespace().nth(1) == Some("?"), "{row}");
    // The host's own ruleset was never touched: no table of ours there.
    let host_rules = run(Command::new("nft").args(["list", "tables"]));
    let host_rules = String::from_utf8_lossy(&host_rules.stdout);
    assert!(
        !host_rules.contains("wpmap") && !host_rules.contains("wptest"),
        "{host_rules}"
    );
}

#[test]
fn iptables_legacy_rules() {
    let Some(host) = lab("iptables_legacy_rules", "wp-nl") else {
        return;
    };
    let Some(legacy) = find_program("iptables-legacy") else {
        skip(
            "iptables_legacy_rules",
            Skip::Tool("iptables-legacy"),
            "iptables-legacy (iptables) is not installed",
        );
        return;
    };
    let _g = sockets_guard();
    let _local = hold(
        &host,
        "wp-legacy",
        &[Spec("udp", "0.0.0.0", 5001, false, false)],
    );
    for args in [
        &[
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-p",
            "tcp",
            "--dport",
            "8083",
            "-m",
            "comment",
            "--comment",
            "legacy",
            "-j",
            "DNAT",
            "--to-destination",
            "192.0.2.8:83",
        ][..],
        &["-t", "nat", "-N", "WPCHAIN"],
        // A chain's rules forward only when a base chain reaches it.
        &["-t", "nat", "-A", "PREROUTING", "-j", "WPCHAIN"],
        &[
            "-t",
            "nat",
            "-A",
            "WPCHAIN",
            "!",
            "-i",
            "eth0",
            "-p",
            "udp",
            "--dport",
            "5000",
            "-j",
            "REDIRECT",
            "--to-ports",
            "5001",
        ],
    ] {
        let out = run(host.exec(&legacy).args(args));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let j = json(&whyport_in(&host, &["--json"]));
    let fw = j["forwarded"].as_array().unwrap();
    assert_eq!(fw.len(), 2, "{j}");
    let dnat = &fw[0];
    assert_eq!(dnat["rule"]["family"], "iptables-legacy");
    assert_eq!(dnat["rule"]["chain"], "PREROUTING");
    assert_eq!(dnat["rule"]["comment"], "legacy");
    assert_eq!(
        dnat["ports"],
        serde_json::json!({"kind": "only", "ranges": [[8083, 8083]]})
    );
    assert_eq!(dnat["to_address"], "192.0.2.8");
    assert_eq!(dnat["destination"], "other_host");
    let redirect = &fw[1];
    assert_eq!(redirect["rule"]["chain"], "WPCHAIN");
    assert_eq!(redirect["rule"]["iif"], "!eth0");
    assert_eq!(redirect["protocol"], "udp");
    assert_eq!(
        redirect["listeners"][0]["processes"][0]["name"],
        "wp-legacy"
    );
    let prose = text(&whyport_in(&host, &["5000/udp"]));
    assert!(prose.contains("arriving not on eth0"), "{prose}");
    assert!(
        prose.contains("iptables-legacy -t nat -L WPCHAIN"),
        "{prose}"
    );
}

/// The exposure of a wildcard socket in another namespace is that
/// namespace's, seen from the host (`-A`) as from inside: a namespace with
/// only `lo` reaches nothing beyond it; one joined by a veth reaches its
/// own address (checked by connecting from the peer), never the host's.
#[test]
fn reach_is_read_from_the_sockets_own_namespace() {
    let Some(peer) = lab("reach_is_read_from_the_sockets_own_namespace", "wp-rp") else {
        return;
    };
    let Some(ip) = find_program("ip") else {
        return;
    };
    let Ok(lonely) = Netns::create(&ip, "wp-rl") else {
        panic!("a second namespace could not be made");
    };
    let Ok(joined) = Netns::create(&ip, "wp-rj") else {
        panic!("a third namespace could not be made");
    };
    let net = subnet(7);
    pair(&peer, &joined, &net);
    let _g = sockets_guard();
    let _c = [
        hold(&lonely, "wp-lonely", &[tcp("0.0.0.0", 7361)]),
        hold(&joined, "wp-joined", &[tcp("0.0.0.0", 7362)]),
    ];
    let exposure_of = |doc: &serde_json::Value, port: u64| {
        let l = doc["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["port"] == port)
            .unwrap_or_else(|| panic!("no listener on {port}: {doc}"))
            .clone();
        l["why"]["exposure"].clone()
    };
    let host = json(&run(whyport().args(["-A", "--json", "7361", "7362"])));
    let lonely_seen = exposure_of(&host, 7361);
    assert_eq!(lonely_seen["beyond_loopback"], false, "{lonely_seen}");
    assert_eq!(lonely_seen["addresses"], serde_json::json!([]));
    let joined_seen = exposure_of(&host, 7362);
    assert_eq!(joined_seen["beyond_loopback"], true, "{joined_seen}");
    assert_eq!(
        joined_seen["addresses"],
        serde_json::json!([format!("{net}.2")]),
        "the namespace's own address, not the host's"
    );
    // The same answers from inside each namespace.
    let inside = json(&whyport_in(&lonely, &["--json", "7361"]));
    assert_eq!(exposure_of(&inside, 7361), lonely_seen);
    let inside = json(&whyport_in(&joined, &["--json", "7362"]));
    assert_eq!(exposure_of(&inside, 7362), joined_seen);
    // No exposure warning for what nothing outside can reach.
    let text = text(&run(whyport().args(["-A", "7361"])));
    assert!(
        text.contains("has no address besides loopback")
            && !text.contains("all IPv4 interfaces:")
            && !text.contains("warnings"),
        "{text}"
    );
    // The claim for the joined one holds for a real connection.
    let out = run(peer.exec("bash").args([
        "-c",
        &format!("exec 3<>/dev/tcp/{net}.2/7362 && echo connected"),
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "connected",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port open only in another namespace, and a process that lives in
/// one, are said to be there, with the command that shows them.
#[test]
fn answers_name_the_namespace_where_the_socket_is() {
    let Some(ns) = lab("answers_name_the_namespace_where_the_socket_is", "wp-ae") else {
        return;
    };
    let _g = sockets_guard();
    let _c = hold(&ns, "wp-away", &[tcp("0.0.0.0", 7371)]);
    let out = run(whyport().arg("7371"));
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    assert!(
        t.contains(&format!(
            "port 7371: nothing is listening in this network namespace; listening in another: tcp 0.0.0.0:7371 in network namespace netns:{}",
            ns.name()
        )) && t.contains("`whyport -A 7371`"),
        "{t}"
    );
    let j = json(&run(whyport().args(["7371", "--json"])));
    assert_eq!(j["unanswered"][0]["elsewhere"][0]["port"], 7371, "{j}");

    let mut sleeper = ns.exec("sleep").arg("30").spawn().unwrap();
    // `ip netns exec` execs sleep in place: the pid is sleep's.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = run(whyport().args(["--pid", &sleeper.id().to_string()]));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    assert!(
        t.contains("holds no listening socket in this network namespace; it lives in network namespace netns:")
            && t.contains(&format!("`whyport -A --pid {}`", sleeper.id())),
        "{t}"
    );
}
