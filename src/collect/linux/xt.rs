//! Linux: iptables matches (`-m NAME`) and targets (`-j NAME`) as filter
//! conditions and verdicts, from the xtables structs both iptables-nft
//! (inside nf_tables `match`/`target` expressions) and iptables-legacy
//! (inside x_tables entries) carry. Whatever is not decoded is kept as a
//! `Cond::Unknown` naming it, so that an answer depending on it is
//! undecided.

#![allow(dead_code)] // used by the filter readers that follow

use crate::model::firewall::{Cond, Verdict};

/// The conditions of one iptables match (`name`, its revision and its
/// info struct as the kernel holds it); `v6` for ip6tables.
pub fn match_conds(name: &str, _rev: u32, _info: &[u8], _v6: bool) -> Vec<Cond> {
    vec![Cond::Unknown(format!("iptables match {name}"))]
}

/// What an iptables target does to the packet (a non-standard one:
/// ACCEPT, DROP, RETURN and jumps are verdicts of their own in both
/// backends).
pub fn target_verdict(name: &str, _rev: u32, _info: &[u8]) -> Verdict {
    Verdict::Unknown(format!("iptables target {name}"))
}
