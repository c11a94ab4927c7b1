//! Files a user names: `-o FILE` of snapshot and policy init is never led
//! elsewhere by a link, a device or a FIFO; a policy or baseline is read
//! only when it is a regular file of bounded size; full output devices say
//! so. Runs over the recorded tree, so no live collection is involved.
//!
//! Device nodes are made with mknod inside a temporary directory rather
//! than using /dev/null and /dev/full themselves: a regression would
//! replace those of the machine running the tests.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const TREE: &str = "fixtures/nginx-netns";

/// whyport with `args` over the recorded tree.
fn wp(args: &[&str]) -> Command {
    let mut c = whyport();
    c.args(args).args(["--proc-root", TREE]);
    c
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run `cmd` with stdin from `input` (None: nothing), allowing 20 seconds
/// (a hang is a failure, not a stuck suite) and 2 GiB of address space (a
/// read that does not stop fails the test instead of the host).
fn bounded(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null());
    bounded_with(cmd)
}

fn bounded_with(cmd: &mut Command) -> Output {
    finish(cmd).1
}

/// The pid of the run and how it ended.
fn finish(cmd: &mut Command) -> (u32, Output) {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = Spawned::start(cmd);
    let pid = child.0.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "whyport hung for 20 s: {cmd:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Output {
        status: child.0.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    (pid, out)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A device node `major:minor` at `path`; None (and a SKIP line) when not
/// root.
fn device(test: &str, path: &Path, major: u32, minor: u32) -> Option<()> {
    if !is_root() {
        skip(test, Skip::NotRoot, "mknod needs root");
        return None;
    }
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string; mknod has no other preconditions.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Some(())
}

fn fifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn is_char_device(path: &Path, rdev: (u32, u32)) -> bool {
    let m = fs::symlink_metadata(path).unwrap();
    m.file_type().is_char_device() && (libc::major(m.rdev()), libc::minor(m.rdev())) == rdev
}

/// The JSON snapshot of the recorded tree, as written to stdout.
fn snapshot_json() -> Vec<u8> {
    let o = bounded(&mut wp(&["snapshot"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o.stdout
}

#[test]
fn planted_symlinks_do_not_lead_roots_write_elsewhere() {
    let test = "planted_symlinks_do_not_lead_roots_write_elsewhere";
    if !is_root() {
        skip(
            test,
            Skip::NotRoot,
            "needs root (whyport as root, the attacker as nobody)",
        );
        return;
    }
    if let Some(tool) = ["setpriv", "perl"].into_iter().find(|t| !have(t)) {
        skip(
            test,
            Skip::Tool(tool),
            format!("needs setpriv (util-linux) and perl; {tool} is not installed"),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, "root's secret\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    // World-writable and not sticky: anyone may add names (and links).
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let out = shared.join("out.json");
    // Every name a temporary file beside out.json could have been given
    // from the next 20,000 pids on, planted by nobody; where pids wrap
    // around soon (a small pid_max), every pid there is.
    let number = |path: &str| -> u32 { fs::read_to_string(path).unwrap().trim().parse().unwrap() };
    let (last, max) = (
        number("/proc/sys/kernel/ns_last_pid"),
        number("/proc/sys/kernel/pid_max"),
    );
    let (first, end) = if last + 20_001 < max {
        (last + 1, last + 20_001)
    } else {
        (1, max)
    };
    let plant = format!(
        "for ({first}..{last_planted}) {{ symlink('{v}', \"{d}/.out.json.whyport-$_\") or die \"$!\" }}",
        last_planted = end - 1,
        v = arg(&victim),
        d = arg(&shared),
    );
    let planted = run(Command::new("setpriv").args([
        "--reuid",
        "nobody",
        "--regid",
        "nogroup",
        "--clear-groups",
        "perl",
        "-e",
        &plant,
    ]));
    assert!(planted.status.success(), "{}", stderr(&planted));
    let mut cmd = wp(&["snapshot", "-o", arg(&out)]);
    cmd.stdin(Stdio::null());
    let (pid, o) = finish(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "root's secret\n",
        "the victim was overwritten through a planted link"
    );
    assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o600);
    let written = fs::symlink_metadata(&out).unwrap();
    assert!(written.file_type().is_file(), "{written:?}");
    assert_eq!(fs::read(&out).unwrap(), snapshot_json());
    // Nothing of whyport's is left beside it; only the planted links are.
    let left: Vec<PathBuf> = fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !fs::symlink_metadata(p).unwrap().file_type().is_symlink() && *p != out)
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Otherwise the test proved nothing: the pid was not one planted.
    assert!(
        (first..end).contains(&pid),
        "pid {pid} not in {first}..{end}"
    );
}

#[test]
fn dev_null_stays_a_character_device() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    let Some(()) = device("dev_null_stays_a_character_device", &null, 1, 3) else {
        return;
    };
    for sub in [&["snapshot"][..], &["policy", "init"][..]] {
        let mut args = sub.to_vec();
        args.extend(["-o", arg(&null)]);
        let o = bounded(&mut wp(&args));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            is_char_device(&null, (1, 3)),
            "{args:?} replaced the device"
        );
    }
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn a_symlink_to_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::write(&real, "keep me\n").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&link)]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "whyport: cannot write {}: a symbolic link to a regular file",
            link.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_link(&link).unwrap(), real);
    assert_eq!(fs::read_to_string(&real).unwrap(), "keep me\n");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left"
    );
}

#[test]
fn dev_stdout_works_when_stdout_is_a_pipe() {
    // What /dev/stdout is on Linux, made here so that a regression cannot
    // replace the machine's.
    let dir = tempfile::tempdir().unwrap();
    let stdout = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout).unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&stdout)]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, snapshot_json());
    assert!(
        fs::symlink_metadata(&stdout)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Where stdout is a regular file the link leads to one: refused.
    let file = dir.path().join("file");
    let mut cmd = wp(&["snapshot", "-o", arg(&stdout)]);
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    cmd.stdout(fs::File::create(&file).unwrap());
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a symbolic link to a regular file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn another_users_link_to_a_device_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    let Some(()) = device(
        "another_users_link_to_a_device_is_not_followed",
        &null,
        1,
        3,
    ) else {
        return;
    };
    // A link nobody planted where root writes (it could lead to /dev/mem).
    let link = dir.path().join("out.json");
    std::os::unix::fs::symlink(&null, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&link)]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "whyport: cannot write {}: a symbolic link of uid 65534",
            link.display()
        )),
        "{err}"
    );
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // root's own link to the same device is followed.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&link)]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(is_char_device(&null, (1, 3)));
}

#[test]
fn a_replaced_file_keeps_its_mode_and_belongs_to_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    let umask = fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .unwrap();
    // Another user's world-writable file (a plant in /tmp) keeps no bit a
    // new file would not have: root's output is not left writable to all.
    let planted = if is_root() { 0o666 & !umask } else { 0o666 };
    for (mode, kept) in [(0o640, 0o640), (0o2750, 0o750), (0o666, planted)] {
        let out = dir.path().join(format!("out-{mode:o}.toml"));
        fs::write(&out, "old\n").unwrap();
        if is_root() {
            std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
        }
        // After chown, which clears set-group-ID.
        fs::set_permissions(&out, fs::Permissions::from_mode(mode)).unwrap();
        let o = bounded(&mut wp(&["policy", "init", "-o", arg(&out)]));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let m = fs::metadata(&out).unwrap();
        assert_eq!(m.mode() & 0o7777, kept, "mode of {mode:o}");
        assert_eq!(m.uid(), me, "the new file is the running user's");
        assert!(fs::read_to_string(&out).unwrap().contains("[[allow]]"));
    }
}

#[test]
fn a_fifo_without_reader_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    fifo(&path);
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&path)]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "whyport: cannot write {}: a FIFO that nobody reads",
            path.display()
        )),
        "{err}"
    );
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
    // With a reader, the FIFO gets the output.
    let reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&path)]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut got = Vec::new();
    (&reader).read_to_end(&mut got).unwrap();
    assert_eq!(got, snapshot_json());
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
}

#[test]
fn a_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&path)]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(": a socket;"), "{err}");
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
}

#[test]
fn a_full_device_says_the_output_could_not_be_written() {
    if !Path::new("/dev/full").exists() {
        skip(
            "a_full_device_says_the_output_could_not_be_written",
            Skip::Other,
            "no /dev/full",
        );
        return;
    }
    // whyport > /dev/full: the listing and the snapshot.
    for args in [&[][..], &["snapshot"][..]] {
        let mut cmd = wp(args);
        cmd.stdin(Stdio::null()).stderr(Stdio::piped());
        cmd.stdout(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        );
        let o = run(&mut cmd);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("whyport: cannot write the output: no space left on device: "),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("bug") && !err.contains("--proc-root"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // -o FULL, a device like /dev/full.
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let Some(()) = device(
        "a_full_device_says_the_output_could_not_be_written",
        &full,
        1,
        7,
    ) else {
        return;
    };
    let o = bounded(&mut wp(&["snapshot", "-o", arg(&full)]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "whyport: cannot write {}: no space left on device: ",
            full.display()
        )),
        "{err}"
    );
    assert!(is_char_device(&full, (1, 7)));
}

/// `audit --policy PATH` (or `diff PATH` when `baseline`) over the tree.
fn read_with(path: &Path, baseline: bool) -> Output {
    let args: Vec<&str> = if baseline {
        vec!["diff", arg(path)]
    } else {
        vec!["audit", "--policy", arg(path)]
    };
    bounded(&mut wp(&args))
}

fn assert_refused(o: &Output, what: &str, path: &Path, why: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "whyport: cannot read {what} {}: {why}",
            path.display()
        )),
        "want {why:?}: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_fifo_policy_or_baseline_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    fifo(&path);
    let o = read_with(&path, false);
    assert_refused(&o, "policy", &path, "a FIFO, not a regular file");
    let o = read_with(&path, true);
    assert_refused(&o, "baseline", &path, "a FIFO, not a regular file");
}

#[test]
fn dev_zero_as_a_policy_is_refused_at_once() {
    let o = read_with(Path::new("/dev/zero"), false);
    assert_refused(
        &o,
        "policy",
        Path::new("/dev/zero"),
        "a character device, not a regular file",
    );
}

#[test]
fn proc_kmsg_is_refused_without_reading_it() {
    let test = "proc_kmsg_is_refused_without_reading_it";
    if !is_root() {
        skip(test, Skip::NotRoot, "only root may open /proc/kmsg");
        return;
    }
    // The bytes of kernel log that /proc/kmsg has yet to hand out: reading
    // it consumes them (and waits when there are none).
    // SAFETY: SYSLOG_ACTION_SIZE_UNREAD takes no buffer.
    let unread = || unsafe { libc::klogctl(9, std::ptr::null_mut(), 0) };
    let before = unread();
    let o = read_with(Path::new("/proc/kmsg"), false);
    assert_refused(
        &o,
        "policy",
        Path::new("/proc/kmsg"),
        "a file of proc, a kernel pseudo-filesystem, not a regular file",
    );
    assert!(unread() >= before, "whyport consumed the kernel log");
}

#[test]
fn a_file_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    // Sparse: 64 MiB + 1 byte of zeros without the disk space.
    fs::File::create(&path)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    for (what, baseline) in [("policy", false), ("baseline", true)] {
        let o = read_with(&path, baseline);
        assert_refused(
            &o,
            what,
            &path,
            "larger than 64 MiB, the most whyport reads",
        );
    }
}

#[test]
fn a_dash_reads_the_policy_or_baseline_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    let init = bounded(&mut wp(&["policy", "init", "-o", arg(&policy)]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let mut cmd = wp(&["audit", "--policy", "-"]);
    cmd.stdin(fs::File::open(&policy).unwrap());
    let o = bounded_with(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("PASS: - on "))
    );
    let base = dir.path().join("b.json");
    fs::write(&base, snapshot_json()).unwrap();
    let mut cmd = wp(&["diff", "-"]);
    cmd.stdin(fs::File::open(&base).unwrap());
    let o = bounded_with(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("no change since -"));
    // Standard input is capped too.
    let mut cmd = wp(&["audit", "--policy", "-"]);
    cmd.stdin(fs::File::open("/dev/zero").unwrap());
    let o = bounded_with(&mut cmd);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .starts_with("whyport: cannot read policy from standard input: larger than 64 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn root_is_warned_of_a_policy_others_can_change() {
    let test = "root_is_warned_of_a_policy_others_can_change";
    if !is_root() {
        skip(test, Skip::NotRoot, "the warning is for root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = bounded(&mut wp(&["policy", "init"])).stdout;
    let warning = |path: &Path| -> Option<String> {
        let o = read_with(path, false);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.lines().count() <= 1, "{err}");
        err.lines().next().map(str::to_string)
    };
    let plain = dir.path().join("root.toml");
    fs::write(&plain, &text).unwrap();
    assert_eq!(warning(&plain), None, "root's own 0644 file");
    let prefix = |p: &Path| {
        format!(
            "whyport: warning: policy {} can be changed by users other than root: ",
            p.display()
        )
    };
    let open = dir.path().join("open.toml");
    fs::write(&open, &text).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        warning(&open),
        Some(format!("{}it is writable by others", prefix(&open)))
    );
    let theirs = dir.path().join("theirs.toml");
    fs::write(&theirs, &text).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
    assert_eq!(
        warning(&theirs),
        Some(format!("{}it belongs to uid 65534", prefix(&theirs)))
    );
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let inside = shared.join("p.toml");
    fs::write(&inside, &text).unwrap();
    assert_eq!(
        warning(&inside),
        Some(format!(
            "{}directory {} is writable by others",
            prefix(&inside),
            shared.display()
        ))
    );
}

/// A policy the recorded tree breaks: every listener is a finding.
fn deny_all(dir: &Path) -> PathBuf {
    let policy = dir.join("deny.toml");
    fs::write(&policy, "default = \"deny\"\n").unwrap();
    policy
}

/// The audit's JSON without what changes from one run to the next.
fn timeless(json: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(json).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !k.contains("time"));
        if let Some(e) = o.get_mut("evidence").and_then(|e| e.as_object_mut()) {
            e.retain(|k, _| !k.contains("time"));
        }
    }
    v
}

#[test]
fn audit_and_diff_write_their_report_with_o_and_keep_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let policy = deny_all(dir.path());
    let p = arg(&policy);
    // The report in the file, nothing on stdout, and still exit 1.
    let table = dir.path().join("audit.txt");
    let o = bounded(&mut wp(&["audit", "--policy", p, "-o", arg(&table)]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let written = fs::read_to_string(&table).unwrap();
    assert!(written.contains("FAIL: "), "{written}");
    // --json is --format json, to a file or not.
    let json = dir.path().join("audit.json");
    let o = bounded(&mut wp(&[
        "audit",
        "--policy",
        p,
        "--json",
        "-o",
        arg(&json),
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let long = bounded(&mut wp(&["audit", "--policy", p, "--format", "json"]));
    assert_eq!(long.status.code(), Some(1), "{}", stderr(&long));
    let short = bounded(&mut wp(&["audit", "--policy", p, "--json"]));
    assert_eq!(short.status.code(), Some(1), "{}", stderr(&short));
    assert_eq!(timeless(&short.stdout), timeless(&long.stdout));
    assert_eq!(timeless(&fs::read(&json).unwrap()), timeless(&long.stdout));
    assert_eq!(timeless(&long.stdout)["compliant"], false);
    let both = bounded(&mut wp(&[
        "audit", "--policy", p, "--json", "--format", "table",
    ]));
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    // diff: a baseline without one of the listeners, so one "opened".
    let mut baseline: serde_json::Value = serde_json::from_slice(&snapshot_json()).unwrap();
    baseline["listeners"].as_array_mut().unwrap().pop().unwrap();
    let base = dir.path().join("base.json");
    fs::write(&base, serde_json::to_vec(&baseline).unwrap()).unwrap();
    let report = dir.path().join("diff.json");
    let o = bounded(&mut wp(&[
        "diff",
        arg(&base),
        "--format",
        "json",
        "-o",
        arg(&report),
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let d: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(d["opened"], 1, "{d}");
    // A diff that finds nothing exits 0 with -o too.
    let same = dir.path().join("same.json");
    fs::write(&same, snapshot_json()).unwrap();
    let o = bounded(&mut wp(&["diff", arg(&same), "-o", arg(&report)]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!fs::read(&report).unwrap().is_empty());
}

#[test]
fn audit_and_diff_o_refuse_a_symlink_to_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = deny_all(dir.path());
    let base = dir.path().join("base.json");
    fs::write(&base, snapshot_json()).unwrap();
    let real = dir.path().join("real");
    fs::write(&real, "keep me\n").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for args in [
        vec!["audit", "--policy", arg(&policy), "-o", arg(&link)],
        vec!["diff", arg(&base), "-o", arg(&link)],
    ] {
        let o = bounded(&mut wp(&args));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!(
                "whyport: cannot write {}: a symbolic link to a regular file",
                link.display()
            )),
            "{args:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{args:?}");
        assert_eq!(fs::read_link(&link).unwrap(), real);
        assert_eq!(fs::read_to_string(&real).unwrap(), "keep me\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4, "{args:?}");
    }
}

/// `man --dir` writes its pages through the same writer as `-o`, and the
/// directory itself is not followed when it is another user's link.
#[test]
fn man_dir_is_not_another_users_link() {
    let test = "man_dir_is_not_another_users_link";
    if !is_root() {
        return skip(
            test,
            Skip::NotRoot,
            "needs root to make a link of another uid",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    fs::create_dir(&target).unwrap();
    let link = dir.path().join("pages");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let o = bounded(&mut wp(&["man", "--dir", arg(&link)]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("symbolic link of uid 65534"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read_dir(&target).unwrap().count(),
        0,
        "nothing written there"
    );
    // root's own link, and a plain directory, are fine.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    let o = bounded(&mut wp(&["man", "--dir", arg(&link)]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 10);
}
