//! The kit against PostgreSQL (see `common`).

mod common;

use edge_testkit::Engine::Postgres;

#[test]
fn shared_answers_select_1() {
    common::shared_answers_select_1(Postgres);
}

#[test]
fn shared_is_one_instance() {
    common::shared_is_one_instance(Postgres);
}

#[test]
fn wrong_password_is_rejected() {
    common::wrong_password_is_rejected(
        Postgres,
        "password authentication failed for user \"edge\"",
    );
}

#[test]
fn databases_and_urls() {
    common::databases_and_urls(
        Postgres,
        "postgres://edge:edge-test-pw@",
        "/DB?sslmode=disable",
    );
}

#[test]
fn dedicated_lifecycle() {
    common::dedicated_lifecycle(
        Postgres,
        "select (current_setting('fsync') = 'on')::int",
        "show max_connections",
    );
}
