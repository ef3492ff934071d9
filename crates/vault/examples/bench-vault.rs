//! The vault benchmark, run by `cargo xtask bench vault` (release build, inside
//! dbus-run-session with gnome-keyring so the keyring path is real). Prints the report
//! section as Markdown on stdout.
//!
//! Measures: unlock time with the OS keyring and with a master password (Argon2id),
//! AES-256-GCM seal/open throughput, authorizing a request from a stored account, and how
//! many refresh requests reach a real OAuth2 provider when many runs need a token at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_engine::{CredentialProvider, ManualClock};
use switchyard_model::CredentialRef;
use switchyard_store::Store;
use switchyard_testkit::oidc::{Oidc, browse};
use switchyard_vault::crypto::{self, MasterKey};
use switchyard_vault::{KeyStore, OsKeyring, Vault, VaultOptions};

const UNLOCKS: usize = 5;
const SEALS: usize = 200_000;
const AUTHORIZE: usize = 20_000;
const CONCURRENT_RUNS: usize = 1_000;
const REFRESH_ROUNDS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn per_second(count: usize, d: Duration) -> String {
    let n = (count as f64 / d.as_secs_f64()) as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn options(clock: Arc<ManualClock>, keyring: Option<Arc<dyn KeyStore>>) -> VaultOptions {
    let mut o = VaultOptions::system(clock);
    o.keyring = keyring;
    o.open_url = Arc::new(|_| Err("no browser in the benchmark".into()));
    o
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::starting_at(chrono::Utc::now()))
}

/// Median time for a fresh process's first unlock (a new `Vault` on the same file each time).
async fn unlock_time(keyring: Option<Arc<dyn KeyStore>>, password: Option<&str>) -> Result<Duration, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open_in(dir.path()).map_err(|e| e.to_string())?;
    Vault::new(store.clone(), options(clock(), keyring.clone())).unlock(password).await.map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..UNLOCKS {
        let vault = Vault::new(store.clone(), options(clock(), keyring.clone()));
        let started = Instant::now();
        vault.unlock(password).await.map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    Ok(median(times))
}

async fn refresh_rounds() -> Result<Vec<(usize, u64, Duration)>, String> {
    let oidc = Oidc::start();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open_in(dir.path()).map_err(|e| e.to_string())?;
    let clock = clock();
    let vault = Vault::new(store, options(clock.clone(), None));
    vault.unlock(Some("a master password")).await.map_err(|e| e.to_string())?;
    let b = &oidc.base;
    let account = vault
        .add_account(
            "http.oauth2",
            "bench",
            fields(&[
                ("clientId", "native-app"),
                ("authUrl", &format!("{b}/auth")),
                ("tokenUrl", &format!("{b}/token")),
                ("scopes", "openid offline_access"),
                ("authParams", "prompt=consent&login_hint=alice"),
            ]),
            true,
        )
        .await
        .map_err(|e| e.to_string())?;
    let pending = vault.begin_login(&account.id).await.map_err(|e| e.to_string())?;
    let url = pending.url.clone();
    let (info, _) = tokio::join!(pending.finish(), browse(&url));
    info.map_err(|e| e.to_string())?;
    let reference = CredentialRef::new("http.oauth2", None);
    let mut rounds = Vec::new();
    for _ in 0..REFRESH_ROUNDS {
        clock.advance(chrono::Duration::minutes(58));
        let before = oidc.count("refresh_token:ok").await;
        let started = Instant::now();
        let calls = (0..CONCURRENT_RUNS).map(|_| {
            let (vault, reference) = (vault.clone(), reference.clone());
            tokio::spawn(async move { vault.authorize(&reference, false).await.map(|_| ()) })
        });
        let mut ok = 0;
        for result in futures::future::join_all(calls).await {
            if matches!(result, Ok(Ok(()))) {
                ok += 1;
            }
        }
        let elapsed = started.elapsed();
        rounds.push((ok, oidc.count("refresh_token:ok").await - before, elapsed));
    }
    Ok(rounds)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut text = String::from(
        "## Vault (`cargo xtask bench vault`)\n\n\
         Release build. Unlock times are the median of 5 first unlocks, each by a new `Vault` on the same \
         database file (as a new process would). The keyring is a real gnome-keyring in a D-Bus session. \
         The master password goes through Argon2id with m=64 MiB, t=3, p=1.\n\n\
         | Measure | Result |\n|---|---|\n",
    );

    let keyring: Arc<dyn KeyStore> = Arc::new(OsKeyring::new());
    match unlock_time(Some(keyring), None).await {
        Ok(d) => text.push_str(&format!("| Unlock with the OS keyring (Secret Service) | {} |\n", ms(d))),
        Err(e) => text.push_str(&format!("| Unlock with the OS keyring | not measured: {e} |\n")),
    }
    let d = unlock_time(None, Some("a master password for the benchmark")).await?;
    text.push_str(&format!("| Unlock with a master password (Argon2id) | {} |\n", ms(d)));

    // Sealing and opening a 1 KiB record (an account's fields and tokens are smaller).
    let key = MasterKey::generate().map_err(|e| e.to_string())?;
    let aad = crypto::account_aad("0193a1c0-0000-7000-8000-000000000001", "http.oauth2");
    let record = vec![b'x'; 1024];
    let started = Instant::now();
    let mut sealed = Vec::new();
    for _ in 0..SEALS {
        sealed = crypto::seal(&key, &aad, &record).map_err(|e| e.to_string())?;
    }
    let seal = started.elapsed();
    let started = Instant::now();
    for _ in 0..SEALS {
        let plain = crypto::open(&key, &aad, &sealed, "bench").map_err(|e| e.to_string())?;
        assert_eq!(plain.len(), record.len());
    }
    let open = started.elapsed();
    text.push_str(&format!(
        "| Seal a 1 KiB record (AES-256-GCM, random nonce) | {} /s ({:.0} MiB/s) |\n",
        per_second(SEALS, seal),
        SEALS as f64 / 1024.0 / seal.as_secs_f64()
    ));
    text.push_str(&format!(
        "| Open a 1 KiB record | {} /s ({:.0} MiB/s) |\n",
        per_second(SEALS, open),
        SEALS as f64 / 1024.0 / open.as_secs_f64()
    ));

    // What a node pays per run for its credentials: read the account, open it, build headers.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open_in(dir.path()).map_err(|e| e.to_string())?;
    let vault = Vault::new(store, options(clock(), None));
    vault.unlock(Some("a master password")).await.map_err(|e| e.to_string())?;
    vault
        .add_account("http.bearer", "bench", fields(&[("token", "bench-token")]), true)
        .await
        .map_err(|e| e.to_string())?;
    let reference = CredentialRef::new("http.bearer", None);
    let started = Instant::now();
    for _ in 0..AUTHORIZE {
        vault.authorize(&reference, false).await.map_err(|e| e.message)?;
    }
    text.push_str(&format!(
        "| Authorize a request from a stored bearer account (SQLite read, open, headers) | {} /s, {:.1} µs each |\n",
        per_second(AUTHORIZE, started.elapsed()),
        started.elapsed().as_secs_f64() * 1e6 / AUTHORIZE as f64
    ));

    let rounds = refresh_rounds().await?;
    for (i, (ok, refreshes, elapsed)) in rounds.iter().enumerate() {
        text.push_str(&format!(
            "| Expired token, {CONCURRENT_RUNS} concurrent runs (round {}): refresh requests at the provider | {refreshes} ({ok} runs authorized in {}) |\n",
            i + 1,
            ms(*elapsed)
        ));
    }
    let all_single = rounds.iter().all(|(ok, n, _)| *n == 1 && *ok == CONCURRENT_RUNS);
    text.push_str(&format!(
        "\nTarget: exactly one refresh request per expiry, however many runs need the token — {}\n",
        if all_single { "**pass**" } else { "**FAIL**" }
    ));
    print!("{text}");
    if !all_single {
        return Err("more than one refresh request per expiry".into());
    }
    Ok(())
}
