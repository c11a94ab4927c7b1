//! Tests of the xtables decoders over struct bytes laid out by hand from
//! the kernel's uapi headers.

use super::*;
use crate::model::firewall::{ct, rtn};

fn h16(v: u16) -> [u8; 2] {
    v.to_ne_bytes()
}

fn xt_tcp(spts: (u16, u16), dpts: (u16, u16), mask: u8, cmp: u8, inv: u8) -> Vec<u8> {
    let mut b = vec![0u8; 12];
    b[0..2].copy_from_slice(&h16(spts.0));
    b[2..4].copy_from_slice(&h16(spts.1));
    b[4..6].copy_from_slice(&h16(dpts.0));
    b[6..8].copy_from_slice(&h16(dpts.1));
    b[9] = mask;
    b[10] = cmp;
    b[11] = inv;
    b
}

fn show(conds: &[Cond]) -> String {
    conds
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn tcp_ports_and_syn() {
    // -p tcp --dport 22 --syn
    let b = xt_tcp((0, 65535), (22, 22), 0x17, 0x02, 0);
    assert_eq!(
        match_conds("tcp", 0, &b, false),
        vec![
            Cond::Dport {
                negated: false,
                ranges: vec![(22, 22)]
            },
            Cond::TcpFlags {
                negated: false,
                mask: 0x17,
                value: 0x02
            }
        ]
    );
    // --sport 1024:2048 ! --dport 80:90
    let b = xt_tcp((1024, 2048), (80, 90), 0, 0, 0x02);
    assert_eq!(
        show(&match_conds("tcp", 0, &b, false)),
        "th sport 1024-2048 th dport != 80-90"
    );
    // ! --syn, and an option test.
    let mut b = xt_tcp((0, 65535), (0, 65535), 0x17, 0x02, 0x04);
    b[8] = 2;
    assert_eq!(
        show(&match_conds("tcp", 0, &b, false)),
        "tcp flags & 0x17 != 0x02 -m tcp --tcp-option 2"
    );
    // ! --dport 0:65535 holds for no packet: kept, not dropped.
    let b = xt_tcp((0, 65535), (0, 65535), 0, 0, 0x02);
    assert_eq!(
        show(&match_conds("tcp", 0, &b, false)),
        "th dport != 0-65535"
    );
    // udp: invflags at 8.
    let mut u = xt_tcp((0, 65535), (53, 53), 0, 0, 0)[..9].to_vec();
    u[8] = 0x02;
    assert_eq!(show(&match_conds("udp", 0, &u, true)), "th dport != 53");
    // Short structs are undecoded, never taken as every port.
    assert!(matches!(
        match_conds("tcp", 0, &[0; 6], false)[..],
        [Cond::Unknown(_)]
    ));
}

fn multiport_v1(flags: u8, ports: &[u16], pflags: &[u8], invert: bool) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0] = flags;
    b[1] = ports.len() as u8;
    for (i, p) in ports.iter().enumerate() {
        b[2 + 2 * i..4 + 2 * i].copy_from_slice(&h16(*p));
    }
    b[32..32 + pflags.len()].copy_from_slice(pflags);
    b[47] = u8::from(invert);
    b
}

#[test]
fn multiport_lists_and_ranges() {
    // --dports 22,80:90,443
    let b = multiport_v1(1, &[22, 80, 90, 443], &[0, 1, 0, 0], false);
    assert_eq!(
        show(&match_conds("multiport", 1, &b, false)),
        "th dport { 22, 80-90, 443 }"
    );
    let b = multiport_v1(0, &[1000], &[0], true);
    assert_eq!(
        show(&match_conds("multiport", 1, &b, false)),
        "th sport != 1000"
    );
    // --ports: source or destination, not a conjunction.
    let b = multiport_v1(2, &[25], &[0], false);
    assert!(matches!(
        match_conds("multiport", 1, &b, false)[..],
        [Cond::Unknown(_)]
    ));
    assert_eq!(
        match_alternatives("multiport", 1, &b, false),
        [
            vec![Cond::Sport {
                negated: false,
                ranges: vec![(25, 25)]
            }],
            vec![Cond::Dport {
                negated: false,
                ranges: vec![(25, 25)]
            }]
        ]
    );
    // ! --ports: neither.
    let b = multiport_v1(2, &[25], &[0], true);
    assert_eq!(
        show(&match_conds("multiport", 1, &b, false)),
        "th sport != 25 th dport != 25"
    );
    // Revision 0: single ports only.
    let b = &multiport_v1(1, &[80, 443], &[], false)[..32];
    assert_eq!(
        show(&match_conds("multiport", 0, b, false)),
        "th dport { 80, 443 }"
    );
    // A count beyond the array, a range running off the end.
    let mut bad = multiport_v1(1, &[80], &[1], false);
    assert!(matches!(
        match_conds("multiport", 1, &bad, false)[..],
        [Cond::Unknown(_)]
    ));
    bad[1] = 16;
    assert!(matches!(
        match_conds("multiport", 1, &bad, false)[..],
        [Cond::Unknown(_)]
    ));
}

fn conntrack_info(rev: u32, flags: u16, invert: u16, state: u16) -> Vec<u8> {
    let mut b = vec![0u8; if rev == 3 { 168 } else { 160 }];
    b[136..138].copy_from_slice(&h16(6));
    b[146..148].copy_from_slice(&h16(flags));
    b[148..150].copy_from_slice(&h16(invert));
    if rev == 1 {
        b[150] = state as u8;
    } else {
        b[150..152].copy_from_slice(&h16(state));
    }
    b
}

#[test]
fn conntrack_states() {
    // --ctstate RELATED,ESTABLISHED (revision 1: state_mask is a u8).
    let b = conntrack_info(1, 1, 0, 2 | 4);
    assert_eq!(
        match_conds("conntrack", 1, &b, false),
        vec![Cond::CtState {
            negated: false,
            mask: ct::ESTABLISHED | ct::RELATED
        }]
    );
    // ! --ctstate NEW,UNTRACKED (revision 3: UNTRACKED is 1 << 8 here).
    let b = conntrack_info(3, 1, 1, 8 | 256);
    assert_eq!(
        match_conds("conntrack", 3, &b, true),
        vec![Cond::CtState {
            negated: true,
            mask: ct::NEW | ct::UNTRACKED
        }]
    );
    // --ctstate DNAT (Docker's forward rules).
    let b = conntrack_info(2, 1, 0, 128);
    assert_eq!(
        match_conds("conntrack", 2, &b, false),
        vec![Cond::CtDnat { negated: false }]
    );
    // NEW or DNAT: an "or" the conditions cannot say; inverted, both
    // negated conditions hold.
    let b = conntrack_info(2, 1, 0, 8 | 128);
    assert!(matches!(
        &match_conds("conntrack", 2, &b, false)[..],
        [Cond::Unknown(w)] if w == "-m conntrack --ctstate NEW,DNAT"
    ));
    // Firewalld's RELATED,ESTABLISHED,DNAT: two alternatives.
    let b = conntrack_info(2, 1 | 2, 0, 2 | 4 | 128);
    let alts: Vec<String> = match_alternatives("conntrack", 2, &b, false)
        .iter()
        .map(|c| show(c))
        .collect();
    assert_eq!(
        alts,
        [
            "ct state { established, related } meta l4proto tcp",
            "ct status dnat meta l4proto tcp"
        ]
    );
    assert_eq!(
        match_alternatives("conntrack", 2, &conntrack_info(2, 1, 0, 2), false).len(),
        1
    );
    let b = conntrack_info(2, 1, 1, 8 | 128);
    assert_eq!(
        show(&match_conds("conntrack", 2, &b, false)),
        "ct state != new ct status != dnat"
    );
    // SNAT status: not evaluated.
    let b = conntrack_info(2, 1, 0, 64);
    assert!(matches!(
        match_conds("conntrack", 2, &b, false)[..],
        [Cond::Unknown(_)]
    ));
    // --ctproto tcp --ctorigdstport 80: the protocol decided, the rest
    // named.
    let b = conntrack_info(3, 2 | (1 << 9), 0, 0);
    assert_eq!(
        show(&match_conds("conntrack", 3, &b, false)),
        "meta l4proto tcp -m conntrack --ctorigdstport"
    );
    // -m state --state NEW,ESTABLISHED: xt_state_info, UNTRACKED 1 << 6.
    let s = (8u32 | 2 | 64).to_ne_bytes();
    assert_eq!(
        match_conds("state", 0, &s, false),
        vec![Cond::CtState {
            negated: false,
            mask: ct::NEW | ct::ESTABLISHED | ct::UNTRACKED
        }]
    );
    assert!(matches!(
        match_conds("conntrack", 0, &b, false)[..],
        [Cond::Unknown(_)]
    ));
}

#[test]
fn addrtype_revisions() {
    // Revision 1: --dst-type LOCAL (1 << RTN_LOCAL), ! --src-type
    // BROADCAST,MULTICAST.
    let mut b = vec![0u8; 8];
    b[0..2].copy_from_slice(&h16((1 << 3) | (1 << 5)));
    b[2..4].copy_from_slice(&h16(1 << 2));
    b[4..8].copy_from_slice(&1u32.to_ne_bytes());
    assert_eq!(
        match_conds("addrtype", 1, &b, false),
        vec![
            Cond::SaddrType {
                negated: true,
                types: vec![rtn::BROADCAST, rtn::MULTICAST]
            },
            Cond::DaddrType {
                negated: false,
                types: vec![rtn::LOCAL]
            }
        ]
    );
    // Revision 0: ! --dst-type LOCAL through invert_dest.
    let mut b = vec![0u8; 12];
    b[2..4].copy_from_slice(&h16(1 << 2));
    b[8..12].copy_from_slice(&1u32.to_ne_bytes());
    assert_eq!(
        show(&match_conds("addrtype", 0, &b, false)),
        "fib daddr type != local"
    );
    // --limit-iface-in: the type on one interface only.
    let mut b = vec![0u8; 8];
    b[2..4].copy_from_slice(&h16(1 << 2));
    b[4..8].copy_from_slice(&4u32.to_ne_bytes());
    assert!(matches!(
        match_conds("addrtype", 1, &b, false)[..],
        [Cond::Unknown(_)]
    ));
}

#[test]
fn iprange_both_revisions() {
    // Revision 1, IPv4: --src-range 10.0.0.1-10.0.0.9 ! --dst-range ...
    let mut b = vec![0u8; 68];
    b[0..4].copy_from_slice(&[10, 0, 0, 1]);
    b[16..20].copy_from_slice(&[10, 0, 0, 9]);
    b[32..36].copy_from_slice(&[192, 0, 2, 1]);
    b[48..52].copy_from_slice(&[192, 0, 2, 2]);
    b[64] = 0x01 | 0x02 | 0x20;
    assert_eq!(
        show(&match_conds("iprange", 1, &b, false)),
        "saddr 10.0.0.1-10.0.0.9 daddr != 192.0.2.1-192.0.2.2"
    );
    // IPv6.
    let mut b = vec![0u8; 68];
    b[15] = 1;
    b[31] = 5;
    b[64] = 0x01;
    assert_eq!(show(&match_conds("iprange", 1, &b, true)), "saddr ::1-::5");
    // Revision 0: ipt_iprange_info.
    let mut b = vec![0u8; 17];
    b[0..4].copy_from_slice(&[10, 0, 0, 1]);
    b[4..8].copy_from_slice(&[10, 0, 0, 2]);
    b[16] = 0x11;
    assert_eq!(
        show(&match_conds("iprange", 0, &b, false)),
        "saddr != 10.0.0.1-10.0.0.2"
    );
}

#[test]
fn rpfilter_sense() {
    // -m rpfilter --invert -j DROP: holds for sources that fail.
    assert_eq!(
        match_conds("rpfilter", 0, &[0x08], false),
        vec![Cond::RpfFails {
            negated: false,
            loose: false
        }]
    );
    // -m rpfilter --loose --validmark: holds for sources that pass.
    assert_eq!(
        match_conds("rpfilter", 0, &[0x01 | 0x02], true),
        vec![Cond::RpfFails {
            negated: true,
            loose: true
        }]
    );
}

#[test]
fn unknown_matches_name_themselves() {
    let mut recent = vec![0u8; 212];
    recent[8] = 4;
    recent[10..13].copy_from_slice(b"SSH");
    assert_eq!(
        match_conds("recent", 0, &recent, false),
        vec![Cond::Unknown("-m recent --update --name SSH".into())]
    );
    let mut mark = vec![0u8; 12];
    mark[0..4].copy_from_slice(&1u32.to_ne_bytes());
    mark[4..8].copy_from_slice(&0xffu32.to_ne_bytes());
    mark[8] = 1;
    assert_eq!(
        match_conds("connmark", 1, &mark, false),
        vec![Cond::Unknown("-m connmark ! --mark 0x1/0xff".into())]
    );
    for name in ["limit", "hashlimit", "set", "mac", "bpf", "u32", "physdev"] {
        assert_eq!(
            match_conds(name, 0, &[0; 40], false),
            vec![Cond::Unknown(format!("-m {name}"))]
        );
    }
    let mut c = vec![0u8; 256];
    c[..5].copy_from_slice(b"allow");
    assert!(match_conds("comment", 0, &c, false).is_empty());
    assert_eq!(comment(&c).as_deref(), Some("allow"));
    assert_eq!(comment(&[0; 256]), None);
}

#[test]
fn targets() {
    assert_eq!(target_verdict("REJECT", 0, &[0; 8]), Verdict::Reject);
    assert_eq!(target_verdict("LOG", 0, &[0; 40]), Verdict::Continue);
    assert_eq!(target_verdict("DNAT", 2, &[]), Verdict::Nat);
    assert_eq!(target_verdict("MASQUERADE", 0, &[]), Verdict::Accept);
    // CT --zone 1 goes on; CT --notrack changes the state later rules see.
    let mut zone = vec![0u8; 32];
    zone[2..4].copy_from_slice(&h16(1));
    assert_eq!(target_verdict("CT", 1, &zone), Verdict::Continue);
    zone[0..2].copy_from_slice(&h16(1));
    assert!(matches!(
        target_verdict("CT", 1, &zone),
        Verdict::Unknown(_)
    ));
    assert!(matches!(
        target_verdict("NOTRACK", 0, &[]),
        Verdict::Unknown(_)
    ));
    assert_eq!(
        target_verdict("NFQUEUE", 3, &[0; 8]),
        Verdict::Unknown("-j NFQUEUE".into())
    );
}
