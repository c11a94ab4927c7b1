//! whyport's firewall claims checked against real packets: for every rule
//! set (loaded with the real tools into a namespace of the test's own),
//! every listener (and the Docker shape's forward) and every peer source,
//! the claim in `whyport --json` ("firewall" of docs/json.md) must match
//! what a connection from that source did: open ones connected (TCP) or
//! were answered (UDP), blocked ones were refused or timed out. Undecided
//! claims are counted and listed; a missing claim is a failure.
//!
//! Every probe is made in IPv4 and in IPv6. Nothing touches the host's
//! namespace or its rulesets: the test asserts that the host's `nft list
//! ruleset`, `iptables-legacy-save`, `ip6tables-legacy-save`, its
//! `net.ipv4.conf.*.rp_filter` and /etc/ufw are the same afterwards. Run it with `--nocapture` to see the matrix.

use std::net::IpAddr;
use std::time::Instant;

use serde_json::Value;

use crate::nslab::{code, json, whyport_in};
use crate::procs::find_program;
use crate::support::*;

mod claim;
mod lab;
mod rules;
mod rules_more;
use claim::*;
use lab::*;
use rules::*;

const TEST: &str = "firewall_claims_match_packets";

/// The rules whyport does not evaluate in the matrix's rule sets (docs/
/// firewall.md, "Still undecided"): a claim undecided by any other rule is
/// wrong, and each of these must still be met (when whyport learns one,
/// it leaves this list).
const NOT_EVALUATED: &[&str] = &["@sshrate"];

/// What the matrix found, over every rule set.
#[derive(Default)]
struct Tally {
    /// (rule set, opening, source, address) checked.
    checked: usize,
    wrong: Vec<String>,
    missing: Vec<String>,
    undecided: Vec<String>,
    /// Probes that did not do what the rule set is meant to do: the lab is
    /// wrong, whatever whyport says.
    lab: Vec<String>,
    rule_sets: usize,
}

#[test]
fn firewall_claims_match_packets() {
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root for network namespaces");
        return;
    }
    let Some(ip) = find_program("ip") else {
        skip(TEST, Skip::Tool("ip"), "needs ip (iproute2)");
        return;
    };
    if find_program("nft").is_none() {
        skip(TEST, Skip::Tool("nft"), "nft (nftables) is not installed");
        return;
    }
    if !have(PYTHON3) {
        skip(TEST, Skip::Tool("python3"), "the probes need python3");
        return;
    }
    let started = Instant::now();
    let host_before = host_state();
    let _g = sockets_guard();
    let lab = match Lab::build(&ip) {
        Ok(lab) => lab,
        Err(e) => {
            skip(TEST, Skip::Other, e);
            return;
        }
    };
    let mut tally = Tally::default();
    let mut legacy = false;
    let sets = rule_sets(&lab.nets);
    let rule_count = sets.len();
    for (round, set) in sets.iter().enumerate() {
        if let Some(tool) = set.needs.iter().find(|t| find_program(t).is_none()) {
            skip(
                &format!("{TEST} ({})", set.name),
                Skip::Tool(tool),
                format!("{tool} is not installed: rule set not checked"),
            );
            continue;
        }
        reset(&lab, legacy);
        legacy |= set.load.legacy();
        if set.kernel != Kernel::Plain {
            lab.set_kernel(set.kernel)
                .unwrap_or_else(|e| panic!("routes and rp_filter of rule set {}: {e}", set.name));
        }
        if let Err(e) = load(&lab, &set.load) {
            panic!("loading rule set {}: {e}", set.name);
        }
        let loaded = Instant::now();
        let probes = Lab::probes(round);
        let seen = lab.probe(&probes);
        let probed = Instant::now();
        let out = whyport_in(&lab.t, &["--json"]);
        assert!(
            matches!(code(&out), 0 | 1),
            "whyport in T: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = json(&out);
        tally.rule_sets += 1;
        println!(
            "\n== {} (probes {} ms, whyport {} ms)",
            set.name,
            (probed - loaded).as_millis(),
            probed.elapsed().as_millis()
        );
        check(&lab, set, &probes, &seen, &doc, &mut tally);
        check_loopback(set, &doc, &mut tally);
        if set.kernel != Kernel::Plain {
            lab.set_kernel(Kernel::Plain)
                .unwrap_or_else(|e| panic!("undoing the routes of {}: {e}", set.name));
        }
    }
    drop(lab);
    let host_after = host_state();
    summary(&tally, started);
    assert_eq!(
        host_after, host_before,
        "the host's rulesets, rp_filter or /etc/ufw changed while the lab ran"
    );
    assert!(
        tally.lab.is_empty(),
        "{} probes did not do what their rule set is meant to do (a lab error):\n{}",
        tally.lab.len(),
        tally.lab.join("\n")
    );
    let absent = tally
        .missing
        .iter()
        .filter(|m| m.ends_with(": no firewall claim"))
        .count();
    if tally.rule_sets == rule_count {
        for n in NOT_EVALUATED {
            assert!(
                tally.undecided.iter().any(|u| u.contains(n)),
                "no claim was left undecided by {n}: drop it from NOT_EVALUATED"
            );
        }
    }
    assert!(
        tally.wrong.is_empty() && tally.missing.is_empty(),
        "{} wrong claims, {} missing claims ({absent} with no firewall claim at all) of {}:\n{}",
        tally.wrong.len(),
        tally.missing.len(),
        tally.checked,
        head(tally.wrong.iter().chain(&tally.missing), 40)
    );
}

/// At most `n` lines of `lines`, and how many more there were.
fn head<'a>(lines: impl Iterator<Item = &'a String>, n: usize) -> String {
    let all: Vec<&String> = lines.collect();
    let mut text: Vec<String> = all.iter().take(n).map(|s| s.to_string()).collect();
    if all.len() > n {
        text.push(format!("... and {} more", all.len() - n));
    }
    text.join("\n")
}

/// Compare one rule set's probes with its intent and with whyport's
/// claims; print its matrix.
fn check(lab: &Lab, set: &RuleSet, probes: &[Probe], seen: &[String], doc: &Value, t: &mut Tally) {
    let nets = &lab.nets;
    let cols = 2 * SOURCES.len() * DESTINATIONS.len();
    let header: Vec<String> = probes[..cols]
        .iter()
        .map(|p| format!("{:>6}", format!("{}>{:?}", p.src.short(), p.dst)))
        .collect();
    let half = 6 * cols / 2;
    println!("{:<24}{:<half$}{:<half$}", "", "  IPv4", "  IPv6");
    println!("{:<24}{}", "", header.join(""));
    let mut row = String::new();
    for (i, p) in probes.iter().enumerate() {
        let sock = LISTENERS.iter().find(|l| l.takes(p));
        let forwarded = p.tcp && !p.v6 && set.forwards.contains(&p.port);
        let due = sock.is_some() || forwarded;
        let opened = matches!(seen[i].as_str(), "connected" | "replied");
        let (src, dst) = nets.ends(p);
        let what = row_name(p, forwarded);
        let case = format!(
            "[{}] {} {} from {src} ({}) to {dst}",
            set.name,
            if p.tcp { "tcp" } else { "udp" },
            sock.map_or(format!("fwd :{}", p.port), |s| format!(
                "{}:{}",
                s.short(),
                s.port
            )),
            p.src.iface(),
        );
        let meant = due && (set.lets)(p);
        if opened != meant {
            t.lab.push(format!(
                "{case}: {} where the rule set means {}",
                seen[i],
                if meant { "open" } else { "closed" }
            ));
        }
        let said = if !due {
            None
        } else {
            let source: IpAddr = src.parse().unwrap();
            let local: IpAddr = dst.parse().unwrap();
            let said = match opening(doc, p, sock, forwarded, nets) {
                Ok(openings) => openings
                    .iter()
                    .map(|o| claim(o, p.src.iface(), local, source))
                    .collect(),
                Err(why) => vec![Claim::Missing(why)],
            };
            Some(said)
        };
        let mark = match &said {
            None => ' ',
            Some(said) => {
                t.checked += 1;
                tally_claims(t, said, opened, &case, &seen[i])
            }
        };
        if i % cols == 0 {
            row = format!("{what:<24}");
        }
        let got = if opened { 'o' } else { '.' };
        row.push_str(&format!("{:>6}", format!("{got}{mark}")));
        if i % cols == cols - 1 {
            println!("{row}");
        }
    }
}

/// The loopback listener's answer is "local-only", under every rule set.
fn check_loopback(set: &RuleSet, doc: &Value, t: &mut Tally) {
    t.checked += 1;
    let found =
        doc["listeners"].as_array().into_iter().flatten().find(|l| {
            l["protocol"] == "tcp" && l["port"] == LOOPBACK && l["address"] == "127.0.0.1"
        });
    let answer = found.map(|l| &l["firewall"]["answer"]);
    if answer.and_then(Value::as_str) != Some("local-only") {
        t.missing.push(format!(
            "[{}] tcp 127.0.0.1:{LOOPBACK}: firewall answer {} where \"local-only\" is due",
            set.name,
            answer.map_or("(listener not listed)".to_string(), |a| a.to_string())
        ));
    }
}

/// Count the claims made for one probe; the matrix's mark for them.
fn tally_claims(t: &mut Tally, said: &[Claim], opened: bool, case: &str, seen: &str) -> char {
    let mut mark = ' ';
    for c in said {
        let m = match c {
            Claim::Open if opened => 'O',
            Claim::Blocked if !opened => 'B',
            Claim::Open | Claim::Blocked => {
                t.wrong
                    .push(format!("{case}: claimed {c:?}, the probe {seen}"));
                '!'
            }
            Claim::Undecided(rule) if NOT_EVALUATED.iter().any(|n| rule.contains(n)) => {
                t.undecided.push(format!("{case}: {rule}"));
                'U'
            }
            Claim::Undecided(rule) => {
                t.wrong.push(format!(
                    "{case}: undecided by a rule whyport evaluates: {rule}"
                ));
                '!'
            }
            Claim::Missing(why) => {
                t.missing.push(format!("{case}: {why}"));
                '?'
            }
        };
        // The worst mark of the openings wins.
        let rank = |c: char| " OBU!?".find(c);
        if rank(m) > rank(mark) {
            mark = m;
        }
    }
    mark
}

/// The matrix row of `p`'s port: its protocol, port and sockets (`*`
/// every IPv4 address, `[*]` every IPv6 one, `*46` dual-stack, `A1` one
/// address, `%v2` a device bind), or that it is forwarded or closed.
fn row_name(p: &Probe, forwarded: bool) -> String {
    let proto = if p.tcp { "tcp" } else { "udp" };
    let socks: Vec<String> = LISTENERS
        .iter()
        .filter(|l| l.tcp == p.tcp && l.port == p.port)
        .map(|l| l.short())
        .collect();
    match socks.is_empty() {
        false => format!("{proto} {} {}", p.port, socks.join(",")),
        true if forwarded => format!("{proto} {} fwd", p.port),
        true => format!("{proto} {} none", p.port),
    }
}

/// The listener or forward objects the claim for `p` is read from.
fn opening(
    doc: &Value,
    p: &Probe,
    sock: Option<&Sock>,
    forwarded: bool,
    nets: &Nets,
) -> Result<Vec<Value>, String> {
    let proto = if p.tcp { "tcp" } else { "udp" };
    if let Some(s) = sock {
        let addr: IpAddr = s.address(nets).parse().unwrap();
        let family = if s.fam == Fam::V4 { "ipv4" } else { "ipv6" };
        let found = doc["listeners"].as_array().into_iter().flatten().find(|l| {
            l["protocol"] == proto
                && l["port"] == p.port
                && l["family"] == family
                && l["address"]
                    .as_str()
                    .and_then(|a| a.split('%').next())
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    == Some(addr)
                && l["interface"].as_str() == s.dev
        });
        return found
            .cloned()
            .map(|l| vec![l])
            .ok_or_else(|| "listener not listed".into());
    }
    debug_assert!(forwarded);
    let only = serde_json::json!({"kind": "only", "ranges": [[p.port, p.port]]});
    let found: Vec<Value> = doc["forwarded"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["protocol"] == proto && f["ports"] == only && f["hook"] == "prerouting")
        .cloned()
        .collect();
    if found.is_empty() {
        Err("forward not listed".into())
    } else {
        Ok(found)
    }
}

/// Empty T's rulesets: nftables (iptables-nft's tables too) and, once a
/// rule set used them, iptables-legacy's filter and nat tables and
/// ip6tables-legacy's filter table.
fn reset(lab: &Lab, legacy: bool) {
    lab.in_t("nft", &["flush", "ruleset"], "")
        .unwrap_or_else(|e| panic!("nft flush ruleset: {e}"));
    if legacy {
        let filter =
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
        let nat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";
        lab.in_t("iptables-legacy-restore", &[], &format!("{filter}{nat}"))
            .unwrap_or_else(|e| panic!("emptying iptables-legacy: {e}"));
        if find_program("ip6tables-legacy-restore").is_some() {
            lab.in_t("ip6tables-legacy-restore", &[], filter)
                .unwrap_or_else(|e| panic!("emptying ip6tables-legacy: {e}"));
        }
    }
}

/// ufw's configuration, from the package's pristine copies, on tmpfs in a
/// mount namespace of its own (and /run, for ufw's lock): the host's
/// /etc/ufw and /etc/default/ufw are neither read nor written.
const UFW_PRIVATE: &str = r#"set -e
mount -t tmpfs wp-ufw /run
mount -t tmpfs wp-ufw /tmp
mkdir -p /tmp/ufw/applications.d
cp /usr/share/ufw/iptables/*.rules /usr/share/ufw/ufw.conf /tmp/ufw/
: > /tmp/ufw/sysctl.conf
cat > /tmp/default-ufw <<'EOF'
IPV6=yes
DEFAULT_INPUT_POLICY="DROP"
DEFAULT_OUTPUT_POLICY="ACCEPT"
DEFAULT_FORWARD_POLICY="DROP"
DEFAULT_APPLICATION_POLICY="SKIP"
MANAGE_BUILTINS=no
IPT_SYSCTL=/etc/ufw/sysctl.conf
IPT_MODULES=""
EOF
mount --bind /tmp/ufw /etc/ufw
mount --bind /tmp/default-ufw /etc/default/ufw
"#;

fn load(lab: &Lab, load: &Load) -> Result<(), String> {
    match load {
        Load::All(loads) => loads.iter().try_for_each(|l| self::load(lab, l)),
        Load::Nft(text) => lab.in_t("nft", &["-f", "-"], text),
        Load::Restore(tool, text) => lab.in_t(tool, &[], text),
        Load::Ufw(commands) => {
            let script = format!("{UFW_PRIVATE}{}\n", commands.join("\n"));
            lab.in_t(
                "unshare",
                &["-m", "--propagation", "private", "sh", "-c", &script],
                "",
            )
        }
    }
}

/// The host's rulesets and ufw configuration, to compare before and after.
fn host_state() -> String {
    let mut state = String::new();
    for (program, args) in [
        ("nft", &["list", "ruleset"][..]),
        ("iptables-legacy-save", &[]),
        ("ip6tables-legacy-save", &[]),
    ] {
        if let Some(path) = find_program(program) {
            let out = run(std::process::Command::new(path).args(args));
            let text = String::from_utf8_lossy(&out.stdout);
            // iptables-legacy-save dates its output in comments.
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                state.push_str(line);
                state.push('\n');
            }
        }
    }
    // The host's reverse-path filter: the lab sets T's own.
    let mut confs: Vec<_> = std::fs::read_dir("/proc/sys/net/ipv4/conf")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("rp_filter"))
        .collect();
    confs.sort();
    for c in confs {
        let value = std::fs::read_to_string(&c).unwrap_or_default();
        state.push_str(&format!("{}: {}\n", c.display(), value.trim()));
    }
    let mut files: Vec<_> = std::fs::read_dir("/etc/ufw")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.extend(["/etc/default/ufw", "/run/ufw.lock"].map(Into::into));
    files.sort();
    for f in files {
        state.push_str(&format!("{}: {:?}\n", f.display(), std::fs::read(&f).ok()));
    }
    state
}

fn summary(t: &Tally, started: Instant) {
    let decided = t.checked - t.undecided.len() - t.missing.len();
    println!(
        "\nfirewall matrix: {} rule sets x {} listeners (and one on loopback; the Docker shape's forward) x {} sources x {} addresses x 2 families (where the socket takes them): {} claims checked, {decided} decided, {} wrong, {} missing, {} undecided ({:.0}%), {} lab errors, {:.1} s",
        t.rule_sets,
        LISTENERS.len(),
        SOURCES.len(),
        DESTINATIONS.len(),
        t.checked,
        t.wrong.len(),
        t.missing.len(),
        t.undecided.len(),
        100.0 * t.undecided.len() as f64 / t.checked.max(1) as f64,
        t.lab.len(),
        started.elapsed().as_secs_f64()
    );
    for line in &t.undecided {
        println!("undecided: {line}");
    }
    println!(
        "matrix marks: o connected/answered, . refused/silent; claims O/B right, ! wrong, U undecided, ? missing"
    );
}
