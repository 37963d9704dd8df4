//! A real browser on the token page: headless Chromium driven over WebDriver logs in,
//! generates a token, copies it with the page's copy button, and uses it against the SCIM
//! endpoint. Screenshots of each page land in target/screenshots/ for review.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them
//! the test prints that it is skipped and passes, unless `SCIMD_REQUIRE_BROWSER=1` (CI)
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{free_port, Backend, Process, TestApp};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The few W3C WebDriver commands the test needs, spoken over HTTP.
struct WebDriver {
    http: awc::Client,
    base: String,
    session: String,
    _driver: Process,
    _profile: tempfile::TempDir,
}

impl WebDriver {
    async fn start(driver_path: &str, chromium: &str) -> WebDriver {
        let port = free_port();
        let driver = Process::spawn(
            Command::new(driver_path)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1200,1400",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let mut wd = WebDriver {
            http,
            base,
            session: String::new(),
            _driver: driver,
            _profile: profile,
        };
        let created = wd.call("POST", "/session", Some(caps)).await;
        wd.session = created["sessionId"]
            .as_str()
            .expect("webdriver session")
            .to_string();
        // Element look-ups wait for the page a form submission loads.
        wd.call(
            "POST",
            "/timeouts",
            Some(json!({"implicit": 10000, "pageLoad": 30000})),
        )
        .await;
        wd
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let req = self.http.request(
            awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
            url,
        );
        let mut resp = match body {
            Some(b) => req.send_json(&b).await.expect("webdriver call"),
            None => req.send().await.expect("webdriver call"),
        };
        let v: Value = serde_json::from_slice(&resp.body().limit(64 << 20).await.unwrap()).unwrap();
        assert!(resp.status().is_success(), "webdriver {method} {path}: {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call("POST", &format!("/element/{el}/clear"), Some(json!({})))
            .await;
        self.call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call("POST", &format!("/element/{el}/click"), Some(json!({})))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call("GET", &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call("GET", "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

async fn browser_generates_and_copies_a_working_token(backend: Backend) {
    let (Some(driver), Some(chromium)) = (
        find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]),
        find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
    ) else {
        assert!(
            std::env::var("SCIMD_REQUIRE_BROWSER").is_err(),
            "chromium and chromium-driver are required (SCIMD_REQUIRE_BROWSER is set)"
        );
        eprintln!(
            "skipped: chromium or chromedriver is not installed, so the browser test does not run"
        );
        return;
    };
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let wd = WebDriver::start(&driver, &chromium).await;
    wd.goto(&format!("{}/admin", app.base)).await;
    // Clipboard access for the copy button, granted to the page's origin as a user would.
    for name in ["clipboard-read", "clipboard-write"] {
        wd.call(
            "POST",
            "/permissions",
            Some(json!({"descriptor": {"name": name}, "state": "granted"})),
        )
        .await;
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
        .script("var done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, function(e){ done('ERR ' + e); });")
        .await;
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

crate::helpers::backend_tests!(browser_generates_and_copies_a_working_token);
