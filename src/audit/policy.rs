//! The port policy (`whyport audit --policy FILE`): its TOML form, parsed
//! strictly (an unknown key or a bad value is an error naming line and
//! column), into plain rules. Reference: docs/policy.md.

use std::net::IpAddr;

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::severity::{RawWaiver, Severity, Waiver};
use crate::explain::warning_ids::IDS as WARNING_IDS;
use crate::model::Protocol;
use crate::ports::{PortRange, parse_ports};

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// What happens to a listener no rule matches.
    pub default: Decision,
    /// Warning ids that are never findings.
    pub ignore_warnings: Vec<String>,
    /// `[warnings.ID]`: a warning's severity and waiver, by id.
    pub warnings: BTreeMap<String, WarningTerms>,
    /// Deny rules first, then allow rules, then require rules, each in
    /// file order.
    pub rules: Vec<Rule>,
}

/// What `[warnings.ID]` says of one warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarningTerms {
    pub severity: Option<Severity>,
    pub waiver: Option<Waiver>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
    /// `[[require]]`: something on the host must match it (never a
    /// default).
    #[serde(skip)]
    Require,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Require => "require",
        }
    }
}

/// Address families a rule can name; a dual-stack socket is both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// Who this host's firewall lets in (`reach = "open"` or
/// `"firewalled"`); an opening whose answer is undecided meets neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Some source beyond the host can connect.
    Open,
    /// No source beyond the host can connect.
    Firewalled,
}

impl Reach {
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Open => "open",
            Reach::Firewalled => "firewalled",
        }
    }
}

/// Which binds a rule accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Bind {
    /// Any address.
    Any,
    /// Only sockets no other host can reach (127.0.0.0/8, ::1, `lo`).
    Loopback,
    /// Only sockets other hosts can reach.
    Exposed,
    /// Only sockets whose every accepted address is inside this network
    /// (an address alone is a /32 or /128).
    Network(IpAddr, u8),
}

impl TryFrom<String> for Bind {
    type Error = String;
    fn try_from(text: String) -> Result<Bind, String> {
        match text.as_str() {
            "any" => return Ok(Bind::Any),
            "loopback" => return Ok(Bind::Loopback),
            "exposed" => return Ok(Bind::Exposed),
            _ => {}
        }
        let bad = || {
            format!(
                "bind = \"{}\" is not \"any\", \"loopback\", \"exposed\", an address or a network like 10.0.0.0/8",
                text.escape_debug()
            )
        };
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.as_str(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Bind::Network(address, prefix))
    }
}

impl std::fmt::Display for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bind::Any => f.write_str("any"),
            Bind::Loopback => f.write_str("loopback"),
            Bind::Exposed => f.write_str("exposed"),
            Bind::Network(a, p) => write!(f, "{a}/{p}"),
        }
    }
}

/// One `[[allow]]` or `[[deny]]` table. Every condition given must hold for
/// the rule to match a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub decision: Decision,
    /// 1-based position among the rules of its kind: `allow #2`.
    pub index: usize,
    /// Line of its `[[allow]]`/`[[deny]]` header.
    pub line: usize,
    pub ports: Option<Vec<PortRange>>,
    /// `forwarded = true`: only ports a NAT rule forwards (no socket);
    /// `false`: only listening sockets.
    pub forwarded: Option<bool>,
    /// `reach = "open" | "firewalled"`: what this host's firewall lets in.
    pub reach: Option<Reach>,
    pub protocol: Option<Protocol>,
    pub family: Option<Family>,
    pub bind: Bind,
    /// A process name or executable path as the exact bytes it must equal:
    /// the UTF-8 of `process = "..."`, or the bytes of `process_hex`
    /// (the only way to name one that is not UTF-8).
    pub process: Option<Vec<u8>>,
    pub exe: Option<Vec<u8>>,
    /// User, unit and container names are compared as text, and only with
    /// names that were read as valid UTF-8 (see `eval`).
    pub user: Option<String>,
    pub unit: Option<String>,
    pub container: Option<String>,
    pub reason: Option<String>,
    /// Its `id` (a control id), if given.
    pub id: Option<String>,
    /// The severity of the findings it makes (`denied`, `missing`).
    pub severity: Option<Severity>,
    /// Its findings accepted until a date (deny and require rules).
    pub waiver: Option<Waiver>,
    /// The first 12 hex digits of the SHA-256 of its kind and conditions:
    /// its stable name when it has no `id` (moving it in the file or
    /// rewording its reason does not change it).
    pub digest: String,
    /// Warning ids that are not findings for the listeners this rule allows.
    pub ignore_warnings: Vec<String>,
}

impl Rule {
    /// Its name in machine reports (JUnit cases, Prometheus labels), stable
    /// across edits elsewhere in the file: `allow NET-001`, or `allow
    /// 3f2a1b4c5d6e` from its content.
    pub fn stable_name(&self) -> String {
        format!(
            "{} {}",
            self.decision.as_str(),
            self.id.as_deref().unwrap_or(&self.digest)
        )
    }

    /// `allow #2 (line 7)`.
    pub fn label(&self) -> String {
        format!(
            "{} #{} (line {})",
            self.decision.as_str(),
            self.index,
            self.line
        )
    }
}

/// A policy that could not be read: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    default: Option<Decision>,
    #[serde(default)]
    ignore_warnings: Vec<WarningId>,
    #[serde(default)]
    allow: Vec<Spanned<RawRule>>,
    #[serde(default)]
    deny: Vec<Spanned<RawRule>>,
    #[serde(default)]
    require: Vec<Spanned<RawRule>>,
    #[serde(default)]
    warnings: BTreeMap<String, RawWarningTerms>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarningTerms {
    severity: Option<Severity>,
    waiver: Option<RawWaiver>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    port: Option<u16>,
    ports: Option<Vec<PortItem>>,
    range: Option<RangeSpec>,
    forwarded: Option<bool>,
    reach: Option<Reach>,
    protocol: Option<ProtocolSpec>,
    family: Option<Family>,
    bind: Option<Bind>,
    process: Option<String>,
    process_hex: Option<Hex>,
    exe: Option<String>,
    exe_hex: Option<Hex>,
    user: Option<String>,
    unit: Option<String>,
    container: Option<String>,
    reason: Option<String>,
    id: Option<RuleId>,
    severity: Option<Severity>,
    waiver: Option<RawWaiver>,
    #[serde(default)]
    ignore_warnings: Vec<WarningId>,
}

/// A rule's `id`, a control id such as `NET-001`: letters, digits and
/// `-_.:`, so that it can name a JUnit case or a Prometheus label as it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct RuleId(String);

impl TryFrom<String> for RuleId {
    type Error = String;
    fn try_from(text: String) -> Result<RuleId, String> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if ok {
            Ok(RuleId(text))
        } else {
            Err(format!(
                "id = \"{}\" must be 1 to 64 letters, digits or - _ . : (like \"NET-001\")",
                text.escape_debug()
            ))
        }
    }
}

/// `process_hex` / `exe_hex`: raw bytes as hex digits, two per byte.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Hex(Vec<u8>);

impl TryFrom<String> for Hex {
    type Error = String;
    fn try_from(text: String) -> Result<Hex, String> {
        let digit = |b: u8| char::from(b).to_digit(16);
        let bytes: Option<Vec<u8>> = text
            .as_bytes()
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
                _ => None,
            })
            .collect();
        match bytes {
            Some(b) if !b.is_empty() => Ok(Hex(b)),
            _ => Err(format!(
                "\"{}\" is not hex bytes: write two hex digits per byte, like \"6e67696e78\"",
                text.escape_debug()
            )),
        }
    }
}

/// A byte value given as text (`key`) or as hex (`key_hex`), not both.
fn bytes_of(
    what: &str,
    key: &str,
    text: Option<String>,
    hex: Option<Hex>,
) -> Result<Option<Vec<u8>>, String> {
    match (text, hex) {
        (Some(_), Some(_)) => Err(format!("{what}: give only one of {key} and {key}_hex")),
        (Some(t), None) => Ok(Some(t.into_bytes())),
        (None, h) => Ok(h.map(|h| h.0)),
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ProtocolSpec {
    Tcp,
    Udp,
}

/// An element of `ports = [...]`: a port, or a range as text (`"8000-8100"`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum PortItem {
    Port(u16),
    Range(RangeSpec),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct RangeSpec(PortRange);

impl TryFrom<String> for RangeSpec {
    type Error = String;
    fn try_from(text: String) -> Result<RangeSpec, String> {
        match parse_ports(&text)?.as_slice() {
            [r] => Ok(RangeSpec(*r)),
            _ => Err(format!(
                "range = \"{}\" must be one range like \"8000-8100\"; use ports = [...] for a list",
                text.escape_debug()
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct WarningId(String);

/// The warning that a socket's owner could not be seen. It cannot be
/// ignored: an owner nobody can see cannot be checked against any rule,
/// so an audit that cannot see one never passes.
pub const OWNER_UNKNOWN: &str = "owner-unknown";

impl TryFrom<String> for WarningId {
    type Error = String;
    fn try_from(text: String) -> Result<WarningId, String> {
        if text == OWNER_UNKNOWN {
            Err(format!(
                "\"{OWNER_UNKNOWN}\" cannot be ignored: an owner that cannot be seen cannot be checked; run the audit as root to see every owner"
            ))
        } else if WARNING_IDS.contains(&text.as_str()) {
            Ok(WarningId(text))
        } else {
            Err(format!(
                "unknown warning id \"{}\", expected one of {}",
                text.escape_debug(),
                WARNING_IDS.join(", ")
            ))
        }
    }
}

/// Parse the text of a policy file.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let index = LineIndex::new(text);
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| index.line_column(s.start));
        PolicyError {
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let mut rules = Vec::new();
    let kinds = [
        (Decision::Deny, raw.deny),
        (Decision::Allow, raw.allow),
        (Decision::Require, raw.require),
    ];
    for (decision, raw_rules) in kinds {
        for (i, spanned) in raw_rules.into_iter().enumerate() {
            let (line, column) = index.header_position(spanned.span().start);
            let fail = |message: String| PolicyError {
                line,
                column,
                message,
            };
            rules.push(rule(decision, i + 1, line, spanned.into_inner()).map_err(fail)?);
        }
    }
    let mut warnings = BTreeMap::new();
    for (id, terms) in raw.warnings {
        let at = |message: String| PolicyError {
            line: index.line_of(&format!("[warnings.{id}]")),
            column: 1,
            message,
        };
        WarningId::try_from(id.clone()).map_err(at)?;
        let waiver = match terms.waiver {
            Some(w) => Some(
                w.resolve()
                    .map_err(|e| at(format!("[warnings.{id}]: {e}")))?,
            ),
            None => None,
        };
        warnings.insert(
            id,
            WarningTerms {
                severity: terms.severity,
                waiver,
            },
        );
    }
    Ok(Policy {
        default: raw.default.unwrap_or(Decision::Deny),
        ignore_warnings: raw.ignore_warnings.into_iter().map(|w| w.0).collect(),
        warnings,
        rules,
    })
}

fn rule(decision: Decision, index: usize, line: usize, raw: RawRule) -> Result<Rule, String> {
    let what = format!("[[{}]] #{index}", decision.as_str());
    let ports = match (raw.port, raw.ports, raw.range) {
        (None, None, None) => None,
        (Some(p), None, None) => Some(vec![PortRange { start: p, end: p }]),
        (None, Some(list), None) if list.is_empty() => {
            return Err(format!(
                "{what}: ports = [] matches nothing; list at least one port"
            ));
        }
        (None, Some(list), None) => Some(
            list.into_iter()
                .map(|p| match p {
                    PortItem::Port(p) => PortRange { start: p, end: p },
                    PortItem::Range(r) => r.0,
                })
                .collect(),
        ),
        (None, None, Some(r)) => Some(vec![r.0]),
        _ => {
            return Err(format!(
                "{what}: give only one of port, ports and range (split the rule in two)"
            ));
        }
    };
    let rule = Rule {
        decision,
        index,
        line,
        ports,
        protocol: raw.protocol.map(|p| match p {
            ProtocolSpec::Tcp => Protocol::Tcp,
            ProtocolSpec::Udp => Protocol::Udp,
        }),
        family: raw.family,
        forwarded: raw.forwarded,
        reach: raw.reach,
        bind: raw.bind.unwrap_or(Bind::Any),
        process: bytes_of(&what, "process", raw.process, raw.process_hex)?,
        exe: bytes_of(&what, "exe", raw.exe, raw.exe_hex)?,
        user: raw.user,
        unit: raw.unit,
        container: raw.container,
        reason: raw.reason,
        id: raw.id.map(|i| i.0),
        severity: raw.severity,
        waiver: match raw.waiver {
            Some(_) if decision == Decision::Allow => {
                return Err(format!(
                    "{what}: an allow rule makes no finding to waive; put the waiver on the deny or require rule, or in [warnings.ID]"
                ));
            }
            Some(w) => Some(w.resolve().map_err(|e| format!("{what}: {e}"))?),
            None => None,
        },
        digest: String::new(),
        ignore_warnings: raw.ignore_warnings.into_iter().map(|w| w.0).collect(),
    };
    let rule = Rule {
        digest: digest(&rule),
        ..rule
    };
    let conditions = rule.ports.is_some()
        || rule.forwarded.is_some()
        || rule.reach.is_some()
        || rule.protocol.is_some()
        || rule.family.is_some()
        || rule.bind != Bind::Any
        || rule.process.is_some()
        || rule.exe.is_some()
        || rule.user.is_some()
        || rule.unit.is_some()
        || rule.container.is_some();
    if !conditions {
        let instead = match decision {
            Decision::Allow => "default = \"allow\"",
            Decision::Deny => "default = \"deny\"",
            Decision::Require => "no rule",
        };
        return Err(format!(
            "{what} has no condition (port, ports, range, forwarded, reach, protocol, family, bind, process, process_hex, exe, exe_hex, user, unit or container) and would match every listener; use {instead} for that"
        ));
    }
    Ok(rule)
}

/// The content digest of a rule: its kind and every condition, in a fixed
/// order and form (not its position, reason or ignored warnings).
fn digest(r: &Rule) -> String {
    use sha2::{Digest, Sha256};
    let text = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}{}",
        r.decision.as_str(),
        r.ports
            .as_ref()
            .map(|p| p.iter().map(|r| (r.start, r.end)).collect::<Vec<_>>()),
        r.forwarded,
        r.protocol.map(|p| p.as_str()),
        r.family,
        r.bind,
        r.process,
        r.exe,
        r.user,
        r.unit,
        r.container,
        // Added after digests were published: absent, it adds nothing, so
        // the digests of rules without it stay what they were.
        r.reach
            .map_or(String::new(), |x| format!("|reach={}", x.as_str()))
    );
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Where the lines of a policy start, and which are rule headers: built in
/// one pass, so that each rule's position is a binary search rather than a
/// scan from the start of the text (a 20,000-rule policy took two minutes
/// that way).
struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    /// (0-based line, its indentation in bytes) of each line that starts
    /// with `[[`, in order.
    headers: Vec<(usize, usize)>,
}

#[cfg(test)]
thread_local! {
    /// How many indexes were built on this thread (tests check it is one
    /// per parse).
    static INDEXES_BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> LineIndex<'a> {
        #[cfg(test)]
        INDEXES_BUILT.with(|n| n.set(n.get() + 1));
        let mut starts = vec![0];
        let mut headers = Vec::new();
        let mut start = 0;
        for (n, line) in text.split('\n').enumerate() {
            let body = line.trim_start();
            if body.starts_with("[[") {
                headers.push((n, line.len() - body.len()));
            }
            start += line.len() + 1;
            if start <= text.len() {
                starts.push(start);
            }
        }
        LineIndex {
            text,
            starts,
            headers,
        }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |l| l.chars().count())
            + 1;
        (line, column)
    }

    /// The 1-based line that holds `needle` first (1 when none does).
    fn line_of(&self, needle: &str) -> usize {
        self.text
            .find(needle)
            .map_or(1, |offset| self.line_column(offset).0)
    }

    /// A rule table's span starts at its first key; its `[[...]]` header
    /// is the nearest line above that starts with `[[`.
    fn header_position(&self, offset: usize) -> (usize, usize) {
        let (line, column) = self.line_column(offset);
        let above = self.headers.partition_point(|(n, _)| *n < line);
        match above.checked_sub(1).map(|i| self.headers[i]) {
            Some((n, indent)) => (n + 1, indent + 1),
            None => (line, column),
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
