//! `--webhook`: a receiver on 127.0.0.1 for the server's webhooks. It answers 204 at once
//! and notes, per message, how long after the change (the body's `timestamp`) it arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver has seen: per delivery, its arrival and its delay after the change.
#[derive(Default)]
pub struct Seen {
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// Milliseconds from the change to the delivery's arrival.
    pub delays_ms: Vec<i64>,
}

/// The receiver, running on its own threads until the bench ends.
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    /// Listen on a free port.
    pub fn start() -> Result<Receiver, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let accepting = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&accepting);
                std::thread::spawn(move || serve(stream, &seen));
            }
        });
        Ok(Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            seen,
        })
    }

    /// Wait until no delivery arrived for `quiet` (at most `limit`); the count so far.
    pub fn settle(&self, quiet: Duration, limit: Duration) -> usize {
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let idle = seen.last.is_none_or(|l| l.elapsed() >= quiet);
            if idle || started.elapsed() >= limit {
                return seen.delays_ms.len();
            }
        }
    }
}

/// Serve one keep-alive connection of the sender's.
fn serve(stream: TcpStream, seen: &Mutex<Seen>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let arrived = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let changed_ms = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("timestamp")?.as_str().map(str::to_string))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.timestamp_millis());
        {
            let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
            s.first.get_or_insert(arrived);
            s.last = Some(arrived);
            if let Some(changed) = changed_ms {
                s.delays_ms.push(now_ms - changed);
            }
        }
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
