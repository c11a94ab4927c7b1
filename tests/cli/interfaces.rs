//! Link-local and interface-bound sockets, in a network namespace the test
//! makes (a veth pair with fe80::1 on one end): they show their interface
//! (`fe80::1%d0`, `0.0.0.0%d0`) as ss does, and their reach in words.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::netns::Netns;
use crate::procs::find_program;
use crate::ss_compare::compare_settled;
use crate::support::*;

const SCRIPT: &str = r#"
import socket, time
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.bind(("fe80::1", 7000, 0, socket.if_nametoindex("d0")))
t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"d0")
u.bind(("0.0.0.0", 7001))
print("ready", flush=True)
time.sleep(60)
"#;

#[test]
fn link_local_and_interface_bound_sockets_show_their_interface() {
    const TEST: &str = "link_local_and_interface_bound_sockets";
    if !is_root() {
        skip(TEST, Skip::NotRoot, "needs root, ip (iproute2) and python3");
        return;
    }
    let (Some(ip), true) = (find_program("ip"), have(PYTHON3)) else {
        let tool = if find_program("ip").is_none() {
            "ip"
        } else {
            "python3"
        };
        skip(
            TEST,
            Skip::Tool(tool),
            "needs root, ip (iproute2) and python3",
        );
        return;
    };
    let _g = sockets_guard();
    let setup: &[&[&str]] = &[
        &["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
        &["link", "set", "d0", "up"],
        &["link", "set", "d1", "up"],
        &["addr", "add", "fe80::1/64", "dev", "d0", "nodad"],
    ];
    let ns = match Netns::create(&ip, "wp-ll") {
        Ok(ns) => ns,
        Err(e) => {
            skip(TEST, Skip::Other, e);
            return;
        }
    };
    for args in setup {
        let out = run(ns.exec("ip").args(*args));
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut py = Spawned::start(
        ns.exec(PYTHON3)
            .args(["-c", SCRIPT])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(py.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");

    let ss = || {
        let out = run(ns.exec("ss").arg("-tulpnH"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let keys = crate::ss::ss_keys(&text);
        (text, keys)
    };
    let list = compare_settled(ss, || {
        run(ns.exec(bin_path().to_str().unwrap()).arg("--json"))
    });
    let got: Vec<(&str, &str, Option<&str>, u16)> = list
        .listeners
        .iter()
        .map(|l| {
            (
                l.protocol.as_str(),
                l.address.as_str(),
                l.interface.as_deref(),
                l.port,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("tcp", "fe80::1%d0", Some("d0"), 7000),
            ("udp", "0.0.0.0%d0", Some("d0"), 7001)
        ]
    );

    let out = run(ns
        .exec(bin_path().to_str().unwrap())
        .args(["--json", "7000", "7001"]));
    let list = parse(&out);
    let kinds: Vec<(&str, Option<&str>)> = list
        .listeners
        .iter()
        .map(|l| {
            let e = &l.why.as_ref().unwrap().exposure;
            (e.kind.as_str(), e.interface.as_deref())
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("link-local", Some("d0")), ("interface", Some("d0"))]
    );
    let text =
        String::from_utf8_lossy(&run(ns.exec(bin_path().to_str().unwrap()).arg("7000")).stdout)
            .into_owned();
    assert!(text.starts_with("tcp [fe80::1%d0]:7000"), "{text}");
    assert!(
        text.contains("link-local on d0: reachable only from the same network segment"),
        "{text}"
    );
}
