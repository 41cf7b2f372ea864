//! The kit's checks, written once and run per engine by `postgres.rs` and
//! `mariadb.rs`. Each test binary gets its own shared instance.

use std::fs;
use std::net::TcpStream;

use edge_testkit::{
    DbServer, Engine, ServerOptions, TestkitError, is_root, or_skip, unique_db_name,
};

/// The real uid of a process, from /proc.
fn uid_of(pid: u32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("server process status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    line.split_whitespace()
        .nth(1)
        .and_then(|uid| uid.parse().ok())
        .expect("numeric uid")
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !matches!(stat.rsplit(')').next().map(str::trim_start), Some(s) if s.starts_with('Z')))
}

/// The children of a single-threaded process.
fn children_of(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

fn accepts_tcp(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

pub fn shared_answers_select_1(engine: Engine) {
    edge_testkit::init_tracing();
    let Some(db) = engine.shared_or_skip() else {
        return;
    };
    assert_eq!(db.sql(db.default_db(), "select 1").expect("select 1"), "1");
    assert_eq!(db.host(), "127.0.0.1");
    assert!(db.data_dir().is_dir() && db.socket_dir().is_dir());
    let pid = db.pid().expect("shared server runs");
    if is_root() {
        assert_ne!(uid_of(pid), 0, "{engine} must not run as root");
    }
}

pub fn shared_is_one_instance(engine: Engine) {
    edge_testkit::init_tracing();
    let Some(first) = engine.shared_or_skip() else {
        return;
    };
    let second = std::thread::spawn(move || engine.shared())
        .join()
        .expect("thread");
    assert!(std::ptr::eq(first, second));
    assert_eq!(first.port(), second.port());
}

pub fn wrong_password_is_rejected(engine: Engine, server_says: &str) {
    edge_testkit::init_tracing();
    let Some(db) = engine.shared_or_skip() else {
        return;
    };
    let err = db
        .sql_as(db.user(), "not-the-password", db.default_db(), "select 1")
        .expect_err("a wrong password must not log in");
    let TestkitError::CommandFailed { output, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert!(output.contains(server_says), "{output}");
    // And the right one works over the same path.
    db.sql_as(db.user(), db.password(), db.default_db(), "select 1")
        .expect("right password");
}

pub fn databases_and_urls(engine: Engine, url_prefix: &str, url_suffix: &str) {
    edge_testkit::init_tracing();
    let Some(db) = engine.shared_or_skip() else {
        return;
    };
    let name = unique_db_name("Kit-Test");
    assert!(name.starts_with("kit_test_"), "{name}");
    assert_ne!(name, unique_db_name("Kit-Test"));
    db.create_database(&name).expect("create database");
    db.sql(&name, "create table t (v int)")
        .expect("create table in the new database");
    assert!(
        db.create_database(&name).is_err(),
        "creating it twice is an error"
    );
    assert!(matches!(
        db.create_database("x; drop"),
        Err(TestkitError::InvalidDatabaseName { .. })
    ));
    let expected = format!("{url_prefix}127.0.0.1:{}{url_suffix}", db.port());
    assert_eq!(db.url("DB"), expected);
}

fn count_rows(db: &DbServer, name: &str) -> String {
    db.sql(name, "select count(*) from kept")
        .expect("table survives")
}

/// A dedicated instance with options; stop/start, restart and kill/start keep
/// the port and the data.
pub fn dedicated_lifecycle(engine: Engine, show_fsync: &str, show_max_connections: &str) {
    edge_testkit::init_tracing();
    let opts = ServerOptions::default()
        .with_fsync(true)
        .with_setting("max_connections", "42");
    let Some(mut db) = or_skip(&engine.to_string(), engine.start(opts)) else {
        return;
    };
    let port = db.port();
    let dir = db.dir().to_path_buf();
    assert_eq!(db.sql(db.default_db(), show_fsync).expect("fsync"), "1");
    assert_eq!(
        db.sql(db.default_db(), show_max_connections)
            .expect("max_connections"),
        "42"
    );

    let name = unique_db_name("lifecycle");
    db.create_database(&name).expect("create database");
    db.sql(&name, "create table kept (v int)")
        .expect("create table");
    db.sql(&name, "insert into kept values (1), (2)")
        .expect("insert");

    db.stop().expect("stop");
    assert_eq!(db.pid(), None);
    assert!(!accepts_tcp(port), "stopped server still listens");
    db.stop().expect("stop twice is a no-op");
    db.start().expect("start again");
    assert!(matches!(
        db.start(),
        Err(TestkitError::AlreadyRunning { .. })
    ));
    assert_eq!(db.port(), port);
    assert_eq!(count_rows(&db, &name), "2");

    db.restart().expect("restart");
    assert_eq!(count_rows(&db, &name), "2");

    let pid = db.pid().expect("running");
    let children = children_of(pid);
    db.kill().expect("kill");
    assert!(!alive(pid), "killed server is gone");
    for child in children {
        assert!(!alive(child), "child {child} of the killed server is gone");
    }
    db.start().expect("start after kill");
    assert_eq!(db.port(), port);
    assert_eq!(count_rows(&db, &name), "2");

    drop(db);
    assert!(!dir.exists(), "drop deletes the instance directory");
    assert!(!accepts_tcp(port), "drop stops the server");
}
