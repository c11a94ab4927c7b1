//! Linux: the one way whyport opens and reads a file under /proc, a
//! recorded tree (`--proc-root`) or the host files explanations need.
//!
//! A recorded tree can hold anything, and a few /proc files can be large,
//! so every read here: opens without blocking (`O_NONBLOCK`: a FIFO opens
//! at once instead of waiting for a writer) and without taking a terminal
//! (`O_NOCTTY`); refuses a symbolic link as the file itself
//! (`O_NOFOLLOW`, unless the caller reads the live host's own files);
//! reads only a regular file, as fstat says after the open (procfs's files
//! are regular files of size 0, so the size is never trusted), so a link
//! to /dev/zero, a FIFO or a device is never read; and stops at a cap per
//! file, so nothing is read or allocated past it. What a caller does with
//! a file over its cap (truncate it, skip it, refuse the process) is the
//! caller's; the caps below say which and why.
//!
//! A device node itself (not a link to one) in a recorded tree is opened,
//! non-blocking, and then refused unread; making one needs CAP_MKNOD.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, fstat, openat};
use rustix::io::Errno;

/// /proc/<pid>/stat: one line of 52 numbers and the name (at most 15 bytes
/// from the kernel), under 1 KiB. Larger is not the kernel's: the process
/// is reported unreadable.
pub(super) const STAT: usize = 4096;
/// /proc/<pid>/status: only the `Uid:` line (the 9th) and `NSpid:` (after
/// `Groups:`) are used; `Groups:` (up to 65,536 groups) and the CPU and
/// memory-node masks of a large host can make the file long. Truncated at
/// a line boundary (a process in thousands of groups then has no NSpid).
pub(super) const STATUS: usize = 16 * 1024;
/// /proc/<pid>/cmdline: 128 KiB, the kernel's limit on one argument
/// (MAX_ARG_STRLEN) and its classic ARG_MAX. Longer command lines (the
/// kernel allows a quarter of the stack limit) are truncated, and the last
/// argument kept ends in `…`.
pub(super) const CMDLINE: usize = 128 * 1024;
/// /proc/<pid>/cgroup: one line per hierarchy (about 13 on a cgroup v1
/// host), each a path of at most PATH_MAX. Truncated at a line boundary.
pub(super) const CGROUP: usize = 64 * 1024;
/// /proc/<pid>/comm: the kernel keeps 15 bytes. Truncated.
pub(super) const COMM: usize = 64;
/// /proc/2/task/2/children: kthreadd's children, the kernel threads, a
/// PID and a space each (about 60 on a small host, thousands on a large
/// one). A longer list is not used.
pub(super) const CHILDREN: usize = 1024 * 1024;
/// One-value files (sysctls such as bindv6only and ip_local_port_range,
/// the hostname, ip_tables_names). Truncated.
pub(super) const SMALL: usize = 4096;
/// Host configuration files an explanation quotes (inetd.conf, each
/// xinetd file, .socket units), and Docker's config.v2.json (environment
/// and labels included: tens of KiB). A larger one is skipped.
pub(super) const CONFIG: usize = 4 * 1024 * 1024;
/// A recorded tree's etc/passwd: about 200,000 users. Truncated at a line
/// boundary.
pub(super) const PASSWD: usize = 16 * 1024 * 1024;

/// Tables read line by line (`for_each_line`): the longest line taken, and
/// the most read in all.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub line: usize,
    pub total: u64,
}

/// /proc/net/{tcp,udp}{,6}: rows are about 150 (IPv4) and 180 (IPv6)
/// bytes; the tables list every socket, connections included, so 1 GiB
/// (about 6 million sockets) bounds only the time a bogus file can take.
pub(super) const NET_TABLE: Limits = Limits {
    line: 4096,
    total: 1 << 30,
};
/// mountinfo: a line holds two escaped paths (4 x PATH_MAX each at most)
/// and the options; a host with 100,000 mounts has a 20-30 MB file.
pub(super) const MOUNTINFO: Limits = Limits {
    line: 64 * 1024,
    total: 1 << 30,
};
/// /proc/stat, for its `btime` line: the `intr` line of a host with many
/// interrupts is long and is skipped; 4,096 CPUs are about 400 KB of `cpu`
/// lines.
pub(super) const PROC_STAT: Limits = Limits {
    line: 4096,
    total: 64 << 20,
};

/// Whether the file itself may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Links {
    /// Never: /proc (its files are never links) and recorded trees (a link
    /// there points into the host, or at a device).
    Refuse,
    /// Never, and the file is not asked what it is: a process's file of
    /// the live /proc (stat, status, cgroup...), regular by construction.
    /// The owners of 10,000 listeners are read through ~10,000 such files:
    /// the fstat was a fifth of the calls.
    LiveProc,
    /// The live host's own configuration (/etc/systemd/system/x.socket
    /// linked to /dev/null masks a unit; /etc files are often links).
    Follow,
    /// A container's files, read through /proc/<its init>/root (`dir`):
    /// links are followed as the container sees them, every path (`..`,
    /// an absolute link) resolved inside that root and never on the host
    /// (openat2 RESOLVE_IN_ROOT), since the container's owner wrote them.
    InRoot,
}

/// Why a file was not read.
#[derive(Debug)]
pub(super) enum Error {
    Io(io::Error),
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than its cap, for a caller that does not truncate.
    TooLarge(usize),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::NotRegular(what) => write!(f, "{what}, not a regular file"),
            Error::TooLarge(cap) => write!(f, "larger than {cap} bytes"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Errno> for Error {
    fn from(e: Errno) -> Error {
        Error::Io(e.into())
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

impl Error {
    /// The file is not there (a process that exited, a table the kernel
    /// lacks), as opposed to there and refused.
    pub fn is_missing(&self) -> bool {
        match self {
            Error::Io(e) => matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)),
            _ => false,
        }
    }
}

/// Open `path` (relative to `dir`, or absolute) for reading, never
/// blocking, and only if it is a regular file.
pub(super) fn open(
    dir: impl AsFd,
    path: impl rustix::path::Arg,
    links: Links,
) -> Result<OwnedFd, Error> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if matches!(links, Links::Refuse | Links::LiveProc) {
        flags |= OFlags::NOFOLLOW;
    }
    let opened = if links == Links::InRoot {
        rustix::fs::openat2(
            dir,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    } else {
        openat(dir, path, flags, Mode::empty())
    };
    let fd = match opened {
        Ok(fd) => fd,
        // O_NOFOLLOW's answer for a link.
        Err(Errno::LOOP) if matches!(links, Links::Refuse | Links::LiveProc) => {
            return Err(Error::NotRegular("a symbolic link"));
        }
        Err(e) => return Err(e.into()),
    };
    if links == Links::LiveProc {
        return Ok(fd);
    }
    let kind = FileType::from_raw_mode(fstat(&fd)?.st_mode);
    match kind {
        FileType::RegularFile => Ok(fd),
        FileType::Directory => Err(Error::NotRegular("a directory")),
        FileType::Fifo => Err(Error::NotRegular("a FIFO")),
        FileType::CharacterDevice => Err(Error::NotRegular("a character device")),
        FileType::BlockDevice => Err(Error::NotRegular("a block device")),
        FileType::Socket => Err(Error::NotRegular("a socket")),
        FileType::Symlink | FileType::Unknown => Err(Error::NotRegular("not a file")),
    }
}

/// The names in the directory `path` (relative to `dir`), resolved as
/// `links` says (inside a container's root for `Links::InRoot`); empty
/// when it cannot be opened.
pub(super) fn names_in(dir: impl AsFd, path: &str, links: Links) -> Vec<String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let opened = match links {
        Links::InRoot => rustix::fs::openat2(
            dir,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ),
        Links::Refuse | Links::LiveProc | Links::Follow => openat(dir, path, flags, Mode::empty()),
    };
    let Ok(fd) = opened else {
        return Vec::new();
    };
    let Ok(entries) = rustix::fs::Dir::read_from(&fd) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
        .filter(|n| n != "." && n != "..")
        .collect()
}

/// How the file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ends {
    /// At a read that returns nothing.
    AtEof,
    /// At a short read, too: procfs hands a one-record file (stat, status,
    /// cgroup, comm) and cmdline over in one read when the buffer is large
    /// enough, and a file on disk is short only at its end. Saves a read
    /// per file on the owners' hot path.
    AtShortRead,
}

/// Whether the whole file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fill {
    Whole,
    /// The file goes on past the cap; `buf` holds its first `cap` bytes.
    Truncated,
}

/// Replace `buf` with the contents of `path`, at most `cap` bytes of them.
pub(super) fn read_capped(
    dir: impl AsFd,
    path: impl rustix::path::Arg,
    links: Links,
    cap: usize,
    ends: Ends,
    buf: &mut Vec<u8>,
) -> Result<Fill, Error> {
    let fd = open(dir, path, links)?;
    buf.clear();
    // One byte past the cap tells a file of exactly `cap` bytes from a
    // longer one.
    let limit = cap.saturating_add(1);
    loop {
        let left = limit - buf.len();
        if left == 0 {
            buf.truncate(cap);
            return Ok(Fill::Truncated);
        }
        if buf.spare_capacity_mut().len() < left.min(1024) {
            buf.reserve(left.min(buf.capacity().max(4096)));
        }
        let spare = buf.spare_capacity_mut();
        let room = spare.len().min(left);
        let n = match rustix::io::read(&fd, &mut spare[..room]) {
            Ok((filled, _)) => filled.len(),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        // SAFETY: read initialised the first n bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        if n == 0 || (ends == Ends::AtShortRead && n < room) {
            return Ok(Fill::Whole);
        }
    }
}

/// `read_capped` for text: a file over the cap loses its last, cut line.
pub(super) fn read_text(
    dir: impl AsFd,
    path: impl rustix::path::Arg,
    links: Links,
    cap: usize,
) -> Result<String, Error> {
    let mut buf = Vec::new();
    if read_capped(dir, path, links, cap, Ends::AtEof, &mut buf)? == Fill::Truncated {
        cut_to_line(&mut buf);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Drop a truncated buffer's last line, which the cap cut short.
pub(super) fn cut_to_line(buf: &mut Vec<u8>) {
    let keep = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    buf.truncate(keep);
}

/// What `for_each_line` saw besides the lines it handed over.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lines {
    /// Lines longer than the limit, skipped.
    pub too_long: usize,
    /// The file went on past the total limit; the rest was not read.
    pub truncated: bool,
}

/// Hand each line of `path` (without its newline) to `on`, reading 64 KiB
/// at a time: a table of 100,000 sockets is never held whole.
pub(super) fn for_each_line(
    dir: impl AsFd,
    path: impl rustix::path::Arg,
    links: Links,
    limits: Limits,
    mut on: impl FnMut(&[u8]),
) -> Result<Lines, Error> {
    let fd = open(dir, path, links)?;
    let mut buf = vec![0u8; (limits.line + 1).max(64 * 1024)];
    let mut out = Lines::default();
    let (mut held, mut total, mut skipping) = (0usize, 0u64, false);
    loop {
        let left = limits.total.saturating_sub(total);
        if left == 0 {
            // Whether anything follows: one byte tells.
            let mut probe = [0u8; 1];
            out.truncated = !matches!(rustix::io::read(&fd, &mut probe), Ok(0));
            return Ok(out);
        }
        let room = (buf.len() - held).min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match rustix::io::read(&fd, &mut buf[held..held + room]) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            // A last line without a newline.
            if held > 0 && !skipping {
                on(&buf[..held]);
            }
            return Ok(out);
        }
        total += n as u64;
        let end = held + n;
        let mut start = 0;
        while let Some(nl) = buf[start..end].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + nl];
            if skipping {
                skipping = false; // the end of a long line
            } else if line.len() > limits.line {
                out.too_long += 1;
            } else {
                on(line);
            }
            start += nl + 1;
        }
        let rest = end - start;
        if skipping {
            held = 0;
        } else if rest > limits.line {
            out.too_long += 1;
            skipping = true;
            held = 0;
        } else {
            buf.copy_within(start..end, 0);
            held = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    fn read(path: &Path, cap: usize, ends: Ends) -> Result<(Fill, Vec<u8>), Error> {
        let mut buf = Vec::new();
        let fill = read_capped(rustix::fs::CWD, path, Links::Refuse, cap, ends, &mut buf)?;
        Ok((fill, buf))
    }

    #[test]
    fn reads_whole_files_and_stops_at_the_cap() {
        let d = dir();
        let p = d.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap_or_else(|e| panic!("{e}"));
        for ends in [Ends::AtEof, Ends::AtShortRead] {
            let (fill, buf) = read(&p, 100, ends).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((fill, buf.as_slice()), (Fill::Whole, &b"0123456789"[..]));
            let (fill, buf) = read(&p, 10, ends).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(fill, Fill::Whole, "exactly the cap is whole");
            assert_eq!(buf.len(), 10);
            let (fill, buf) = read(&p, 4, ends).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((fill, buf.as_slice()), (Fill::Truncated, &b"0123"[..]));
        }
        std::fs::write(&p, b"").unwrap_or_else(|e| panic!("{e}"));
        let (fill, buf) = read(&p, 4, Ends::AtEof).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((fill, buf.len()), (Fill::Whole, 0));
    }

    #[test]
    fn procfs_files_of_size_zero_are_read() {
        let (fill, buf) = read(Path::new("/proc/self/stat"), STAT, Ends::AtShortRead)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fill, Fill::Whole);
        assert!(buf.starts_with(std::process::id().to_string().as_bytes()));
    }

    /// A device, a link to one, a FIFO (which would block a plain open)
    /// and a directory are refused without a read.
    #[test]
    fn only_regular_files_are_read() {
        let d = dir();
        let link = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap_or_else(|e| panic!("{e}"));
        let fifo = d.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        for (path, want) in [
            (link.as_path(), "a symbolic link"),
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO"),
            (d.path(), "a directory"),
        ] {
            match read(path, 16, Ends::AtEof) {
                Err(Error::NotRegular(what)) => assert_eq!(what, want, "{}", path.display()),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        // The live host's own files may be links, to regular files only.
        let mut buf = Vec::new();
        let r = read_capped(
            rustix::fs::CWD,
            &link,
            Links::Follow,
            16,
            Ends::AtEof,
            &mut buf,
        );
        assert!(
            matches!(r, Err(Error::NotRegular("a character device"))),
            "{r:?}"
        );
        let missing = read(&d.path().join("nothing"), 16, Ends::AtEof);
        assert!(missing.is_err_and(|e| e.is_missing()));
    }

    #[test]
    fn text_over_the_cap_loses_its_cut_line() {
        let d = dir();
        let p = d.path().join("t");
        std::fs::write(&p, "a:1\nbb:22\nccc:333\n").unwrap_or_else(|e| panic!("{e}"));
        let text = |cap| {
            read_text(rustix::fs::CWD, &p, Links::Refuse, cap).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(text(100), "a:1\nbb:22\nccc:333\n");
        assert_eq!(text(12), "a:1\nbb:22\n");
        assert_eq!(text(2), "");
    }

    #[test]
    fn lines_are_streamed_long_ones_skipped() {
        let d = dir();
        let p = d.path().join("t");
        let long = "x".repeat(100_000);
        std::fs::write(&p, format!("one\n{long}\ntwo\n\n{long}\nthree"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        let limits = Limits {
            line: 10,
            total: 1 << 20,
        };
        let seen = for_each_line(rustix::fs::CWD, &p, Links::Refuse, limits, |l| {
            got.push(String::from_utf8_lossy(l).into_owned());
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, ["one", "two", "", "three"]);
        assert_eq!(
            seen,
            Lines {
                too_long: 2,
                truncated: false
            }
        );
        // A total limit stops the read, and says so.
        let mut got = Vec::new();
        let limits = Limits { line: 10, total: 8 };
        let seen = for_each_line(rustix::fs::CWD, &p, Links::Refuse, limits, |l| {
            got.push(String::from_utf8_lossy(l).into_owned());
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, ["one"]);
        assert!(seen.truncated);
    }
}
