//! /proc/self/mountinfo: whether /proc is mounted with hidepid. Pure, and
//! on its own so the fuzz target `mountinfo` can compile it.

use std::path::Path;

/// Whether the proc mount at `proc_root` hides other users' processes
/// (`hidepid=1|2|4`, or the names `noaccess`, `invisible`, `ptraceable`).
pub fn hidepid(mountinfo: &str, proc_root: &Path) -> bool {
    mountinfo.lines().any(|line| {
        let Some((left, right)) = line.split_once(" - ") else {
            return false;
        };
        let mount_point = left.split(' ').nth(4);
        let mut right = right.split(' ');
        let fstype = right.next();
        let options = right.nth(1).unwrap_or("");
        fstype == Some("proc")
            && mount_point.map(Path::new) == Some(proc_root)
            && options.split(',').any(|o| {
                o.strip_prefix("hidepid=")
                    .is_some_and(|v| v != "0" && v != "off")
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_hidepid_on_the_proc_mount_only() {
        let plain = "22 28 0:20 / /proc rw,nosuid - proc proc rw\n";
        let hidden = "22 28 0:20 / /proc rw,nosuid - proc proc rw,hidepid=invisible\n";
        let elsewhere = "22 28 0:20 / /mnt/p rw - proc proc rw,hidepid=2\n";
        let off = "22 28 0:20 / /proc rw - proc proc rw,hidepid=0\n";
        let root = Path::new("/proc");
        assert!(!hidepid(plain, root));
        assert!(hidepid(hidden, root));
        assert!(!hidepid(elsewhere, root));
        assert!(!hidepid(off, root));
    }
}
