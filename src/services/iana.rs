//! Choosing one service per (port, protocol) from raw IANA registry rows.
//!
//! This file is compiled twice: by `build.rs`, which turns the registry CSV
//! into the embedded table, and by the crate, so its rules are unit-tested.
//! It therefore uses nothing but `std`.

/// One row of the registry, as the CSV reader hands it over.
pub struct Row<'a> {
    pub name: &'a str,
    pub port: &'a str,
    pub protocol: &'a str,
    pub description: &'a str,
    pub notes: &'a str,
}

/// The registration chosen for one port and protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub port: u16,
    /// 0 for tcp, 1 for udp (the only transports whyport lists).
    pub protocol: u8,
    pub name: String,
    pub description: String,
    /// The other names registered on the same port and protocol.
    pub aliases: Vec<String>,
}

/// Ports from here up are the dynamic range, which IANA never assigns.
pub const DYNAMIC_PORTS_START: u16 = 49152;

struct Candidate {
    port: u16,
    protocol: u8,
    order: usize,
    preference: (bool, bool, bool),
    name: String,
    description: String,
}

/// Expand ranges and blank protocols, then pick the primary name for every
/// (port, protocol): rows that are not aliases or duplicates win, then rows
/// without a "Conflict" note, then rows with a description, then file order.
pub fn select<'a>(rows: impl IntoIterator<Item = Row<'a>>) -> Vec<Entry> {
    let mut candidates = Vec::new();
    for (order, row) in rows.into_iter().enumerate() {
        let name = row.name.trim();
        if name.is_empty() {
            continue; // "Unassigned" and "Reserved" blocks
        }
        let Some((low, high)) = parse_ports(row.port) else {
            continue; // DNS-SD names without a port, or garbage
        };
        let notes = row.notes.to_ascii_lowercase();
        let is_alias = notes.contains("alias") || notes.contains("duplicate of");
        let description = first_line(row.description);
        let preference = (
            !is_alias,
            !notes.contains("conflict"),
            !description.is_empty(),
        );
        for &protocol in protocols(row.protocol) {
            for port in low..=high {
                candidates.push(Candidate {
                    port,
                    protocol,
                    order,
                    preference,
                    name: name.to_string(),
                    description: description.clone(),
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        (a.port, a.protocol)
            .cmp(&(b.port, b.protocol))
            .then(b.preference.cmp(&a.preference))
            .then(a.order.cmp(&b.order))
    });
    let mut entries: Vec<Entry> = Vec::new();
    for c in candidates {
        match entries.last_mut() {
            Some(e) if e.port == c.port && e.protocol == c.protocol => {
                if e.name != c.name && !e.aliases.contains(&c.name) {
                    e.aliases.push(c.name);
                }
                if e.description.is_empty() {
                    e.description = c.description;
                }
            }
            _ => entries.push(Entry {
                port: c.port,
                protocol: c.protocol,
                name: c.name,
                description: c.description,
                aliases: Vec::new(),
            }),
        }
    }
    entries
}

fn parse_ports(field: &str) -> Option<(u16, u16)> {
    let field = field.trim();
    let (low, high) = match field.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = field.parse().ok()?;
            (p, p)
        }
    };
    (low <= high).then_some((low, high))
}

fn protocols(field: &str) -> &'static [u8] {
    match field.trim() {
        "tcp" => &[0],
        "udp" => &[1],
        "" => &[0, 1], // a named row with no protocol applies to both
        _ => &[],      // sctp, dccp: whyport does not list them
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
