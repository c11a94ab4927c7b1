//! /proc/<pid>/cgroup text (v1, v2, hybrid, garbage): never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::origin::from_cgroup;

fuzz_target!(|data: &[u8]| {
    let _ = from_cgroup(&String::from_utf8_lossy(data));
});
