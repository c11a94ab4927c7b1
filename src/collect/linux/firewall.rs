//! Linux: the packet filter of the calling thread's network namespace as
//! one `Ruleset`: the nf_tables rules (nft_filter.rs), the iptables-legacy
//! tables (legacy_filter.rs), rp_filter and the routes a reverse-path
//! check needs (routes.rs). What cannot be read is said in
//! `Ruleset::unread`, never left out silently. On a host with no rules
//! this costs a few netlink dumps and /proc reads.

use std::io;

use super::{legacy_filter, routes};
use crate::model::firewall::Ruleset;

/// Read everything; a namespace thread (netns::run_in) calls this too.
/// `None` when the kernel refuses the rules (not root): then nothing is
/// evaluated, rather than everything undecided. `dump`: the nf_tables
/// chains and rules already dumped in this namespace, if they were.
pub(super) fn read(dump: Option<&super::NftDump>) -> Option<Ruleset> {
    let mut rs = Ruleset::default();
    match super::nft_filter::ruleset_nft(&mut rs, dump) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return None,
        Err(e) => rs.unread.push(unread("nf_tables", &e)),
        Ok(()) => {}
    }
    if let Err(e) = legacy_filter::ruleset_legacy(&mut rs) {
        rs.unread.push(unread("iptables-legacy", &e));
    }
    let interfaces = routes::interfaces().unwrap_or_else(|e| {
        rs.unread
            .push(format!("the interfaces' masters could not be read: {e}"));
        routes::Interfaces::default()
    });
    rs.rp_filter = routes::rp_filter(&interfaces.names);
    rs.enslaved = interfaces.enslaved;
    for v6 in [false, true] {
        match routes::routes(v6, &interfaces.names) {
            Ok((found, notes)) => {
                if v6 {
                    rs.routes_v6 = found;
                } else {
                    rs.routes_v4 = found;
                }
                rs.unread.extend(notes);
            }
            // No IPv6 in this kernel: no IPv6 packet to filter either.
            Err(e) if v6 && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
            Err(e) => rs.unread.push(format!(
                "the IPv{} routes could not be read: {e}",
                if v6 { 6 } else { 4 }
            )),
        }
    }
    Some(rs)
}

/// What a failed backend leaves unread, in one phrase.
fn unread(what: &str, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::PermissionDenied {
        format!("the {what} rules could not be read without root")
    } else {
        format!("the {what} rules could not be read: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_backend_is_named_with_the_reason() {
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            unread("iptables-legacy", &denied),
            "the iptables-legacy rules could not be read without root"
        );
        let gone = io::Error::from_raw_os_error(libc::ENOENT);
        assert!(unread("nf_tables", &gone).starts_with("the nf_tables rules could not be read: "));
    }

    /// A process in a network namespace of its own, killed when dropped
    /// (even when the test fails).
    struct Held(std::process::Child);

    impl Drop for Held {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn another_namespace_has_its_own_firewall_read() {
        use std::io::BufRead;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP another_namespace_has_its_own_firewall_read: needs root");
            return;
        }
        let script = "iptables-legacy -A INPUT -p tcp --dport 2222 -j DROP && iptables-legacy -P FORWARD DROP && echo ready && exec sleep 60";
        let Ok(child) = std::process::Command::new("unshare")
            .args(["-n", "sh", "-c", script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            eprintln!(
                "SKIP another_namespace_has_its_own_firewall_read: needs unshare (util-linux)"
            );
            return;
        };
        let mut held = Held(child);
        let mut line = String::new();
        if let Some(out) = held.0.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            eprintln!(
                "SKIP another_namespace_has_its_own_firewall_read: needs iptables-legacy (apt-get install iptables)"
            );
            return;
        }
        let pid = held.0.id();
        let protocols = [crate::model::Protocol::Tcp];
        let (spaces, _, _, took) =
            super::super::namespaces(&crate::collect::Source::Live, &protocols, None, true);
        let ns = spaces
            .iter()
            .find(|n| n.pids.contains(&pid))
            .expect("the test's namespace is found");
        let rs = ns.firewall.as_ref().expect("its firewall was read");
        let input = rs
            .chains
            .iter()
            .find(|(c, _)| c.table == "filter" && c.chain == "INPUT")
            .map(|(_, rules)| rules.iter().map(|r| r.to_string()).collect::<Vec<_>>());
        assert_eq!(
            input,
            Some(vec!["meta l4proto tcp th dport 2222 drop".to_string()])
        );
        assert!(rs.base_chains.iter().any(
            |b| b.chain.chain == "FORWARD" && b.policy == crate::model::firewall::Policy::Drop
        ));
        // Its own interfaces and routes, not the host's: only lo, down.
        assert!(rs.rp_filter.contains_key("lo") && !rs.rp_filter.contains_key("eth0"));
        assert!(rs.routes_v4.main.is_empty(), "{:?}", rs.routes_v4.main);
        assert!(took > std::time::Duration::ZERO);
        // Counting only: no firewall read.
        let (spaces, _, _, counted) =
            super::super::namespaces(&crate::collect::Source::Live, &protocols, None, false);
        assert!(spaces.iter().all(|n| n.firewall.is_none()));
        assert_eq!(
            counted,
            std::time::Duration::ZERO,
            "nothing read, nothing timed"
        );
    }
}
