//! /proc/self/mountinfo: the hidepid check on any text; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use whyport_fuzz::mountinfo::hidepid;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hidepid(&text, Path::new("/proc"));
});
