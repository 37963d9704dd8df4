//! Tells the tests, at build time, whether PostgreSQL is there to test against: the
//! PostgreSQL variants of the integration tests are then run, or listed as ignored
//! ("skipped") instead of passing without testing anything. With `CI` set they always run,
//! and fail when `SCIMD_TEST_POSTGRES_URL` is missing.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(scimd_test_postgres)");
    println!("cargo::rerun-if-env-changed=SCIMD_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set("SCIMD_TEST_POSTGRES_URL") || set("CI") {
        println!("cargo::rustc-cfg=scimd_test_postgres");
    }
}
