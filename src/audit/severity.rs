//! How much a finding matters (`severity`), and waivers: a finding
//! accepted for a reason, with a ticket, until a date (UTC). An expired
//! waiver is a finding of its own. Pure; the date of today is the caller's.

use serde::Deserialize;

/// How much a finding matters; `--fail-on` names the least that fails the
/// audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity of a finding id when the policy gives none.
    pub fn default_for(id: &str) -> Severity {
        match id {
            "exposed-datastore" => Severity::Critical,
            "denied" | "not-allowed" | "missing" | "plaintext-login" | "owner-unknown"
            | "waiver-expired" => Severity::High,
            "deleted-executable" | "shadowed-by-dnat" => Severity::Medium,
            _ => Severity::Low,
        }
    }
}

/// A calendar date, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Date {
    /// `2027-01-31`.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let year = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        let valid = parts.next().is_none()
            && (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && text.len() == 10;
        valid.then_some(Date { year, month, day })
    }

    /// The UTC date `secs` seconds after the Unix epoch (civil from days,
    /// Howard Hinnant's algorithm).
    pub fn from_unix(secs: u64) -> Date {
        let days = (secs / 86_400) as i64 + 719_468;
        let era = days.div_euclid(146_097);
        let doe = days.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }
}

/// A finding accepted for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub reason: String,
    pub ticket: Option<String>,
    /// The last day it holds (UTC): from the next day on it has expired.
    pub until: Date,
}

impl Waiver {
    pub fn expired(&self, today: Date) -> bool {
        today > self.until
    }
}

/// A waiver as the TOML has it: `waiver = { reason = "...", ticket =
/// "OPS-12", until = 2027-01-31 }` (a TOML date, or a string).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWaiver {
    reason: String,
    ticket: Option<String>,
    until: toml::value::Datetime,
}

impl RawWaiver {
    pub(super) fn resolve(self) -> Result<Waiver, String> {
        let until = self
            .until
            .date
            .filter(|_| self.until.time.is_none())
            .and_then(|d| Date::parse(&d.to_string()))
            .ok_or_else(|| {
                format!(
                    "waiver until = {} must be a date like 2027-01-31 (UTC, no time)",
                    self.until
                )
            })?;
        if self.reason.trim().is_empty() {
            return Err("a waiver needs a reason".into());
        }
        Ok(Waiver {
            reason: self.reason,
            ticket: self.ticket,
            until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_the_clock_and_from_text() {
        assert_eq!(Date::from_unix(0).to_string(), "1970-01-01");
        // 2026-12-01T00:00:00Z and the second before it.
        assert_eq!(Date::from_unix(1_796_083_200).to_string(), "2026-12-01");
        assert_eq!(Date::from_unix(1_796_083_199).to_string(), "2026-11-30");
        assert_eq!(Date::from_unix(1_709_164_800).to_string(), "2024-02-29");
        assert_eq!(
            Date::parse("2027-01-31").map(|d| d.to_string()).as_deref(),
            Some("2027-01-31")
        );
        assert_eq!(Date::parse("2027-13-01"), None);
        assert_eq!(Date::parse("2027-1-1"), None);
    }

    #[test]
    fn a_waiver_holds_through_its_last_day() {
        let w = Waiver {
            reason: "r".into(),
            ticket: None,
            until: Date::parse("2027-01-31").unwrap_or(Date {
                year: 0,
                month: 1,
                day: 1,
            }),
        };
        let day = |t: &str| {
            Date::parse(t).unwrap_or(Date {
                year: 0,
                month: 1,
                day: 1,
            })
        };
        assert!(!w.expired(day("2027-01-31")));
        assert!(w.expired(day("2027-02-01")));
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
    }
}
