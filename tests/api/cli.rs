//! The command line contract: `tenant create` prints the Tenant URL, `token issue` prints
//! the token alone on the last line, `token list` and `token revoke` manage tokens.

use crate::helpers::{fresh_database, start_server, Backend, Cli, ServeCommand};

/// A command on `database_url`, as an operator runs it behind a public URL: (ok, stdout,
/// stderr).
fn scimd(database_url: &str, args: &[&str]) -> (bool, String, String) {
    Cli::on(database_url)
        .public_url("https://scim.example.com")
        .run(args)
        .into_parts()
}

async fn tenant_and_token_commands(backend: Backend) {
    let (url, _dir) = fresh_database(&backend);
    let (ok, out, err) = scimd(&url, &["tenant", "create", "acme"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "https://scim.example.com/scim/v2/tenants/acme");
    let (ok, _, err) = scimd(&url, &["tenant", "create", "acme"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = scimd(&url, &["tenant", "create", "Not A Slug"]);
    assert!(!ok && err.contains("slug"), "{err}");

    let (ok, out, err) = scimd(
        &url,
        &["token", "issue", "acme", "--days", "30", "--label", "entra"],
    );
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap().trim().to_string();
    assert_eq!(
        token.split('.').count(),
        3,
        "a JWT alone on the last line: {out}"
    );
    let (ok, _, err) = scimd(&url, &["token", "issue", "acme", "--days", "0"]);
    assert!(!ok && err.contains("between 1 and 365"), "{err}");

    let (ok, out, _) = scimd(&url, &["token", "list", "acme"]);
    assert!(ok);
    let row = out
        .lines()
        .find(|l| l.contains("entra"))
        .expect("token listed");
    assert!(row.ends_with("valid") && row.contains("never"), "{row}");
    let jti = row.split('\t').next().unwrap().to_string();

    // The issued token works against a server on the same database, until revoked.
    let app = start_server(&url, |_| {});
    let probe = format!(
        "{}/scim/v2/tenants/acme/Users?filter=userName+eq+%22x%22",
        app.base
    );
    let status = |t: String| {
        let client = awc::Client::default();
        let probe = probe.clone();
        async move {
            client
                .get(probe)
                .insert_header(("Authorization", format!("Bearer {t}")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(token.clone()).await, 200);
    let (ok, out, err) = scimd(&url, &["token", "revoke", &jti]);
    assert!(ok && out.contains("revoked"), "{err}");
    // Refused within a second: a running scimd re-reads a token's record once a second.
    let refused_by = std::time::Instant::now()
        + app.state.service.store.recheck_interval()
        + std::time::Duration::from_millis(100);
    loop {
        let s = status(token.clone()).await;
        if s == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < refused_by,
            "a revoked token still works: {s}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, out, _) = scimd(&url, &["token", "list", "acme"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&jti) && l.ends_with("revoked")),
        "{out}"
    );
    let (ok, _, err) = scimd(&url, &["token", "revoke", "no-such-token"]);
    assert!(!ok && err.contains("no token"), "{err}");
}

/// Start `scimd serve` on `url`, wait until it is ready, stop it: what it wrote to stderr.
async fn serve_and_stop(url: &str) -> String {
    let mut served = ServeCommand::new(url).log_level("info").start().await;
    served.process.kill();
    served.log()
}

/// `serve` on an empty database says what to do next.
async fn first_start_prints_next_steps(backend: Backend) {
    let (url, _dir) = fresh_database(&backend);
    let err = serve_and_stop(&url).await;
    assert!(
        err.contains("scimd tenant create") && err.contains("scimd token issue"),
        "{err}"
    );
}

crate::helpers::backend_tests!(tenant_and_token_commands, first_start_prints_next_steps);

/// On PostgreSQL, `serve` warns at start exactly when the server's autovacuum is off (its
/// kept plans then never see statistics).
async fn serve_warns_when_postgres_autovacuum_is_off(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        autovacuum: String,
    }
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(&url).expect("connect");
    let autovacuum = diesel::sql_query("SHOW autovacuum")
        .get_result::<Setting>(&mut conn)
        .expect("SHOW")
        .autovacuum;
    let err = serve_and_stop(&url).await;
    assert_eq!(
        err.contains("autovacuum is off"),
        autovacuum == "off",
        "autovacuum {autovacuum}: {err}"
    );
}

crate::helpers::postgres_tests!(serve_warns_when_postgres_autovacuum_is_off);

/// A first start on an empty database prints next steps that work as typed: the program
/// as it was invoked, then `tenant create` and `token issue`.
async fn first_start_prints_runnable_next_steps(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let err = serve_and_stop(&url).await;
    let me = env!("CARGO_BIN_EXE_scimd");
    assert!(err.contains(&format!("{me} tenant create acme")), "{err}");
    assert!(
        err.contains(&format!("{me} token issue acme --days 90")),
        "{err}"
    );
}

/// Each command's `--help` lists what that command uses: the server's flags only on `serve`,
/// every argument with a description, and the defaults README gives.
#[test]
fn help_lists_each_commands_own_flags() {
    crate::helpers::run(crate::helpers::Machine::Shared, async {
        let help = |args: &[&str]| {
            let mut all = args.to_vec();
            all.push("--help");
            let out = Cli::bare().run(&all);
            assert!(out.ok, "{args:?}: {}", out.stderr);
            out.stdout
        };
        let serve = help(&["serve"]);
        for flag in [
            "--bind",
            "--workers",
            "--tls-cert",
            "--metrics-bind",
            "--database-url",
        ] {
            assert!(serve.contains(flag), "serve --help lacks {flag}:\n{serve}");
        }
        assert!(serve.contains("two per core on PostgreSQL"), "{serve}");
        for command in [
            &["tenant", "create"][..],
            &["token", "issue"],
            &["token", "revoke"],
            &["field", "add"],
            &["admin", "create"],
            &["events"],
            &["purge"],
        ] {
            let text = help(command);
            assert!(text.contains("--database-url"), "{command:?}:\n{text}");
            for flag in ["--bind", "--workers", "--rate-limit-tenant", "--tls-cert"] {
                assert!(
                    !text.contains(flag),
                    "{command:?} --help lists {flag}:\n{text}"
                );
            }
            // Every positional argument says what it is.
            let arguments = text.split("Arguments:").nth(1).unwrap_or("");
            for line in arguments.lines().take_while(|l| !l.trim().is_empty()) {
                let described = line.trim().split_once("  ").map(|(_, d)| d.trim());
                assert!(
                    described.is_some_and(|d| !d.is_empty()),
                    "{command:?}: {line:?}"
                );
            }
        }
        assert!(help(&["field", "list"]).contains("within a second"));
        // A server flag given to another command is an error, not silently ignored.
        let out = Cli::bare().run(&["tenant", "list", "--bind", "0.0.0.0:1"]);
        assert!(!out.ok && out.stderr.contains("--bind"), "{}", out.stderr);
    });
}

crate::helpers::sqlite_tests!(first_start_prints_runnable_next_steps);
