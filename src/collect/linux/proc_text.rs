//! The text of /proc/<pid>/stat (its name field) and cmdline, taken apart.
//! Pure, and on its own so the fuzz target `stat` can compile it.

/// The raw process name inside `pid (name) state ...`: from the first `(`
/// to the last `)`, since the name itself may contain parentheses.
pub fn stat_comm(stat: &[u8]) -> &[u8] {
    let open = stat.iter().position(|b| *b == b'(');
    let close = stat.iter().rposition(|b| *b == b')');
    match (open, close) {
        (Some(o), Some(c)) if o < c => &stat[o + 1..c],
        _ => &[],
    }
}

/// Whether this /proc/<pid>/stat is kthreadd's, the kernel threads'
/// parent: named so, and with no parent. Only PID 2 of the initial PID
/// namespace can be trusted with it: in another, a process whose parent is
/// outside the namespace shows no parent either, and names itself.
pub fn is_kthreadd(stat: &[u8]) -> bool {
    stat_comm(stat) == b"kthreadd" && stat_fields(stat).is_some_and(|(ppid, _)| ppid == 0)
}

/// The parent pid and the start time (in clock ticks since boot) from
/// /proc/<pid>/stat: the 2nd and 20th fields after the name's closing
/// parenthesis (fields 4 and 22 of proc(5)). `None` unless the text has
/// the kernel's shape.
///
/// Not procfs's `Stat::from_read`: fuzzing found that it panics (slices
/// inside a character) when the byte after the last `)` is not ASCII, and
/// underflows when `(` comes first. The kernel never writes either, but a
/// recorded tree (`--proc-root`) may hold anything; and reading 2 fields
/// instead of 52 is cheaper.
pub fn stat_fields(stat: &[u8]) -> Option<(u32, u64)> {
    let open = stat.iter().position(|b| *b == b'(')?;
    let close = stat.iter().rposition(|b| *b == b')')?;
    if close < open || !stat[..open].trim_ascii().iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state.len() != 1 {
        return None;
    }
    let ppid = fields.next()?.parse().ok()?;
    let starttime = fields.nth(17)?.parse().ok()?;
    Some((ppid, starttime))
}

/// The real uid from /proc/<pid>/status (`Uid:` real, effective, saved,
/// filesystem).
pub fn status_ruid(status: &[u8]) -> Option<u32> {
    status
        .split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"Uid:"))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// The PID in the innermost PID namespace, from /proc/<pid>/status: the
/// last field of `NSpid:` (one field per namespace, from the one /proc
/// was mounted in down to the process's own). `None` before Linux 4.1,
/// which has no such line.
pub fn status_nspid(status: &[u8]) -> Option<u32> {
    status
        .split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"NSpid:"))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .and_then(|rest| rest.split_ascii_whitespace().next_back())
        .and_then(|pid| pid.parse().ok())
}

/// The boot time (seconds since the epoch) from the `btime` line of
/// /proc/stat.
pub fn boot_time(stat: &[u8]) -> Option<u64> {
    stat.split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"btime "))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .and_then(|rest| rest.trim().parse().ok())
}

/// Split /proc/<pid>/cmdline into arguments. Arguments are NUL-terminated;
/// a process that rewrote its title may use spaces and no trailing NUL.
pub fn split_cmdline(raw: &[u8]) -> Vec<Vec<u8>> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::{boot_time, split_cmdline, stat_comm, stat_fields, status_nspid, status_ruid};

    #[test]
    fn boot_time_from_proc_stat() {
        assert_eq!(
            boot_time(b"cpu  1 2 3\nintr 5\nbtime 1764000000\nprocesses 9\n"),
            Some(1764000000)
        );
        assert_eq!(boot_time(b"btime x\n"), None);
        assert_eq!(boot_time(b""), None);
    }

    #[test]
    fn stat_fields_after_the_last_parenthesis() {
        let real = b"812 (nginx) S 1 812 812 0 -1 4194560 52 0 0 0 0 0 0 0 20 0 1 0 1234 10878976 1 18446744073709551615";
        assert_eq!(stat_fields(real), Some((1, 1234)));
        let tricky = b"42 (a) S 7 (b) R 9 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
        assert_eq!(stat_fields(tricky), Some((9, 555)));
        // What procfs panicked on, and other garbage: no answer, no panic.
        let crash =
            b"42 (a) b) (c\n)\xff\xfeS 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0";
        assert_eq!(stat_fields(crash), None);
        for bad in [
            &b""[..],
            b"(",
            b")",
            b"(x) S 1",
            b"1 (x)",
            b"1 (x) S",
            b"x (y) S 1 2",
            b"1 (x) S 1 2 3",
        ] {
            assert_eq!(stat_fields(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn real_uid_from_status() {
        let status = b"Name:\tnginx\nUmask:\t0022\nUid:\t33\t34\t35\t36\nGid:\t33\t33\t33\t33\n";
        assert_eq!(status_ruid(status), Some(33));
        assert_eq!(status_ruid(b"Name:\tx\n"), None);
        assert_eq!(status_ruid(b"Uid:\tnope\n"), None);
    }

    #[test]
    fn innermost_pid_from_status() {
        // A booted container's systemd, seen from the host: 31478 there, 1
        // in its own namespace.
        let status = b"Name:\tsystemd\nTgid:\t31478\nNSpid:\t31478\t1\nNSpgid:\t31478\t1\n";
        assert_eq!(status_nspid(status), Some(1));
        assert_eq!(status_nspid(b"NSpid:\t812\n"), Some(812));
        assert_eq!(status_nspid(b"Name:\tx\n"), None);
        assert_eq!(status_nspid(b"NSpid:\n"), None);
        assert_eq!(status_nspid(b"NSpid:\t7\tx\n"), None);
    }

    #[test]
    fn comm_may_contain_parentheses_and_any_bytes() {
        assert_eq!(stat_comm(b"42 (nginx) S 1 42"), b"nginx");
        assert_eq!(stat_comm(b"42 (a) b) (c) S 1"), b"a) b) (c");
        assert_eq!(stat_comm(b"42 (\xff\n) S 1"), b"\xff\n");
        assert_eq!(stat_comm(b"garbage"), b"");
    }

    #[test]
    fn splits_on_nul_and_keeps_empty_arguments() {
        assert_eq!(
            split_cmdline(b"nginx\0-g\0\0daemon off;\0"),
            vec![
                b"nginx".to_vec(),
                b"-g".to_vec(),
                b"".to_vec(),
                b"daemon off;".to_vec()
            ]
        );
        assert_eq!(split_cmdline(b""), Vec::<Vec<u8>>::new());
        assert_eq!(
            split_cmdline(b"nginx: worker process"),
            vec![b"nginx: worker process".to_vec()]
        );
        assert_eq!(split_cmdline(b"\xff\xfe\0"), vec![b"\xff\xfe".to_vec()]);
    }
}
