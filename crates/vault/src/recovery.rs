//! The recovery key: a second way to the master key for the day its keyring entry is gone
//! (a new machine, a reinstalled OS, a wiped keychain) or the master password is forgotten.
//!
//! A recovery key is 160 random bits, shown once as nine groups of four Crockford base32
//! characters, the last group a checksum that catches typos. It never reaches the disk: the
//! header keeps the master key sealed under a key derived from it (HKDF-SHA256; 160 random
//! bits need no slow password hash), and that derived key sealed under the master key, so a
//! key rotation can wrap the new master key for the same recovery key without asking for it.

use crate::crypto::{self, MasterKey, check_aad};
use crate::{KeySource, KeyringError, Result, Vault, VaultError};
use ring::hkdf;
use switchyard_store::VaultHeaderRow;
use zeroize::Zeroizing;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const KEY_BYTES: usize = 20;
const BODY_CHARS: usize = KEY_BYTES * 8 / 5;
const CHECK_CHARS: usize = 4;

/// A recovery key as the user sees it: `7KQ2-…` (36 characters in nine groups).
pub struct RecoveryKey(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(redacted)")
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECK_CHARS] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let d = digest.as_ref();
    let bits = (u32::from(d[0]) << 12) | (u32::from(d[1]) << 4) | (u32::from(d[2]) >> 4);
    std::array::from_fn(|i| ALPHABET[((bits >> (5 * (CHECK_CHARS - 1 - i))) & 31) as usize])
}

impl RecoveryKey {
    pub fn generate() -> Result<RecoveryKey> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        crypto::random(&mut bytes[..])?;
        Ok(RecoveryKey(bytes))
    }

    /// Reads a recovery key as typed: case, spaces and dashes do not matter, and O/I/L are
    /// read as 0/1/1. A wrong length or checksum is refused saying so.
    pub fn parse(text: &str) -> Result<RecoveryKey> {
        let mut chars = Zeroizing::new(Vec::with_capacity(BODY_CHARS + CHECK_CHARS));
        for (i, c) in text.chars().enumerate() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' | '\t' | '\n' | '\r' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
                return Err(VaultError::InvalidField(format!(
                    "the recovery key has a character that cannot be in one (\"{c}\", character {})",
                    i + 1
                )));
            }
            chars.push(c as u8);
        }
        if chars.len() != BODY_CHARS + CHECK_CHARS {
            return Err(VaultError::InvalidField(format!(
                "a recovery key has {} letters and digits (nine groups of four); this one has {}",
                BODY_CHARS + CHECK_CHARS,
                chars.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        let (mut acc, mut bits, mut out) = (0u64, 0u32, 0usize);
        for &c in &chars[..BODY_CHARS] {
            let v = ALPHABET.iter().position(|&a| a == c).unwrap_or(0) as u64;
            acc = (acc << 5) | v;
            bits += 5;
            while bits >= 8 {
                bits -= 8;
                bytes[out] = (acc >> bits) as u8;
                out += 1;
            }
        }
        if chars[BODY_CHARS..] != checksum(&bytes[..]) {
            return Err(VaultError::InvalidField(
                "the recovery key has a typo: its last group (a checksum) does not match the rest".into(),
            ));
        }
        Ok(RecoveryKey(bytes))
    }

    /// The key as shown once to the user.
    pub fn display(&self) -> Zeroizing<String> {
        let mut chars = Vec::with_capacity(BODY_CHARS + CHECK_CHARS);
        let (mut acc, mut bits) = (0u64, 0u32);
        for &b in self.0.iter() {
            acc = (acc << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                chars.push(ALPHABET[((acc >> bits) & 31) as usize]);
            }
        }
        chars.extend_from_slice(&checksum(&self.0[..]));
        let groups: Vec<&str> =
            chars.chunks(4).map(|g| std::str::from_utf8(g).expect("the alphabet is ASCII")).collect();
        Zeroizing::new(groups.join("-"))
    }

    /// The key that wraps the master key for this vault.
    fn wrapping_key(&self, vault_id: &str) -> Result<MasterKey> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, vault_id.as_bytes());
        let info = [b"switchyard-vault/v1/recovery".as_slice()];
        let mut out = Zeroizing::new([0u8; 32]);
        salt.extract(&self.0[..])
            .expand(&info, hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out[..]))
            .map_err(|_| VaultError::Crypto("deriving the recovery key's wrapping key failed".into()))?;
        MasterKey::from_slice(&out[..]).ok_or_else(|| VaultError::Internal("a 32-byte key".into()))
    }
}

fn wrapped_aad(vault_id: &str) -> String {
    format!("switchyard-vault/v{}/recovery-wrapped/{vault_id}", crypto::FORMAT)
}

fn sealed_aad(vault_id: &str) -> String {
    format!("switchyard-vault/v{}/recovery-sealed/{vault_id}", crypto::FORMAT)
}

/// Sets `header`'s recovery fields for `master`, whose recovery wrapping key is `kek`.
fn set_recovery(header: &mut VaultHeaderRow, master: &MasterKey, kek: &MasterKey, created_at: String) -> Result<()> {
    header.recovery_wrapped = Some(crypto::seal(kek, &wrapped_aad(&header.vault_id), master.bytes())?);
    header.recovery_sealed = Some(crypto::seal(master, &sealed_aad(&header.vault_id), kek.bytes())?);
    header.recovery_created_at = Some(created_at);
    Ok(())
}

/// For a key rotation: `header`'s recovery fields moved from `old` to `new` (none stay none).
pub(crate) fn rewrap(header: &VaultHeaderRow, old: &MasterKey, new: &MasterKey) -> Result<VaultHeaderRow> {
    let (Some(sealed), Some(created_at)) = (&header.recovery_sealed, &header.recovery_created_at) else {
        return Ok(header.clone());
    };
    let kek_bytes = crypto::open(old, &sealed_aad(&header.vault_id), sealed, "the recovery key's wrapping")?;
    let kek = MasterKey::from_slice(&kek_bytes).ok_or_else(|| VaultError::Header("recovery wrapping size".into()))?;
    let mut out = header.clone();
    set_recovery(&mut out, new, &kek, created_at.clone())?;
    Ok(out)
}

/// What `recover` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Where the master key is kept now.
    pub key_source: KeySource,
    pub accounts: u32,
}

impl Vault {
    /// Makes a new recovery key for the unlocked vault (replacing any earlier one, which stops
    /// working) and returns it: it is shown once and never stored.
    pub async fn create_recovery_key(&self, password: Option<&str>) -> Result<RecoveryKey> {
        self.unlock(password).await?;
        let header = self.header().await?.ok_or_else(|| VaultError::Locked("the vault is not set up yet".into()))?;
        let current = self.unlocked().ok_or_else(|| VaultError::Locked("unlock it first".into()))?;
        if current.generation != header.generation {
            return Err(VaultError::Locked("the vault key was rotated meanwhile; try again".into()));
        }
        let recovery = RecoveryKey::generate()?;
        let kek = recovery.wrapping_key(&header.vault_id)?;
        let mut new_header = VaultHeaderRow { updated_at: self.now_text(), ..header };
        set_recovery(&mut new_header, &current.key, &kek, self.now_text())?;
        self.blocking(move |s| s.secrets().update_header(&new_header)).await?;
        Ok(recovery)
    }

    /// Opens the vault with its recovery key when the usual way is gone, and keeps the master
    /// key again: in the OS keyring under a new entry, or, with `new_password` (or when no
    /// keyring answers), behind that new master password. The accounts stay as they are and
    /// the recovery key keeps working.
    pub async fn recover(&self, recovery_key: &str, new_password: Option<&str>) -> Result<Recovered> {
        let recovery = RecoveryKey::parse(recovery_key)?;
        let header = self
            .header()
            .await?
            .ok_or_else(|| VaultError::Locked(format!("{} has no vault to recover", self.inner.store.location())))?;
        let Some(wrapped) = &header.recovery_wrapped else {
            return Err(VaultError::Locked(
                "this vault has no recovery key (it was never made); only its keyring entry or master password opens it"
                    .into(),
            ));
        };
        let kek = recovery.wrapping_key(&header.vault_id)?;
        let bytes = crypto::open(&kek, &wrapped_aad(&header.vault_id), wrapped, "the recovery wrapping")
            .map_err(|_| VaultError::WrongRecoveryKey)?;
        let key = MasterKey::from_slice(&bytes).ok_or_else(|| VaultError::Header("recovered key size".into()))?;
        crypto::open(&key, &check_aad(&header.vault_id), &header.check_value, "the vault key check")?;
        if let Some(p) = new_password
            && p.chars().count() < 8
        {
            return Err(VaultError::InvalidField("the new master password must have at least 8 characters".into()));
        }

        let mut new_header = VaultHeaderRow { updated_at: self.now_text(), ..header.clone() };
        let mut keyring_entry = None;
        if new_password.is_none() {
            let entry = format!("vault-{}-{}", header.vault_id, uuid::Uuid::new_v4().simple());
            let (e, bytes) = (entry.clone(), Zeroizing::new(key.bytes().to_vec()));
            match self.keyring_call(move |k| k.set(&e, &bytes)).await {
                Ok(()) => {
                    new_header.key_source = KeySource::Keyring.as_str().into();
                    new_header.key_id = entry.clone();
                    new_header.kdf = None;
                    new_header.wrapped_key = None;
                    keyring_entry = Some(entry);
                }
                Err(KeyringError::Unavailable(why)) | Err(KeyringError::Failed(why)) => {
                    return Err(VaultError::Locked(format!(
                        "the recovery key is right, but no OS keyring is usable here ({why}): choose a new master password to keep the key behind"
                    )));
                }
                Err(KeyringError::NoEntry) => return Err(VaultError::Internal("keyring set returned no entry".into())),
            }
        }
        if let Some(p) = new_password {
            let (kdf, wrapped_key) = crate::key::wrap(&key, &header.vault_id, p).await?;
            new_header.key_source = KeySource::Password.as_str().into();
            new_header.kdf = Some(kdf);
            new_header.wrapped_key = Some(wrapped_key);
        }
        let written = new_header.clone();
        if let Err(e) = self.blocking(move |s| s.secrets().update_header(&written)).await {
            if let Some(entry) = keyring_entry {
                let _ = self.keyring_call(move |k| k.delete(&entry)).await;
            }
            return Err(e);
        }
        // The old keyring entry, if any is left, no longer belongs to the vault.
        if header.key_source == "keyring" && header.key_id != new_header.key_id {
            let old = header.key_id.clone();
            let _ = self.keyring_call(move |k| k.delete(&old)).await;
        }
        let key_source = if new_header.key_source == "password" { KeySource::Password } else { KeySource::Keyring };
        self.set_key(key, header.generation, new_password.map(|p| Zeroizing::new(p.to_string())))?;
        let accounts = self.blocking(|s| s.secrets().accounts()).await?.len() as u32;
        tracing::info!(key_source = key_source.as_str(), "the vault was recovered with its recovery key");
        Ok(Recovered { key_source, accounts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_key_reads_back_as_typed_and_catches_typos() {
        let key = RecoveryKey::generate().unwrap();
        let shown = key.display();
        assert_eq!(shown.len(), 36 + 8, "{}", shown.as_str());
        assert_eq!(shown.split('-').count(), 9);
        let back = RecoveryKey::parse(&shown.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(back.0[..], key.0[..]);
        // O for 0 and l for 1 are read as meant.
        let confusable = shown.replace('0', "O").replace('1', "l");
        assert_eq!(RecoveryKey::parse(&confusable).unwrap().0[..], key.0[..]);

        let mut typo = shown.to_string().into_bytes();
        typo[0] = if typo[0] == b'2' { b'3' } else { b'2' };
        let e = RecoveryKey::parse(std::str::from_utf8(&typo).unwrap()).unwrap_err();
        assert!(e.to_string().contains("has a typo"), "{e}");
        let e = RecoveryKey::parse(&shown[..30]).unwrap_err();
        assert!(e.to_string().contains("this one has"), "{e}");
        let e = RecoveryKey::parse("UUUU").unwrap_err();
        assert!(e.to_string().contains("(\"U\", character 1)"), "{e}");
    }

    #[test]
    fn the_wrapping_key_depends_on_the_vault() {
        let key = RecoveryKey::generate().unwrap();
        let a = key.wrapping_key("vault-a").unwrap();
        let b = key.wrapping_key("vault-b").unwrap();
        assert_ne!(a.bytes(), b.bytes());
        assert_eq!(a.bytes(), key.wrapping_key("vault-a").unwrap().bytes());
    }
}
