//! NAT chains followed from the base chains: the rule shapes kube-proxy
//! (iptables and nftables modes), CNI portmap and plain redirects write,
//! loaded with the real tools into network namespaces of the tests' own
//! (never the host's ruleset), with endpoints in peer namespaces, and the
//! claims checked with real connections from a client namespace.
//!
//! The kube-proxy and portmap rulesets are hand-made from their documented
//! `iptables-save` / `nft list table` output (neither is installable here);
//! chain hashes are made up.

use std::process::Stdio;

use crate::namespaces::{must, nft, subnet};
use crate::netns::Netns;
use crate::nslab::*;
use crate::procs::find_program;
use crate::support::*;

/// A veth from `host` (`net`.1) to `peer` (`net`.2, routed back via .1).
fn link(host: &Netns, peer: &Netns, net: &str, tag: &str) {
    let id = my_pid() % 10000;
    let (a, b) = (format!("v{tag}{id}"), format!("p{tag}{id}"));
    let peer_path = peer.path();
    let peer_path = peer_path.to_str().unwrap();
    let host_net = format!("{net}.1/24");
    let peer_net = format!("{net}.2/24");
    let gw = format!("{net}.1");
    let steps: [(&Netns, &[&str]); 7] = [
        (
            host,
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        ),
        (host, &["link", "set", &b, "netns", peer_path]),
        (host, &["addr", "add", &host_net, "dev", &a]),
        (host, &["link", "set", &a, "up"]),
        (peer, &["addr", "add", &peer_net, "dev", &b]),
        (peer, &["link", "set", &b, "up"]),
        (peer, &["route", "add", "default", "via", &gw]),
    ];
    for (ns, args) in steps {
        must(ns, "ip", args);
    }
}

/// host, an endpoint namespace (`ep`.2 and `ep`.3) and a client one
/// (`cl`.2), the host forwarding between them.
struct Site {
    host: Netns,
    ep: Netns,
    client: Netns,
    ep_net: String,
    cl_net: String,
}

fn site(test: &str, tag: &str, k: u32) -> Option<Site> {
    let host = lab(test, &format!("wp-{tag}h"))?;
    let ep = lab(test, &format!("wp-{tag}e"))?;
    let client = lab(test, &format!("wp-{tag}c"))?;
    let (ep_net, cl_net) = (subnet(k), subnet(k + 1));
    link(&host, &ep, &ep_net, &format!("{tag}e"));
    link(&host, &client, &cl_net, &format!("{tag}c"));
    let pe = format!("p{tag}e{}", my_pid() % 10000);
    must(
        &ep,
        "ip",
        &["addr", "add", &format!("{ep_net}.3/24"), "dev", &pe],
    );
    must(&host, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    Some(Site {
        host,
        ep,
        client,
        ep_net,
        cl_net,
    })
}

/// Whether a TCP connection from `ns` to `to:port` is accepted.
fn connects(ns: &Netns, to: &str, port: u16) -> bool {
    let script = format!("exec 3<>/dev/tcp/{to}/{port}");
    ns.exec("timeout")
        .args(["3", "bash", "-c", &script])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn restore(ns: &Netns, tool: &str, rules: &str) {
    let mut child = ns
        .exec(tool)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), rules.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn forwards(j: &serde_json::Value) -> Vec<serde_json::Value> {
    j["forwarded"].as_array().cloned().unwrap_or_default()
}

fn only(port: u16) -> serde_json::Value {
    serde_json::json!({"kind": "only", "ranges": [[port, port]]})
}

/// kube-proxy's iptables mode (a NodePort service `default/web:http` on
/// 30080 with two endpoints) and CNI portmap (hostPort 8088), as
/// `iptables-save -t nat` shows them.
fn kube_iptables(ep: &str) -> String {
    format!(
        r#"*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-EXT-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SEP-IT2ZTR26TO4XFPTO - [0:0]
:KUBE-SEP-ZXMNUKOKXUTL2MK2 - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-2e7f3c1a9b8d4e5f6a7b8 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j KUBE-EXT-TCOU7JCQXEZGVUNU
-A KUBE-EXT-TCOU7JCQXEZGVUNU -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-TCOU7JCQXEZGVUNU -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "default/web:http -> {ep}.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-IT2ZTR26TO4XFPTO
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "default/web:http -> {ep}.3:80" -j KUBE-SEP-ZXMNUKOKXUTL2MK2
-A KUBE-SEP-IT2ZTR26TO4XFPTO -s {ep}.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-IT2ZTR26TO4XFPTO -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination {ep}.2:80
-A KUBE-SEP-ZXMNUKOKXUTL2MK2 -s {ep}.3/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-ZXMNUKOKXUTL2MK2 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination {ep}.3:80
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"cbr0\" id: \"2e7f3c1a\"" -m multiport --dports 8088 -j CNI-DN-2e7f3c1a9b8d4e5f6a7b8
-A CNI-DN-2e7f3c1a9b8d4e5f6a7b8 -p tcp -m tcp --dport 8088 -j DNAT --to-destination {ep}.2:80
COMMIT
"#
    )
}

fn kube_iptables_mode(test: &str, tool: &str, tag: &str, k: u32) {
    let Some(s) = site(test, tag, k) else {
        return;
    };
    let restorer = format!("{tool}-restore");
    let Some(restore_tool) = find_program(&restorer) else {
        skip(
            test,
            Skip::Tool(&restorer),
            format!("{restorer} (iptables) is not installed"),
        );
        return;
    };
    let _g = sockets_guard();
    let _web = hold(&s.ep, "wp-web", &[tcp("0.0.0.0", 80)]);
    restore(
        &s.host,
        restore_tool.to_str().unwrap(),
        &kube_iptables(&s.ep_net),
    );
    let j = json(&whyport_in(&s.host, &["--json", "-A"]));
    let fw = forwards(&j);
    assert!(
        fw.iter().all(|f| f["ports"]["kind"] != "every"),
        "no forward of every port: {j}"
    );
    let node: Vec<&serde_json::Value> = fw
        .iter()
        .filter(|f| f["ports"] == only(30080) && f["hook"] == "prerouting")
        .collect();
    assert_eq!(node.len(), 2, "the NodePort's two endpoints: {j}");
    for f in &node {
        assert_eq!(f["protocol"], "tcp");
        assert_eq!(f["rule"]["service"], "default/web:http", "{f}");
        assert_eq!(f["rule"]["split"], "KUBE-SVC-TCOU7JCQXEZGVUNU", "{f}");
        assert_eq!(f["rule"]["local_only"], true, "{f}");
        assert_eq!(f["rule"]["path"][2], "KUBE-NODEPORTS", "{f}");
        assert_eq!(f["destination"], "namespace", "{f}");
        assert_eq!(f["listeners"][0]["processes"][0]["name"], "wp-web", "{f}");
    }
    let to: Vec<&str> = node
        .iter()
        .map(|f| f["to_address"].as_str().unwrap())
        .collect();
    assert_eq!(to, [format!("{}.2", s.ep_net), format!("{}.3", s.ep_net)]);
    assert!(
        fw.iter()
            .any(|f| f["ports"] == only(30080) && f["hook"] == "output"),
        "kube-proxy rewrites this host's own connections too: {j}"
    );
    let portmap = fw
        .iter()
        .find(|f| f["ports"] == only(8088))
        .unwrap_or_else(|| panic!("the hostPort: {j}"));
    assert_eq!(
        portmap["rule"]["path"],
        serde_json::json!([
            "PREROUTING",
            "CNI-HOSTPORT-DNAT",
            "CNI-DN-2e7f3c1a9b8d4e5f6a7b8"
        ])
    );
    assert_eq!(portmap["listeners"][0]["processes"][0]["name"], "wp-web");
    let prose = text(&whyport_in(&s.host, &["30080"]));
    assert!(
        prose.contains("Kubernetes service default/web:http"),
        "{prose}"
    );
    assert!(prose.contains("one of 2 destinations"), "{prose}");
    assert!(prose.contains("KUBE-NODEPORTS"), "{prose}");
    // The claims hold on the wire: the NodePort and the hostPort reach the
    // endpoint's listener from outside; a port no rule names does not.
    let host_addr = format!("{}.1", s.cl_net);
    assert!(connects(&s.client, &host_addr, 30080), "NodePort 30080");
    assert!(connects(&s.client, &host_addr, 8088), "hostPort 8088");
    assert!(
        !connects(&s.client, &host_addr, 30081),
        "30081 is not forwarded"
    );
}

#[test]
fn kube_proxy_iptables_nft_nodeport_and_portmap() {
    if find_program("iptables-nft").is_none() {
        skip(
            "kube_proxy_iptables_nft",
            Skip::Tool("iptables-nft"),
            "iptables-nft (iptables) is not installed",
        );
        return;
    }
    kube_iptables_mode("kube_proxy_iptables_nft", "iptables-nft", "kn", 30);
}

#[test]
fn kube_proxy_iptables_legacy_nodeport_and_portmap() {
    if find_program("iptables-legacy").is_none() {
        skip(
            "kube_proxy_iptables_legacy",
            Skip::Tool("iptables-legacy"),
            "iptables-legacy (iptables) is not installed",
        );
        return;
    }
    kube_iptables_mode("kube_proxy_iptables_legacy", "iptables-legacy", "kl", 32);
}

/// kube-proxy's nftables mode (table `ip kube-proxy`: verdict maps
/// service-ips and service-nodeports, a `numgen` split into endpoint
/// chains), and a DNAT in an `output` chain only.
#[test]
fn kube_proxy_nftables_mode_and_output_dnat() {
    let test = "kube_proxy_nftables_mode";
    if find_program("nft").is_none() {
        skip(test, Skip::Tool("nft"), "nft (nftables) is not installed");
        return;
    }
    let Some(s) = site(test, "kt", 34) else {
        return;
    };
    let _g = sockets_guard();
    let _web = hold(&s.ep, "wp-web", &[tcp("0.0.0.0", 80)]);
    let _own = hold(&s.host, "wp-own", &[tcp("0.0.0.0", 8443)]);
    let ep = &s.ep_net;
    let svc = "service-ULMVA6XW-default/web/tcp/http";
    let ext = "external-ULMVA6XW-default/web/tcp/http";
    let (a, b) = (
        format!("endpoint-5OJB2KTY-default/web/tcp/http__{ep}.2/80"),
        format!("endpoint-GRP4XOQM-default/web/tcp/http__{ep}.3/80"),
    );
    nft(
        &s.host,
        &format!(
            r#"table ip kube-proxy {{
  map service-ips {{
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = {{ 10.96.0.10 . tcp . 80 : goto {svc} }}
  }}
  map service-nodeports {{
    type inet_proto . inet_service : verdict
    elements = {{ tcp . 30080 : goto {ext} }}
  }}
  chain mark-for-masquerade {{
    mark set mark or 0x4000
  }}
  chain {a} {{
    ip saddr {ep}.2 jump mark-for-masquerade
    meta l4proto tcp dnat to {ep}.2:80
  }}
  chain {b} {{
    ip saddr {ep}.3 jump mark-for-masquerade
    meta l4proto tcp dnat to {ep}.3:80
  }}
  chain {svc} {{
    ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
    numgen random mod 2 vmap {{ 0 : goto {a}, 1 : goto {b} }}
  }}
  chain {ext} {{
    jump mark-for-masquerade
    goto {svc}
  }}
  chain services {{
    ip daddr . meta l4proto . th dport vmap @service-ips
    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
  }}
  chain nat-prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    jump services
  }}
  chain nat-output {{
    type nat hook output priority -100; policy accept;
    jump services
  }}
}}
table ip wpout {{
  chain only-mine {{
    type nat hook output priority -100; policy accept;
    tcp dport 8443 dnat to {ep}.2:80 comment "local only"
  }}
}}
"#
        ),
    );
    let j = json(&whyport_in(&s.host, &["--json", "-A"]));
    let fw = forwards(&j);
    assert!(
        fw.iter().all(|f| f["ports"]["kind"] != "every"),
        "verdict maps are never every port: {j}"
    );
    let node: Vec<&serde_json::Value> = fw
        .iter()
        .filter(|f| f["ports"] == only(30080) && f["hook"] == "prerouting")
        .collect();
    assert_eq!(node.len(), 2, "{j}");
    for f in &node {
        assert_eq!(f["rule"]["split"], svc, "{f}");
        assert_eq!(f["rule"]["local_only"], true, "{f}");
        assert_eq!(f["rule"]["path"][2], ext, "{f}");
        assert_eq!(f["listeners"][0]["processes"][0]["name"], "wp-web", "{f}");
    }
    let cluster = fw
        .iter()
        .filter(|f| f["ports"] == only(80) && f["rule"]["daddr"] == "10.96.0.10")
        .count();
    assert_eq!(cluster, 4, "two endpoints from prerouting and output: {j}");
    // The output-only DNAT: listed, for this host's own connections.
    let mine = fw
        .iter()
        .find(|f| f["rule"]["comment"] == "local only")
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(mine["hook"], "output");
    let prose = text(&whyport_in(&s.host, &["8443"]));
    assert!(prose.contains("this host's own connections"), "{prose}");
    assert!(!prose.contains("shadowed-by-dnat"), "{prose}");
    let table = text(&whyport_in(&s.host, &[]));
    assert!(table.contains("own connections: output hook"), "{table}");
    // On the wire: the NodePort reaches the endpoint from outside; 8443
    // from outside reaches the host's own listener, untouched by the rule.
    let host_addr = format!("{}.1", s.cl_net);
    assert!(connects(&s.client, &host_addr, 30080), "NodePort 30080");
    assert!(!connects(&s.client, &host_addr, 30081));
    drop(_own);
    assert!(
        !connects(&s.client, &host_addr, 8443),
        "8443 from outside is not forwarded (the host listener is gone)"
    );
}

/// Redirects towards a loopback-bound socket and a wildcard one, a `!=`
/// port match, and a forward of every UDP port.
#[test]
fn redirects_negations_and_every_port() {
    let test = "redirects_negations_and_every_port";
    if find_program("nft").is_none() {
        skip(test, Skip::Tool("nft"), "nft (nftables) is not installed");
        return;
    }
    let Some(s) = site(test, "rd", 36) else {
        return;
    };
    let _g = sockets_guard();
    let _lo = hold(&s.host, "wp-lo", &[tcp("127.0.0.1", 7001)]);
    let _any = hold(&s.host, "wp-any", &[tcp("0.0.0.0", 7101)]);
    nft(
        &s.host,
        "table ip wpredir {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    tcp dport 7000 redirect to :7001 comment \"to loopback\"
    tcp dport 7100 redirect to :7101
    tcp dport != 7400 redirect to :7101 comment \"all but\"
    meta l4proto udp redirect to :7101 comment \"every udp\"
  }
}\n",
    );
    let j = json(&whyport_in(&s.host, &["--json"]));
    let fw = forwards(&j);
    let find = |c: &str| {
        fw.iter()
            .find(|f| f["rule"]["comment"] == c)
            .unwrap_or_else(|| panic!("{c}: {j}"))
            .clone()
    };
    let lo = find("to loopback");
    assert_eq!(lo["listeners"], serde_json::json!([]), "{lo}");
    let but = find("all but");
    assert_eq!(
        but["ports"],
        serde_json::json!({"kind": "except", "ranges": [[7400, 7400]]})
    );
    assert_eq!(but["listeners"][0]["processes"][0]["name"], "wp-any");
    assert_eq!(find("every udp")["ports"]["kind"], "every");
    let prose = text(&whyport_in(&s.host, &["7000"]));
    assert!(prose.contains("bound to loopback"), "{prose}");
    let host_addr = format!("{}.1", s.cl_net);
    assert!(
        !connects(&s.client, &host_addr, 7000),
        "a redirect does not reach 127.0.0.1:7001"
    );
    assert!(connects(&s.client, &host_addr, 7100));
    assert!(connects(&s.client, &host_addr, 7500), "caught by != 7400");
    assert!(
        !connects(&s.client, &host_addr, 7400),
        "excluded by != 7400"
    );
}
