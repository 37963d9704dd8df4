//! A webhook receiver on 127.0.0.1: it keeps every request it gets and answers with the
//! status the test sets (200 by default; 503 while "down").

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Whether `webhook-signature` is the HMAC-SHA256 the Standard Webhooks specification
    /// defines, computed here from the secret, with ring (not with scimd's code).
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_ secret"))
            .expect("base64 secret");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signed = format!("{}.{}.{}", self.id, self.timestamp, self.body);
        let Some(sig) = self.signature.strip_prefix("v1,") else {
            return false;
        };
        let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return false;
        };
        ring::hmac::verify(&key, signed.as_bytes(), &tag).is_ok()
    }
}

/// The receiver; it runs until the test ends.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    /// Start one on a free port of 127.0.0.1, at path `/hook`.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (got2, status2, delay2) =
            (Arc::clone(&got), Arc::clone(&status), Arc::clone(&delay_ms));
        let server = HttpServer::new(move || {
            let (got, status, delay) =
                (Arc::clone(&got2), Arc::clone(&status2), Arc::clone(&delay2));
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (got, status, delay) =
                        (Arc::clone(&got), Arc::clone(&status), Arc::clone(&delay));
                    async move {
                        let wait = delay.load(Ordering::SeqCst);
                        if wait > 0 {
                            actix_web::rt::time::sleep(Duration::from_millis(wait)).await;
                        }
                        let header = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let answered = status.load(Ordering::SeqCst);
                        got.lock().unwrap().push(Received {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                            answered,
                        });
                        HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(answered).expect("status"),
                        )
                        .finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            got,
            status,
            delay_ms,
        }
    }

    /// Answer each request only after this long from now on (a slow receiver).
    pub fn delay(&self, wait: Duration) {
        self.delay_ms
            .store(u64::try_from(wait.as_millis()).unwrap(), Ordering::SeqCst);
    }

    /// Answer every request with this status from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests answered 2xx, each message once (by `webhook-id`), in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered) && seen.insert(r.id.clone()))
            .collect()
    }

    /// Wait (up to 10 s) until the message `id` was answered 200 `n` times (a replay repeats
    /// it); how many times it was.
    pub async fn wait_for_copies(&self, id: &str, n: usize) -> usize {
        let copies = || {
            self.all()
                .iter()
                .filter(|r| r.id == id && r.answered == 200)
                .count()
        };
        for _ in 0..100 {
            if copies() >= n {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        copies()
    }

    /// Wait (up to `limit`) until `done` holds for the delivered messages; them.
    pub async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let delivered = self.delivered();
            if done(&delivered) || Instant::now() >= deadline {
                return delivered;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A receiver that answers 200 at once and then trickles its body, a byte a second for
/// minutes: it holds whoever waits for the body.
pub struct Trickler {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl Trickler {
    /// Start one on a free port of 127.0.0.1 (threads of its own, until the test ends).
    pub fn start() -> Trickler {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let mut seen = Vec::new();
                    // The request's head (the body follows it; its bytes do not matter).
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 300\r\n\r\n";
                    if stream.write_all(head).is_err() {
                        return;
                    }
                    for _ in 0..300 {
                        std::thread::sleep(Duration::from_secs(1));
                        if stream.write_all(b"x").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Trickler {
            url: format!("http://127.0.0.1:{port}/hook"),
            requests,
        }
    }

    /// Requests it has been sent so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
