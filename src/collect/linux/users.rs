//! Linux: user names for uids, from the system user database (NSS, so LDAP
//! and sssd users resolve too) or, for a recorded tree, its etc/passwd.

use std::collections::HashMap;
use std::ffi::CStr;
use std::path::Path;

use super::proc_file;

/// Resolves uids to names, caching each answer.
pub(super) struct Users {
    recorded: Option<HashMap<u32, String>>,
    cache: HashMap<u32, Option<String>>,
}

impl Users {
    /// The live system's user database.
    pub fn live() -> Users {
        Users {
            recorded: None,
            cache: HashMap::new(),
        }
    }

    /// The users of a recorded tree: `<root>/etc/passwd`, if it exists and
    /// is a regular file (its first `proc_file::PASSWD` bytes).
    pub fn recorded(passwd: &Path) -> Users {
        let text = proc_file::read_text(
            rustix::fs::CWD,
            passwd,
            proc_file::Links::Refuse,
            proc_file::PASSWD,
        )
        .unwrap_or_default();
        Users {
            recorded: Some(parse_passwd(&text)),
            cache: HashMap::new(),
        }
    }

    pub fn name(&mut self, uid: u32) -> Option<String> {
        if let Some(map) = &self.recorded {
            return map.get(&uid).cloned();
        }
        self.cache.entry(uid).or_insert_with(|| lookup(uid)).clone()
    }
}

/// `name:x:uid:...` lines; malformed lines are skipped.
pub(crate) fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            (!name.is_empty()).then(|| (uid, name.to_string()))
        })
        .collect()
}

fn lookup(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: pwd and result are plain out-parameters; buf outlives the
        // call and its length is passed alongside.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string in buf.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_skips_garbage() {
        let map = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbroken\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n:x:5:5::/:\n",
        );
        assert_eq!(map.get(&0).map(String::as_str), Some("root"));
        assert_eq!(map.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn live_lookup_knows_root() {
        assert_eq!(Users::live().name(0).as_deref(), Some("root"));
    }
}
