//! Graceful shutdown: on SIGTERM, a request in flight finishes (201), then the process exits
//! cleanly.

use std::time::Duration;

use crate::helpers::{fresh_database, seed_tenant, user_body, Backend, ServeCommand};

async fn sigterm_lets_in_flight_requests_finish(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let token = seed_tenant(&url);
    let mut server = ServeCommand::new(&url).start().await;

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
    let addr = server.addr();
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
    server.process.terminate();
    let answer = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight POST finished: {answer}"
    );

    // The process then exits by itself, cleanly.
    let exited = server.process.exit_within(Duration::from_secs(10)).await;
    assert!(
        exited.is_some_and(|s| s.success()),
        "scimd exits 0 after SIGTERM: {exited:?}"
    );
}

crate::helpers::backend_tests!(sigterm_lets_in_flight_requests_finish);
