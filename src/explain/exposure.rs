//! Who can reach a listening socket, in plain words: loopback only, every
//! interface (naming the host's addresses that reach it), one address, one
//! interface, or a link-local network segment.

use std::net::IpAddr;

use crate::report::Listener;

pub use crate::report::Exposure;

/// The exposure of `l` in a network namespace with these addresses
/// (`None`: they could not be read).
pub fn exposure(l: &Listener, ns_addresses: Option<&[(String, IpAddr)]>) -> Exposure {
    let known = ns_addresses.is_some();
    let host_addresses = ns_addresses.unwrap_or_default();
    let address = l.address;
    if is_loopback(address) {
        return Exposure::Loopback;
    }
    if let IpAddr::V6(v6) = address
        && (v6.segments()[0] & 0xffc0) == 0xfe80
    {
        return Exposure::LinkLocal {
            interface: l.interface.clone(),
        };
    }
    if address.is_unspecified() {
        if let Some(name) = &l.interface {
            if name == "lo" {
                return Exposure::Loopback;
            }
            return Exposure::Interface { name: name.clone() };
        }
        let ipv4 = address.is_ipv4() || l.dual_stack;
        let ipv6 = address.is_ipv6();
        let mut addresses: Vec<(String, IpAddr)> = host_addresses
            .iter()
            .filter(|(_, a)| !is_loopback(*a) && ((a.is_ipv4() && ipv4) || (a.is_ipv6() && ipv6)))
            .cloned()
            .collect();
        addresses.sort_by(|a, b| (a.1.is_ipv6(), &a.0, a.1).cmp(&(b.1.is_ipv6(), &b.0, b.1)));
        addresses.dedup();
        return Exposure::All {
            ipv4,
            ipv6,
            addresses,
            known,
        };
    }
    let interface = l.interface.clone().or_else(|| {
        host_addresses
            .iter()
            .find(|(_, a)| *a == address || v4_mapped(address) == Some(*a))
            .map(|(i, _)| i.clone())
    });
    Exposure::Address { interface }
}

/// 127.0.0.0/8, ::1, and ::ffff:127.x.y.z.
pub fn is_loopback(address: IpAddr) -> bool {
    address.is_loopback() || v4_mapped(address).is_some_and(|a| a.is_loopback())
}

fn v4_mapped(address: IpAddr) -> Option<IpAddr> {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;
    use crate::report::OwnerStatus;

    fn listener(address: &str, dual_stack: bool, interface: Option<&str>) -> Listener {
        Listener {
            protocol: Protocol::Tcp,
            address: address
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            port: 80,
            interface: interface.map(String::from),
            dual_stack,
            inode: 1,
            socket_uid: 0,
            netns: 0,
            service: None,
            owners: vec![],
            owner_status: OwnerStatus::Kernel,
        }
    }

    fn host() -> Vec<(String, IpAddr)> {
        [
            ("lo", "127.0.0.1"),
            ("lo", "::1"),
            ("eth0", "10.0.0.5"),
            ("eth0", "fe80::1"),
            ("eth0", "2001:db8::5"),
        ]
        .iter()
        .filter_map(|(i, a)| Some((i.to_string(), a.parse().ok()?)))
        .collect()
    }

    #[test]
    fn loopback_addresses() {
        for a in ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(
                exposure(&listener(a, false, None), Some(&host())),
                Exposure::Loopback,
                "{a}"
            );
        }
        assert_eq!(
            exposure(&listener("0.0.0.0", false, Some("lo")), Some(&host())),
            Exposure::Loopback
        );
    }

    #[test]
    fn wildcards_list_the_addresses_they_expose() {
        let names = |e: Exposure| match e {
            Exposure::All {
                addresses,
                ipv4,
                ipv6,
                ..
            } => (
                ipv4,
                ipv6,
                addresses
                    .iter()
                    .map(|(_, a)| a.to_string())
                    .collect::<Vec<_>>(),
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            names(exposure(&listener("0.0.0.0", false, None), Some(&host()))),
            (true, false, vec!["10.0.0.5".into()])
        );
        assert_eq!(
            names(exposure(&listener("::", true, None), Some(&host()))),
            (
                true,
                true,
                vec!["10.0.0.5".into(), "2001:db8::5".into(), "fe80::1".into()]
            )
        );
        assert_eq!(
            names(exposure(&listener("::", false, None), Some(&host()))),
            (false, true, vec!["2001:db8::5".into(), "fe80::1".into()])
        );
    }

    #[test]
    fn specific_addresses_interfaces_and_link_local() {
        assert_eq!(
            exposure(&listener("10.0.0.5", false, None), Some(&host())),
            Exposure::Address {
                interface: Some("eth0".into())
            }
        );
        assert_eq!(
            exposure(&listener("0.0.0.0", false, Some("eth0")), Some(&host())),
            Exposure::Interface {
                name: "eth0".into()
            }
        );
        assert_eq!(
            exposure(&listener("fe80::1", false, Some("eth0")), Some(&host())),
            Exposure::LinkLocal {
                interface: Some("eth0".into())
            }
        );
        assert!(exposure(&listener("10.0.0.5", false, None), Some(&host())).beyond_loopback());
    }

    #[test]
    fn a_wildcard_reaches_what_its_own_namespace_has() {
        let only_lo = [("lo".to_string(), IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))];
        let l = listener("0.0.0.0", false, None);
        let e = exposure(&l, Some(&only_lo));
        assert!(!e.beyond_loopback(), "{e:?}");
        let bridge = [(
            "eth0".to_string(),
            IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 2)),
        )];
        assert!(exposure(&l, Some(&bridge)).beyond_loopback());
        // Unknown addresses are not taken as none.
        assert!(exposure(&l, None).beyond_loopback());
    }
}
