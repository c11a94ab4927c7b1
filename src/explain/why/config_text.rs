//! The configuration texts an origin quotes, taken apart: systemd .socket
//! units (which unit listens on a port, and its service) and inetd.conf or
//! xinetd blocks (which entry serves a port). Pure.

use crate::model::Protocol;
use crate::report::Listener;

/// The .socket unit listening on the listener's port, and its service.
pub(super) fn activation_unit(
    units: &[(String, String)],
    l: &Listener,
) -> (Option<String>, Option<String>) {
    let key = match l.protocol {
        Protocol::Tcp => "ListenStream",
        Protocol::Udp => "ListenDatagram",
    };
    for (file, text) in units {
        let mut listens = false;
        let mut service = None;
        let mut accept = false;
        for line in text.lines().map(str::trim) {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k == key && listen_port(v) == Some(l.port) {
                listens = true;
            } else if k == "Service" {
                service = Some(v.to_string());
            } else if k == "Accept" {
                accept = matches!(v, "yes" | "true" | "1" | "on");
            }
        }
        if listens {
            let stem = file.trim_end_matches(".socket");
            let service = service.unwrap_or_else(|| {
                if accept {
                    format!("{stem}@.service")
                } else {
                    format!("{stem}.service")
                }
            });
            return (Some(file.clone()), Some(service));
        }
    }
    (None, None)
}

/// The port of a ListenStream= value: `80`, `0.0.0.0:80`, `[::]:80`; paths
/// and other families have none.
pub(super) fn listen_port(value: &str) -> Option<u16> {
    if value.starts_with('/') || value.starts_with('@') || value.contains("vsock") {
        return None;
    }
    value.rsplit(':').next()?.parse().ok()
}

/// The inetd.conf line serving `port`/`protocol`, comments and blanks skipped.
pub(super) fn inetd_line(conf: &str, port: u16, protocol: Protocol) -> Option<String> {
    conf.lines().map(str::trim).find_map(|line| {
        if line.starts_with('#') || line.is_empty() {
            return None;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (service, proto) = (*f.first()?, *f.get(2)?);
        let service = service.rsplit(':').next()?;
        let proto_ok = match protocol {
            Protocol::Tcp => proto.starts_with("tcp"),
            Protocol::Udp => proto.starts_with("udp"),
        };
        let port_ok = service.parse::<u16>().ok() == Some(port)
            || crate::services::ports_for(service).contains(&(port, protocol));
        (proto_ok && port_ok).then(|| f.join(" "))
    })
}

/// The xinetd `service NAME { key = value ... }` block serving
/// `port`/`protocol` and not disabled: (program, where it was found, a
/// one-line summary of the block).
pub(super) fn xinetd_service(
    conf: &str,
    port: u16,
    protocol: Protocol,
) -> Option<(String, String, String)> {
    let mut lines = conf.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(service) = line.strip_prefix("service ").map(str::trim) else {
            continue;
        };
        let mut keys: Vec<(String, String)> = Vec::new();
        for line in lines.by_ref() {
            if line.starts_with('}') {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                keys.push((
                    k.trim().trim_end_matches(['+', '-']).to_string(),
                    v.trim().to_string(),
                ));
            }
        }
        let get = |k: &str| {
            keys.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let proto = get("protocol").or(match get("socket_type") {
            Some("stream") => Some("tcp"),
            Some("dgram") => Some("udp"),
            _ => None,
        });
        let proto_ok = proto.is_some_and(|p| p.starts_with(protocol.as_str()));
        let port_ok = match get("port").and_then(|p| p.parse::<u16>().ok()) {
            Some(p) => p == port,
            None => crate::services::ports_for(service).contains(&(port, protocol)),
        };
        if proto_ok && port_ok && get("disable") != Some("yes") {
            let internal = get("type").is_some_and(|t| t.contains("INTERNAL"));
            let program = match (internal, get("server")) {
                (true, _) | (false, None) => "internal".to_string(),
                (false, Some(server)) => [Some(server), get("server_args")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let summary = format!(
                "{service} {proto} user={}",
                get("user").unwrap_or("?"),
                proto = proto.unwrap_or("?")
            );
            return Some((program, format!("xinetd service {service}"), summary));
        }
    }
    None
}

/// The program (and arguments) of an inetd.conf line: fields 6 on.
pub(super) fn inetd_program(line: &str) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    match f.get(5..) {
        Some(rest) if !rest.is_empty() => rest.join(" "),
        _ => "?".into(),
    }
}
