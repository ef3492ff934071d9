use switchyard_model::error::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the vault is locked: {0}")]
    Locked(String),
    #[error("wrong master password; nothing was changed")]
    WrongPassword,
    #[error("wrong recovery key: it does not open this vault; nothing was changed")]
    WrongRecoveryKey,
    #[error("the OS keyring cannot be used: {0}")]
    KeyringUnavailable(String),
    #[error(
        "the OS keyring has no key for this vault ({0}); it may have been deleted. `switchyard vault recover` (or Connections → Recover) opens the vault with its recovery key"
    )]
    KeyMissing(String),
    #[error("{what} failed its integrity check: it was changed, moved from another record, or sealed with another key")]
    Tampered { what: String },
    #[error("the vault header is damaged: {0}")]
    Header(String),
    #[error("{0}")]
    Crypto(String),
    #[error("unknown connection type \"{0}\"")]
    UnknownType(String),
    #[error("{0}")]
    InvalidField(String),
    #[error("no account {0}")]
    NoAccount(String),
    #[error("an account named \"{label}\" already exists for {connection_type}")]
    DuplicateLabel { connection_type: String, label: String },
    #[error("{0}")]
    NeedsReconnect(String),
    #[error("OAuth2: {0}")]
    OAuth(String),
    #[error("storage: {0}")]
    Store(#[from] switchyard_store::StoreError),
    #[error("{0}")]
    Internal(String),
}

impl VaultError {
    pub fn code(&self) -> ErrorCode {
        match self {
            VaultError::Locked(_) => ErrorCode::VaultLocked,
            VaultError::WrongPassword | VaultError::WrongRecoveryKey => ErrorCode::WrongPassword,
            VaultError::KeyringUnavailable(_) | VaultError::KeyMissing(_) => ErrorCode::KeyringUnavailable,
            VaultError::Tampered { .. } | VaultError::Header(_) | VaultError::Crypto(_) => ErrorCode::SecretTampered,
            VaultError::UnknownType(_) | VaultError::InvalidField(_) => ErrorCode::BadRequest,
            VaultError::NoAccount(_) => ErrorCode::CredentialMissing,
            VaultError::DuplicateLabel { .. } => ErrorCode::Conflict,
            VaultError::NeedsReconnect(_) => ErrorCode::NeedsReconnect,
            VaultError::OAuth(_) => ErrorCode::OAuthFailed,
            VaultError::Store(_) => ErrorCode::Storage,
            VaultError::Internal(_) => ErrorCode::Internal,
        }
    }
}

pub type Result<T> = std::result::Result<T, VaultError>;
