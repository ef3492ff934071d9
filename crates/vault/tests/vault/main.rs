//! Vault tests over real SQLite files: the master-password fallback, the OS keyring (a real
//! gnome-keyring when `cargo xtask test` runs this inside dbus-run-session), sealing,
//! tampering, key rotation, and the export scan.

mod keyring;
mod oauth;
mod scan;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::{CredentialProvider, TokioClock};
use switchyard_model::CredentialRef;
use switchyard_store::Store;
use switchyard_vault::{KeySource, Vault, VaultError, VaultOptions};

pub fn clock() -> Arc<TokioClock> {
    Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()))
}

pub fn options(keyring: Option<Arc<dyn switchyard_vault::KeyStore>>) -> VaultOptions {
    let mut o = VaultOptions::system(clock());
    o.keyring = keyring;
    o.open_url = Arc::new(|_| Err("no browser in tests".into()));
    o
}

pub fn open(dir: &std::path::Path, keyring: Option<Arc<dyn switchyard_vault::KeyStore>>) -> (Store, Vault) {
    let store = Store::open_in(dir).unwrap();
    let vault = Vault::new(store.clone(), options(keyring));
    (store, vault)
}

pub fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn db_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["switchyard.db", "switchyard.db-wal"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            all.extend(b);
        }
    }
    all
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const SECRET: &str = "tok-7f3a9c1e5b2d4086-secret";

#[tokio::test]
async fn password_vault_wrong_password_changes_nothing_and_rotation_reseals() {
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), None);
    let e = vault.unlock(None).await.unwrap_err();
    assert!(matches!(e, VaultError::Locked(_)), "{e}");
    assert!(e.to_string().contains("master password"), "{e}");
    vault.unlock(Some("correct horse battery")).await.unwrap();
    let status = vault.status().await.unwrap();
    assert_eq!(status.key_source, Some(KeySource::Password));
    let a = vault.add_account("http.bearer", "work", fields(&[("token", SECRET)]), false).await.unwrap();
    assert!(a.is_default, "the first account of a type is its default");
    assert_eq!(a.fields["token"], switchyard_model::connection::SECRET_SET);
    assert!(!contains(&db_bytes(dir.path()), SECRET), "the secret is sealed in the database");

    // A second process: wrong password fails and changes nothing.
    let header_before = store.secrets().header().unwrap();
    let (_, other) = open(dir.path(), None);
    let e = other.unlock(Some("wrong password")).await.unwrap_err();
    assert!(matches!(e, VaultError::WrongPassword), "{e}");
    assert_eq!(store.secrets().header().unwrap(), header_before);
    assert!(!other.is_unlocked());
    other.unlock(Some("correct horse battery")).await.unwrap();
    assert_eq!(other.accounts().await.unwrap().len(), 1);

    // Change the password; the old one stops working.
    other.change_password(Some("correct horse battery"), "new password 2").await.unwrap();
    let (_, third) = open(dir.path(), None);
    assert!(matches!(third.unlock(Some("correct horse battery")).await, Err(VaultError::WrongPassword)));
    third.unlock(Some("new password 2")).await.unwrap();

    // Rotate: every record is re-sealed under a new key, and still opens.
    let sealed_before = store.secrets().accounts().unwrap()[0].sealed.clone();
    assert_eq!(third.rotate_key(Some("new password 2")).await.unwrap(), 1);
    let sealed_after = store.secrets().accounts().unwrap()[0].sealed.clone();
    assert_ne!(sealed_before, sealed_after);
    let (_, fourth) = open(dir.path(), None);
    fourth.unlock(Some("new password 2")).await.unwrap();
    let auth = fourth.authorize(&CredentialRef::new("http.bearer", Some("work".into())), false).await.unwrap();
    assert_eq!(auth.headers[0].1.as_str(), format!("Bearer {SECRET}"));
    assert!(!format!("{auth:?}").contains(SECRET), "Debug output is redacted");
}

#[tokio::test]
async fn tampered_or_moved_records_fail_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), None);
    vault.unlock(Some("a master password")).await.unwrap();
    let a = vault.add_account("http.bearer", "a", fields(&[("token", "token-a-123456789")]), false).await.unwrap();
    let b = vault.add_account("http.bearer", "b", fields(&[("token", "token-b-123456789")]), false).await.unwrap();
    let rows = store.secrets().accounts().unwrap();
    let (sa, sb) = (rows[0].sealed.clone(), rows[1].sealed.clone());
    let conn = rusqlite_conn(dir.path());

    // Move b's ciphertext into a.
    conn.execute("UPDATE accounts SET sealed = ?2 WHERE id = ?1", (&a.id, &sb)).unwrap();
    let e = vault.account(&a.id).await.unwrap_err();
    assert!(matches!(e, VaultError::Tampered { .. }), "{e}");
    assert!(e.to_string().contains("account \"a\""), "{e}");

    // Flip one bit of a's own ciphertext.
    let mut flipped = sa.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    conn.execute("UPDATE accounts SET sealed = ?2 WHERE id = ?1", (&a.id, &flipped)).unwrap();
    let e = vault.authorize(&CredentialRef::new("http.bearer", Some("a".into())), false).await.unwrap_err();
    assert_eq!(e.code, switchyard_model::error::ErrorCode::SecretTampered, "{}", e.message);
    assert!(e.message.contains("integrity"), "{}", e.message);

    // Untouched records still open; the restored one too.
    conn.execute("UPDATE accounts SET sealed = ?2 WHERE id = ?1", (&a.id, &sa)).unwrap();
    vault.account(&a.id).await.unwrap();
    vault.account(&b.id).await.unwrap();
}

fn rusqlite_conn(dir: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("switchyard.db")).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

#[tokio::test]
async fn accounts_validate_fields_labels_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (_, vault) = open(dir.path(), None);
    vault.unlock(Some("a master password")).await.unwrap();
    let e = vault.add_account("http.basic", "x", fields(&[("username", "me")]), false).await.unwrap_err();
    assert!(e.to_string().contains("\"Password\" (password) is required"), "{e}");
    let e = vault.add_account("http.bearer", "x", fields(&[("token", "t"), ("tokn", "t")]), false).await.unwrap_err();
    assert!(e.to_string().contains("no field \"tokn\""), "{e}");
    let e = vault.add_account("nope", "x", fields(&[]), false).await.unwrap_err();
    assert!(e.to_string().contains("unknown connection type \"nope\""), "{e}");

    let one = vault.add_account("http.bearer", "one", fields(&[("token", "t1")]), false).await.unwrap();
    let two = vault.add_account("http.bearer", "two", fields(&[("token", "t2")]), true).await.unwrap();
    let e = vault.add_account("http.bearer", "two", fields(&[("token", "t3")]), false).await.unwrap_err();
    assert!(matches!(e, VaultError::DuplicateLabel { .. }), "{e}");
    let list = vault.accounts().await.unwrap();
    assert!(!list.iter().find(|a| a.id == one.id).unwrap().is_default);
    assert!(list.iter().find(|a| a.id == two.id).unwrap().is_default, "make_default moves the default");
    let default = CredentialRef::new("http.bearer", None);
    assert_eq!(vault.authorize(&default, false).await.unwrap().headers[0].1.as_str(), "Bearer t2");

    vault.set_default(&one.id).await.unwrap();
    assert_eq!(vault.authorize(&default, false).await.unwrap().headers[0].1.as_str(), "Bearer t1");
    vault.rename(&two.id, "second").await.unwrap();
    assert!(matches!(vault.rename(&two.id, "one").await, Err(VaultError::DuplicateLabel { .. })));
    // Editing a non-secret field keeps the secret.
    let basic =
        vault.add_account("http.basic", "b", fields(&[("username", "me"), ("password", "pw")]), false).await.unwrap();
    vault.update_fields(&basic.id, fields(&[("username", "you")])).await.unwrap();
    let auth = vault.authorize(&CredentialRef::new("http.basic", Some("b".into())), false).await.unwrap();
    assert_eq!(auth.headers[0].1.as_str(), "Basic eW91OnB3", "you:pw");

    assert!(vault.remove(&one.id).await.unwrap().is_none());
    let list = vault.accounts().await.unwrap();
    assert!(list.iter().find(|a| a.id == two.id).unwrap().is_default, "removing the default promotes another");
    let e = vault.authorize(&CredentialRef::new("http.bearer", Some("gone".into())), false).await.unwrap_err();
    assert_eq!(e.code, switchyard_model::error::ErrorCode::CredentialMissing);
    assert!(e.message.contains("\"gone\" for Bearer token"), "{}", e.message);
}

/// A forgotten master password: the recovery key opens the vault and a new password keeps
/// it. Without a keyring and without a new password, recovering asks for one.
#[tokio::test]
async fn a_forgotten_master_password_is_replaced_with_the_recovery_key() {
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), None);
    vault.unlock(Some("first password")).await.unwrap();
    vault.add_account("http.bearer", "work", fields(&[("token", SECRET)]), false).await.unwrap();
    let (_, fresh) = open(dir.path(), None);
    let e = fresh.recover("0000-0000-0000-0000-0000-0000-0000-0000-0000", None).await.unwrap_err();
    assert!(e.to_string().contains("has a typo") || e.to_string().contains("no recovery key"), "{e}");
    let valid_but_none = switchyard_vault::RecoveryKey::generate().unwrap().display();
    let e = fresh.recover(&valid_but_none, Some("another password")).await.unwrap_err();
    assert!(e.to_string().contains("this vault has no recovery key"), "{e}");

    let kit = vault.create_recovery_key(Some("first password")).await.unwrap().display();
    let before = store.secrets().header().unwrap().unwrap();
    let (_, forgot) = open(dir.path(), None);
    let e = forgot.recover(&kit, None).await.unwrap_err();
    assert!(e.to_string().contains("choose a new master password"), "{e}");
    let e = forgot.recover(&kit, Some("short")).await.unwrap_err();
    assert!(e.to_string().contains("at least 8 characters"), "{e}");
    assert_eq!(store.secrets().header().unwrap().unwrap(), before, "nothing changed");
    let recovered = forgot.recover(&kit, Some("second password")).await.unwrap();
    assert_eq!(recovered.key_source, KeySource::Password);
    let work = CredentialRef::new("http.bearer", Some("work".into()));
    assert!(forgot.authorize(&work, false).await.is_ok());

    let (_, later) = open(dir.path(), None);
    assert!(matches!(later.unlock(Some("first password")).await.unwrap_err(), VaultError::WrongPassword));
    later.unlock(Some("second password")).await.unwrap();
    let auth = later.authorize(&work, false).await.unwrap();
    assert_eq!(auth.headers[0].1.as_str(), format!("Bearer {SECRET}"));
}

/// A rotation that read the header before another process made a new recovery key must not
/// write the old key's wrapping back: the write is refused and redone from the new header,
/// and the newest kit is the one that works.
#[tokio::test]
async fn a_rotation_never_brings_back_a_replaced_recovery_key() {
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), None);
    vault.unlock(Some("rotation password")).await.unwrap();
    vault.add_account("http.bearer", "work", fields(&[("token", SECRET)]), false).await.unwrap();
    let first = vault.create_recovery_key(Some("rotation password")).await.unwrap().display();
    let read_before = store.secrets().header().unwrap().unwrap();
    let second = vault.create_recovery_key(Some("rotation password")).await.unwrap().display();
    let stale = switchyard_store::VaultHeaderRow { generation: read_before.generation + 1, ..read_before.clone() };
    let read = read_before.recovery_sealed.as_deref();
    let e = store
        .secrets()
        .replace_key(&stale, read_before.generation, read, &mut |row| Ok(row.sealed.clone()))
        .unwrap_err();
    assert!(matches!(e, switchyard_store::StoreError::RecoveryChanged), "{e}");

    assert_eq!(vault.rotate_key(Some("rotation password")).await.unwrap(), 1);
    let (_, other) = open(dir.path(), None);
    assert!(matches!(other.recover(&first, Some("new password 1")).await.unwrap_err(), VaultError::WrongRecoveryKey));
    other.recover(&second, Some("new password 1")).await.unwrap();
    let auth = other.authorize(&CredentialRef::new("http.bearer", Some("work".into())), false).await.unwrap();
    assert_eq!(auth.headers[0].1.as_str(), format!("Bearer {SECRET}"));
}
