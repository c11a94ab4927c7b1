//! Sets of source addresses of one family as sorted, disjoint, inclusive
//! intervals: what the firewall walk splits as rules match some sources
//! and not others, and the CIDR prefixes it hands to people.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::firewall::{Addresses, Prefix};

/// Source addresses of one family (`v6`), as intervals of u128 (IPv4 in
/// the low 32 bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub v6: bool,
    spans: Vec<(u128, u128)>,
}

fn top(v6: bool) -> u128 {
    if v6 { u128::MAX } else { u128::from(u32::MAX) }
}

fn number(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl Sources {
    pub fn none(v6: bool) -> Sources {
        Sources {
            v6,
            spans: Vec::new(),
        }
    }

    pub fn all(v6: bool) -> Sources {
        Sources {
            v6,
            spans: vec![(0, top(v6))],
        }
    }

    fn from_spans(v6: bool, mut spans: Vec<(u128, u128)>) -> Sources {
        spans.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(spans.len());
        for (lo, hi) in spans {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Sources { v6, spans: out }
    }

    /// The addresses of `set` of this family (the other family's entries
    /// match no packet of this one).
    pub fn of(v6: bool, set: &Addresses) -> Sources {
        let mut spans = Vec::new();
        for p in &set.prefixes {
            let (fam, n) = number(p.address);
            if fam != v6 {
                continue;
            }
            let bits: u32 = if v6 { 128 } else { 32 };
            let host_bits = bits.saturating_sub(u32::from(p.len).min(bits));
            let mask = if host_bits >= 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            spans.push((n & !mask, (n | mask).min(top(v6))));
        }
        for (a, b) in &set.ranges {
            let ((fa, na), (fb, nb)) = (number(*a), number(*b));
            if fa == v6 && fb == v6 && na <= nb {
                spans.push((na, nb));
            }
        }
        Sources::from_spans(v6, spans)
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.spans == [(0, top(self.v6))]
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        let (fam, n) = number(a);
        fam == self.v6 && self.spans.iter().any(|&(lo, hi)| lo <= n && n <= hi)
    }

    pub fn complement(&self) -> Sources {
        let mut out = Vec::new();
        let mut next = 0u128;
        let mut open = true;
        for &(lo, hi) in &self.spans {
            if lo > next {
                out.push((next, lo - 1));
            }
            if hi == top(self.v6) {
                open = false;
                break;
            }
            next = hi + 1;
        }
        if open {
            out.push((next, top(self.v6)));
        }
        Sources {
            v6: self.v6,
            spans: out,
        }
    }

    pub fn intersect(&self, other: &Sources) -> Sources {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.spans.len() && j < other.spans.len() {
            let (a, b) = (self.spans[i], other.spans[j]);
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Sources {
            v6: self.v6,
            spans: out,
        }
    }

    pub fn minus(&self, other: &Sources) -> Sources {
        self.intersect(&other.complement())
    }

    pub fn union(&self, other: &Sources) -> Sources {
        let spans = self.spans.iter().chain(&other.spans).copied().collect();
        Sources::from_spans(self.v6, spans)
    }

    /// The fewest CIDR prefixes that cover exactly these addresses.
    pub fn prefixes(&self) -> Vec<Prefix> {
        let bits: u32 = if self.v6 { 128 } else { 32 };
        let mut out = Vec::new();
        for &(lo, hi) in &self.spans {
            let mut at = lo;
            loop {
                // The largest aligned block starting at `at` inside [at, hi].
                let mut size_bits = if at == 0 {
                    bits
                } else {
                    at.trailing_zeros().min(bits)
                };
                while size_bits > 0 {
                    let last = if size_bits >= 128 {
                        u128::MAX
                    } else {
                        at + ((1u128 << size_bits) - 1)
                    };
                    if last <= hi {
                        break;
                    }
                    size_bits -= 1;
                }
                let address = if self.v6 {
                    IpAddr::V6(Ipv6Addr::from(at))
                } else {
                    IpAddr::V4(Ipv4Addr::from(at as u32))
                };
                out.push(Prefix {
                    address,
                    len: (bits - size_bits) as u8,
                });
                let last = if size_bits >= 128 {
                    u128::MAX
                } else {
                    at + ((1u128 << size_bits) - 1)
                };
                if last >= hi {
                    break;
                }
                at = last + 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> Addresses {
        Addresses {
            prefixes: items
                .iter()
                .map(|s| {
                    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
                    Prefix {
                        address: a.parse().unwrap(),
                        len: l.parse().unwrap(),
                    }
                })
                .collect(),
            ranges: vec![],
        }
    }

    fn text(s: &Sources) -> Vec<String> {
        s.prefixes().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn complements_and_prefixes_are_exact() {
        let ten = Sources::of(false, &set(&["10.0.0.0/8"]));
        assert_eq!(text(&ten), ["10.0.0.0/8"]);
        let rest = ten.complement();
        assert_eq!(
            text(&rest),
            [
                "0.0.0.0/5",
                "8.0.0.0/7",
                "11.0.0.0/8",
                "12.0.0.0/6",
                "16.0.0.0/4",
                "32.0.0.0/3",
                "64.0.0.0/2",
                "128.0.0.0/1"
            ]
        );
        assert!(rest.union(&ten).is_all());
        assert!(rest.intersect(&ten).is_empty());
        assert_eq!(Sources::all(false).minus(&rest), ten);
        assert_eq!(text(&Sources::all(true)), ["::/0"]);
        assert_eq!(text(&Sources::all(false)), ["0.0.0.0/0"]);
        let host = Sources::of(false, &set(&["10.1.0.66"]));
        assert!(host.contains("10.1.0.66".parse().unwrap()));
        assert!(!host.contains("10.1.0.67".parse().unwrap()));
        assert!(!host.contains("::1".parse().unwrap()));
        assert_eq!(text(&host), ["10.1.0.66"]);
        // The other family's entries are not this family's.
        assert!(Sources::of(true, &set(&["10.0.0.0/8"])).is_empty());
        let r = Addresses {
            prefixes: vec![],
            ranges: vec![("10.0.0.1".parse().unwrap(), "10.0.0.6".parse().unwrap())],
        };
        assert_eq!(
            text(&Sources::of(false, &r)),
            ["10.0.0.1", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6"]
        );
        assert!(Sources::none(false).complement().is_all());
        assert!(Sources::all(true).complement().is_empty());
    }
}
