//! A real browser on the token page: headless Chromium driven over WebDriver (fantoccini,
//! talking plain HTTP to chromedriver on 127.0.0.1) logs in, generates a token, copies it
//! with the page's copy button, and uses it against the SCIM endpoint. Screenshots of each
//! page land in target/screenshots/ for review.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them
//! the test prints that it is skipped and passes, unless `SCIMD_REQUIRE_BROWSER=1` (CI)
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::{free_port, Backend, Process, TestApp};

/// A WebDriver session of headless Chromium, and the chromedriver serving it.
struct Browser {
    client: Client,
    _driver: Process,
    _profile: tempfile::TempDir,
}

/// Permissions' extension command (`POST /session/{id}/permissions`), which fantoccini
/// does not have: grant the page's origin one permission, as a user would.
#[derive(Debug)]
struct Grant(&'static str);

impl WebDriverCompatibleCommand for Grant {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/permissions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http1::Method, Option<String>) {
        let body = json!({"descriptor": {"name": self.0}, "state": "granted"});
        (http1::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    async fn start(driver_path: &str, chromium: &str) -> Browser {
        let port = free_port();
        let driver = Process::spawn(
            Command::new(driver_path)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1200,1400",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities.as_object().unwrap().clone());
        let client = builder
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("webdriver session");
        // Element look-ups wait for the page a form submission loads.
        client
            .update_timeouts(TimeoutConfiguration::new(
                None,
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(10)),
            ))
            .await
            .expect("timeouts");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.expect(css);
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    async fn click(&self, css: &str) {
        let el = self.client.find(Locator::Css(css)).await.expect(css);
        el.click().await.expect("click");
    }

    async fn text(&self, css: &str) -> String {
        let el = self.client.find(Locator::Css(css)).await.expect(css);
        el.text().await.expect("text")
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    async fn quit(self) {
        let _ = self.client.close().await;
    }
}

/// chromedriver and chromium, if installed; without them the test says it is skipped (and
/// fails under `SCIMD_REQUIRE_BROWSER`).
fn browser_binaries() -> Option<(String, String)> {
    let found = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).zip(
        find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
    );
    if found.is_none() {
        assert!(
            std::env::var("SCIMD_REQUIRE_BROWSER").is_err(),
            "chromium and chromium-driver are required (SCIMD_REQUIRE_BROWSER is set)"
        );
        eprintln!("skipped: chromium or chromedriver is not installed");
    }
    found
}

fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

async fn browser_generates_and_copies_a_working_token(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let wd = Browser::start(&driver, &chromium).await;
    wd.goto(&format!("{}/admin", app.base)).await;
    // Clipboard access for the copy button, granted to the page's origin as a user would.
    for name in ["clipboard-read", "clipboard-write"] {
        wd.client.issue_cmd(Grant(name)).await.expect(name);
    }
    wd.screenshot("01-login").await;
    wd.type_into("#username", "alice").await;
    wd.type_into("#password", "correct horse battery").await;
    wd.click("#login").await;
    let url_shown = wd.text("#tenant-url").await;
    assert_eq!(url_shown, app.tenant_url("acme"));
    wd.screenshot("02-tenant").await;

    wd.type_into("#days", "30").await;
    wd.type_into("#label", "Entra from the browser").await;
    wd.click("#generate").await;
    let shown = wd.text("#new-token").await;
    assert_eq!(shown.split('.').count(), 3, "a JWT is shown: {shown}");
    wd.click("#copy-token").await;
    for _ in 0..50 {
        if wd.text("#copy-token").await == "Copied" {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let copied = wd
        .client
        .execute_async("var done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, function(e){ done('ERR ' + e); });", vec![])
        .await
        .expect("read the clipboard");
    let copied = copied.as_str().unwrap_or_default().to_string();
    assert_eq!(wd.text("#copy-token").await, "Copied");
    assert_eq!(
        copied, shown,
        "the copy button put the token on the clipboard"
    );
    wd.screenshot("03-token-generated").await;

    // The copied token passes Test Connection.
    let probe = format!(
        "{}/Users?filter=userName+eq+%22{}%22",
        app.tenant_url("acme"),
        uuid::Uuid::new_v4()
    );
    let r = app
        .send("GET", &probe, Some(&copied), None)
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);

    wd.click("#history-link").await;
    assert!(
        wd.text("#events").await.contains("created")
            || wd.text("h1").await.contains("Sync history")
    );
    wd.screenshot("04-history").await;
    wd.quit().await;
}

/// A setup link clicked on another site (as in a webmail) opens the tenant's page in
/// Chromium: the SameSite=Strict cookie it sets is sent on the way on to the page, and the
/// secret has left the address bar.
async fn browser_opens_a_setup_link_from_another_site(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    let tenant = scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .unwrap();
    let (secret, _) =
        scimd::service::setup_links::create_setup_link(&app.state.service, &tenant, 15, "mail")
            .await
            .unwrap();
    let link = app.state.settings.setup_link_url(&secret);
    let wd = Browser::start(&driver, &chromium).await;
    // A page of another site (a data: URL has an opaque origin) with the link in it.
    let mail = format!("<a id=\"link\" href=\"{link}\">Set up provisioning</a>");
    let encoded: String = serde_urlencoded::to_string([("x", mail.as_str())]).unwrap();
    wd.goto(&format!(
        "data:text/html;charset=utf-8,{}",
        encoded.trim_start_matches("x=").replace('+', "%20")
    ))
    .await;
    wd.click("#link").await;
    let url_shown = wd.text("#tenant-url").await;
    assert_eq!(url_shown, app.tenant_url("acme"));
    let at = wd.client.current_url().await.expect("url");
    assert_eq!(at.path(), "/admin/t/acme");
    assert!(!at.as_str().contains(&secret));
    assert!(wd
        .text("#setup-link-expiry")
        .await
        .contains("this setup link expires on"));
    wd.screenshot("05-setup-link").await;
    wd.quit().await;
}

/// The identity provider picker in Chromium: choosing Okta in the list and pressing the
/// button shows Okta's guide, whose copy button puts the SCIM connector base URL on the
/// clipboard.
async fn browser_picks_okta_and_copies_its_base_url(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let wd = Browser::start(&driver, &chromium).await;
    wd.goto(&format!("{}/admin", app.base)).await;
    for name in ["clipboard-read", "clipboard-write"] {
        wd.client.issue_cmd(Grant(name)).await.expect(name);
    }
    wd.type_into("#username", "alice").await;
    wd.type_into("#password", "correct horse battery").await;
    wd.click("#login").await;
    assert!(wd
        .text("#provider-prompt")
        .await
        .contains("Choose your identity provider"));
    wd.click("#provider option[value=okta]").await;
    wd.click("#choose-provider").await;
    let base_url = wd.text("#guide-okta #okta-base-url").await;
    assert_eq!(base_url, app.tenant_url("acme"));
    assert!(wd.text("#provider-chosen").await.contains("Okta"));
    wd.click("button[data-copy=okta-base-url]").await;
    for _ in 0..50 {
        if wd.text("button[data-copy=okta-base-url]").await == "Copied" {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let copied = wd
        .client
        .execute_async("var done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, function(e){ done('ERR ' + e); });", vec![])
        .await
        .expect("read the clipboard");
    assert_eq!(copied.as_str().unwrap_or_default(), app.tenant_url("acme"));
    wd.screenshot("06-okta-guide").await;
    wd.quit().await;
}

/// Okta's OAuth 2 mode in Chromium: the admin, logged in, follows the identity provider's link
/// (from another site) to `/oauth/authorize`; scimd's page carries the browser on to the
/// approval page with its SameSite=Strict session, and Approve sends it to the client's
/// redirect URI on another origin (the page's `form-action` lets it) with a code that the
/// token endpoint exchanges for a working access token.
async fn browser_approves_an_oauth_client(backend: Backend) {
    let Some((driver, chromium)) = browser_binaries() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let tenant = scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .unwrap();
    // Another origin than the page's (localhost, not 127.0.0.1), as Okta's callback is.
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let callback = format!("http://localhost:{port}/okta-callback");
    let new = scimd::service::oauth::NewClient {
        label: "Okta production".into(),
        redirect_uris: vec![callback.clone()],
        jwks: None,
    };
    let (secret, client) = scimd::service::oauth::create_client(&app.state.service, &tenant, new)
        .await
        .unwrap();
    let wd = Browser::start(&driver, &chromium).await;
    wd.goto(&format!("{}/admin", app.base)).await;
    wd.type_into("#username", "alice").await;
    wd.type_into("#password", "correct horse battery").await;
    wd.click("#login").await;
    wd.text("#tenant-url").await;
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.row.client_id.as_str()),
        ("redirect_uri", callback.as_str()),
        ("state", "from-okta"),
    ])
    .unwrap();
    let link = format!(
        "<a id=\"link\" href=\"{}/oauth/authorize?{}\">Authenticate</a>",
        app.base,
        query.replace('&', "&amp;")
    );
    let encoded: String = serde_urlencoded::to_string([("x", link.as_str())]).unwrap();
    wd.goto(&format!(
        "data:text/html;charset=utf-8,{}",
        encoded.trim_start_matches("x=").replace('+', "%20")
    ))
    .await;
    wd.click("#link").await;
    assert_eq!(wd.text("#client-label").await, "Okta production");
    assert_eq!(wd.text("#tenant-name").await, "Acme");
    wd.screenshot("07-oauth-approve").await;
    wd.click("#approve").await;
    let mut landed = None;
    for _ in 0..100 {
        let at = wd.client.current_url().await.expect("url");
        if at.as_str().starts_with(&callback) {
            landed = Some(at);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let landed = landed.expect("the browser reached the client's redirect URI");
    let params: std::collections::HashMap<String, String> =
        landed.query_pairs().into_owned().collect();
    assert_eq!(params.get("state").map(String::as_str), Some("from-okta"));
    let code = params.get("code").expect("a code").clone();
    let form = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", callback.as_str()),
        ("client_id", client.row.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ])
    .unwrap();
    let mut resp = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(form)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let users = app
        .send(
            "GET",
            &format!("{}/Users", app.tenant_url("acme")),
            Some(access),
            None,
        )
        .await;
    assert_eq!(users.status.as_u16(), 200);
    wd.quit().await;
}

crate::helpers::backend_tests!(
    browser_approves_an_oauth_client,
    browser_generates_and_copies_a_working_token,
    browser_opens_a_setup_link_from_another_site,
    browser_picks_okta_and_copies_its_base_url
);
