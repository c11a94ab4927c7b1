//! Turns the IANA registry CSV into a sorted static table embedded in the
//! binary, so a lookup is a binary search and nothing is parsed at run time;
//! on GNU/Linux, links GCC's unwinder into the binary
//! (`link_unwinder_statically`).

use std::fmt::Write as _;
use std::path::Path;

#[path = "src/services/iana.rs"]
#[allow(dead_code)]
mod iana;

const REGISTRY: &str = "data/iana/service-names-port-numbers.csv";

fn main() {
    link_unwinder_statically();
    println!("cargo:rerun-if-changed={REGISTRY}");
    println!("cargo:rerun-if-changed=src/services/iana.rs");
    let mut reader = match csv::Reader::from_path(REGISTRY) {
        Ok(r) => r,
        Err(e) => panic!("cannot read {REGISTRY}: {e}"),
    };
    let records: Vec<csv::StringRecord> = reader
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("malformed row in {REGISTRY}: {e}")))
        .collect();
    let rows = records.iter().map(|r| iana::Row {
        name: r.get(0).unwrap_or(""),
        port: r.get(1).unwrap_or(""),
        protocol: r.get(2).unwrap_or(""),
        description: r.get(3).unwrap_or(""),
        notes: r.get(11).unwrap_or(""),
    });
    let entries = iana::select(rows);
    assert!(entries.len() > 10_000, "registry looks truncated");

    // No pointers in the table: every text is a span of one string, each
    // alias list a span of ALIASES. A table of `&str`s needed ~30,000
    // relocations, applied by the dynamic loader at every start (about a
    // millisecond, and 700 KB of pages copied), whatever the run looks up.
    let mut text = String::new();
    let mut interned: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let mut span = |s: &str| -> (usize, usize) {
        *interned.entry(s.to_string()).or_insert_with(|| {
            let start = text.len();
            text.push_str(s);
            (start, text.len())
        })
    };
    let mut aliases: Vec<(usize, usize)> = Vec::new();
    let mut out = String::from("static SERVICES: &[ServiceRecord] = &[\n");
    for e in &entries {
        let name = span(&e.name);
        let description = span(&e.description);
        let first = aliases.len();
        aliases.extend(e.aliases.iter().map(|a| span(a)));
        let _ = writeln!(
            out,
            "ServiceRecord {{ port: {}, protocol: {}, name: Span({}, {}), description: Span({}, {}), aliases: ({}, {}) }},",
            e.port,
            e.protocol,
            name.0,
            name.1,
            description.0,
            description.1,
            first,
            aliases.len()
        );
    }
    out.push_str("];\nstatic ALIASES: &[Span] = &[\n");
    for (start, end) in &aliases {
        let _ = writeln!(out, "Span({start}, {end}),");
    }
    let _ = writeln!(out, "];\nconst TEXT: &str = {text:?};");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("services.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}

/// Rust's standard library links GCC's unwinder as libgcc_s.so.1 on
/// GNU/Linux (its `unwind` crate asks for `-lgcc_s`). Loading that library
/// runs its constructor, `__cpu_indicator_init`, whose CPUID instructions
/// trap to the hypervisor on a virtual machine (14.5 us each on this
/// 2-core machine): measured side by side, alternating runs, 2026-12-02,
/// an empty Rust program took 1.31 ms with it and 1.14 ms without, and
/// `whyport --port` 3.59 ms and 3.42 ms. A linker script named
/// libgcc_s.so in OUT_DIR, searched first, answers `-lgcc_s` with the
/// static archive libgcc_eh.a instead (what `gcc -static-libgcc` and Rust's
/// own `crt-static` use); the rest of libgcc is linked statically by the C
/// compiler anyway. Skipped, and libgcc_s.so.1 linked as usual, where the
/// archive cannot be found or the target is another machine's.
fn link_unwinder_statically() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // The C compiler that links (cargo's configured linker, else `cc`),
    // asked where its archive is; `cc` is only right for this machine.
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let linker = std::env::var("RUSTC_LINKER").ok();
    if linker.is_none() && var("TARGET") != var("HOST") {
        return;
    }
    let linker = linker.unwrap_or_else(|| "cc".to_owned());
    let Ok(out) = std::process::Command::new(&linker)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let archive = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // The compiler echoes the bare name when it has no such file.
    let usable = out.status.success()
        && Path::new(&archive).is_absolute()
        && Path::new(&archive).is_file()
        && !archive.contains(['"', '\n']);
    if !usable {
        return;
    }
    let dir = Path::new(&var("OUT_DIR")).join("static-unwinder");
    let script = format!("/* -lgcc_s, linked statically: see build.rs */\nINPUT(\"{archive}\")\n");
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("libgcc_s.so"), script))
        .is_ok()
    {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}
