//! The examples, exit statuses and environment of each command, written
//! once: `--help` prints them as text, `whyport man` as the EXAMPLES, EXIT
//! STATUS and ENVIRONMENT sections of the man pages. `-h` leaves them out
//! so that it fits on one screen.

/// A command line and what it does.
pub(super) struct Example {
    pub command: &'static str,
    pub does: &'static str,
}

const fn ex(command: &'static str, does: &'static str) -> Example {
    Example { command, does }
}

pub(super) const LIST: &[Example] = &[
    ex("whyport", "every listening socket, its owners and service"),
    ex(
        "whyport 8080",
        "why is port 8080 open? (also :8080, 53/udp, 8000-8100)",
    ),
    ex(
        "whyport ssh",
        "the ports registered for ssh that are open here",
    ),
    ex("whyport --pid 1234", "every port process 1234 holds"),
    ex(
        "whyport nginx",
        "the ports of processes named nginx (else nginx*)",
    ),
    ex(
        "whyport --exposed",
        "what is reachable beyond loopback (--loopback: not)",
    ),
    ex("kill $(whyport -q 8080)", "the PIDs only, for scripts"),
    ex(
        "whyport --format csv",
        "one row per socket (also: ndjson, json)",
    ),
    ex(
        "whyport policy init > whyport.toml",
        "a policy allowing what is open now",
    ),
    ex(
        "whyport audit --policy whyport.toml",
        "does this host comply? (exit 1 if not)",
    ),
    ex(
        "whyport snapshot -o base.json; whyport diff base.json",
        "what changed since?",
    ),
];

pub(super) const AUDIT: &[Example] = &[
    ex(
        "whyport policy init -o whyport.toml",
        "start from a policy allowing what is open now; review it",
    ),
    ex(
        "whyport audit --policy whyport.toml",
        "the findings as a table; exit 0 if the host complies, 1 if not",
    ),
    ex(
        "whyport audit --policy whyport.toml --json",
        "the same as one JSON document (--format json)",
    ),
    ex(
        "whyport audit --policy whyport.toml --format junit -o audit.xml",
        "a JUnit report for CI; the exit status is still the verdict",
    ),
    ex(
        "ssh web-1 whyport audit --policy - < whyport.toml",
        "audit another host with a policy kept here (standard input)",
    ),
];

pub(super) const DIFF: &[Example] = &[
    ex(
        "whyport snapshot -o base.json",
        "record the listeners first",
    ),
    ex(
        "whyport diff base.json",
        "what opened, closed or changed owner since; exit 1 if anything did",
    ),
    ex(
        "whyport diff base.json --strict",
        "also count restarts (PIDs, start times, command lines)",
    ),
    ex(
        "whyport diff base.json --format junit -o diff.xml",
        "a JUnit report for CI; the exit status is still the verdict",
    ),
];

pub(super) const SNAPSHOT: &[Example] = &[
    ex(
        "whyport snapshot -o base.json",
        "record the listeners, for whyport diff later",
    ),
    ex(
        "whyport snapshot | jq '.listeners[].port'",
        "the JSON listing on standard output",
    ),
];

pub(super) const POLICY: &[Example] = &[
    ex(
        "whyport policy init > whyport.toml",
        "a policy allowing exactly what is open now, commented",
    ),
    ex(
        "whyport policy init -o whyport.toml",
        "the same, written whole or not at all",
    ),
];

pub(super) const WATCH: &[Example] = &[
    ex("whyport watch", "a line per listener that opens or closes"),
    ex(
        "whyport watch --json --interval 0.2",
        "one JSON object per event, looking five times a second",
    ),
];

pub(super) const COMPLETIONS: &[Example] = &[
    ex(
        "whyport completions bash > /etc/bash_completion.d/whyport",
        "bash",
    ),
    ex(
        "whyport completions zsh > /usr/local/share/zsh/site-functions/_whyport",
        "zsh",
    ),
];

pub(super) const MAN: &[Example] = &[
    ex(
        "mkdir pages && whyport man --dir pages",
        "write every page there (whyport.1, whyport-audit.1, ..., whyport-policy.5)",
    ),
    ex("whyport man audit | man -l -", "read one page"),
    ex("whyport man policy.5", "the policy file format, section 5"),
];

/// What the exit status says, for each command.
pub(super) const EXIT_LIST: &[(&str, &str)] = &[
    ("0", "listed (also when the output pipe is closed early)"),
    (
        "1",
        "nothing is listening on what was asked (a target or a filter)",
    ),
    (
        "2",
        "usage or runtime error (also -q without a target, or when an owner cannot be seen; a --pid whose open files cannot be read)",
    ),
];

pub(super) const EXIT_AUDIT: &[(&str, &str)] = &[
    ("0", "the host complies"),
    (
        "1",
        "there are findings (also when the report went to a file with -o)",
    ),
    (
        "2",
        "usage error, unreadable or malformed policy, an -o file that could not be written, runtime error",
    ),
];

pub(super) const EXIT_DIFF: &[(&str, &str)] = &[
    ("0", "nothing changed"),
    (
        "1",
        "something opened, closed or changed (also when the report went to a file with -o)",
    ),
    (
        "2",
        "usage error, unreadable or malformed baseline, an -o file that could not be written, runtime error",
    ),
];

pub(super) const EXIT_OTHER: &[(&str, &str)] = &[("0", "success"), ("2", "usage or runtime error")];

/// Every variable whyport reads (grep the source for `env::var`).
pub(super) const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NO_COLOR",
        "set and not empty: no color with --color auto (the default)",
    ),
    ("TERM", "dumb: no color with --color auto"),
    (
        "COLUMNS",
        "the width to fit tables to when the terminal does not say its own",
    ),
    (
        "WHYPORT_NO_BPF",
        "set and neither empty nor 0: find owners by scanning /proc instead of the BPF walk (to compare the two)",
    ),
    (
        "WHYPORT_BPF",
        "1: use the BPF walk even on a small host (fewer than 4096 open files), where the /proc scan is cheaper; files: that, with the task_file walk of kernels before 6.4 (to compare the two walks)",
    ),
    (
        "WHYPORT_TODAY",
        "YYYY-MM-DD: audit as of that day (UTC) for waivers' expiry dates, to reproduce an audit or test a policy before a waiver lapses",
    ),
];

/// The text `--help` ends with: examples, the exit status, `notes`, and
/// the man page (`page`) that says it all.
pub(super) fn long(page: &str, examples: &[Example], exit: &[(&str, &str)], notes: &str) -> String {
    let mut text = String::from("Examples:\n");
    for e in examples {
        text.push_str(&format!("  {}\n      {}\n", e.command, e.does));
    }
    text.push_str("\nExit status:\n");
    for (code, says) in exit {
        text.push_str(&format!("  {code}  {says}\n"));
    }
    if !notes.is_empty() {
        text.push_str(&format!("\n{notes}\n"));
    }
    text.push_str(&format!("\nManual: man {page}"));
    text
}

/// The line `-h` ends with.
pub(super) const SHORT: &str = "Examples and exit statuses: --help";

/// What the listing's `--help` adds (the man page has it as NOTES).
pub(super) const LIST_NOTES: &str = "\
From ss or netstat: whyport -tulpn, -tlnp, -ulpn and -plant work as typed.
-t, -u, -4, -6 and -n mean what they mean to ss; -l, -p and -a are accepted
and change nothing (only listeners are listed, always with their
processes). -p takes no value any more: ports are --port PORTS or a
target, so 'whyport -p 8080' explains port 8080. An lsof user's
'-p PID' is --pid PID. -w is --wide, not raw sockets; -A is every network
namespace. Every letter: docs/usage.md.

ADDRESS '*' means every IPv4 and IPv6 address: an IPv6 socket with
IPV6_V6ONLY off, which also accepts IPv4. '::' is IPv6 only.

Service names come from the IANA Service Name and Transport Protocol Port
Number Registry (CC0), snapshot of 2026-04-09.
The IANA service 'audit' (port 182) is asked about as 182 or audit/tcp,
since 'whyport audit' is the audit command.

A word that is not a port or an IANA service is a process name (as is
--process NAME): the kernel's 15-character name or the executable's base
name, exactly; when no listening process has it, the processes whose name
starts with it (stderr says so). A word that is a service is the service
('whyport redis' is port 6379): use --process redis for the processes.
With -q only exact names count: a prefix never chooses what kill gets.

--exposed and --loopback judge by the bind and the addresses of the
socket's own network namespace (a wildcard in a namespace with only lo
is loopback); no firewall rule is consulted.
JSON schema: docs/json.md (installed in /usr/share/doc/whyport).
Policy file format: man 5 whyport-policy.";
