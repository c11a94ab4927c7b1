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
/// apart by /25 rules; IPv6: ::2 and ::200, told apart by /120 rules), P2
/// one. Each arrives at T on its own interface.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Src {
    P1a,
    P1b,
    P2,
}

pub const SOURCES: [Src; 3] = [Src::P1a, Src::P1b, Src::P2];

/// One of T's two addresses of a family (a probe may send to either over
/// its link).
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

/// The lab's subnets: P1's link, P2's link, the container bridge; P1's and
/// P2's links in IPv6 (ULA /64s unique to the test run).
pub struct Nets {
    pub n1: String,
    pub n2: String,
    pub nc: String,
    pub n1_6: String,
    pub n2_6: String,
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

    pub fn src6(&self, s: Src) -> String {
        match s {
            Src::P1a => format!("{}::2", self.n1_6),
            Src::P1b => format!("{}::200", self.n1_6),
            Src::P2 => format!("{}::2", self.n2_6),
        }
    }

    pub fn dst6(&self, d: Dst) -> String {
        match d {
            Dst::A1 => format!("{}::1", self.n1_6),
            Dst::A2 => format!("{}::1", self.n2_6),
        }
    }

    /// The probe's source and destination addresses, in its family.
    pub fn ends(&self, p: &Probe) -> (String, String) {
        if p.v6 {
            (self.src6(p.src), self.dst6(p.dst))
        } else {
            (self.src(p.src), self.dst(p.dst))
        }
    }
}

/// A socket's family: IPv4, IPv6 with IPV6_V6ONLY, or IPv6 dual-stack
/// (IPV6_V6ONLY off: it takes IPv4 too).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fam {
    V4,
    V6,
    Dual,
}

/// A socket the server in T holds: protocol, family, port, the one
/// address of T it is bound to (in its family; else the wildcard), the
/// interface it is bound to (else none).
#[derive(Clone, Copy, Debug)]
pub struct Sock {
    pub tcp: bool,
    pub fam: Fam,
    pub port: u16,
    pub addr: Option<Dst>,
    pub dev: Option<&'static str>,
}

impl Sock {
    /// Whether probe `p` reaches this socket when no rule is in the way:
    /// a claim is due exactly then.
    pub fn takes(&self, p: &Probe) -> bool {
        let family = match self.fam {
            Fam::V4 => !p.v6,
            Fam::V6 => p.v6,
            Fam::Dual => true,
        };
        family
            && self.tcp == p.tcp
            && self.port == p.port
            && self.addr.is_none_or(|a| a == p.dst)
            && self.dev.is_none_or(|d| d == p.src.iface())
    }

    pub fn proto(&self) -> &'static str {
        if self.tcp { "tcp" } else { "udp" }
    }

    /// Its address as `whyport --json` writes it (without `%dev`).
    pub fn address(&self, nets: &Nets) -> String {
        match (self.fam, self.addr) {
            (Fam::V4, None) => "0.0.0.0".into(),
            (_, None) => "::".into(),
            (Fam::V4, Some(a)) => nets.dst(a),
            (_, Some(a)) => nets.dst6(a),
        }
    }

    /// Short, for the matrix: `*`, `A1`; IPv6 in brackets; `*46` dual.
    pub fn short(&self) -> String {
        let addr = self.addr.map_or("*", |a| match a {
            Dst::A1 => "A1",
            Dst::A2 => "A2",
        });
        let dev = self.dev.map_or(String::new(), |d| format!("%{d}"));
        match self.fam {
            Fam::V4 => format!("{addr}{dev}"),
            Fam::V6 => format!("[{addr}]{dev}"),
            Fam::Dual => format!("{addr}46{dev}"),
        }
    }
}

const fn sock(
    tcp: bool,
    fam: Fam,
    port: u16,
    addr: Option<Dst>,
    dev: Option<&'static str>,
) -> Sock {
    Sock {
        tcp,
        fam,
        port,
        addr,
        dev,
    }
}

/// T's listeners: a 22-like on every IPv4 address and a v6-only one on
/// every IPv6 address (sshd's pair), a dual-stack 80-like, a high port on
/// every IPv4 address, one on A1 only, a dual-stack one bound to v2, UDP
/// responders on every address of each family and one on A2 of each.
pub const LISTENERS: [Sock; 10] = [
    sock(true, Fam::V4, 22, None, None),
    sock(true, Fam::V6, 22, None, None),
    sock(true, Fam::Dual, 80, None, None),
    sock(true, Fam::V4, 8443, Some(Dst::A1), None),
    sock(true, Fam::Dual, 8081, None, Some("v2")),
    sock(true, Fam::V4, 40022, None, None),
    sock(false, Fam::V4, 53, None, None),
    sock(false, Fam::V6, 53, None, None),
    sock(false, Fam::V4, 40053, Some(Dst::A2), None),
    sock(false, Fam::V6, 40053, Some(Dst::A2), None),
];

/// The ports probed, in the matrix's row order, TCP first.
pub fn ports() -> Vec<(bool, u16)> {
    let mut out: Vec<(bool, u16)> = Vec::new();
    for s in LISTENERS {
        if !out.contains(&(s.tcp, s.port)) {
            out.push((s.tcp, s.port));
        }
    }
    out.extend([(true, PUBLISHED), (true, CLOSED)]);
    out
}

/// A TCP listener on 127.0.0.1 in T: no peer can reach it, and its
/// firewall answer is "local-only" whatever the rules.
pub const LOOPBACK: u16 = 8082;
/// The port the Docker shape publishes (DNAT to C's port 80).
pub const PUBLISHED: u16 = 8088;
/// A port nothing listens on or forwards: every probe must fail.
pub const CLOSED: u16 = 40999;

/// One probe: from a source of a peer to an address and port of T, in
/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub tcp: bool,
    pub v6: bool,
    pub port: u16,
    pub src: Src,
    pub dst: Dst,
    pub sport: u16,
}

/// How T routes and filters by source before any rule: the reverse-path
/// rule sets route P1b's addresses (both families) back through v2 (P2
/// carries the replies on to P1 over a link of their own), and may set
/// T's `rp_filter`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kernel {
    Plain,
    /// The asymmetric routes, and `net.ipv4.conf.NAME.rp_filter = MODE`.
    Asymmetric {
        conf: &'static str,
        rp_filter: u8,
    },
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

/// Fixed MAC addresses (each namespace is the test's own), so that IPv6
/// neighbours can be set statically: rule sets that drop ICMPv6 (policy
/// drop without an `icmpv6` accept) would otherwise drop neighbour
/// discovery, and no IPv6 probe would even leave its peer.
const MAC_V1: &str = "02:77:70:00:00:01";
const MAC_V2: &str = "02:77:70:00:00:02";
const MAC_E1: &str = "02:77:70:00:01:01";
const MAC_E2: &str = "02:77:70:00:02:02";
const MAC_E12: &str = "02:77:70:00:01:12";

impl Lab {
    pub fn build(ip: &Path) -> Result<Lab, String> {
        let tag = my_pid() % 0xffff;
        let nets = Nets {
            n1: subnet(40),
            n2: subnet(41),
            nc: subnet(42),
            n1_6: format!("fd77:7970:{tag:x}:40"),
            n2_6: format!("fd77:7970:{tag:x}:41"),
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
        lab.wire_v6();
        let t_socks: Vec<serde_json::Value> = LISTENERS
            .iter()
            .map(|s| {
                let fam = match s.fam {
                    Fam::V4 => "4",
                    Fam::V6 => "6",
                    Fam::Dual => "46",
                };
                serde_json::json!({
                    "proto": s.proto(), "port": s.port, "dev": s.dev,
                    "family": fam, "addr": s.address(&lab.nets),
                })
            })
            .chain([serde_json::json!({"proto": "tcp", "port": LOOPBACK, "addr": "127.0.0.1", "family": "4"})])
            .collect();
        let web =
            serde_json::json!([{"proto": "tcp", "port": 80, "addr": "0.0.0.0", "family": "4"}]);
        let t_server = serve(&lab.t, &serde_json::Value::from(t_socks));
        let c_server = serve(&lab.c, &web);
        lab.servers = vec![t_server, c_server];
        Ok(lab)
    }

    fn wire(&self) {
        let Nets { n1, n2, nc, .. } = &self.nets;
        let (t, p1, p2, c) = (&self.t, &self.p1, &self.p2, &self.c);
        for (peer, net, here, there, macs) in [
            (p1, n1, "v1", "e1", (MAC_V1, MAC_E1)),
            (p2, n2, "v2", "e2", (MAC_V2, MAC_E2)),
        ] {
            must(
                t,
                "ip",
                &[
                    "link", "add", here, "address", macs.0, "type", "veth", "peer", "name", there,
                    "address", macs.1,
                ],
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
        // P2 -> P1: when T routes P1b's address through P2, P2 forwards
        // the replies on to P1 (so an open probe from P1b still connects).
        must(
            p2,
            "ip",
            &[
                "link", "add", "e21", "type", "veth", "peer", "name", "e12", "address", MAC_E12,
            ],
        );
        must(p2, "ip", &["link", "set", "e12", "netns", p1.name()]);
        must(p2, "ip", &["link", "set", "e21", "up"]);
        must(p1, "ip", &["link", "set", "e12", "up"]);
        let p1b = self.nets.src(Src::P1b);
        must(
            p2,
            "ip",
            &["route", "add", &format!("{p1b}/32"), "dev", "e21"],
        );
        must(
            p2,
            "ip",
            &[
                "neigh",
                "replace",
                &p1b,
                "lladdr",
                MAC_E12,
                "dev",
                "e21",
                "nud",
                "permanent",
            ],
        );
        must(p2, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
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

    /// IPv6 on P1's and P2's links: addresses without duplicate address
    /// detection (`nodad`: usable at once), static neighbours both ways,
    /// the peers' default routes, and P2's route on to P1 for P1b.
    fn wire_v6(&self) {
        let n = &self.nets;
        let (t, p1, p2) = (&self.t, &self.p1, &self.p2);
        let addr = |ns: &Netns, a: String, dev: &str| {
            must(
                ns,
                "ip",
                &["-6", "addr", "add", &format!("{a}/64"), "dev", dev, "nodad"],
            );
        };
        let neigh = |ns: &Netns, a: String, mac: &str, dev: &str| {
            must(
                ns,
                "ip",
                &[
                    "-6",
                    "neigh",
                    "replace",
                    &a,
                    "lladdr",
                    mac,
                    "dev",
                    dev,
                    "nud",
                    "permanent",
                ],
            );
        };
        addr(t, n.dst6(Dst::A1), "v1");
        addr(t, n.dst6(Dst::A2), "v2");
        addr(p1, n.src6(Src::P1a), "e1");
        addr(p1, n.src6(Src::P1b), "e1");
        addr(p2, n.src6(Src::P2), "e2");
        neigh(t, n.src6(Src::P1a), MAC_E1, "v1");
        neigh(t, n.src6(Src::P1b), MAC_E1, "v1");
        neigh(t, n.src6(Src::P2), MAC_E2, "v2");
        neigh(p1, n.dst6(Dst::A1), MAC_V1, "e1");
        neigh(p2, n.dst6(Dst::A2), MAC_V2, "e2");
        neigh(p2, n.src6(Src::P1b), MAC_E12, "e21");
        for (peer, gw) in [(p1, n.dst6(Dst::A1)), (p2, n.dst6(Dst::A2))] {
            must(peer, "ip", &["-6", "route", "add", "default", "via", &gw]);
        }
        let p1b = format!("{}/128", n.src6(Src::P1b));
        must(p2, "ip", &["-6", "route", "add", &p1b, "dev", "e21"]);
        must(p2, "sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"]);
    }

    /// Route P1b's addresses back through v2 (or undo that), and set T's
    /// rp_filter.
    pub fn set_kernel(&self, k: Kernel) -> Result<(), String> {
        let n = &self.nets;
        let routes = [
            (format!("{}/32", n.src(Src::P1b)), n.src(Src::P2)),
            (format!("{}/128", n.src6(Src::P1b)), n.src6(Src::P2)),
        ];
        let (verb, conf, mode) = match k {
            Kernel::Plain => ("del", "all", 0),
            Kernel::Asymmetric { conf, rp_filter } => ("add", conf, rp_filter),
        };
        for (to, via) in &routes {
            self.in_t("ip", &["route", verb, to, "via", via, "dev", "v2"], "")?;
        }
        let mut keys = vec![format!("net.ipv4.conf.{conf}.rp_filter={mode}")];
        if k == Kernel::Plain {
            keys.extend(["v1", "v2"].map(|d| format!("net.ipv4.conf.{d}.rp_filter=0")));
        }
        for key in keys {
            self.in_t("sysctl", &["-qw", &key], "")?;
        }
        Ok(())
    }

    /// Every probe of one rule set: each listener's port, the published
    /// port and a closed one, from every source to both of T's addresses,
    /// in IPv4 and IPv6. `round` makes the source ports unique in the
    /// whole run.
    pub fn probes(round: usize) -> Vec<Probe> {
        let mut out = Vec::new();
        for (tcp, port) in ports() {
            for v6 in [false, true] {
                for src in SOURCES {
                    for dst in DESTINATIONS {
                        let sport = 20000 + (round * 200 + out.len()) as u16;
                        out.push(Probe {
                            tcp,
                            v6,
                            port,
                            src,
                            dst,
                            sport,
                        });
                    }
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
                        let (src, dst) = self.nets.ends(p);
                        serde_json::json!({
                            "proto": if p.tcp { "tcp" } else { "udp" },
                            "src": src, "sport": p.sport,
                            "dst": dst, "port": p.port,
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
            // stderr on a thread of its own: read after stdout, a full
            // stderr pipe would block the probe and so both of us.
            let mut stderr = child.0.stderr.take().unwrap();
            let err = std::thread::spawn(move || {
                let mut err = String::new();
                let _ = stderr.read_to_string(&mut err);
                err
            });
            let mut text = String::new();
            child
                .0
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            let err = err.join().unwrap_or_default();
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
