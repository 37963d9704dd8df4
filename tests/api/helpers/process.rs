//! Processes a test starts: `scimd serve` on a port of its own (its log kept in a file), and
//! any other child (a WebDriver). Each is killed and reaped when its guard is dropped, so a
//! failing test leaves nothing running.

use std::fs::OpenOptions;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Turn;

/// A child process of the test: killed (SIGKILL) and reaped when dropped.
pub struct Process(Child);

impl Process {
    /// Start `command`.
    pub fn spawn(command: &mut Command) -> Process {
        Turn::assert_held();
        Process(command.spawn().expect("start a child process"))
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL, then reap it.
    pub fn kill(&mut self) {
        self.0.kill().expect("kill");
        self.0.wait().expect("reap");
    }

    /// Ask it to stop (SIGTERM), as a service manager would.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {}", self.id());
    }

    /// Its exit status once it has exited within `limit`, else None.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `scimd [--database-url URL --bind 127.0.0.1:PORT FLAGS…] serve`, to be started (and
/// started again on the same port) as a process of its own.
pub struct ServeCommand {
    database_url: String,
    port: u16,
    flags: Vec<String>,
    log_level: String,
    json_logs: bool,
}

impl ServeCommand {
    /// `scimd serve` on `database_url` and a free port, logging warnings only.
    pub fn new(database_url: &str) -> ServeCommand {
        ServeCommand {
            database_url: database_url.to_string(),
            port: free_port(),
            flags: Vec::new(),
            log_level: "warn".into(),
            json_logs: false,
        }
    }

    /// With these flags of `serve` too.
    pub fn flags(mut self, flags: &[&str]) -> ServeCommand {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// With this `RUST_LOG`.
    pub fn log_level(mut self, level: &str) -> ServeCommand {
        self.log_level = level.to_string();
        self
    }

    /// Logging JSON lines (`SCIMD_LOG_FORMAT=json`) instead of text.
    pub fn json_logs(mut self, json: bool) -> ServeCommand {
        self.json_logs = json;
        self
    }

    /// The base URL it will serve.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&self, log: &tempfile::NamedTempFile) -> Process {
        let stderr = OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_scimd"));
        command
            .arg("serve")
            .args(["--database-url", &self.database_url])
            .args(["--bind", &format!("127.0.0.1:{}", self.port)])
            .args(&self.flags)
            .env("RUST_LOG", &self.log_level)
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        if self.json_logs {
            command.env("SCIMD_LOG_FORMAT", "json");
        } else {
            command.env_remove("SCIMD_LOG_FORMAT");
        }
        Process::spawn(&mut command)
    }

    /// Start it and wait until it is ready.
    pub async fn start(self) -> Served {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let process = self.spawn(&log);
        let mut served = Served {
            base: self.base(),
            command: self,
            process,
            log,
            client: awc::Client::default(),
        };
        served.wait_ready().await;
        served
    }
}

/// A running `scimd serve` process.
pub struct Served {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub process: Process,
    command: ServeCommand,
    log: tempfile::NamedTempFile,
    client: awc::Client,
}

impl Served {
    /// What it has logged so far (every start's standard error).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log.path()).expect("log")).into_owned()
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.command.port)
    }

    /// Start it again after it stopped: the same command line, port and log.
    pub async fn restart(&mut self) {
        self.process = self.command.spawn(&self.log);
        self.wait_ready().await;
    }

    /// Wait until `/readyz` answers 2xx (up to 30 s), failing with its log if it does not
    /// or if it exits.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            let exited = self.process.0.try_wait().expect("try_wait");
            if exited.is_some() || Instant::now() >= deadline {
                panic!(
                    "scimd serve at {} did not become ready (exit: {exited:?}):\n{}",
                    self.base,
                    self.log()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Users POSTed by writers that run until the server goes away (the kill -9 tests): each
/// acknowledged user's (id, mail), as the 201s come in.
pub struct CreateBurst {
    pub acked: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    writers: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl CreateBurst {
    /// Start `writers` writers POSTing users to `users` (a tenant's /Users URL) with `token`.
    pub fn start(client: &awc::Client, users: &str, token: &str, writers: usize) -> CreateBurst {
        let acked: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
        let writers = (0..writers)
            .map(|w| {
                let (client, users, token, acked) = (
                    client.clone(),
                    users.to_string(),
                    token.to_string(),
                    std::sync::Arc::clone(&acked),
                );
                actix_web::rt::spawn(async move {
                    for i in 0.. {
                        let mail = format!("w{w}.u{i}@contoso.com");
                        let sent = client
                            .post(&users)
                            .insert_header(("Authorization", format!("Bearer {token}")))
                            .insert_header(("Content-Type", "application/scim+json"))
                            .send_body(super::user_body(&mail, &mail).to_string())
                            .await;
                        match sent {
                            Ok(mut resp) if resp.status().as_u16() == 201 => {
                                let v: serde_json::Value =
                                    serde_json::from_slice(&resp.body().await.unwrap_or_default())
                                        .unwrap_or_default();
                                if let Some(id) = v["id"].as_str() {
                                    acked.lock().unwrap().push((id.to_string(), mail));
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break, // the server is gone
                        }
                    }
                })
            })
            .collect();
        CreateBurst { acked, writers }
    }

    /// Wait for the writers to stop (the server is gone); the acknowledged users.
    pub async fn finish(self) -> Vec<(String, String)> {
        for w in self.writers {
            let _ = w.await;
        }
        let acked = self.acked.lock().unwrap().clone();
        acked
    }
}
