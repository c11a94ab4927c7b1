//! One run of whyport: collect -> explain -> render, and the exit status.
//! The listing and each subcommand (audit, policy init, snapshot, diff)
//! have a function here; everything they do besides reading files and the
//! system is a pure function elsewhere.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::audit::{baseline, eval, init, policy};
use crate::collect::files;
use crate::collect::{self, Details, Request};
use crate::config::{Command, Config, Look, Output, ReportFormat};
use crate::explain::{self, why};
use crate::query::{Query, Target};
use crate::render::{self, Answer};
use crate::report::Report;

/// How a successful run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something was listed (or nothing was asked for and nothing is open);
    /// the host complies; nothing changed.
    Listed,
    /// A filter matched no listening socket: exit status 1.
    NothingMatched,
    /// The audit found something, or the diff a change: exit status 1.
    Findings,
    /// What was asked cannot be answered from what whyport could read (a
    /// `--pid` whose open files are unreadable), and the output says why:
    /// exit status 2, with no further message.
    Undetermined,
}

/// An error the user can fix, with what to do: printed as
/// `whyport: MESSAGE: HINT`.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: &'static str,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

fn user_error(message: String, hint: &'static str) -> anyhow::Error {
    anyhow::Error::new(UserError { message, hint })
}

/// Run whyport with `config`, writing the result to `out` and notices to
/// `err`. Errors are for the caller to print; a closed pipe is an `io`
/// error of kind `BrokenPipe` in the chain.
pub fn run(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    match &config.command {
        Command::List => list(config, out, err),
        Command::Audit {
            policy,
            format,
            output,
            fail_on,
        } => {
            let terms = eval::Terms {
                today: today()?,
                fail_on: *fail_on,
            };
            audit(config, policy, *format, output.as_deref(), terms, out, err)
        }
        Command::PolicyInit { output } => policy_init(config, output.as_deref(), out, err),
        Command::Snapshot { output } => snapshot(config, output.as_deref(), out, err),
        Command::Completions { shell } => {
            crate::cli::completions(shell, out)?;
            Ok(Outcome::Listed)
        }
        Command::Man { page, dir } => man(page.as_deref(), dir.as_deref(), out),
        Command::Watch { .. } => watch(config, out, err),
        Command::Diff {
            baseline,
            format,
            output,
            strict,
        } => diff(
            config,
            baseline,
            *format,
            output.as_deref(),
            *strict,
            out,
            err,
        ),
    }
}

fn list(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let query = &config.query;
    let asking = query.asking();
    // Read only what the output shows.
    let details = match config.output {
        // A process target is matched by the owners' names and
        // executables, and --exposed/--loopback by the host's addresses:
        // the bare pid scan reads neither.
        Output::Pids
            if query.filter.reach.is_some()
                || query
                    .targets
                    .iter()
                    .any(|t| matches!(t, Target::Process { .. })) =>
        {
            Details::Full
        }
        Output::Pids => Details::Pid,
        Output::Table { .. } => Details::Identity,
        Output::Json { .. } if asking => Details::Explain,
        Output::Json { .. } | Output::Csv { .. } | Output::Ndjson => Details::Full,
        Output::Explain => Details::Explain,
    };
    let ports = query.kernel_ports();
    let pids = query.pids();
    let request = Request {
        protocols: &query.filter.protocols,
        ports: &ports,
        pids: &pids,
        details,
        user_names: !config.numeric && config.output != Output::Pids,
        owner_files: details == Details::Explain,
        all_namespaces: config.all_namespaces,
        elsewhere: config.output != Output::Pids,
        firewall: config.output != Output::Pids,
        backend: config.backend,
    };
    let snapshot = collect::collect(&config.source, request, |s| query.keeps(s))?;
    let mut timings = snapshot.timings.clone();
    let walk_error = snapshot.walk_error.clone();
    let explained = Instant::now();
    let options = explain::Options {
        services: !config.numeric,
        all_namespaces: config.all_namespaces,
        compact: matches!(config.output, Output::Table { .. }),
        firewall: config.output != Output::Pids,
    };
    let report = explain::explain(snapshot, query, options);
    let answer = asking.then(|| Answer {
        explanations: why::explain_all(&report),
        now: unix_now(),
    });
    timings.push(("explain", explained.elapsed()));
    notes(&report, err)?;
    name_notes(&report, err)?;
    if config.output == Output::Pids
        && let Some((message, fix)) = render::unseen_owners(&report)
    {
        // No PID would read as "nothing to kill": the answer is unknown.
        return Err(user_error(message, fix));
    }
    // Something asked about found nothing: 1, so scripts can tell.
    let nothing = report.listeners.is_empty() && report.forwards.is_empty();
    let unknowable = report
        .unanswered
        .iter()
        .any(|u| matches!(u.process, Some(crate::model::PidState::Unreadable(_))));
    let outcome = if unknowable {
        Outcome::Undetermined
    } else if (nothing && query.narrowed()) || !report.unanswered.is_empty() {
        Outcome::NothingMatched
    } else {
        Outcome::Listed
    };
    let rendered = Instant::now();
    verdict_stands(
        render::render(
            &report,
            answer.as_ref(),
            config.output,
            config.numeric,
            &config.look,
            out,
        )
        .and_then(|()| out.flush()),
    )?;
    timings.push(("render", rendered.elapsed()));
    if config.timings {
        let phases: Vec<String> = timings
            .iter()
            .map(|(phase, d)| format!("{phase} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        writeln!(err, "whyport: timings: {}", phases.join(", "))?;
        if let Some(why) = walk_error {
            writeln!(err, "whyport: timings: {}", crate::sanitize::one_line(&why))?;
        }
    }
    hidden(&report, config.verbose, err)?;
    if let Some(notice) = render::elsewhere_notice(&report) {
        writeln!(err, "{notice}")?;
    }
    // The process ends here: freeing the report piece by piece would take
    // 2% of a 10,000-listener run (perf) for memory the exit returns anyway.
    std::mem::forget(answer);
    std::mem::forget(report);
    Ok(outcome)
}

/// `whyport audit --policy FILE [-o FILE]`.
fn audit(
    config: &Config,
    path: &Path,
    format: ReportFormat,
    output: Option<&Path>,
    terms: eval::Terms,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    // The policy is read first: a typo costs no scan.
    let text = read_text(
        path,
        "policy",
        "give the path of a policy file; `whyport policy init > whyport.toml` writes one",
        err,
    )?;
    let policy = policy::parse(&text).map_err(|e| {
        user_error(
            format!("{}:{e}", path.display()),
            "fix the policy; its format is described in `man 5 whyport-policy`",
        )
    })?;
    let report = whole_host(config, Details::Identity, err)?;
    // Ports a NAT rule forwards are open too: judged whole, as forwards.
    let openings = eval::Opening::all(&report);
    let result = eval::audit_on(&policy, &openings, terms);
    let cx = context(config, path, text.as_bytes(), &report);
    report_to(output, out, |w| {
        render::audit::render(&result, &report, format, &cx, w)
    })?;
    hidden(&report, config.verbose, err)?;
    Ok(if result.compliant() {
        Outcome::Listed
    } else {
        Outcome::Findings
    })
}

/// `whyport policy init`.
fn policy_init(
    config: &Config,
    output: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let report = whole_host(config, Details::Identity, err)?;
    let openings = eval::Opening::all(&report);
    let cx = context(config, Path::new(""), b"", &report);
    let text = init::policy_for(
        &openings,
        report.host.ephemeral_ports,
        &cx.hostname,
        &cx.timestamp,
    );
    emit(output, text.as_bytes(), out)?;
    hidden(&report, config.verbose, err)?;
    Ok(Outcome::Listed)
}

/// `whyport snapshot`: the JSON listing of the whole host.
fn snapshot(
    config: &Config,
    output: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let report = whole_host(config, Details::Full, err)?;
    let mut json = Vec::new();
    render::render(
        &report,
        None,
        Output::Json { pretty: true },
        false,
        &render::look::Look::default(),
        &mut json,
    )?;
    emit(output, &json, out)?;
    hidden(&report, config.verbose, err)?;
    Ok(Outcome::Listed)
}

/// `whyport diff BASELINE [-o FILE]`.
fn diff(
    config: &Config,
    path: &Path,
    format: ReportFormat,
    output: Option<&Path>,
    strict: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let text = read_text(
        path,
        "baseline",
        "give a file written by `whyport snapshot -o FILE`",
        err,
    )?;
    let before = baseline::parse(&text).map_err(|e| {
        let at = e
            .position
            .map(|(l, c)| format!(":{l}:{c}"))
            .unwrap_or_default();
        user_error(
            format!("{}{at}: {}", path.display(), e.message),
            "take a baseline with `whyport snapshot -o FILE`",
        )
    })?;
    let report = whole_host(config, Details::Full, err)?;
    // Now goes through the same JSON as the baseline did, so both sides
    // are compared in the same terms.
    let mut json = Vec::new();
    render::render(
        &report,
        None,
        Output::Json { pretty: false },
        false,
        &render::look::Look::default(),
        &mut json,
    )?;
    let now = baseline::parse(&String::from_utf8_lossy(&json))
        .map_err(|e| anyhow::anyhow!("reading back the listing failed: {}", e.message))?;
    let result = baseline::diff(&before, &now, strict);
    let cx = context(config, path, text.as_bytes(), &report);
    report_to(output, out, |w| {
        render::diff::render(&result, format, &cx, w)
    })?;
    hidden(&report, config.verbose, err)?;
    Ok(if result.changes.is_empty() {
        Outcome::Listed
    } else {
        Outcome::Findings
    })
}

/// `whyport man [PAGE]`: one page on `out`; `whyport man --dir DIR`:
/// every page written to DIR as NAME.SECTION, each like `-o FILE`.
fn man(page: Option<&str>, dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if let Some(dir) = dir {
        let hint = "give an existing directory whyport may write in (mkdir it first)";
        let refused =
            |e: files::Refusal| user_error(format!("cannot write in {}: {e}", dir.display()), hint);
        files::check_dir(dir).map_err(refused)?;
        for page in crate::cli::pages() {
            files::write(&dir.join(page.file_name()), page.text.as_bytes()).map_err(refused)?;
        }
        return Ok(Outcome::Listed);
    }
    let Some(page) = crate::cli::man(page) else {
        return Err(user_error(
            format!("no man page {}", page.unwrap_or_default()),
            "name whyport, a command (audit, diff, snapshot, policy, policy-init, watch, completions, man) or policy.5",
        ));
    };
    out.write_all(page.text.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Listed)
}

/// `whyport watch`: poll the socket table every `interval` (one sock_diag
/// dump: no measurable load), and for the sockets that appeared find their
/// owners and origin; on a terminal redraw the table in place (on the
/// alternate screen, restored on the way out), elsewhere print an event for
/// each listener that opened or closed. Ends with exit 0 on Ctrl-C or
/// SIGTERM.
fn watch(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let Command::Watch {
        interval,
        json,
        live,
        filter,
    } = &config.command
    else {
        return Ok(Outcome::Listed);
    };
    collect::catch_interrupts();
    let mut sink = if *live {
        write!(out, "{}", render::watch::ENTER)?;
        Sink::Live(Screen::default())
    } else {
        Sink::Events {
            json: *json,
            described: HashMap::new(),
        }
    };
    let result = watch_loop(config, *interval, filter, &mut sink, out, err);
    if *live {
        write!(out, "{}", render::watch::LEAVE)?;
        out.flush()?;
    }
    result
}

/// Where `watch` says what changed.
enum Sink {
    /// Events, each listener described when it opened.
    Events {
        json: bool,
        described: HashMap<u64, render::watch::Described>,
    },
    /// The live table.
    Live(Screen),
}

/// The live view's rows by socket inode, and what was last drawn.
#[derive(Default)]
struct Screen {
    rows: HashMap<u64, render::watch::Live>,
    since: String,
    drawn: Option<(Option<usize>, Option<usize>)>,
}

impl Sink {
    fn closed(
        &mut self,
        inode: u64,
        time: &str,
        look: &Look,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        match self {
            Sink::Events { json, described } => match described.remove(&inode) {
                Some(d) => render::watch::event("closed", time, &d, *json, look, out),
                None => Ok(()),
            },
            Sink::Live(screen) => {
                if let Some(row) = screen.rows.get_mut(&inode) {
                    row.mark = Some(render::watch::Mark::Closed);
                    screen.drawn = None;
                }
                Ok(())
            }
        }
    }

    /// Listeners found open, with their owners; `quiet` for the first look.
    fn opened(
        &mut self,
        report: &Report,
        quiet: bool,
        config: &Config,
        time: &str,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        match self {
            Sink::Events { json, described } => {
                let all = render::watch::describe(report, config.numeric);
                for (l, d) in report.listeners.iter().zip(all) {
                    if !quiet {
                        render::watch::event("opened", time, &d, *json, &config.look, out)?;
                    }
                    described.insert(l.inode, d);
                }
            }
            Sink::Live(screen) => {
                for l in &report.listeners {
                    let compact = report.origins.get(&l.inode).cloned().unwrap_or_default();
                    let mark = (!quiet).then_some(render::watch::Mark::Opened);
                    let row = render::watch::Live {
                        listener: l.clone(),
                        compact,
                        mark,
                    };
                    screen.rows.insert(l.inode, row);
                }
                screen.drawn = None;
            }
        }
        Ok(())
    }

    /// A socket gone between the dump and the owner scan: open only briefly.
    fn blinked(
        &mut self,
        l: &crate::report::Listener,
        config: &Config,
        time: &str,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        match self {
            Sink::Events { json, .. } => {
                let d = render::watch::brief(l);
                render::watch::event("opened", time, &d, *json, &config.look, out)?;
                render::watch::event("closed", time, &d, *json, &config.look, out)
            }
            Sink::Live(screen) => {
                let mark = Some(render::watch::Mark::Closed);
                let row = render::watch::Live {
                    listener: l.clone(),
                    compact: Default::default(),
                    mark,
                };
                screen.rows.insert(l.inode, row);
                screen.drawn = None;
                Ok(())
            }
        }
    }

    /// Redraw the live view if anything or the terminal's size changed.
    fn draw(&mut self, config: &Config, out: &mut dyn Write) -> std::io::Result<()> {
        let Sink::Live(screen) = self else {
            return Ok(());
        };
        let width = config.look.width.and_then(|_| collect::terminal_width());
        let height = collect::terminal_height();
        if screen.drawn == Some((width, height)) {
            return Ok(());
        }
        screen.drawn = Some((width, height));
        let mut rows: Vec<&render::watch::Live> = screen.rows.values().collect();
        rows.sort_by_key(|r| {
            let l = &r.listener;
            (l.port, l.protocol.as_str(), l.address_text(), l.inode)
        });
        let rows: Vec<render::watch::Live> = rows.into_iter().cloned().collect();
        let count = |m| rows.iter().filter(|r| r.mark == m).count();
        use render::watch::Mark::{Closed, Opened};
        let status = format!(
            "whyport watch: {} listening; since {}: {} opened, {} closed; Ctrl-C ends",
            rows.len() - count(Some(Closed)),
            screen.since,
            count(Some(Opened)),
            count(Some(Closed)),
        );
        let look = Look {
            width,
            ..config.look
        };
        render::watch::draw(
            &rows,
            &status,
            config.numeric,
            &look,
            height.unwrap_or(24),
            out,
        )
    }
}

fn watch_loop(
    config: &Config,
    interval: std::time::Duration,
    filter: &crate::query::Filter,
    sink: &mut Sink,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let protocols = &filter.protocols;
    let query = Query {
        filter: filter.clone(),
        ..Query::whole_host()
    };
    // Inodes, sorted: each interval compares 10,000 of them in two merges
    // (hash sets took a sixth of the loop's CPU at 10,000 listeners, perf).
    let mut known: Vec<u64> = Vec::new();
    // Sockets --exposed or --loopback left out: not looked up again.
    let mut ignored: Vec<u64> = Vec::new();
    let mut first = true;
    while !collect::interrupted() {
        let mut sockets = collect::listening_sockets(&config.source, protocols)?;
        sockets.retain(|s| filter.matches(s));
        let mut now: Vec<u64> = sockets.iter().map(|s| s.inode).collect();
        now.sort_unstable();
        now.dedup();
        ignored = sorted::both(&ignored, &now);
        let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        if let Sink::Live(screen) = sink
            && first
        {
            screen.since = time.get(11..19).unwrap_or(&time).to_string();
        }
        for &inode in &sorted::minus(&known, &now) {
            sink.closed(inode, &time, &config.look, out)?;
        }
        known = sorted::both(&known, &now);
        let new: HashSet<u64> = sorted::minus(&sorted::minus(&now, &known), &ignored)
            .into_iter()
            .collect();
        if !new.is_empty() {
            let request = Request {
                protocols,
                ports: &[],
                pids: &[],
                details: Details::Identity,
                user_names: !config.numeric,
                owner_files: false,
                all_namespaces: false,
                elsewhere: false,
                firewall: false,
                backend: config.backend,
            };
            let snapshot = collect::collect(&config.source, request, |s| new.contains(&s.inode))?;
            let options = explain::Options {
                services: !config.numeric,
                all_namespaces: false,
                compact: true,
                // Not read each interval (the cost of a watch is its loop).
                firewall: false,
            };
            let collected: HashSet<u64> = snapshot.sockets.iter().map(|s| s.inode).collect();
            let report = explain::explain(snapshot, &query, options);
            let shown: HashSet<u64> = report.listeners.iter().map(|l| l.inode).collect();
            ignored.extend(collected.difference(&shown));
            ignored.sort_unstable();
            ignored.dedup();
            known.extend(shown);
            known.sort_unstable();
            known.dedup();
            sink.opened(&report, first, config, &time, out)?;
            // Gone between the dump and the owner scan: open only briefly.
            for s in sockets
                .iter()
                .filter(|s| new.contains(&s.inode) && !collected.contains(&s.inode))
            {
                if !first {
                    sink.blinked(&explain::unowned(s, !config.numeric), config, &time, out)?;
                }
            }
        }
        if first && matches!(sink, Sink::Events { .. }) {
            writeln!(
                err,
                "whyport: watching {} listeners every {:?}; Ctrl-C to stop",
                known.len(),
                interval
            )?;
        }
        first = false;
        // Sleep in steps of at most 200 ms, so that Ctrl-C ends it quickly
        // and the live view follows a resized terminal; 20 ms steps cost
        // 2.5 ms of CPU a second on an idle host.
        let until = Instant::now() + interval;
        while !collect::interrupted() {
            sink.draw(config, out)?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(200)));
        }
    }
    Ok(Outcome::Listed)
}

/// Every listener of the host, TCP and UDP, with `details` of its owners
/// and the host files explanations need.
fn whole_host(config: &Config, details: Details, err: &mut dyn Write) -> anyhow::Result<Report> {
    let protocols = [crate::model::Protocol::Tcp, crate::model::Protocol::Udp];
    let request = Request {
        protocols: &protocols,
        ports: &[],
        pids: &[],
        details,
        user_names: !config.numeric,
        owner_files: details >= Details::Identity,
        all_namespaces: false,
        elsewhere: true,
        firewall: true,
        backend: config.backend,
    };
    let snapshot = collect::collect(&config.source, request, |_| true)?;
    let options = explain::Options {
        services: !config.numeric,
        all_namespaces: config.all_namespaces,
        compact: false,
        firewall: true,
    };
    let report = explain::explain(snapshot, &Query::whole_host(), options);
    notes(&report, err)?;
    Ok(report)
}

/// The status of a run is its verdict (a listing, a port's answer, an
/// audit, a diff), whether or not the reader took all of the output: a
/// pipe closed early (`| head -c1`) ends the writing and changes nothing
/// else. Other write errors stay errors.
fn verdict_stands(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Write a report (an audit's, a diff's) with `render`: to `out`, where a
/// closed pipe leaves the verdict standing, or with `-o FILE` whole to the
/// file through `emit`, where a failed write is an error (exit 2: the
/// report was asked for and is not there).
fn report_to(
    output: Option<&Path>,
    out: &mut dyn Write,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if output.is_some_and(|p| !files::is_standard(p)) {
        let mut bytes = Vec::new();
        render(&mut bytes)?;
        // `-o /dev/stdout | head`: the verdict stands, as it does on `out`.
        return match emit(output, &bytes, out) {
            Err(e) if is_broken_pipe(&e) => Ok(()),
            other => other,
        };
    }
    verdict_stands(render(out).and_then(|()| out.flush()))?;
    Ok(())
}

/// Whether `e` is, or was caused by, a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn notes(report: &Report, err: &mut dyn Write) -> std::io::Result<()> {
    for note in &report.notes {
        writeln!(err, "whyport: note: {note}")?;
    }
    Ok(())
}

/// One line per process target answered otherwise than by `--process`'s
/// exact name: a word taken as a process name, a prefix, or a prefix `-q`
/// refused.
fn name_notes(report: &Report, err: &mut dyn Write) -> std::io::Result<()> {
    use crate::query::NameMatch;
    use crate::sanitize::{escape, one_line};
    for answer in &report.names {
        let Target::Process { name, positional } = &answer.target else {
            continue;
        };
        let name = one_line(name);
        let names: Vec<String> = answer.names.iter().map(|n| escape(n)).collect();
        let names = names.join(", ");
        let word = if *positional {
            format!("'{name}' is not a port or an IANA service")
        } else {
            format!("--process {name}")
        };
        let line = match (answer.how, positional) {
            (Some(NameMatch::Exact), false) => continue,
            (Some(NameMatch::Exact), true) => format!("{word}: showing processes named {name}"),
            (Some(NameMatch::Prefix), _) => format!(
                "{word}: no listening process is named {name}: showing those whose name starts with it ({names})"
            ),
            (None, _) if !names.is_empty() => format!(
                "{word}: no listening process is named exactly {name}, and -q takes exact names only (a prefix must not choose what is killed); without -q it would match {names}"
            ),
            (None, true) => format!("{word}, and no listening process is named {name}"),
            (None, false) => continue,
        };
        writeln!(err, "whyport: {line}")?;
    }
    Ok(())
}

/// What could not be seen: one short line, or with `--verbose` why and
/// what to do about it.
fn hidden(report: &Report, verbose: bool, err: &mut dyn Write) -> std::io::Result<()> {
    let notice = if verbose {
        render::hidden_details(report)
    } else {
        render::hidden_notice(report)
    };
    if let Some(notice) = notice {
        writeln!(err, "{notice}")?;
    }
    Ok(())
}

/// The date waivers are judged on: today (UTC), or `WHYPORT_TODAY`
/// (YYYY-MM-DD) to judge as of another day (reproducible audits, tests).
fn today() -> anyhow::Result<crate::audit::severity::Date> {
    use crate::audit::severity::Date;
    match std::env::var("WHYPORT_TODAY") {
        Ok(text) => Date::parse(&text).ok_or_else(|| {
            user_error(
                format!(
                    "WHYPORT_TODAY={} is not a date",
                    crate::sanitize::one_line(&text)
                ),
                "give it as YYYY-MM-DD, or unset it to use today",
            )
        }),
        Err(_) => Ok(Date::from_unix(unix_now())),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where and when a report is made, and what it rests on: `input` is the
/// policy's (or baseline's) bytes, whose digest the report carries.
fn context(
    config: &Config,
    source: &Path,
    input: &[u8],
    report: &Report,
) -> render::audit::Context {
    use sha2::{Digest, Sha256};
    let now = SystemTime::now();
    render::audit::Context {
        source: source.display().to_string(),
        hostname: collect::hostname(&config.source),
        timestamp: humantime::format_rfc3339_seconds(now).to_string(),
        unix_time: unix_now(),
        look: config.look,
        policy_sha256: Sha256::digest(input)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        full_visibility: report.hidden.hidden == 0 && report.hidden.partial == 0,
    }
}

/// The text of a file the user named (`what`: policy, baseline), or of
/// standard input for `-`; a file other users can change is said on `err`.
fn read_text(
    path: &Path,
    what: &str,
    hint: &'static str,
    err: &mut dyn Write,
) -> anyhow::Result<String> {
    let name = if files::is_standard(path) {
        format!("{what} from standard input")
    } else {
        format!("{what} {}", path.display())
    };
    let text =
        files::read(path).map_err(|e| user_error(format!("cannot read {name}: {e}"), hint))?;
    if let Some(why) = text.untrusted {
        let line = format!("{name} can be changed by users other than root: {why}");
        writeln!(
            err,
            "whyport: warning: {}",
            crate::sanitize::one_line(&line)
        )?;
    }
    String::from_utf8(text.bytes).map_err(|e| {
        user_error(
            format!(
                "{name} is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            hint,
        )
    })
}

/// Write `bytes` to `output` (src/files/write.rs says how), or to `out` when no
/// file was named.
fn emit(output: Option<&Path>, bytes: &[u8], out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(path) = output.filter(|p| !files::is_standard(p)) else {
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    };
    match files::write(path, bytes) {
        Ok(()) => Ok(()),
        // A reader that went away (`-o /dev/stdout | head`) is a closed pipe.
        Err(files::Refusal::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(e.into()),
        Err(e) => Err(user_error(
            format!("cannot write {}: {e}", path.display()),
            "choose a writable path, or leave -o out to print to standard output",
        )),
    }
}

/// Set operations on sorted, deduplicated inode lists.
mod sorted {
    /// What is in `a` and not in `b`.
    pub fn minus(a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut j = 0;
        for &x in a {
            while j < b.len() && b[j] < x {
                j += 1;
            }
            if b.get(j) != Some(&x) {
                out.push(x);
            }
        }
        out
    }

    /// What is in both.
    pub fn both(a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut j = 0;
        for &x in a {
            while j < b.len() && b[j] < x {
                j += 1;
            }
            if b.get(j) == Some(&x) {
                out.push(x);
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn merges_agree_with_sets() {
            let a = [1, 3, 5, 7, 9, 11];
            let b = [0, 3, 4, 9, 12];
            assert_eq!(minus(&a, &b), vec![1, 5, 7, 11]);
            assert_eq!(minus(&b, &a), vec![0, 4, 12]);
            assert_eq!(both(&a, &b), vec![3, 9]);
            assert_eq!(both(&a, &[]), Vec::<u64>::new());
            assert_eq!(minus(&a, &[]), a.to_vec());
            assert_eq!(minus(&[], &a), Vec::<u64>::new());
        }
    }
}
