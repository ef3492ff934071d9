//! Real mail servers for tests: an SMTP server (aiosmtpd, from apt `python3-aiosmtpd`) with
//! a password user, STARTTLS or TLS on a certificate from a CA the test made, that keeps
//! every message it accepts as a file. On 127.0.0.1, a port chosen at start, stopped when
//! dropped.

use crate::servers::{free_port, make_certificate, server_dir, wait_until};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How the SMTP server encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain, then STARTTLS required before AUTH (port 587 style).
    StartTls,
    /// TLS from the first byte (port 465 style).
    Tls,
    /// No encryption (AUTH over plain text, as a local relay).
    Plain,
}

/// One message the server accepted.
#[derive(Debug)]
pub struct Received {
    /// The message as it came, headers and MIME body.
    pub raw: Vec<u8>,
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO` addresses (Bcc included).
    pub to: Vec<String>,
    /// Whether the session was encrypted and signed in.
    pub tls: bool,
    pub authenticated: bool,
}

pub struct SmtpServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    dir: PathBuf,
    child: Child,
}

impl SmtpServer {
    pub fn start(mode: SmtpMode) -> SmtpServer {
        let dir = server_dir("smtp");
        let ca = make_certificate(&dir);
        let messages = dir.join("messages");
        std::fs::create_dir_all(&messages).expect("messages folder");
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, include_str!("smtp_server.py")).expect("server script");
        let port = free_port();
        let (user, password) = ("mailer".to_string(), "smtp p@ss'word".to_string());
        // Debian's python3-aiosmtpd is installed for the system's Python.
        let python = if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--port", &port.to_string(), "--user", &user, "--password", &password])
            .arg("--dir")
            .arg(&messages)
            .args([
                "--mode",
                match mode {
                    SmtpMode::StartTls => "starttls",
                    SmtpMode::Tls => "tls",
                    SmtpMode::Plain => "none",
                },
            ])
            .arg("--cert")
            .arg(dir.join("server.crt"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("server.log")).map(Stdio::from).unwrap_or(Stdio::null()))
            .spawn()
            .expect("python3 with aiosmtpd (run `cargo xtask setup`)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            let _ = child.kill();
            panic!("the SMTP server did not start: {log}");
        }
        SmtpServer { port, user, password, ca, dir, child }
    }

    /// The messages accepted so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let messages = self.dir.join("messages");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&messages)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|meta| {
                let envelope: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(meta).expect("envelope")).expect("envelope JSON");
                Received {
                    raw: std::fs::read(meta.with_extension("eml")).expect("message"),
                    from: envelope["from"].as_str().unwrap_or("").to_string(),
                    to: envelope["to"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(String::from))
                        .collect(),
                    tls: envelope["tls"].as_bool().unwrap_or(false),
                    authenticated: envelope["authenticated"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    /// Waits (bounded) until `n` messages have arrived.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        wait_until("the expected messages", Duration::from_secs(30), || self.received().len() >= n);
        self.received()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
