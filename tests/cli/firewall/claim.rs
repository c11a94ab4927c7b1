//! The one reader of the contract whyport's firewall claims follow
//! ("firewall" on listeners and forwards, docs/json.md): what whyport says
//! of one packet. Adapt `claim` here if the contract shifts.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

/// What whyport claims for one packet: from `source`, arriving on
/// `iface`, sent to the local address `local`.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    Open,
    Blocked,
    /// The rule that could not be evaluated, as whyport names it.
    Undecided(String),
    /// No claim where one is due, and why.
    Missing(String),
}

/// The one place that reads the contract: `opening` is a listener or a
/// forward object of `whyport --json`; its "firewall" has per (interface,
/// address) a partition of the source space into parts with an outcome.
pub fn claim(opening: &Value, iface: &str, local: IpAddr, source: IpAddr) -> Claim {
    let fw = &opening["firewall"];
    if fw.is_null() {
        return Claim::Missing("no firewall claim".into());
    }
    let Some(path) = fw["paths"].as_array().into_iter().flatten().find(|p| {
        p["interface"] == iface
            && p["address"].as_str().and_then(|a| a.parse::<IpAddr>().ok()) == Some(local)
    }) else {
        return Claim::Missing(format!("no path for {iface} {local}"));
    };
    let parts: Vec<&Value> = path["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|part| {
            part["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c.as_str().is_some_and(|c| covers(c, source)))
        })
        .collect();
    let [part] = parts.as_slice() else {
        return Claim::Missing(format!(
            "{} parts of {iface} {local} cover {source} (a partition has one)",
            parts.len()
        ));
    };
    match part["outcome"].as_str() {
        Some("open") => Claim::Open,
        Some("blocked") => Claim::Blocked,
        Some("undecided") => {
            let by = &part["by"];
            Claim::Undecided(format!(
                "{} rule {}: {}",
                by["chain"].as_str().unwrap_or("?"),
                by["rule"],
                by["text"].as_str().unwrap_or("?")
            ))
        }
        other => Claim::Missing(format!("outcome {other:?}")),
    }
}

/// Whether the prefix `cidr` ("10.0.0.0/8", "fd00::/8", or an address)
/// holds `a` (a prefix of the other family holds nothing).
fn covers(cidr: &str, a: IpAddr) -> bool {
    let number = |a: IpAddr| match a {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    };
    let (net, len) = cidr
        .split_once('/')
        .map_or((cidr, None), |(n, l)| (n, Some(l)));
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    let ((v6, net), (a_v6, a)) = (number(net), number(a));
    let bits = if v6 { 128 } else { 32 };
    let Ok(len) = len.map_or(Ok(bits), str::parse::<u32>) else {
        return false;
    };
    let host = bits - len.min(bits);
    let mask = u128::MAX.checked_shl(host).unwrap_or(0);
    v6 == a_v6 && net & mask == a & mask
}

/// claim() reads the contract as documented: a partition per (interface,
/// address), CIDR sources, the outcome of the one part that holds the
/// source; anything else is a missing claim, never a guess.
#[test]
fn claim_reads_the_contract() {
    let listener = serde_json::json!({
        "protocol": "tcp", "port": 22,
        "firewall": {
            "answer": "open-from",
            "summary": "open from 10.1.0.0/24 on v1",
            "paths": [
                { "interface": "v1", "address": "10.1.0.1", "parts": [
                    { "sources": ["10.1.0.0/25"], "outcome": "open",
                      "by": { "chain": "inet filter input", "rule": 12, "text": "ip saddr 10.1.0.0/25 accept", "policy": false } },
                    { "sources": ["10.1.0.128/25"], "outcome": "undecided",
                      "by": { "chain": "inet filter input", "rule": 13, "text": "meta mark 0x1 accept", "policy": false } },
                    { "sources": ["0.0.0.0/5", "8.0.0.0/7", "10.0.0.0/16", "10.1.1.0/24", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1"],
                      "outcome": "blocked",
                      "by": { "chain": "inet filter input", "rule": null, "text": "policy drop", "policy": true } }
                ] },
                { "interface": "v2", "address": "10.1.0.1", "parts": [
                    { "sources": ["0.0.0.0/0"], "outcome": "blocked", "by": null },
                    { "sources": ["10.2.0.2"], "outcome": "open", "by": null }
                ] }
            ]
        }
    });
    let a = |s: &str| IpAddr::V4(s.parse::<Ipv4Addr>().unwrap());
    let local = a("10.1.0.1");
    assert_eq!(claim(&listener, "v1", local, a("10.1.0.2")), Claim::Open);
    assert_eq!(
        claim(&listener, "v1", local, a("192.0.2.7")),
        Claim::Blocked
    );
    assert_eq!(
        claim(&listener, "v1", local, a("10.0.255.1")),
        Claim::Blocked
    );
    assert_eq!(
        claim(&listener, "v1", local, a("10.1.0.200")),
        Claim::Undecided("inet filter input rule 13: meta mark 0x1 accept".into())
    );
    // Not a partition: two parts hold 10.2.0.2.
    assert!(matches!(
        claim(&listener, "v2", local, a("10.2.0.2")),
        Claim::Missing(m) if m.contains("2 parts")
    ));
    assert!(matches!(
        claim(&listener, "v1", a("10.2.0.1"), a("10.1.0.2")),
        Claim::Missing(m) if m.contains("no path")
    ));
    assert_eq!(
        claim(&serde_json::json!({"port": 22}), "v1", local, a("10.1.0.2")),
        Claim::Missing("no firewall claim".into())
    );
    assert!(covers("0.0.0.0/0", a("203.0.113.9")));
    assert!(!covers("10.1.0.0/25", a("10.1.0.128")));
    assert!(!covers("not a prefix", a("10.1.0.1")));
    let b = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(covers("fd00::/120", b("fd00::ff")));
    assert!(!covers("fd00::/120", b("fd00::100")));
    assert!(covers("::/0", b("fd00::100")));
    assert!(!covers("::/0", a("10.1.0.1")));
    assert!(!covers("0.0.0.0/0", b("::ffff:10.1.0.1")));
}
