//! The Unix side of named files: open flags, file identity, ownership and
//! (Linux) the kernel's pseudo-filesystems, through std, libc and rustix.

use std::fs::{self, File, FileType, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Kind;

pub fn special_kind(t: FileType) -> Kind {
    if t.is_char_device() {
        Kind::CharDevice
    } else if t.is_block_device() {
        Kind::BlockDevice
    } else if t.is_fifo() {
        Kind::Fifo
    } else if t.is_socket() {
        Kind::Socket
    } else {
        Kind::Other
    }
}

/// Opening never blocks (a FIFO without writer, a serial line without
/// carrier) and never makes a terminal whyport's controlling terminal;
/// std adds O_CLOEXEC.
const NO_WAIT: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

pub fn open_to_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(NO_WAIT)
        .open(path)
}

/// Open a device or FIFO for writing, never creating or truncating;
/// without `follow` a symbolic link put there meanwhile is an error.
pub fn open_in_place(path: &Path, follow: bool) -> io::Result<File> {
    let flags = if follow {
        NO_WAIT
    } else {
        NO_WAIT | libc::O_NOFOLLOW
    };
    OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
}

/// ENXIO: a FIFO opened for writing without blocking has no reader.
pub fn is_no_reader(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENXIO)
}

/// Writes wait for a slow reader instead of failing with EAGAIN.
pub fn make_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` owns, with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// The permission bits a replacement keeps: not set-user-ID or
/// set-group-ID, which on a file now owned by whyport's user would lend it
/// that user's rights.
pub fn permissions(m: &Metadata) -> Option<Permissions> {
    Some(Permissions::from_mode(m.mode() & 0o777))
}

/// `keep` without the read and write bits the file `created` lacks (a new
/// file has no execute bits to compare with; those of `keep` stay).
pub fn no_wider(keep: Permissions, created: &Metadata) -> Permissions {
    Permissions::from_mode(keep.mode() & (created.mode() | 0o111) & 0o777)
}

/// A new file is readable and writable by all, less the umask, as the
/// shell's `>` makes it.
pub fn new_file_permissions() -> Option<Permissions> {
    Some(Permissions::from_mode(0o666))
}

/// The owner of `m` when it is neither root nor the user running whyport.
pub fn stranger(m: &Metadata) -> Option<u32> {
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    (m.uid() != 0 && m.uid() != me).then_some(m.uid())
}

/// When whyport runs as root: why users other than root can change the file
/// `path` (whose status is `file`), or None.
pub fn untrusted(path: &Path, file: &Metadata) -> Option<String> {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    if file.uid() != 0 {
        return Some(format!("it belongs to uid {}", file.uid()));
    }
    if writable_by_others(file) {
        return Some("it is writable by others".into());
    }
    directories(path).into_iter().find_map(|dir| {
        let m = fs::metadata(&dir).ok()?;
        let shown = dir.display();
        if m.uid() != 0 {
            Some(format!("directory {shown} belongs to uid {}", m.uid()))
        } else if writable_by_others(&m) && m.mode() & 0o1000 == 0 {
            // A sticky directory (/tmp) lets no one else rename root's file.
            Some(format!("directory {shown} is writable by others"))
        } else {
            None
        }
    })
}

/// Writable by a user other than root: by others, or by a group other than
/// root's.
fn writable_by_others(m: &Metadata) -> bool {
    m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && m.gid() != 0)
}

/// Every directory that leads to `path`, as written (where its symbolic
/// links live) and resolved (where the file lives).
fn directories(path: &Path) -> Vec<PathBuf> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut dirs: Vec<PathBuf> = absolute
        .ancestors()
        .skip(1)
        .map(Path::to_path_buf)
        .collect();
    if let Ok(real) = fs::canonicalize(path) {
        for d in real.ancestors().skip(1) {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    dirs
}

/// The name of the kernel pseudo-filesystem `path` is on: its files claim
/// to be regular files and are not (/proc/kmsg is consumed by reading).
pub fn pseudo_filesystem(path: &Path) -> io::Result<Option<&'static str>> {
    #[cfg(target_os = "linux")]
    {
        Ok(pseudo_name(rustix::fs::statfs(path)?.f_type))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Ok(None)
    }
}

pub fn pseudo_filesystem_of(file: &File) -> io::Result<Option<&'static str>> {
    #[cfg(target_os = "linux")]
    {
        Ok(pseudo_name(rustix::fs::fstatfs(file)?.f_type))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Ok(None)
    }
}

/// The magic numbers of linux/magic.h for filesystems the kernel makes up.
#[cfg(target_os = "linux")]
fn pseudo_name(f_type: impl TryInto<i64>) -> Option<&'static str> {
    const PSEUDO: &[(u32, &str)] = &[
        (0x9fa0, "proc"),
        (0x6265_6572, "sysfs"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x7363_6673, "securityfs"),
        (0x0027_e0eb, "cgroup"),
        (0x6367_7270, "cgroup2"),
        (0xcafe_4a11, "bpf"),
        (0x6265_6570, "configfs"),
        (0x6165_676c, "pstore"),
        (0xde5e_81e4, "efivarfs"),
        (0xf97c_ff8c, "selinuxfs"),
        (0x4341_5d53, "smackfs"),
        (0x4249_4e4d, "binfmt_misc"),
        (0x6573_5543, "fusectl"),
        (0x0765_5821, "resctrl"),
        (0x6e73_6673, "nsfs"),
        (0x1cd1, "devpts"),
    ];
    // f_type is a signed word whose width depends on the architecture; the
    // magic numbers are 32 bits.
    let magic = f_type.try_into().ok()? as u32;
    PSEUDO
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}
