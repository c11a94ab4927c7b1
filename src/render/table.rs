//! The human-readable table: one row per listening socket, in aligned
//! columns. Every piece of process text is escaped first, so no byte of it
//! can move the cursor or forge a row.
//!
//! The columns are laid out here rather than by comfy-table: measured on
//! 10,000 rows, comfy-table took ~30 ms (a third of whyport's time after the
//! owner scan), this layout ~2 ms, for the same output.

use std::collections::HashMap;
use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::look::Look;
use super::watch::Mark;
use crate::explain::firewall::MARKS;
use crate::model::{HiddenReason, Process};
use crate::report::{Compact, Listener, OwnerStatus, Report};
use crate::sanitize::{escape, escape_str};

/// Where the listing goes: how many screen lines it may take, and whether
/// rows carry an opened/closed mark (the live view).
#[derive(Debug, Clone, Copy)]
pub(super) struct Screen {
    pub lines: usize,
    pub marks: bool,
}

/// One row of the listing: a listener, its compact origin and warnings (if
/// worked out) and, in the live view, its mark.
pub(super) type Row<'a> = (&'a Listener, Option<&'a Compact>, Option<Mark>);

pub(super) fn render(
    report: &Report,
    header: bool,
    numeric: bool,
    look: &Look,
    out: &mut dyn Write,
) -> io::Result<()> {
    if report.listeners.is_empty() {
        return forwards(report, header, numeric, look, out);
    }
    let rows = || {
        report
            .listeners
            .iter()
            .map(|l| (l, report.origins.get(&l.inode), None))
    };
    let screen = Screen {
        lines: usize::MAX,
        marks: false,
    };
    let netns = report.all_namespaces.then_some(report);
    listing(netns, rows, header, numeric, look, screen, out)?;
    if !report.forwards.is_empty() {
        writeln!(out)?;
    }
    forwards(report, header, numeric, look, out)
}

/// Columns after NETNS; the order in which they give way on a narrow
/// terminal, least useful first, each down to a floor: ORIGIN and PROCESS
/// are cut with `…` (the explanation has them whole), USER and SERVICE
/// next, WARN wraps onto more lines, PID(S) says how many it left out
/// (`23864 +2`), the address is cut last. PROTO and PORT never shrink.
/// Two rounds: first down to a comfortable floor, then to a tight one.
const GIVE: [(usize, usize); 7] = [(7, 12), (5, 10), (6, 8), (3, 8), (8, 13), (4, 0), (1, 15)];
const TIGHT: [(usize, usize); 7] = [(7, 6), (5, 7), (6, 4), (3, 5), (8, 4), (4, 0), (1, 7)];
const WARN: usize = 8;
const ADDRESS: usize = 1;
const PIDS: usize = 4;

/// Write the listing of `rows` (called twice: once to measure, once to
/// write, so that 100,000 rows are never held at once), fitted to the
/// terminal, within `screen`; with a NETNS column when `netns` gives the
/// report whose namespaces label it.
pub(super) fn listing<'a, I: Iterator<Item = Row<'a>>>(
    netns: Option<&Report>,
    rows: impl Fn() -> I,
    header: bool,
    numeric: bool,
    look: &Look,
    screen: Screen,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut measured = Rows::default();
    let at = usize::from(netns.is_some());
    let mut head = vec![
        "PROTO", "ADDRESS", "PORT", "SERVICE", "PID(S)", "PROCESS", "USER", "ORIGIN", "WARN",
    ];
    if netns.is_some() {
        head.insert(0, "NETNS");
    }
    if header {
        measured.measure(&head);
    }
    let mut names: HashMap<u32, (String, String)> = HashMap::new();
    // One set of cells, refilled for every row: their buffers are reused
    // (fresh strings cost ten allocations a row, twice).
    let mut cells: Vec<String> = Vec::new();
    let mut fill = |(l, compact, _): Row<'_>, cells: &mut Vec<String>| {
        cells.resize_with(head.len(), String::new);
        cells.iter_mut().for_each(String::clear);
        if let Some(report) = netns {
            cells[0].push_str(&ns_label(report, l.netns));
        }
        row_into(l, numeric, &mut names, &mut cells[at..at + 7]);
        if let Some(m) = compact
            .and_then(|c| c.firewall)
            .and_then(crate::explain::firewall::mark)
        {
            cells[at + ADDRESS].push(m);
        }
        if let Some(c) = compact {
            crate::sanitize::escape_into(&mut cells[at + 7], c.origin.as_bytes());
            for (i, w) in c.warnings.iter().enumerate() {
                if i > 0 {
                    cells[at + 8].push(',');
                }
                cells[at + 8].push_str(w);
            }
        }
        for cell in cells.iter_mut() {
            // A blank cell would shift every later field in awk.
            if cell.is_empty() {
                cell.push('-');
            }
        }
    };
    // The PID(S) column never goes below its first PID and "+N".
    let mut pid_floor = 6;
    for r in rows() {
        fill(r, &mut cells);
        pid_floor = pid_floor.max(pid_cut_floor(&cells[PIDS + at]));
        measured.measure(&cells);
    }
    let give: Vec<(usize, usize)> = GIVE
        .iter()
        .chain(&TIGHT)
        .map(|&(c, floor)| (c + at, if c == PIDS { pid_floor } else { floor }))
        .collect();
    let marks = 2 * usize::from(screen.marks);
    let widths = match look.width {
        Some(w) => super::look::fit_in_order(&measured.widths, &give, w.saturating_sub(marks)),
        None => measured.widths.clone(),
    };
    let kinds: Vec<Kind> = (0..widths.len())
        .map(|c| match c.checked_sub(at) {
            Some(WARN) => Kind::Wrap,
            Some(PIDS) => Kind::Pids,
            Some(ADDRESS) => Kind::Address,
            _ => Kind::Cut,
        })
        .collect();
    let paint = |col: usize, cell: &str| -> Option<&'static str> {
        match col.checked_sub(at)? {
            1 if is_wildcard(cell) => Some(super::look::YELLOW),
            1 => None,
            3 => Some(super::look::CYAN),
            5 => Some(super::look::BOLD),
            7 => Some(super::look::MAGENTA),
            8 if cell != "-" => Some(super::look::RED),
            _ => None,
        }
    };
    let layout = Layout {
        widths,
        kinds,
        marks: screen.marks,
        look: *look,
    };
    let mut line = String::new();
    let mut left = screen.lines;
    if header {
        let bold = |_: usize, _: &str| Some(super::look::BOLD);
        left -= write_row(&mut line, &head, &layout, &bold, None, left, out)?;
    }
    for r in rows() {
        if left == 0 {
            break;
        }
        let mark = r.2;
        fill(r, &mut cells);
        left -= write_row(&mut line, &cells, &layout, &paint, mark, left, out)?;
    }
    Ok(())
}

/// How a cell too wide for its column is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Cut, ending in `…`.
    Cut,
    /// Cut, keeping the firewall's mark at its end: no mark reads "open".
    Address,
    /// The PIDs that fit, then how many were left out: `23864 +2`.
    Pids,
    /// Wrapped onto more lines.
    Wrap,
}

/// The narrowest a PID list can be shown: its first PID and `+N`.
fn pid_cut_floor(cell: &str) -> usize {
    let mut pids = cell.split(',');
    let first = pids.next().unwrap_or("").len();
    match pids.count() {
        0 => first,
        n => first + 2 + n.to_string().len(),
    }
}

/// A comma-separated PID list in at most `width` cells: as many PIDs as fit
/// and ` +N` for the N left out.
pub(super) fn pid_cut(cell: &str, width: usize) -> String {
    if cell.len() <= width {
        return cell.to_string();
    }
    let pids: Vec<&str> = cell.split(',').collect();
    for shown in (1..pids.len()).rev() {
        let text = format!("{} +{}", pids[..shown].join(","), pids.len() - shown);
        if text.len() <= width {
            return text;
        }
    }
    format!("{} +{}", pids[0], pids.len() - 1)
}

/// `text` wrapped to lines of at most `width` cells, broken after commas
/// and spaces where it can be, within a word where it cannot.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    let mut used = 0;
    for word in text.split_inclusive([',', ' ']) {
        let w = word.width();
        if used + w > width && used > 0 {
            lines.push(String::new());
            used = 0;
        }
        for c in word.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw > width && used > 0 {
                lines.push(String::new());
                used = 0;
            }
            if let Some(last) = lines.last_mut() {
                last.push(c);
            }
            used += cw;
        }
    }
    for l in &mut lines {
        let kept = l.trim_end().len();
        l.truncate(kept);
    }
    lines
}

/// The columns' widths, how each gives way, and whether rows carry a mark.
pub(super) struct Layout {
    widths: Vec<usize>,
    kinds: Vec<Kind>,
    marks: bool,
    look: Look,
}

/// Write one row as one or more screen lines (a wrapped cell continues
/// under its column), at most `left` of them; return how many were written.
/// Cells are two spaces apart, padded to their column's width, colored as
/// `paint` says, with no trailing blanks. A marked row (live view) starts
/// with `+` (opened) or `-` (closed) and is green or red throughout.
fn write_row<S: AsRef<str>>(
    line: &mut String,
    cells: &[S],
    layout: &Layout,
    paint: Painter<'_>,
    mark: Option<Mark>,
    left: usize,
    out: &mut dyn Write,
) -> io::Result<usize> {
    let widths = &layout.widths;
    let used = widths.iter().rposition(|w| *w > 0).map_or(0, |i| i + 1);
    let cells = &cells[..used.min(cells.len())];
    let whole = match mark {
        Some(Mark::Opened) => Some(super::look::GREEN),
        Some(Mark::Closed) => Some(super::look::RED),
        None => None,
    };
    // Most rows fit (always, when not on a terminal): written straight
    // from the cells, without a vector of lines per cell (10,000 rows
    // spent ~15 ms on those allocations).
    let fits = cells
        .iter()
        .enumerate()
        .all(|(i, c)| cell_width(c.as_ref()) <= widths[i]);
    if fits && left > 0 {
        line.clear();
        push_line(
            line,
            layout,
            mark,
            0,
            cells.iter().map(AsRef::as_ref),
            whole,
            paint,
        );
        writeln!(out, "{line}")?;
        return Ok(1);
    }
    let parts: Vec<Vec<String>> = cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let cell = cell.as_ref();
            if cell_width(cell) <= widths[i] {
                return vec![cell.to_string()];
            }
            match layout.kinds.get(i).copied().unwrap_or(Kind::Cut) {
                Kind::Cut => vec![super::look::truncate(cell, widths[i])],
                Kind::Address => vec![address_cut(cell, widths[i])],
                Kind::Pids => vec![pid_cut(cell, widths[i])],
                Kind::Wrap => wrap(cell, widths[i]),
            }
        })
        .collect();
    let height = parts.iter().map(Vec::len).max().unwrap_or(1).min(left);
    for k in 0..height {
        line.clear();
        let cells = parts
            .iter()
            .map(|part| part.get(k).map_or("", String::as_str));
        push_line(line, layout, mark, k, cells, whole, paint);
        writeln!(out, "{line}")?;
    }
    Ok(height)
}

/// Line `k` of a row, from the text each cell shows on it.
fn push_line<'c>(
    line: &mut String,
    layout: &Layout,
    mark: Option<Mark>,
    k: usize,
    cells: impl Iterator<Item = &'c str>,
    whole: Option<&'static str>,
    paint: Painter<'_>,
) {
    if layout.marks {
        line.push_str(match (mark, k) {
            (Some(Mark::Opened), 0) => "+ ",
            (Some(Mark::Closed), 0) => "- ",
            _ => "  ",
        });
    }
    let mut pending = 0;
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            pending += 2;
        }
        if !cell.is_empty() {
            line.extend(std::iter::repeat_n(' ', pending));
            pending = 0;
            match whole.or_else(|| paint(i, cell)) {
                Some(code) if layout.look.color => {
                    line.push_str(&super::look::paint(&layout.look, code, cell))
                }
                _ => line.push_str(cell),
            }
        }
        pending += layout.widths[i].saturating_sub(cell_width(cell));
    }
    let kept = line.trim_end().len();
    line.truncate(kept);
}

/// Terminal cells `text` takes; printable ASCII (nearly every cell)
/// without the Unicode tables.
fn cell_width(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.len()
    } else {
        text.width()
    }
}

/// An address every host can reach the socket on (marked or not).
fn is_wildcard(cell: &str) -> bool {
    let a = cell.split('%').next().unwrap_or(cell);
    matches!(a.trim_end_matches(MARKS), "*" | "0.0.0.0" | "::")
}

/// An address cut to `width`, its firewall mark (if any) kept at the end.
fn address_cut(cell: &str, width: usize) -> String {
    match cell.strip_suffix(MARKS) {
        Some(address) if width >= 2 => {
            let mut cut = super::look::truncate(address, width - 1);
            cut.push_str(&cell[address.len()..]);
            cut
        }
        _ => super::look::truncate(cell, width),
    }
}

/// The namespace label of a listener (`host`, `netns:blue`, `docker:web`).
fn ns_label(report: &Report, inode: u64) -> String {
    report
        .namespace(inode)
        .map_or_else(|| format!("net:[{inode}]"), |n| n.label.clone())
}

/// Ports open with no socket: each DNAT or redirect rule, where it leads
/// and who listens there.
fn forwards(
    report: &Report,
    header: bool,
    numeric: bool,
    look: &Look,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::explain::forward::{Destination, caught_text, rule_name, to_text};
    if report.forwards.is_empty() {
        return Ok(());
    }
    let mut rows = Rows::default();
    if header {
        rows.push([
            "FORWARDED",
            "PORT",
            "TO",
            "WHERE",
            "PID(S)",
            "PROCESS",
            "USER",
            "RULE",
        ]);
    }
    let mut names: HashMap<u32, (String, String)> = HashMap::new();
    for f in &report.forwards {
        let protocol = f.rule.protocol.map_or("tcp/udp", |p| p.as_str());
        let place = match f.destination {
            Destination::ThisHost => "this host".to_string(),
            Destination::Namespace(inode) => ns_label(report, inode),
            Destination::OtherHost => "another host".into(),
            Destination::Unknown => "?".into(),
        };
        let targets: Vec<&Listener> = f
            .receivers
            .iter()
            .filter_map(|i| report.listener(*i))
            .collect();
        let mut pids = Vec::new();
        let mut procs = Vec::new();
        let mut users = Vec::new();
        for l in &targets {
            let cells = row(l, numeric, &mut names);
            for (list, cell) in [
                (&mut pids, &cells[4]),
                (&mut procs, &cells[5]),
                (&mut users, &cells[6]),
            ] {
                if !cell.is_empty() && !list.contains(cell) {
                    list.push(cell.clone());
                }
            }
        }
        if targets.is_empty()
            && matches!(
                f.destination,
                Destination::ThisHost | Destination::Namespace(_)
            )
        {
            procs.push("(nothing listens there)".to_string());
        }
        let mut to = to_text(f);
        let peers = crate::explain::forward::split_size(report, f);
        if peers > 1 {
            to.push_str(&format!(" (1 of {peers} at random)"));
        }
        if !crate::explain::forward::from_outside(f) {
            to.push_str(&format!(
                " (this host's own connections: {} hook)",
                f.rule.hook.as_str()
            ));
        }
        if !f.rule.undecoded.is_empty() {
            to.push_str(&format!(
                " (not decoded: {})",
                escape_str(&f.rule.undecoded.join("; "))
            ));
        }
        rows.push([
            protocol.to_string(),
            caught_text(f),
            to,
            place,
            pids.join(","),
            procs.join(","),
            users.join(","),
            rule_name(&f.rule),
        ]);
    }
    let paint = |col: usize, _: &str| -> Option<&'static str> {
        match col {
            2 => Some(super::look::YELLOW),
            3 => Some(super::look::MAGENTA),
            5 => Some(super::look::BOLD),
            _ => None,
        }
    };
    rows.write_styled(out, look, &[2, 4, 5, 7], &paint)
}

/// Rows kept as one string each, cells separated by U+001F (which escaped
/// text never contains), with the widest cell of each column so far: a
/// listing of 100,000 sockets then costs one allocation per row, not nine.
#[derive(Default)]
pub(super) struct Rows {
    lines: Vec<String>,
    widths: Vec<usize>,
    /// The first row is a header.
    header: bool,
}

const SEP: char = '\u{1f}';

impl Rows {
    /// Push the header row (bold on a terminal).
    pub(super) fn header<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.header = self.lines.is_empty();
        self.push(cells);
    }

    /// Widen the columns for these cells without keeping them (the first
    /// pass of a two-pass table).
    pub(super) fn measure<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, cell) in cells.iter().enumerate() {
            if self.widths.len() <= i {
                self.widths.push(0);
            }
            self.widths[i] = self.widths[i].max(cell_width(cell.as_ref()));
        }
    }

    /// The column widths, fitted to `look.width` by narrowing the
    /// `flexible` columns.
    pub(super) fn fitted(&self, look: &Look, flexible: &[usize]) -> Vec<usize> {
        match look.width {
            Some(w) => super::look::fit(&self.widths, flexible, w, 8),
            None => self.widths.clone(),
        }
    }

    pub(super) fn push<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut line = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let cell = cell.as_ref();
            if i > 0 {
                line.push(SEP);
            }
            line.push_str(cell);
            if self.widths.len() <= i {
                self.widths.push(0);
            }
            self.widths[i] = self.widths[i].max(cell_width(cell));
        }
        self.lines.push(line);
    }

    /// Columns two spaces apart, each as wide as its widest cell (in
    /// terminal cells), with no trailing blanks; fitted to `look.width` by
    /// truncating the `flexible`
    /// columns' longest cells (with `…`), and with each cell colored as
    /// `paint(column, cell)` says (the header row bold).
    pub(super) fn write_styled(
        &self,
        out: &mut dyn Write,
        look: &Look,
        flexible: &[usize],
        paint: Painter<'_>,
    ) -> io::Result<()> {
        self.write_wrapping(out, look, flexible, None, paint)
    }

    /// As `write_styled`, with the prose column `wrap` (an audit's WHY)
    /// wrapped onto more lines under itself instead of cut.
    pub(super) fn write_wrapping(
        &self,
        out: &mut dyn Write,
        look: &Look,
        flexible: &[usize],
        wrap: Option<usize>,
        paint: Painter<'_>,
    ) -> io::Result<()> {
        let widths = self.fitted(look, flexible);
        let kinds = (0..widths.len())
            .map(|c| {
                if Some(c) == wrap {
                    Kind::Wrap
                } else {
                    Kind::Cut
                }
            })
            .collect();
        let layout = Layout {
            widths,
            kinds,
            marks: false,
            look: *look,
        };
        let mut line = String::new();
        for (r, row) in self.lines.iter().enumerate() {
            let cells: Vec<&str> = row.split(SEP).collect();
            if r == 0 && self.header {
                let bold = |_: usize, _: &str| Some(super::look::BOLD);
                write_row(&mut line, &cells, &layout, &bold, None, usize::MAX, out)?;
            } else {
                write_row(&mut line, &cells, &layout, paint, None, usize::MAX, out)?;
            }
        }
        Ok(())
    }
}

/// The color of a cell (by column index and text), if any.
pub(super) type Painter<'a> = &'a dyn Fn(usize, &str) -> Option<&'static str>;

/// One row; `names` caches each process's escaped name and user, since one
/// process may hold thousands of sockets.
fn row(l: &Listener, numeric: bool, names: &mut HashMap<u32, (String, String)>) -> Vec<String> {
    let mut cells = vec![String::new(); 7];
    row_into(l, numeric, names, &mut cells);
    cells
}

/// The seven cells of `row`, written into `cells` (empty strings whose
/// buffers are reused).
fn row_into(
    l: &Listener,
    numeric: bool,
    names: &mut HashMap<u32, (String, String)>,
    cells: &mut [String],
) {
    use std::fmt::Write as _;
    let [proto, addr, port, service, pids, procs, users] = cells else {
        return;
    };
    proto.push_str(l.protocol.as_str());
    address_into(addr, l);
    let _ = write!(port, "{}", l.port);
    // `hbci?`: the registry's name, marked when the owner evidently is not
    // that service (docs/usage.md).
    if let Some(s) = l.service {
        service.push_str(s.name());
        if crate::explain::why::unlike_service(l) {
            service.push('?');
        }
    }
    match l.owner_status {
        // The socket's creator, from sock_diag: all that can be said of a
        // user whose processes cannot be read.
        OwnerStatus::Hidden(reason) => {
            pids.push('-');
            let _ = write!(procs, "(hidden: {})", why(reason));
            let _ = write!(users, "{}", l.socket_uid);
        }
        OwnerStatus::Kernel => {
            pids.push('-');
            procs.push_str("(kernel)");
        }
        OwnerStatus::Visible | OwnerStatus::Partial(_) => {
            for (i, o) in l.owners.iter().enumerate() {
                if i > 0 {
                    pids.push(',');
                }
                let _ = write!(pids, "{}", o.process.pid);
                names
                    .entry(o.process.pid)
                    .or_insert_with(|| owner_text(&o.process, numeric));
            }
            let texts = || l.owners.iter().filter_map(|o| names.get(&o.process.pid));
            unique_into(procs, texts().map(|t| t.0.as_str()));
            unique_into(users, texts().map(|t| t.1.as_str()));
        }
    }
}

/// As `Listener::address_shown(false)`, appended to `out`.
fn address_into(out: &mut String, l: &Listener) {
    use std::fmt::Write as _;
    match (l.dual_stack, &l.interface) {
        (true, None) => out.push('*'),
        // An address alone has nothing to escape.
        (false, None) => {
            let _ = write!(out, "{}", l.address);
        }
        _ => out.push_str(&address(l)),
    }
}

/// `*` for a dual-stack socket (as `ss` prints it), else the address with
/// its interface.
fn address(l: &Listener) -> String {
    l.address_shown(false)
}

fn why(reason: HiddenReason) -> &'static str {
    match reason {
        HiddenReason::NotRoot => "not root",
        HiddenReason::Hidepid => "hidepid",
        HiddenReason::FdUnreadable => "fds unreadable",
        HiddenReason::PidNamespace => "pid namespace",
    }
}

/// A process's escaped name, and its user name (or uid).
pub(super) fn owner_text(p: &Process, numeric: bool) -> (String, String) {
    let user = match (&p.user, p.uid) {
        (Some(name), _) if !numeric => escape_str(name),
        (_, Some(uid)) => uid.to_string(),
        _ => "?".into(),
    };
    (escape(&p.name), user)
}

/// Distinct values in first-seen order, comma-joined.
/// Each of `items` once, comma-separated, appended to `out`.
fn unique_into<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            if !seen.is_empty() {
                out.push(',');
            }
            out.push_str(item);
            seen.push(item);
        }
    }
}

#[cfg(test)]
mod mark_tests {
    use super::*;

    /// The firewall's mark is not part of the address: a marked wildcard
    /// is still painted as one, and a cut address keeps its mark (without
    /// one a row reads "open").
    #[test]
    fn a_marked_address_is_still_an_address() {
        for cell in ["0.0.0.0#", "::~", "*?", "0.0.0.0", "::%eth0#"] {
            assert!(is_wildcard(cell), "{cell}");
        }
        assert!(!is_wildcard("10.0.0.1#"));
        let cut = address_cut("2001:db8:85a3::8a2e:370:7334#", 12);
        assert!(cut.ends_with("…#"), "{cut}");
        assert_eq!(cell_width(&cut), 12);
        assert_eq!(address_cut("10.0.0.1#", 20), "10.0.0.1#");
        assert_eq!(
            address_cut("2001:db8::1", 6),
            super::super::look::truncate("2001:db8::1", 6)
        );
    }
}
