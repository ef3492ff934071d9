//! `switchyard backup` and `switchyard restore`.

use crate::output::print_json;
use crate::{Failure, Outcome, open_api};
use indicatif::HumanBytes;
use std::path::PathBuf;
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::types::*;
use switchyard_model::error::ErrorCode;

/// Writes a backup (the app may keep running), or lists the backup folder.
pub async fn backup(data_dir: crate::Place, to: Option<PathBuf>, list: bool, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    if list {
        let l = api.backup_list(Empty {}).await?;
        if json {
            print_json(&l);
            return Ok(());
        }
        println!("folder: {}", l.folder);
        if let Some(f) = &l.last_failure {
            println!("last failure: {} ({})", f.at, f.message);
        }
        if l.backups.is_empty() {
            println!("no backups there yet (`switchyard backup` makes one)");
        }
        for b in &l.backups {
            println!("{}  {:>10}  {} file(s)  {}", b.created_at, HumanBytes(b.size).to_string(), b.files, b.path);
        }
        return Ok(());
    }
    let entry = api.backup_create(BackupCreateRequest { to: to.map(|p| p.display().to_string()) }).await?;
    if json {
        print_json(&entry);
    } else {
        println!("{}", entry.path);
        eprintln!("Backup written: {}, {} file(s) of binary data.", HumanBytes(entry.size), entry.files);
    }
    Ok(())
}

/// Restores a backup into the data folder, which no running Switchyard may have open.
pub async fn restore(data_dir: crate::Place, file: PathBuf, json: bool) -> Outcome {
    if let Some(database) = data_dir.location() {
        return Err(Failure::invalid(format!(
            "switchyard: restore puts a backup into the data folder's own database, not into --database {database} (a PostgreSQL store is backed up and restored with pg_dump and pg_restore: docs/server.md)"
        )));
    }
    let dir = data_dir.folder();
    let tag = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let (from, into) = (file.clone(), dir.clone());
    let restored = tokio::task::spawn_blocking(move || switchyard_store::backup::restore(&from, &into, &tag))
        .await
        .map_err(|e| Failure::failed(format!("switchyard: {e}")))?
        .map_err(|e| Failure::failed(format!("switchyard: {e}")))?;
    // Can the vault be opened here? A keyring vault from another machine cannot.
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let status = api.vault_status(Empty {}).await?;
    let vault_note = match status.key_source.as_deref() {
        None => None,
        Some("password") => Some("The vault opens with the master password it had when the backup was made, or with its recovery key (`switchyard vault recover`).".to_string()),
        Some(_) => match api.vault_unlock(VaultUnlockRequest { password: None }).await {
            Ok(_) => None,
            Err(e) if e.code == ErrorCode::KeyringUnavailable => Some(format!(
                "The vault's key is not in this machine's keyring ({}). Open it with its recovery key: `switchyard vault recover`.",
                e.message
            )),
            Err(e) => Some(e.message),
        },
    };
    if json {
        print_json(&serde_json::json!({
            "restored": file.display().to_string(),
            "dataDir": dir.display().to_string(),
            "createdAt": restored.manifest.created_at,
            "appVersion": restored.manifest.app_version,
            "replaced": restored.replaced.as_ref().map(|p| p.display().to_string()),
            "filesAdded": restored.files_added,
            "vault": vault_note,
        }));
        return Ok(());
    }
    eprintln!(
        "Restored {} (made {} by Switchyard {}) into {}.",
        file.display(),
        restored.manifest.created_at,
        restored.manifest.app_version,
        dir.display()
    );
    if let Some(replaced) = &restored.replaced {
        eprintln!("The database it replaced is kept as {}.", replaced.display());
    }
    if let Some(note) = vault_note {
        eprintln!("{note}");
    }
    Ok(())
}
