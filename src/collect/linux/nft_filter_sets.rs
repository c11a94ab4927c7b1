//! Linux: nf_tables sets and maps as filter conditions. A lookup in a
//! set of one field is one condition (`th dport { 22, 80 }`, the
//! prefixes and ranges of an interval set); a lookup in a set of
//! concatenations, and a verdict map, are one alternative per element,
//! each with its key as conditions. Sets the packet path updates
//! (`flags dynamic`) are undecided: their contents are not the rules'.

use std::rc::Rc;

use super::fields::{decrement, part_cond};
use super::vals::{Val, describe_key};
use crate::model::firewall::{Cond, Verdict};

/// NFT_SET_* flags (linux/netfilter/nf_tables.h).
pub(super) const SET_INTERVAL: u32 = 0x4;
pub(super) const SET_EVAL: u32 = 0x20;
/// NFT_SET_ELEM_INTERVAL_END, NFT_SET_ELEM_CATCHALL.
const ELEM_END: u32 = 1;
const ELEM_CATCHALL: u32 = 2;
/// More alternatives than this from one rule: undecided instead (a set of
/// tens of thousands of tuples would be as many rules).
const MAX_BRANCHES: usize = 4096;

/// A set as read: its flags, key length and elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SetData {
    pub flags: u32,
    pub key_len: usize,
    pub elems: Vec<Elem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Elem {
    pub key: Vec<u8>,
    /// The inclusive end of a range key (sets of concatenations).
    pub key_end: Option<Vec<u8>>,
    pub flags: u32,
    /// A verdict map's value.
    pub verdict: Option<Verdict>,
}

/// What the decoder asks of the namespace it reads.
pub(super) trait Env {
    /// The set `name` of the rule's table, read once.
    fn set(&mut self, name: &str) -> Result<Rc<SetData>, String>;
    /// An interface's name from its index, in the namespace read.
    fn ifname(&self, index: u32) -> Option<String>;
}

/// One alternative of a rule: extra conditions and, from a verdict map,
/// its own verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Branch {
    pub conds: Vec<Cond>,
    pub verdict: Option<Verdict>,
}

pub(super) enum Found {
    Cond(Cond),
    Branches(Vec<Branch>),
    Verdict(Verdict),
}

/// An element's key as (low, high) inclusive, with its verdict.
struct Span {
    lo: Vec<u8>,
    hi: Vec<u8>,
    verdict: Option<Verdict>,
}

/// A lookup of the key made of `parts` in set `name`.
pub(super) fn lookup(
    env: &mut dyn Env,
    name: &str,
    parts: &[Val],
    inverted: bool,
    vmap: bool,
) -> Found {
    let key = describe_key(parts);
    let not = if inverted { "!= " } else { "" };
    let unknown = |why: String| {
        if vmap {
            Found::Verdict(Verdict::Unknown(format!("{key} vmap @{name}{why}")))
        } else {
            Found::Cond(Cond::Unknown(format!("{key} {not}@{name}{why}")))
        }
    };
    let data = match env.set(name) {
        Ok(d) => d,
        Err(e) => return unknown(format!(" ({e})")),
    };
    if data.flags & SET_EVAL != 0 {
        return Found::Cond(Cond::Unknown(format!("{key} {not}in dynamic set @{name}")));
    }
    // The parts the key covers: each padded to 4 bytes when there are
    // several.
    let mut used = Vec::new();
    let mut at = 0;
    for p in parts {
        if at >= data.key_len {
            break;
        }
        used.push((p.clone(), at));
        at += p.len().div_ceil(4) * 4;
    }
    let fits = match used.as_slice() {
        [(one, _)] => one.len() == data.key_len,
        _ => at == data.key_len.div_ceil(4) * 4,
    };
    if !fits {
        return unknown(" (a key whyport does not follow)".into());
    }
    let Some((spans, catchall)) = spans(&data) else {
        return unknown(" (elements whyport does not read)".into());
    };
    let cut = |s: &Span, (v, at): &(Val, usize)| {
        let l = v.len();
        Some((
            s.lo.get(*at..at + l)?.to_vec(),
            s.hi.get(*at..at + l)?.to_vec(),
        ))
    };
    let span_conds = |env: &dyn Env, s: &Span| -> Option<Vec<Cond>> {
        used.iter()
            .map(|p| part_cond(env, &p.0, &[cut(s, p)?], false).ok())
            .collect()
    };
    if let ([(one, at)], false) = (used.as_slice(), vmap) {
        let ranges: Option<Vec<_>> = spans.iter().map(|s| cut(s, &(one.clone(), *at))).collect();
        return match (catchall, ranges) {
            // `*` is in the set: every key is.
            (Some(_), _) if inverted => Found::Branches(Vec::new()),
            (Some(_), _) => Found::Branches(vec![Branch {
                conds: Vec::new(),
                verdict: None,
            }]),
            (None, Some(r)) => part_cond(&*env, one, &r, inverted)
                .map_or_else(|_| unknown(String::new()), Found::Cond),
            (None, None) => unknown(String::new()),
        };
    }
    if inverted || spans.len() > MAX_BRANCHES {
        return unknown(String::new());
    }
    let mut out = Vec::new();
    for s in &spans {
        let Some(conds) = span_conds(&*env, s) else {
            return unknown(String::new());
        };
        out.push(Branch {
            conds,
            verdict: vmap.then(|| verdict(&s.verdict)),
        });
    }
    if let Some(v) = catchall {
        // `*`: every key no other element holds.
        let rest = match used.as_slice() {
            [(one, at)] => spans
                .iter()
                .map(|s| cut(s, &(one.clone(), *at)))
                .collect::<Option<Vec<_>>>()
                .and_then(|r| part_cond(&*env, one, &r, true).ok()),
            _ => None,
        };
        let c = rest
            .unwrap_or_else(|| Cond::Unknown(format!("{key} not in another element of @{name}")));
        out.push(Branch {
            conds: vec![c],
            verdict: vmap.then(|| verdict(&v)),
        });
    }
    Found::Branches(out)
}

fn verdict(v: &Option<Verdict>) -> Verdict {
    v.clone()
        .unwrap_or_else(|| Verdict::Unknown("a map element without a verdict".into()))
}

/// The elements as inclusive spans, and the catch-all element's verdict.
/// An interval set holds each range as its start and, flagged, the key
/// one past its end; the last range may have no end (up to the top).
fn spans(data: &SetData) -> Option<(Vec<Span>, Option<Option<Verdict>>)> {
    let catchall = data
        .elems
        .iter()
        .find(|e| e.flags & ELEM_CATCHALL != 0)
        .map(|e| e.verdict.clone());
    let mut elems: Vec<&Elem> = data
        .elems
        .iter()
        .filter(|e| e.flags & ELEM_CATCHALL == 0)
        .collect();
    let paired = data.flags & SET_INTERVAL != 0 && elems.iter().all(|e| e.key_end.is_none());
    if !paired {
        // In key order, not the kernel's hash order: the same rules read
        // the same way twice.
        elems.sort_by(|a, b| a.key.cmp(&b.key));
        let spans = elems
            .into_iter()
            .map(|e| Span {
                lo: e.key.clone(),
                hi: e.key_end.clone().unwrap_or_else(|| e.key.clone()),
                verdict: e.verdict.clone(),
            })
            .collect();
        return Some((spans, catchall));
    }
    // At one key an end sorts before a start: [1,5] [6,9] is 1, 6 end, 6, 10 end.
    elems.sort_by(|a, b| (&a.key, a.flags & ELEM_END == 0).cmp(&(&b.key, b.flags & ELEM_END == 0)));
    let mut out = Vec::new();
    let mut start: Option<&Elem> = None;
    for e in elems {
        if e.flags & ELEM_END != 0 {
            if let Some(s) = start.take() {
                out.push(Span {
                    lo: s.key.clone(),
                    hi: decrement(&e.key)?,
                    verdict: s.verdict.clone(),
                });
            }
        } else if start.replace(e).is_some() {
            return None;
        }
    }
    if let Some(s) = start {
        out.push(Span {
            lo: s.key.clone(),
            hi: vec![0xff; s.key.len()],
            verdict: s.verdict.clone(),
        });
    }
    Some((out, catchall))
}
