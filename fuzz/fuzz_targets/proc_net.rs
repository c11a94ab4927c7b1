//! /proc/net/{tcp,udp}{,6} text: any bytes give rows and a count of bad
//! lines, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::model::Protocol;
use whyport_fuzz::parse_proc_net;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let (rows, bad) = parse_proc_net(&text, protocol);
        assert!(rows + bad <= text.lines().count());
    }
});
