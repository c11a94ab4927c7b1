//! The JSON listing (`--json`). These wire types are the documented,
//! versioned contract in docs/json.md: add fields, never rename or remove.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::Answer;
use super::json_why::{UnansweredJson, WhyJson};
use crate::model::{HiddenReason, Process};
use crate::report::{Listener, OwnerStatus, Report};
use crate::services::IANA_SNAPSHOT;

use crate::report::JSON_VERSION;

/// The whole `--json` document.
#[derive(Debug, Serialize)]
pub struct ListingJson<'a> {
    pub version: u32,
    pub iana_snapshot: &'static str,
    pub listeners: Listeners<'a>,
    pub hidden: HiddenJson,
    pub notes: &'a [String],
    /// Targets of `whyport TARGET --json` that matched no listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<Vec<UnansweredJson>>,
    /// Ports forwarded by DNAT or redirect rules (open with no socket).
    pub forwarded: Vec<ForwardJson>,
    /// Listeners in other network namespaces, not listed (without `-A`);
    /// null when not counted (not root, or `-A`).
    pub other_namespaces: Option<OtherJson>,
}

#[derive(Debug, Serialize)]
pub struct OtherJson {
    pub listeners: usize,
    pub namespaces: usize,
}

#[derive(Debug, Serialize)]
pub struct NetnsJson {
    pub inode: u64,
    pub kind: &'static str,
    pub label: String,
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct ForwardJson {
    pub protocol: Option<&'static str>,
    /// The destination ports it catches.
    pub ports: PortsJson,
    pub action: &'static str,
    pub to_address: Option<String>,
    pub to_ports: Option<(u16, u16)>,
    /// `this_host`, `namespace`, `other_host`, `unknown`.
    pub destination: &'static str,
    pub netns: Option<NetnsJson>,
    /// The hook of the base chain the rule is reached from: `prerouting`
    /// (traffic from outside) or `output` (this host's own connections).
    pub hook: &'static str,
    pub rule: RuleJson,
    /// The sockets that receive the traffic, as Listener objects.
    pub listeners: Vec<serde_json::Value>,
    /// What this host's packet filter lets in (docs/firewall.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall: Option<super::json_firewall::FirewallJson>,
}

/// A port set: `only` these ranges, every port `except` them, `every`
/// port, or `undecoded` (which ports is unknown; `ranges` is empty).
#[derive(Debug, Serialize)]
pub struct PortsJson {
    pub kind: &'static str,
    pub ranges: Vec<(u16, u16)>,
}

impl PortsJson {
    fn of(p: &crate::model::PortSet) -> PortsJson {
        use crate::model::PortSet;
        let (kind, ranges) = match p {
            PortSet::Only(r) => ("only", r.clone()),
            PortSet::Except(r) => ("except", r.clone()),
            PortSet::Every => ("every", Vec::new()),
            PortSet::Undecoded => ("undecoded", Vec::new()),
        };
        PortsJson { kind, ranges }
    }
}

#[derive(Debug, Serialize)]
pub struct RuleJson {
    pub family: String,
    pub table: String,
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
    pub daddr: Option<String>,
    pub iif: Option<String>,
    pub undecoded: Vec<String>,
    /// The chains walked from the base chain to `chain`.
    pub path: Vec<String>,
    /// Only traffic to an address of this host (`addrtype LOCAL`,
    /// `fib daddr type local`).
    pub local_only: bool,
    /// The chain of a random split this rule is one destination of.
    pub split: Option<String>,
    /// The Kubernetes service a rule comment on the path names.
    pub service: Option<String>,
}

/// The listeners, converted one at a time while they are written: the
/// document for 100,000 listeners never exists in memory as a whole.
pub struct Listeners<'a> {
    report: &'a Report,
    answer: Option<&'a Answer<'a>>,
    texts: &'a HashMap<u32, ProcessText>,
    /// Written apart, on every core (`write_apart`): serialized here as
    /// an empty list, whose place the objects are written into.
    apart: bool,
}

impl Listeners<'_> {
    /// Listener `i` of the report, as its JSON object.
    fn object<'b>(&'b self, i: usize, l: &'b Listener) -> ListenerJson<'b> {
        let mut j = listener_json(l, self.texts);
        j.exposure = self.report.exposure_id(l.inode);
        j.firewall = self
            .report
            .firewalls
            .get(&l.inode)
            .map(|f| super::json_firewall::firewall(f));
        if self.report.all_namespaces {
            j.netns = netns_json(self.report, l.netns);
        }
        j.why = self
            .answer
            .and_then(|a| a.explanations.get(i))
            .map(super::json_why::why);
        j
    }
}

impl Serialize for Listeners<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.apart {
            return serializer.collect_seq(std::iter::empty::<()>());
        }
        let listeners = &self.report.listeners;
        serializer.collect_seq(listeners.iter().enumerate().map(|(i, l)| self.object(i, l)))
    }
}

/// Listeners written at a time by one thread: enough to make the hand-over
/// cheap, few enough to keep little in flight (~150 KB of text).
const CHUNK: usize = 256;

/// The listeners' objects, comma-separated, written on every core a chunk
/// at a time and copied to `out` in order.
fn write_apart(
    listeners: &Listeners<'_>,
    threads: Option<usize>,
    out: &mut impl Write,
) -> io::Result<()> {
    // Each chunk's buffer is handed back to be written into again: a new
    // one each time would be fresh pages to fault in.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    crate::chunks::in_order(
        &listeners.report.listeners,
        CHUNK,
        threads,
        |_: &mut (), first, chunk| -> io::Result<Vec<u8>> {
            let mut text = spare
                .lock()
                .ok()
                .and_then(|mut s| s.pop())
                .unwrap_or_default();
            for (k, l) in chunk.iter().enumerate() {
                if k > 0 {
                    text.push(b',');
                }
                serde_json::to_writer(&mut text, &listeners.object(first + k, l))?;
            }
            Ok(text)
        },
        |chunks| {
            for (n, text) in chunks.enumerate() {
                let mut text = text?;
                if n > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(&text)?;
                text.clear();
                if let Ok(mut s) = spare.lock() {
                    s.push(text);
                }
            }
            Ok(())
        },
    )
}

impl std::fmt::Debug for Listeners<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} listeners", self.report.listeners.len())
    }
}

#[derive(Debug, Serialize)]
pub struct ListenerJson<'a> {
    pub protocol: &'static str,
    pub family: &'static str,
    pub address: String,
    pub port: u16,
    pub interface: Option<&'a str>,
    pub dual_stack: bool,
    pub inode: u64,
    pub socket_uid: u32,
    pub service: Option<ServiceJson>,
    pub processes: Vec<ProcessJson<'a>>,
    pub owner_status: &'static str,
    pub hidden_reason: Option<&'static str>,
    /// Why it is open, for `whyport TARGET --json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<WhyJson>,
    /// Its network namespace, with `-A`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson>,
    /// `exposed` (reachable beyond loopback) or `loopback`, in the listing
    /// (as `--exposed`/`--loopback` judge it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<&'static str>,
    /// What this host's packet filter lets in (docs/firewall.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall: Option<super::json_firewall::FirewallJson>,
}

#[derive(Debug, Serialize)]
pub struct ServiceJson {
    pub name: &'static str,
    pub description: &'static str,
    pub aliases: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct ProcessJson<'a> {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: &'a str,
    pub exe: Option<&'a str>,
    pub cmdline: &'a [String],
    pub user: Option<&'a str>,
    pub uid: Option<u32>,
    pub started_at: Option<&'a str>,
    pub fds: &'a [u32],
    /// Hex of the raw bytes, present only when `name` was not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_hex: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe_hex: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline_hex: Option<&'a [String]>,
    /// Working directory; read only to explain targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<&'a str>,
}

/// The text of one process, converted once however many sockets it holds.
#[derive(Debug)]
pub(super) struct ProcessText {
    name: String,
    exe: Option<String>,
    cmdline: Vec<String>,
    started_at: Option<String>,
    name_hex: Option<String>,
    exe_hex: Option<String>,
    cmdline_hex: Option<Vec<String>>,
    cwd: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HiddenJson {
    pub reason: Option<&'static str>,
    pub sockets_without_owner: usize,
    pub sockets_with_partial_owners: usize,
}

/// The text of every owner, converted once.
pub(super) fn texts(report: &Report) -> HashMap<u32, ProcessText> {
    let mut texts: HashMap<u32, ProcessText> = HashMap::new();
    for o in report
        .listeners
        .iter()
        .chain(&report.ns_listeners)
        .flat_map(|l| &l.owners)
    {
        texts
            .entry(o.process.pid)
            .or_insert_with(|| text(&o.process));
    }
    texts
}

/// `--format ndjson`: one Listener object (docs/json.md) per line, nothing
/// else, so `grep` and line-based tools can handle the stream.
pub(super) fn render_ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let texts = texts(report);
    for l in &report.listeners {
        let mut j = listener_json(l, &texts);
        j.exposure = report.exposure_id(l.inode);
        j.firewall = report
            .firewalls
            .get(&l.inode)
            .map(|f| super::json_firewall::firewall(f));
        if report.all_namespaces {
            j.netns = netns_json(report, l.netns);
        }
        serde_json::to_writer(&mut *out, &j).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    Ok(())
}

pub(super) fn render<'a>(
    report: &'a Report,
    answer: Option<&'a Answer<'a>>,
    pretty: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let texts = texts(report);
    let doc = document(report, answer, &texts);
    // serde_json writes a document in small pieces (a key, a comma): into
    // a buffer of a known type, not each through `dyn Write`.
    let mut buf = io::BufWriter::with_capacity(64 * 1024, &mut *out);
    write_document(doc, pretty, None, &mut buf)?;
    buf.flush()
}

pub(super) fn document<'a>(
    report: &'a Report,
    answer: Option<&'a Answer<'a>>,
    texts: &'a HashMap<u32, ProcessText>,
) -> ListingJson<'a> {
    ListingJson {
        version: JSON_VERSION,
        iana_snapshot: IANA_SNAPSHOT,
        listeners: Listeners {
            report,
            answer,
            texts,
            apart: false,
        },
        hidden: HiddenJson {
            reason: report.hidden.reason.map(reason_id),
            sockets_without_owner: report.hidden.hidden,
            sockets_with_partial_owners: report.hidden.partial,
        },
        notes: &report.notes,
        unanswered: answer.map(|_| {
            report
                .unanswered
                .iter()
                .map(super::json_why::unanswered)
                .collect()
        }),
        forwarded: forwards_json(report, texts),
        other_namespaces: report
            .other_listeners
            .filter(|_| !report.all_namespaces)
            .map(|(listeners, namespaces)| OtherJson {
                listeners,
                namespaces,
            }),
    }
}

/// The document and a newline, its listeners written on `threads` threads
/// (`chunks::in_order`) when there are many of them and it is not
/// indented.
pub(super) fn write_document(
    mut doc: ListingJson<'_>,
    pretty: bool,
    threads: Option<usize>,
    out: &mut impl Write,
) -> io::Result<()> {
    doc.listeners.apart =
        !pretty && doc.listeners.report.listeners.len() >= crate::chunks::WORTH_IT;
    if pretty {
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    } else if doc.listeners.apart {
        // The document with an empty list, and the objects written into
        // its place: byte for byte what serializing it whole writes.
        let skeleton = serde_json::to_vec(&doc).map_err(io::Error::from)?;
        const PLACE: &[u8] = b"\"listeners\":[";
        let at = skeleton
            .windows(PLACE.len())
            .position(|w| w == PLACE)
            .map(|i| i + PLACE.len())
            .ok_or_else(|| io::Error::other("the listing has no listeners key"))?;
        out.write_all(&skeleton[..at])?;
        write_apart(&doc.listeners, threads, out)?;
        out.write_all(&skeleton[at..])?;
    } else {
        serde_json::to_writer(&mut *out, &doc).map_err(io::Error::from)?;
    }
    writeln!(out)
}

pub(super) fn listener_json<'a>(
    l: &'a Listener,
    texts: &'a HashMap<u32, ProcessText>,
) -> ListenerJson<'a> {
    let (status, reason) = match l.owner_status {
        OwnerStatus::Visible => ("visible", None),
        OwnerStatus::Partial(r) => ("partial", Some(reason_id(r))),
        OwnerStatus::Hidden(r) => ("hidden", Some(reason_id(r))),
        OwnerStatus::Kernel => ("kernel", None),
    };
    ListenerJson {
        protocol: l.protocol.as_str(),
        family: if l.address.is_ipv4() { "ipv4" } else { "ipv6" },
        address: l.address_text(),
        port: l.port,
        interface: l.interface.as_deref(),
        dual_stack: l.dual_stack,
        inode: l.inode,
        socket_uid: l.socket_uid,
        service: l.service.map(|s| ServiceJson {
            name: s.name(),
            description: s.description(),
            aliases: s.aliases().collect(),
        }),
        processes: l
            .owners
            .iter()
            .filter_map(|o| Some(process(&o.process, texts.get(&o.process.pid)?, &o.fds)))
            .collect(),
        owner_status: status,
        hidden_reason: reason,
        why: None,
        netns: None,
        exposure: None,
        firewall: None,
    }
}

fn netns_json(report: &Report, inode: u64) -> Option<NetnsJson> {
    report.namespace(inode).map(|n| NetnsJson {
        inode: n.inode,
        kind: n.kind,
        label: n.label.clone(),
        summary: n.summary.clone(),
    })
}

fn forwards_json(report: &Report, texts: &HashMap<u32, ProcessText>) -> Vec<ForwardJson> {
    report
        .forwards
        .iter()
        .map(|f| forward_json(report, f, texts))
        .collect()
}

/// One Forward object (docs/json.md).
pub fn forward_json(
    report: &Report,
    f: &crate::report::Forward,
    texts: &HashMap<u32, ProcessText>,
) -> ForwardJson {
    use crate::explain::forward::Destination;
    let (destination, netns) = match f.destination {
        Destination::ThisHost => ("this_host", None),
        Destination::Namespace(i) => ("namespace", netns_json(report, i)),
        Destination::OtherHost => ("other_host", None),
        Destination::Unknown => ("unknown", None),
    };
    let r = &f.rule;
    ForwardJson {
        protocol: r.protocol.map(|p| p.as_str()),
        ports: PortsJson::of(&r.ports),
        action: match r.action {
            crate::model::NatAction::Dnat { .. } => "dnat",
            crate::model::NatAction::Redirect { .. } => "redirect",
            crate::model::NatAction::Unknown => "unknown",
        },
        to_address: f.to_address.map(|a| a.to_string()),
        to_ports: f.to_ports,
        destination,
        netns,
        hook: r.hook.as_str(),
        rule: RuleJson {
            family: r.family.clone(),
            table: r.table.clone(),
            chain: r.chain.clone(),
            handle: r.handle,
            comment: r.comment.clone(),
            daddr: r.daddr.map(|a| a.to_string()),
            iif: r.iif.as_ref().map(|(neg, name)| {
                if *neg {
                    format!("!{name}")
                } else {
                    name.clone()
                }
            }),
            undecoded: r.undecoded.clone(),
            path: r.path.clone(),
            local_only: r.local_only,
            split: r.split.clone(),
            service: r.service.clone(),
        },
        listeners: f
            .receivers
            .iter()
            .filter_map(|i| report.listener(*i))
            .filter_map(|l| serde_json::to_value(listener_json(l, texts)).ok())
            .collect(),
        firewall: f.firewall.as_ref().map(super::json_firewall::firewall),
    }
}

fn process<'a>(p: &'a Process, t: &'a ProcessText, fds: &'a [u32]) -> ProcessJson<'a> {
    ProcessJson {
        pid: p.pid,
        ppid: p.ppid,
        name: &t.name,
        exe: t.exe.as_deref(),
        cmdline: &t.cmdline,
        user: p.user.as_deref(),
        uid: p.uid,
        started_at: t.started_at.as_deref(),
        fds,
        name_hex: t.name_hex.as_deref(),
        exe_hex: t.exe_hex.as_deref(),
        cmdline_hex: t.cmdline_hex.as_deref(),
        cwd: t.cwd.as_deref(),
    }
}

fn text(p: &Process) -> ProcessText {
    let exe = p.exe.as_ref().map(|e| e.as_os_str().as_encoded_bytes());
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    ProcessText {
        name: lossy(&p.name),
        exe: exe.map(lossy),
        cmdline: p.cmdline.iter().map(|a| lossy(a)).collect(),
        started_at: p.started_at.map(|s| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string()
        }),
        name_hex: raw_hex(&p.name),
        exe_hex: exe.and_then(raw_hex),
        cmdline_hex: p
            .cmdline
            .iter()
            .any(|a| std::str::from_utf8(a).is_err())
            .then(|| p.cmdline.iter().map(|a| hex(a)).collect()),
        cwd: p
            .cwd
            .as_ref()
            .map(|c| lossy(c.as_os_str().as_encoded_bytes())),
    }
}

/// Hex of `bytes` when they are not valid UTF-8 (so the JSON string lost
/// something), else `None`.
fn raw_hex(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).is_err().then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn reason_id(r: HiddenReason) -> &'static str {
    match r {
        HiddenReason::NotRoot => "not_root",
        HiddenReason::Hidepid => "hidepid",
        HiddenReason::FdUnreadable => "fd_unreadable",
        HiddenReason::PidNamespace => "pid_namespace",
    }
}
