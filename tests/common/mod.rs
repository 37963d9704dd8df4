//! Test harness: the real scimd on a random port with a fresh database (a SQLite file, or a
//! PostgreSQL schema of its own), and a small SCIM client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic: that is how they fail
#![allow(dead_code)]

use std::net::TcpListener;

use awc::http::StatusCode;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

use scimd::app::{self, AppState};
use scimd::config::Settings;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `SCIMD_TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Backend> {
        std::env::var("SCIMD_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }

    /// [`Backend::postgres`], saying on stderr that `test` is skipped when it is not set;
    /// with `CI` set a missing PostgreSQL is a failure, not a skip.
    pub fn postgres_or_skip(test: &str) -> Option<Backend> {
        let backend = Backend::postgres();
        if backend.is_none() {
            assert!(
                std::env::var("CI").map_or(true, |v| v.is_empty()),
                "CI is set but SCIMD_TEST_POSTGRES_URL is not: {test} cannot run"
            );
            eprintln!("skipped: SCIMD_TEST_POSTGRES_URL is not set, so {test} does not run");
        }
        backend
    }
}

/// Generate a SQLite and a PostgreSQL variant of each `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                // Built without SCIMD_TEST_POSTGRES_URL (or CI): listed as ignored, i.e. skipped.
                #[actix_web::test]
                #[cfg_attr(not(scimd_test_postgres), ignore = "skipped: SCIMD_TEST_POSTGRES_URL is not set")]
                async fn $name() {
                    if let Some(b) = $crate::common::Backend::postgres_or_skip(stringify!($name)) {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

/// A process the test started (a `scimd serve`): killed and reaped when dropped, so a failing
/// test leaves no server running.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Owns a test database: removes the SQLite directory or the PostgreSQL schema on drop.
pub struct DbGuard {
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema {
            // Best effort: a leftover schema is harmless, only untidy.
            if let Ok(mut conn) = PgConnection::establish(base) {
                let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn);
            }
        }
    }
}

/// A fresh database URL for one test, and the guard that removes it.
pub fn fresh_database(backend: &Backend) -> (String, DbGuard) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("scimd.db").display());
            (
                url,
                DbGuard {
                    _dir: Some(dir),
                    schema: None,
                },
            )
        }
        Backend::Postgres(base) => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                PgConnection::establish(base).expect("connect to SCIMD_TEST_POSTGRES_URL");
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            (
                url,
                DbGuard {
                    _dir: None,
                    schema: Some((base.clone(), schema)),
                },
            )
        }
    }
}

/// A running scimd with one tenant (`acme`) and a valid token for it.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub database_url: String,
    pub token: String,
    pub client: awc::Client,
    _db: DbGuard,
}

/// A response: status, headers we care about, and the JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub www_authenticate: Option<String>,
}

impl Reply {
    /// Assert the status, showing the body when it is wrong.
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Assert a SCIM error with this status and scimType, and a detail that mentions `needle`.
    pub fn expect_error(self, status: u16, scim_type: Option<&str>, needle: &str) -> Reply {
        let r = self.expect(status);
        assert_eq!(
            r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            r.body
        );
        assert_eq!(r.body["status"], status.to_string(), "{}", r.body);
        match scim_type {
            Some(t) => assert_eq!(r.body["scimType"], t, "{}", r.body),
            None => assert!(r.body.get("scimType").is_none(), "{}", r.body),
        }
        let detail = r.body["detail"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            detail.contains(&needle.to_lowercase()),
            "detail {detail:?} should mention {needle:?}"
        );
        r
    }
}

impl TestApp {
    /// Start scimd on a random port with a fresh database.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Start scimd with adjusted settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let (database_url, dir) = fresh_database(&backend);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut settings = Settings {
            bind: format!("127.0.0.1:{port}"),
            database_url: Some(database_url.clone()),
            public_url: Some(format!("http://127.0.0.1:{port}")),
            pool_size: 4,
            workers: Some(2),
            ..Settings::default()
        };
        adjust(&mut settings);
        let state = AppState::open(settings).expect("open app state");
        let token = state
            .service
            .store
            .write_blocking(|conn| {
                let tenant = scimd::store::tenants::create_tenant(conn, "acme", "Acme")?;
                state.service.keys.issue(conn, &tenant, 90, "test")
            })
            .expect("tenant and token")
            .0;
        let server = app::run(listener, state.clone()).expect("run server");
        actix_web::rt::spawn(server);
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            state,
            database_url,
            token,
            client,
            _db: dir,
        }
    }

    /// The SCIM base URL of a tenant.
    pub fn tenant_url(&self, slug: &str) -> String {
        format!("{}/scim/v2/tenants/{slug}", self.base)
    }

    /// Create another tenant and a token for it.
    pub fn add_tenant(&self, slug: &str) -> String {
        self.state
            .service
            .store
            .write_blocking(|conn| {
                let tenant = scimd::store::tenants::create_tenant(conn, slug, slug)?;
                self.state.service.keys.issue(conn, &tenant, 90, "")
            })
            .expect("tenant and token")
            .0
    }

    /// Send a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        let mut resp = match body {
            Some(b) => req
                .insert_header(("Content-Type", "application/scim+json"))
                .send_body(b.to_string())
                .await
                .expect("request"),
            None => req.send().await.expect("request"),
        };
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let etag = header("etag");
        let content_type = header("content-type");
        let www_authenticate = header("www-authenticate");
        let bytes = resp.body().limit(64 * 1024 * 1024).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status: resp.status(),
            body,
            location,
            etag,
            content_type,
            www_authenticate,
        }
    }

    /// A request to tenant `acme` with its token; `path` is relative to the tenant URL.
    pub async fn scim(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.tenant_url("acme"));
        self.send(method, &url, Some(&self.token), body.as_ref())
            .await
    }

    /// GET /Users with a filter (URL-encoded here, as Entra does).
    pub async fn filter_users(&self, filter: &str) -> Reply {
        let q = serde_urlencoded::to_string([("filter", filter)]).expect("encode");
        self.scim("GET", &format!("/Users?{q}"), None).await
    }

    /// GET /Groups with a filter (URL-encoded).
    pub async fn filter_groups(&self, filter: &str) -> Reply {
        let q = serde_urlencoded::to_string([("filter", filter)]).expect("encode");
        self.scim("GET", &format!("/Groups?{q}"), None).await
    }

    /// POST a user built by [`user_body`]; returns its id.
    pub async fn create_user(&self, user_name: &str, mail: &str) -> String {
        let r = self
            .scim("POST", "/Users", Some(user_body(user_name, mail)))
            .await
            .expect(201);
        r.body["id"].as_str().expect("id").to_string()
    }
}

/// A user as Entra's provisioning service POSTs it.
pub fn user_body(user_name: &str, mail: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("{user_name} Display"),
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "emails": [{"primary": true, "type": "work", "value": mail}],
        "meta": {"resourceType": "User"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"}
    })
}

/// A PatchOp body.
pub fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// What a `scimd` command printed.
pub struct CliOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run the `scimd` binary on a database, with optional standard input and a log level.
pub fn run_cli(
    database_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    log_level: &str,
) -> CliOutput {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", database_url])
        .args(args)
        .env("RUST_LOG", log_level)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scimd");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("scimd output");
    CliOutput {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Create tenant `acme` and a token for it directly in a database that a separately started
/// scimd process will serve; returns the token.
pub fn seed_tenant(database_url: &str) -> String {
    let settings = Settings {
        database_url: Some(database_url.to_string()),
        pool_size: 1,
        ..Settings::default()
    };
    let state = AppState::open(settings).expect("open database");
    state
        .service
        .store
        .write_blocking(|conn| {
            let tenant = scimd::store::tenants::create_tenant(conn, "acme", "acme")?;
            state.service.keys.issue(conn, &tenant, 1, "")
        })
        .expect("tenant and token")
        .0
}

/// Create an admin of the token page: of tenant `slug`, or an operator when None.
pub fn create_admin(app: &TestApp, slug: Option<&str>, user: &str, password: &str) {
    let hash = scimd::auth::password::hash_password(password).expect("hash");
    app.state
        .service
        .store
        .write_blocking(|conn| {
            let tenant_id = match slug {
                Some(s) => Some(
                    scimd::store::tenants::find_tenant_by_slug(conn, s)?
                        .expect("tenant")
                        .id,
                ),
                None => None,
            };
            scimd::store::admins::create_admin(
                conn,
                tenant_id.as_deref(),
                user,
                &hash,
                slug.is_none(),
            )?;
            Ok::<_, scimd::scim::error::ScimError>(())
        })
        .expect("create admin");
}

impl TestApp {
    /// Start another scimd instance on this app's database (as behind a load balancer);
    /// returns its base URL. It runs until the test ends.
    pub async fn spawn_sibling(&self, adjust: impl FnOnce(&mut Settings)) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut settings = Settings {
            bind: format!("127.0.0.1:{port}"),
            database_url: Some(self.database_url.clone()),
            public_url: Some(format!("http://127.0.0.1:{port}")),
            pool_size: 4,
            workers: Some(2),
            ..Settings::default()
        };
        adjust(&mut settings);
        let state = AppState::open(settings).expect("open app state");
        let server = app::run(listener, state).expect("run server");
        actix_web::rt::spawn(server);
        format!("http://127.0.0.1:{port}")
    }
}
