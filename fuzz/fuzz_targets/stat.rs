//! /proc/<pid>/stat, status and cmdline as whyport reads them
//! (collect/linux/proc_text.rs); never a panic. (procfs's own Stat parser
//! panicked here on a non-ASCII byte after the last `)`, which is why
//! whyport no longer uses it.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::proc_text::{boot_time, split_cmdline, stat_comm, stat_fields, status_ruid};

fuzz_target!(|data: &[u8]| {
    let name = stat_comm(data);
    assert!(name.len() <= data.len());
    let _ = stat_fields(data);
    let _ = status_ruid(data);
    let _ = boot_time(data);
    let args = split_cmdline(data);
    assert!(args.iter().map(|a| a.len()).sum::<usize>() <= data.len());
});
