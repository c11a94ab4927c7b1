//! Linux: listening sockets from the text tables in /proc/net/{tcp,udp}{,6}.
//!
//! Used when sock_diag is unavailable for a protocol, and for recorded /proc
//! trees (`--proc-root`). The text tables lack IPV6_V6ONLY and the bound
//! interface, so dual-stack is inferred (see `infer_v6only`).

use std::fs::File;
use std::io::{self, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use procfs::FromBufReadSI;
use procfs::net::{TcpNetEntries, TcpState, UdpNetEntries, UdpState};

use crate::model::{Protocol, Socket};

/// Read one table, e.g. `<proc>/net/tcp6`. A missing file is an empty table
/// (a kernel without IPv6 has no tcp6).
pub(super) fn read(proc_root: &Path, protocol: Protocol, v6: bool) -> io::Result<Vec<Socket>> {
    let name = match (protocol, v6) {
        (Protocol::Tcp, false) => "tcp",
        (Protocol::Tcp, true) => "tcp6",
        (Protocol::Udp, false) => "udp",
        (Protocol::Udp, true) => "udp6",
    };
    let path = proc_root.join("net").join(name);
    let file = match File::open(&path) {
        Ok(f) => BufReader::new(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let info = procfs::current_system_info();
    let invalid = |e: procfs::ProcError| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    };
    let rows: Vec<(SocketAddr, u32, u64)> = match protocol {
        Protocol::Tcp => TcpNetEntries::from_buf_read(file, info)
            .map_err(invalid)?
            .0
            .into_iter()
            .filter(|e| e.state == TcpState::Listen)
            .map(|e| (e.local_address, e.uid, e.inode))
            .collect(),
        Protocol::Udp => UdpNetEntries::from_buf_read(file, info)
            .map_err(invalid)?
            .0
            .into_iter()
            .filter(|e| e.state == UdpState::Close)
            .map(|e| (e.local_address, e.uid, e.inode))
            .collect(),
    };
    Ok(rows
        .into_iter()
        .map(|(addr, uid, inode)| Socket {
            protocol,
            address: addr.ip(),
            port: addr.port(),
            v6only: None,
            interface: None,
            inode,
            uid,
        })
        .collect())
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
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn sock(protocol: Protocol, address: IpAddr, port: u16) -> Socket {
        Socket {
            protocol,
            address,
            port,
            v6only: None,
            interface: None,
            inode: 1,
            uid: 0,
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
