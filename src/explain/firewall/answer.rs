//! The walk's partitions as an answer: parts merged by fate, the answer
//! in one word, and the one-line summary that names the deciding rules.

use std::collections::BTreeMap;

use super::sources::Sources;
use super::walk::Fate;
use crate::model::firewall::{Addresses, Prefix};
use crate::report::firewall::{Answer, Outcome, Part, Path, Reachability, RuleAt};

pub(super) fn local_only() -> Reachability {
    Reachability {
        answer: Answer::LocalOnly,
        paths: Vec::new(),
        notes: Vec::new(),
        summary: "nothing beyond this host can send to it".into(),
        lines: vec!["nothing beyond this host can send to it".into()],
    }
}

pub(super) fn not_evaluated(why: &str) -> Reachability {
    Reachability {
        answer: Answer::Undecided,
        paths: Vec::new(),
        notes: vec![why.to_string()],
        summary: format!("undecided: {why}"),
        lines: vec![format!("undecided: {why}")],
    }
}

/// The walk's partition as parts, the same fates merged, open first.
pub(super) fn parts(fates: Vec<(Sources, Fate)>) -> Vec<Part> {
    let mut merged: BTreeMap<(Outcome, Option<RuleAt>), Sources> = BTreeMap::new();
    for (s, fate) in fates {
        let key = match fate {
            Fate::Open(by) => (Outcome::Open, by),
            Fate::Blocked(by) => (Outcome::Blocked, Some(by)),
            Fate::Undecided(by) | Fate::Lost(by) => (Outcome::Undecided, Some(by)),
        };
        let entry = merged.entry(key).or_insert_with(|| Sources::none(s.v6));
        *entry = entry.union(&s);
    }
    merged
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|((outcome, by), s)| Part {
            sources: s.prefixes(),
            outcome,
            by,
        })
        .collect()
}

pub(super) fn assemble(paths: Vec<Path>, notes: Vec<String>) -> Reachability {
    let outcomes: Vec<Outcome> = paths
        .iter()
        .flat_map(|p| &p.parts)
        .map(|p| p.outcome)
        .collect();
    let answer = if outcomes.is_empty() {
        Answer::LocalOnly
    } else if outcomes.iter().all(|o| *o == Outcome::Open) {
        Answer::Open
    } else if outcomes.contains(&Outcome::Open) {
        Answer::OpenFrom
    } else if outcomes.contains(&Outcome::Undecided) {
        Answer::Undecided
    } else {
        Answer::Blocked
    };
    let (summary, lines) = summary(answer, &paths);
    Reachability {
        answer,
        paths,
        notes,
        summary,
        lines,
    }
}

/// Prefixes for people: "10.0.0.0/8", or "all but 10.0.0.0/8" when that
/// is shorter, or "every source".
fn sources_text(prefixes: &[Prefix]) -> String {
    let Some(first) = prefixes.first() else {
        return "no source".into();
    };
    let v6 = first.address.is_ipv6();
    let set = Sources::of(
        v6,
        &Addresses {
            prefixes: prefixes.to_vec(),
            ranges: Vec::new(),
        },
    );
    if set.is_all() {
        return "every source".into();
    }
    let rest = set.complement().prefixes();
    let list = |p: &[Prefix]| {
        p.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if rest.len() < prefixes.len() {
        format!("all but {}", list(&rest))
    } else {
        list(prefixes)
    }
}

/// "inet filter input, rule 12 'tcp dport 22 accept'", "policy drop (inet
/// filter input)".
pub(super) fn by_text(by: &RuleAt) -> String {
    let mut s = match by.rule {
        Some(n) => format!("{}, rule {n} '{}'", by.chain, by.text),
        None if by.text.is_empty() => by.chain.clone(),
        None => format!("{} ({})", by.text, by.chain),
    };
    if let Some(u) = &by.unknown {
        s.push_str(&format!(": not evaluated: {u}"));
    }
    s
}

/// Sources, interface, the accepting rule, and the addresses they reach.
type OpenClause<'a> = (&'a [Prefix], &'a str, Option<&'a RuleAt>, Vec<String>);

/// One clause of the answer: what happens to whom, and the rules that
/// decide it (in parentheses after an open clause, after "by" else).
struct Clause {
    head: String,
    by: Vec<String>,
    paren: bool,
}

impl Clause {
    fn plain(head: &str) -> Clause {
        Clause {
            head: head.to_string(),
            by: Vec::new(),
            paren: false,
        }
    }

    /// The clause on one line (the JSON `summary`).
    fn line(&self) -> String {
        match (self.by.is_empty(), self.paren) {
            (true, _) => self.head.clone(),
            (false, true) => format!("{} ({})", self.head, self.by.join("; ")),
            (false, false) => format!("{} by {}", self.head, self.by.join("; ")),
        }
    }
}

/// The summary on one line, and as lines for people: each clause, its
/// rules under it ("by ..."), so that a rule's text is not appended to a
/// line already as wide as a terminal.
fn summary(answer: Answer, paths: &[Path]) -> (String, Vec<String>) {
    let clauses = clauses(answer, paths);
    let one = clauses
        .iter()
        .map(Clause::line)
        .collect::<Vec<_>>()
        .join("; ");
    let mut lines = Vec::new();
    for c in &clauses {
        lines.push(c.head.clone());
        lines.extend(c.by.iter().map(|b| format!("  by {b}")));
    }
    (one, lines)
}

fn clauses(answer: Answer, paths: &[Path]) -> Vec<Clause> {
    if answer == Answer::LocalOnly {
        return vec![Clause::plain("nothing beyond this host can send to it")];
    }
    let ifaces = |pred: &dyn Fn(&Part) -> bool| {
        let mut v: Vec<&str> = paths
            .iter()
            .filter(|p| p.parts.iter().any(pred))
            .map(|p| p.interface.as_str())
            .collect();
        // Each once, in the paths' order (IPv4's, then IPv6's).
        let mut seen = std::collections::HashSet::new();
        v.retain(|i| seen.insert(*i));
        v.join(", ")
    };
    let mut clauses: Vec<Clause> = Vec::new();
    if answer == Answer::Open {
        let by: Vec<&RuleAt> = unique(
            paths
                .iter()
                .flat_map(|p| &p.parts)
                .filter_map(|p| p.by.as_ref()),
        );
        let on = ifaces(&|_| true);
        return vec![match by.first() {
            None => Clause::plain(&format!("open to every source on {on}: no rule filters it")),
            Some(b) if by.len() == 1 => Clause {
                head: format!("open to every source on {on}"),
                by: vec![by_text(b)],
                paren: true,
            },
            Some(_) => Clause::plain(&format!("open to every source on {on}")),
        }];
    }
    // The same sources let in by the same rule on one interface, to
    // several of its addresses: one clause.
    let mut open: Vec<OpenClause<'_>> = Vec::new();
    for p in paths {
        for part in p.parts.iter().filter(|x| x.outcome == Outcome::Open) {
            let key = (
                part.sources.as_slice(),
                p.interface.as_str(),
                part.by.as_ref(),
            );
            match open.iter_mut().find(|o| (o.0, o.1, o.2) == key) {
                Some(o) => o.3.push(p.address.to_string()),
                None => open.push((key.0, key.1, key.2, vec![p.address.to_string()])),
            }
        }
    }
    for (sources, iface, by, to) in open {
        clauses.push(Clause {
            head: format!(
                "open from {} on {iface} to {}",
                sources_text(sources),
                to.join(", ")
            ),
            by: by.map(by_text).into_iter().collect(),
            paren: true,
        });
    }
    for outcome in [Outcome::Undecided, Outcome::Blocked] {
        let by: Vec<&RuleAt> = unique(
            paths
                .iter()
                .flat_map(|p| &p.parts)
                .filter(|x| x.outcome == outcome)
                .filter_map(|x| x.by.as_ref()),
        );
        if by.is_empty() {
            continue;
        }
        let word = if outcome == Outcome::Blocked {
            "blocked"
        } else {
            "undecided"
        };
        // "elsewhere" only after a clause that named where.
        let where_ = if clauses.is_empty() {
            format!("on {}", ifaces(&|x| x.outcome == outcome))
        } else {
            "elsewhere".to_string()
        };
        let mut shown: Vec<String> = by.iter().take(2).map(|b| by_text(b)).collect();
        if by.len() > 2
            && let Some(last) = shown.last_mut()
        {
            last.push_str(&format!(" and {} more", by.len() - 2));
        }
        clauses.push(Clause {
            head: format!("{word} {where_}"),
            by: shown,
            paren: false,
        });
    }
    clauses
}

fn unique<'a>(items: impl Iterator<Item = &'a RuleAt>) -> Vec<&'a RuleAt> {
    let mut v: Vec<&RuleAt> = Vec::new();
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
    v
}
