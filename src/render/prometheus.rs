//! The Prometheus text exposition format (version 0.0.4), for
//! node_exporter's textfile collector: metric families with HELP and TYPE,
//! each label set once (samples with equal labels are added up, so a
//! SO_REUSEPORT group is one series with its socket count). Labels carry
//! stable identity (protocol, address, port, a rule's digest), never a PID
//! or a policy line, so that a restart or an edit makes no new series (but
//! for the audit's one info series, which names the policy's digest).

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::audit::eval::Opening;
use crate::model::Protocol;
use crate::report::{OwnerStatus, Report};
use crate::sanitize::escape_reversible;

/// One metric family being built.
#[derive(Debug)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    /// Label sets (in label order) and their values.
    samples: BTreeMap<Vec<(&'static str, String)>, f64>,
}

impl Family {
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: BTreeMap::new(),
        }
    }

    /// Add `value` to the series with these labels.
    pub fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        *self.samples.entry(labels).or_insert(0.0) += value;
    }

    pub fn set(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.insert(labels, value);
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# HELP {} {}", self.name, self.help)?;
        writeln!(out, "# TYPE {} gauge", self.name)?;
        for (labels, value) in &self.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                .collect();
            if labels.is_empty() {
                writeln!(out, "{} {value}", self.name)?;
            } else {
                writeln!(out, "{}{{{}}} {value}", self.name, labels.join(","))?;
            }
        }
        Ok(())
    }
}

/// A label value: backslash, double quote and newline escaped as the
/// format requires (the text is already free of other controls).
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Process text for a label: reversible escaping (docs/json.md#csv).
pub fn text(bytes: &[u8]) -> String {
    escape_reversible(bytes)
}

/// Where an opening is, as labels that stay the same while it stays open:
/// protocol, address and port, never a PID or a policy line. A UDP client
/// in the ephemeral range (a resolver, NTP, QUIC: a new port every run) is
/// the range itself, with no address, so that all of them are one series
/// (a kernel socket there, WireGuard or VXLAN, is a service and keeps its
/// port).
#[derive(Debug)]
pub struct Where {
    pub protocol: String,
    address: String,
    port: String,
}

impl Where {
    pub fn of(opening: &Opening<'_>, ephemeral: Option<(u16, u16)>) -> Where {
        match opening {
            Opening::Socket(e) => {
                let l = e.listener;
                // As the udp-ephemeral-client warning, but also on a port
                // IANA registered: a client lands on one now and then
                // (~1% of them), and each would be a new series.
                let client = l.protocol == Protocol::Udp && l.owner_status != OwnerStatus::Kernel;
                match ephemeral {
                    Some((lo, hi)) if client && (lo..=hi).contains(&l.port) => Where {
                        protocol: l.protocol.as_str().into(),
                        address: String::new(),
                        port: format!("{lo}-{hi}"),
                    },
                    _ => Where {
                        protocol: l.protocol.as_str().into(),
                        address: text(l.address_text().as_bytes()),
                        port: l.port.to_string(),
                    },
                }
            }
            Opening::Forward { forward: fw, .. } => Where {
                protocol: fw.rule.protocol.map_or("tcp+udp", |p| p.as_str()).into(),
                address: fw.rule.daddr.map_or_else(String::new, |a| a.to_string()),
                port: crate::explain::forward::caught_text(fw),
            },
        }
    }

    pub fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("protocol", self.protocol.clone()),
            ("address", self.address.clone()),
            ("port", self.port.clone()),
        ]
    }
}

/// `whyport_listener_sockets`: one series per listener (by protocol,
/// address, port, service, process, user, unit, container), valued with
/// its socket count. `origins` gives each listener's (unit, container), by
/// socket inode.
pub fn listener_family(
    report: &Report,
    origins: &std::collections::HashMap<u64, (String, String)>,
) -> Family {
    let mut f = Family::gauge(
        "whyport_listener_sockets",
        "Listening sockets, by protocol, address, port, IANA service, owning process, user, systemd unit and container.",
    );
    for l in &report.listeners {
        let mut names: Vec<String> = l.owners.iter().map(|o| text(&o.process.name)).collect();
        names.sort();
        names.dedup();
        let mut users: Vec<String> = l
            .owners
            .iter()
            .map(|o| match (&o.process.user, o.process.uid) {
                (Some(u), _) => text(u.as_bytes()),
                (None, Some(uid)) => uid.to_string(),
                _ => String::new(),
            })
            .collect();
        users.sort();
        users.dedup();
        let process = match l.owner_status {
            OwnerStatus::Hidden(_) => "(hidden)".to_string(),
            OwnerStatus::Kernel => "(kernel)".to_string(),
            _ => names.join(","),
        };
        let (unit, container) = origins.get(&l.inode).cloned().unwrap_or_default();
        f.add(
            vec![
                ("protocol", l.protocol.as_str().into()),
                (
                    "family",
                    if l.address.is_ipv4() { "ipv4" } else { "ipv6" }.into(),
                ),
                ("address", text(l.address_text().as_bytes())),
                ("dual_stack", l.dual_stack.to_string()),
                ("port", l.port.to_string()),
                (
                    "service",
                    l.service.map(|s| s.name().to_string()).unwrap_or_default(),
                ),
                ("process", process),
                ("user", users.join(",")),
                ("unit", text(unit.as_bytes())),
                ("container", text(container.as_bytes())),
            ],
            1.0,
        );
    }
    f
}

/// `whyport_forwarded_port`: one series per port range a NAT rule
/// forwards, with where it goes and who gets it.
pub fn forwarded_family(report: &Report) -> Family {
    use crate::explain::forward::{Destination, caught_text, rule_name, to_text};
    let mut f = Family::gauge(
        "whyport_forwarded_port",
        "Ports open by a DNAT or redirect rule, with no socket: where they go and which process gets the traffic.",
    );
    for fw in &report.forwards {
        let mut names: Vec<String> = fw
            .receivers
            .iter()
            .filter_map(|i| report.listener(*i))
            .flat_map(|l| l.owners.iter().map(|o| text(&o.process.name)))
            .collect();
        names.sort();
        names.dedup();
        f.add(
            vec![
                (
                    "protocol",
                    fw.rule.protocol.map_or("", |p| p.as_str()).to_string(),
                ),
                ("ports", caught_text(fw)),
                ("to", text(to_text(fw).as_bytes())),
                (
                    "destination",
                    match fw.destination {
                        Destination::ThisHost => "this_host",
                        Destination::Namespace(_) => "namespace",
                        Destination::OtherHost => "other_host",
                        Destination::Unknown => "unknown",
                    }
                    .to_string(),
                ),
                ("process", names.join(",")),
                ("rule", text(rule_name(&fw.rule).as_bytes())),
            ],
            1.0,
        );
    }
    f
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
