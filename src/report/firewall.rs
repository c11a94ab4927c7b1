//! What this host's packet filter does to a new connection to one opening:
//! per interface and local address, which sources get in, which are
//! blocked and by what, and which could not be decided.

use std::net::IpAddr;

use crate::model::firewall::Prefix;

/// The firewall's answer for one opening (a socket or a forward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    pub answer: Answer,
    /// One per (interface, local address) a packet from beyond the host
    /// can arrive on and be addressed to.
    pub paths: Vec<Path>,
    /// Said once per answer: about Docker's chains, ufw, what was not read.
    pub notes: Vec<String>,
    /// The answer in one line (escaped): the JSON `summary`.
    pub summary: String,
    /// The same for people: a line per clause, the rules that decide it
    /// on lines of their own under it (escaped).
    pub lines: Vec<String>,
}

impl Reachability {
    /// Whether the firewall was evaluated for it: a path was walked, or
    /// none exists. Not when the rules or addresses were not read.
    pub fn evaluated(&self) -> bool {
        !self.paths.is_empty() || self.answer == Answer::LocalOnly
    }
}

/// The answer in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    /// Every source on every path gets in.
    Open,
    /// Some sources get in; the others are blocked or undecided.
    OpenFrom,
    /// No source gets in.
    Blocked,
    /// No source is known to get in, and some might.
    Undecided,
    /// Nothing beyond the host can send to it (loopback, or a namespace
    /// with only `lo`): there is no path to evaluate.
    LocalOnly,
}

impl Answer {
    /// The JSON id.
    pub fn id(self) -> &'static str {
        match self {
            Answer::Open => "open",
            Answer::OpenFrom => "open-from",
            Answer::Blocked => "blocked",
            Answer::Undecided => "undecided",
            Answer::LocalOnly => "local-only",
        }
    }
}

/// Packets that arrive on `interface` addressed to `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub interface: String,
    pub address: IpAddr,
    /// A partition of the sources of the address's family.
    pub parts: Vec<Part>,
}

/// Sources that meet the same fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub sources: Vec<Prefix>,
    pub outcome: Outcome,
    /// The rule (or policy) that decided it, or could not: for `Open`, the
    /// last accept on the way (`None`: nothing filters this path).
    pub by: Option<RuleAt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Open,
    Blocked,
    Undecided,
}

impl Outcome {
    pub fn id(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Blocked => "blocked",
            Outcome::Undecided => "undecided",
        }
    }
}

/// A rule or a chain's policy, named as a person finds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleAt {
    /// `inet filter input`, `iptables-legacy filter INPUT`; or what
    /// decided without a chain (`rp_filter`, `the ruleset`).
    pub chain: String,
    /// The rule's handle (nf_tables) or number (iptables-legacy); `None`
    /// for a policy or a check that is not a rule.
    pub rule: Option<u64>,
    /// The rule in nft's words, or `policy drop`; escaped.
    pub text: String,
    /// For an undecided part: the condition or verdict that could not be
    /// evaluated; escaped.
    pub unknown: Option<String>,
}
