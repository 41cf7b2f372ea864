//! Nothing outlives the test process: this binary re-runs itself (the ignored
//! `child` test, steered by `EDGE_TESTKIT_CHILD`) and checks what the child
//! left behind after it panicked or was killed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use edge_testkit::{ChildGuard, Engine, ServerOptions, or_skip, remove_stale_instances};

const MODE_VAR: &str = "EDGE_TESTKIT_CHILD";

/// Runs in the child process: starts servers, reports them as
/// `SERVER <pid> <dir>` lines, then panics (`panic-*`) or hangs (`hang-*`).
#[test]
#[ignore = "helper: run by the other tests of this file in a child process"]
fn child() {
    let Ok(mode) = std::env::var(MODE_VAR) else {
        return;
    };
    let engine = if mode.ends_with("mariadb") {
        Engine::MariaDb
    } else {
        Engine::Postgres
    };
    let shared = engine.shared();
    println!(
        "SERVER {} {}",
        shared.pid().expect("running"),
        shared.dir().display()
    );
    if mode.starts_with("panic") {
        // A dedicated handle that is never dropped: only the exit hook can clean it.
        let leaked = engine
            .start(ServerOptions::default())
            .expect("dedicated instance");
        println!(
            "SERVER {} {}",
            leaked.pid().expect("running"),
            leaked.dir().display()
        );
        std::mem::forget(leaked);
        panic!("the child test fails on purpose");
    }
    println!("READY");
    thread::sleep(Duration::from_secs(600));
}

struct Server {
    pid: u32,
    dir: PathBuf,
}

/// Starts `child` in a new process with `mode`; stdout is piped.
fn spawn_child(mode: &str) -> ChildGuard {
    let mut cmd = Command::new(std::env::current_exe().expect("own test binary"));
    cmd.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(MODE_VAR, mode)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    ChildGuard::spawn(cmd).expect("spawn the child test process")
}

/// Reads `SERVER` lines until `READY` or the end of the output.
fn read_servers(child: &mut ChildGuard) -> Vec<Server> {
    let stdout = child
        .child_mut()
        .and_then(|c| c.stdout.take())
        .expect("piped stdout");
    let mut servers = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        // libtest may print `test child ... ` in front of the first line.
        if line.ends_with("READY") {
            break;
        }
        if let Some((_, rest)) = line.split_once("SERVER ") {
            let (pid, dir) = rest.split_once(' ').expect("SERVER <pid> <dir>");
            servers.push(Server {
                pid: pid.parse().expect("pid"),
                dir: dir.into(),
            });
        }
    }
    servers
}

/// A process that is absent or a zombie (its parent, the dead child test
/// process, can no longer reap it) is gone.
fn gone(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone(pid) {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

fn servers_removed_after_a_panicking_test(engine: Engine, mode: &str) {
    // Skip (without root) or fail (as root) here if the engine is missing.
    if or_skip(&engine.to_string(), engine.check_installed()).is_none() {
        return;
    }
    let mut child = spawn_child(mode);
    let servers = read_servers(&mut child);
    let status = child
        .child_mut()
        .expect("child")
        .wait()
        .expect("wait for the child");
    assert!(!status.success(), "the child test must fail");
    assert_eq!(servers.len(), 2, "shared and dedicated instance reported");
    for server in servers {
        assert!(
            gone(server.pid),
            "server {} outlived the test process",
            server.pid
        );
        assert!(
            !server.dir.exists(),
            "{} outlived the test process",
            server.dir.display()
        );
    }
}

#[test]
fn postgres_is_removed_after_a_panicking_test() {
    servers_removed_after_a_panicking_test(Engine::Postgres, "panic-postgres");
}

#[test]
fn mariadb_is_removed_after_a_panicking_test() {
    servers_removed_after_a_panicking_test(Engine::MariaDb, "panic-mariadb");
}

#[test]
fn server_dies_with_a_killed_test_process_and_its_dir_is_collected() {
    if or_skip("PostgreSQL", Engine::Postgres.check_installed()).is_none() {
        return;
    }
    let mut child = spawn_child("hang-postgres");
    let servers = read_servers(&mut child);
    assert_eq!(servers.len(), 1, "shared instance reported");
    drop(child); // SIGKILL: no exit hook runs, only PDEATHSIG.
    let server = &servers[0];
    assert!(
        wait_gone(server.pid),
        "server {} outlived a SIGKILLed test process",
        server.pid
    );
    assert!(
        server.dir.exists(),
        "nothing could delete the directory yet"
    );
    // The killed postmaster leaves its System V segment ("<key> <shmid>", line 7).
    let pidfile = fs::read_to_string(server.dir.join("data/postmaster.pid")).expect("pid file");
    let segment = pidfile.lines().nth(6).expect("line 7").to_owned();
    remove_stale_instances().expect("stale removal");
    assert!(
        !server.dir.exists(),
        "stale dir {} remains",
        server.dir.display()
    );
    let segments = fs::read_to_string("/proc/sysvipc/shm").expect("/proc/sysvipc/shm");
    let same = |line: &str| {
        line.split_whitespace()
            .take(2)
            .eq(segment.split_whitespace())
    };
    assert!(
        !segments.lines().any(same),
        "shared memory {segment:?} was not freed"
    );
}
