//! Parsing `ss -tulpnH` into comparable keys. Shared by the integration
//! tests and the benchmark (examples/bench.rs includes this file).

/// (protocol, address as ss writes it without brackets, port, sorted PIDs)
pub type Key = (String, String, u16, Vec<u32>);

/// The key of one whyport listener: dual-stack sockets are `*`, as in ss.
pub fn key(
    protocol: &str,
    address: &str,
    port: u16,
    dual_stack: bool,
    interface: Option<&str>,
    mut pids: Vec<u32>,
) -> Key {
    let address = match (dual_stack, interface) {
        (true, Some(i)) => format!("*%{i}"),
        (true, None) => "*".into(),
        _ => address.to_string(),
    };
    pids.sort();
    pids.dedup();
    (protocol.to_string(), address, port, pids)
}

/// `0.0.0.0:22`, `[::]:22`, `*:22`, `127.0.0.53%lo:53`, `[fe80::1]%eth0:546`
/// -> ("0.0.0.0", 22), ("::", 22), ("*", 22), ("127.0.0.53%lo", 53), ...
pub fn split_ss_address(local: &str) -> (String, u16) {
    let (addr, port) = local.rsplit_once(':').unwrap_or((local, "0"));
    let addr = match addr.strip_prefix('[') {
        Some(rest) => {
            let (inner, tail) = rest.split_once(']').unwrap_or((rest, ""));
            format!("{inner}{tail}")
        }
        None => addr.to_string(),
    };
    (addr, port.parse().unwrap_or(0))
}

/// The PIDs of `users:(("nginx",pid=10,fd=6),...)`, sorted, each once.
pub fn ss_pids(users: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = users
        .split("pid=")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

/// Every line of `ss -tulpnH` as a key, sorted.
pub fn ss_keys(text: &str) -> Vec<Key> {
    let mut keys: Vec<Key> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = split_ss_address(f.get(4).copied().unwrap_or(""));
            let users = f.get(6..).map(|u| u.join(" ")).unwrap_or_default();
            (f[0].to_string(), addr, port, ss_pids(&users))
        })
        .collect();
    keys.sort();
    keys
}

/// The (protocol, address, port) of `want` that `keys` (from ss) lack.
pub fn missing<'a>(
    keys: &[Key],
    want: &'a [(&str, &str, u16)],
) -> Vec<&'a (&'a str, &'a str, u16)> {
    want.iter()
        .filter(|(proto, addr, port)| {
            !keys
                .iter()
                .any(|k| k.0 == *proto && k.1 == *addr && k.2 == *port)
        })
        .collect()
}
