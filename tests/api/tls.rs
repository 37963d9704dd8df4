//! HTTPS served directly (`--tls-cert`/`--tls-key`): Entra requires an HTTPS Tenant URL.
//! The certificate is made with the `openssl` command and the request is made by Python's
//! TLS stack, which verifies it against that certificate.

use std::process::Command;

use crate::helpers::{Backend, TestApp};

async fn serves_https_with_the_given_certificate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (c, k) = (cert.clone(), key.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.tls_cert = Some(c);
        s.tls_key = Some(k);
    })
    .await;
    let https = app.base.replace("http://", "https://");
    let url = format!("{https}/scim/v2/tenants/acme/Users?filter=userName+eq+%22x%22");
    let script = r#"
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
req = urllib.request.Request(sys.argv[2], headers={"Authorization": "Bearer " + sys.argv[3]})
with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
    print(r.status, json.load(r)["totalResults"], r.headers["Content-Type"])
"#;
    // Off the test's runtime thread, which also drives the server.
    let token = app.token.clone();
    let out = actix_web::web::block(move || {
        Command::new("python3")
            .args(["-c", script])
            .arg(&cert)
            .arg(&url)
            .arg(&token)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "200 0 application/scim+json");
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = app.client.get(format!("{}/healthz", app.base)).send().await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
}

crate::helpers::backend_tests!(serves_https_with_the_given_certificate);
