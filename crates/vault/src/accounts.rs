//! Accounts: listing, adding (fields checked against their connection type), editing
//! fields and allowed hosts, renaming, choosing the default, removing.

use crate::{Payload, Result, Vault, VaultError, is_stale, oauth};
use std::collections::BTreeMap;
use switchyard_model::connection::{AccountInfo, AccountStatus, AuthKind, ConnectionType, SECRET_SET};
use switchyard_model::hosts;
use switchyard_store::{AccountRow, StoreError};

impl Vault {
    pub(crate) fn info(&self, row: &AccountRow) -> Result<AccountInfo> {
        let ty = self.connection_type(&row.connection_type)?;
        let payload = self.open_payload(row)?;
        let fields = ty
            .fields
            .iter()
            .filter_map(|f| {
                let value = payload.fields.get(&f.name)?;
                Some((f.name.clone(), if f.secret { SECRET_SET.to_string() } else { value.clone() }))
            })
            .collect();
        Ok(AccountInfo {
            id: row.id.clone(),
            connection_type: row.connection_type.clone(),
            label: row.label.clone(),
            is_default: row.is_default,
            status: status_from(&row.status),
            allowed_hosts: payload.allowed_hosts(ty),
            fields,
            token_expires_at: row.token_expires_at.clone(),
            last_test: row.last_test.as_deref().and_then(|t| serde_json::from_str(t).ok()),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        })
    }

    pub async fn accounts(&self) -> Result<Vec<AccountInfo>> {
        self.unlock(None).await?;
        let rows = self.blocking(|s| s.secrets().accounts()).await?;
        match rows.iter().map(|r| self.info(r)).collect() {
            // Re-sealed by a rotation in another process since this one checked.
            Err(VaultError::Tampered { .. }) if self.follow_rotation().await? => {
                rows.iter().map(|r| self.info(r)).collect()
            }
            other => other,
        }
    }

    pub(crate) async fn row(&self, id: &str) -> Result<AccountRow> {
        let key = id.to_string();
        self.blocking(move |s| s.secrets().account(&key))
            .await?
            .ok_or_else(|| VaultError::NoAccount(format!("with id {id}")))
    }

    pub async fn account(&self, id: &str) -> Result<AccountInfo> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        match self.info(&row) {
            Err(VaultError::Tampered { .. }) if self.follow_rotation().await? => self.info(&row),
            other => other,
        }
    }

    /// Finds an account by connection type and label (the type's default without a label).
    pub async fn find(&self, connection_type: &str, label: Option<&str>) -> Result<AccountRow> {
        let (t, l) = (connection_type.to_string(), label.map(str::to_string));
        self.blocking(move |s| s.secrets().find(&t, l.as_deref())).await?.ok_or_else(|| {
            let name = self.connection_type(connection_type).map(|t| t.name.clone()).unwrap_or(connection_type.into());
            match label {
                Some(label) => VaultError::NoAccount(format!(
                    "\"{label}\" for {name}; add it on the Connections page or with `switchyard connections add`"
                )),
                None => VaultError::NoAccount(format!(
                    "for {name}; add one on the Connections page or with `switchyard connections add`"
                )),
            }
        })
    }

    /// Checks field values against the type: required fields set, no unknown fields.
    /// Defaults fill fields not given.
    pub(crate) fn complete_fields(
        ty: &ConnectionType,
        mut given: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        for name in given.keys() {
            if !ty.fields.iter().any(|f| &f.name == name) {
                let known: Vec<&str> = ty.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(VaultError::InvalidField(format!(
                    "{} has no field \"{name}\" (fields: {})",
                    ty.name,
                    known.join(", ")
                )));
            }
        }
        let mut out = BTreeMap::new();
        for f in &ty.fields {
            let value = given.remove(&f.name).or_else(|| f.default.clone()).unwrap_or_default();
            if f.required && value.trim().is_empty() {
                return Err(VaultError::InvalidField(format!("{}: \"{}\" ({}) is required", ty.name, f.label, f.name)));
            }
            if !value.is_empty() {
                out.insert(f.name.clone(), value);
            }
        }
        if ty.auth == AuthKind::Llm {
            check_llm_fields(ty, &out)?;
        }
        Ok(out)
    }

    /// Adds an account. OAuth2 sign-in accounts start as "not connected" until [`Vault::begin_login`].
    pub async fn add_account(
        &self,
        connection_type: &str,
        label: &str,
        fields: BTreeMap<String, String>,
        make_default: bool,
    ) -> Result<AccountInfo> {
        self.add_account_with_hosts(connection_type, label, fields, make_default, None).await
    }

    /// [`Vault::add_account`] with the hosts its credentials may go to (none given: the
    /// type's and the test URL's).
    pub async fn add_account_with_hosts(
        &self,
        connection_type: &str,
        label: &str,
        fields: BTreeMap<String, String>,
        make_default: bool,
        allowed_hosts: Option<Vec<String>>,
    ) -> Result<AccountInfo> {
        let label = label.trim();
        if label.is_empty() {
            return Err(VaultError::InvalidField("an account needs a label".into()));
        }
        let ty = self.connection_type(connection_type)?.clone();
        let fields = Vault::complete_fields(&ty, fields)?;
        let hosts = allowed_hosts.map(|h| normalize_hosts(label, &h)).transpose()?;
        self.unlock(None).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let payload = Payload { fields, tokens: None, hosts };
        let status = if ty.auth == AuthKind::OAuth2Code { "notConnected" } else { "ready" };
        // Sealed with the key in use; if another process rotated it meanwhile, with the new one.
        for _ in 0..3 {
            let (sealed, generation) = self.seal_payload(&id, connection_type, &payload)?;
            let now = self.now_text();
            let row = AccountRow {
                id: id.clone(),
                connection_type: connection_type.into(),
                label: label.into(),
                is_default: make_default,
                status: status.into(),
                sealed,
                token_expires_at: None,
                last_test: None,
                created_at: now.clone(),
                updated_at: now,
            };
            let (ct, lb) = (connection_type.to_string(), label.to_string());
            match self.blocking(move |s| s.secrets().insert_account(&row, generation)).await {
                Ok(()) => return self.account(&id).await,
                Err(e) if is_stale(&e) => {
                    self.follow_rotation().await?;
                }
                Err(VaultError::Store(StoreError::AlreadyExists(_))) => {
                    return Err(VaultError::DuplicateLabel { connection_type: ct, label: lb });
                }
                Err(e) => return Err(e),
            }
        }
        Err(VaultError::Internal("the vault key kept changing while the account was added; try again".into()))
    }

    /// Changes field values (secret fields left out keep their value).
    pub async fn update_fields(&self, id: &str, changes: BTreeMap<String, String>) -> Result<AccountInfo> {
        let edit = move |payload: &mut Payload, ty: &ConnectionType, _: &AccountRow| {
            let mut merged = payload.fields.clone();
            for (k, v) in &changes {
                if v == SECRET_SET {
                    continue;
                }
                merged.insert(k.clone(), v.clone());
            }
            let old_test_host = payload.test_host();
            payload.fields = Vault::complete_fields(ty, merged)?;
            // A test URL the user sets is a host they mean the account for.
            let new_test_host = payload.test_host();
            if let (Some(hosts), Some(host)) = (payload.hosts.as_mut(), new_test_host)
                && old_test_host.as_ref() != Some(&host)
                && !hosts.contains(&host)
            {
                hosts.push(host);
            }
            Ok(())
        };
        let gave_up = "the vault key kept changing while the account was edited; try again";
        self.edit_payload(id, 3, Some("the account changed while it was being edited; try again"), gave_up, edit).await
    }

    /// Replaces the hosts an account's credentials may be sent to.
    pub async fn set_allowed_hosts(&self, id: &str, allowed: Vec<String>) -> Result<AccountInfo> {
        self.change_hosts(id, move |_, label| normalize_hosts(label, &allowed)).await
    }

    /// Adds hosts an account's credentials may be sent to (what trusting a workflow does).
    pub async fn allow_hosts(&self, id: &str, more: Vec<String>) -> Result<AccountInfo> {
        self.change_hosts(id, move |mut current, label| {
            for host in normalize_hosts(label, &more)? {
                if !current.contains(&host) {
                    current.push(host);
                }
            }
            Ok(current)
        })
        .await
    }

    /// Re-seals an account with a new host list, made from its current one by `change`;
    /// tried again when another writer got there first.
    pub(crate) async fn change_hosts(
        &self,
        id: &str,
        change: impl Fn(Vec<String>, &str) -> Result<Vec<String>>,
    ) -> Result<AccountInfo> {
        let edit = move |payload: &mut Payload, ty: &ConnectionType, row: &AccountRow| {
            payload.hosts = Some(change(payload.allowed_hosts(ty), &row.label)?);
            Ok(())
        };
        let gave_up = "the account kept changing while its hosts were being saved; try again";
        self.edit_payload(id, 5, None, gave_up, edit).await
    }

    pub async fn rename(&self, id: &str, label: &str) -> Result<AccountInfo> {
        let label = label.trim().to_string();
        if label.is_empty() {
            return Err(VaultError::InvalidField("an account needs a label".into()));
        }
        let row = self.row(id).await?;
        let (rid, lb, now) = (id.to_string(), label.clone(), self.now_text());
        self.blocking(move |s| s.secrets().rename(&rid, &lb, &now)).await.map_err(|e| match e {
            VaultError::Store(StoreError::AlreadyExists(_)) => {
                VaultError::DuplicateLabel { connection_type: row.connection_type.clone(), label }
            }
            other => other,
        })?;
        self.account(id).await
    }

    pub async fn set_default(&self, id: &str) -> Result<AccountInfo> {
        // An unknown id is "no such account", not a damaged store.
        self.row(id).await?;
        let rid = id.to_string();
        self.blocking(move |s| s.secrets().set_default(&rid)).await?;
        self.account(id).await
    }

    /// Removes an account, revoking its OAuth2 tokens first when the provider has a
    /// revocation endpoint. Returns a note when revocation failed (the account is removed
    /// anyway).
    pub async fn remove(&self, id: &str) -> Result<Option<String>> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        let note = match self.open_row(&row).await {
            Ok(payload) => oauth::revoke(self, &payload).await.err(),
            Err(e) => Some(format!("its tokens could not be revoked: {e}")),
        };
        let rid = id.to_string();
        self.blocking(move |s| s.secrets().delete_account(&rid)).await?;
        Ok(note)
    }
}

fn status_from(s: &str) -> AccountStatus {
    match s {
        "notConnected" => AccountStatus::NotConnected,
        "needsReconnect" => AccountStatus::NeedsReconnect,
        _ => AccountStatus::Ready,
    }
}

/// Host rules in their one written form, without repeats; an error names the bad entry.
fn normalize_hosts(label: &str, given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for entry in given.iter().filter(|h| !h.trim().is_empty()) {
        let rule = hosts::normalize_rule(entry)
            .map_err(|e| VaultError::InvalidField(format!("account \"{label}\", allowed hosts: {e}")))?;
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

/// A chat model account's base URL is an http(s) URL without a query, and each line of its
/// extra headers is `Name: value` with a valid header name.
fn check_llm_fields(ty: &ConnectionType, fields: &BTreeMap<String, String>) -> Result<()> {
    let base = fields.get("baseUrl").map(|b| b.trim()).unwrap_or("");
    match url::Url::parse(base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() && url.has_host() => {}
        _ => {
            return Err(VaultError::InvalidField(format!(
                "{}: \"Base URL\" (baseUrl) must be an http:// or https:// URL such as http://127.0.0.1:11434/v1, \
                 got \"{base}\"",
                ty.name
            )));
        }
    }
    for (number, line) in fields.get("headers").map(String::as_str).unwrap_or("").lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let valid = line.split_once(':').is_some_and(|(name, value)| {
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value.trim()).is_ok()
        });
        if !valid {
            return Err(VaultError::InvalidField(format!(
                "{}: \"Extra headers\" (headers) line {}: expected Name: value, got \"{}\"",
                ty.name,
                number + 1,
                line.trim()
            )));
        }
    }
    Ok(())
}
