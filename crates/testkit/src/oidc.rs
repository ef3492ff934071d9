//! A real OpenID provider for tests and benchmarks: npm oidc-provider, started from
//! tests/oauth/server.mjs on 127.0.0.1 (`cargo xtask setup` installs it), and a scripted
//! "browser" that follows its sign-in redirects.

use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The provider process; killed on drop.
pub struct Oidc {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Oidc {
    /// Starts the provider and waits until it listens.
    pub fn start() -> Oidc {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oauth");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed in {}: run `cargo xtask setup` (or npm ci there)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node tests/oauth/server.mjs");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // Keep reading what the server prints, so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = line.trim().strip_prefix("LISTENING ").unwrap_or_else(|| panic!("server said {line:?}"));
        Oidc { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Requests the provider answered, by grant and outcome (`refresh_token:ok`, …).
    pub async fn counts(&self) -> Json {
        reqwest::get(format!("{}/test/counts", self.base)).await.unwrap().json().await.unwrap()
    }

    pub async fn count(&self, key: &str) -> u64 {
        self.counts().await.get(key).and_then(Json::as_u64).unwrap_or(0)
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Follows redirects with cookies, as a browser would, until the loopback callback answers.
pub async fn browse(url: &str) -> String {
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut url = url::Url::parse(url).unwrap();
    for _ in 0..20 {
        let response = client.get(url.clone()).send().await.unwrap();
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            url = url.join(&location).unwrap();
            continue;
        }
        return response.text().await.unwrap();
    }
    panic!("too many redirects");
}
