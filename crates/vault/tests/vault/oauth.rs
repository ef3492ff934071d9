//! OAuth2 against a real OpenID provider (npm oidc-provider, tests/oauth/server.mjs) on
//! 127.0.0.1: sign-in with PKCE through a scripted "browser", two accounts of one provider
//! in one workflow, refresh with rotation, single-flight refresh under 100 concurrent runs,
//! reuse of a rotated refresh token, 401 → refresh → retry, client credentials, wrong secret.
//! "Now" comes from a manual clock the test moves, so expiry needs no waiting.

use super::{fields, open};
use serde_json::json;
use std::sync::{Arc, Mutex};
use switchyard_engine::{CredentialProvider, Engine, ManualClock, Registry, RunRequest, Services};
use switchyard_model::{CredentialRef, RunStatus, Workflow};
use switchyard_store::Store;
use switchyard_testkit::oidc::{Oidc, browse};
use switchyard_vault::{Vault, VaultError};

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    vault: Vault,
    clock: Arc<ManualClock>,
    oidc: Oidc,
    /// Accounts the vault reported as changed on their own (refreshes, reconnect states).
    changed: Arc<Mutex<Vec<String>>>,
}

impl Setup {
    fn changes_of(&self, id: &str) -> usize {
        self.changed.lock().unwrap().iter().filter(|c| *c == id).count()
    }
}

async fn setup() -> Setup {
    let oidc = Oidc::start();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let store = Store::open_in(dir.path()).unwrap();
    let mut options = super::options(None);
    options.clock = clock.clone();
    let changed = Arc::new(Mutex::new(Vec::new()));
    let heard = changed.clone();
    options.on_change = Arc::new(move |id| heard.lock().unwrap().push(id.to_string()));
    let vault = Vault::new(store.clone(), options);
    vault.unlock(Some("a master password")).await.unwrap();
    Setup { _dir: dir, store, vault, clock, oidc, changed }
}

/// An OAuth2 account of the test provider that signs in as `user`.
async fn add_oauth_account(s: &Setup, label: &str, user: &str) -> switchyard_model::connection::AccountInfo {
    let b = &s.oidc.base;
    s.vault
        .add_account(
            "http.oauth2",
            label,
            fields(&[
                ("clientId", "native-app"),
                ("authUrl", &format!("{b}/auth")),
                ("tokenUrl", &format!("{b}/token")),
                ("scopes", "openid offline_access"),
                ("authParams", &format!("prompt=consent&login_hint={user}")),
                ("revokeUrl", &format!("{b}/token/revocation")),
                ("testUrl", &format!("{b}/me")),
            ]),
            false,
        )
        .await
        .unwrap()
}

async fn sign_in(s: &Setup, label: &str, user: &str) -> String {
    let account = add_oauth_account(s, label, user).await;
    let pending = s.vault.begin_login(&account.id).await.unwrap();
    assert!(pending.redirect_uri.starts_with("http://127.0.0.1:"), "{}", pending.redirect_uri);
    let url = url::Url::parse(&pending.url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q.contains_key("state") && q.contains_key("code_challenge"));
    let (info, page) = tokio::join!(pending.finish(), browse(url.as_str()));
    let info = info.unwrap();
    assert!(page.contains("Signed in"), "{page}");
    assert_eq!(info.status, switchyard_model::connection::AccountStatus::Ready);
    account.id
}

fn workflow(base: &str) -> Workflow {
    serde_json::from_value(json!({
        "switchyard": 1, "id": "w", "name": "Two accounts",
        "settings": {"accounts": {"http.oauth2": "personal"}},
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "a", "name": "As work", "type": "http.request", "parameters": {"url": format!("{base}/me")},
             "credentials": {"auth": {"connection": "http.oauth2", "account": "work"}}},
            {"id": "b", "name": "As personal", "type": "http.request", "parameters": {"url": format!("{base}/me")},
             "credentials": {"auth": {"connection": "http.oauth2"}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "a"}}, {"from": {"node": "t"}, "to": {"node": "b"}}]
    }))
    .unwrap()
}

fn engine(s: &Setup) -> Engine {
    let services = Services::new(s.clock.clone(), switchyard_engine::services::default_http_client())
        .with_credentials(Arc::new(s.vault.clone()));
    Engine::new(Registry::builtin(), services)
}

/// Runs the workflow; returns each node's first output item's `sub`.
async fn run_subs(engine: &Engine, wf: &Workflow) -> Result<Vec<String>, String> {
    let prepared = engine.prepare(wf.clone()).unwrap();
    let outcome =
        engine.run(prepared, RunRequest { execution_id: uuid::Uuid::new_v4().to_string(), ..Default::default() }).await;
    if outcome.status != RunStatus::Success {
        return Err(outcome.error.map(|e| e.message).unwrap_or_default());
    }
    let mut subs: Vec<String> = outcome
        .result
        .iter()
        .map(|i| serde_json::to_value(&i.json).unwrap()["sub"].as_str().unwrap_or("?").to_string())
        .collect();
    subs.sort();
    Ok(subs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_refresh_single_flight_rotation_and_reconnect() {
    let s = setup().await;
    let work_id = sign_in(&s, "work", "alice").await;
    let personal = sign_in(&s, "personal", "bob").await;
    s.changed.lock().unwrap().clear();
    let engine = engine(&s);
    let wf = workflow(&s.oidc.base);
    assert_eq!(run_subs(&engine, &wf).await.unwrap(), ["alice", "bob"], "node account and workflow account");
    assert_eq!(s.oidc.count("refresh_token:ok").await, 0);

    // "Test connection" uses the account's test URL.
    let outcome = s.vault.test(&personal).await.unwrap();
    assert!(outcome.ok, "{}", outcome.message);

    // An hour later both tokens are inside the refresh skew: 100 concurrent runs cause
    // exactly one refresh per account.
    s.clock.advance(chrono::Duration::minutes(58));
    let runs = (0..100).map(|_| run_subs(&engine, &wf));
    for result in futures::future::join_all(runs).await {
        assert_eq!(result.unwrap(), ["alice", "bob"]);
    }
    assert_eq!(s.oidc.count("refresh_token:ok").await, 2, "one refresh for each of the two accounts");
    assert_eq!((s.changes_of(&work_id), s.changes_of(&personal)), (1, 1), "each refresh is reported once");

    // A 401 (the provider forgot its access tokens) refreshes once and retries.
    let client = reqwest::Client::new();
    client.post(format!("{}/test/expire-access-tokens", s.oidc.base)).send().await.unwrap();
    assert_eq!(run_subs(&engine, &wf).await.unwrap(), ["alice", "bob"]);
    assert_eq!(s.oidc.count("refresh_token:ok").await, 4);

    // The refresh token was rotated and stored: reusing the old one (an old copy of the
    // record) is refused, the provider revokes the grant, and the account needs reconnecting.
    let row = s.store.secrets().find("http.oauth2", Some("personal")).unwrap().unwrap();
    s.clock.advance(chrono::Duration::minutes(58));
    // The background refresher (the app's, on a short period here) refreshes both.
    let refresher = s.vault.spawn_refresher(std::time::Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.oidc.count("refresh_token:ok").await < 6 {
        assert!(tokio::time::Instant::now() < deadline, "the background refresher did not refresh both accounts");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    refresher.abort();
    assert_eq!(s.oidc.count("refresh_token:ok").await, 6, "the background pass refreshed each account once");
    let conn = rusqlite::Connection::open(s._dir.path().join("switchyard.db")).unwrap();
    conn.execute("UPDATE accounts SET sealed = ?2 WHERE id = ?1", (&row.id, &row.sealed)).unwrap();
    s.clock.advance(chrono::Duration::minutes(58));
    let error = run_subs(&engine, &wf).await.unwrap_err();
    assert!(error.contains("needs to be reconnected"), "{error}");
    assert!(error.contains("\"personal\""), "{error}");
    assert_eq!(s.oidc.count("refresh_token:error").await, 1);
    let info = s.vault.account(&personal).await.unwrap();
    assert_eq!(info.status, switchyard_model::connection::AccountStatus::NeedsReconnect);
    assert_eq!(s.changes_of(&personal), 4, "three refreshes and the reconnect state were reported");
    // The other account is unaffected.
    let work = CredentialRef::new("http.oauth2", Some("work".into()));
    s.vault.authorize(&work, false).await.unwrap();
    // Later runs fail fast without asking the provider again.
    let error = run_subs(&engine, &wf).await.unwrap_err();
    assert!(error.contains("needs to be reconnected"), "{error}");
    assert_eq!(s.oidc.count("refresh_token:error").await, 1);

    // Reconnect signs in again; removal revokes at the provider.
    let pending = s.vault.begin_login(&personal).await.unwrap();
    let url = pending.url.clone();
    let (info, _) = tokio::join!(pending.finish(), browse(&url));
    assert_eq!(info.unwrap().status, switchyard_model::connection::AccountStatus::Ready);
    assert_eq!(run_subs(&engine, &wf).await.unwrap(), ["alice", "bob"]);
    assert_eq!(s.vault.remove(&personal).await.unwrap(), None, "revocation answered 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_and_a_wrong_secret() {
    let s = setup().await;
    let b = s.oidc.base.clone();
    let add = |label: &'static str, secret: &'static str| {
        let vault = s.vault.clone();
        let token_url = format!("{b}/token");
        async move {
            vault
                .add_account(
                    "http.oauth2ClientCredentials",
                    label,
                    fields(&[
                        ("clientId", "machine"),
                        ("clientSecret", secret),
                        ("tokenUrl", &token_url),
                        ("scopes", "api:read"),
                    ]),
                    false,
                )
                .await
                .unwrap()
        }
    };
    add("ok", "machine-secret").await;
    add("bad", "wrong-secret").await;
    let ok = CredentialRef::new("http.oauth2ClientCredentials", Some("ok".into()));
    let first = s.vault.authorize(&ok, false).await.unwrap();
    let second = s.vault.authorize(&ok, false).await.unwrap();
    assert_eq!(first.headers[0].1.as_str(), second.headers[0].1.as_str(), "the token is kept until it expires");
    assert!(first.headers[0].1.starts_with("Bearer "));
    assert_eq!(s.oidc.count("client_credentials:ok").await, 1);
    s.clock.advance(chrono::Duration::minutes(58));
    s.vault.authorize(&ok, false).await.unwrap();
    assert_eq!(s.oidc.count("client_credentials:ok").await, 2, "a new token near expiry");

    let bad = CredentialRef::new("http.oauth2ClientCredentials", Some("bad".into()));
    let e = s.vault.authorize(&bad, false).await.unwrap_err();
    assert!(e.message.contains("invalid_client"), "{}", e.message);
    let e: VaultError =
        match s.vault.test(&s.vault.find("http.oauth2ClientCredentials", Some("bad")).await.unwrap().id).await {
            Ok(outcome) => {
                assert!(!outcome.ok);
                VaultError::OAuth(outcome.message)
            }
            Err(e) => e,
        };
    assert!(e.to_string().contains("test URL") || e.to_string().contains("invalid_client"), "{e}");
    let _ = open;
}

/// One raw request to the sign-in loopback; the status line's code (0 when nothing came).
async fn poke(redirect_uri: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = redirect_uri.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The sign-in loopback once served one connection at a time with no read timeout (a silent
/// connection blocked it), and a request with a wrong state ended the sign-in (any local page
/// could abort it). Now each connection is served on its own with a timeout, and stray
/// requests (a favicon, a forged state) are answered and ignored while it keeps waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_requests_to_the_sign_in_loopback_do_not_stop_the_sign_in() {
    let s = setup().await;
    let account = add_oauth_account(&s, "stray", "alice").await;
    let pending = s.vault.begin_login(&account.id).await.unwrap();
    let (redirect, url) = (pending.redirect_uri.clone(), pending.url.clone());
    let strays = async {
        // A connection that says nothing, left open.
        let addr = redirect.trim_start_matches("http://").split('/').next().unwrap().to_string();
        let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
        assert_eq!(poke(&redirect, "/favicon.ico").await, 404);
        assert_eq!(poke(&redirect, "/callback?state=forged&code=stolen").await, 400);
        let page = browse(&url).await;
        drop(silent);
        page
    };
    let (info, page) = tokio::join!(pending.finish(), strays);
    assert!(page.contains("Signed in"), "{page}");
    assert_eq!(info.unwrap().status, switchyard_model::connection::AccountStatus::Ready);
}

/// Rotating the key from the CLI while the app ran once lost data: the app kept the old key
/// and sealed new records with it, and a token refresh between the rotation's read and its
/// commit was overwritten. Now every write of sealed bytes is checked against the key
/// generation (a stale key is loaded again and the write redone) and rotation swaps each
/// record only if it is unchanged. A second process rotates the key over and over while this
/// one adds accounts and refreshes a token; afterwards a fresh process opens every record and
/// finds the last token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_in_another_process_loses_no_account_and_no_refreshed_token() {
    let s = setup().await;
    let token_url = format!("{}/token", s.oidc.base);
    let fields = fields(&[
        ("clientId", "machine"),
        ("clientSecret", "machine-secret"),
        ("tokenUrl", &token_url),
        ("scopes", "api:read"),
    ]);
    s.vault.add_account("http.oauth2ClientCredentials", "machine", fields, false).await.unwrap();
    let machine = CredentialRef::new("http.oauth2ClientCredentials", Some("machine".into()));
    let mut last = s.vault.authorize(&machine, true).await.unwrap().headers[0].1.to_string();
    let generation = || s.store.secrets().header().unwrap().unwrap().generation;
    let before = generation();

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "oauth::rotation_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SWITCHYARD_ROTATE_DIR", s._dir.path())
        .env("SWITCHYARD_MASTER_PASSWORD", "a master password")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut added = 0;
    let mut during = 0;
    let started = std::time::Instant::now();
    loop {
        let running = child.try_wait().unwrap().is_none();
        if !running || started.elapsed() > std::time::Duration::from_secs(120) {
            break;
        }
        s.vault
            .add_account("http.bearer", &format!("n{added}"), super::fields(&[("token", "t")]), false)
            .await
            .unwrap();
        added += 1;
        last = s.vault.authorize(&machine, true).await.unwrap().headers[0].1.to_string();
        during = generation() - before;
    }
    assert!(child.wait().unwrap().success(), "the rotating process failed");
    assert!(during >= 2, "the rotations overlapped the writes ({during} seen while writing)");
    assert_eq!(generation() - before, 6, "every rotation committed");

    // A fresh process: every record opens, and the last refreshed token is the stored one.
    let (_, fresh) = super::open(s._dir.path(), None);
    fresh.unlock(Some("a master password")).await.unwrap();
    assert_eq!(fresh.accounts().await.unwrap().len(), added + 1, "{added} accounts added while rotating");
    let stored = fresh.authorize(&machine, false).await.unwrap().headers[0].1.to_string();
    assert_eq!(stored, last, "the last refreshed token was kept");
    // And this process goes on with the newest key.
    s.vault.add_account("http.bearer", "after", super::fields(&[("token", "t")]), false).await.unwrap();
    assert_eq!(fresh.accounts().await.unwrap().len(), added + 2);
}

/// The second process of the test above: six rotations, the password from the environment.
#[tokio::test]
#[ignore = "run by rotating_in_another_process_loses_no_account_and_no_refreshed_token"]
async fn rotation_child() {
    let Ok(dir) = std::env::var("SWITCHYARD_ROTATE_DIR") else { return };
    let (_, vault) = super::open(std::path::Path::new(&dir), None);
    for _ in 0..6 {
        vault.rotate_key(None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
