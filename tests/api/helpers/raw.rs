//! Requests whose bytes the test chooses: a body and headers of its own through awc
//! ([`send_bytes`]), and a bare HTTP/1.1 exchange over TCP ([`raw`]) for what awc will not
//! send — bytes that are not UTF-8 in the request line or a header, hand-made chunked
//! bodies ([`chunked`]), a Content-Length that no body follows. [`raw_head`] writes the head.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Reply, TestApp};

/// A request to tenant `acme` with its token, raw body bytes and headers of our choosing,
/// through awc; `path` is relative to the tenant URL.
pub async fn send_bytes(
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
    let bytes = resp.body().limit(64 * 1024 * 1024).await.expect("body");
    Reply::of(resp.status().as_u16(), resp.headers(), &bytes)
}

/// A raw HTTP/1.1 exchange over TCP: `head` (see [`raw_head`]), then `body`. The body is
/// written from a second thread so a server that answers early (413) cannot deadlock us;
/// the reply must come within 10 s.
pub async fn raw(app: &TestApp, head: Vec<u8>, body: Vec<u8>) -> Reply {
    let addr = app.base.trim_start_matches("http://").to_string();
    actix_web::rt::task::spawn_blocking(move || raw_blocking(&addr, head, body))
        .await
        .expect("raw exchange")
}

/// A request head for the tenant `acme` with its token and `Connection: close`; `target` is
/// relative to the tenant URL (any bytes), `extra` is more header lines, each ending `\r\n`.
pub fn raw_head(app: &TestApp, method: &str, target: &[u8], extra: &str) -> Vec<u8> {
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
pub fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
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

/// A chunked body's data, once its last chunk has arrived.
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
