//! Named files where Unix's file types, modes and owners are not there
//! (Windows): the same rules, as far as std can tell them.

use std::fs::{File, FileType, Metadata, OpenOptions, Permissions};
use std::io;
use std::path::Path;

use super::Kind;

pub fn special_kind(_: FileType) -> Kind {
    Kind::Other
}

pub fn open_to_read(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Never reached: only a device or FIFO is written in place, and std shows
/// neither here.
pub fn open_in_place(path: &Path, _follow: bool) -> io::Result<File> {
    OpenOptions::new().write(true).open(path)
}

pub fn is_no_reader(_: &io::Error) -> bool {
    false
}

pub fn make_blocking(_: &File) -> io::Result<()> {
    Ok(())
}

/// Without an inode number a file cannot be told from its replacement.
pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len()
}

/// The file's ACL is the directory's; there are no mode bits to keep.
pub fn permissions(_: &Metadata) -> Option<Permissions> {
    None
}

pub fn no_wider(keep: Permissions, _: &Metadata) -> Permissions {
    keep
}

pub fn new_file_permissions() -> Option<Permissions> {
    None
}

pub fn stranger(_: &Metadata) -> Option<u32> {
    None
}

pub fn untrusted(_: &Path, _: &Metadata) -> Option<String> {
    None
}

pub fn pseudo_filesystem(_: &Path) -> io::Result<Option<&'static str>> {
    Ok(None)
}

pub fn pseudo_filesystem_of(_: &File) -> io::Result<Option<&'static str>> {
    Ok(None)
}
