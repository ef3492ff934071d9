//! Real database servers for tests, each in its own folder under `target/test-servers`, on
//! a port of 127.0.0.1 chosen when it starts, stopped (and its folder removed) when dropped.
//! PostgreSQL refuses to run as root: as root, its folder is handed to `nobody` and the
//! server runs as that user (`runuser`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A folder for one server under `target/test-servers`.
pub(crate) fn server_dir(kind: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-servers")
        .join(format!("{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a server folder under target/");
    dir
}

/// A port on 127.0.0.1 nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` as the user servers run as: `nobody` when this process is root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "nobody", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn give_to_server_user(dir: &Path) {
    if is_root() {
        let status = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir).status().expect("chown");
        assert!(status.success(), "chown of {} failed", dir.display());
    }
}

/// Waits (at most `limit`) until `ready` says yes.
pub(crate) fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "{what} did not start within {} s", limit.as_secs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A CA of its own in `dir` (`ca.crt`) and a certificate for 127.0.0.1 signed by it
/// (`server.crt`, `server.key`): a client that verifies trusts the CA (a certificate that is
/// its own CA is refused as a leaf). Returns the CA's path.
pub fn make_certificate(dir: &Path) -> PathBuf {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {} failed", args.join(" "));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Switchyard test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        .expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    dir.join("ca.crt")
}

/// Where PostgreSQL's server programs are: `SWITCHYARD_PG_BIN`, else the newest of
/// `/usr/lib/postgresql/*/bin` (Debian's layout; `cargo xtask setup` installs it).
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("SWITCHYARD_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect("PostgreSQL's server programs (run `cargo xtask setup`, or set SWITCHYARD_PG_BIN)")
}

/// Sends `signal` to a server process (by pid: `runuser` does not pass signals on), waits up
/// to 20 s for it to end, then kills it.
fn stop_pid(pid: &str, signal: &str) {
    let _ = Command::new("kill").args([signal, pid]).status();
    let started = Instant::now();
    let alive = || Command::new("kill").args(["-0", pid]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    while alive() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive() {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
}

/// A PostgreSQL server with password (SCRAM) authentication for `user`.
pub struct Postgres {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    /// The CA that signed the server's certificate (PEM), when started with TLS.
    pub certificate: Option<PathBuf>,
    dir: PathBuf,
    child: Child,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// With `tls`, the server also speaks TLS, with a certificate for 127.0.0.1 from a CA the
    /// test made.
    pub fn start_with(tls: bool) -> Postgres {
        let bin = pg_bin();
        let dir = server_dir("postgres");
        let (user, password) = ("switchyard".to_string(), "s3cret pass'word".to_string());
        std::fs::write(dir.join("password"), &password).expect("password file");
        let mut certificate = None;
        if tls {
            certificate = Some(make_certificate(&dir));
        }
        give_to_server_user(&dir);
        if tls {
            let mut perms = std::fs::metadata(dir.join("server.key")).expect("key").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
            std::fs::set_permissions(dir.join("server.key"), perms).expect("key permissions");
        }
        let data = dir.join("data");
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", &user, "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"])
            .arg(format!("--pwfile={}", dir.join("password").display()))
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let mut cmd = as_server_user(&bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-k")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).map(Stdio::from).unwrap_or(Stdio::null()));
        if tls {
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", dir.join("server.crt").display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", dir.join("server.key").display()));
        }
        let child = cmd.spawn().expect("postgres");
        let server = Postgres { port, user, password, database: "postgres".into(), certificate, dir, child };
        let isready = bin.join("pg_isready");
        wait_until("PostgreSQL", Duration::from_secs(60), || {
            Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        });
        server
    }

    /// A `postgres://` URL for `database` on this server, as the server's user (the password
    /// percent-encoded).
    pub fn url(&self, database: &str) -> String {
        let mut url = url::Url::parse(&format!("postgres://127.0.0.1:{}/{database}", self.port)).expect("a URL");
        let _ = url.set_username(&self.user);
        let _ = url.set_password(Some(&self.password));
        url.to_string()
    }

    /// Runs SQL with `psql` as the server's user (for setting up and checking tables).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(pg_bin().join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", &self.user, "-d", &self.database, "-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Runs SQL with `psql` against a `postgres://` URL; returns its output (unaligned, tuples
/// only).
pub fn psql_url(url: &str, sql: &str) -> String {
    let out = Command::new(pg_bin().join("psql"))
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT to the server itself (runuser does not pass it on): a fast shutdown that
        // ends sessions without waiting for clients.
        let pid = std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(|l| l.trim().to_string()))
            .unwrap_or_else(|| self.child.id().to_string());
        stop_pid(&pid, "-INT");
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A MariaDB server with a user that logs in with a password over TCP (real authentication,
/// not `--skip-grant-tables`), and a database of its own.
pub struct MariaDb {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    /// The CA that signed the server's certificate (PEM), when started with TLS.
    pub certificate: Option<PathBuf>,
    dir: PathBuf,
    child: Child,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        MariaDb::start_with(false)
    }

    /// With `tls`, the server also speaks TLS, with a certificate for 127.0.0.1 from a CA the
    /// test made.
    pub fn start_with(tls: bool) -> MariaDb {
        let dir = server_dir("mariadb");
        let certificate = tls.then(|| make_certificate(&dir));
        give_to_server_user(&dir);
        let data = dir.join("data");
        let out = as_server_user(Path::new("mariadb-install-db"))
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("mariadb-install-db (run `cargo xtask setup`)");
        assert!(out.status.success(), "mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let socket = dir.join("mysql.sock");
        let mut cmd = as_server_user(Path::new("/usr/sbin/mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", dir.join("server.log").display()))
            .args(["--bind-address=127.0.0.1", &format!("--port={port}"), "--skip-log-bin"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(ca) = &certificate {
            cmd.arg(format!("--ssl-ca={}", ca.display()))
                .arg(format!("--ssl-cert={}", dir.join("server.crt").display()))
                .arg(format!("--ssl-key={}", dir.join("server.key").display()));
        }
        let child = cmd.spawn().expect("mariadbd");
        let server = MariaDb {
            port,
            user: "switchyard".into(),
            password: "s3cret pass'word".into(),
            database: "app".into(),
            certificate,
            dir,
            child,
        };
        wait_until("MariaDB", Duration::from_secs(60), || {
            Command::new("mysqladmin")
                .arg(format!("--socket={}", socket.display()))
                .args(["-u", "root", "ping"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        server.root_sql(&format!(
            "CREATE DATABASE {db}; CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 's3cret pass''word'; \
             GRANT ALL ON {db}.* TO '{user}'@'127.0.0.1';",
            db = server.database,
            user = server.user
        ));
        server
    }

    /// Runs SQL as root over the server's socket.
    pub fn root_sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg(format!("--socket={}", self.dir.join("mysql.sock").display()))
            .args(["-u", "root", "-N", "-B", "-e", sql])
            .output()
            .expect("mariadb client");
        assert!(out.status.success(), "mariadb failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.join("mariadb.pid")).ok().map(|t| t.trim().to_string());
        if let Some(pid) = &pid {
            stop_pid(pid, "-TERM");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis 7 server on 127.0.0.1 (apt `redis-server`), with its append-only file on and
/// synced at every write, in a folder under target/.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = server_dir("redis");
        let mut redis = Redis { port: free_port(), dir, child: None };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--save", "", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::fs::File::create(self.dir.join("server.log")).map(Stdio::from).unwrap_or(Stdio::null()))
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt redis-server; `cargo xtask setup` installs it)");
        self.child = Some(child);
        let port = self.port;
        wait_until("Redis", Duration::from_secs(30), || {
            Command::new("redis-cli")
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
        });
    }

    /// Runs a command with `redis-cli`; returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stops the server (SIGTERM: it writes its append-only file) and starts it again on
    /// the same port and data, after `down`.
    pub fn restart(&mut self, down: Duration) {
        if let Some(mut child) = self.child.take() {
            stop_pid(&child.id().to_string(), "-TERM");
            let _ = child.wait();
        }
        std::thread::sleep(down);
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
