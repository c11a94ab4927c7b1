//! The answer to `whyport TARGET`, in prose: one block per listening
//! socket, then a line for each target that nothing listens on. Every piece
//! of process text is escaped.

use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use super::Answer;
use super::look::{BOLD, Look, RED, paint};
use crate::explain::exposure::Exposure;
use crate::explain::why::{Explanation, Group};
use crate::model::{PidState, Process};
use crate::query::Target;
use crate::report::{Report, Unanswered};
use crate::sanitize::{escape, escape_str};

/// Write the explanations, then the targets that found nothing.
pub fn render(
    report: &Report,
    answer: &Answer<'_>,
    look: &Look,
    out: &mut dyn Write,
) -> io::Result<()> {
    if *look == Look::default() {
        return prose(report, answer, out);
    }
    let mut text = Vec::new();
    prose(report, answer, &mut text)?;
    out.write_all(styled(&String::from_utf8_lossy(&text), look).as_bytes())
}

/// The prose for a terminal: each line cut to its width (command lines
/// are long), socket headings and field labels bold, warnings in red.
/// The text is escaped already, so it holds no code of its own.
pub fn styled(text: &str, look: &Look) -> String {
    let mut out = String::with_capacity(text.len());
    let mut warn = false;
    for line in text.lines() {
        let line = match look.width {
            Some(w) => super::look::truncate(line, w),
            None => line.to_string(),
        };
        if line.is_empty() {
            out.push('\n');
            continue;
        }
        if !line.starts_with(' ') {
            warn = false;
            out.push_str(&paint(look, BOLD, &line));
        } else if line.len() > 12 && line.as_bytes()[2] != b' ' {
            let (label, rest) = line.split_at(11);
            warn = label.trim() == "warnings";
            out.push_str(&paint(look, BOLD, label));
            out.push_str(&if warn {
                paint(look, RED, rest)
            } else {
                rest.to_string()
            });
        } else if warn {
            out.push_str(&paint(look, RED, &line));
        } else {
            out.push_str(&line);
        }
        out.push('\n');
    }
    out
}

fn prose(report: &Report, answer: &Answer<'_>, out: &mut dyn Write) -> io::Result<()> {
    let (explanations, now) = (&answer.explanations, answer.now);
    for (i, e) in explanations.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        block(e, now, out)?;
    }
    for (i, f) in report.forwards.iter().enumerate() {
        if i > 0 || !explanations.is_empty() {
            writeln!(out)?;
        }
        forward(report, f, now, out)?;
    }
    for u in &report.unanswered {
        if !explanations.is_empty() {
            writeln!(out)?;
        }
        nothing(report, u, out)?;
    }
    Ok(())
}

/// A port open by a DNAT or redirect rule: the path from the host port to
/// the process that gets the traffic, and how to close it.
fn forward(
    report: &Report,
    f: &crate::explain::forward::Forward,
    now: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::explain::forward::{Destination, caught_text, rule_name, to_text};
    let protocol = f.rule.protocol.map_or("tcp/udp", |p| p.as_str());
    let listened = report.listeners.iter().any(|l| {
        (l.netns == 0 || l.netns == report.own_netns)
            && crate::explain::forward::catches(f, l.port, l.protocol)
    });
    let r = &f.rule;
    let by = if crate::explain::forward::from_outside(f) {
        "forwarded by a NAT rule".to_string()
    } else {
        format!(
            "forwarded for this host's own connections by a NAT rule ({} hook: not reachable from outside)",
            r.hook.as_str()
        )
    };
    writeln!(
        out,
        "{protocol} port {}  {by}{}",
        caught_text(f),
        if listened {
            ""
        } else {
            " (no socket listens on it here)"
        }
    )?;
    if let Some(service) = &r.service {
        field(
            out,
            "service",
            &[format!("Kubernetes service {}", escape_str(service))],
        )?;
    }
    let mut rule = vec![rule_name(r)];
    if r.path.len() > 1 {
        rule.push(format!(
            "reached by {} -> {}",
            r.hook.as_str(),
            r.path
                .iter()
                .map(|c| escape_str(c))
                .collect::<Vec<_>>()
                .join(" -> ")
        ));
    }
    let mut when = Vec::new();
    if let Some(d) = r.daddr {
        when.push(format!("to {d}"));
    }
    if r.local_only {
        when.push("to an address of this host".into());
    }
    if let Some((neg, name)) = &r.iif {
        when.push(format!(
            "arriving {}on {}",
            if *neg { "not " } else { "" },
            escape_str(name)
        ));
    }
    if !when.is_empty() {
        rule.push(format!("only for traffic {}", when.join(", ")));
    }
    if !r.undecoded.is_empty() {
        rule.push(format!(
            "not decoded: {}",
            escape_str(&r.undecoded.join("; "))
        ));
    }
    field(out, "rule", &rule)?;
    let place = match f.destination {
        Destination::ThisHost => "this host".to_string(),
        Destination::Namespace(inode) => report.namespace(inode).map_or_else(
            || format!("network namespace {inode}"),
            |n| format!("{}: {}", n.label, n.summary),
        ),
        Destination::OtherHost => {
            "another host (no network namespace here has that address)".into()
        }
        Destination::Unknown => String::new(),
    };
    let mut to = if place.is_empty() {
        to_text(f)
    } else {
        format!("{} in {place}", to_text(f))
    };
    let peers = crate::explain::forward::split_size(report, f);
    if let (Some(split), true) = (&r.split, peers > 1) {
        to.push_str(&format!(
            " (one of {peers} destinations chosen at random by chain {})",
            escape_str(split)
        ));
    }
    field(out, "to", &[to])?;
    if let Some(fw) = &f.firewall {
        field(out, "firewall", &firewall_lines(fw))?;
    }
    let targets: Vec<&crate::report::Listener> = f
        .receivers
        .iter()
        .filter_map(|i| report.listener(*i))
        .collect();
    let mut owners = Vec::new();
    let mut path_end = Vec::new();
    for l in &targets {
        for o in &l.owners {
            if !path_end.contains(&o.process.pid) {
                path_end.push(o.process.pid);
                owners.push(format!(
                    "{}: {} ({} {}:{})",
                    escape(&o.process.name),
                    who(&o.process),
                    l.protocol.as_str(),
                    l.address_shown(true),
                    l.port
                ));
                if let Some(t) = o.process.started_at {
                    owners.push(format!("  started {}", ago(now, t)));
                }
            }
        }
    }
    if targets.is_empty()
        && matches!(
            f.destination,
            Destination::ThisHost | Destination::Namespace(_)
        )
    {
        owners.push("nothing listens there now: connections are refused or time out".into());
    }
    for l in crate::explain::forward::missed_by_redirect(report, f, report.own_netns) {
        owners.push(format!(
            "not {} {}:{}: it is bound to loopback, and a redirect of incoming traffic goes to the address of the interface it came in on (unless that interface has route_localnet)",
            l.protocol.as_str(),
            l.address_shown(true),
            l.port
        ));
    }
    if !owners.is_empty() {
        field(out, "owners", &owners)?;
    }
    let stop_rule = match r.family.as_str() {
        "iptables-legacy" => format!(
            "delete the rule: iptables-legacy -t {} -L {} --line-numbers, then -D {} <number>",
            escape_str(&r.table),
            escape_str(&r.chain),
            escape_str(&r.chain)
        ),
        _ => format!(
            "delete the rule: nft delete rule {} {} {} handle {}",
            escape_str(&r.family),
            escape_str(&r.table),
            escape_str(&r.chain),
            r.handle
        ),
    };
    let mut stop = vec![stop_rule];
    if let Destination::Namespace(inode) = f.destination
        && let Some((runtime, id, name)) = report.namespace(inode).and_then(|n| n.container.clone())
    {
        let shown = name.unwrap_or_else(|| crate::explain::why::origin_of::short(&id).to_string());
        stop.push(format!(
            "or stop the {} container {} (its runtime then removes the rule)",
            runtime.name(),
            escape_str(&shown)
        ));
    }
    field(out, "stop", &stop)
}

fn block(e: &Explanation<'_>, now: u64, out: &mut dyn Write) -> io::Result<()> {
    let l = e.listener;
    let address = l.address_shown(true);
    let service = match l.service {
        Some(s) if s.description().is_empty() => format!("  ({})", s.name()),
        Some(s) => format!("  ({}: {})", s.name(), s.description()),
        None => String::new(),
    };
    writeln!(
        out,
        "{} {}:{}{service}",
        l.protocol.as_str(),
        address,
        l.port
    )?;
    field(out, "reach", &[reach(&e.exposure)])?;
    if let Some(fw) = e.firewall {
        field(out, "firewall", &firewall_lines(fw))?;
    }
    let mut owners = Vec::new();
    for g in &e.groups {
        owners.extend(group_lines(g, now));
    }
    if !owners.is_empty() {
        field(out, "owners", &owners)?;
    }
    if e.ancestry.len() > 1 {
        let chain: Vec<String> = e
            .ancestry
            .iter()
            .map(|p| format!("{}({})", escape(&p.name), p.pid))
            .collect();
        field(out, "chain", &[chain.join(" -> ")])?;
    }
    field(out, "why", std::slice::from_ref(&e.origin.summary))?;
    if let Some(m) = &e.mismatch {
        field(out, "note", std::slice::from_ref(m))?;
    }
    if !e.warnings.is_empty() {
        let w: Vec<String> = e
            .warnings
            .iter()
            .map(|w| format!("[{}] {}", w.id, w.text))
            .collect();
        field(out, "warnings", &w)?;
    }
    field(out, "stop", &e.stop)
}

/// `  label     first line` then continuation lines aligned under it.
/// Every line is escaped here, whoever built it: the origin and the stop
/// advice name units and containers, whose names come from cgroup paths
/// a user can make up. Escaping is idempotent, so text escaped already
/// (process names) is unchanged.
fn field(out: &mut dyn Write, label: &str, lines: &[String]) -> io::Result<()> {
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        writeln!(out, "  {label:<9} {}", escape_str(line))?;
    }
    Ok(())
}

/// The firewall's answer, and (said where it matters) that only this
/// host's rules were read.
fn firewall_lines(fw: &crate::report::firewall::Reachability) -> Vec<String> {
    use crate::report::firewall::Answer;
    let mut lines = fw.lines.clone();
    // Not evaluated, the one note is the reason its line already gives.
    if fw.evaluated() {
        lines.extend(fw.notes.iter().cloned());
    }
    if fw.answer != Answer::LocalOnly {
        // Within 80 columns after the field's label.
        lines.push("(this host's rules only; not upstream or cloud firewalls)".into());
    }
    lines
}

fn reach(e: &Exposure) -> String {
    match e {
        Exposure::Loopback => "loopback only: reachable from this host alone".into(),
        Exposure::All {
            ipv4,
            ipv6,
            addresses,
            known,
        } => {
            let families = match (ipv4, ipv6) {
                (true, true) => "IPv4 and IPv6",
                (true, false) => "IPv4",
                _ => "IPv6",
            };
            let list: Vec<String> = addresses
                .iter()
                .map(|(i, a)| format!("{a} ({})", escape_str(i)))
                .collect();
            if !known {
                format!(
                    "all {families} interfaces of its network namespace (whose addresses could not be read)"
                )
            } else if list.is_empty() {
                format!(
                    "all {families} interfaces of its network namespace, which has no address besides loopback now: reachable from that namespace alone"
                )
            } else {
                format!("all {families} interfaces: {}", list.join(", "))
            }
        }
        Exposure::Address { interface: Some(i) } => {
            format!("this address only, on {}", escape_str(i))
        }
        Exposure::Address { interface: None } => "this address only".into(),
        Exposure::Interface { name } => format!("only through interface {}", escape_str(name)),
        Exposure::LinkLocal { interface } => format!(
            "link-local{}: reachable only from the same network segment",
            interface
                .as_deref()
                .map(|i| format!(" on {}", escape_str(i)))
                .unwrap_or_default()
        ),
    }
}

fn who(p: &Process) -> String {
    let user = match (&p.user, p.uid) {
        (Some(u), _) => escape_str(u),
        (None, Some(uid)) => format!("uid {uid}"),
        _ => "?".into(),
    };
    format!("{} ({user})", p.pid)
}

/// "nginx: 812 (root) + 2 workers 813, 814 (www-data)", then the leader's
/// executable, directory, command line and start.
fn group_lines(g: &Group, now: u64) -> Vec<String> {
    let p = &g.leader;
    let mut head = format!("{}: {}", escape(&p.name), who(p));
    if !g.workers.is_empty() {
        let pids: Vec<String> = g.workers.iter().map(|w| w.pid.to_string()).collect();
        let mut users: Vec<String> = g
            .workers
            .iter()
            .map(|w| w.user.clone().unwrap_or_else(|| "?".into()))
            .collect();
        users.dedup();
        let noun = if g.workers.len() == 1 {
            "worker"
        } else {
            "workers"
        };
        head.push_str(&format!(
            " + {} {noun} {} ({})",
            g.workers.len(),
            pids.join(", "),
            escape_str(&users.join(","))
        ));
    }
    let mut lines = vec![head];
    let mut detail = Vec::new();
    if let Some(exe) = &p.exe {
        detail.push(format!(
            "exe {}",
            escape(exe.as_os_str().as_encoded_bytes())
        ));
    }
    if let Some(cwd) = &p.cwd {
        detail.push(format!(
            "cwd {}",
            escape(cwd.as_os_str().as_encoded_bytes())
        ));
    }
    if !detail.is_empty() {
        lines.push(format!("  {}", detail.join(", ")));
    }
    if !p.cmdline.is_empty() {
        let args: Vec<String> = p.cmdline.iter().map(|a| escape(a)).collect();
        // Programs that retitle themselves (redis, postgres) pad with spaces.
        lines.push(format!("  cmd {}", args.join(" ").trim_end()));
    }
    if let Some(t) = p.started_at {
        let at = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t));
        lines.push(format!("  started {at} ({})", ago(now, t)));
    }
    lines
}

/// "3h 12m ago", "2d 4h ago", "40s ago".
pub fn ago(now: u64, then: u64) -> String {
    let s = now.saturating_sub(then);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h {}m ago", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h ago", s / 86400, s % 86400 / 3600),
    }
}

fn target_text(t: &Target) -> String {
    let spec = escape_str(&t.spec());
    match t {
        Target::Ports { .. } => format!("port {spec}"),
        Target::Service { .. } => format!("the ports registered for {spec}"),
        Target::Pid(pid) => format!("process {pid}"),
        Target::Process { name, .. } => format!("processes named {}", escape_str(name)),
    }
}

/// What a `--pid` that found no listener is, for people.
fn pid_state_text(report: &Report, pid: u32, state: &PidState) -> String {
    match state {
        PidState::OtherNamespace(inode) => format!(
            "holds no listening socket in this network namespace; it lives in {} (see `whyport -A --pid {pid}`)",
            ns_words(report, *inode)
        ),
        PidState::Missing => "no such process".into(),
        PidState::Zombie => {
            "a zombie: it has exited (its parent has not collected it) and holds nothing".into()
        }
        PidState::Unreadable(why) => format!(
            "its open files could not be read, so whether it listens is unknown: {}",
            escape_str(why)
        ),
        PidState::NoListener => "holds no listening socket".into(),
        PidState::Unknown => "holds no listening socket (or does not exist)".into(),
    }
}

const STATES: [&str; 13] = [
    "?",
    "ESTABLISHED",
    "SYN-SENT",
    "SYN-RECV",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "CLOSE",
    "CLOSE-WAIT",
    "LAST-ACK",
    "LISTEN",
    "CLOSING",
    "NEW-SYN-RECV",
];

/// A namespace in a few words: `container docker:web`, `network
/// namespace net:[4026532310]`.
fn ns_words(report: &Report, inode: u64) -> String {
    match report.namespace(inode) {
        Some(n) if n.kind == "container" || n.kind == "pod" => format!("container {}", n.label),
        Some(n) => format!("network namespace {}", n.label),
        None => format!("network namespace net:[{inode}]"),
    }
}

fn nothing(report: &Report, u: &Unanswered, out: &mut dyn Write) -> io::Result<()> {
    let (t, conns) = (&u.target, &u.connections);
    let what = target_text(t);
    match (t, &u.process) {
        (Target::Pid(pid), Some(state)) => {
            return writeln!(out, "{what}: {}", pid_state_text(report, *pid, state));
        }
        (Target::Pid(_) | Target::Process { .. }, _) => {
            return writeln!(out, "{what}: holds no listening socket (or does not exist)");
        }
        _ => {}
    }
    if !u.elsewhere.is_empty() {
        let places: Vec<String> = u
            .elsewhere
            .iter()
            .map(|l| {
                format!(
                    "{} {}:{} in {}",
                    l.protocol.as_str(),
                    l.address_shown(true),
                    l.port,
                    ns_words(report, l.netns)
                )
            })
            .collect();
        writeln!(
            out,
            "{what}: nothing is listening in this network namespace; listening in another: {} (see `whyport -A {}`)",
            places.join(", "),
            escape_str(&t.spec())
        )?;
        if conns.is_empty() {
            return Ok(());
        }
    } else if conns.is_empty() {
        return writeln!(out, "{what}: nothing is listening");
    }
    let lead = if u.elsewhere.is_empty() {
        "nothing is listening; "
    } else {
        "here "
    };
    writeln!(
        out,
        "{what}: {lead}{} connection{} use{} it (outgoing or established, not a listener):",
        conns.len(),
        if conns.len() == 1 { "" } else { "s" },
        if conns.len() == 1 { "s" } else { "" }
    )?;
    for c in conns.iter().take(10) {
        let k = &c.connection;
        let owners: Vec<String> = c
            .owners
            .iter()
            .map(|o| format!("{} ({})", escape(&o.process.name), o.process.pid))
            .collect();
        let state = STATES.get(usize::from(k.state)).copied().unwrap_or("?");
        let by = if owners.is_empty() {
            String::new()
        } else {
            format!("  {}", owners.join(", "))
        };
        writeln!(
            out,
            "  {} {} -> {} {state}{by}",
            k.protocol.as_str(),
            k.local,
            k.remote
        )?;
    }
    if conns.len() > 10 {
        writeln!(out, "  ... and {} more", conns.len() - 10)?;
    }
    Ok(())
}
