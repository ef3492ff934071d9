//! `switchyard vault …` and `switchyard connections …`: the credential vault headless.

use crate::output::print_json;
use crate::{Failure, Outcome};
use clap::Subcommand;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use switchyard_api::Api;
use switchyard_api::types::*;
use switchyard_model::connection::{AccountInfo, AccountStatus};
use switchyard_model::error::ErrorCode;

#[derive(Subcommand)]
pub enum VaultAction {
    /// Whether the vault exists, where its key lives, and whether the keyring answers.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Unlock (or create) the vault: checks the keyring or the master password.
    Unlock,
    /// Set a new master password (a keyring vault moves to the password).
    ChangePassword,
    /// Replace the master key and re-seal every account in one transaction.
    RotateKey,
    /// Make a recovery key (shown once; an earlier one stops working). It opens the vault
    /// when its keyring entry is gone or its master password forgotten: keep it offline.
    RecoveryKey {
        /// Also write a printable recovery kit to this file (created, never overwritten).
        #[arg(long, value_name = "FILE")]
        kit: Option<std::path::PathBuf>,
    },
    /// Open the vault with its recovery key (from SWITCHYARD_RECOVERY_KEY, --kit, or asked
    /// for) and keep its key again: in the OS keyring, or behind a new master password.
    Recover {
        /// A recovery kit file written by `vault recovery-key --kit`.
        #[arg(long, value_name = "FILE")]
        kit: Option<std::path::PathBuf>,
        /// Keep the key behind a new master password (SWITCHYARD_MASTER_PASSWORD, or asked
        /// for) instead of the OS keyring.
        #[arg(long)]
        password: bool,
    },
}

/// The environment variable a headless `vault recover` reads the recovery key from.
pub const RECOVERY_ENV: &str = "SWITCHYARD_RECOVERY_KEY";

/// The recovery key in a kit file: its "Recovery key:" line, or the whole file.
fn key_from_kit(path: &std::path::Path) -> Result<String, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::failed(format!("switchyard: {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Recovery key:").map(|k| k.trim().to_string()))
        .unwrap_or_else(|| text.trim().to_string()))
}

/// Creates `path` (never over another file) readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn kit_text(api_path: &std::path::Path, key: &str, created_at: &str) -> String {
    format!(
        "Switchyard vault recovery kit\n\n\
         Data folder:  {}\n\
         Made:         {created_at}\n\
         Recovery key: {key}\n\n\
         This key opens the credential vault when its OS keyring entry is gone (a new machine,\n\
         a reinstalled system) or its master password is forgotten:\n\
         \n    switchyard vault recover --kit THIS-FILE\n\n\
         Anyone with this key and a copy of the data folder (or a backup) can read every\n\
         credential in it. Print it or keep it offline; do not keep it beside your backups.\n",
        api_path.display()
    )
}

#[derive(Subcommand)]
pub enum ConnectionsAction {
    /// The connection types and their fields.
    Types {
        #[arg(long)]
        json: bool,
    },
    /// Every account (secret values are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add an account: `connections add http.bearer work --field token=@env:MY_TOKEN`.
    Add {
        /// Connection type id (see `connections types`).
        connection_type: String,
        label: String,
        /// A field value as NAME=VALUE; VALUE may be @env:VAR or @file:PATH. Secret fields
        /// not given are asked for (without echo) on a terminal.
        #[arg(long = "field", short = 'f', value_name = "NAME=VALUE")]
        fields: Vec<String>,
        /// Make it the type's default account.
        #[arg(long)]
        default: bool,
        /// A host its credentials may go to (`api.example.com`, `127.0.0.1:9999`,
        /// `*.example.com`); repeat for more. Without any: the type's hosts and the test URL's.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// The hosts an account's credentials may go to: list them, or change them.
    Hosts {
        /// The account, as TYPE/LABEL or its id.
        account: String,
        /// Allow a host (`api.example.com`, `127.0.0.1:9999`, `*.example.com`); repeatable.
        #[arg(long, value_name = "HOST")]
        add: Vec<String>,
        /// Stop allowing a host; repeatable.
        #[arg(long, value_name = "HOST")]
        remove: Vec<String>,
    },
    /// "Test connection": an authenticated request to the type's test URL.
    Test { account: String },
    /// Sign an OAuth2 account in (or reconnect it) through the browser.
    Login { account: String },
    /// Make an account its type's default.
    Default { account: String },
    /// Rename an account.
    Rename { account: String, label: String },
    /// Remove an account (its OAuth2 tokens are revoked where the provider allows).
    Remove { account: String },
}

fn ask(prompt: &str) -> Result<String, Failure> {
    ask_or(prompt, &format!("set {}", switchyard_vault::PASSWORD_ENV))
}

fn ask_or(prompt: &str, hint: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::failed(format!(
            "switchyard: {prompt} is needed and there is no terminal to ask on ({hint})"
        )));
    }
    rpassword::prompt_password(format!("{prompt}: ")).map_err(|e| Failure::failed(format!("switchyard: {e}")))
}

/// A new master password, asked twice on the terminal.
fn ask_new_password() -> Result<String, Failure> {
    let new = ask("New master password")?;
    if ask("Repeat the new master password")? != new {
        return Err(Failure::invalid("switchyard: the passwords differ; nothing was changed"));
    }
    Ok(new)
}

/// Unlocks the vault, asking for the master password on a terminal when it needs one.
pub async fn unlock(api: &Api) -> Outcome {
    match api.vault_unlock(VaultUnlockRequest { password: None }).await {
        Ok(_) => Ok(()),
        // A password given in the environment or a file that did not open it is reported,
        // not asked for again.
        Err(e) if e.code == ErrorCode::VaultLocked && headless_password()?.is_none() => {
            let creating = !api.vault_status(Empty {}).await?.initialized;
            let password = ask(if creating { "New master password" } else { "Master password" })?;
            if creating && ask("Repeat the master password")? != password {
                return Err(Failure::invalid("switchyard: the passwords differ; nothing was created"));
            }
            api.vault_unlock(VaultUnlockRequest { password: Some(password) }).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The vault's master password when it has one: from the environment, else asked for.
async fn current_password(api: &Api, prompt: &str) -> Result<Option<String>, Failure> {
    if api.vault_status(Empty {}).await?.key_source.as_deref() != Some("password") {
        return Ok(None);
    }
    match headless_password()? {
        Some(p) => Ok(Some(p)),
        None => ask(prompt).map(Some),
    }
}

/// The master password from `SWITCHYARD_MASTER_PASSWORD`, the file
/// `SWITCHYARD_MASTER_PASSWORD_FILE` names, or systemd's credential; an unreadable file is an
/// error naming it.
fn headless_password() -> Result<Option<String>, Failure> {
    switchyard_vault::Vault::headless_password()
        .map(|p| p.map(|p| p.to_string()))
        .map_err(|e| Failure::failed(format!("switchyard: {e}")))
}

pub async fn vault(api: &Api, action: VaultAction) -> Outcome {
    match action {
        VaultAction::Status { json } => {
            let s = api.vault_status(Empty {}).await?;
            if json {
                print_json(&s);
            } else {
                println!(
                    "vault:    {}",
                    if s.initialized { "set up" } else { "not set up yet (created on first use)" }
                );
                if let Some(source) = &s.key_source {
                    println!(
                        "key:      {}",
                        if source == "keyring" { "in the OS keyring" } else { "behind a master password" }
                    );
                }
                match &s.keyring_message {
                    None => println!("keyring:  available"),
                    Some(why) => println!("keyring:  not usable ({why})"),
                }
                println!("accounts: {}", s.accounts);
            }
            Ok(())
        }
        VaultAction::Unlock => {
            unlock(api).await?;
            eprintln!("The vault is unlocked.");
            Ok(())
        }
        VaultAction::ChangePassword => {
            let current = current_password(api, "Current master password").await?;
            let new = ask_new_password()?;
            api.vault_change_password(VaultChangePasswordRequest { current, new }).await?;
            eprintln!("The master password was changed.");
            Ok(())
        }
        VaultAction::RotateKey => {
            let password = current_password(api, "Master password").await?;
            let r = api.vault_rotate_key(VaultUnlockRequest { password }).await?;
            eprintln!("New master key; {} account(s) re-sealed.", r.resealed);
            Ok(())
        }
        VaultAction::RecoveryKey { kit } => {
            if let Some(path) = &kit
                && path.exists()
            {
                return Err(Failure::invalid(format!(
                    "switchyard: {} exists; a recovery kit is never written over another file",
                    path.display()
                )));
            }
            if !api.vault_status(Empty {}).await?.initialized {
                unlock(api).await?;
            }
            let password = current_password(api, "Master password").await?;
            let r = api.vault_recovery_key(VaultUnlockRequest { password }).await?;
            if let Some(path) = &kit {
                let folder = api.store().file().and_then(|p| p.parent()).map(|p| p.to_path_buf()).unwrap_or_default();
                let text = kit_text(&folder, &r.recovery_key, &r.created_at);
                write_private(path, text.as_bytes())
                    .map_err(|e| Failure::failed(format!("switchyard: {}: {e}", path.display())))?;
                eprintln!("Recovery kit written to {}.", path.display());
            }
            println!("{}", r.recovery_key);
            eprintln!(
                "This is the vault's recovery key; it is shown once and an earlier one no longer works.\n\
                 Keep it offline. `switchyard vault recover` opens the vault with it."
            );
            Ok(())
        }
        VaultAction::Recover { kit, password } => {
            let key = match (&kit, std::env::var(RECOVERY_ENV)) {
                (Some(path), _) => key_from_kit(path)?,
                (None, Ok(k)) if !k.trim().is_empty() => k,
                _ => ask_or("Recovery key", &format!("set {RECOVERY_ENV} or give --kit FILE"))?,
            };
            // A headless recovery takes the new password from the environment.
            let new_password = || match std::env::var(switchyard_vault::PASSWORD_ENV) {
                Ok(p) if !p.is_empty() => Ok(p),
                _ => ask_new_password(),
            };
            let new = if password { Some(new_password()?) } else { None };
            let status =
                match api.vault_recover(VaultRecoverRequest { recovery_key: key.clone(), new_password: new }).await {
                    // No keyring here: keep the key behind a new master password instead.
                    Err(e)
                        if e.code == ErrorCode::VaultLocked
                            && !password
                            && e.message.contains("no OS keyring is usable") =>
                    {
                        eprintln!("{}", e.message);
                        let new = new_password()?;
                        api.vault_recover(VaultRecoverRequest { recovery_key: key, new_password: Some(new) }).await?
                    }
                    other => other?,
                };
            eprintln!(
                "The vault is open again; its key is {} and its {} account(s) can be read.",
                if status.key_source.as_deref() == Some("password") {
                    "behind the new master password"
                } else {
                    "in the OS keyring"
                },
                status.accounts
            );
            Ok(())
        }
    }
}

/// Finds an account by id or `TYPE/LABEL`.
async fn resolve(api: &Api, account: &str) -> Result<AccountInfo, Failure> {
    let all = api.account_list(Empty {}).await?.accounts;
    if let Some(a) = all.iter().find(|a| a.id == account) {
        return Ok(a.clone());
    }
    if let Some((ty, label)) = account.split_once('/')
        && let Some(a) = all.iter().find(|a| a.connection_type == ty && a.label == label)
    {
        return Ok(a.clone());
    }
    let known: Vec<String> = all.iter().map(|a| format!("{}/{}", a.connection_type, a.label)).collect();
    Err(Failure::invalid(format!(
        "switchyard: no account \"{account}\" (name one as TYPE/LABEL or by id; accounts: {})",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )))
}

fn field_value(name: &str, value: &str) -> Result<String, Failure> {
    if let Some(var) = value.strip_prefix("@env:") {
        return std::env::var(var).map_err(|_| {
            Failure::invalid(format!("switchyard: --field {name}: environment variable {var} is not set"))
        });
    }
    if let Some(path) = value.strip_prefix("@file:") {
        return std::fs::read_to_string(path)
            .map(|t| t.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| Failure::invalid(format!("switchyard: --field {name}: cannot read {path}: {e}")));
    }
    Ok(value.to_string())
}

fn show(a: &AccountInfo) {
    let status = match a.status {
        AccountStatus::Ready => "ready",
        AccountStatus::NotConnected => "not signed in",
        AccountStatus::NeedsReconnect => "NEEDS RECONNECT",
    };
    let default = if a.is_default { " (default)" } else { "" };
    let hosts = if a.allowed_hosts.is_empty() { "no hosts yet".to_string() } else { a.allowed_hosts.join(", ") };
    println!("{}/{}{default}  {status}  id {}  hosts: {hosts}", a.connection_type, a.label, a.id);
}

pub async fn connections(api: &Api, action: ConnectionsAction) -> Outcome {
    if !matches!(action, ConnectionsAction::Types { .. }) {
        unlock(api).await?;
    }
    match action {
        ConnectionsAction::Types { json } => {
            let types = api.connection_types(Empty {}).await?.connection_types;
            if json {
                print_json(&types);
            } else {
                for t in types {
                    let fields: Vec<String> = t
                        .fields
                        .iter()
                        .map(|f| {
                            format!(
                                "{}{}{}",
                                f.name,
                                if f.secret { " (secret)" } else { "" },
                                if f.required { "" } else { "?" }
                            )
                        })
                        .collect();
                    println!("{:<30} {}\n{:<30} fields: {}", t.id, t.name, "", fields.join(", "));
                }
            }
            Ok(())
        }
        ConnectionsAction::List { json } => {
            let accounts = api.account_list(Empty {}).await?.accounts;
            if json {
                print_json(&accounts);
            } else if accounts.is_empty() {
                eprintln!("No accounts yet; add one with `switchyard connections add TYPE LABEL --field NAME=VALUE`.");
            } else {
                accounts.iter().for_each(show);
            }
            Ok(())
        }
        ConnectionsAction::Add { connection_type, label, fields, default, hosts } => {
            let types = api.connection_types(Empty {}).await?.connection_types;
            let ty = types.iter().find(|t| t.id == connection_type).ok_or_else(|| {
                let ids: Vec<&str> = types.iter().map(|t| t.id.as_str()).collect();
                Failure::invalid(format!(
                    "switchyard: unknown connection type \"{connection_type}\" (types: {})",
                    ids.join(", ")
                ))
            })?;
            let mut values = BTreeMap::new();
            for entry in &fields {
                let (name, value) = entry
                    .split_once('=')
                    .ok_or_else(|| Failure::invalid(format!("switchyard: --field \"{entry}\" is not NAME=VALUE")))?;
                let name = name.trim();
                if !ty.fields.iter().any(|f| f.name == name) {
                    let known: Vec<&str> = ty.fields.iter().map(|f| f.name.as_str()).collect();
                    return Err(Failure::invalid(format!(
                        "switchyard: --field {name}: {} has no field \"{name}\" (fields: {})",
                        ty.name,
                        known.join(", ")
                    )));
                }
                values.insert(name.to_string(), field_value(name, value)?);
            }
            let missing: Vec<_> =
                ty.fields.iter().filter(|f| f.secret && f.required && !values.contains_key(&f.name)).collect();
            for f in missing {
                let hint = format!("give it with --field {}=@env:VAR", f.name);
                values.insert(f.name.clone(), ask_or(&format!("{} ({})", f.label, f.name), &hint)?);
            }
            let info = api
                .account_add(AccountAddRequest {
                    connection_type,
                    label,
                    fields: values,
                    make_default: default,
                    allowed_hosts: (!hosts.is_empty()).then_some(hosts),
                })
                .await?;
            show(&info);
            if info.status == AccountStatus::NotConnected {
                eprintln!("Sign it in with `switchyard connections login {}/{}`.", info.connection_type, info.label);
            }
            Ok(())
        }
        ConnectionsAction::Hosts { account, add, remove } => {
            let a = resolve(api, &account).await?;
            let info = if add.is_empty() && remove.is_empty() {
                a
            } else {
                let mut hosts = a.allowed_hosts.clone();
                for host in &remove {
                    let rule = switchyard_model::hosts::normalize_rule(host)
                        .map_err(|e| Failure::invalid(format!("switchyard: --remove: {e}")))?;
                    if !hosts.contains(&rule) {
                        return Err(Failure::invalid(format!(
                            "switchyard: --remove {host}: {}/{} does not allow it (hosts: {})",
                            a.connection_type,
                            a.label,
                            if hosts.is_empty() { "none".into() } else { hosts.join(", ") }
                        )));
                    }
                    hosts.retain(|h| h != &rule);
                }
                hosts.extend(add);
                api.account_hosts(AccountHostsRequest { id: a.id, hosts }).await?
            };
            show(&info);
            Ok(())
        }
        ConnectionsAction::Test { account } => {
            let a = resolve(api, &account).await?;
            let outcome = api.account_test(IdRequest { id: a.id }).await?;
            if outcome.ok {
                println!("ok: {}", outcome.message);
                Ok(())
            } else {
                Err(Failure::failed(format!("switchyard: the test failed: {}", outcome.message)))
            }
        }
        ConnectionsAction::Login { account } => {
            let a = resolve(api, &account).await?;
            eprintln!("Opening the sign-in page in your browser; waiting for it to come back…");
            let info = api.account_login(IdRequest { id: a.id }).await?;
            show(&info);
            Ok(())
        }
        ConnectionsAction::Default { account } => {
            let a = resolve(api, &account).await?;
            show(&api.account_set_default(IdRequest { id: a.id }).await?);
            Ok(())
        }
        ConnectionsAction::Rename { account, label } => {
            let a = resolve(api, &account).await?;
            show(&api.account_rename(AccountRenameRequest { id: a.id, label }).await?);
            Ok(())
        }
        ConnectionsAction::Remove { account } => {
            let a = resolve(api, &account).await?;
            let r = api.account_remove(IdRequest { id: a.id }).await?;
            eprintln!("Removed {}/{}.", a.connection_type, a.label);
            if let Some(note) = r.note {
                eprintln!("note: {note}");
            }
            Ok(())
        }
    }
}
