//! Logs: one provisioning cycle and an admin login against the real binary at debug level;
//! the log must not hold the token, the passwords, the session, or the mail of a filter,
//! and every request line must carry a request id and a status.
//!
//! A test a log format, not a test a check: the cycle (three `scimd` commands, a server
//! process, some twenty requests) is the expensive part, and every check reads its one log.

use std::time::Duration;

use serde_json::{json, Value};

use super::search_body;
use crate::helpers::{
    fresh_database, patch, user_body, Backend, Cli, CookieClient, Reply, ServeCommand,
};

/// What a cycle leaves: the server's log, what must not be in it, and the stderr of the
/// commands that set it up.
struct Cycle {
    log: String,
    json_logs: bool,
    secrets: Vec<(&'static str, String)>,
    stderr: Vec<(&'static str, String)>,
    token: String,
    password: String,
    user_id: String,
}

/// Requests to tenant `acme` of a served scimd, with a bearer of our choosing.
struct Tenant {
    client: awc::Client,
    url: String,
}

impl Tenant {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: &str,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let r = Reply::send(&self.client, method, &url, Some(bearer), body.as_ref()).await;
        (r.status.as_u16(), r.body)
    }
}

fn q(filter: &str) -> String {
    serde_urlencoded::to_string([("filter", filter)]).expect("encode")
}

/// Set up a tenant, a token and an admin with the command line, serve at debug level, run
/// the cycle and the logins, and collect the log.
async fn run_cycle(backend: &Backend, json_logs: bool) -> Cycle {
    let (url, _db) = fresh_database(backend);
    let cli = Cli::on(&url).log_level("debug");
    let tenant_err = cli.run_ok(&["tenant", "create", "acme"], None).stderr;
    let issued = cli.run_ok(
        &["token", "issue", "acme", "--days", "30", "--label", "entra"],
        None,
    );
    let (out, issue_err) = (issued.stdout, issued.stderr);
    let token = out.lines().last().expect("token line").trim().to_string();
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let admin_err = cli
        .run_ok(
            &["admin", "create", "acme", "alice", "--password-stdin"],
            Some(&format!("{password}\n")),
        )
        .stderr;
    let served = ServeCommand::new(&url)
        .flags(&["--workers", "1"])
        .log_level("debug")
        .json_logs(json_logs)
        .start()
        .await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let mail = format!("Secret.Mail.{unique}@Contoso.com");
    let tenant = Tenant {
        client: awc::Client::builder().disable_redirects().finish(),
        url: format!("{}/scim/v2/tenants/acme", served.base),
    };
    let user_id = provision(&tenant, &token, &mail, &format!("upn-{unique}@contoso.com")).await;
    let logins = admin_logins(CookieClient::new(&served.base), &password).await;

    // Let the last lines reach the file, then stop the server.
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let log = strip_ansi(&served.log());
    drop(served);

    let signature = token.rsplit('.').next().expect("signature").to_string();
    let payload = token.split('.').nth(1).expect("payload").to_string();
    let mut secrets = vec![
        ("the token", token.clone()),
        ("the token's signature", signature),
        ("the token's claims", payload),
        ("the admin password", password.clone()),
        ("a wrong password", logins.wrong_password),
        (
            "a username that is not one",
            logins
                .typed_in_username
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
        ("a forged log line", "FORGED failed admin login".to_string()),
        ("the mail of a filter", mail.to_lowercase()),
        (
            "the mail of a filter (percent-encoded)",
            serde_urlencoded::to_string([("m", &mail)]).unwrap()[2..].to_lowercase(),
        ),
        ("the mail's local part", format!("secret.mail.{unique}")),
    ];
    for s in logins.session {
        secrets.push(("a cookie", s));
    }
    Cycle {
        log,
        json_logs,
        secrets,
        stderr: vec![
            ("tenant create", tenant_err),
            ("token issue", issue_err),
            ("admin create", admin_err),
        ],
        token,
        password,
        user_id,
    }
}

/// Entra's cycle: Test Connection, match on mail, create, match again, deactivate, read,
/// delete; with refusals whose details quote the mail, and a tampered token. Returns the
/// user's id.
async fn provision(tenant: &Tenant, token: &str, mail: &str, user_name: &str) -> String {
    let random = q(&format!("userName eq \"{}\"", uuid::Uuid::new_v4()));
    let (status, _) = tenant
        .call("GET", &format!("/Users?{random}"), None, token)
        .await;
    assert_eq!(status, 200);
    let by_mail = q(&format!("emails[type eq \"work\"].value eq \"{mail}\""));
    let (status, body) = tenant
        .call("GET", &format!("/Users?{by_mail}"), None, token)
        .await;
    assert_eq!((status, body["totalResults"].as_i64()), (200, Some(0)));
    let (status, body) = tenant
        .call("POST", "/Users", Some(user_body(user_name, mail)), token)
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let (status, body) = tenant
        .call("GET", &format!("/Users?{by_mail}"), None, token)
        .await;
    assert_eq!((status, body["totalResults"].as_i64()), (200, Some(1)));
    let duplicate = user_body(&format!("dup-{user_name}"), mail);
    let (status, _) = tenant.call("POST", "/Users", Some(duplicate), token).await;
    assert_eq!(status, 409);
    let ops = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let user = format!("/Users/{id}");
    assert_eq!(tenant.call("PATCH", &user, Some(ops), token).await.0, 200);
    assert_eq!(tenant.call("GET", &user, None, token).await.0, 200);
    let search = search_body(&format!("emails.value eq \"{mail}\""));
    let (status, _) = tenant
        .call("POST", "/Users/.search", Some(search), token)
        .await;
    assert_eq!(status, 200);
    // Refusals whose details quote the input back to the client (which is what a client
    // needs) must not copy it into the log.
    let quoted = q(&format!("emails.value eq \"{mail}\" \"{mail}\""));
    let (status, body) = tenant
        .call("GET", &format!("/Users?{quoted}"), None, token)
        .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains(&mail.to_lowercase()),
        "{body}"
    );
    let ops = patch(json!([{"op": "replace", "path": "active", "value": mail}]));
    let (status, body) = tenant.call("PATCH", &user, Some(ops), token).await;
    assert_eq!(status, 400, "{body}");
    // A tampered token is refused (and the refusal is logged without it).
    let tampered = format!("{}x", &token[..token.len() - 1]);
    let by_mail = format!("/Users?{by_mail}");
    assert_eq!(tenant.call("GET", &by_mail, None, &tampered).await.0, 401);
    assert_eq!(tenant.call("DELETE", &user, None, token).await.0, 204);
    id
}

/// What the admin logins typed, and the session cookies they earned.
struct Logins {
    wrong_password: String,
    typed_in_username: String,
    session: Vec<String>,
}

/// Admin page: a wrong password, a password typed into the username field, then the right
/// one, then the tenant page.
async fn admin_logins(mut browser: CookieClient, password: &str) -> Logins {
    let wrong_password = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let page = browser.get("/admin").await;
    let page = browser
        .post(
            "/admin/login",
            &[
                ("csrf", &page.csrf()),
                ("username", "alice"),
                ("password", &wrong_password),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    // A password typed into the username field, with a newline that would forge a log line.
    let typed_in_username = format!(
        "typed-secret-{}\nFORGED failed admin login",
        uuid::Uuid::new_v4().simple()
    );
    let page = browser
        .post(
            "/admin/login",
            &[
                ("csrf", &page.csrf()),
                ("username", &typed_in_username),
                ("password", "whatever"),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    let page = browser
        .post(
            "/admin/login",
            &[
                ("csrf", &page.csrf()),
                ("username", "alice"),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "login with the right password");
    let session: Vec<String> = browser
        .cookies()
        .values()
        .filter(|v| v.len() >= 16)
        .cloned()
        .collect();
    assert_eq!(browser.get("/admin/t/acme").await.status, 200);
    Logins {
        wrong_password,
        typed_in_username,
        session,
    }
}

/// No secret in the server's log, and neither the token nor the password in the stderr of
/// the commands.
fn assert_no_secrets(c: &Cycle) {
    let lower = c.log.to_lowercase();
    for (what, secret) in &c.secrets {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{what} is in the server log ({}):\n{}",
            if c.json_logs { "json" } else { "text" },
            c.log
        );
    }
    for (what, stderr) in &c.stderr {
        assert!(
            !stderr.contains(&c.token) && !stderr.contains(&c.password),
            "scimd {what} logs a secret: {stderr}"
        );
    }
}

/// Request lines: one per request, each with a request id and the status; a refusal's kind
/// on its line but not its detail; route templates, not concrete paths with ids.
fn assert_request_lines(c: &Cycle) {
    let log = &c.log;
    let done: Vec<&str> = log.lines().filter(|l| l.contains("request done")).collect();
    assert!(
        done.len() >= 14,
        "expected a line per request, got {}:\n{log}",
        done.len()
    );
    for line in &done {
        if c.json_logs {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let span = &v["span"];
            let id = span["request_id"].as_str().unwrap_or_default();
            assert!(id.len() >= 8, "request id in {line}");
            assert!(
                v["fields"]["status"].is_u64()
                    || span["status"].is_string()
                    || span["status"].is_u64(),
                "status in {line}"
            );
            assert!(
                span["route"].is_string() && span["method"].is_string(),
                "route and method in {line}"
            );
        } else {
            let id = line
                .split("request_id=")
                .nth(1)
                .map(|s| s.split([' ', '}']).next().unwrap_or_default())
                .unwrap_or_default();
            assert!(id.len() >= 8, "request id in {line}");
            assert!(line.contains("status="), "status in {line}");
        }
    }
    assert!(
        done.iter()
            .any(|l| l.contains("invalidFilter") && l.contains("400")),
        "scimType on request lines:\n{log}"
    );
    assert!(
        !log.contains("Error encountered"),
        "error details are logged:\n{log}"
    );
    for status in ["200", "201", "204", "400", "401", "409", "303"] {
        assert!(
            done.iter().any(|l| l.contains(&format!("status={status}"))
                || l.contains(&format!("\"status\":{status}"))),
            "a request line with status {status}:\n{log}"
        );
    }
    assert!(
        !log.contains(&c.user_id) || !done.iter().any(|l| l.contains(&c.user_id)),
        "request lines carry the id instead of the route"
    );
}

/// The text without terminal colour sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The text log of a cycle: no secrets, and a complete line per request.
async fn text_log_holds_no_secrets_and_a_line_per_request(backend: Backend) {
    let cycle = run_cycle(&backend, false).await;
    assert_no_secrets(&cycle);
    assert_request_lines(&cycle);
}

/// The JSON log of a cycle: no secrets, and a complete line per request.
async fn json_log_holds_no_secrets_and_a_line_per_request(backend: Backend) {
    let cycle = run_cycle(&backend, true).await;
    assert_no_secrets(&cycle);
    assert_request_lines(&cycle);
}

crate::helpers::backend_tests!(
    text_log_holds_no_secrets_and_a_line_per_request,
    json_log_holds_no_secrets_and_a_line_per_request,
);
