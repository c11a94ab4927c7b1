//! The stable ids of the explanation warnings (see warnings.rs), on their
//! own so that policies (and their fuzz target) can check ids without the
//! rest of the explanation.

/// Every warning id, for policies that turn warnings off.
pub const IDS: &[&str] = &[
    "exposed-datastore",
    "plaintext-login",
    "deleted-executable",
    "root-unneeded",
    "owner-unknown",
    "udp-ephemeral-client",
    "shadowed-by-dnat",
];
