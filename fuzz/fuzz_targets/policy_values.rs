//! Hostile owner values round-trip through a policy: any process name and
//! executable (bytes), user, unit and container (text, read lossily as
//! whyport reads them) are written as `policy init` writes them, parsed
//! back to exactly those values, on one line each with no character
//! written raw that a terminal would hide or reorder, and the rule allows
//! the process it was written from.
#![no_main]

use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::audit::owner::{self, Owners, Values};
use whyport_fuzz::audit::policy::parse;
use whyport_fuzz::model::Process;
use whyport_fuzz::sanitize::is_dangerous;

/// Five fields: the first five bytes are their lengths, the rest their
/// bytes in order (a field past the end is cut short).
fn fields(data: &[u8]) -> [&[u8]; 5] {
    let (lengths, mut rest) = data.split_at(data.len().min(5));
    let mut out = [&[][..]; 5];
    for (i, field) in out.iter_mut().enumerate() {
        let n = usize::from(lengths.get(i).copied().unwrap_or(0)).min(rest.len());
        (*field, rest) = rest.split_at(n);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [name, exe, user, unit, container] = fields(data);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut path = b"/".to_vec();
    path.extend_from_slice(exe);
    let p = Process {
        pid: 7,
        name: name.to_vec(),
        exe: Some(std::ffi::OsStr::from_bytes(&path).into()),
        user: Some(text(user)),
        uid: Some(1000),
        ..Process::default()
    };
    let (unit, container) = (text(unit), text(container));
    let values = Values::of(&[&p], Some(unit.clone()), Some(container.clone()));
    let mut policy = String::from("default = \"deny\"\n\n[[allow]]\nport = 1\n");
    values.write(&mut policy);

    let raw = policy.chars().find(|c| *c != '\n' && is_dangerous(*c));
    assert_eq!(raw, None, "{policy}");
    let headers = policy
        .lines()
        .filter(|l| l.trim_start().starts_with("[["))
        .count();
    assert_eq!(headers, 1, "{policy}");

    let parsed = match parse(&policy) {
        Ok(p) => p,
        Err(e) => panic!("{e}\n{policy}"),
    };
    let rule = &parsed.rules[0];
    assert_eq!(rule.process, values.process, "{policy}");
    assert_eq!(rule.exe, values.exe, "{policy}");
    assert_eq!(rule.user, values.user, "{policy}");
    assert_eq!(rule.unit, values.unit, "{policy}");
    assert_eq!(rule.container, values.container, "{policy}");
    assert_eq!(rule.process.as_deref(), Some(name));
    assert_eq!(rule.exe.as_deref(), p.exe_bytes());

    let owners = Owners {
        leaders: vec![&p],
        units: vec![&unit],
        containers: vec![&container],
    };
    assert!(owner::process_met(rule, &owners), "{policy}");
    assert!(owner::exe_met(rule, &owners), "{policy}");
    assert!(owner::user_met(rule, &owners), "{policy}");
    assert!(owner::unit_met(rule, &owners), "{policy}");
    assert!(owner::container_met(rule, &owners), "{policy}");
});
