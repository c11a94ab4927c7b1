//! Port numbers and ranges as people type them (`22`, `8000-8100`,
//! `22,80,443`): for the command line and for policies. Pure, and free of
//! other modules so the fuzz targets can compile it alone.

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

/// Parse `22`, `8000-8100` or a comma-separated list of both.
pub fn parse_ports(text: &str) -> Result<Vec<PortRange>, String> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (start, end) = match part.split_once('-') {
                Some((a, b)) => (parse_port(a)?, parse_port(b)?),
                None => {
                    let p = parse_port(part)?;
                    (p, p)
                }
            };
            if start > end {
                return Err(format!(
                    "range '{part}' ends before it starts; write it low-high"
                ));
            }
            Ok(PortRange { start, end })
        })
        .collect()
}

fn parse_port(text: &str) -> Result<u16, String> {
    let text = text.trim().trim_start_matches(':');
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        Ok(_) => Err(format!("port {text} is out of range; ports are 1-65535")),
        Err(_) if text.is_empty() => {
            Err("empty port; give a number like 8080 or a range like 8000-8100".into())
        }
        Err(_) => Err(format!(
            "'{text}' is not a port number; give a number like 8080 or a range like 8000-8100"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports_ranges_and_lists() {
        let r = |start, end| PortRange { start, end };
        assert_eq!(parse_ports("22"), Ok(vec![r(22, 22)]));
        assert_eq!(parse_ports(":8080"), Ok(vec![r(8080, 8080)]));
        assert_eq!(
            parse_ports("80,443, 8000-8100"),
            Ok(vec![r(80, 80), r(443, 443), r(8000, 8100)])
        );
        assert!(parse_ports("70000").is_err_and(|e| e.contains("1-65535")));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("8080-80").is_err_and(|e| e.contains("low-high")));
        assert!(parse_ports("ssh").is_err_and(|e| e.contains("not a port")));
        assert!(parse_ports("80,").is_err());
    }
}
