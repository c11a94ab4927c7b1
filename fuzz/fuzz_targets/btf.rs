//! The BPF walk's inputs: BTF (the layout lookup) and the walk's records;
//! never a panic, and a layout found is a program that assembles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::bpf_iter::{layout, program, records, table_program};

fuzz_target!(|data: &[u8]| {
    if let Some(l) = layout(data) {
        assert_eq!(program(&l).len() % 8, 0);
        if let Some(t) = l.tables {
            assert_eq!(table_program(&l, &t, 1, 2).len() % 8, 0);
        }
    }
    let _ = records(data);
});
