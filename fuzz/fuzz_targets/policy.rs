//! Policy files (TOML): any text parses or is an error with a position
//! inside the text; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::audit::policy::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = parse(&text) {
        assert!(e.line >= 1 && e.column >= 1);
        assert!(e.line <= text.lines().count().max(1) + 1, "{e}");
    }
});
