//! Owner values in policies (`process`, `exe`, `user`, `unit`,
//! `container`): how `policy init` writes them (one line, every character
//! a reviewer could be fooled by escaped, bytes that are not UTF-8 as
//! `_hex`) and how an audit matches them, byte for byte, never lossily.
//! Kept apart from the explanation types so that the fuzz crate can
//! compile it.

use std::fmt::Write as _;

use super::policy::Rule;
use crate::model::Process;
use crate::sanitize::{escape, is_dangerous};

/// The owner values of one rule as `policy init` writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// Raw bytes: written as a string when they are UTF-8, else as hex.
    pub process: Option<Vec<u8>>,
    pub exe: Option<Vec<u8>>,
    pub user: Option<String>,
    pub unit: Option<String>,
    pub container: Option<String>,
}

impl Values {
    /// The values of a rule for a listener: a process name, executable or
    /// user only when every leader agrees on it, and its unit and
    /// container. Names read lossily (holding U+FFFD) are left out: audits
    /// match no such name, since its bytes are unknown.
    pub fn of(leaders: &[&Process], unit: Option<String>, container: Option<String>) -> Values {
        fn common<T: PartialEq>(
            leaders: &[&Process],
            f: impl Fn(&Process) -> Option<T>,
        ) -> Option<T> {
            let first = f(leaders.first()?)?;
            leaders
                .iter()
                .all(|p| f(p).as_ref() == Some(&first))
                .then_some(first)
        }
        let known_text = |t: &String| known(t);
        Values {
            process: common(leaders, |p| Some(p.name.clone())),
            // The path as audits match it (a deleted executable by its path).
            exe: common(leaders, |p| p.exe_bytes().map(<[u8]>::to_vec)),
            user: common(leaders, |p| {
                p.user
                    .clone()
                    .filter(known_text)
                    .or_else(|| p.uid.map(|u| u.to_string()))
            }),
            unit: unit.filter(known_text),
            container: container.filter(known_text),
        }
    }

    /// Append the `key = value` lines of the values that are set.
    pub fn write(&self, out: &mut String) {
        for (key, value) in [("process", &self.process), ("exe", &self.exe)] {
            if let Some(v) = value {
                out.push_str(&bytes_value(key, v));
            }
        }
        for (key, value) in [
            ("user", &self.user),
            ("unit", &self.unit),
            ("container", &self.container),
        ] {
            if let Some(v) = value {
                let _ = writeln!(out, "{key} = {}", quoted(v));
            }
        }
    }
}

/// A one-line TOML basic string: quotes and backslashes escaped, and every
/// character `sanitize` would escape on a terminal (controls, bidi,
/// zero-width, tags, blank look-alikes) written as `\uXXXX` or
/// `\UXXXXXXXX`. So no text can end the string, continue on another line
/// or read differently from what it matches.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_dangerous(c) && u32::from(c) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c if is_dangerous(c) => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `process = "nginx"`, or for bytes that are not UTF-8 `process_hex`
/// (which matches exactly those bytes) after a comment showing them
/// escaped; lines end with a newline.
fn bytes_value(key: &str, bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("{key} = {}\n", quoted(text)),
        Err(_) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "# {key} is not UTF-8: {}\n{key}_hex = \"{hex}\"\n",
                escape(bytes)
            )
        }
    }
}

/// What an audit knows of a listener's owners.
#[derive(Debug, Clone, Default)]
pub struct Owners<'a> {
    /// The processes that started the others (one per group of owners).
    pub leaders: Vec<&'a Process>,
    /// Its systemd units (for socket activation, the .socket and the
    /// service too) and containers (id and name).
    pub units: Vec<&'a str>,
    pub containers: Vec<&'a str>,
}

/// Whether the `process` condition of `rule` holds (or it sets none).
/// Names and paths are compared as bytes: a rule's string matches only a
/// name that is valid UTF-8 and equal to it, `process_hex`/`exe_hex` any
/// bytes; a name read lossily (it holds U+FFFD, so its bytes are unknown)
/// matches no user, unit or container rule.
pub fn process_met(rule: &Rule, o: &Owners<'_>) -> bool {
    every_leader(o, rule.process.as_deref(), process_matches)
}

pub fn exe_met(rule: &Rule, o: &Owners<'_>) -> bool {
    every_leader(o, rule.exe.as_deref(), |p, want| {
        p.exe_bytes() == Some(want)
    })
}

pub fn user_met(rule: &Rule, o: &Owners<'_>) -> bool {
    every_leader(o, rule.user.as_deref(), user_matches)
}

pub fn unit_met(rule: &Rule, o: &Owners<'_>) -> bool {
    rule.unit
        .as_deref()
        .is_none_or(|want| o.units.iter().any(|h| known(h) && unit_matches(h, want)))
}

pub fn container_met(rule: &Rule, o: &Owners<'_>) -> bool {
    rule.container.as_deref().is_none_or(|want| {
        o.containers
            .iter()
            .any(|h| known(h) && container_matches(h, want))
    })
}

/// An owner condition holds when every leader meets it; with no leader
/// seen, it cannot hold.
fn every_leader<W: ?Sized>(
    o: &Owners<'_>,
    want: Option<&W>,
    ok: impl Fn(&Process, &W) -> bool,
) -> bool {
    want.is_none_or(|w| !o.leaders.is_empty() && o.leaders.iter().all(|p| ok(p, w)))
}

/// A name whose bytes are known: one read lossily holds U+FFFD.
fn known(name: &str) -> bool {
    !name.contains('\u{fffd}')
}

/// A process name matches its kernel name (at most 15 bytes, so a longer
/// wanted name matches a truncated one) or its executable's file name,
/// byte for byte.
pub fn process_matches(p: &Process, want: &[u8]) -> bool {
    let comm = p.name.as_slice();
    comm == want
        || (comm.len() == 15 && want.len() > 15 && want.starts_with(comm))
        || p.exe_bytes()
            .and_then(|e| e.rsplit(|b| *b == b'/').next())
            .is_some_and(|file| file == want)
}

/// A user matches by a name read as valid UTF-8, or by uid.
pub fn user_matches(p: &Process, want: &str) -> bool {
    p.user.as_deref().is_some_and(|u| known(u) && u == want)
        || p.uid.is_some_and(|u| u.to_string() == want)
}

/// `ssh` matches `ssh.service`; a full unit name matches only itself.
fn unit_matches(have: &str, want: &str) -> bool {
    have == want || (!want.contains('.') && have.strip_suffix(".service") == Some(want))
}

/// A container matches by name or by an id prefix of 12 or more digits.
fn container_matches(have: &str, want: &str) -> bool {
    have == want || (want.len() >= 12 && have.starts_with(want))
}
