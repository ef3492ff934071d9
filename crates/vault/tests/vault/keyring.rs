//! The OS keyring path. `cargo xtask test` runs this file twice: inside dbus-run-session with
//! an unlocked gnome-keyring (SWITCHYARD_TEST_KEYRING=required) and with no session bus at
//! all (SWITCHYARD_TEST_KEYRING=absent). Run by hand, it takes whichever the machine has.

use super::{SECRET, fields, open};
use std::sync::Arc;
use switchyard_engine::CredentialProvider;
use switchyard_model::CredentialRef;
use switchyard_vault::{KeySource, KeyStore, KeyringError, OsKeyring, VaultError};

fn expectation(available: bool) -> bool {
    match std::env::var("SWITCHYARD_TEST_KEYRING").as_deref() {
        Ok("required") => {
            assert!(available, "SWITCHYARD_TEST_KEYRING=required but the keyring does not answer");
            true
        }
        Ok("absent") => {
            assert!(!available, "SWITCHYARD_TEST_KEYRING=absent but a keyring answered");
            false
        }
        _ => available,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_lives_in_the_os_keyring_or_falls_back_to_a_password() {
    let keyring: Arc<dyn KeyStore> = Arc::new(OsKeyring::new());
    let probe = {
        let k = keyring.clone();
        tokio::task::spawn_blocking(move || k.get("switchyard-test-probe")).await.unwrap()
    };
    let available = matches!(probe, Ok(_) | Err(KeyringError::NoEntry));
    if !expectation(available) {
        assert!(matches!(probe, Err(KeyringError::Unavailable(_))), "{probe:?}");
        let dir = tempfile::tempdir().unwrap();
        let (_, vault) = open(dir.path(), Some(keyring.clone()));
        let status = vault.status().await.unwrap();
        assert!(!status.keyring_available);
        let e = vault.unlock(None).await.unwrap_err();
        assert!(matches!(e, VaultError::Locked(_)), "{e}");
        assert!(e.to_string().contains("no OS keyring is usable"), "{e}");
        vault.unlock(Some("fallback password")).await.unwrap();
        assert_eq!(vault.status().await.unwrap().key_source, Some(KeySource::Password));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), Some(keyring.clone()));
    vault.unlock(None).await.unwrap();
    let header = store.secrets().header().unwrap().unwrap();
    assert_eq!(header.key_source, "keyring");
    assert!(header.wrapped_key.is_none(), "no copy of the key in the database");
    let entry = header.key_id.clone();
    let k = keyring.clone();
    let in_keyring = tokio::task::spawn_blocking(move || k.get(&entry)).await.unwrap().unwrap();
    assert_eq!(in_keyring.len(), 32, "a 256-bit key in the keyring");
    vault.add_account("http.bearer", "work", fields(&[("token", SECRET)]), false).await.unwrap();

    // Another process opens it with no password.
    let (_, other) = open(dir.path(), Some(keyring.clone()));
    assert_eq!(other.accounts().await.unwrap().len(), 1);

    // Rotation moves to a new keyring entry and removes the old one.
    assert_eq!(other.rotate_key(None).await.unwrap(), 1);
    let rotated = store.secrets().header().unwrap().unwrap();
    assert_ne!(rotated.key_id, header.key_id);
    let (k, old) = (keyring.clone(), header.key_id.clone());
    assert!(matches!(tokio::task::spawn_blocking(move || k.get(&old)).await.unwrap(), Err(KeyringError::NoEntry)));
    let (_, third) = open(dir.path(), Some(keyring.clone()));
    assert_eq!(third.accounts().await.unwrap().len(), 1);

    // A deleted keyring entry is reported, not papered over.
    let (k, current) = (keyring.clone(), rotated.key_id.clone());
    tokio::task::spawn_blocking(move || k.delete(&current)).await.unwrap().unwrap();
    let (_, fourth) = open(dir.path(), Some(keyring.clone()));
    let e = fourth.unlock(None).await.unwrap_err();
    assert!(matches!(e, VaultError::KeyMissing(_)), "{e}");
}

/// Issue 20's recovery kit against the real keyring: the keyring entry is deleted, the
/// accounts cannot be read, and the recovery key brings every one back (also after a key
/// rotation made after the kit was printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_keyring_entry_is_recovered_with_the_recovery_key() {
    let keyring: Arc<dyn KeyStore> = Arc::new(OsKeyring::new());
    let probe = {
        let k = keyring.clone();
        tokio::task::spawn_blocking(move || k.get("switchyard-test-probe")).await.unwrap()
    };
    if !expectation(matches!(probe, Ok(_) | Err(KeyringError::NoEntry))) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = open(dir.path(), Some(keyring.clone()));
    vault.unlock(None).await.unwrap();
    vault.add_account("http.bearer", "work", fields(&[("token", SECRET)]), false).await.unwrap();
    vault
        .add_account("http.basic", "home", fields(&[("username", "me"), ("password", "pw-92b1")]), false)
        .await
        .unwrap();
    assert_eq!(vault.status().await.unwrap().recovery_key_created_at, None);
    let kit = vault.create_recovery_key(None).await.unwrap().display();
    assert!(vault.status().await.unwrap().recovery_key_created_at.is_some());
    let header = store.secrets().header().unwrap().unwrap();
    assert!(!super::contains(&super::db_bytes(dir.path()), kit.as_str()), "the recovery key is never stored");
    // Rotating after the kit was made keeps the kit working.
    assert_eq!(vault.rotate_key(None).await.unwrap(), 2);
    let rotated = store.secrets().header().unwrap().unwrap();
    assert_ne!(rotated.recovery_wrapped, header.recovery_wrapped);

    // The keyring entry is gone (a new machine, a wiped keychain).
    let (k, entry) = (keyring.clone(), rotated.key_id.clone());
    tokio::task::spawn_blocking(move || k.delete(&entry)).await.unwrap().unwrap();
    let (_, after) = open(dir.path(), Some(keyring.clone()));
    let e = after.unlock(None).await.unwrap_err();
    assert!(matches!(e, VaultError::KeyMissing(_)), "{e}");
    assert!(e.to_string().contains("switchyard vault recover"), "the error says the way back: {e}");
    let work = CredentialRef::new("http.bearer", Some("work".into()));
    assert!(after.authorize(&work, false).await.is_err(), "credentials unreadable");

    // A wrong key (valid checksum, other key) changes nothing.
    let other = switchyard_vault::RecoveryKey::generate().unwrap().display();
    let e = after.recover(&other, None).await.unwrap_err();
    assert!(matches!(e, VaultError::WrongRecoveryKey), "{e}");
    assert_eq!(store.secrets().header().unwrap().unwrap(), rotated);

    let recovered = after.recover(&kit.to_lowercase(), None).await.unwrap();
    assert_eq!(recovered.key_source, KeySource::Keyring);
    assert_eq!(recovered.accounts, 2);
    let now = store.secrets().header().unwrap().unwrap();
    assert_ne!(now.key_id, rotated.key_id, "a new keyring entry");
    // Every account opens, here and in a new process.
    let (_, fresh) = open(dir.path(), Some(keyring.clone()));
    let auth = fresh.authorize(&work, false).await.unwrap();
    assert_eq!(auth.headers[0].1.as_str(), format!("Bearer {SECRET}"));
    let home = fresh.authorize(&CredentialRef::new("http.basic", Some("home".into())), false).await.unwrap();
    assert!(home.headers[0].1.starts_with("Basic "), "{:?}", home.headers);
    // And the kit still works afterwards.
    let (k, entry) = (keyring.clone(), now.key_id.clone());
    tokio::task::spawn_blocking(move || k.delete(&entry)).await.unwrap().unwrap();
    let (_, again) = open(dir.path(), Some(keyring.clone()));
    again.recover(&kit, None).await.unwrap();
    let (k, entry) = (keyring.clone(), store.secrets().header().unwrap().unwrap().key_id);
    tokio::task::spawn_blocking(move || k.delete(&entry)).await.unwrap().unwrap();
}
