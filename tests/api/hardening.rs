//! Hostile input over real HTTP: oversized and malformed bodies, pathological filters and
//! PATCH requests, odd query strings, forged tokens — each a clear 4xx SCIM error (or a
//! correct 2xx where the RFC says to clamp or ignore), never a 5xx, a hang or a panic; and
//! secrets (tokens, passwords, mail addresses in filters) never reach the logs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{
    costliest_patch, fresh_database, patch, user_body, user_with_emails, Backend, Cli,
    CookieClient, Reply, ServeCommand, TestApp,
};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The server is alive and answering.
async fn assert_healthy(app: &TestApp) {
    let r = app
        .send("GET", &format!("{}/healthz", app.base), None, None)
        .await;
    assert_eq!(
        r.status.as_u16(),
        200,
        "/healthz after hostile input: {}",
        r.body
    );
}

/// Not a server error: any 5xx is a bug.
fn assert_not_5xx(status: u16, what: &str) {
    assert!(status < 500, "{what}: server error {status}");
}

/// A request with raw body bytes and headers of our choosing, through awc.
async fn send_bytes(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let url = format!("{}{path}", app.tenant_url("acme"));
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app
        .client
        .request(method, url)
        .insert_header(("Authorization", format!("Bearer {}", app.token)));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut resp = req.send_body(body).await.expect("request");
    let bytes = resp.body().limit(64 * MIB).await.expect("body");
    Reply::of(resp.status().as_u16(), resp.headers(), &bytes)
}

/// A raw HTTP/1.1 exchange over TCP, for what awc will not send (bytes that are not UTF-8 in
/// the request line, hand-made chunked bodies). The body is written from a second thread so a
/// server that answers early (413) cannot deadlock us; the reply must come within 10 s.
async fn raw(app: &TestApp, head: Vec<u8>, body: Vec<u8>) -> Reply {
    let addr = app.base.trim_start_matches("http://").to_string();
    actix_web::rt::task::spawn_blocking(move || raw_blocking(&addr, head, body))
        .await
        .expect("raw exchange")
}

fn raw_blocking(addr: &str, head: Vec<u8>, body: Vec<u8>) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        // The server may close after an early answer: a failed write is expected then.
        let _ = writer
            .write_all(&head)
            .and_then(|_| writer.write_all(&body));
    });
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let complete = loop {
        if let Some(done) = parse_response(&buf) {
            break Some(done);
        }
        match stream.read(&mut chunk) {
            Ok(0) => break parse_response(&buf).or_else(|| parse_until_eof(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "no complete answer after {:?} ({e}); got {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&buf)
            ),
        }
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    complete.unwrap_or_else(|| panic!("incomplete answer: {:?}", String::from_utf8_lossy(&buf)))
}

/// A response in `buf` once it is complete (Content-Length or chunked).
fn parse_response(buf: &[u8]) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let rest = &buf[end + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = awc::http::header::HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (
                awc::http::header::HeaderName::from_bytes(k.trim().as_bytes()),
                awc::http::header::HeaderValue::from_str(v.trim()),
            ) {
                headers.append(k, v);
            }
        }
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    };
    Some(Reply::of(status, &headers, &body))
}

/// A response without a length, complete at end of stream.
fn parse_until_eof(buf: &[u8]) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    Some(Reply::of(
        status,
        &awc::http::header::HeaderMap::new(),
        &buf[end + 4..],
    ))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A request head for the tenant `acme` with its token; `target` is relative to the tenant URL.
fn head(app: &TestApp, method: &str, target: &[u8], extra: &str) -> Vec<u8> {
    let mut h = format!("{method} /scim/v2/tenants/acme").into_bytes();
    h.extend_from_slice(target);
    h.extend_from_slice(
        format!(
            " HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n{extra}\r\n",
            app.base.trim_start_matches("http://"),
            app.token
        )
        .as_bytes(),
    );
    h
}

/// A chunked body: `data` in chunks of `size` bytes, then the last chunk.
fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A valid user body whose title makes it `total` bytes long.
fn user_of_size(user_name: &str, total: usize) -> Vec<u8> {
    let mut body = user_body(user_name, user_name);
    body["title"] = json!("");
    let base = body.to_string().len();
    body["title"] = json!("t".repeat(total.saturating_sub(base)));
    let bytes = body.to_string().into_bytes();
    assert_eq!(bytes.len(), total);
    bytes
}

fn search_body(filter: &str) -> Value {
    json!({"schemas": [SEARCH_SCHEMA], "filter": filter})
}

// ---------------------------------------------------------------------------------------------
// 1. Body size

/// Past `max_body_bytes` (1 MiB): 413 with a SCIM error, whether the size is announced with
/// Content-Length or only discovered while reading a chunked body. At the limit: accepted.
async fn oversized_bodies_get_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let limit = app.state.settings.max_body_bytes;
    assert_eq!(limit, MIB);
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;
    let big = user_of_size("big@contoso.com", limit + 1);
    let ct = "Content-Type: application/scim+json\r\n";

    // Announced with Content-Length, on every endpoint that takes a body.
    for (method, path) in [
        ("POST", "/Users".to_string()),
        ("PUT", format!("/Users/{id}")),
        ("PATCH", format!("/Users/{id}")),
        ("POST", "/Users/.search".to_string()),
        ("POST", "/Groups".to_string()),
        ("POST", "/.search".to_string()),
    ] {
        let h = head(
            &app,
            method,
            path.as_bytes(),
            &format!("{ct}Content-Length: {}\r\n", big.len()),
        );
        raw(&app, h, big.clone())
            .await
            .expect_error(413, None, &format!("limit of {limit} bytes"));
    }
    // A Content-Length far past the limit is refused before anything is read.
    let h = head(
        &app,
        "POST",
        b"/Users",
        &format!("{ct}Content-Length: 99999999999\r\n"),
    );
    raw(&app, h, Vec::new())
        .await
        .expect_error(413, None, "limit");

    // Chunked: no Content-Length, the limit is found while reading.
    for size in [1024, 64 * 1024] {
        let h = head(
            &app,
            "POST",
            b"/Users",
            &format!("{ct}Transfer-Encoding: chunked\r\n"),
        );
        raw(&app, h, chunked(&big, size))
            .await
            .expect_error(413, None, "limit");
    }
    // A chunked body of many more megabytes is cut off, not buffered.
    let huge = vec![b' '; 8 * MIB];
    let h = head(
        &app,
        "POST",
        b"/Users",
        &format!("{ct}Transfer-Encoding: chunked\r\n"),
    );
    raw(&app, h, chunked(&huge, 256 * 1024))
        .await
        .expect_error(413, None, "limit");

    // Exactly at the limit, chunked or not: accepted (a huge string near the limit is data).
    let at_limit = user_of_size("edge@contoso.com", limit);
    send_bytes(
        &app,
        "POST",
        "/Users",
        &[("Content-Type", "application/scim+json")],
        at_limit,
    )
    .await
    .expect(201);
    let at_limit = user_of_size("edge2@contoso.com", limit);
    let h = head(
        &app,
        "POST",
        b"/Users",
        &format!("{ct}Transfer-Encoding: chunked\r\n"),
    );
    raw(&app, h, chunked(&at_limit, 100_000)).await.expect(201);
    // The big user reads back whole, and lists still work.
    let r = app
        .filter_users("userName eq \"edge@contoso.com\"")
        .await
        .expect(200);
    let len = r.body["Resources"][0]["title"].as_str().map_or(0, str::len);
    assert!(len > limit - 1000 && len < limit, "title of {len} bytes");
    app.scim("GET", "/Users?count=10", None).await.expect(200);

    // Huge strings in indexed attributes (kept in indexed columns, PostgreSQL cannot index
    // them): 400 invalidValue with the limit, on create, replace and patch.
    let huge = "h".repeat(limit - 2000);
    for attr in ["userName", "externalId", "displayName"] {
        let mut body = user_body("huge@contoso.com", "huge@contoso.com");
        body[attr] = json!(huge);
        app.scim("POST", "/Users", Some(body.clone()))
            .await
            .expect_error(
                400,
                Some("invalidValue"),
                &format!("{attr} is {} bytes long", huge.len()),
            );
        app.scim("PUT", &format!("/Users/{id}"), Some(body))
            .await
            .expect_error(400, Some("invalidValue"), "at most 1024 bytes");
        let ops = patch(json!([{"op": "replace", "path": attr, "value": huge}]));
        app.scim("PATCH", &format!("/Users/{id}"), Some(ops))
            .await
            .expect_error(400, Some("invalidValue"), "at most 1024 bytes");
    }
    let mut body = user_body("huge@contoso.com", "huge@contoso.com");
    body["emails"] = json!([{"value": "huge@contoso.com", "type": "work"}, {"value": format!("{huge}@contoso.com"), "type": "other"}]);
    app.scim("POST", "/Users", Some(body)).await.expect_error(
        400,
        Some("invalidValue"),
        "at most 1024 bytes",
    );
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": huge});
    app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidValue"),
        "at most 1024 bytes",
    );
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "externalId": huge});
    app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidValue"),
        "at most 1024 bytes",
    );
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": huge}]});
    let r = app.scim("POST", "/Groups", Some(group)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    // Nothing half-written: the user is as it was, and a 1 KiB name is fine.
    let r = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    let mut body = user_body("long@contoso.com", "long@contoso.com");
    body["displayName"] = json!("é".repeat(512));
    app.scim("POST", "/Users", Some(body)).await.expect(201);
    assert_healthy(&app).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Malformed bodies

/// Nesting, bad UTF-8, empty and non-object bodies: 400 invalidSyntax saying what is wrong.
async fn malformed_bodies_get_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;
    let json_ct = [("Content-Type", "application/scim+json")];
    let user_path = format!("/Users/{id}");

    // 100,000 nested arrays, and the same as an object value.
    let deep = "[".repeat(100_000).into_bytes();
    for (method, path) in [
        ("POST", "/Users"),
        ("PATCH", user_path.as_str()),
        ("POST", "/Users/.search"),
    ] {
        send_bytes(&app, method, path, &json_ct, deep.clone())
            .await
            .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    }
    let deep_value = format!("{{\"userName\":{}", "{\"a\":".repeat(50_000)).into_bytes();
    send_bytes(&app, "POST", "/Users", &json_ct, deep_value)
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    // Deep but parseable (below serde_json's limit) in an attribute value.
    let mut nested = json!("x");
    for _ in 0..100 {
        nested = json!({ "a": nested });
    }
    let mut body = user_body("nested@contoso.com", "nested@contoso.com");
    body["title"] = nested;
    let r = app.scim("POST", "/Users", Some(body)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);

    // Invalid UTF-8 in the body, in a string value and as a bare byte.
    let mut bad =
        br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":""#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad.extend_from_slice(br#""}"#);
    send_bytes(&app, "POST", "/Users", &json_ct, bad.clone())
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    send_bytes(&app, "PATCH", &user_path, &json_ct, bad)
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    send_bytes(&app, "POST", "/Users", &json_ct, vec![0x80, 0x81])
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");

    // Missing body on POST, PUT and PATCH (with and without a Content-Type).
    for (method, path) in [
        ("POST", "/Users"),
        ("PUT", user_path.as_str()),
        ("PATCH", user_path.as_str()),
        ("POST", "/Groups"),
        ("POST", "/Users/.search"),
    ] {
        send_bytes(&app, method, path, &json_ct, Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
        send_bytes(&app, method, path, &[], Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
        let h = head(&app, method, path.as_bytes(), "");
        raw(&app, h, Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
    }
    // Truncated, trailing garbage, and JSON that is not an object.
    for body in [
        &b"{\"userName\": "[..],
        b"{} {}",
        b"null",
        b"[]",
        b"\"user\"",
        b"42",
        b"true",
    ] {
        let r = send_bytes(&app, "POST", "/Users", &json_ct, body.to_vec()).await;
        assert_eq!(
            r.status.as_u16(),
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        let r = send_bytes(&app, "PATCH", &user_path, &json_ct, body.to_vec()).await;
        assert_eq!(
            r.status.as_u16(),
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        let r = send_bytes(&app, "POST", "/Users/.search", &json_ct, body.to_vec()).await;
        assert_eq!(
            r.status.as_u16(),
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
    }
    // The user is untouched by all of it.
    let r = app.scim("GET", &user_path, None).await.expect(200);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert_healthy(&app).await;
}

/// `text/plain` and friends: 415; `application/scim+json` and `application/json`, with a
/// charset parameter, in any case: accepted.
async fn content_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = |n: usize| {
        user_body(&format!("ct{n}@contoso.com"), &format!("ct{n}@contoso.com"))
            .to_string()
            .into_bytes()
    };
    for (n, ct) in [
        "application/scim+json",
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=UTF-8",
        "Application/SCIM+JSON;charset=\"utf-8\"",
    ]
    .into_iter()
    .enumerate()
    {
        send_bytes(&app, "POST", "/Users", &[("Content-Type", ct)], body(n))
            .await
            .expect(201);
    }
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;
    for ct in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        send_bytes(&app, "POST", "/Users", &[("Content-Type", ct)], body(99))
            .await
            .expect_error(415, None, "application/scim+json");
        let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]))
            .to_string()
            .into_bytes();
        send_bytes(
            &app,
            "PATCH",
            &format!("/Users/{id}"),
            &[("Content-Type", ct)],
            ops,
        )
        .await
        .expect_error(415, None, "application/scim+json");
    }
    // A Content-Type that is not even text.
    let mut h = head(&app, "POST", b"/Users", "Content-Length: 2\r\n");
    h.truncate(h.len() - 2);
    h.extend_from_slice(b"Content-Type: \xff\xfe\r\n\r\n");
    let r = raw(&app, h, b"{}".to_vec()).await;
    assert!(
        matches!(r.status.as_u16(), 400 | 415),
        "{}: {}",
        r.status,
        r.body
    );
    // Nothing was created by the refused requests.
    let r = app
        .filter_users("userName eq \"ct99@contoso.com\"")
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    assert_healthy(&app).await;
}

/// NUL characters in strings (allowed by JSON, refused by PostgreSQL text): a 400 naming
/// the problem on both backends, in bodies, filters and paths.
async fn nul_characters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;

    let mut body = user_body("nul\u{0}@contoso.com", "nul@contoso.com");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["userName"] = json!("nul@contoso.com");
    body["displayName"] = json!("Nul\u{0}Display");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["displayName"] = json!("ok");
    body["externalId"] = json!("\u{0}");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["externalId"] = json!("ext");
    body["emails"][0]["value"] = json!("nul\u{0}@contoso.com");
    app.scim("POST", "/Users", Some(body))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    let ops = patch(json!([{"op": "replace", "path": "displayName", "value": "a\u{0}b"}]));
    app.scim("PATCH", &format!("/Users/{id}"), Some(ops))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    let ops = patch(json!([{"op": "add", "value": {"nickName\u{0}": "x"}}]));
    let r = app.scim("PATCH", &format!("/Users/{id}"), Some(ops)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G\u{0}"});
    app.scim("POST", "/Groups", Some(group))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");

    // In filters: escaped inside the string, and raw (%00) in the query.
    for filter in [
        "userName eq \"a\\u0000b\"",
        "userName eq \"a\u{0}b\"",
        "emails[type eq \"work\"].value eq \"x\u{0}@contoso.com\"",
        "externalId eq \"\u{0}\"",
        "displayName co \"\u{0}\"",
    ] {
        app.filter_users(filter)
            .await
            .expect_error(400, Some("invalidFilter"), "NUL");
        let r = app
            .scim("POST", "/Users/.search", Some(search_body(filter)))
            .await;
        r.expect_error(400, Some("invalidFilter"), "NUL");
        let q =
            serde_urlencoded::to_string([("filter", filter.replace("userName", "displayName"))])
                .expect("encode");
        let r = app.scim("GET", &format!("/Groups?{q}"), None).await;
        assert_eq!(r.status.as_u16(), 400, "{filter}: {}", r.body);
    }
    // In paths: an id or a tenant with a NUL is simply not found.
    for path in ["/Users/%00", "/Users/a%00b", "/Groups/%00"] {
        app.scim("GET", path, None).await.expect(404);
        app.scim("DELETE", path, None).await.expect(404);
        let ops = patch(json!([{"op": "replace", "path": "displayName", "value": "x"}]));
        app.scim("PATCH", path, Some(ops)).await.expect(404);
        let r = app
            .scim(
                "PUT",
                path,
                Some(user_body("put@contoso.com", "put@contoso.com")),
            )
            .await;
        assert_eq!(r.status.as_u16(), 404, "{path}: {}", r.body);
    }
    let url = format!("{}/scim/v2/tenants/ac%00me/Users", app.base);
    app.send("GET", &url, Some(&app.token), None)
        .await
        .expect_error(401, None, "bearer token");
    // Sorting, projection and other list parameters.
    for q in [
        "sortBy=display%00Name",
        "attributes=user%00Name",
        "excludedAttributes=%00",
        "startIndex=1%00",
    ] {
        let r = app.scim("GET", &format!("/Users?{q}"), None).await;
        assert!(
            r.status.as_u16() == 400 || r.status.as_u16() == 200,
            "{q}: {} {}",
            r.status,
            r.body
        );
    }
    app.scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_healthy(&app).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Filters and query strings

/// Long, wide and deep filters: 400 invalidFilter with the limit in the detail, over GET and
/// over `.search`; big but legal ones run.
async fn pathological_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("target@contoso.com", "target@contoso.com")
        .await;

    let long = format!("userName eq \"{}\"", "x".repeat(100 * 1024));
    let and_5000 = vec!["userName eq \"a\""; 5000].join(" and ");
    let short_and_1001 = vec!["id pr"; 1001].join(" and ");
    let parens_10000 = format!("{}userName pr{}", "(".repeat(10_000), ")".repeat(10_000));
    let parens_100 = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let nots_100 = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
    let brackets = format!("emails[{}value pr{}]", "(".repeat(100), ")".repeat(100));
    let unbalanced = "(".repeat(5000);
    let cases: Vec<(&str, &str)> = vec![
        (&long, "at most"),
        (&and_5000, "at most"),
        (&short_and_1001, "too many expressions"),
        (&parens_10000, "at most"),
        (&parens_100, "nested too deeply"),
        (&nots_100, "nested too deeply"),
        (&brackets, "nested too deeply"),
        (&unbalanced, "nested too deeply"),
        ("userName eq", "expected a value"),
        ("userName zz \"a\"", "zz"),
        ("userName eq \"unterminated", "unterminated"),
        ("\u{1F600} eq 1", "filter"),
        ("emails[type eq \"work\"", "]"),
        (")", "')'"),
        ("and", "filter"),
        ("userName eq \"a\" and", "filter"),
    ];
    for (filter, needle) in &cases {
        let started = Instant::now();
        let body = search_body(filter);
        let r = app.scim("POST", "/Users/.search", Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), 400, "{filter:?}: {}", r.body);
        let r = r.expect_error(400, Some("invalidFilter"), needle);
        assert!(
            r.body["detail"].as_str().unwrap_or_default().len() < 2000,
            "detail stays short: {}",
            r.body
        );
        app.scim("POST", "/Groups/.search", Some(body.clone()))
            .await
            .expect_error(400, Some("invalidFilter"), needle);
        app.scim("POST", "/.search", Some(body)).await.expect_error(
            400,
            Some("invalidFilter"),
            needle,
        );
        // Over GET: a request line too long for the HTTP layer is still a 4xx, never a 5xx.
        let q = serde_urlencoded::to_string([("filter", filter)]).expect("encode");
        let r = raw(
            &app,
            head(&app, "GET", format!("/Users?{q}").as_bytes(), ""),
            Vec::new(),
        )
        .await;
        if q.len() < 16 * 1024 {
            r.expect_error(400, Some("invalidFilter"), needle);
        } else {
            assert!(
                (400..500).contains(&r.status.as_u16()),
                "{}: {}",
                r.status,
                r.body
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} took {:?}",
            &filter[..filter.len().min(40)],
            started.elapsed()
        );
    }

    // Legal but large: 300 indexed terms in SQL, and a non-indexed filter evaluated in Rust.
    let wide_or = (0..300)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ")
        + " or userName eq \"target@contoso.com\"";
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&wide_or)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let wide_and = (0..150)
        .map(|_| "emails[type eq \"work\"].value pr".to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    // Conjunctions of subqueries (email and member lookups) as wide as the parser allows: on
    // PostgreSQL these once took seconds to half a minute just to plan.
    let started = Instant::now();
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&wide_and)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let emails_co = vec!["emails.value co \"contoso\""; 490].join(" and ");
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&emails_co)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let emails_or = (0..490)
        .map(|i| format!("emails.value sw \"nobody{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&emails_or)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    let members = vec!["members.value eq \"x\""; 490].join(" and ");
    let r = app
        .scim("POST", "/Groups/.search", Some(search_body(&members)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "wide subquery filters took {:?}",
        started.elapsed()
    );
    let deep_ok = format!(
        "{}nickName pr or userName pr{}",
        "(".repeat(60),
        ")".repeat(60)
    );
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&deep_ok)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    assert_healthy(&app).await;
}

/// Query strings: unknown parameters are ignored, paging is clamped (RFC 7644 §3.4.2.4),
/// unknown attributes are no error, garbage is a 400 that names the parameter; broken
/// percent-encoding and bytes that are not UTF-8 are a 4xx, never a 5xx.
async fn query_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..3 {
        app.create_user(&format!("u{i}@contoso.com"), &format!("u{i}@contoso.com"))
            .await;
    }
    let max = app.state.settings.max_results;

    // Ignored.
    for q in [
        "aadOptscim062020",
        "foo=bar&baz",
        "filter=",
        "count=",
        "sortBy=",
        "attributes=",
        "=x&&&=",
        "a=%20",
    ] {
        let r = app
            .scim("GET", &format!("/Users?{q}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["totalResults"], 3, "{q}");
    }
    // Clamped.
    let r = app.scim("GET", "/Users?count=-5", None).await.expect(200);
    assert_eq!(
        (
            r.body["totalResults"].as_i64(),
            r.body["itemsPerPage"].as_i64()
        ),
        (Some(3), Some(0))
    );
    let r = app.scim("GET", "/Users?count=0", None).await.expect(200);
    assert_eq!(r.body["itemsPerPage"], 0);
    let r = app
        .scim("GET", "/Users?count=999999999999", None)
        .await
        .expect(200);
    assert_eq!(r.body["itemsPerPage"], 3);
    assert!(r.body["itemsPerPage"].as_i64().unwrap() <= max);
    let r = app
        .scim("GET", "/Users?startIndex=0", None)
        .await
        .expect(200);
    assert_eq!(
        (
            r.body["startIndex"].as_i64(),
            r.body["itemsPerPage"].as_i64()
        ),
        (Some(1), Some(3))
    );
    let r = app
        .scim("GET", "/Users?startIndex=-99999999999&count=1", None)
        .await
        .expect(200);
    assert_eq!(
        (
            r.body["startIndex"].as_i64(),
            r.body["itemsPerPage"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let r = app
        .scim("GET", &format!("/Users?startIndex={}", i64::MAX), None)
        .await
        .expect(200);
    assert_eq!(r.body["itemsPerPage"], 0);
    let r = app
        .scim(
            "GET",
            "/Users?startIndex=9223372036854775807&count=9223372036854775807&sortBy=nickName",
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["itemsPerPage"], 0);
    for body in [
        json!({"count": -5}),
        json!({"count": 999999999999i64, "startIndex": 0}),
        json!({"startIndex": i64::MIN}),
    ] {
        app.scim("POST", "/Users/.search", Some(body.clone()))
            .await
            .expect(200);
        app.scim("POST", "/.search", Some(body)).await.expect(200);
    }
    let r = app
        .scim("GET", "/Groups?count=-5&startIndex=0", None)
        .await
        .expect(200);
    assert_eq!(r.body["startIndex"], 1);

    // Not integers: 400 invalidValue naming the parameter.
    for (q, name) in [
        ("count=abc", "count"),
        ("count=1.5", "count"),
        ("count=99999999999999999999999", "count"),
        ("startIndex=%FF", "startIndex"),
        ("startIndex=1e3", "startIndex"),
        ("sortOrder=sideways", "sortOrder"),
    ] {
        app.scim("GET", &format!("/Users?{q}"), None)
            .await
            .expect_error(400, Some("invalidValue"), name);
        app.scim("GET", &format!("/Groups?{q}"), None)
            .await
            .expect_error(400, Some("invalidValue"), name);
    }
    for body in [
        json!({"count": "ten"}),
        json!({"startIndex": 1.5}),
        json!({"count": 1e300}),
        json!({"filter": 7}),
        json!({"sortOrder": "up"}),
    ] {
        let r = app.scim("POST", "/Users/.search", Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue", "{body}: {}", r.body);
    }

    // Unknown attributes are not an error: they are simply not there.
    let r = app
        .scim(
            "GET",
            "/Users?attributes=noSuchAttribute,urn:x:y:z:nothing",
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 3);
    assert!(
        r.body["Resources"][0]["id"].is_string(),
        "id is always returned: {}",
        r.body
    );
    assert!(r.body["Resources"][0].get("noSuchAttribute").is_none());
    app.scim("GET", "/Users?excludedAttributes=noSuchAttribute", None)
        .await
        .expect(200);
    let id = r.body["Resources"][0]["id"].as_str().unwrap().to_string();
    app.scim(
        "GET",
        &format!("/Users/{id}?attributes=noSuchAttribute"),
        None,
    )
    .await
    .expect(200);

    // Garbage attribute names and sort keys: 400 invalidPath saying what is wrong with them.
    for (q, needle) in [
        ("sortBy=)(*%26^", "must start with a letter"),
        (
            "sortBy=emails[type%20eq%20%22work%22].value",
            "only letters, digits",
        ),
        ("sortBy=a.b.c.d", "only one level of sub-attribute"),
        ("sortBy=urn:", "schema URN"),
        ("attributes=)(*%26^", "in attributes"),
        ("excludedAttributes=[[[", "in excludedAttributes"),
    ] {
        app.scim("GET", &format!("/Users?{q}"), None)
            .await
            .expect_error(400, Some("invalidPath"), needle);
        app.scim("GET", &format!("/Groups?{q}"), None)
            .await
            .expect_error(400, Some("invalidPath"), needle);
    }
    // Groups sort too (and so refuse a garbage sortBy as users do).
    for name in ["beta", "Alpha", "gamma"] {
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
        app.scim("POST", "/Groups", Some(group)).await.expect(201);
    }
    let names = |r: &Reply| {
        r.body["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| g["displayName"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let r = app
        .scim("GET", "/Groups?sortBy=displayName", None)
        .await
        .expect(200);
    assert_eq!(names(&r), ["Alpha", "beta", "gamma"]);
    let r = app
        .scim(
            "GET",
            "/Groups?sortBy=displayName&sortOrder=descending&count=2&filter=displayName%20pr",
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        (names(&r), r.body["totalResults"].as_i64()),
        (vec!["gamma".to_string(), "beta".to_string()], Some(3))
    );
    // Empty names in a list are skipped.
    app.scim("GET", "/Users?attributes=%2C%2C%2C", None)
        .await
        .expect(200);
    // A long attribute list is refused with the limit.
    let many = vec!["displayName"; 5000].join(",");
    let r = app
        .scim("POST", "/Users/.search", Some(json!({"attributes": many})))
        .await;
    r.expect_error(400, Some("invalidPath"), "at most 16384");
    let r = app
        .scim("GET", "/Users?sortBy=noSuchAttribute", None)
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 3);

    // Percent-encoding that is broken (kept as text) or decodes to bytes that are not UTF-8
    // (refused, not replaced: a filter must compare what the client meant).
    for (target, status, scim_type, needle) in [
        (
            &b"/Users?filter=%zz"[..],
            400,
            Some("invalidFilter"),
            "unexpected character '%'",
        ),
        (
            b"/Users?filter=%",
            400,
            Some("invalidFilter"),
            "unexpected character '%'",
        ),
        (
            b"/Users?filter=userName%20eq%20%22%FF%22",
            400,
            Some("invalidFilter"),
            "\"filter\" is not UTF-8",
        ),
        (
            b"/Users?filter=userName+eq+%22%C3%28%22",
            400,
            Some("invalidFilter"),
            "not UTF-8",
        ),
        (
            b"/Users?count=%FF",
            400,
            Some("invalidValue"),
            "\"count\" is not UTF-8",
        ),
        (b"/Users?%FF=%FE", 400, Some("invalidValue"), "not UTF-8"),
        (
            b"/Users?count=%",
            400,
            Some("invalidValue"),
            "count must be an integer",
        ),
        (
            b"/Groups?filter=displayName%20eq%20%22%80%22",
            400,
            Some("invalidFilter"),
            "not UTF-8",
        ),
        (b"/Users/%FF", 404, None, "no user"),
        (b"/Users/%zz", 404, None, "no user"),
    ] {
        let r = raw(&app, head(&app, "GET", target, ""), Vec::new()).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{}: {}",
            String::from_utf8_lossy(target),
            r.body
        );
        r.expect_error(status, scim_type, needle);
    }
    let id_probe = raw(
        &app,
        head(
            &app,
            "GET",
            format!("/Users/{id}?attributes=%FF").as_bytes(),
            "",
        ),
        Vec::new(),
    )
    .await;
    id_probe.expect_error(400, Some("invalidValue"), "\"attributes\" is not UTF-8");
    // Raw bytes that are not UTF-8 (or not allowed) in the request line: the HTTP layer
    // refuses them before any route, with a 400.
    for target in [
        &b"/Users?filter=userName eq \"\xff\""[..],
        b"/Users?\xff\xfe",
        b"/Users/\xc3\x28",
    ] {
        let r = raw(&app, head(&app, "GET", target, ""), Vec::new()).await;
        assert_not_5xx(r.status.as_u16(), &String::from_utf8_lossy(target));
        assert!(
            r.status.as_u16() >= 400,
            "{}: {}",
            String::from_utf8_lossy(target),
            r.status
        );
    }
    assert_healthy(&app).await;
}

// ---------------------------------------------------------------------------------------------
// 4. PATCH

/// 5,000 operations: refused with the limit. 1,000 where one is bad: 400 naming it, and
/// nothing applied. 1,000 good ones: applied, quickly.
async fn patch_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;
    let path = format!("/Users/{id}");
    let op =
        |i: usize| json!({"op": "replace", "path": "displayName", "value": format!("name {i}")});

    let ops: Vec<Value> = (0..5000).map(op).collect();
    app.scim("PATCH", &path, Some(patch(json!(ops))))
        .await
        .expect_error(400, Some("invalidValue"), "at most 1000");

    for (bad, scim_type, needle) in [
        (
            json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}),
            "invalidPath",
            "noSuchAttribute",
        ),
        (
            json!({"op": "explode", "path": "displayName", "value": "x"}),
            "invalidSyntax",
            "explode",
        ),
        (json!({"op": "remove"}), "noTarget", "path"),
        (
            json!({"op": "replace", "path": "active", "value": [1, 2]}),
            "invalidValue",
            "active",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq ", "value": "x"}),
            "invalidPath",
            "expected a value",
        ),
    ] {
        let mut ops: Vec<Value> = (0..1000).map(op).collect();
        ops[637] = bad;
        let r = app.scim("PATCH", &path, Some(patch(json!(ops)))).await;
        let r = r.expect_error(400, Some(scim_type), needle);
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("Operations[637]") && detail.len() < 2000,
            "the detail names the operation: {detail}"
        );
        let r = app.scim("GET", &path, None).await.expect(200);
        assert_eq!(
            r.body["displayName"], "target@contoso.com Display",
            "nothing applied"
        );
        assert_eq!(r.body["meta"]["version"], "W/\"1\"", "nothing applied");
    }

    let started = Instant::now();
    let ops: Vec<Value> = (0..1000).map(op).collect();
    let r = app
        .scim("PATCH", &path, Some(patch(json!(ops))))
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "name 999");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "1000 operations took {:?}",
        started.elapsed()
    );
    // 1000 adds of emails values: the multi-valued cap holds, naming the operation that broke it.
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@contoso.com"), "type": "other"}]}))
        .collect();
    let r = app.scim("PATCH", &path, Some(patch(json!(ops)))).await;
    r.expect_error(
        400,
        Some("invalidValue"),
        "Operations[999]: attribute \"emails\" would have 1001 values; at most 1000",
    );
    assert_healthy(&app).await;
}

/// The costliest PATCH the caps let through (1,000 operations, each a 41-term value filter
/// tested against 1,000 emails; 4.6 s of CPU when it ran): a 400 `tooMany` that says what to
/// send instead, with nothing changed. Entra's PATCH of the same user still applies, and so
/// do a thousand plain operations and a costly-but-bounded one (one operation of that kind).
async fn costliest_patch_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_with_emails("many@contoso.com", 1000)),
        )
        .await
        .expect(201);
    let path = format!("/Users/{}", r.body["id"].as_str().expect("id"));

    let body = costliest_patch(true);
    let len = body.to_string().len();
    assert!(
        len > 900_000 && len < 1024 * 1024,
        "inside the body limit: {len} bytes"
    );
    let r = app.scim("PATCH", &path, Some(body)).await;
    let r = r.expect_error(
        400,
        Some("tooMany"),
        "fewer operations or simpler value filters",
    );
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("nothing was changed") && detail.contains("Operations["),
        "{detail}"
    );
    let r = app.scim("GET", &path, None).await.expect(200);
    assert_eq!(r.body["displayName"], "Many Emails", "nothing applied");
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(1000));
    assert_eq!(r.body["meta"]["version"], "W/\"1\"", "nothing applied");

    // Ordinary PATCHes of that user keep working, over its 1,000 emails.
    let r = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "Replace", "path": "displayName", "value": "Still Many"},
                {"op": "remove", "path": "emails[value eq \"e0999@many.example\"]"},
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["emails"][0]["value"], "new@contoso.com");
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(999));
    // One operation of the costly kind is bounded work, and applies.
    let one = costliest_patch(true)["Operations"][998].clone();
    let r = app
        .scim("PATCH", &path, Some(patch(json!([one]))))
        .await
        .expect(200);
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(998));
    assert_healthy(&app).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Tokens

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The real signing key (kid, secret), and the ids of tenants `acme` and `globex` with the jti
/// of one live token each.
struct Forge {
    kid: String,
    secret: Vec<u8>,
    acme: (String, String),
    globex: (String, String),
}

impl Forge {
    fn claims(&self, tenant: &(String, String)) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"tenant": tenant.0, "jti": tenant.1, "iat": now, "exp": now + 3600, "aud": "scimd"})
    }

    fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value, secret: &[u8]) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
    }

    /// Any header, signed with HMAC-SHA256 under the real key.
    fn hs256_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.secret);
        let sig = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

fn forge(app: &TestApp, globex_token: &str) -> Forge {
    let jti_of = |jwt: &str| -> String {
        let payload = jwt.split('.').nth(1).expect("payload");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["jti"].as_str().unwrap().to_string()
    };
    app.state
        .service
        .store
        .read_blocking(|conn| {
            let key = scimd::store::tokens::list_signing_keys(conn)?.remove(0);
            let secret = base64::engine::general_purpose::STANDARD
                .decode(&key.secret)
                .expect("key");
            let acme = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("acme");
            let globex =
                scimd::store::tenants::find_tenant_by_slug(conn, "globex")?.expect("globex");
            Ok::<_, scimd::store::StoreError>(Forge {
                kid: key.kid,
                secret,
                acme: (acme.id, jti_of(&app.token)),
                globex: (globex.id, jti_of(globex_token)),
            })
        })
        .expect("keys")
}

async fn auth_status(app: &TestApp, token: &str) -> Reply {
    let url = format!(
        "{}/Users?filter=userName+eq+%22x%22",
        app.tenant_url("acme")
    );
    app.send("GET", &url, Some(token), None).await
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let r = auth_status(app, token).await;
    assert_eq!(r.status.as_u16(), 401, "{what}: {}", r.body);
    let r = r.expect_error(401, None, "bearer token");
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some("Bearer realm=\"scimd\""),
        "{what}"
    );
}

/// Forged and confused tokens: each 401 with `WWW-Authenticate: Bearer`. A correctly forged
/// token (real key, real jti) passes, so each refusal is for the one thing changed.
async fn token_attacks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex_token = app.add_tenant("globex");
    let f = forge(&app, &globex_token);
    let acme = f.claims(&f.acme);

    // Control: real key, real claims.
    let good = f.sign(Algorithm::HS256, Some(&f.kid), &acme, &f.secret);
    auth_status(&app, &good).await.expect(200);

    let payload = b64(acme.to_string().as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    assert_refused(&app, &none, "alg none").await;
    let none_kid = format!(
        "{}.{payload}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": f.kid})
            .to_string()
            .as_bytes())
    );
    assert_refused(&app, &none_kid, "alg none with kid").await;
    let none_sig = format!(
        "{}.{payload}.{}",
        b64(br#"{"alg":"none"}"#),
        good.split('.').nth(2).unwrap()
    );
    assert_refused(&app, &none_sig, "alg none with a signature").await;
    let rs_hs = f.hs256_with_header(&json!({"alg": "RS256", "typ": "JWT", "kid": f.kid}), &acme);
    assert_refused(&app, &rs_hs, "RS256 header, HMAC signature").await;
    let lower = f.hs256_with_header(&json!({"alg": "hs256", "typ": "JWT", "kid": f.kid}), &acme);
    assert_refused(&app, &lower, "alg hs256 in lower case").await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS512, Some(&f.kid), &acme, &f.secret),
        "HS512",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS384, Some(&f.kid), &acme, &f.secret),
        "HS384",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some("no-such-kid"), &acme, &f.secret),
        "unknown kid",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, None, &acme, &f.secret),
        "no kid",
    )
    .await;
    let odd_kid = f.hs256_with_header(
        &json!({"alg": "HS256", "kid": "x\u{0}'; DROP TABLE tokens; --"}),
        &acme,
    );
    assert_refused(&app, &odd_kid, "hostile kid").await;
    let kid_number = f.hs256_with_header(&json!({"alg": "HS256", "kid": 7}), &acme);
    assert_refused(&app, &kid_number, "kid not a string").await;

    let mut claims = acme.clone();
    claims["aud"] = json!("another-service");
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "aud changed",
    )
    .await;
    claims["aud"] = json!(["another-service"]);
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "aud list without scimd",
    )
    .await;
    let mut claims = acme.clone();
    claims.as_object_mut().unwrap().remove("aud");
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "no aud",
    )
    .await;
    let mut claims = acme.clone();
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "no exp",
    )
    .await;
    for exp in [json!("never"), json!(null), json!(1e300), json!(-1)] {
        let mut claims = acme.clone();
        claims["exp"] = exp.clone();
        assert_refused(
            &app,
            &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
            &format!("exp {exp}"),
        )
        .await;
    }
    let mut claims = acme.clone();
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "expired exp",
    )
    .await;
    let mut claims = acme.clone();
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "unknown jti",
    )
    .await;
    let mut claims = acme.clone();
    claims["jti"] = json!("x\u{0}y");
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "jti with NUL",
    )
    .await;
    let mut claims = acme.clone();
    claims.as_object_mut().unwrap().remove("tenant");
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &claims, &f.secret),
        "no tenant",
    )
    .await;

    let other_key = [7u8; 32];
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &acme, &other_key),
        "another key",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &acme, b""),
        "empty key",
    )
    .await;

    // Another tenant: its genuine token, a forged one with its id, and a mix of both.
    assert_refused(&app, &globex_token, "globex's own token on acme").await;
    let globex = f.claims(&f.globex);
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &globex, &f.secret),
        "globex claims",
    )
    .await;
    let mut mixed = acme.clone();
    mixed["jti"] = json!(f.globex.1);
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &mixed, &f.secret),
        "acme tenant, globex jti",
    )
    .await;
    let mut mixed = globex.clone();
    mixed["jti"] = json!(f.acme.1);
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &mixed, &f.secret),
        "globex tenant, acme jti",
    )
    .await;

    // Shapes that are not JWTs at all.
    for junk in [
        "a.b.c",
        "..",
        "....",
        "eyJ.eyJ.eyJ",
        &"a".repeat(8000),
        &format!("{good}.extra"),
        &good.replace('.', ""),
    ] {
        assert_refused(&app, junk, "junk").await;
    }

    // Extremely long Authorization headers: never a 5xx (the HTTP layer may refuse them first).
    for len in [16 * 1024, 100 * 1024] {
        let long = format!("{good}{}", "A".repeat(len));
        let r = auth_status(&app, &long).await;
        assert!(
            matches!(r.status.as_u16(), 400 | 401 | 413 | 431),
            "{len}-byte token: {} {}",
            r.status,
            r.body
        );
        let long_h = head(
            &app,
            "GET",
            b"/Users",
            &format!("X-Padding: {}\r\n", "p".repeat(len)),
        );
        let r = raw(&app, long_h, Vec::new()).await;
        assert!(r.status.as_u16() < 500, "{len}-byte header: {}", r.status);
    }
    // Still fine afterwards, with the genuine token.
    auth_status(&app, &app.token).await.expect(200);
    assert_healthy(&app).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Logs

/// One provisioning cycle and an admin login against the real binary at debug level; the
/// log must not hold the token, the passwords, the session, or the mail of a filter, and
/// every request line must carry a request id and a status.
async fn run_cycle_and_check_logs(backend: &Backend, json_logs: bool) {
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
    let client = awc::Client::builder().disable_redirects().finish();
    let tenant_url = format!("{}/scim/v2/tenants/acme", served.base);
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let mail = format!("Secret.Mail.{unique}@Contoso.com");
    let user_name = format!("upn-{unique}@contoso.com");

    let call = |method: &str, path: &str, body: Option<Value>, bearer: &str| {
        let (client, method) = (&client, method.to_string());
        let (url, bearer) = (format!("{tenant_url}{path}"), bearer.to_string());
        async move {
            let r = Reply::send(client, &method, &url, Some(&bearer), body.as_ref()).await;
            (r.status.as_u16(), r.body)
        }
    };
    let q = |filter: &str| serde_urlencoded::to_string([("filter", filter)]).expect("encode");

    // Test Connection, match on mail, create, match again, deactivate, read, delete.
    let (status, _) = call(
        "GET",
        &format!(
            "/Users?{}",
            q(&format!("userName eq \"{}\"", uuid::Uuid::new_v4()))
        ),
        None,
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let by_mail = q(&format!("emails[type eq \"work\"].value eq \"{mail}\""));
    let (status, body) = call("GET", &format!("/Users?{by_mail}"), None, &token).await;
    assert_eq!((status, body["totalResults"].as_i64()), (200, Some(0)));
    let (status, body) = call("POST", "/Users", Some(user_body(&user_name, &mail)), &token).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let (status, body) = call("GET", &format!("/Users?{by_mail}"), None, &token).await;
    assert_eq!((status, body["totalResults"].as_i64()), (200, Some(1)));
    let (status, _) = call(
        "POST",
        "/Users",
        Some(user_body(&format!("dup-{user_name}"), &mail)),
        &token,
    )
    .await;
    assert_eq!(status, 409);
    let ops = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(
        call("PATCH", &format!("/Users/{id}"), Some(ops), &token)
            .await
            .0,
        200
    );
    assert_eq!(
        call("GET", &format!("/Users/{id}"), None, &token).await.0,
        200
    );
    let (status, _) = call(
        "POST",
        "/Users/.search",
        Some(search_body(&format!("emails.value eq \"{mail}\""))),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    // Refusals whose details quote the input back to the client (which is what a client
    // needs) must not copy it into the log.
    let (status, body) = call(
        "GET",
        &format!(
            "/Users?{}",
            q(&format!("emails.value eq \"{mail}\" \"{mail}\""))
        ),
        None,
        &token,
    )
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
    let (status, body) = call("PATCH", &format!("/Users/{id}"), Some(ops), &token).await;
    assert_eq!(status, 400, "{body}");
    // A tampered token and a wrong tenant are refused (and the refusal is logged without them).
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        call("GET", &format!("/Users?{by_mail}"), None, &tampered)
            .await
            .0,
        401
    );
    assert_eq!(
        call("DELETE", &format!("/Users/{id}"), None, &token)
            .await
            .0,
        204
    );

    // Admin page: a wrong password, then the right one, then the tenant page.
    let wrong_password = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let mut browser = CookieClient::new(&served.base);
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
                ("password", &password),
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
        ("a wrong password", wrong_password),
        (
            "a username that is not one",
            typed_in_username
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
    for s in session {
        secrets.push(("a cookie", s));
    }
    let lower = log.to_lowercase();
    for (what, secret) in &secrets {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{what} is in the server log ({}):\n{log}",
            if json_logs { "json" } else { "text" }
        );
    }
    for (what, stderr) in [
        ("tenant create", &tenant_err),
        ("token issue", &issue_err),
        ("admin create", &admin_err),
    ] {
        assert!(
            !stderr.contains(&token) && !stderr.contains(&password),
            "scimd {what} logs a secret: {stderr}"
        );
    }

    // Request lines: one per request, each with a request id and the status.
    let done: Vec<&str> = log.lines().filter(|l| l.contains("request done")).collect();
    assert!(
        done.len() >= 14,
        "expected a line per request, got {}:\n{log}",
        done.len()
    );
    for line in &done {
        if json_logs {
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
    // A refusal's kind is on its line; its detail (which quotes the request) is not.
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
    // Route templates, not concrete paths with ids.
    assert!(
        !log.contains(&id) || !done.iter().any(|l| l.contains(&id)),
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

async fn secrets_stay_out_of_logs(backend: Backend) {
    run_cycle_and_check_logs(&backend, false).await;
    run_cycle_and_check_logs(&backend, true).await;
}

/// Every query parameter of a write is read before anything is written: a bad `attributes`
/// is a 400 and the resource is as it was (no new version, no log entry).
async fn bad_parameters_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "alice@contoso.com").await;
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Changed"}]));
    for target in [
        format!("/Users/{id}?attributes=na%20me"),
        format!("/Users/{id}?excludedAttributes=a..b"),
    ] {
        let r = app.scim("PATCH", &target, Some(rename.clone())).await;
        assert_eq!(r.status.as_u16(), 400, "{target}: {}", r.body);
        let mut put = user_body("alice", "alice@contoso.com");
        put["displayName"] = json!("Put");
        let r = app.scim("PUT", &target, Some(put)).await;
        assert_eq!(r.status.as_u16(), 400, "{target}: {}", r.body);
    }
    let user = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(user.body["displayName"], "alice Display");
    assert_eq!(user.body["meta"]["version"], "W/\"1\"");
    let r = app
        .scim(
            "POST",
            "/Users?attributes=na%20me",
            Some(user_body("bob", "bob@contoso.com")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let found = app.filter_users("userName eq \"bob\"").await.expect(200);
    assert_eq!(
        found.body["totalResults"], 0,
        "POST with a bad parameter stored the user"
    );
    let group = app
        .scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"})))
        .await
        .expect(201);
    let gid = group.body["id"].as_str().expect("id").to_string();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    let r = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}?attributes=na%20me"),
            Some(add),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let g = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(g.body["meta"]["version"], "W/\"1\"");
    assert!(
        g.body["members"].as_array().is_none_or(Vec::is_empty),
        "{}",
        g.body
    );
    // A projection that parses applies to a write's answer.
    let r = app
        .scim(
            "PATCH",
            &format!("/Users/{id}?attributes=displayName"),
            Some(rename),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Changed");
    assert!(r.body.get("emails").is_none(), "{}", r.body);
}

/// The smaller findings: a no-op member remove changes nothing; every answer says
/// `nosniff`; the login form's CSRF pair cannot be chosen by the client; a huge tenant name
/// is refused; an over-long URI is a 414 with a SCIM body.
async fn smaller_findings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "alice@contoso.com").await;
    let other = app.create_user("bob", "bob@contoso.com").await;
    let group = app
        .scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "members": [{"value": id}]})))
        .await
        .expect(201);
    let gid = group.body["id"].as_str().expect("id").to_string();
    let acme_id = app.tenant_id("acme");
    let events_before = app
        .state
        .service
        .store
        .read_blocking(|c| scimd::store::events::events_after(c, &acme_id, 0, 1000))
        .expect("events")
        .len();
    for ops in [
        json!([{"op": "remove", "path": "members", "value": [{"value": other}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{other}\"]")}]),
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
    ] {
        let r = app
            .scim("PATCH", &format!("/Groups/{gid}"), Some(patch(ops.clone())))
            .await;
        assert!(r.status.is_success(), "{ops}: {}", r.body);
    }
    let g = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(
        g.body["meta"]["version"], "W/\"1\"",
        "a no-op membership change moved the version"
    );
    let events_after = app
        .state
        .service
        .store
        .read_blocking(|c| scimd::store::events::events_after(c, &acme_id, 0, 1000))
        .expect("events")
        .len();
    assert_eq!(
        events_before, events_after,
        "a no-op membership change was logged"
    );

    for path in ["/healthz", "/admin", "/scim/v2/tenants/acme/Users"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(
            resp.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
    }

    // A client-chosen CSRF pair for the login form is refused.
    let form = "csrf=chosen&username=alice&password=whatever";
    let resp = app
        .client
        .post(format!("{}/admin/login", app.base))
        .insert_header(("Cookie", "scimd_login_csrf=chosen"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(form)
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 403);

    let long_name = "n".repeat(200_000);
    let refused = app.state.service.clone();
    let refused = scimd::service::tenants::create_tenant(&refused, "huge", Some(&long_name)).await;
    let e = refused.expect_err("a 200 KB tenant name");
    assert!(e.detail.contains("at most 200"), "{}", e.detail);

    let filter = format!("userName eq \"{}\"", "x".repeat(20_000));
    let q = serde_urlencoded::to_string([("filter", filter.as_str())]).expect("encode");
    let r = app.scim("GET", &format!("/Users?{q}"), None).await;
    r.expect_error(414, None, ".search");
}

/// An unknown `kid` re-reads the signing keys at most once a second, not per request.
async fn forged_kids_do_not_reload_keys(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.rate_limit_address = 0).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("forged-kid".into());
    let claims =
        json!({"tenant": "x", "jti": "y", "iat": 0, "exp": 4_000_000_000i64, "aud": "scimd"});
    let forged =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"guess")).expect("jwt");
    let started = Instant::now();
    for _ in 0..200 {
        let r = app
            .send(
                "GET",
                &format!("{}/Users", app.tenant_url("acme")),
                Some(&forged),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 401);
    }
    let loads = app.state.service.keys.reloads();
    eprintln!(
        "200 forged-kid requests in {:?}: {loads} key reloads",
        started.elapsed()
    );
    assert!(loads <= 1 + started.elapsed().as_secs(), "{loads} reloads");
    app.scim("GET", "/Users", None).await.expect(200);
}

crate::helpers::backend_tests!(
    bad_parameters_write_nothing,
    smaller_findings,
    forged_kids_do_not_reload_keys,
    oversized_bodies_get_413,
    malformed_bodies_get_400,
    content_types,
    nul_characters,
    pathological_filters,
    query_parameters,
    patch_limits,
    costliest_patch_is_refused,
    token_attacks,
    secrets_stay_out_of_logs,
);
