//! The `firewall` object of a listener or forward (docs/json.md): the
//! answer, the one-line summary, and per path the partition of sources.

use serde::Serialize;

use crate::report::firewall::{Part, Path, Reachability, RuleAt};

#[derive(Debug, Serialize)]
pub struct FirewallJson {
    /// `open`, `open-from`, `blocked`, `undecided`, `local-only`.
    pub answer: &'static str,
    pub summary: String,
    pub paths: Vec<PathJson>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PathJson {
    pub interface: String,
    pub address: String,
    pub parts: Vec<PartJson>,
}

#[derive(Debug, Serialize)]
pub struct PartJson {
    /// CIDR prefixes.
    pub sources: Vec<String>,
    /// `open`, `blocked`, `undecided`.
    pub outcome: &'static str,
    pub by: Option<ByJson>,
}

#[derive(Debug, Serialize)]
pub struct ByJson {
    pub chain: String,
    /// The rule's handle or number; null for a policy or a kernel check.
    pub rule: Option<u64>,
    pub text: String,
    /// A policy (or the kernel's reverse-path filter), not a rule.
    pub policy: bool,
    /// What could not be evaluated, for an undecided part.
    pub unknown: Option<String>,
}

/// Owned: a forward's JSON outlives the borrow of its report in audit.
pub fn firewall(r: &Reachability) -> FirewallJson {
    FirewallJson {
        answer: r.answer.id(),
        summary: r.summary.clone(),
        paths: r.paths.iter().map(path).collect(),
        notes: r.notes.clone(),
    }
}

fn path(p: &Path) -> PathJson {
    PathJson {
        interface: p.interface.clone(),
        address: p.address.to_string(),
        parts: p.parts.iter().map(part).collect(),
    }
}

fn part(p: &Part) -> PartJson {
    PartJson {
        sources: p.sources.iter().map(|s| s.cidr()).collect(),
        outcome: p.outcome.id(),
        by: p.by.as_ref().map(by),
    }
}

fn by(b: &RuleAt) -> ByJson {
    ByJson {
        chain: b.chain.clone(),
        rule: b.rule,
        text: b.text.clone(),
        policy: b.rule.is_none(),
        unknown: b.unknown.clone(),
    }
}
