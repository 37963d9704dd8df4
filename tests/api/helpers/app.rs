//! The real scimd in the test's process: on a random port, with a fresh database (a SQLite
//! file, or a PostgreSQL schema of its own), one tenant and its token; and a small SCIM
//! client.

use std::net::TcpListener;

use awc::http::StatusCode;
use serde_json::{json, Value};

use scimd::app::{self, AppState};
use scimd::config::Settings;

use super::{fresh_database, Backend, Cli, CookieClient, DbGuard};

/// A running scimd with one tenant (`acme`) and a valid token for it.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub database_url: String,
    pub token: String,
    pub client: awc::Client,
    _db: DbGuard,
}

/// A scimd serving in this process, on a port of its own.
pub struct Server {
    pub base: String,
    pub state: AppState,
}

/// Start scimd on a random port of 127.0.0.1, serving `database_url` (4 connections, 2
/// workers unless `adjust` says otherwise). It runs on the test's runtime, until the test
/// ends.
pub fn start_server(database_url: &str, adjust: impl FnOnce(&mut Settings)) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut settings = Settings {
        bind: format!("127.0.0.1:{port}"),
        database_url: Some(database_url.to_string()),
        public_url: Some(format!("http://127.0.0.1:{port}")),
        pool_size: 4,
        workers: Some(2),
        ..Settings::default()
    };
    adjust(&mut settings);
    let state = AppState::open(settings).expect("open app state");
    scimd::webhooks::start_sender(
        state.service.clone(),
        state.settings.webhook_first_retry_ms,
        state.settings.webhook_allow_private,
    );
    scimd::service::connection::start_monitor(state.service.clone());
    let urls = state.settings.clone();
    scimd::service::roles::start_worker(
        state.service.clone(),
        std::sync::Arc::new(move |slug: &str| urls.tenant_url(slug)),
    );
    let server = app::run(listener, state.clone()).expect("run server");
    actix_web::rt::spawn(server);
    Server {
        base: format!("http://127.0.0.1:{port}"),
        state,
    }
}

/// Create tenant `slug` and a token for it; the token.
fn issue_tenant(state: &AppState, slug: &str, name: &str, days: i64, label: &str) -> String {
    state
        .service
        .store
        .write_blocking(|conn| {
            let tenant = scimd::store::tenants::create_tenant(conn, slug, name)?;
            state.service.keys.issue(conn, &tenant, days, label)
        })
        .expect("tenant and token")
        .0
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
    issue_tenant(&state, "acme", "acme", 1, "")
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
    pub retry_after: Option<String>,
}

impl Reply {
    /// A reply from its status, headers and body bytes (JSON, else the text as a string).
    pub fn of(status: u16, headers: &awc::http::header::HeaderMap, bytes: &[u8]) -> Reply {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Reply {
            status: StatusCode::from_u16(status).expect("status"),
            body: Reply::parse_body(bytes),
            location: header("location"),
            etag: header("etag"),
            content_type: header("content-type"),
            www_authenticate: header("www-authenticate"),
            retry_after: header("retry-after"),
        }
    }

    /// A body as JSON; Null when empty, a string when it is not JSON.
    pub fn parse_body(bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
        }
    }

    /// Send a request through `client` with an optional bearer token and JSON body.
    pub async fn send(
        client: &awc::Client,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(method, url);
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
        let bytes = resp.body().limit(64 * 1024 * 1024).await.expect("body");
        Reply::of(resp.status().as_u16(), resp.headers(), &bytes)
    }

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
        let (database_url, db) = fresh_database(&backend);
        let Server { base, state } = start_server(&database_url, adjust);
        let token = issue_tenant(&state, "acme", "Acme", 90, "test");
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        TestApp {
            base,
            database_url: state.settings.database_url.clone().unwrap_or(database_url),
            state,
            token,
            client,
            _db: db,
        }
    }

    /// Start another scimd instance on this app's database (as behind a load balancer);
    /// returns its base URL. It runs until the test ends.
    pub async fn spawn_sibling(&self, adjust: impl FnOnce(&mut Settings)) -> String {
        start_server(&self.database_url, adjust).base
    }

    /// The SCIM base URL of a tenant.
    pub fn tenant_url(&self, slug: &str) -> String {
        format!("{}/scim/v2/tenants/{slug}", self.base)
    }

    /// Create another tenant and a token for it.
    pub fn add_tenant(&self, slug: &str) -> String {
        issue_tenant(&self.state, slug, slug, 90, "")
    }

    /// The id of a tenant.
    pub fn tenant_id(&self, slug: &str) -> String {
        self.state
            .service
            .store
            .read_blocking(|conn| scimd::store::tenants::find_tenant_by_slug(conn, slug))
            .expect("tenant")
            .expect("tenant exists")
            .id
    }

    /// Create an admin of the token page: of tenant `slug`, or an operator when None.
    pub fn create_admin(&self, slug: Option<&str>, user: &str, password: &str) {
        let hash = scimd::auth::password::hash_password(password).expect("hash");
        let tenant_id = slug.map(|s| self.tenant_id(s));
        self.state
            .service
            .store
            .write_blocking(|conn| {
                scimd::store::admins::create_admin(
                    conn,
                    tenant_id.as_deref(),
                    user,
                    &hash,
                    slug.is_none(),
                )
            })
            .expect("create admin");
    }

    /// The `scimd` command line on this app's database.
    pub fn cli(&self) -> Cli {
        Cli::on(&self.database_url)
    }

    /// A browser-like client of this app's pages: keeps cookies, follows no redirect.
    pub fn cookies(&self) -> CookieClient {
        CookieClient::new(&self.base)
    }

    /// Send a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        Reply::send(&self.client, method, url, token, body).await
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

/// A user with `n` emails (the first one the work email, the others `e0001@…` of type
/// "other"): the most values an attribute may hold is 1,000.
pub fn user_with_emails(user_name: &str, n: usize) -> Value {
    let emails: Vec<Value> = (0..n)
        .map(|i| match i {
            0 => json!({"value": user_name, "type": "work", "primary": true}),
            _ => json!({"value": format!("e{i:04}@many.example"), "type": "other"}),
        })
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": "Many Emails",
        "emails": emails,
    })
}

/// The costliest PATCH of a user with [`user_with_emails`]`(_, 1000)` that the caps let through
/// (1,000 operations, a 1 MiB body): operation 0 renames the user, and each other operation
/// removes the emails that a 41-term value filter matches (about 950 KB in all), so every
/// operation tests every email against every term. With `hits`, the last term of operation
/// `i` names the user's email `e{i}` (the PATCH would change the user); else no term matches.
pub fn costliest_patch(hits: bool) -> Value {
    let mut ops = vec![json!({"op": "replace", "path": "displayName", "value": "Renamed"})];
    ops.extend((1..1000).map(|i| {
        let mut terms: Vec<String> = (0..41)
            .map(|t| format!("value eq \"n{i:03}-{t:02}\""))
            .collect();
        if hits {
            terms[40] = format!("value eq \"e{i:04}@many.example\"");
        }
        json!({"op": "remove", "path": format!("emails[{}]", terms.join(" or "))})
    }));
    patch(Value::Array(ops))
}
