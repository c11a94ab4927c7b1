//! Baseline files (the JSON listing): parsed, then compared with themselves
//! (no change) and with the empty listing; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::audit::baseline::{Baseline, diff, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(b) = parse(&String::from_utf8_lossy(data)) else {
        return;
    };
    assert!(diff(&b, &b, true).changes.is_empty());
    let empty = Baseline {
        version: b.version,
        listeners: Vec::new(),
        forwarded: Vec::new(),
    };
    assert_eq!(diff(&b, &empty, false).changes.len(), b.entries().len());
});
