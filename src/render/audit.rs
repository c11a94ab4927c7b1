//! `whyport audit` output: a table of findings and a verdict, JSON
//! (docs/policy.md), JUnit XML, or Prometheus metrics.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{ForwardJson, ListenerJson, forward_json, listener_json, texts};
use super::junit::{self, Case, Suite};
use super::prometheus::{Family, listener_family};
use super::table::Rows;
use crate::audit::eval::{Audit, Finding, Judged, Opening};
use crate::audit::policy::{Decision, Rule};
use crate::audit::severity::Severity;
use crate::config::ReportFormat;
use crate::explain::warnings;
use crate::report::Report;
use crate::sanitize::escape_str;

/// Where and when the audit ran, for the report's header.
#[derive(Debug, Clone)]
pub struct Context {
    /// The policy file as the user named it.
    pub source: String,
    pub hostname: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    pub unix_time: u64,
    /// Color and width for the table.
    pub look: super::look::Look,
    /// SHA-256 of the policy's (or baseline's) bytes, hex.
    pub policy_sha256: String,
    /// Every owner could be seen (no hidden or partial owners).
    pub full_visibility: bool,
}

pub fn render(
    audit: &Audit<'_>,
    report: &Report,
    format: ReportFormat,
    cx: &Context,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        ReportFormat::Table => table(audit, cx, out),
        ReportFormat::Json => json(audit, report, cx, out),
        ReportFormat::Junit => junit_xml(audit, cx, out),
        ReportFormat::Prometheus { detail } => prometheus(audit, report, cx, detail, out),
    }
}

/// The opening as the table shows it: `tcp *:8080`, or `tcp ports
/// 8000-8100 forwarded to 10.0.0.2:80`.
fn socket(j: &Judged<'_>) -> String {
    match j.opening {
        Opening::Socket(e) => {
            let l = e.listener;
            format!(
                "{} {}:{}",
                l.protocol.as_str(),
                l.address_shown(true),
                l.port
            )
        }
        Opening::Forward { forward: f, .. } => format!(
            "{} ports {} forwarded to {}",
            f.rule.protocol.map_or("tcp+udp", |p| p.as_str()),
            crate::explain::forward::caught_text(f),
            crate::explain::forward::to_text(f)
        ),
    }
}

/// `python3 (pid 4242)`, every group leader, escaped.
fn holders(j: &Judged<'_>) -> String {
    let groups = j.opening.groups();
    if groups.is_empty() {
        return "no visible process".into();
    }
    groups
        .iter()
        .map(|g| {
            format!(
                "{} ({})",
                crate::sanitize::escape(&g.leader.name),
                g.leader.pid
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn rule_label(audit: &Audit<'_>, rule: Option<usize>) -> String {
    match rule {
        Some(i) => audit.policy.rules[i].label(),
        None => format!("default {}", audit.policy.default.as_str()),
    }
}

fn table(audit: &Audit<'_>, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let mut rows = Rows::default();
    rows.header(["FINDING", "SEVERITY", "LISTENER", "PROCESS", "RULE", "WHY"]);
    let mut any = false;
    for (j, f) in audit.findings() {
        any = true;
        let rule = match f.id.as_str() {
            "denied" | "not-allowed" => rule_label(audit, j.rule),
            "waiver-expired" => f
                .rule
                .map_or_else(|| "warning".into(), |i| rule_label(audit, Some(i))),
            _ => "warning".into(),
        };
        rows.push([
            finding_id(audit, f),
            f.severity.as_str().into(),
            socket(j),
            holders(j),
            rule,
            f.message.clone(),
        ]);
    }
    for &i in &audit.missing {
        any = true;
        let r = &audit.policy.rules[i];
        let id = if audit.missing_counts(i) || r.waiver.is_none() {
            "missing".to_string()
        } else {
            "waived:missing".to_string()
        };
        rows.push([
            id,
            r.severity
                .unwrap_or(Severity::default_for("missing"))
                .as_str()
                .into(),
            "-".into(),
            "-".into(),
            r.label(),
            missing_text(r),
        ]);
    }
    if any {
        let paint = |col: usize, cell: &str| match col {
            0 if cell.starts_with("waived:") => None,
            0 => Some(super::look::RED),
            3 => Some(super::look::BOLD),
            _ => None,
        };
        rows.write_wrapping(out, &cx.look, &[3, 4, 5], Some(5), &paint)?;
        writeln!(out)?;
    }
    for i in audit.stale() {
        let note = format!(
            "note: {} matched no listener; remove it if it is stale",
            audit.policy.rules[i].label()
        );
        prose(out, &cx.look, &note, None)?;
    }
    let (with, count) = counts(audit);
    let total = audit.results.len();
    // The evidence, then the verdict: the last line stays the verdict.
    let evidence = format!(
        "evidence: whyport {}, policy sha256 {}, IANA registry of {}, at {}, {}",
        env!("CARGO_PKG_VERSION"),
        cx.policy_sha256,
        crate::services::IANA_SNAPSHOT,
        escape_str(&cx.timestamp),
        if cx.full_visibility {
            "every owner seen"
        } else {
            "NOT every owner seen (see the notice on stderr)"
        }
    );
    prose(out, &cx.look, &evidence, None)?;
    let (word, color) = if audit.compliant() {
        ("PASS", super::look::GREEN)
    } else {
        ("FAIL", super::look::RED)
    };
    let verdict = format!(
        "{word}: {} on {}: {total} listener{} checked, {} allowed, {with} with findings ({count} finding{})",
        escape_str(&cx.source),
        escape_str(&cx.hostname),
        super::plural(total),
        audit.results.iter().filter(|j| j.allowed).count(),
        super::plural(count)
    );
    prose(out, &cx.look, &verdict, Some((word, color)))
}

/// A line of prose, wrapped to the terminal's width (whole in a pipe);
/// `lead`, its first word, painted.
fn prose(
    out: &mut dyn Write,
    look: &super::look::Look,
    text: &str,
    lead: Option<(&str, &'static str)>,
) -> io::Result<()> {
    let lines = match look.width {
        Some(w) => super::table::wrap(text, w),
        None => vec![text.to_string()],
    };
    for (i, line) in lines.iter().enumerate() {
        match lead {
            Some((word, color)) if i == 0 => {
                let rest = line.strip_prefix(word).unwrap_or(line);
                writeln!(out, "{}{rest}", super::look::paint(look, color, word))?;
            }
            _ => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// (listeners with findings, findings) that fail the audit: not under a
/// waiver that holds, at least as severe as `--fail-on`; a missing
/// requirement counts as one.
fn counts(audit: &Audit<'_>) -> (usize, usize) {
    (
        audit
            .results
            .iter()
            .filter(|j| j.findings.iter().any(|f| audit.counts(f)))
            .count(),
        audit.findings().filter(|(_, f)| audit.counts(f)).count()
            + audit
                .missing
                .iter()
                .filter(|i| audit.missing_counts(**i))
                .count(),
    )
}

/// A finding's id as the table shows it: `waived:denied` while a waiver
/// holds it, `below:denied` when it is under `--fail-on`.
fn finding_id(audit: &Audit<'_>, f: &Finding) -> String {
    let waived = f
        .waiver
        .as_ref()
        .is_some_and(|w| !w.expired(audit.terms.today));
    if waived {
        format!("waived:{}", f.id)
    } else if f.severity < audit.terms.fail_on {
        format!("below:{}", f.id)
    } else {
        f.id.clone()
    }
}

/// Why a `[[require]]` rule is a finding, escaped.
fn missing_text(r: &Rule) -> String {
    let why = r
        .reason
        .as_deref()
        .map(|x| format!(" ({})", escape_str(x)))
        .unwrap_or_default();
    format!(
        "nothing on the host is {}{why}",
        crate::audit::eval::wanted(r)
    )
}

#[derive(Serialize)]
struct AuditJson<'a> {
    version: u32,
    /// What the result rests on (docs/policy.md).
    evidence: std::collections::BTreeMap<&'static str, String>,
    policy: &'a str,
    hostname: &'a str,
    timestamp: &'a str,
    compliant: bool,
    default: &'static str,
    listeners_checked: usize,
    listeners_with_findings: usize,
    findings: Vec<FindingJson<'a>>,
    rules: Vec<RuleJson<'a>>,
    listeners: Vec<JudgedJson<'a>>,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    id: &'a str,
    message: String,
    severity: &'static str,
    /// Whether it fails the audit (not waived, at least `--fail-on`).
    fails: bool,
    waiver: Option<WaiverJson>,
    /// Index into `listeners`; null for a missing requirement.
    listener: Option<usize>,
    rule: Option<RuleRef<'a>>,
}

#[derive(Serialize)]
struct WaiverJson {
    reason: String,
    ticket: Option<String>,
    until: String,
    expired: bool,
}

fn waiver_json(
    w: Option<&crate::audit::severity::Waiver>,
    audit: &Audit<'_>,
) -> Option<WaiverJson> {
    w.map(|w| WaiverJson {
        reason: w.reason.clone(),
        ticket: w.ticket.clone(),
        until: w.until.to_string(),
        expired: w.expired(audit.terms.today),
    })
}

#[derive(Serialize)]
struct RuleRef<'a> {
    decision: &'static str,
    index: usize,
    line: usize,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct RuleJson<'a> {
    #[serde(flatten)]
    rule: RuleRef<'a>,
    listeners_decided: usize,
}

/// A socket (its Listener fields), or a forward (`forward`: a Forward).
#[derive(Serialize)]
struct JudgedJson<'a> {
    #[serde(flatten)]
    listener: Option<ListenerJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forward: Option<ForwardJson>,
    allowed: bool,
    decided_by: Option<RuleRef<'a>>,
    findings: Vec<&'a str>,
}

fn rule_ref(r: &Rule) -> RuleRef<'_> {
    RuleRef {
        decision: r.decision.as_str(),
        index: r.index,
        line: r.line,
        reason: r.reason.as_deref(),
    }
}

fn json(audit: &Audit<'_>, report: &Report, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let texts = texts(report);
    let rules = &audit.policy.rules;
    let mut findings = Vec::new();
    let mut listeners = Vec::new();
    for (i, j) in audit.results.iter().enumerate() {
        for f in &j.findings {
            findings.push(FindingJson {
                id: &f.id,
                message: f.message.clone(),
                severity: f.severity.as_str(),
                fails: audit.counts(f),
                waiver: waiver_json(f.waiver.as_ref(), audit),
                listener: Some(i),
                rule: f.rule.map(|r| rule_ref(&rules[r])),
            });
        }
        let (listener, forward) = match j.opening {
            Opening::Socket(e) => {
                let mut l = listener_json(e.listener, &texts);
                // What the firewall lets in is part of what was judged.
                l.firewall = e.firewall.map(super::json_firewall::firewall);
                (Some(l), None)
            }
            Opening::Forward { forward, .. } => (None, Some(forward_json(report, forward, &texts))),
        };
        listeners.push(JudgedJson {
            listener,
            forward,
            allowed: j.allowed,
            decided_by: j.rule.map(|r| rule_ref(&rules[r])),
            findings: j.findings.iter().map(|f| f.id.as_str()).collect(),
        });
    }
    for &i in &audit.missing {
        findings.push(FindingJson {
            id: "missing",
            message: missing_text(&rules[i]),
            severity: rules[i]
                .severity
                .unwrap_or(Severity::default_for("missing"))
                .as_str(),
            fails: audit.missing_counts(i),
            waiver: waiver_json(rules[i].waiver.as_ref(), audit),
            listener: None,
            rule: Some(rule_ref(&rules[i])),
        });
    }
    let (with, _) = counts(audit);
    let doc = AuditJson {
        version: 2,
        evidence: evidence(cx).into_iter().collect(),
        policy: &cx.source,
        hostname: &cx.hostname,
        timestamp: &cx.timestamp,
        compliant: audit.compliant(),
        default: audit.policy.default.as_str(),
        listeners_checked: audit.results.len(),
        listeners_with_findings: with,
        findings,
        rules: rules
            .iter()
            .zip(audit.decided())
            .map(|(r, n)| RuleJson {
                rule: rule_ref(r),
                listeners_decided: n,
            })
            .collect(),
        listeners,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// Suite `whyport.audit.rules`: a case per rule (a deny rule fails when it
/// matched) and one for the default; suite `whyport.audit.listeners`: a
/// passing case per listener without findings and a failing case per
/// finding.
/// JUnit XML. Case names are stable from run to run (CI keeps their
/// history): rules by `stable_name` (their `id`, or a digest of their
/// content), listeners by protocol, address and port, UDP clients of the
/// ephemeral range as one case; PIDs and line numbers go in the bodies.
fn junit_xml(audit: &Audit<'_>, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let mut rules = Vec::new();
    for (i, r) in audit.policy.rules.iter().enumerate() {
        let matched: Vec<String> = audit
            .results
            .iter()
            .filter(|j| j.rule == Some(i))
            .map(|j| format!("{} held by {}", socket(j), holders(j)))
            .collect();
        let about = format!(
            "{}{}",
            r.label(),
            r.reason
                .as_deref()
                .map(|x| format!(": {x}"))
                .unwrap_or_default()
        );
        let denied_counts = audit.results.iter().any(|j| {
            j.rule == Some(i)
                && j.findings
                    .iter()
                    .any(|f| f.id == "denied" && audit.counts(f))
        });
        let failure = match r.decision {
            Decision::Deny if denied_counts => Some((
                "denied".to_string(),
                format!("{} matched {} listener(s)", r.label(), matched.len()),
                format!("{about}\n{}", matched.join("\n")),
            )),
            Decision::Require if audit.missing.contains(&i) => {
                Some(("missing".to_string(), missing_text(r), about.clone()))
            }
            _ => None,
        };
        let output = failure
            .is_none()
            .then(|| match (r.decision, matched.is_empty()) {
                (Decision::Require, _) => format!("{about}\nmet"),
                (_, true) => format!("{about}\nmatched no listener"),
                (_, false) => format!("{about}\nallowed:\n{}", matched.join("\n")),
            });
        rules.push(Case {
            name: r.stable_name(),
            failure,
            output,
        });
    }
    let caught: Vec<String> = audit
        .results
        .iter()
        .filter(|j| j.rule.is_none() && !j.allowed)
        .map(|j| format!("{} held by {}", socket(j), holders(j)))
        .collect();
    rules.push(Case {
        name: format!("default {}", audit.policy.default.as_str()),
        failure: (!caught.is_empty()).then(|| {
            (
                "not-allowed".to_string(),
                format!("{} listener(s) no allow rule matches", caught.len()),
                caught.join("\n"),
            )
        }),
        output: None,
    });
    // One case per stable name (a SO_REUSEPORT group is one socket address;
    // UDP clients of the ephemeral range are one case), failing with every
    // finding of its members.
    let mut groups: Vec<(String, Vec<&Judged<'_>>)> = Vec::new();
    for j in &audit.results {
        let name = case_name(j);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, members)) => members.push(j),
            None => groups.push((name, vec![j])),
        }
    }
    let mut listeners = Vec::new();
    for (name, members) in &groups {
        let held: Vec<String> = members
            .iter()
            .map(|j| {
                format!(
                    "{} held by {}, {}",
                    socket(j),
                    holders(j),
                    rule_label(audit, j.rule)
                )
            })
            .collect();
        let mut ids: Vec<&str> = Vec::new();
        let mut passed: Vec<String> = Vec::new();
        for j in members {
            for f in &j.findings {
                if !audit.counts(f) {
                    passed.push(format!("{}: {}", finding_id(audit, f), f.message));
                } else if !ids.contains(&f.id.as_str()) {
                    ids.push(&f.id);
                }
            }
        }
        if ids.is_empty() {
            passed.insert(0, format!("allowed:\n{}", held.join("\n")));
            listeners.push(Case {
                name: name.clone(),
                failure: None,
                output: Some(passed.join("\n")),
            });
        }
        for id in ids {
            let messages: Vec<&str> = members
                .iter()
                .flat_map(|j| j.findings.iter())
                .filter(|f| f.id == id && audit.counts(f))
                .map(|f| f.message.as_str())
                .collect();
            listeners.push(Case {
                name: format!("{name} [{id}]"),
                failure: Some((
                    id.to_string(),
                    messages.first().copied().unwrap_or_default().to_string(),
                    format!("{}\n{}", messages.join("\n"), held.join("\n")),
                )),
                output: None,
            });
        }
    }
    let suites = [
        Suite {
            name: "whyport.audit.rules",
            cases: rules,
        },
        Suite {
            name: "whyport.audit.listeners",
            cases: listeners,
        },
    ];
    junit::write(
        "whyport audit",
        &suites,
        cx.timestamp.trim_end_matches('Z'),
        &cx.hostname,
        &evidence(cx),
        out,
    )
}

/// A listener's name in reports that must not change from run to run: its
/// protocol, address and port (no PIDs); a UDP client of the ephemeral
/// range, whose port is new each run, as the range.
fn case_name(j: &Judged<'_>) -> String {
    let client = j
        .opening
        .warnings()
        .iter()
        .any(|w| w.id == "udp-ephemeral-client");
    match j.opening {
        Opening::Socket(e) if client => format!(
            "udp {}:ephemeral-range clients",
            e.listener.address_shown(true)
        ),
        _ => socket(j),
    }
}

/// What an audit result rests on, for every format: the whyport version,
/// the policy's SHA-256, the IANA snapshot, the host, the time and whether
/// every owner could be seen.
pub fn evidence(cx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("policy", cx.source.clone()),
        ("policy_sha256", cx.policy_sha256.clone()),
        ("whyport_version", env!("CARGO_PKG_VERSION").to_string()),
        ("iana_snapshot", crate::services::IANA_SNAPSHOT.to_string()),
        ("hostname", cx.hostname.clone()),
        ("timestamp", cx.timestamp.clone()),
        ("full_visibility", cx.full_visibility.to_string()),
    ]
}

/// Prometheus metrics (docs/fleet.md). By default a bounded set of series
/// that a restart does not change: counts, exposed listeners and findings,
/// each by protocol, address and port, with UDP clients in the ephemeral
/// range as one series for the range. `detail` adds a series per socket
/// and per forward, with processes, users, units and containers.
fn prometheus(
    audit: &Audit<'_>,
    report: &Report,
    cx: &Context,
    detail: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    use super::prometheus::{Where, text};
    if detail {
        listener_family(report, &origins(audit)).write(out)?;
        super::prometheus::forwarded_family(report).write(out)?;
    }
    let clients = report.host.ephemeral_ports;
    let mut listeners = Family::gauge(
        "whyport_listeners",
        "Listening sockets and forwarded port ranges the audit judged, by protocol and whether they are reachable from beyond loopback.",
    );
    let mut exposed = Family::gauge(
        "whyport_exposed_listener",
        "Sockets (or forwarded port ranges) reachable from beyond loopback, by protocol, address and port; UDP clients in the ephemeral range as one series for the range.",
    );
    for j in &audit.results {
        let at = Where::of(j.opening, clients);
        let beyond = match j.opening {
            Opening::Socket(e) => e.exposure.beyond_loopback(),
            Opening::Forward { .. } => true,
        };
        listeners.add(
            vec![
                ("protocol", at.protocol.clone()),
                ("exposed", beyond.to_string()),
            ],
            1.0,
        );
        if beyond {
            exposed.add(at.labels(), 1.0);
        }
    }
    let mut by_id = Family::gauge(
        "whyport_audit_findings",
        "Audit findings against the policy, by finding id (denied, not-allowed, or a warning id).",
    );
    let ours = ["denied", "not-allowed", "missing", "waiver-expired"];
    for id in ours.iter().chain(warnings::IDS) {
        by_id.set(vec![("id", (*id).to_string())], 0.0);
    }
    let mut per = Family::gauge(
        "whyport_audit_finding",
        "Findings by id and listener (protocol, address, port) and the rule that decided (its content's digest, \"default deny\" or \"warning\"); UDP clients in the ephemeral range as one series for the range, valued with their count.",
    );
    // Only what fails the audit: a waived finding, or one under
    // --fail-on, raises no alert.
    for (j, f) in audit.findings().filter(|(_, f)| audit.counts(f)) {
        by_id.add(vec![("id", f.id.clone())], 1.0);
        // As the table says it: a warning is a warning, whichever rule
        // allowed the listener.
        let rule = match (f.id.as_str(), j.rule) {
            ("denied" | "not-allowed", Some(i)) => audit.policy.rules[i].stable_name(),
            ("denied" | "not-allowed", None) => {
                format!("default {}", audit.policy.default.as_str())
            }
            _ => "warning".into(),
        };
        let mut labels = vec![("id", f.id.clone())];
        labels.extend(Where::of(j.opening, clients).labels());
        labels.push(("rule", rule));
        per.add(labels, 1.0);
    }
    for &i in audit.missing.iter().filter(|i| audit.missing_counts(**i)) {
        by_id.add(vec![("id", "missing".into())], 1.0);
        per.add(
            vec![
                ("id", "missing".into()),
                ("protocol", String::new()),
                ("address", String::new()),
                ("port", String::new()),
                ("rule", audit.policy.rules[i].stable_name()),
            ],
            1.0,
        );
    }
    listeners.write(out)?;
    exposed.write(out)?;
    by_id.write(out)?;
    per.write(out)?;
    let mut info = Family::gauge(
        "whyport_audit_info",
        "What the audit rests on: whyport's version, the policy's SHA-256, the IANA snapshot, whether every owner was seen.",
    );
    info.set(
        vec![
            ("version", env!("CARGO_PKG_VERSION").into()),
            ("policy_sha256", cx.policy_sha256.clone()),
            ("iana_snapshot", crate::services::IANA_SNAPSHOT.into()),
            ("full_visibility", cx.full_visibility.to_string()),
        ],
        1.0,
    );
    info.write(out)?;
    let (with, _) = counts(audit);
    let mut violations = Family::gauge(
        "whyport_audit_violations",
        "Listeners with at least one audit finding.",
    );
    violations.set(Vec::new(), with as f64);
    violations.write(out)?;
    let mut compliant = Family::gauge(
        "whyport_audit_compliant",
        "1 when the host complies with the policy, else 0.",
    );
    compliant.set(
        vec![("policy", text(cx.source.as_bytes()))],
        if audit.compliant() { 1.0 } else { 0.0 },
    );
    compliant.write(out)?;
    let mut when = Family::gauge(
        "whyport_audit_timestamp_seconds",
        "When the audit ran, in seconds since the Unix epoch.",
    );
    when.set(Vec::new(), cx.unix_time as f64);
    when.write(out)
}

/// Each socket's (systemd unit, container), by inode.
fn origins(audit: &Audit<'_>) -> std::collections::HashMap<u64, (String, String)> {
    audit
        .results
        .iter()
        .filter_map(|j| match j.opening {
            Opening::Socket(e) => Some((e.listener.inode, &e.origin)),
            Opening::Forward { .. } => None,
        })
        .map(|(inode, o)| {
            let origin = (
                o.unit.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                o.container_name
                    .clone()
                    .or_else(|| {
                        o.container
                            .as_ref()
                            .map(|c| crate::explain::why::origin_of::short(&c.id).to_string())
                    })
                    .unwrap_or_default(),
            );
            (inode, origin)
        })
        .collect()
}
