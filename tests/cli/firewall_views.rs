//! The firewall's answer where people and pipelines read it, on real rules
//! in a test namespace: the table's address marks, the explanation's
//! firewall line, and audits with `reach` conditions (their exit status).
//! tests/cli/firewall/ checks the answers themselves against packets.

use crate::nslab::{code, hold, lab, tcp, text, whyport_in};
use crate::procs::find_program;
use crate::support::*;

const RULES: &str = "table inet wpviews {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname \"lo\" accept
    tcp dport 43101 accept
    tcp dport 43102 ip saddr 198.51.100.0/25 accept
    tcp dport 43104 limit rate 5/second accept
  }
}
";

#[test]
fn marks_lines_and_audits_follow_the_firewall() {
    let test = "marks_lines_and_audits_follow_the_firewall";
    let Some(nft) = find_program("nft") else {
        skip(test, Skip::Tool("nft"), "needs nft (nftables)");
        return;
    };
    let Some(ns) = lab(test, "wp-fwv") else {
        return;
    };
    let mut load = ns.exec(&nft);
    load.args(["-f", "-"]).stdin(std::process::Stdio::piped());
    let mut child = load.spawn().expect("nft runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), RULES.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "nft -f failed");
    let _held = hold(
        &ns,
        "fwviews",
        &[
            tcp("0.0.0.0", 43101),
            tcp("0.0.0.0", 43102),
            tcp("0.0.0.0", 43103),
            tcp("0.0.0.0", 43104),
            tcp("127.0.0.1", 43105),
        ],
    );

    // The table: no mark (open), ~ (open from some), # (blocked), ?
    // (undecided), none for loopback; the legend once on stderr.
    let out = whyport_in(&ns, &["-t", "--port", "43101-43105"]);
    let table = text(&out);
    let address = |port: u16| {
        table
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(&port.to_string()))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("no row for {port}:\n{table}"))
            .to_string()
    };
    assert_eq!(address(43101), "0.0.0.0", "{table}");
    assert_eq!(address(43102), "0.0.0.0~", "{table}");
    assert_eq!(address(43103), "0.0.0.0#", "{table}");
    assert_eq!(address(43104), "0.0.0.0?", "{table}");
    assert_eq!(address(43105), "127.0.0.1", "{table}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("address marks:").count(), 1, "{stderr}");

    // The explanation names the rule and the policy, and says whose rules.
    let why = text(&whyport_in(&ns, &["43102"]));
    assert!(
        why.contains("firewall  open from 198.51.100.0/25 on d0 to 198.51.100.2\n"),
        "{why}"
    );
    assert!(
        why.contains("              by inet wpviews input, rule "),
        "{why}"
    );
    assert!(
        why.contains(
            "            blocked elsewhere\n              by policy drop (inet wpviews input)\n"
        ),
        "{why}"
    );
    assert!(why.contains("this host's rules only"), "{why}");
    // Nothing whyport writes there is wider than a terminal but the rule
    // texts themselves (and the test binary's own command line).
    for line in why
        .lines()
        .filter(|l| !l.contains(" by ") && !l.contains("cli-"))
    {
        assert!(
            line.chars().count() <= 80,
            "{} cells: {line}",
            line.chars().count()
        );
    }
    let limited = text(&whyport_in(&ns, &["43104"]));
    assert!(limited.contains("undecided"), "{limited}");

    // Audits: deny what is open, allow what is firewalled; the undecided
    // one meets neither rule and the default decides it.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "default = \"deny\"\nignore_warnings = [\"root-unneeded\"]\n\
         [[allow]]\nrange = \"43101-43105\"\nreach = \"firewalled\"\n\
         [[deny]]\nrange = \"43101-43105\"\nreach = \"open\"\nid = \"NO-OPEN\"\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let audit = whyport_in(&ns, &["audit", "--policy", p, "--json"]);
    assert_eq!(code(&audit), 1, "{}", text(&audit));
    let doc: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let mut verdicts: Vec<(u64, String)> = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let port = r["port"].as_u64().unwrap_or(0);
            let findings: Vec<&str> = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap_or(""))
                .collect();
            (port, findings.join(","))
        })
        .collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            (43101, "denied".to_string()),
            (43102, "denied".to_string()),
            (43103, String::new()),
            (43104, "not-allowed".to_string()),
            (43105, String::new()),
        ],
        "{}",
        text(&audit)
    );
}
