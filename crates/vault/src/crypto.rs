//! Sealing with AES-256-GCM (ring): `version || nonce (96 bits, random) || ciphertext || tag`,
//! with associated data that binds a ciphertext to the record it belongs to.

use crate::error::{Result, VaultError};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The sealed-record format version; part of every record's associated data.
pub const FORMAT: u8 = 1;

/// A 256-bit key. Wiped from memory when dropped; never printed.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    pub fn generate() -> Result<MasterKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random(&mut bytes[..])?;
        Ok(MasterKey(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<MasterKey> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(MasterKey(Zeroizing::new(array)))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always accepted for AES-256-GCM.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0[..]).expect("a 32-byte AES-256 key"))
    }
}

pub fn random(out: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(out).map_err(|_| VaultError::Crypto("the system random generator failed".into()))
}

/// Seals `plaintext` bound to `aad`.
pub fn seal(key: &MasterKey, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.push(FORMAT);
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    key.aead()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut body)
        .map_err(|_| VaultError::Crypto("sealing failed".into()))?;
    out.extend_from_slice(&body);
    body.iter_mut().for_each(|b| *b = 0);
    Ok(out)
}

/// Opens a sealed record. Fails if the key is wrong, the bytes were changed, or the record
/// was sealed for different associated data (moved to another record).
pub fn open(key: &MasterKey, aad: &str, sealed: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let tampered = || VaultError::Tampered { what: what.to_string() };
    if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(tampered());
    }
    if sealed[0] != FORMAT {
        return Err(VaultError::Crypto(format!("{what} uses sealed-record format {}, not {FORMAT}", sealed[0])));
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().map_err(|_| tampered())?;
    let mut body = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = key
        .aead()
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut body)
        .map_err(|_| tampered())?
        .len();
    body.truncate(len);
    Ok(body)
}

/// Associated data for an account record: format, record id and connection type.
pub fn account_aad(id: &str, connection_type: &str) -> String {
    format!("switchyard-vault/v{FORMAT}/account/{id}/{connection_type}")
}

pub fn check_aad(vault_id: &str) -> String {
    format!("switchyard-vault/v{FORMAT}/check/{vault_id}")
}

pub fn wrap_aad(vault_id: &str) -> String {
    format!("switchyard-vault/v{FORMAT}/wrapped-key/{vault_id}")
}

/// The plaintext of the check value: opening it proves a key is this vault's key.
pub const CHECK_PLAINTEXT: &[u8] = b"switchyard vault key check";
