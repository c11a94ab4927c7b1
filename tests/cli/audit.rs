//! `whyport audit`, `policy init`, `snapshot`, `diff` and the machine
//! formats, against listeners the tests open in network namespaces of
//! their own (so nothing else on the host is judged), each held by a forked
//! child with a known name.

use std::path::Path;
use std::process::{Command, Output};

use crate::netns::Netns;
use crate::nslab::*;
use crate::procs::find_program;
use crate::support::*;

/// `whyport audit --policy POLICY --format FORMAT`, inside `ns`.
fn audit_in(ns: &Netns, policy: &Path, format: &str) -> Output {
    whyport_in(
        ns,
        &[
            "audit",
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            format,
        ],
    )
}

/// A host with a server, a dual-stack datastore, a UDP service, a
/// SO_REUSEPORT pair and a v6-only socket.
fn populate(ns: &Netns) -> Vec<Child> {
    vec![
        hold(ns, "wp-sshd", &[tcp("0.0.0.0", 22)]),
        hold(ns, "redis-server", &[Spec("tcp", "::", 6379, false, false)]),
        hold(
            ns,
            "wp-mdns",
            &[Spec("udp", "127.0.0.1", 5353, false, false)],
        ),
        hold(
            ns,
            "wp-web",
            &[
                Spec("tcp", "127.0.0.1", 8080, false, true),
                Spec("tcp", "127.0.0.1", 8080, false, true),
            ],
        ),
        hold(ns, "wp-v6", &[tcp("::", 9000)]),
    ]
}

#[test]
fn policy_init_then_audit_passes_and_a_new_port_fails_it() {
    let Some(ns) = lab("policy_init_then_audit_passes", "wp-au1") else {
        return;
    };
    let _g = sockets_guard();
    let _children = populate(&ns);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("whyport.toml");
    let p = policy.to_str().unwrap();
    let init = whyport_in(&ns, &["policy", "init", "-o", p]);
    assert_eq!(code(&init), 0, "{}", String::from_utf8_lossy(&init.stderr));
    let written = std::fs::read_to_string(&policy).unwrap();
    for want in [
        "default = \"deny\"",
        "port = 22\nprotocol = \"tcp\"\nbind = \"any\"\nprocess = \"wp-sshd\"",
        "port = 8080\nprotocol = \"tcp\"\nbind = \"loopback\"\nprocess = \"wp-web\"",
        "port = 5353\nprotocol = \"udp\"\nbind = \"loopback\"",
        "# warning exposed-datastore ignored:",
        "ignore_warnings = [\"exposed-datastore\"",
    ] {
        assert!(written.contains(want), "missing {want:?} in\n{written}");
    }
    assert_eq!(
        written.matches("port = 8080").count(),
        1,
        "one rule for the SO_REUSEPORT pair:\n{written}"
    );

    let pass = whyport_in(&ns, &["audit", "--policy", p]);
    assert_eq!(
        code(&pass),
        0,
        "{}{}",
        text(&pass),
        String::from_utf8_lossy(&pass.stderr)
    );
    assert!(
        text(&pass)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("PASS: ")),
        "{}",
        text(&pass)
    );
    assert!(
        text(&pass).contains("6 listeners checked"),
        "{}",
        text(&pass)
    );

    let _intruder = hold(&ns, "wp-intruder", &[tcp("0.0.0.0", 8081)]);
    let fail = whyport_in(&ns, &["audit", "--policy", p]);
    assert_eq!(code(&fail), 1, "{}", text(&fail));
    let t = text(&fail);
    let row = t
        .lines()
        .find(|l| l.contains(":8081"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.starts_with("not-allowed"), "{row}");
    assert!(row.contains("wp-intruder"), "{row}");
    assert!(row.contains("default deny"), "{row}");
    assert!(t.lines().last().unwrap().starts_with("FAIL: "), "{t}");

    let j = json(&audit_in(&ns, &policy, "json"));
    assert_eq!(j["compliant"], false);
    assert_eq!(j["listeners_checked"], 7);
    let findings = j["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{j}");
    assert_eq!(findings[0]["id"], "not-allowed");
    let at = findings[0]["listener"].as_u64().unwrap() as usize;
    let l = &j["listeners"][at];
    assert_eq!(l["port"], 8081);
    assert_eq!(l["processes"][0]["name"], "wp-intruder");
    assert_eq!(l["allowed"], false);
}

#[test]
fn dual_stack_sockets_meet_ipv4_rules_on_a_live_host() {
    let Some(ns) = lab("dual_stack_sockets_meet_ipv4_rules", "wp-au2") else {
        return;
    };
    let _g = sockets_guard();
    let _c = [
        hold(&ns, "wp-dual", &[Spec("tcp", "::", 7001, false, false)]),
        hold(&ns, "wp-v6only", &[tcp("::", 7002)]),
        hold(&ns, "wp-v4", &[tcp("0.0.0.0", 7003)]),
        hold(&ns, "wp-local", &[tcp("127.0.0.1", 7004)]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "default = \"allow\"\n\
         [[deny]]\nrange = \"7000-7010\"\nfamily = \"ipv4\"\nbind = \"exposed\"\n\
         reason = \"no IPv4 exposure\"\n",
    )
    .unwrap();
    let o = audit_in(&ns, &policy, "json");
    assert_eq!(code(&o), 1);
    let j = json(&o);
    let denied: Vec<u64> = j["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "denied")
        })
        .map(|l| l["port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        denied,
        vec![7001, 7003],
        "dual-stack and IPv4 wildcard, not v6-only or loopback"
    );
    let reasons: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().all(|m| m.contains("no IPv4 exposure")),
        "{reasons:?}"
    );
}

#[test]
fn junit_output_validates_against_the_junit_schema() {
    let Some(ns) = lab("junit_output_validates", "wp-au3") else {
        return;
    };
    let Some(xmllint) = find_program("xmllint") else {
        skip(
            "junit_output_validates",
            Skip::Tool("xmllint"),
            "xmllint (libxml2-utils) is not installed",
        );
        return;
    };
    let _g = sockets_guard();
    let _children = populate(&ns);
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/junit.xsd");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nport = 22\nprocess = \"wp-sshd\"\n[[deny]]\nport = 6379\nreason = \"no <redis> & co\"\n[[allow]]\nport = 1\n",
    )
    .unwrap();
    let audit = audit_in(&ns, &policy, "junit");
    assert_eq!(code(&audit), 1);
    let base = dir.path().join("base.json");
    assert_eq!(
        code(&whyport_in(
            &ns,
            &["snapshot", "-o", base.to_str().unwrap()]
        )),
        0
    );
    let _new = hold(&ns, "wp-new", &[tcp("0.0.0.0", 4444)]);
    let diff = whyport_in(&ns, &["diff", base.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(code(&diff), 1);
    let validate = |name: &str, xml: &[u8]| {
        let file = dir.path().join(name);
        std::fs::write(&file, xml).unwrap();
        run(Command::new(&xmllint)
            .args(["--noout", "--schema"])
            .arg(&schema)
            .arg(&file))
    };
    for (name, out) in [("audit.xml", &audit), ("diff.xml", &diff)] {
        let v = validate(name, &out.stdout);
        assert!(
            v.status.success(),
            "{name} does not validate: {}\n{}",
            String::from_utf8_lossy(&v.stderr),
            text(out)
        );
    }
    let xml = text(&audit);
    assert!(xml.contains("<failure message=\"denied by deny #1 (line 4): no &lt;redis&gt; &amp; co\" type=\"denied\">"), "{xml}");
    // Cases are named stably: rules by content (no line numbers),
    // listeners by address (no PIDs).
    assert!(!xml.contains("name=\"allow #2"), "{xml}");
    assert!(xml.contains("<testcase name=\"allow "), "{xml}");
    assert!(xml.contains("name=\"tcp 0.0.0.0:22\""), "{xml}");
    assert!(
        text(&diff).contains("name=\"opened tcp 0.0.0.0:4444\""),
        "{}",
        text(&diff)
    );
    // The schema check can fail: a test case without a name does not pass.
    let broken = xml.replacen("<testcase name=", "<testcase label=", 1);
    assert!(!validate("broken.xml", broken.as_bytes()).status.success());
}

const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
seen = set()
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            sys.exit("duplicate series: %r" % (key,))
        seen.add(key)
        print("%s %s %s" % (s.name, ",".join("%s=%s" % kv for kv in sorted(s.labels.items())), s.value))
"#;

/// One sample as prometheus_client's parser read it; the value is compared
/// as a number (parsers print 2, 2.0 or 2.000000 for the same sample).
#[derive(Debug)]
struct Sample {
    name: String,
    /// `name=value` pairs, sorted, comma-separated, as the parser unescaped them.
    labels: String,
    value: f64,
}

/// The sample named `name` whose labels satisfy `labels`.
fn sample<'a>(samples: &'a [Sample], name: &str, labels: impl Fn(&str) -> bool) -> &'a Sample {
    samples
        .iter()
        .find(|s| s.name == name && labels(&s.labels))
        .unwrap_or_else(|| panic!("no {name} sample in {samples:#?}"))
}

fn prometheus_parse(exposition: &[u8]) -> Result<Vec<Sample>, String> {
    let mut child = std::process::Command::new(PYTHON3)
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .map(|line| {
                let (name, rest) = line.split_once(' ').ok_or(line)?;
                let (labels, value) = rest.rsplit_once(' ').ok_or(line)?;
                let value = value.parse().map_err(|_| line)?;
                Ok(Sample {
                    name: name.to_string(),
                    labels: labels.to_string(),
                    value,
                })
            })
            .collect::<Result<_, &str>>()
            .map_err(|line| format!("cannot read the parser's line {line:?}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn prometheus_output_parses_with_no_duplicate_series() {
    let Some(ns) = lab("prometheus_output_parses", "wp-au4") else {
        return;
    };
    // Debian's python3-prometheus-client, for Debian's python3 (PYTHON3).
    let has_client = have(PYTHON3)
        && run(Command::new(PYTHON3).args(["-c", "import prometheus_client"]))
            .status
            .success();
    if !has_client {
        skip(
            "prometheus_output_parses",
            Skip::Tool("python3-prometheus-client"),
            format!("python3-prometheus-client is not installed for {PYTHON3}"),
        );
        return;
    }
    let _g = sockets_guard();
    let _children = populate(&ns);
    // Hostile text in label values: quotes, backslashes, newlines, bytes
    // that are not UTF-8.
    let _evil = hold(&ns, "a\"b\\c\nd\u{7f}", &[tcp("127.0.0.1", 7777)]);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p\"ol.toml");
    std::fs::write(&policy, "[[allow]]\nport = 22\n").unwrap();
    let o = audit_in(&ns, &policy, "prometheus-detailed");
    assert_eq!(code(&o), 1);
    let parsed = prometheus_parse(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(&o)));
    // The SO_REUSEPORT pair is one series with two sockets.
    let web = sample(&parsed, "whyport_listener_sockets", |l| {
        l.contains("process=wp-web")
    });
    assert_eq!(web.value, 2.0, "{web:?}");
    assert!(
        web.labels.contains("port=8080") && web.labels.contains("service=http-alt"),
        "{web:?}"
    );
    let evil = sample(&parsed, "whyport_listener_sockets", |l| {
        l.contains("port=7777")
    });
    assert!(
        evil.labels.contains(r#"process=a"b\\c\x0ad\x7f"#),
        "{evil:?}"
    );
    let violations = sample(&parsed, "whyport_audit_violations", str::is_empty);
    assert_eq!(violations.value, 6.0, "{violations:?}");
    let compliant = sample(&parsed, "whyport_audit_compliant", |_| true);
    assert_eq!(compliant.value, 0.0, "{compliant:?}");
    let findings = sample(&parsed, "whyport_audit_findings", |l| {
        l.starts_with("id=not-allowed")
    });
    assert_eq!(findings.value, 6.0, "{parsed:#?}");

    let base = dir.path().join("base.json");
    assert_eq!(
        code(&whyport_in(
            &ns,
            &["snapshot", "-o", base.to_str().unwrap()]
        )),
        0
    );
    let d = whyport_in(
        &ns,
        &["diff", base.to_str().unwrap(), "--format", "prometheus"],
    );
    assert_eq!(code(&d), 0, "{}", text(&d));
    let parsed = prometheus_parse(&d.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(&d)));
    let opened = sample(&parsed, "whyport_baseline_changes", |l| {
        l == "change=opened"
    });
    assert_eq!(opened.value, 0.0, "{parsed:#?}");
}

#[test]
fn diff_reports_opened_closed_and_changed_owners() {
    let Some(ns) = lab("diff_reports_changes", "wp-au5") else {
        return;
    };
    let _g = sockets_guard();
    let mut alpha = Some(hold(&ns, "wp-alpha", &[tcp("0.0.0.0", 7100)]));
    let mut gone = Some(hold(&ns, "wp-gone", &[tcp("127.0.0.1", 7101)]));
    let _stay = hold(&ns, "wp-stay", &[tcp("127.0.0.1", 7102)]);
    let mut rebind = Some(hold(&ns, "wp-rebind", &[tcp("0.0.0.0", 7103)]));
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let b = base.to_str().unwrap();
    let snap = whyport_in(&ns, &["snapshot", "-o", b]);
    assert_eq!(code(&snap), 0, "{}", String::from_utf8_lossy(&snap.stderr));
    assert!(snap.stdout.is_empty(), "-o writes the file only");

    let same = whyport_in(&ns, &["diff", b]);
    assert_eq!(code(&same), 0, "{}", text(&same));
    assert!(
        text(&same).starts_with("no change since "),
        "{}",
        text(&same)
    );

    // A restart under a new PID is not a change, unless asked.
    alpha.take();
    let _alpha2 = hold(&ns, "wp-alpha", &[tcp("0.0.0.0", 7100)]);
    assert_eq!(code(&whyport_in(&ns, &["diff", b])), 0);
    let strict = whyport_in(&ns, &["diff", b, "--strict"]);
    assert_eq!(code(&strict), 1);
    assert!(text(&strict).contains("pid: "), "{}", text(&strict));

    gone.take();
    rebind.take();
    let _beta = hold(&ns, "wp-beta", &[tcp("0.0.0.0", 7101)]);
    let _rebound = hold(&ns, "wp-rebind", &[tcp("127.0.0.1", 7103)]);
    let _new = hold(&ns, "wp-new", &[Spec("udp", "::", 7104, false, false)]);
    let d = whyport_in(&ns, &["diff", b]);
    assert_eq!(code(&d), 1, "{}", text(&d));
    let t = text(&d);
    let row = |port: &str| {
        t.lines()
            .find(|l| l.contains(port))
            .unwrap_or_else(|| panic!("no {port} in\n{t}"))
    };
    assert!(row(":7101").starts_with("changed"), "{t}");
    assert!(row(":7101").contains("owner: wp-gone -> wp-beta"), "{t}");
    assert!(row(":7101").contains("bind: 127.0.0.1 -> 0.0.0.0"), "{t}");
    assert!(row(":7103").starts_with("changed"), "{t}");
    assert!(row(":7103").contains("bind: 0.0.0.0 -> 127.0.0.1"), "{t}");
    assert!(row(":7104").starts_with("opened"), "{t}");
    assert!(!t.contains(":7100") && !t.contains(":7102"), "{t}");
    assert!(
        t.contains("1 opened, 0 closed, 2 changed, 2 unchanged"),
        "{t}"
    );
    drop(_beta);
    let j = json(&whyport_in(&ns, &["diff", b, "--format", "json"]));
    let kinds: Vec<(&str, u64)> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["port"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("closed", 7101), ("changed", 7103), ("opened", 7104)]
    );
    assert_eq!(j["changes"][0]["processes"][0]["name"], "wp-gone");
}

#[test]
fn malformed_policies_and_baselines_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "[[allow]]\nport = 22\nprot = \"tcp\"\n",
            ":3:1: unknown field `prot`",
        ),
        ("[[allow]]\nport = 70000\n", ":2:8: "),
        ("default = \"maybe\"\n", ":1:11: unknown variant `maybe`"),
        (
            "[[allow]]\nport = 22\nports = [1]\n",
            ":1:1: [[allow]] #1: give only one of",
        ),
        ("[[deny]]\nrange = \"9-1\"\n", ":2:9: "),
        ("[[allow]\n", ":1:"),
        (
            "ignore_warnings = [\"nope\"]\n",
            ":1:19: unknown warning id",
        ),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&path, body).unwrap();
        let o = run(whyport().args(["audit", "--policy", path.to_str().unwrap()]));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 2, "{body:?}: {err}");
        assert!(o.stdout.is_empty(), "nothing on stdout: {body:?}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        let expected = format!("whyport: {}{want}", path.display());
        assert!(
            err.starts_with(&expected),
            "{body:?}: want {expected:?}, got {err}"
        );
        assert!(err.contains("man 5 whyport-policy"), "{err}");
    }
    let o = run(whyport().args(["audit", "--policy", "/nonexistent/whyport.toml"]));
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(
            "whyport: cannot read policy /nonexistent/whyport.toml: no such file or directory: "
        ),
        "{err}"
    );
    assert!(err.contains("whyport policy init"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 1,\n\"listeners\": 3}").unwrap();
    let o = run(whyport().args(["diff", bad.to_str().unwrap()]));
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!("whyport: {}:2:", bad.display())),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn csv_and_ndjson_listings_match_the_json_listing() {
    let Some(ns) = lab("csv_and_ndjson_listings", "wp-au6") else {
        return;
    };
    let _g = sockets_guard();
    let _children = populate(&ns);
    let _evil = hold(&ns, "x,\"y\"\n;z\\", &[tcp("127.0.0.1", 7777)]);
    let j = json(&whyport_in(&ns, &["--json"]));
    let listeners = j["listeners"].as_array().unwrap();
    let csv_out = whyport_in(&ns, &["--format", "csv"]);
    assert_eq!(code(&csv_out), 0);
    let mut reader = csv::Reader::from_reader(csv_out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..4], ["protocol", "family", "address", "port"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), listeners.len());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (row, l) in rows.iter().zip(listeners) {
        assert_eq!(row[col("port")], l["port"].to_string());
        assert_eq!(&row[col("address")], l["address"].as_str().unwrap());
        let pids: Vec<String> = l["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].to_string())
            .collect();
        assert_eq!(row[col("pids")], pids.join(";"));
    }
    let evil = rows.iter().find(|r| &r[col("port")] == "7777").unwrap();
    assert_eq!(&evil[col("processes")], r#"x,"y"\x0a\x3bz\\"#);
    assert!(
        !csv_out.stdout.windows(2).any(|w| w == b"\n;"),
        "no raw newline inside a field"
    );
    assert_eq!(
        text(&csv_out).lines().count(),
        listeners.len() + 1,
        "one line per socket"
    );

    let nd = whyport_in(&ns, &["--format", "ndjson"]);
    let lines: Vec<serde_json::Value> = text(&nd)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(&lines, listeners);
    let headless = whyport_in(&ns, &["--format", "csv", "--no-header"]);
    assert_eq!(text(&headless).lines().count(), listeners.len());
}

/// JUnit case names survive a restart (new PIDs) and an edit elsewhere in
/// the policy (new line numbers); a `[[require]]` that nothing meets is a
/// finding, one that something meets is not; every format carries the
/// evidence (version, policy digest, IANA snapshot, visibility).
#[test]
fn results_are_stable_and_requirements_are_checked() {
    let Some(ns) = lab("results_are_stable_and_requirements_are_checked", "wp-au9") else {
        return;
    };
    let _g = sockets_guard();
    let mut children = populate(&ns);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    let rules = "[[allow]]\nport = 22\nprocess = \"wp-sshd\"\n\
                 [[require]]\nid = \"NET-001\"\nport = 22\nprocess = \"wp-sshd\"\n\
                 [[require]]\nport = 443\nreason = \"the site\"\n";
    std::fs::write(&policy, rules).unwrap();
    let names = |xml: &str| -> Vec<String> {
        let mut v: Vec<String> = xml
            .split("<testcase name=\"")
            .skip(1)
            .filter_map(|c| c.split('"').next().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let first = audit_in(&ns, &policy, "junit");
    assert_eq!(code(&first), 1);
    let xml = text(&first);
    assert!(xml.contains("name=\"require NET-001\""), "{xml}");
    assert!(xml.contains("type=\"missing\""), "{xml}");
    assert_eq!(xml.matches("type=\"missing\"").count(), 1, "{xml}");
    assert!(xml.contains("name=\"policy_sha256\""), "{xml}");
    // Restart every process (new PIDs), and move the rules down the file.
    let pids: Vec<u32> = children.iter().map(|c| c.pid).collect();
    children.clear();
    let _again = populate(&ns);
    std::fs::write(&policy, format!("# a comment\n\n{rules}")).unwrap();
    let second = audit_in(&ns, &policy, "junit");
    assert_eq!(names(&xml), names(&text(&second)));
    // PIDs are in the bodies, never in a name.
    for pid in &pids {
        let held = format!("({pid})");
        assert!(
            names(&xml).iter().all(|n| !n.contains(&held)),
            "{held} in a case name: {xml}"
        );
        assert!(xml.contains(&held), "the bodies name the holders: {xml}");
    }
    let t = text(&audit_in(&ns, &policy, "table"));
    assert!(
        t.contains("missing") && t.contains("nothing on the host is port 443 (the site)"),
        "{t}"
    );
    assert!(
        t.contains("evidence: whyport ") && t.contains("policy sha256 "),
        "{t}"
    );
    let j = json(&audit_in(&ns, &policy, "json"));
    assert_eq!(j["evidence"]["iana_snapshot"], "2026-04-09", "{j}");
    assert_eq!(
        j["evidence"]["policy_sha256"].as_str().map(str::len),
        Some(64),
        "{j}"
    );
    let missing: Vec<&serde_json::Value> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "missing")
        .collect();
    assert_eq!(missing.len(), 1, "{j}");
    assert!(missing[0]["listener"].is_null());
}

/// A waived finding passes until the day after its date; then the audit
/// fails with the finding and the lapse. `--fail-on` lets lesser findings
/// pass. The clock is set with WHYPORT_TODAY.
#[test]
fn waivers_lapse_on_their_date_and_fail_on_sets_the_bar() {
    let Some(ns) = lab("waivers_lapse_on_their_date", "wp-au10") else {
        return;
    };
    let _g = sockets_guard();
    let _c = hold(&ns, "wp-telnetd", &[tcp("127.0.0.1", 2323)]);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "default = \"allow\"\n[[deny]]\nport = 2323\nseverity = \"medium\"\n\
         waiver = { reason = \"until the migration\", ticket = \"OPS-7\", until = 2027-01-31 }\n",
    )
    .unwrap();
    let on = |today: &str, extra: &[&str]| {
        let mut args = vec!["audit", "--policy", policy.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(ns.exec(bin_path()).args(&args).env("WHYPORT_TODAY", today))
    };
    let held = on("2027-01-31", &[]);
    assert_eq!(code(&held), 0, "{}", text(&held));
    assert!(text(&held).contains("waived:denied"), "{}", text(&held));
    let lapsed = on("2027-02-01", &[]);
    assert_eq!(code(&lapsed), 1, "{}", text(&lapsed));
    assert!(
        text(&lapsed).contains("waiver-expired"),
        "{}",
        text(&lapsed)
    );
    // The denial is medium, the lapse high: failing on critical passes.
    assert_eq!(code(&on("2027-02-01", &["--fail-on", "critical"])), 0);
    assert_eq!(code(&on("2027-02-01", &["--fail-on", "high"])), 1);
    let bad = on("31/01/2027", &[]);
    assert_eq!(code(&bad), 2, "{}", String::from_utf8_lossy(&bad.stderr));
}
