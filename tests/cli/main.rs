#![cfg(target_os = "linux")]
//! Integration tests: the real binary against sockets the tests open, the
//! output of `ss` on the same live state, and recorded /proc trees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod bpf;
mod churn;
mod daemons;
mod docker;
mod exit_codes;
mod explain;
mod files;
mod firewall;
mod firewall_views;
mod fixtures;
mod fleet;
mod interfaces;
mod live;
mod living;
mod loadgen;
mod machine;
mod namespaces;
mod nat;
mod netns;
mod nslab;
mod podman;
mod portable;
mod privileges;
mod procio;
mod procs;
mod skip;
mod skips;
mod ss;
mod ss_compare;
mod support;
mod targets;
mod terminal;
mod untrusted;
