use super::*;

fn err(text: &str) -> PolicyError {
    match parse(text) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn parses_every_rule_field() {
    let p = parse(
        r#"
default = "allow"
ignore_warnings = ["root-unneeded"]

[[allow]]
port = 22
protocol = "tcp"
bind = "any"
process = "sshd"
exe = "/usr/sbin/sshd"
user = "root"
unit = "ssh.service"

[[allow]]
ports = [80, 443]
family = "ipv6"
bind = "10.0.0.0/8"
container = "web"
ignore_warnings = ["exposed-datastore"]

[[deny]]
range = "6000-6100"
protocol = "udp"
bind = "exposed"
reason = "X11 must not be reachable"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.default, Decision::Allow);
    assert_eq!(p.ignore_warnings, vec!["root-unneeded"]);
    // Deny rules come first.
    let d = &p.rules[0];
    assert_eq!((d.decision, d.index, d.line), (Decision::Deny, 1, 21));
    assert_eq!(
        d.ports,
        Some(vec![PortRange {
            start: 6000,
            end: 6100
        }])
    );
    assert_eq!(d.protocol, Some(Protocol::Udp));
    assert_eq!(d.bind, Bind::Exposed);
    assert_eq!(d.reason.as_deref(), Some("X11 must not be reachable"));
    let a = &p.rules[1];
    assert_eq!((a.decision, a.index, a.line), (Decision::Allow, 1, 5));
    assert_eq!(a.process.as_deref(), Some(&b"sshd"[..]));
    assert_eq!(a.exe.as_deref(), Some(&b"/usr/sbin/sshd"[..]));
    assert_eq!(a.user.as_deref(), Some("root"));
    assert_eq!(a.unit.as_deref(), Some("ssh.service"));
    assert_eq!(a.bind, Bind::Any);
    let b = &p.rules[2];
    assert_eq!((b.index, b.line), (2, 14));
    assert_eq!(b.ports.as_ref().map(Vec::len), Some(2));
    assert_eq!(b.family, Some(Family::Ipv6));
    assert_eq!(
        b.bind,
        Bind::Network("10.0.0.0".parse().unwrap_or_else(|_| unreachable!()), 8)
    );
    assert_eq!(b.container.as_deref(), Some("web"));
    assert_eq!(b.ignore_warnings, vec!["exposed-datastore"]);
    assert_eq!(b.label(), "allow #2 (line 14)");
}

#[test]
fn default_is_deny_and_an_empty_policy_is_valid() {
    let p = parse("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.default, Decision::Deny);
    assert!(p.rules.is_empty());
}

#[test]
fn an_unknown_key_is_an_error_with_its_position() {
    let e = err("default = \"deny\"\n[[allow]]\nport = 22\nprot = \"tcp\"\n");
    assert_eq!((e.line, e.column), (4, 1), "{e}");
    assert!(e.message.contains("unknown field `prot`"), "{e}");
    assert!(
        e.message.contains("protocol"),
        "lists what is expected: {e}"
    );
    let e = err("defualt = \"deny\"\n");
    assert_eq!((e.line, e.column), (1, 1), "{e}");
}

#[test]
fn bad_values_name_line_and_column() {
    let e = err("[[allow]]\nport = 70000\n");
    assert_eq!((e.line, e.column), (2, 8), "{e}");
    let e = err("[[allow]]\nport = 22\nprotocol = \"sctp\"\n");
    assert_eq!((e.line, e.column), (3, 12), "{e}");
    assert!(e.message.contains("tcp"), "{e}");
    let e = err("default = \"maybe\"\n");
    assert_eq!((e.line, e.column), (1, 11), "{e}");
    let e = err("[[deny]]\n  range = \"8080-80\"\n");
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert!(e.message.contains("low-high"), "{e}");
    let e = err("[[allow]]\nport = 22\nbind = \"everywhere\"\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("loopback"), "{e}");
    let e = err("[[allow]]\nport = 22\nbind = \"10.0.0.0/33\"\n");
    assert_eq!(e.line, 3, "{e}");
    let e = err("ignore_warnings = [\"root-unneded\"]\n");
    assert_eq!(e.line, 1, "{e}");
    assert!(
        e.message.contains("root-unneeded"),
        "lists the known ids: {e}"
    );
    let e = err("[[allow]]\nport = \"22\"\n");
    assert_eq!((e.line, e.column), (2, 8), "{e}");
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = err("[[allow]]\nport = 22\nprocess = \"sshd\n");
    assert_eq!(e.line, 3, "{e}");
    let e = err("[[allow]\nport = 22\n");
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn rule_level_mistakes_point_at_the_rule() {
    let e = err("default = \"deny\"\n\n[[allow]]\nport = 22\nports = [23]\n");
    assert_eq!((e.line, e.column), (3, 1), "{e}");
    assert!(e.message.contains("only one of"), "{e}");
    let e = err("[[allow]]\nport = 1\n\n  [[deny]]\n  reason = \"no\"\n");
    assert_eq!((e.line, e.column), (4, 3), "{e}");
    assert!(e.message.contains("no condition"), "{e}");
    let e = err("[[allow]]\nports = []\n");
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(LineIndex::new("é = 1\nab").line_column(8), (2, 2));
    assert_eq!(LineIndex::new("x").line_column(99), (1, 2));
}

#[test]
fn names_that_are_not_utf8_are_given_as_hex_bytes() {
    let p = parse(
        "[[allow]]\nport = 1\nprocess_hex = \"6576FF\"\nexe_hex = \"2f70ff\"\n\n[[allow]]\nport = 2\nprocess = \"ev\\uFFFD\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rules[0].process.as_deref(), Some(&b"ev\xff"[..]));
    assert_eq!(p.rules[0].exe.as_deref(), Some(&b"/p\xff"[..]));
    // A string is its UTF-8, never a stand-in for other bytes.
    assert_eq!(p.rules[1].process.as_deref(), Some("ev\u{fffd}".as_bytes()));
    for bad in ["\"6\"", "\"zz\"", "\"\"", "\"6576 ff\""] {
        let e = err(&format!("[[allow]]\nport = 1\nexe_hex = {bad}\n"));
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("hex"), "{e}");
    }
    let e = err("[[allow]]\nprocess = \"a\"\nprocess_hex = \"61\"\n");
    assert!(
        e.message.contains("only one of process and process_hex"),
        "{e}"
    );
}

/// A policy is indexed once however many rules it has: finding each
/// rule's header by scanning the text again made 20,000 rules take two
/// minutes. The positions found through the index are checked too.
#[test]
fn the_text_is_indexed_once_for_every_rule() {
    let mut text = String::from("default = \"deny\"\n");
    for port in 0..20_000u32 {
        text.push_str(&format!(
            "\n# rule {port}\n[[allow]]\nport = {}\nprocess = \"p{port}\"\n",
            port % 65_536
        ));
    }
    let before = INDEXES_BUILT.with(std::cell::Cell::get);
    let p = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(INDEXES_BUILT.with(std::cell::Cell::get) - before, 1);
    assert_eq!(p.rules.len(), 20_000);
    for (i, r) in p.rules.iter().enumerate() {
        assert_eq!(r.line, 4 + 5 * i, "{}", r.label());
    }
    let mut text = text.clone();
    text.push_str("\n[[allow]]\nport = 1\nports = [2]\n");
    let before = INDEXES_BUILT.with(std::cell::Cell::get);
    let e = err(&text);
    assert_eq!(INDEXES_BUILT.with(std::cell::Cell::get) - before, 1);
    // 1 + 5 * 20,000 lines, a blank one, then the bad rule's header.
    assert_eq!((e.line, e.column), (1 + 5 * 20_000 + 2, 1), "{e}");
}

#[test]
fn an_unseen_owner_cannot_be_ignored() {
    for text in [
        "ignore_warnings = [\"owner-unknown\"]\n",
        "[[allow]]\nport = 1\nignore_warnings = [\"owner-unknown\"]\n",
    ] {
        let e = parse(text).err().map(|e| e.message).unwrap_or_default();
        assert!(
            e.contains("cannot be ignored") && e.contains("root"),
            "{text}: {e}"
        );
    }
}

#[test]
fn waivers_need_a_date_and_a_rule_that_makes_findings() {
    let err = |text: &str| parse(text).err().map(|e| e.message).unwrap_or_default();
    assert!(
        err("[[allow]]\nport = 1\nwaiver = { reason = \"r\", until = 2027-01-31 }\n")
            .contains("allow rule makes no finding to waive")
    );
    assert!(
        err("[[deny]]\nport = 1\nwaiver = { reason = \"r\", until = 2027-01-31T10:00:00Z }\n")
            .contains("must be a date")
    );
    assert!(
        err("[[deny]]\nport = 1\nwaiver = { reason = \" \", until = 2027-01-31 }\n")
            .contains("needs a reason")
    );
    assert!(err("[warnings.no-such]\nseverity = \"low\"\n").contains("unknown warning id"));
    assert!(err("[[deny]]\nport = 1\nseverity = \"urgent\"\n").contains("urgent"));
    assert!(err("[[deny]]\nport = 1\nid = \"a b\"\n").contains("id = "));
    let p = parse("[[require]]\nid = \"NET-001\"\nport = 22\nseverity = \"critical\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rules[0].stable_name(), "require NET-001");
}
