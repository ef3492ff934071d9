//! Real mail servers for tests, each with a password user and STARTTLS or TLS on a
//! certificate from a CA the test made: an SMTP server (aiosmtpd, apt `python3-aiosmtpd`)
//! that keeps every message it accepts as a file, and a Dovecot IMAP server (apt
//! `dovecot-imapd`) with a maildir the test delivers into. On 127.0.0.1, a port chosen at
//! start, stopped when dropped.

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
        stop(&mut self.child, &self.dir);
    }
}

/// SIGTERM (a server's master process stops its children), at most 5 s to go, then
/// SIGKILL; the folder is removed.
fn stop(child: &mut Child, dir: &std::path::Path) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// How the IMAP server encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapMode {
    /// Plain first, STARTTLS before signing in (port 143 style; plain-text LOGIN refused).
    StartTls,
    /// TLS from the first byte (port 993 style).
    Tls,
}

/// A Dovecot IMAP server with one maildir user, configured by the test in its own folder
/// (apt `dovecot-imapd`). Messages are delivered by writing maildir files.
pub struct ImapServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub ca: PathBuf,
    dir: PathBuf,
    child: Child,
    delivered: std::sync::atomic::AtomicU32,
}

impl ImapServer {
    pub fn start(mode: ImapMode) -> ImapServer {
        let dir = server_dir("imap");
        let ca = make_certificate(&dir);
        let port = free_port();
        let (user, password) = ("alice".to_string(), "imap p@ss word".to_string());
        std::fs::write(dir.join("users"), format!("{user}:{{PLAIN}}{password}::::::\n")).expect("users file");
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).expect("mail folder");
        let (plain_port, tls_port) = match mode {
            ImapMode::StartTls => (port, 0),
            ImapMode::Tls => (0, port),
        };
        let config = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = required\nssl_cert = <{d}/server.crt\nssl_key = <{d}/server.key\n\
             disable_plaintext_auth = yes\nauth_mechanisms = plain login\n\
             mail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 1\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {plain_port}\n  }}\n  \
             inet_listener imaps {{\n    port = {tls_port}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("dovecot.conf"), config).expect("dovecot.conf");
        let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&mail).status();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).map(Stdio::from).unwrap_or(Stdio::null()))
            .spawn()
            .expect("dovecot (run `cargo xtask setup`)");
        let server =
            ImapServer { port, user, password, ca, dir, child, delivered: std::sync::atomic::AtomicU32::new(0) };
        wait_until("Dovecot", Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        server
    }

    fn maildir(&self) -> PathBuf {
        self.dir.join("mail").join(&self.user)
    }

    /// Delivers a message into the INBOX as a mail server does: written to `tmp/`, then
    /// renamed into `new/`.
    pub fn deliver(&self, raw: &[u8]) {
        let maildir = self.maildir();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let n = self.delivered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{}.P{}Q{n}.switchyard-test", chrono_free_seconds(), std::process::id());
        std::fs::write(maildir.join("tmp").join(&name), raw).expect("message file");
        std::fs::rename(maildir.join("tmp").join(&name), maildir.join("new").join(&name)).expect("deliver");
        let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&maildir).status();
    }

    /// Deletes the INBOX with its index (as if it was removed and made again): the next
    /// delivery creates it with a new UIDVALIDITY.
    pub fn recreate_inbox(&self) {
        let _ = std::fs::remove_dir_all(self.maildir());
    }

    /// The flags of the INBOX's messages that the server has seen (maildir `:2,` suffixes of
    /// `cur/`), e.g. `["S", "S"]` for two read messages.
    pub fn seen_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = std::fs::read_dir(self.maildir().join("cur"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_string_lossy().split(":2,").nth(1).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        flags.sort();
        flags
    }

    /// Whether a user is signed in (an IMAP session is open), per `doveadm who`.
    pub fn signed_in(&self) -> bool {
        Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .arg("who")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&self.user))
    }
}

fn chrono_free_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        stop(&mut self.child, &self.dir);
    }
}
