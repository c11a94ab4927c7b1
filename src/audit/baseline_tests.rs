use super::*;

fn owner(pid: u32, name: &str, user: &str) -> Owner {
    Owner {
        pid,
        name: name.into(),
        exe: Some(format!("/usr/bin/{name}")),
        cmdline: vec![name.into(), format!("--pid={pid}")],
        user: Some(user.into()),
        uid: Some(0),
        started_at: Some(format!("2026-11-25T10:00:{:02}Z", pid % 60)),
        name_hex: None,
    }
}

fn entry(address: &str, port: u16, owners: Vec<Owner>) -> Entry {
    Entry {
        protocol: "tcp".into(),
        address: address.into(),
        port,
        dual_stack: false,
        processes: owners,
        owner_status: "visible".into(),
        forwarded_to: None,
        forwarded_ports: None,
    }
}

fn base(listeners: Vec<Entry>) -> Baseline {
    Baseline {
        version: 1,
        listeners,
        forwarded: Vec::new(),
    }
}

fn kinds(d: &Diff) -> Vec<(ChangeKind, u16)> {
    d.changes.iter().map(|c| (c.kind, c.entry.port)).collect()
}

#[test]
fn nothing_changes_when_only_pids_and_start_times_do() {
    let a = base(vec![entry("0.0.0.0", 22, vec![owner(10, "sshd", "root")])]);
    let b = base(vec![entry("0.0.0.0", 22, vec![owner(99, "sshd", "root")])]);
    let d = diff(&a, &b, false);
    assert!(d.changes.is_empty(), "{d:?}");
    assert_eq!(d.kept, 1);
    let d = diff(&a, &b, true);
    assert_eq!(kinds(&d), vec![(ChangeKind::Changed, 22)]);
    let details = &d.changes[0].details;
    assert!(details.iter().any(|l| l == "pid: 10 -> 99"), "{details:?}");
    assert!(
        details.iter().any(|l| l.starts_with("started: ")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|l| l.starts_with("command line: ")),
        "{details:?}"
    );
}

#[test]
fn opened_closed_and_owner_changes() {
    let a = base(vec![
        entry("0.0.0.0", 22, vec![owner(10, "sshd", "root")]),
        entry("0.0.0.0", 80, vec![owner(20, "nginx", "root")]),
        entry("127.0.0.1", 5432, vec![owner(30, "postgres", "postgres")]),
    ]);
    let b = base(vec![
        entry("0.0.0.0", 22, vec![owner(10, "sshd", "root")]),
        entry("0.0.0.0", 80, vec![owner(21, "python3", "www-data")]),
        entry("0.0.0.0", 8080, vec![owner(40, "node", "app")]),
    ]);
    let d = diff(&a, &b, false);
    assert_eq!(
        kinds(&d),
        vec![
            (ChangeKind::Changed, 80),
            (ChangeKind::Closed, 5432),
            (ChangeKind::Opened, 8080)
        ]
    );
    assert_eq!(
        d.changes[0].details,
        vec![
            "owner: nginx -> python3",
            "executable: /usr/bin/nginx -> /usr/bin/python3",
            "user: root -> www-data"
        ]
    );
    assert_eq!(d.changes[1].entry.processes[0].name, "postgres");
}

#[test]
fn a_new_bind_of_the_same_service_is_a_change_not_open_and_close() {
    let a = base(vec![
        entry("0.0.0.0", 6379, vec![owner(10, "redis-server", "redis")]),
        entry("::", 6379, vec![owner(10, "redis-server", "redis")]),
    ]);
    let mut v6 = entry("::1", 6379, vec![owner(10, "redis-server", "redis")]);
    v6.dual_stack = false;
    let b = base(vec![
        entry("127.0.0.1", 6379, vec![owner(10, "redis-server", "redis")]),
        v6,
    ]);
    let d = diff(&a, &b, false);
    assert_eq!(
        kinds(&d),
        vec![(ChangeKind::Changed, 6379), (ChangeKind::Changed, 6379)]
    );
    let details: Vec<&str> = d.changes.iter().map(|c| c.details[0].as_str()).collect();
    assert!(
        details.contains(&"bind: 0.0.0.0 -> 127.0.0.1"),
        "{details:?}"
    );
    assert!(details.contains(&"bind: :: -> ::1"), "{details:?}");
}

#[test]
fn dual_stack_toggle_is_a_bind_change() {
    let a = base(vec![entry("::", 80, vec![owner(1, "nginx", "root")])]);
    let mut e = entry("::", 80, vec![owner(1, "nginx", "root")]);
    e.dual_stack = true;
    let b = base(vec![e]);
    let d = diff(&a, &b, false);
    assert_eq!(d.changes[0].details, vec!["bind: :: -> *"]);
}

#[test]
fn reuseport_groups_are_counted() {
    let one = || entry("0.0.0.0", 53, vec![owner(5, "dnsd", "root")]);
    let a = base(vec![one(), one()]);
    let b = base(vec![one(), one(), one()]);
    let d = diff(&a, &b, false);
    assert_eq!(kinds(&d), vec![(ChangeKind::Opened, 53)]);
    let d = diff(&b, &a, false);
    assert_eq!(kinds(&d), vec![(ChangeKind::Closed, 53)]);
}

#[test]
fn invisible_owners_are_not_owner_changes() {
    let a = base(vec![entry("0.0.0.0", 22, vec![owner(10, "sshd", "root")])]);
    let mut hidden = entry("0.0.0.0", 22, vec![]);
    hidden.owner_status = "hidden".into();
    let b = base(vec![hidden]);
    let d = diff(&a, &b, false);
    assert!(d.changes.is_empty(), "{d:?}");
    assert_eq!(d.uncompared, 1);
}

#[test]
fn baseline_errors_say_where_and_what() {
    let e = parse("{\"version\": 1,\n \"listeners\": [ {\"protocol\": 5} ]}");
    let e = e.err().unwrap_or_else(|| unreachable!());
    assert_eq!(e.position.map(|p| p.0), Some(2));
    assert!(e.message.contains("whyport snapshot"), "{}", e.message);
    assert!(!e.message.contains(" at line "), "{}", e.message);
    let e = parse("{\"version\": 7, \"listeners\": []}").err();
    assert!(e.is_some_and(|e| e.message.contains("version 7")));
    assert!(parse("").is_err());
    assert!(parse("[]").is_err());
    let ok = parse("{\"version\": 1, \"listeners\": [], \"future_field\": 3}");
    assert!(ok.is_ok());
}

#[test]
fn hostile_names_are_escaped_in_details() {
    let a = base(vec![entry("0.0.0.0", 22, vec![owner(10, "sshd", "root")])]);
    let b = base(vec![entry(
        "0.0.0.0",
        22,
        vec![owner(10, "ss\nhd\u{202e}", "root")],
    )]);
    let d = diff(&a, &b, false);
    let line = &d.changes[0].details[0];
    assert!(
        !line.contains('\n') && !line.contains('\u{202e}'),
        "{line:?}"
    );
}

#[test]
fn names_that_are_not_utf8_come_back_from_their_hex() {
    let mut o = owner(1, "ev\u{fffd}", "root");
    o.name_hex = Some("6576ff".into());
    assert_eq!(o.raw_name(), b"ev\xff");
    assert_eq!(o.shown_name(), "ev\\xff");
    o.name_hex = Some("zz".into());
    assert_eq!(o.raw_name(), "ev\u{fffd}".as_bytes());
}

#[test]
fn forwarded_ports_are_compared_too() {
    let fw = |to: &str, name: &str| Forwarded {
        protocol: Some("tcp".into()),
        ports: PortsField::V1(vec![(8080, 8080)]),
        to_address: Some(to.into()),
        to_ports: Some((80, 80)),
        listeners: vec![entry("0.0.0.0", 80, vec![owner(7, name, "root")])],
        rule: None,
    };
    let mut a = base(vec![entry("0.0.0.0", 22, vec![owner(1, "sshd", "root")])]);
    a.forwarded = vec![fw("172.17.0.2", "nginx")];
    let mut b = a.clone();
    assert!(diff(&a, &b, false).changes.is_empty());
    b.forwarded = vec![fw("172.17.0.3", "nginx")];
    let d = diff(&a, &b, false);
    assert_eq!(kinds(&d), vec![(ChangeKind::Changed, 8080)]);
    assert_eq!(
        d.changes[0].details,
        vec!["forwarded to: 172.17.0.2:80 -> 172.17.0.3:80"]
    );
    b.forwarded.clear();
    let d = diff(&a, &b, false);
    assert_eq!(kinds(&d), vec![(ChangeKind::Closed, 8080)]);
    assert!(d.changes[0].entry.forwarded_to.is_some());
    // A forward never pairs with a socket on the same port.
    let mut c = a.clone();
    c.forwarded.clear();
    c.listeners
        .push(entry("0.0.0.0", 8080, vec![owner(9, "nginx", "root")]));
    let d = diff(&a, &c, false);
    assert_eq!(
        kinds(&d),
        vec![(ChangeKind::Opened, 8080), (ChangeKind::Closed, 8080)]
    );
}

/// A forward of a range is one forward, compared whole: a widened range is
/// another forward, and version 1 and 2 of the same forward are equal.
#[test]
fn forwards_compare_by_their_whole_port_set() {
    let fw = |ports: PortsField| Forwarded {
        protocol: Some("tcp".into()),
        ports,
        to_address: Some("10.0.0.2".into()),
        to_ports: None,
        listeners: vec![],
        rule: None,
    };
    let v1 = |r: Vec<(u16, u16)>| fw(PortsField::V1(r));
    let v2 = |kind: &str, r: Vec<(u16, u16)>| {
        fw(PortsField::V2 {
            kind: kind.into(),
            ranges: r,
        })
    };
    let mut a = base(vec![]);
    a.forwarded = vec![v1(vec![(8000, 8100)])];
    let mut b = base(vec![]);
    b.version = 2;
    b.forwarded = vec![v2("only", vec![(8000, 8100)])];
    assert!(diff(&a, &b, false).changes.is_empty(), "v1 equals v2");
    assert_eq!(a.entries().len(), 1, "one entry for the whole range");
    b.forwarded = vec![v2("only", vec![(8000, 8200)])];
    let d = diff(&a, &b, false);
    assert_eq!(
        kinds(&d),
        vec![(ChangeKind::Opened, 8000), (ChangeKind::Closed, 8000)]
    );
    // v1's empty list is every port; v2 says so.
    a.forwarded = vec![v1(vec![])];
    b.forwarded = vec![v2("every", vec![])];
    assert!(diff(&a, &b, false).changes.is_empty());
    b.forwarded = vec![v2("except", vec![(22, 22)])];
    assert_eq!(diff(&a, &b, false).changes.len(), 2);
}
