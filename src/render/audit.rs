//! `whyport audit` output: a table of findings and a verdict, JSON
//! (docs/policy.md), JUnit XML, or Prometheus metrics.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{ForwardJson, ListenerJson, forward_json, listener_json, texts};
use super::junit::{self, Case, Suite};
use super::prometheus::{Family, listener_family};
use super::table::Rows;
use crate::audit::eval::{Audit, Judged, Opening};
use crate::audit::policy::{Decision, Rule};
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
                super::address_shown(l, true),
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
    rows.header(["FINDING", "LISTENER", "PROCESS", "RULE", "WHY"]);
    let mut any = false;
    for (j, f) in audit.findings() {
        any = true;
        let rule = match f.id.as_str() {
            "denied" | "not-allowed" => rule_label(audit, j.rule),
            _ => "warning".into(),
        };
        rows.push([f.id.clone(), socket(j), holders(j), rule, f.message.clone()]);
    }
    if any {
        let paint = |col: usize, _: &str| match col {
            0 => Some(super::look::RED),
            2 => Some(super::look::BOLD),
            _ => None,
        };
        rows.write_styled(out, &cx.look, &[2, 3, 4], &paint)?;
        writeln!(out)?;
    }
    for (i, n) in audit.decided().into_iter().enumerate() {
        if n == 0 {
            writeln!(
                out,
                "note: {} matched no listener; remove it if it is stale",
                audit.policy.rules[i].label()
            )?;
        }
    }
    let (with, count) = counts(audit);
    let total = audit.results.len();
    let verdict = if audit.compliant() {
        super::look::paint(&cx.look, super::look::GREEN, "PASS")
    } else {
        super::look::paint(&cx.look, super::look::RED, "FAIL")
    };
    writeln!(
        out,
        "{verdict}: {} on {}: {total} listener{} checked, {} allowed, {with} with findings ({count} finding{})",
        escape_str(&cx.source),
        escape_str(&cx.hostname),
        super::plural(total),
        audit.results.iter().filter(|j| j.allowed).count(),
        super::plural(count)
    )
}

/// (listeners with findings, findings).
fn counts(audit: &Audit<'_>) -> (usize, usize) {
    (
        audit
            .results
            .iter()
            .filter(|j| !j.findings.is_empty())
            .count(),
        audit.findings().count(),
    )
}

#[derive(Serialize)]
struct AuditJson<'a> {
    version: u32,
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
    message: &'a str,
    /// Index into `listeners`.
    listener: usize,
    rule: Option<RuleRef<'a>>,
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
                message: &f.message,
                listener: i,
                rule: f.rule.map(|r| rule_ref(&rules[r])),
            });
        }
        let (listener, forward) = match j.opening {
            Opening::Socket(e) => (Some(listener_json(e.listener, &texts)), None),
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
    let (with, _) = counts(audit);
    let doc = AuditJson {
        version: 1,
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
fn junit_xml(audit: &Audit<'_>, cx: &Context, out: &mut dyn Write) -> io::Result<()> {
    let mut rules = Vec::new();
    for (i, r) in audit.policy.rules.iter().enumerate() {
        let matched: Vec<String> = audit
            .results
            .iter()
            .filter(|j| j.rule == Some(i))
            .map(|j| format!("{} held by {}", socket(j), holders(j)))
            .collect();
        let name = format!(
            "{}{}",
            r.label(),
            r.reason
                .as_deref()
                .map(|x| format!(": {x}"))
                .unwrap_or_default()
        );
        let failure = (r.decision == Decision::Deny && !matched.is_empty()).then(|| {
            (
                "denied".to_string(),
                format!("{} matched {} listener(s)", r.label(), matched.len()),
                matched.join("\n"),
            )
        });
        let output = (failure.is_none()).then(|| {
            if matched.is_empty() {
                "matched no listener".to_string()
            } else {
                format!("allowed:\n{}", matched.join("\n"))
            }
        });
        rules.push(Case {
            name,
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
        name: format!("default = \"{}\"", audit.policy.default.as_str()),
        failure: (!caught.is_empty()).then(|| {
            (
                "not-allowed".to_string(),
                format!("{} listener(s) no allow rule matches", caught.len()),
                caught.join("\n"),
            )
        }),
        output: None,
    });
    let mut listeners = Vec::new();
    for j in &audit.results {
        if j.findings.is_empty() {
            listeners.push(Case {
                name: format!("{} held by {}", socket(j), holders(j)),
                failure: None,
                output: Some(format!("allowed by {}", rule_label(audit, j.rule))),
            });
        }
        for f in &j.findings {
            listeners.push(Case {
                name: format!("{} held by {} [{}]", socket(j), holders(j), f.id),
                failure: Some((f.id.clone(), f.message.clone(), f.message.clone())),
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
        &[("policy", cx.source.clone())],
        out,
    )
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
    for id in ["denied", "not-allowed"].iter().chain(warnings::IDS) {
        by_id.set(vec![("id", (*id).to_string())], 0.0);
    }
    let mut per = Family::gauge(
        "whyport_audit_finding",
        "Findings by id and listener (protocol, address, port) and the rule that decided (its content's digest, \"default deny\" or \"warning\"); UDP clients in the ephemeral range as one series for the range, valued with their count.",
    );
    for (j, f) in audit.findings() {
        by_id.add(vec![("id", f.id.clone())], 1.0);
        // As the table says it: a warning is a warning, whichever rule
        // allowed the listener.
        let rule = match (f.id.as_str(), j.rule) {
            ("denied" | "not-allowed", Some(i)) => {
                super::prometheus::rule_digest(&audit.policy.rules[i])
            }
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
    listeners.write(out)?;
    exposed.write(out)?;
    by_id.write(out)?;
    per.write(out)?;
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

/// Each socket's (systemd unit, container), in `report.listeners` order.
fn origins(audit: &Audit<'_>) -> Vec<(String, String)> {
    audit
        .results
        .iter()
        .filter_map(|j| match j.opening {
            Opening::Socket(e) => Some(&e.origin),
            Opening::Forward { .. } => None,
        })
        .map(|o| {
            (
                o.unit.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                o.container_name
                    .clone()
                    .or_else(|| {
                        o.container
                            .as_ref()
                            .map(|c| crate::explain::why::origin_of::short(&c.id).to_string())
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}
