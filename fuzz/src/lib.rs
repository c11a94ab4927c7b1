//! The parsers of untrusted text that the fuzz targets exercise, compiled
//! from whyport's own source files (whyport is a binary crate, so they are
//! included by path rather than imported).
#![allow(dead_code, unused_imports)]

#[path = "../../src/model.rs"]
pub mod model;

#[path = "../../src/collect/linux/proc_net.rs"]
pub mod proc_net;

// An inline module with a directory path, so that origin.rs finds its
// own submodules (origin/cgroup_path.rs, origin/launch.rs) as usual.
#[path = "../../src/explain"]
pub mod explain {
    pub mod origin;
    pub mod warning_ids;
}

#[path = "../../src/ports.rs"]
pub mod ports;

#[path = "../../src/sanitize.rs"]
pub mod sanitize;

/// What baseline.rs needs of the report: the JSON version it reads.
pub mod report {
    pub const JSON_VERSION: u32 = 2;
}

#[path = "../../src/audit"]
pub mod audit {
    pub mod baseline;
    pub mod owner;
    pub mod policy;
}

#[path = "../../src/collect/linux/mountinfo.rs"]
pub mod mountinfo;

#[path = "../../src/collect/linux/proc_text.rs"]
pub mod proc_text;

#[path = "../../src/collect/linux/bpf_iter.rs"]
pub mod bpf_iter;
pub use explain::origin;

#[path = "../../src/services/iana.rs"]
pub mod iana;

/// `proc_net::parse_table` is crate-private in whyport: (rows, bad lines).
pub fn parse_proc_net(text: &str, protocol: model::Protocol) -> (usize, usize) {
    let (sockets, bad) = proc_net::parse_table(text, protocol);
    (sockets.len(), bad)
}
