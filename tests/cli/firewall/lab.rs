//! The lab of the firewall matrix: a target namespace T (listeners, rule
//! sets, whyport), two peer namespaces joined to it by veth pairs, and a
//! "container" namespace C behind a bridge in T for the Docker shape; the
//! listeners' server and the probes, both Debian's python3.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::namespaces::{must, subnet};
use crate::netns::Netns;
use crate::support::*;

const SERVE: &str = include_str!("serve.py");
const PROBE: &str = include_str!("probe.py");

/// A probe's source: P1 has two addresses in one /24 (.2 and .200, told
/// apart by /25 rules), P2 one. Each arrives at T on its own interface.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Src {
    P1a,
    P1b,
    P2,
}

pub const SOURCES: [Src; 3] = [Src::P1a, Src::P1b, Src::P2];

/// One of T's two addresses (a probe may send to either over its link).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dst {
    A1,
    A2,
}

pub const DESTINATIONS: [Dst; 2] = [Dst::A1, Dst::A2];

impl Src {
    /// T's interface the probe arrives on.
    pub fn iface(self) -> &'static str {
        match self {
            Src::P1a | Src::P1b => "v1",
            Src::P2 => "v2",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Src::P1a => "1a",
            Src::P1b => "1b",
            Src::P2 => "2",
        }
    }
}

/// The lab's subnets: P1's link, P2's link, the container bridge.
pub struct Nets {
    pub n1: String,
    pub n2: String,
    pub nc: String,
}

impl Nets {
    pub fn src(&self, s: Src) -> String {
        match s {
            Src::P1a => format!("{}.2", self.n1),
            Src::P1b => format!("{}.200", self.n1),
            Src::P2 => format!("{}.2", self.n2),
        }
    }

    pub fn dst(&self, d: Dst) -> String {
        match d {
            Dst::A1 => format!("{}.1", self.n1),
            Dst::A2 => format!("{}.1", self.n2),
        }
    }
}

/// A socket the server in T holds: protocol, port, the one address of T it
/// is bound to (else 0.0.0.0), the interface it is bound to (else none).
#[derive(Clone, Copy, Debug)]
pub struct Sock {
    pub tcp: bool,
    pub port: u16,
    pub addr: Option<Dst>,
    pub dev: Option<&'static str>,
}

impl Sock {
    /// Whether a packet from `src` to `dst` reaches this socket when no
    /// rule is in the way: a claim is due exactly then.
    pub fn takes(&self, src: Src, dst: Dst) -> bool {
        self.addr.is_none_or(|a| a == dst) && self.dev.is_none_or(|d| d == src.iface())
    }

    pub fn proto(&self) -> &'static str {
        if self.tcp { "tcp" } else { "udp" }
    }
}

const fn tcp(port: u16, addr: Option<Dst>, dev: Option<&'static str>) -> Sock {
    Sock {
        tcp: true,
        port,
        addr,
        dev,
    }
}

const fn udp(port: u16, addr: Option<Dst>) -> Sock {
    Sock {
        tcp: false,
        port,
        addr,
        dev: None,
    }
}

/// T's listeners: a 22-like, an 80-like and a high port on every address,
/// one on A1 only, one bound to v2, a UDP responder on every address and
/// one on A2 only.
pub const LISTENERS: [Sock; 7] = [
    tcp(22, None, None),
    tcp(80, None, None),
    tcp(8443, Some(Dst::A1), None),
    tcp(8081, None, Some("v2")),
    tcp(40022, None, None),
    udp(53, None),
    udp(40053, Some(Dst::A2)),
];

/// A TCP listener on 127.0.0.1 in T: no peer can reach it, and its
/// firewall answer is "local-only" whatever the rules.
pub const LOOPBACK: u16 = 8082;
/// The port the Docker shape publishes (DNAT to C's port 80).
pub const PUBLISHED: u16 = 8088;
/// A port nothing listens on or forwards: every probe must fail.
pub const CLOSED: u16 = 40999;

/// One probe: from a source of a peer to an address and port of T.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub tcp: bool,
    pub port: u16,
    pub src: Src,
    pub dst: Dst,
    pub sport: u16,
}

pub struct Lab {
    /// Dropped first: the servers die before their namespaces go.
    servers: Vec<Spawned>,
    pub t: Netns,
    pub p1: Netns,
    pub p2: Netns,
    pub c: Netns,
    pub nets: Nets,
}

impl Lab {
    pub fn build(ip: &Path) -> Result<Lab, String> {
        let nets = Nets {
            n1: subnet(40),
            n2: subnet(41),
            nc: subnet(42),
        };
        let mut lab = Lab {
            servers: Vec::new(),
            t: Netns::create(ip, "wp-fwt")?,
            p1: Netns::create(ip, "wp-fw1")?,
            p2: Netns::create(ip, "wp-fw2")?,
            c: Netns::create(ip, "wp-fwc")?,
            nets,
        };
        lab.wire();
        let t_socks: Vec<serde_json::Value> = LISTENERS
            .iter()
            .map(|s| {
                serde_json::json!({
                    "proto": s.proto(), "port": s.port, "dev": s.dev,
                    "addr": s.addr.map_or("0.0.0.0".to_string(), |a| lab.nets.dst(a)),
                })
            })
            .chain([serde_json::json!({"proto": "tcp", "port": LOOPBACK, "addr": "127.0.0.1"})])
            .collect();
        let web = serde_json::json!([{"proto": "tcp", "port": 80, "addr": "0.0.0.0"}]);
        let t_server = serve(&lab.t, &serde_json::Value::from(t_socks));
        let c_server = serve(&lab.c, &web);
        lab.servers = vec![t_server, c_server];
        Ok(lab)
    }

    fn wire(&self) {
        let Nets { n1, n2, nc } = &self.nets;
        let (t, p1, p2, c) = (&self.t, &self.p1, &self.p2, &self.c);
        for (peer, net, here, there) in [(p1, n1, "v1", "e1"), (p2, n2, "v2", "e2")] {
            must(
                t,
                "ip",
                &["link", "add", here, "type", "veth", "peer", "name", there],
            );
            must(t, "ip", &["link", "set", there, "netns", peer.name()]);
            must(
                t,
                "ip",
                &["addr", "add", &format!("{net}.1/24"), "dev", here],
            );
            must(t, "ip", &["link", "set", here, "up"]);
            must(
                peer,
                "ip",
                &["addr", "add", &format!("{net}.2/24"), "dev", there],
            );
            must(peer, "ip", &["link", "set", there, "up"]);
            must(
                peer,
                "ip",
                &["route", "add", "default", "via", &format!("{net}.1")],
            );
        }
        must(
            p1,
            "ip",
            &["addr", "add", &format!("{n1}.200/24"), "dev", "e1"],
        );
        // The container: a bridge in T (as docker0), a veth into C.
        must(t, "ip", &["link", "add", "docker0", "type", "bridge"]);
        must(
            t,
            "ip",
            &["addr", "add", &format!("{nc}.1/24"), "dev", "docker0"],
        );
        must(t, "ip", &["link", "set", "docker0", "up"]);
        must(
            t,
            "ip",
            &["link", "add", "vc0", "type", "veth", "peer", "name", "eth0"],
        );
        must(t, "ip", &["link", "set", "eth0", "netns", c.name()]);
        must(t, "ip", &["link", "set", "vc0", "master", "docker0"]);
        must(t, "ip", &["link", "set", "vc0", "up"]);
        must(
            c,
            "ip",
            &["addr", "add", &format!("{nc}.2/24"), "dev", "eth0"],
        );
        must(c, "ip", &["link", "set", "eth0", "up"]);
        must(
            c,
            "ip",
            &["route", "add", "default", "via", &format!("{nc}.1")],
        );
        // Forwarding in T only (Docker's published port goes through it).
        must(t, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    }

    /// Every probe of one rule set: each listener's port, the published
    /// port and a closed one, from every source to both of T's addresses.
    /// `round` makes the source ports unique in the whole run.
    pub fn probes(round: usize) -> Vec<Probe> {
        let ports = LISTENERS
            .iter()
            .map(|s| (s.tcp, s.port))
            .chain([(true, PUBLISHED), (true, CLOSED)]);
        let mut out = Vec::new();
        for (tcp, port) in ports {
            for src in SOURCES {
                for dst in DESTINATIONS {
                    let sport = 20000 + (round * 100 + out.len()) as u16;
                    out.push(Probe {
                        tcp,
                        port,
                        src,
                        dst,
                        sport,
                    });
                }
            }
        }
        out
    }

    /// Run `probes` (each peer's in one python3, the peers at once) and
    /// return each one's result, in order.
    pub fn probe(&self, probes: &[Probe]) -> Vec<String> {
        let mine = |peer: &[Src]| -> Vec<usize> {
            (0..probes.len())
                .filter(|&i| peer.contains(&probes[i].src))
                .collect()
        };
        let groups = [
            (&self.p1, mine(&[Src::P1a, Src::P1b])),
            (&self.p2, mine(&[Src::P2])),
        ];
        let running: Vec<(Spawned, &Vec<usize>)> = groups
            .iter()
            .map(|(ns, idx)| {
                let list: Vec<serde_json::Value> = idx
                    .iter()
                    .map(|&i| {
                        let p = &probes[i];
                        serde_json::json!({
                            "proto": if p.tcp { "tcp" } else { "udp" },
                            "src": self.nets.src(p.src), "sport": p.sport,
                            "dst": self.nets.dst(p.dst), "port": p.port,
                        })
                    })
                    .collect();
                let child = Spawned::start(
                    ns.exec(PYTHON3)
                        .args(["-c", PROBE])
                        .arg(serde_json::Value::from(list).to_string())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped()),
                );
                (child, idx)
            })
            .collect();
        let mut out = vec![String::new(); probes.len()];
        for (mut child, idx) in running {
            let mut text = String::new();
            child
                .0
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            let mut err = String::new();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            let results: Vec<String> = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("probe output ({e}): {text}\n{err}"));
            assert_eq!(results.len(), idx.len(), "{text}");
            for (&i, r) in idx.iter().zip(results) {
                out[i] = r;
            }
        }
        out
    }

    /// Run `program args` in T (stdin: `input`); its stderr on failure.
    pub fn in_t(&self, program: &str, args: &[&str], input: &str) -> Result<(), String> {
        run_with_input(self.t.exec(program).args(args), input)
    }
}

/// Start serve.py in `ns` for `socks` and wait until it holds them.
fn serve(ns: &Netns, socks: &serde_json::Value) -> Spawned {
    let mut child = Spawned::start(
        ns.exec(PYTHON3)
            .args(["-c", SERVE])
            .arg(socks.to_string())
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "serve.py in {}", ns.name());
    child
}

/// Run `cmd` with `input` on its stdin; Err(stderr) unless it succeeds.
/// (Its stdout is dropped: reading one pipe while the other fills could
/// block both sides.)
pub fn run_with_input(cmd: &mut Command, input: &str) -> Result<(), String> {
    let mut child = Spawned::start(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.0.wait().unwrap();
    if status.success() {
        Ok(())
    } else {
        Err(format!("{status}: {err}"))
    }
}
