//! The decoder on rules and sets built byte by byte: what no tool loads
//! (an interface index that names nothing here) and the set shapes whose
//! reading is easy to get wrong (interval ends, wildcard names, `*`).

use std::rc::Rc;

use super::expr::decode;
use super::nft::RawRule;
use super::sets::{self, Elem, Env, Found, SetData};
use super::vals::Val;
use crate::model::firewall::{Cond, Verdict};

struct Fake(Vec<(String, SetData)>);

impl Env for Fake {
    fn set(&mut self, name: &str) -> Result<Rc<SetData>, String> {
        let found = self.0.iter().find(|(n, _)| n == name);
        found
            .map(|(_, d)| Rc::new(d.clone()))
            .ok_or_else(|| "no such set".into())
    }
    fn ifname(&self, index: u32) -> Option<String> {
        (index == 1).then(|| "lo".into())
    }
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out
}

fn be(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// `meta load iif => reg 1; cmp eq reg 1 INDEX; accept`.
fn iif_rule(index: u32) -> RawRule {
    let meta = [attr(1, &be(1)), attr(2, &be(4))].concat();
    let cmp = [
        attr(1, &be(1)),
        attr(2, &be(0)),
        attr(3, &attr(1, &index.to_ne_bytes())),
    ]
    .concat();
    let verdict = attr(2, &attr(2, &attr(1, &be(1))));
    let imm = [attr(1, &be(0)), verdict].concat();
    RawRule {
        family: 1,
        handle: 7,
        exprs: vec![
            ("meta".into(), meta),
            ("cmp".into(), cmp),
            ("immediate".into(), imm),
        ],
        ..RawRule::default()
    }
}

#[test]
fn an_interface_index_is_named_in_the_namespace_or_left_undecided() {
    let mut env = Fake(Vec::new());
    let rules = decode(&iif_rule(1), &mut env);
    assert_eq!(rules[0].to_string(), "iifname \"lo\" accept");
    assert_eq!(rules[0].number, 7);
    let rules = decode(&iif_rule(99), &mut env);
    assert_eq!(rules[0].conds, [Cond::Unknown("iif 0x63".into())]);
    assert_eq!(rules[0].verdict, Verdict::Accept);
}

#[test]
fn an_expression_not_read_is_kept_as_undecided() {
    let mut rule = iif_rule(1);
    rule.exprs.insert(0, ("frobnicate".into(), Vec::new()));
    rule.exprs.insert(1, ("counter".into(), Vec::new()));
    let rules = decode(&rule, &mut Fake(Vec::new()));
    assert_eq!(
        rules[0].to_string(),
        "expression frobnicate iifname \"lo\" accept"
    );
}

fn name16(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(16, 0);
    b
}

fn elem(key: Vec<u8>, flags: u32, verdict: Option<Verdict>) -> Elem {
    Elem {
        key,
        key_end: None,
        flags,
        verdict,
    }
}

#[test]
fn interval_sets_of_names_hold_wildcards() {
    // nft's `iifname { "eth*", "lo" }`: "eth" + zeros up to "eti"
    // (exclusive), "lo" up to "lo" + 1, and an end at zero.
    let mut lo_end = name16("lo");
    lo_end[15] = 1;
    let set = SetData {
        flags: sets::SET_INTERVAL,
        key_len: 16,
        elems: vec![
            elem(lo_end, 1, None),
            elem(name16("lo"), 0, None),
            elem(name16("eti"), 1, None),
            elem(name16("eth"), 0, None),
            elem(vec![0; 16], 1, None),
        ],
    };
    let mut env = Fake(vec![("__set0".into(), set)]);
    let Found::Cond(c) = sets::lookup(
        &mut env,
        "__set0",
        &[Val::IfName { out: false }],
        false,
        false,
    ) else {
        panic!("not one condition");
    };
    assert_eq!(c.to_string(), "iifname { \"eth*\", \"lo\" }");
}

#[test]
fn a_verdict_maps_catch_all_is_every_other_key() {
    let set = SetData {
        flags: 0x8,
        key_len: 2,
        elems: vec![
            elem(vec![0, 22], 0, Some(Verdict::Accept)),
            elem(Vec::new(), 2, Some(Verdict::Drop)),
        ],
    };
    let mut env = Fake(vec![("m".into(), set)]);
    let Found::Branches(b) = sets::lookup(&mut env, "m", &[Val::Port { src: false }], false, true)
    else {
        panic!("not branches");
    };
    let got: Vec<String> = b
        .iter()
        .map(|b| format!("{} {:?}", b.conds[0], b.verdict))
        .collect();
    assert_eq!(
        got,
        ["th dport 22 Some(Accept)", "th dport != 22 Some(Drop)"]
    );
    // A set the packet path fills is undecided, whatever it holds now.
    let dynamic = SetData {
        flags: sets::SET_EVAL,
        key_len: 2,
        elems: Vec::new(),
    };
    let mut env = Fake(vec![("d".into(), dynamic)]);
    let Found::Cond(c) = sets::lookup(&mut env, "d", &[Val::Port { src: false }], false, false)
    else {
        panic!("not one condition");
    };
    assert_eq!(c, Cond::Unknown("th dport in dynamic set @d".into()));
}

/// `ipsec in reqid @s accept` as the kernel dumps it: the xfrm load's
/// fourth attribute is its SA index (0), not a length. A load of no length
/// once kept the lookup's walk over the registers from ever ending (a hang
/// that grew without bound, from rules any user may write in a namespace
/// of their own); now it is one rule, undecided.
#[test]
fn a_lookup_of_an_xfrm_load_ends_and_is_undecided() {
    let xfrm = [
        attr(1, &be(1)), // DREG: register 1
        attr(2, &be(5)), // KEY: reqid
        attr(3, &[0]),   // DIR: in
        attr(4, &be(0)), // SPNUM: 0
    ]
    .concat();
    let lookup = [attr(1, b"s\0"), attr(2, &be(1))].concat();
    let verdict = attr(2, &attr(2, &attr(1, &be(1))));
    let imm = [attr(1, &be(0)), verdict].concat();
    let rule = RawRule {
        family: 1,
        handle: 9,
        exprs: vec![
            ("xfrm".into(), xfrm),
            ("lookup".into(), lookup),
            ("immediate".into(), imm),
        ],
        ..RawRule::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(decode(&rule, &mut Fake(Vec::new())));
    });
    let rules = rx
        .recv_timeout(std::time::Duration::from_secs(2))
        .unwrap_or_else(|_| panic!("decoding an xfrm lookup did not end"));
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0].conds.iter().any(|c| matches!(c, Cond::Unknown(_))),
        "{:?}",
        rules[0].conds
    );
    assert_eq!(rules[0].verdict, Verdict::Accept);
}
