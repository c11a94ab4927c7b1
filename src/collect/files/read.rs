//! Reading a policy or baseline: a regular file off the kernel's
//! pseudo-filesystems, opened without blocking, at most [`READ_CAP`] bytes.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::{Kind, Refusal, is_standard, os};

/// The most whyport reads from a policy or baseline: 64 MiB (a baseline of
/// 10,000 listeners is about 10 MiB). Past it the file is refused.
pub const READ_CAP: u64 = 64 << 20;

/// What was read, and why other users may have chosen it.
pub struct Text {
    pub bytes: Vec<u8>,
    /// Set when whyport runs as root and users other than root can change
    /// the file: a phrase such as `it is writable by others`.
    pub untrusted: Option<String>,
}

/// Read the file at `path`, or standard input for `-`.
pub fn read(path: &Path) -> Result<Text, Refusal> {
    if is_standard(path) {
        let bytes = capped(io::stdin().lock(), 0)?;
        return Ok(Text {
            bytes,
            untrusted: None,
        });
    }
    // Looked at before opening: opening a device or FIFO can block or act
    // (a tape rewinds), and /proc/kmsg is consumed by reading it.
    let before = fs::metadata(path)?;
    let kind = Kind::of(before.file_type());
    if kind != Kind::Regular {
        return Err(Refusal::Not(format!(
            "{}, not a regular file",
            kind.phrase()
        )));
    }
    if let Some(fs) = os::pseudo_filesystem(path)? {
        return Err(pseudo(fs));
    }
    if before.len() > READ_CAP {
        return Err(too_big());
    }
    let file = os::open_to_read(path)?;
    // What was opened is checked again: the path may have changed since.
    let now = file.metadata()?;
    if Kind::of(now.file_type()) != Kind::Regular || !os::same_file(&before, &now) {
        return Err(Refusal::Not("replaced while whyport opened it".into()));
    }
    if let Some(fs) = os::pseudo_filesystem_of(&file)? {
        return Err(pseudo(fs));
    }
    let bytes = capped(file, now.len())?;
    Ok(Text {
        bytes,
        untrusted: os::untrusted(path, &now),
    })
}

/// All of `r` if it holds at most [`READ_CAP`] bytes; one more is read so
/// that a file growing meanwhile is caught, never more. `size`: what `r`
/// is expected to hold, allocated at once.
fn capped(r: impl Read, size: u64) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(READ_CAP)).unwrap_or(0));
    r.take(READ_CAP + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > READ_CAP {
        return Err(too_big());
    }
    Ok(bytes)
}

fn too_big() -> Refusal {
    Refusal::Not(format!(
        "larger than {} MiB, the most whyport reads",
        READ_CAP >> 20
    ))
}

fn pseudo(fs: &str) -> Refusal {
    Refusal::Not(format!(
        "a file of {fs}, a kernel pseudo-filesystem, not a regular file"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_reads_at_most_one_byte_past_the_cap() {
        let cap = usize::try_from(READ_CAP).unwrap();
        assert_eq!(
            capped(io::repeat(b'x').take(READ_CAP), READ_CAP)
                .unwrap()
                .len(),
            cap
        );
        // io::repeat never ends: only the cap stops the read.
        let e = capped(io::repeat(b'x'), 0).unwrap_err();
        assert!(e.to_string().contains("larger than 64 MiB"), "{e}");
    }
}
