//! The master-password fallback: Argon2id derives a key-encryption key that wraps the master
//! key. Parameters and salt live in the vault header.

use crate::crypto::{MasterKey, random};
use crate::error::{Result, VaultError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub algorithm: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Base64.
    pub salt: String,
}

impl KdfParams {
    /// Argon2id, m = 64 MiB, t = 3, p = 1, with a new random 128-bit salt.
    pub fn new_default() -> Result<KdfParams> {
        let mut salt = [0u8; 16];
        random(&mut salt)?;
        Ok(KdfParams {
            algorithm: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
            salt: B64.encode(salt),
        })
    }
}

/// Derives the key-encryption key for `password`.
pub fn derive(password: &str, params: &KdfParams) -> Result<MasterKey> {
    if params.algorithm != "argon2id" {
        return Err(VaultError::Header(format!("unknown key derivation \"{}\"", params.algorithm)));
    }
    let salt = B64.decode(&params.salt).map_err(|e| VaultError::Header(format!("the salt is not base64: {e}")))?;
    let argon_params = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|e| VaultError::Header(format!("bad Argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), &salt, &mut out[..])
        .map_err(|e| VaultError::Crypto(format!("key derivation failed: {e}")))?;
    Ok(MasterKey::from_slice(&out[..]).expect("32 bytes"))
}
