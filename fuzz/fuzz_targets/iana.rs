//! Rows of the IANA registry: whatever a refreshed CSV holds, choosing one
//! service per port never panics. Each input line is split on commas into
//! name, port, protocol, description and notes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::iana::{Row, select};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.splitn(5, ',').collect()).collect();
    let entries = select(rows.iter().map(|f| Row {
        name: f.first().copied().unwrap_or(""),
        port: f.get(1).copied().unwrap_or(""),
        protocol: f.get(2).copied().unwrap_or(""),
        description: f.get(3).copied().unwrap_or(""),
        notes: f.get(4).copied().unwrap_or(""),
    }));
    assert!(entries.windows(2).all(|w| (w[0].port, w[0].protocol) < (w[1].port, w[1].protocol)));
});
