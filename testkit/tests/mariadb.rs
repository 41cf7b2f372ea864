//! The kit against MariaDB (see `common`).

mod common;

use edge_testkit::Engine::MariaDb;

#[test]
fn shared_answers_select_1() {
    common::shared_answers_select_1(MariaDb);
}

#[test]
fn shared_is_one_instance() {
    common::shared_is_one_instance(MariaDb);
}

#[test]
fn wrong_password_is_rejected() {
    common::wrong_password_is_rejected(MariaDb, "Access denied for user 'edge'@'127.0.0.1'");
}

#[test]
fn databases_and_urls() {
    common::databases_and_urls(MariaDb, "mysql://edge:edge-test-pw@tcp(", ")/DB");
}

#[test]
fn dedicated_lifecycle() {
    common::dedicated_lifecycle(
        MariaDb,
        "select @@innodb_flush_log_at_trx_commit",
        "select @@max_connections",
    );
}
