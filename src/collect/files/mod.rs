//! Files a user names: the policy and baseline whyport reads (`--policy
//! FILE`, `diff FILE`, `-` for standard input) and the `-o FILE` it writes.
//! whyport runs as root among users who may own the directories and the
//! files named, so every rule here is about not being led somewhere else
//! (docs/usage.md, "Files whyport reads and writes").
//!
//! Reading: only a regular file off the kernel's pseudo-filesystems, opened
//! without blocking, and at most [`read::READ_CAP`] bytes of it. Writing: a new
//! file is created exclusively under an unpredictable name beside the
//! target and renamed over it; a device or FIFO is written in place; no
//! other link is followed.

#[cfg(not(unix))]
mod portable;
#[cfg(unix)]
mod unix;
#[cfg(not(unix))]
use portable as os;
#[cfg(unix)]
use unix as os;

mod read;
mod write;

use std::fs::FileType;
use std::io::{self, Write};
use std::path::Path;

pub use read::read;
pub use write::{check_dir, write};

/// Why a file was not read or written, as a phrase to follow
/// `cannot read policy FILE: `.
#[derive(Debug)]
pub enum Refusal {
    /// The system said no (it does not exist, permission denied, ...).
    Io(io::Error),
    /// whyport said no: the file is not what it has to be.
    Not(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Io(e) => f.write_str(&io_text(e)),
            Refusal::Not(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Io(e)
    }
}

/// The OS message without Rust's " (os error N)".
pub fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error")
        .next()
        .unwrap_or(&text)
        .to_lowercase()
}

/// Whether `path` names standard input (or output): `-`.
pub fn is_standard(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// What a path is, as far as reading and writing it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

impl Kind {
    pub fn of(t: FileType) -> Kind {
        if t.is_file() {
            Kind::Regular
        } else if t.is_dir() {
            Kind::Directory
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            os::special_kind(t)
        }
    }

    pub(super) fn phrase(self) -> &'static str {
        match self {
            Kind::Regular => "a regular file",
            Kind::Directory => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::Other => "a special file",
        }
    }
}

/// Standard output whose write errors say that the output could not be
/// written (the kind is kept: a closed pipe is still `BrokenPipe`).
pub struct Output<W>(pub W);

/// A write to standard output failed: "cannot write the output: no space
/// left on device".
#[derive(Debug)]
pub struct Unwritten(io::Error);

impl std::fmt::Display for Unwritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write the output: {}", io_text(&self.0))
    }
}

// No `source`: the message already holds the OS's; a chain would repeat it.
impl std::error::Error for Unwritten {}

fn unwritten(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), Unwritten(e))
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(unwritten)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(unwritten)
    }
}

/// Whether `e` is a failed write to standard output.
pub fn is_unwritten(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .filter_map(|io| io.get_ref())
        .any(|inner| inner.is::<Unwritten>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_errors_are_marked_and_keep_their_kind() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
        }
        let e = Output(Full).write_all(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(
            e.to_string().starts_with("cannot write the output: "),
            "{e}"
        );
        assert!(is_unwritten(&anyhow::Error::new(e)));
        let e = Output(Full).flush().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let plain = anyhow::Error::new(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!is_unwritten(&plain));
    }
}
