//! sshd and PostgreSQL for the daemon lab: the two classic daemons that
//! need a little setup (a host key, a database cluster) in the lab's
//! temporary directory, never in /etc or /var.

use std::fs;
use std::path::PathBuf;

use super::lab::*;
use super::start::installed;
use crate::support::*;

/// sshd on 0.0.0.0:22 and [::]:22, with a host key made for the test.
pub(super) fn start_sshd(lab: &mut Lab) -> Option<u32> {
    let sshd = installed("sshd", "sshd")?;
    let keygen = installed("sshd", "ssh-keygen")?;
    let key = lab.path("ssh_host_ed25519_key");
    let out = run(std::process::Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // sshd insists on its privilege separation directory.
    fs::create_dir_all("/run/sshd").unwrap();
    let pid_file = lab.path("sshd.pid");
    lab.pid_files.push(pid_file.clone());
    let mut cmd = lab.exec(&sshd);
    cmd.arg("-h")
        .arg(&key)
        .arg("-f")
        .arg("/dev/null")
        .arg("-o")
        .arg(format!("PidFile={}", pid_file.display()))
        .args([
            "-o",
            "ListenAddress=0.0.0.0",
            "-o",
            "ListenAddress=::",
            "-p",
            "22",
        ]);
    lab.log_to(&mut cmd, "sshd");
    let logs = ["sshd.log"];
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "sshd: {:?}\n{}",
        out.status,
        lab.logs(&logs)
    );
    let pid = lab.wait_for_pid_file(&pid_file, "sshd", &logs);
    lab.wait_for("sshd", &[("tcp", "0.0.0.0", 22), ("tcp", "::", 22)], &logs);
    Some(pid)
}

/// The newest installed PostgreSQL server binary directory.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").exists() && b.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// PostgreSQL on 127.0.0.1:5432 and [::1]:5432, as the postgres user, with
/// a cluster made for the test. Returns the postmaster's pid.
pub(super) fn start_postgres(lab: &mut Lab) -> Option<u32> {
    let Some(bin) = postgres_bin() else {
        skip(
            "postgres",
            Skip::Tool("postgres"),
            "postgres is not installed",
        );
        return None;
    };
    let Some(setpriv) = find_program("setpriv") else {
        skip(
            "postgres",
            Skip::Tool("setpriv"),
            "setpriv is not installed",
        );
        return None;
    };
    let Some((uid, gid)) = user_ids("postgres") else {
        skip("postgres", Skip::Other, "no postgres user");
        return None;
    };
    let dir = lab.path("pg");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    let data = dir.join("data");
    let as_postgres = |program: PathBuf| {
        let mut cmd = lab.exec(&setpriv);
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        cmd
    };
    let mut init = as_postgres(bin.join("initdb"));
    init.arg("-D").arg(&data).args(["-A", "trust"]);
    lab.log_to(&mut init, "initdb");
    let out = run(&mut init);
    assert!(
        out.status.success(),
        "initdb: {:?}\n{}",
        out.status,
        lab.logs(&["initdb.log"])
    );
    let mut start = as_postgres(bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("postgres.log"))
        .arg("-o")
        .arg(format!(
            "-c listen_addresses=127.0.0.1,::1 -c port=5432 -k {}",
            dir.display()
        ))
        .arg("start");
    lab.log_to(&mut start, "pg_ctl");
    let out = run(&mut start);
    let logs = ["pg_ctl.log", "pg/postgres.log"];
    assert!(
        out.status.success(),
        "pg_ctl: {:?}\n{}",
        out.status,
        lab.logs(&logs)
    );
    let pid_file = data.join("postmaster.pid");
    lab.pid_files.push(pid_file.clone());
    let pid = lab.wait_for_pid_file(&pid_file, "postgres", &logs);
    lab.wait_for(
        "postgres",
        &[("tcp", "127.0.0.1", 5432), ("tcp", "::1", 5432)],
        &logs,
    );
    Some(pid)
}
