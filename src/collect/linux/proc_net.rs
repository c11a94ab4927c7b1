//! Linux: listening sockets from the text tables in /proc/net/{tcp,udp}{,6}.
//!
//! Used when sock_diag is unavailable for a protocol, and for recorded /proc
//! trees (`--proc-root`). The text tables lack IPV6_V6ONLY and the bound
//! interface, so dual-stack is inferred (see `infer_v6only`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{Protocol, Socket};

const TCP_LISTEN: u8 = 0x0A;
const TCP_CLOSE: u8 = 0x07;

/// The file name of a table under `<proc>/net`.
pub(super) fn table_name(protocol: Protocol, v6: bool) -> &'static str {
    match (protocol, v6) {
        (Protocol::Tcp, false) => "tcp",
        (Protocol::Tcp, true) => "tcp6",
        (Protocol::Udp, false) => "udp",
        (Protocol::Udp, true) => "udp6",
    }
}

/// The rows of one table, fed a line at a time (a table of 100,000
/// sockets is streamed, never held whole): the listening ones (TCP in
/// LISTEN, UDP unconnected), and the number of rows that did not parse.
/// The first line, the header, is skipped.
///
/// Parsed here rather than by procfs: its table parser rejects a whole
/// table for one malformed line, and whyport must list what it can.
pub(crate) struct Rows {
    protocol: Protocol,
    header: bool,
    pub sockets: Vec<Socket>,
    pub bad: usize,
}

impl Rows {
    pub(crate) fn new(protocol: Protocol) -> Rows {
        Rows {
            protocol,
            header: true,
            sockets: Vec::new(),
            bad: 0,
        }
    }

    pub(crate) fn line(&mut self, line: &str) {
        if std::mem::take(&mut self.header) || line.trim().is_empty() {
            return;
        }
        match parse_row(line, self.protocol) {
            Some(Some(s)) => self.sockets.push(s),
            Some(None) => {}
            None => self.bad += 1,
        }
    }
}

/// `Rows` of a whole table's text.
// For the fuzz target (fuzz/src/lib.rs) and the tests; whyport streams.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn parse_table(text: &str, protocol: Protocol) -> (Vec<Socket>, usize) {
    let mut rows = Rows::new(protocol);
    for line in text.lines() {
        rows.line(line);
    }
    (rows.sockets, rows.bad)
}

/// `None`: malformed; `Some(None)`: a socket that is not listening.
fn parse_row(line: &str, protocol: Protocol) -> Option<Option<Socket>> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (local, state, uid, inode) = (f.get(1)?, f.get(3)?, f.get(7)?, f.get(9)?);
    let state = u8::from_str_radix(state, 16).ok()?;
    let (address, port) = parse_address(local)?;
    let uid = uid.parse().ok()?;
    let inode = inode.parse().ok()?;
    let listening = match protocol {
        Protocol::Tcp => state == TCP_LISTEN,
        Protocol::Udp => state == TCP_CLOSE,
    };
    Some(listening.then_some(Socket {
        protocol,
        address,
        port,
        v6only: None,
        interface: None,
        inode,
        uid,
        netns: 0,
    }))
}

/// `0100007F:0050` or 32 hex digits and a port. The kernel prints each
/// 32-bit word of the address as a host-order integer.
fn parse_address(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let address = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some((address, port))
}

/// Fill in IPV6_V6ONLY for IPv6 sockets read from text tables, which do not
/// carry it. A TCP wildcard `::` socket next to an IPv4 socket on the same
/// port must be v6-only (otherwise the two binds would have conflicted);
/// anything else gets the system default (net.ipv6.bindv6only).
pub(super) fn infer_v6only(sockets: &mut [Socket], bindv6only_default: bool) {
    let v4_ports: Vec<(Protocol, u16)> = sockets
        .iter()
        .filter(|s| s.address.is_ipv4())
        .map(|s| (s.protocol, s.port))
        .collect();
    for s in sockets.iter_mut() {
        if let (IpAddr::V6(_), None) = (s.address, s.v6only) {
            let conflict = s.protocol == Protocol::Tcp
                && s.address.is_unspecified()
                && v4_ports.contains(&(s.protocol, s.port));
            s.v6only = Some(conflict || bindv6only_default);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_rows_and_skips_garbage() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 11426 1 0 100\n\
   1: 0100007F:0035 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 11445 1 0 100\n\
   2: ZZZZ:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n\
   3: truncated\n";
        let (sockets, bad) = parse_table(v4, Protocol::Tcp);
        assert_eq!(bad, 2);
        assert_eq!(sockets.len(), 1, "the established row is not a listener");
        assert_eq!(sockets[0].address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            (sockets[0].port, sockets[0].uid, sockets[0].inode),
            (6379, 102, 11426)
        );

        let v6 = "header\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 42 2\n";
        let (sockets, bad) = parse_table(v6, Protocol::Udp);
        assert_eq!(bad, 0);
        assert_eq!(sockets[0].address, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(sockets[0].port, 8080);
        assert_eq!(parse_table("", Protocol::Tcp), (vec![], 0));
    }

    fn sock(protocol: Protocol, address: IpAddr, port: u16) -> Socket {
        Socket {
            protocol,
            address,
            port,
            v6only: None,
            interface: None,
            inode: 1,
            uid: 0,
            netns: 0,
        }
    }

    #[test]
    fn wildcard_v6_next_to_v4_is_v6only_else_default() {
        let v6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let v4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let mut s = vec![
            sock(Protocol::Tcp, v4, 80),
            sock(Protocol::Tcp, v6, 80),
            sock(Protocol::Tcp, v6, 22),
            sock(Protocol::Udp, v4, 53),
        ];
        infer_v6only(&mut s, false);
        assert_eq!(s[0].v6only, None);
        assert_eq!(s[1].v6only, Some(true));
        assert_eq!(s[2].v6only, Some(false));
        infer_v6only(&mut s, true);
        assert_eq!(s[2].v6only, Some(false), "already known values are kept");
    }
}
