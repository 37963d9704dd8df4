//! Tells the tests, at build time, what they can run against, so that a test that cannot run
//! is listed as ignored ("skipped") instead of passing without testing anything:
//! - `scimd_test_postgres`: PostgreSQL is there (`SCIMD_TEST_POSTGRES_URL`): the PostgreSQL
//!   variants of the integration tests run. With `CI` set they always run, and fail when
//!   `SCIMD_TEST_POSTGRES_URL` is missing.
//! - `scimd_test_pg_ctl`: `SCIMD_TEST_PG_CTL` names the cluster's control command, so the
//!   test that stops and starts PostgreSQL runs.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(scimd_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(scimd_test_pg_ctl)");
    println!("cargo::rerun-if-env-changed=SCIMD_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=SCIMD_TEST_PG_CTL");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set("SCIMD_TEST_POSTGRES_URL") || set("CI") {
        println!("cargo::rustc-cfg=scimd_test_postgres");
    }
    if set("SCIMD_TEST_PG_CTL") {
        println!("cargo::rustc-cfg=scimd_test_pg_ctl");
    }
}
