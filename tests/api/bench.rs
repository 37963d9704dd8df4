//! `scimd-bench` end to end: it starts its own scimd (the one built beside it), runs every
//! phase of an Entra cycle against it without errors, reports each operation, and stops the
//! server it started.

use std::process::Command;

use crate::helpers::Backend;

/// Run a small bench on `backend` and check its report and that its server is gone (no
/// process serves with `server_marker` of the kept database in its command line); returns
/// that marker. The kept directory is removed.
fn bench_runs_every_phase(backend: &[&str], server_marker: fn(&str) -> String) -> String {
    let users = 40;
    let out = Command::new(env!("CARGO_BIN_EXE_scimd-bench"))
        .args([
            "--users",
            &users.to_string(),
            "--concurrency",
            "4",
            "--keep",
        ])
        .args(backend)
        .output()
        .expect("run scimd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for operation in [
        "match (GET filter mail)",
        "create (POST /Users)",
        "match existing (filter)",
        "GET /Users/{id}",
        "PATCH (Entra dialect)",
        "group member add (PATCH)",
        "deactivate (PATCH active)",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(operation))
            .unwrap_or_else(|| panic!("no row for {operation}:\n{stdout}"));
        let figures: Vec<&str> = row[operation.len()..].split_whitespace().collect();
        // requests, req/s, p50, p99, errors, then CPU columns.
        assert_eq!(figures[0], users.to_string(), "{row}");
        assert_eq!(figures[4], "0", "errors in {row}");
        let rate: f64 = figures[1].parse().expect("req/s");
        assert!(rate > 0.0, "{row}");
    }
    assert!(stdout.contains("server RSS at end:"), "{stdout}");

    let kept = stdout
        .lines()
        .find_map(|l| l.strip_prefix("database kept: "))
        .expect("kept database");
    let marker = server_marker(kept);
    let running: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker) && c.contains(" serve"))
        .collect();
    assert!(
        running.is_empty(),
        "the bench left its server running: {running:?}"
    );
    if let Some((_, dir)) = kept.rsplit_once(" (") {
        let _ = std::fs::remove_dir_all(dir.trim_end_matches(')'));
    }
    marker
}

/// On SQLite its database is a file of its own; on PostgreSQL a schema of its own, in the
/// database of `--postgres-url`.
async fn bench_runs_every_phase_and_stops_its_server(backend: Backend) {
    let Backend::Postgres(url) = backend else {
        // "sqlite:///tmp/.tmpXXXX/bench.db (/tmp/.tmpXXXX)": the database file's path.
        bench_runs_every_phase(&[], |kept| {
            kept.split_whitespace()
                .next()
                .unwrap_or(kept)
                .trim_start_matches("sqlite://")
                .to_string()
        });
        return;
    };
    // "postgres://…&options=-csearch_path%3Dbench_<uuid> (/tmp/.tmpXXXX)": the schema.
    let schema =
        bench_runs_every_phase(&["--backend", "postgres", "--postgres-url", &url], |kept| {
            kept.split("search_path%3D")
                .nth(1)
                .and_then(|s| s.split([' ', '&']).next())
                .unwrap_or(kept)
                .to_string()
        });
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(&url).expect("connect");
    diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut conn)
        .expect("drop schema");
}

crate::helpers::backend_tests!(bench_runs_every_phase_and_stops_its_server);
