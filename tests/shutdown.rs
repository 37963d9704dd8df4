//! Graceful shutdown: on SIGTERM, a request in flight finishes (201), then the process exits
//! cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic: that is how they fail

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fresh_database, user_body, Backend};

async fn sigterm_lets_in_flight_requests_finish(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let token = common::seed_tenant(&url);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "serve",
            "--database-url",
            &url,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "scimd did not start");

    // A POST whose body arrives in two halves a second apart, over a plain socket;
    // SIGTERM lands in between.
    let body = user_body("slow@contoso.com", "slow@contoso.com")
        .to_string()
        .into_bytes();
    let head = format!(
        "POST /scim/v2/tenants/acme/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let addr = format!("127.0.0.1:{port}");
    let request = actix_web::web::block(move || -> std::io::Result<String> {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(addr)?;
        socket.write_all(head.as_bytes())?;
        let (first, second) = body.split_at(body.len() / 2);
        socket.write_all(first)?;
        std::thread::sleep(Duration::from_millis(1000));
        socket.write_all(second)?;
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer)?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    });
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap()
        .success());
    let answer = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight POST finished: {answer}"
    );

    // The process then exits by itself, cleanly.
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        exited.is_some_and(|s| s.success()),
        "scimd exits 0 after SIGTERM: {exited:?}"
    );
}

backend_tests!(sigterm_lets_in_flight_requests_finish);
