//! Well-known services by port and protocol, from the embedded IANA Service
//! Name and Transport Protocol Port Number Registry (CC0).

#[allow(dead_code)] // also compiled by build.rs, which uses all of it
pub(crate) mod iana;

use crate::model::Protocol;

/// Date of the newest change in the embedded registry snapshot.
pub const IANA_SNAPSHOT: &str = "2026-04-09";

/// One registration, as embedded by build.rs: numbers only (texts are
/// spans of one string), so that the table needs no relocation at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRecord {
    pub port: u16,
    protocol: u8,
    name: Span,
    description: Span,
    /// The aliases: `ALIASES[.0...1]`.
    aliases: (u32, u32),
}

/// Byte offsets `start..end` of a text in `TEXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span(u32, u32);

impl Span {
    fn text(self) -> &'static str {
        TEXT.get(self.0 as usize..self.1 as usize)
            .unwrap_or_default()
    }
}

impl ServiceRecord {
    pub fn name(&self) -> &'static str {
        self.name.text()
    }

    pub fn description(&self) -> &'static str {
        self.description.text()
    }

    /// The other names registered on the same port and protocol.
    pub fn aliases(&self) -> impl ExactSizeIterator<Item = &'static str> + Clone + use<> {
        let (start, end) = self.aliases;
        ALIASES
            .get(start as usize..end as usize)
            .unwrap_or_default()
            .iter()
            .map(|s| s.text())
    }
}

include!(concat!(env!("OUT_DIR"), "/services.rs"));

/// The service registered for `port`/`protocol`, if any. Unregistered ports
/// (including the whole dynamic range) get `None`, never a guess.
pub fn lookup(port: u16, protocol: Protocol) -> Option<&'static ServiceRecord> {
    let key = (port, protocol_code(protocol));
    SERVICES
        .binary_search_by(|r| (r.port, r.protocol).cmp(&key))
        .ok()
        .map(|i| &SERVICES[i])
}

/// Every (port, protocol) registered under `name` or an alias of it,
/// ignoring case, in port order.
pub fn ports_for(name: &str) -> Vec<(u16, Protocol)> {
    SERVICES
        .iter()
        .filter(|r| {
            r.name().eq_ignore_ascii_case(name) || r.aliases().any(|a| a.eq_ignore_ascii_case(name))
        })
        .map(|r| {
            (
                r.port,
                if r.protocol == 0 {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                },
            )
        })
        .collect()
}

fn protocol_code(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol::{Tcp, Udp};

    fn name(port: u16, p: Protocol) -> Option<&'static str> {
        lookup(port, p).map(|r| r.name())
    }

    #[test]
    fn registry_spot_checks() {
        assert_eq!(name(22, Tcp), Some("ssh"));
        assert_eq!(name(53, Udp), Some("domain"));
        assert_eq!(name(443, Tcp), Some("https"));
        assert_eq!(name(3389, Tcp), Some("ms-wbt-server"));
        assert_eq!(name(5432, Tcp), Some("postgresql"));
        assert_eq!(name(6379, Tcp), Some("redis"));
        assert_eq!(name(8080, Tcp), Some("http-alt"));
    }

    #[test]
    fn conflicts_and_aliases_pick_the_expected_name() {
        assert_eq!(name(2049, Tcp), Some("nfs"));
        assert!(lookup(2049, Tcp).is_some_and(|r| r.aliases().any(|a| a == "shilp")));
        assert_eq!(name(80, Tcp), Some("http"));
        assert!(lookup(80, Tcp).is_some_and(|r| r.aliases().any(|a| a == "www-http")));
        assert_eq!(name(113, Tcp), Some("auth"));
    }

    #[test]
    fn ranges_are_expanded_and_dynamic_ports_are_unregistered() {
        assert_eq!(name(6000, Tcp), Some("x11"));
        assert_eq!(name(6063, Udp), Some("x11"));
        assert_eq!(name(iana::DYNAMIC_PORTS_START, Tcp), None);
        assert_eq!(name(65535, Udp), None);
        assert_eq!(name(0, Tcp), None);
    }

    #[test]
    fn descriptions_are_one_clean_line() {
        assert_eq!(
            lookup(22, Tcp).map(|r| r.description()),
            Some("The Secure Shell (SSH) Protocol")
        );
        assert!(SERVICES.iter().all(|r| !r.description().contains('\n')));
        assert!(
            SERVICES
                .windows(2)
                .all(|w| (w[0].port, w[0].protocol) < (w[1].port, w[1].protocol))
        );
    }

    #[test]
    fn rules_on_hand_built_rows() {
        let row = |name, port, protocol, description, notes| iana::Row {
            name,
            port,
            protocol,
            description,
            notes,
        };
        let rows = vec![
            row("", "1000-1002", "tcp", "Unassigned", ""),
            row(
                "alias-one",
                "7",
                "tcp",
                "Echo",
                "This entry is an alias to \"echo\".",
            ),
            row("echo", "7", "", "Echo\n  second line", ""),
            row("sctp-only", "9", "sctp", "x", ""),
            row("dnssd", "", "tcp", "no port", ""),
            row("pair", "10-11", "udp", "Pair   of  ports", ""),
        ];
        let got = iana::select(rows);
        let summary: Vec<_> = got
            .iter()
            .map(|e| {
                (
                    e.port,
                    e.protocol,
                    e.name.as_str(),
                    e.description.as_str(),
                    e.aliases.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (7, 0, "echo", "Echo", 1),
                (7, 1, "echo", "Echo", 0),
                (10, 1, "pair", "Pair of ports", 0),
                (11, 1, "pair", "Pair of ports", 0),
            ]
        );
    }
}
