//! Writing `-o FILE`: a new file created exclusively under an
//! unpredictable name and renamed over a regular file (or none); a device
//! or FIFO written in place; nothing else, and no other link followed.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::{Kind, Refusal, os};

/// Write `bytes` to `path`: a regular file (or none yet) is replaced whole
/// or not at all, keeping its permission bits (another user's file keeps
/// them only where they are no wider than a new file's: a world-writable
/// file planted in /tmp does not make root's output world-writable); a
/// character device or a FIFO
/// (also behind a symbolic link, as `/dev/stdout`) is written in place.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), Refusal> {
    let at = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let followed = match &at {
        Some(m) if m.file_type().is_symlink() => fs::metadata(path).ok(),
        _ => None,
    };
    let kind = |m: &Option<fs::Metadata>| m.as_ref().map(|m| Kind::of(m.file_type()));
    let stranger = at.as_ref().and_then(os::stranger);
    match plan(kind(&at), kind(&followed), stranger) {
        Plan::Replace => replace(
            path,
            bytes,
            at.as_ref().and_then(os::permissions),
            stranger.is_some(),
        ),
        Plan::InPlace { follow } => {
            let expected = if follow { followed } else { at };
            match expected {
                Some(m) => in_place(path, bytes, follow, &m),
                None => Err(Refusal::Not("replaced while whyport opened it".into())),
            }
        }
        Plan::Refuse(why) => Err(Refusal::Not(why)),
    }
}

/// Check a directory whyport is to write several files into (`man --dir`):
/// it must be a directory, and a symbolic link to one only when root or the
/// user running whyport owns the link (as `-o` follows links).
pub fn check_dir(dir: &Path) -> Result<(), Refusal> {
    let at = fs::symlink_metadata(dir)?;
    if at.file_type().is_symlink()
        && let Some(uid) = os::stranger(&at)
    {
        return Err(Refusal::Not(format!(
            "a symbolic link of uid {uid}; whyport follows only links of root or of the user running it"
        )));
    }
    if !fs::metadata(dir)?.is_dir() {
        return Err(Refusal::Not("not a directory".into()));
    }
    Ok(())
}

/// A temporary file beside `path` (a rename does not cross filesystems),
/// created exclusively under a random name (no link is followed and no
/// name can be planted in advance), synced, then renamed over `path`.
/// Dropping it on any error removes it. `narrow`: `keep` loses any read or
/// write bit the new file was not created with.
fn replace(
    path: &Path,
    bytes: &[u8],
    keep: Option<fs::Permissions>,
    narrow: bool,
) -> Result<(), Refusal> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".whyport");
    if let Some(p) = os::new_file_permissions() {
        builder.permissions(p);
    }
    let mut tmp = builder.tempfile_in(dir)?;
    if let Some(p) = keep {
        let p = if narrow {
            os::no_wider(p, &tmp.as_file().metadata()?)
        } else {
            p
        };
        // The umask applied at creation; an explicit mode is exact.
        tmp.as_file().set_permissions(p)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| Refusal::Io(e.error))?;
    Ok(())
}

/// Write to the device or FIFO at `path`, checked to be the one `expected`
/// describes once opened.
fn in_place(
    path: &Path,
    bytes: &[u8],
    follow: bool,
    expected: &fs::Metadata,
) -> Result<(), Refusal> {
    let kind = Kind::of(expected.file_type());
    let mut file = os::open_in_place(path, follow).map_err(|e| {
        if kind == Kind::Fifo && os::is_no_reader(&e) {
            Refusal::Not("a FIFO that nobody reads; start its reader first".into())
        } else {
            Refusal::Io(e)
        }
    })?;
    let now = file.metadata()?;
    if Kind::of(now.file_type()) != kind || !os::same_file(expected, &now) {
        return Err(Refusal::Not("replaced while whyport opened it".into()));
    }
    os::make_blocking(&file)?;
    file.write_all(bytes)?;
    file.flush()?;
    Ok(())
}

/// How `-o` treats what is at its path.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Rename a new file over it (or to it).
    Replace,
    /// Open and write it; `follow` a symbolic link to get there.
    InPlace {
        follow: bool,
    },
    Refuse(String),
}

/// `at`: what the path is (None: nothing); `followed`: what a symbolic link
/// there leads to (None: nothing); `stranger`: the owner of that link when
/// it is neither root nor the user running whyport.
fn plan(at: Option<Kind>, followed: Option<Kind>, stranger: Option<u32>) -> Plan {
    match at {
        None | Some(Kind::Regular) => Plan::Replace,
        Some(Kind::CharDevice | Kind::Fifo) => Plan::InPlace { follow: false },
        Some(Kind::Symlink) => match (followed, stranger) {
            // Another user's link could lead root's write to any device
            // (/dev/mem, a watchdog); the kernel's protected_symlinks makes
            // the same call in sticky directories only.
            (Some(Kind::CharDevice | Kind::Fifo), Some(uid)) => Plan::Refuse(format!(
                "a symbolic link of uid {uid}; -o follows only links of root or of the user running whyport"
            )),
            (Some(Kind::CharDevice | Kind::Fifo), None) => Plan::InPlace { follow: true },
            (Some(k), _) => Plan::Refuse(format!(
                "a symbolic link to {}; -o follows a link only to a device or FIFO",
                k.phrase()
            )),
            (None, _) => Plan::Refuse("a symbolic link that leads nowhere".into()),
        },
        Some(k) => Plan::Refuse(format!("{}; -o replaces only a regular file", k.phrase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        use Kind::*;
        let ours = |at, followed| plan(at, followed, None);
        assert_eq!(ours(None, None), Plan::Replace);
        assert_eq!(ours(Some(Regular), None), Plan::Replace);
        assert_eq!(
            ours(Some(CharDevice), None),
            Plan::InPlace { follow: false }
        );
        assert_eq!(ours(Some(Fifo), None), Plan::InPlace { follow: false });
        assert_eq!(
            ours(Some(Symlink), Some(CharDevice)),
            Plan::InPlace { follow: true }
        );
        assert_eq!(
            ours(Some(Symlink), Some(Fifo)),
            Plan::InPlace { follow: true }
        );
        for refused in [
            ours(Some(Symlink), Some(Regular)),
            ours(Some(Symlink), Some(Directory)),
            ours(Some(Symlink), Some(Socket)),
            ours(Some(Symlink), Some(BlockDevice)),
            ours(Some(Symlink), None),
            ours(Some(Socket), None),
            ours(Some(Directory), None),
            ours(Some(BlockDevice), None),
            plan(Some(Symlink), Some(CharDevice), Some(1000)),
            plan(Some(Symlink), Some(Fifo), Some(1000)),
        ] {
            assert!(matches!(refused, Plan::Refuse(_)), "{refused:?}");
        }
    }
}
