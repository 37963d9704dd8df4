//! The `scimd` command line, run as the built binary.

use std::io::Write;
use std::process::{Command, Stdio};

use super::Turn;

/// A `scimd` command line: on a database or none, with a public URL and a log level.
#[derive(Debug, Clone)]
pub struct Cli {
    database_url: Option<String>,
    public_url: Option<String>,
    log_level: String,
}

/// What a `scimd` command printed.
#[derive(Debug)]
pub struct CliOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// (ok, stdout, stderr)
    pub fn into_parts(self) -> (bool, String, String) {
        (self.ok, self.stdout, self.stderr)
    }
}

impl Cli {
    /// `scimd --database-url URL …`, logging warnings only.
    pub fn on(database_url: &str) -> Cli {
        Cli {
            database_url: Some(database_url.to_string()),
            ..Cli::bare()
        }
    }

    /// `scimd …` without a database (commands that bring their own, like `bench`).
    pub fn bare() -> Cli {
        Cli {
            database_url: None,
            public_url: None,
            log_level: "warn".into(),
        }
    }

    /// With `--public-url`.
    pub fn public_url(mut self, url: &str) -> Cli {
        self.public_url = Some(url.to_string());
        self
    }

    /// With this `RUST_LOG`.
    pub fn log_level(mut self, level: &str) -> Cli {
        self.log_level = level.to_string();
        self
    }

    /// Run a command with nothing on standard input.
    pub fn run(&self, args: &[&str]) -> CliOutput {
        self.run_with_stdin(args, None)
    }

    /// Run a command, writing `stdin` to its standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        Turn::assert_held();
        let mut command = Command::new(env!("CARGO_BIN_EXE_scimd"));
        if let Some(url) = &self.database_url {
            command.args(["--database-url", url]);
        }
        if let Some(url) = &self.public_url {
            command.args(["--public-url", url]);
        }
        let mut child = command
            .args(args)
            .env("RUST_LOG", &self.log_level)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run scimd");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("scimd output");
        CliOutput {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Run a command that must succeed.
    pub fn run_ok(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let out = self.run_with_stdin(args, stdin);
        assert!(out.ok, "scimd {args:?}: {}", out.stderr);
        out
    }

    /// Run a command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run_ok(args, None).stdout
    }
}
