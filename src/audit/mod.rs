//! Auditing a host: a port policy (which listeners may be open, and how),
//! the policy a host's current state implies, and baselines to compare
//! with later. Pure functions over explanations; the app reads the files
//! and the system, the renderers print the results.

pub mod baseline;
pub mod eval;
pub mod init;
pub mod owner;
pub mod policy;
pub mod severity;
