//! Baselines: `whyport snapshot` writes the JSON listing; `whyport diff`
//! reads one back and compares it with the listing of now. Both sides go
//! through the same reader, so they are compared in the same terms. Pure.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::model::PortSet;
use crate::sanitize::escape_str;

/// A listing as `--json` writes it (docs/json.md); fields whyport does not
/// compare are ignored, so baselines from newer versions still load.
#[derive(Debug, Clone, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub listeners: Vec<Entry>,
    /// Ports forwarded by NAT rules (docs/json.md, Forward).
    #[serde(default)]
    pub forwarded: Vec<Forwarded>,
}

/// A forwarded port as the JSON listing has it; compared as an entry of
/// its own (`Entry::forwarded_to` set), one per forward and its whole port
/// set, so that a new, moved or widened forward shows in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Forwarded {
    pub protocol: Option<String>,
    #[serde(default)]
    pub ports: PortsField,
    pub to_address: Option<String>,
    pub to_ports: Option<(u16, u16)>,
    #[serde(default)]
    pub listeners: Vec<Entry>,
    #[serde(default)]
    pub rule: Option<RuleFields>,
}

/// A forward's ports: version 1 wrote the caught ranges (empty: every port,
/// or ports it could not decode, which `rule.undecoded` then says);
/// version 2 writes the kind with them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PortsField {
    V1(Vec<(u16, u16)>),
    V2 {
        kind: String,
        #[serde(default)]
        ranges: Vec<(u16, u16)>,
    },
}

impl Default for PortsField {
    fn default() -> Self {
        PortsField::V1(Vec::new())
    }
}

/// What a diff needs of a forward's rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuleFields {
    #[serde(default)]
    pub undecoded: Vec<String>,
}

impl Forwarded {
    /// The ports it catches, read the same from either version.
    pub fn port_set(&self) -> PortSet {
        match &self.ports {
            PortsField::V1(r) if r.is_empty() => {
                let undecoded = self.rule.as_ref().is_some_and(|r| !r.undecoded.is_empty());
                if undecoded {
                    PortSet::Undecoded
                } else {
                    PortSet::Every
                }
            }
            PortsField::V1(r) => PortSet::only(r.iter().copied()),
            PortsField::V2 { kind, ranges } => match kind.as_str() {
                "only" => PortSet::only(ranges.iter().copied()),
                "except" => PortSet::except(ranges.iter().copied()),
                "every" => PortSet::Every,
                _ => PortSet::Undecoded,
            },
        }
    }
}

impl Baseline {
    /// The listeners, then one entry per forward.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = self.listeners.clone();
        for f in &self.forwarded {
            let to = match (&f.to_address, f.to_ports) {
                (Some(a), Some((lo, hi))) if lo == hi => format!("{a}:{lo}"),
                (Some(a), Some((lo, hi))) => format!("{a}:{lo}-{hi}"),
                (Some(a), None) => a.clone(),
                (None, Some((lo, _))) => format!("port {lo} of this host"),
                (None, None) => "?".into(),
            };
            let set = f.port_set();
            let first = set
                .ranges()
                .and_then(|r| r.first().map(|(lo, _)| *lo))
                .unwrap_or(0);
            out.push(Entry {
                protocol: f.protocol.clone().unwrap_or_else(|| "tcp/udp".into()),
                address: "0.0.0.0".into(),
                port: first,
                dual_stack: false,
                processes: f
                    .listeners
                    .iter()
                    .flat_map(|l| l.processes.clone())
                    .collect(),
                owner_status: "visible".into(),
                forwarded_to: Some(to),
                forwarded_ports: Some(set.to_string()),
            });
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry {
    pub protocol: String,
    pub address: String,
    pub port: u16,
    #[serde(default)]
    pub dual_stack: bool,
    #[serde(default)]
    pub processes: Vec<Owner>,
    #[serde(default)]
    pub owner_status: String,
    /// Not a socket: a port a NAT rule forwards there.
    #[serde(default)]
    pub forwarded_to: Option<String>,
    /// For a forward: the ports it catches, as `PortSet` displays them.
    #[serde(skip)]
    pub forwarded_ports: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Owner {
    pub pid: u32,
    pub name: String,
    pub exe: Option<String>,
    #[serde(default)]
    pub cmdline: Vec<String>,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub started_at: Option<String>,
    /// The raw name in hex when it is not UTF-8 (`name` is then lossy).
    #[serde(default)]
    pub name_hex: Option<String>,
}

impl Owner {
    /// The name's raw bytes: from `name_hex` when the name was not UTF-8.
    pub fn raw_name(&self) -> Vec<u8> {
        self.name_hex
            .as_deref()
            .and_then(unhex)
            .unwrap_or_else(|| self.name.as_bytes().to_vec())
    }

    /// The name escaped for a terminal, invalid bytes as `\xNN`.
    pub fn shown_name(&self) -> String {
        crate::sanitize::escape(&self.raw_name())
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A baseline file that cannot be used: where (when known) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineError {
    pub position: Option<(usize, usize)>,
    pub message: String,
}

/// Read a baseline (the output of `whyport snapshot` or `whyport --json`).
pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
    let baseline: Baseline = serde_json::from_str(text).map_err(|e| BaselineError {
        position: (e.line() > 0).then(|| (e.line(), e.column())),
        message: format!(
            "{}; expected a file written by `whyport snapshot` or `whyport --json`",
            strip_position(&e.to_string())
        ),
    })?;
    // Version 1 differs only in how forwards' ports are written, which
    // `Forwarded::port_set` reads either way.
    if !(1..=crate::report::JSON_VERSION).contains(&baseline.version) {
        return Err(BaselineError {
            position: None,
            message: format!(
                "baseline is JSON version {}, this whyport reads versions 1 to {}; take a new snapshot",
                baseline.version,
                crate::report::JSON_VERSION
            ),
        });
    }
    Ok(baseline)
}

/// serde_json appends " at line L column C", which the caller places first.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// What differs between a baseline and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Opened,
    Closed,
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Opened => "opened",
            ChangeKind::Closed => "closed",
            ChangeKind::Changed => "changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// The listener as it is now, or as it was when it closed.
    pub entry: Entry,
    /// For `Changed`: the listener as the baseline recorded it.
    pub before: Option<Entry>,
    /// For `Changed`: one line per field, `owner: nginx -> python3`
    /// (escaped for a terminal).
    pub details: Vec<String>,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Listeners present on both sides (changed or not).
    pub kept: usize,
    /// Listeners whose owners could not be compared (not visible now or
    /// then): run both sides as root.
    pub uncompared: usize,
}

/// Compare `before` with `now`. `strict` also counts PIDs, start times and
/// command lines, which change on every restart.
pub fn diff(before: &Baseline, now: &Baseline, strict: bool) -> Diff {
    let (before, now) = (before.entries(), now.entries());
    let mut old: Vec<Option<&Entry>> = before.iter().map(Some).collect();
    let mut new: Vec<Option<&Entry>> = now.iter().map(Some).collect();
    let mut result = Diff::default();
    let mut pairs: Vec<(&Entry, &Entry)> = Vec::new();
    // Pass 1: same socket address, same owners; pass 2: same address;
    // pass 3: same port and family, same owners (the bind changed);
    // pass 4: same port.
    let same_place = |a: &Entry, b: &Entry| {
        (
            &a.protocol,
            &a.address,
            a.port,
            a.dual_stack,
            &a.forwarded_to,
            &a.forwarded_ports,
        ) == (
            &b.protocol,
            &b.address,
            b.port,
            b.dual_stack,
            &b.forwarded_to,
            &b.forwarded_ports,
        )
    };
    // A forward pairs only with a forward of the same ports, a socket with
    // a socket.
    let same_port = |a: &Entry, b: &Entry| {
        (
            &a.protocol,
            a.port,
            a.forwarded_to.is_some(),
            &a.forwarded_ports,
        ) == (
            &b.protocol,
            b.port,
            b.forwarded_to.is_some(),
            &b.forwarded_ports,
        )
    };
    let same_family = |a: &Entry, b: &Entry| a.address.contains(':') == b.address.contains(':');
    let passes: [&Pairing<'_>; 4] = [
        &|a, b| same_place(a, b) && fingerprint(a, strict) == fingerprint(b, strict),
        &|a, b| same_place(a, b),
        &|a, b| same_port(a, b) && same_family(a, b) && names(a) == names(b),
        &|a, b| same_port(a, b),
    ];
    for pass in passes {
        for o in old.iter_mut() {
            let Some(a) = *o else { continue };
            if let Some(n) = new.iter_mut().find(|n| n.is_some_and(|b| pass(a, b)))
                && let Some(b) = n.take()
            {
                pairs.push((a, b));
                *o = None;
            }
        }
    }
    result.kept = pairs.len();
    for (a, b) in pairs {
        let comparable = has_owners(a) && has_owners(b);
        if !comparable && (has_owners(a) || has_owners(b)) {
            result.uncompared += 1;
        }
        let details = differences(a, b, strict, comparable);
        if !details.is_empty() {
            result.changes.push(Change {
                kind: ChangeKind::Changed,
                entry: b.clone(),
                before: Some(a.clone()),
                details,
            });
        }
    }
    for a in old.into_iter().flatten() {
        result.changes.push(Change {
            kind: ChangeKind::Closed,
            entry: a.clone(),
            before: None,
            details: Vec::new(),
        });
    }
    for b in new.into_iter().flatten() {
        result.changes.push(Change {
            kind: ChangeKind::Opened,
            entry: b.clone(),
            before: None,
            details: Vec::new(),
        });
    }
    result.changes.sort_by(|x, y| {
        let (a, b) = (&x.entry, &y.entry);
        (a.port, &a.protocol, &a.address, x.kind).cmp(&(b.port, &b.protocol, &b.address, y.kind))
    });
    result
}

fn has_owners(e: &Entry) -> bool {
    !e.processes.is_empty()
}

type Set = BTreeSet<String>;

/// One compared property of a listener's owners.
type Field = fn(&Entry) -> Set;

/// Whether a baseline listener and a listener of now are the same one.
type Pairing<'a> = dyn Fn(&Entry, &Entry) -> bool + 'a;

fn names(e: &Entry) -> Set {
    e.processes.iter().map(Owner::shown_name).collect()
}

fn exes(e: &Entry) -> Set {
    e.processes
        .iter()
        .map(|p| p.exe.clone().unwrap_or_else(|| "?".into()))
        .collect()
}

fn users(e: &Entry) -> Set {
    e.processes
        .iter()
        .map(|p| {
            p.user
                .clone()
                .or_else(|| p.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| "?".into())
        })
        .collect()
}

fn pids(e: &Entry) -> Set {
    e.processes.iter().map(|p| p.pid.to_string()).collect()
}

fn starts(e: &Entry) -> Set {
    e.processes
        .iter()
        .map(|p| p.started_at.clone().unwrap_or_else(|| "?".into()))
        .collect()
}

fn cmdlines(e: &Entry) -> Set {
    e.processes.iter().map(|p| p.cmdline.join(" ")).collect()
}

fn fingerprint(e: &Entry, strict: bool) -> Vec<Set> {
    let mut f = vec![names(e), exes(e), users(e)];
    if strict {
        f.extend([pids(e), starts(e), cmdlines(e)]);
    }
    f
}

fn differences(a: &Entry, b: &Entry, strict: bool, owners: bool) -> Vec<String> {
    let mut out = Vec::new();
    if (&a.address, a.dual_stack) != (&b.address, b.dual_stack) {
        out.push(format!("bind: {} -> {}", shown(a), shown(b)));
    }
    if a.forwarded_to != b.forwarded_to {
        let to = |e: &Entry| escape_str(e.forwarded_to.as_deref().unwrap_or("?"));
        out.push(format!("forwarded to: {} -> {}", to(a), to(b)));
    }
    if !owners {
        return out;
    }
    let mut fields: Vec<(&str, Field)> =
        vec![("owner", names), ("executable", exes), ("user", users)];
    if strict {
        fields.extend([
            ("pid", pids as Field),
            ("started", starts),
            ("command line", cmdlines),
        ]);
    }
    for (field, f) in fields {
        let (x, y) = (f(a), f(b));
        if x != y {
            out.push(format!("{field}: {} -> {}", joined(&x), joined(&y)));
        }
    }
    out
}

/// `*` for dual-stack, as the table shows it.
pub fn shown(e: &Entry) -> String {
    let address = if e.dual_stack {
        match e.address.split_once('%') {
            Some((_, i)) => format!("*%{i}"),
            None => "*".into(),
        }
    } else {
        e.address.clone()
    };
    escape_str(&address)
}

fn joined(s: &Set) -> String {
    if s.is_empty() {
        return "(none)".into();
    }
    // Names are escaped already (`shown_name`); escaping again is harmless
    // for them and needed for the other fields.
    escape_str(&s.iter().cloned().collect::<Vec<_>>().join(","))
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
