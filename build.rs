//! Turns the IANA registry CSV into a sorted static table embedded in the
//! binary, so a lookup is a binary search and nothing is parsed at run time.

use std::fmt::Write as _;
use std::path::Path;

#[path = "src/services/iana.rs"]
#[allow(dead_code)]
mod iana;

const REGISTRY: &str = "data/iana/service-names-port-numbers.csv";

fn main() {
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
