//! Webhook signatures: the formats GitHub, Stripe, Slack and Shopify use, and a generic one
//! (any header, SHA-1/256/512, hex or base64, an optional prefix). Comparison is in constant
//! time (ring's HMAC verify); timestamped formats are refused outside a tolerance window.

use base64::Engine as _;
use ring::hmac;
use std::time::Duration;

/// Why a delivery's signature is not accepted. Every case means: answer 401, run nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(String),
    #[error("the {header} header is malformed: {why}")]
    Malformed { header: String, why: String },
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature's timestamp is {age_seconds} s away from now (the limit is {limit_seconds} s)")]
    Stale { age_seconds: i64, limit_seconds: u64 },
}

/// The hash of a generic signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

/// How a generic signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// A signature format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preset {
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    GitHub,
    /// `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]`; 5-minute tolerance.
    Stripe,
    /// `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:ts:body">` with
    /// `X-Slack-Request-Timestamp: <unix>`; 5-minute tolerance.
    Slack,
    /// `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`.
    Shopify,
    /// Any header, hash and encoding, with an optional prefix such as `sha256=`.
    Generic { header: String, hash: Hash, encoding: Encoding, prefix: String },
}

/// The longest signature header accepted: real ones are under 300 bytes. Longer ones are
/// refused before any HMAC is computed.
pub const MAX_HEADER_BYTES: usize = 2048;
/// The most `v1=` signatures a Stripe header may carry (Stripe sends two while a secret rolls).
pub const MAX_CANDIDATES: usize = 8;

/// The tolerance of timestamped presets.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

fn key(hash: Hash, secret: &[u8]) -> hmac::Key {
    let algorithm = match hash {
        Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha256 => hmac::HMAC_SHA256,
        Hash::Sha512 => hmac::HMAC_SHA512,
    };
    hmac::Key::new(algorithm, secret)
}

fn decode_hex(header: &str, text: &str) -> Result<Vec<u8>, SignatureError> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed { header: header.into(), why: "not hexadecimal".into() });
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|e| SignatureError::Malformed { header: header.into(), why: e.to_string() })
}

fn decode(header: &str, encoding: Encoding, text: &str) -> Result<Vec<u8>, SignatureError> {
    match encoding {
        Encoding::Hex => decode_hex(header, text),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| SignatureError::Malformed { header: header.into(), why: format!("not base64: {e}") }),
    }
}

/// Constant-time check of `signature` as the HMAC of `message`; the HMAC when it matches.
fn check(hash: Hash, secret: &[u8], message: &[u8], signature: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let expected = hmac::sign(&key(hash, secret), message);
    if equal_in_constant_time(expected.as_ref(), signature) {
        Ok(expected.as_ref().to_vec())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Whether two byte strings are equal, taking the same time for every pair of equal length.
pub fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fresh(timestamp: i64, now_unix: i64) -> Result<(), SignatureError> {
    let age = now_unix - timestamp;
    if age.unsigned_abs() > TOLERANCE.as_secs() {
        return Err(SignatureError::Stale { age_seconds: age, limit_seconds: TOLERANCE.as_secs() });
    }
    Ok(())
}

/// Headers by (case-insensitive) name.
pub trait Headers {
    fn header(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// An HTTP request's headers (axum's and reqwest's are this type).
impl Headers for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Preset {
    /// The preset's name as workflow files and the API spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Preset::GitHub => "github",
            Preset::Stripe => "stripe",
            Preset::Slack => "slack",
            Preset::Shopify => "shopify",
            Preset::Generic { .. } => "generic",
        }
    }

    /// The header holding the signature.
    pub fn header(&self) -> &str {
        match self {
            Preset::GitHub => "X-Hub-Signature-256",
            Preset::Stripe => "Stripe-Signature",
            Preset::Slack => "X-Slack-Signature",
            Preset::Shopify => "X-Shopify-Hmac-Sha256",
            Preset::Generic { header, .. } => header,
        }
    }

    /// Checks a delivery: its headers, raw body, the shared secret and the current Unix time.
    pub fn verify(
        &self,
        headers: &(impl Headers + ?Sized),
        body: &[u8],
        secret: &[u8],
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        self.verified_tag(headers, body, secret, now_unix).map(|_| ())
    }

    /// Whether the signed text includes a timestamp checked against [`TOLERANCE`] (so a
    /// replay is refused as stale after it, and replay keys need not outlive it).
    pub fn is_timestamped(&self) -> bool {
        matches!(self, Preset::Stripe | Preset::Slack)
    }

    /// [`Preset::verify`], returning the HMAC the delivery was verified with: the same bytes
    /// however the sender wrote them (hex case, extra `v1=` entries), so it identifies the
    /// signed content for replay protection.
    pub fn verified_tag(
        &self,
        headers: &(impl Headers + ?Sized),
        body: &[u8],
        secret: &[u8],
        now_unix: i64,
    ) -> Result<Vec<u8>, SignatureError> {
        let name = self.header();
        let value = headers.header(name).ok_or_else(|| SignatureError::Missing(name.to_string()))?;
        if value.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Malformed {
                header: name.into(),
                why: format!("it is longer than {MAX_HEADER_BYTES} bytes"),
            });
        }
        match self {
            Preset::GitHub => {
                let hex = value.strip_prefix("sha256=").ok_or_else(|| SignatureError::Malformed {
                    header: name.into(),
                    why: "it does not start with sha256=".into(),
                })?;
                check(Hash::Sha256, secret, body, &decode_hex(name, hex)?)
            }
            Preset::Shopify => check(Hash::Sha256, secret, body, &decode(name, Encoding::Base64, value)?),
            Preset::Generic { hash, encoding, prefix, .. } => {
                let text = value.strip_prefix(prefix.as_str()).ok_or_else(|| SignatureError::Malformed {
                    header: name.into(),
                    why: format!("it does not start with {prefix}"),
                })?;
                check(*hash, secret, body, &decode(name, *encoding, text)?)
            }
            Preset::Slack => {
                let ts_header = "X-Slack-Request-Timestamp";
                let ts_text = headers.header(ts_header).ok_or_else(|| SignatureError::Missing(ts_header.into()))?;
                let ts: i64 = ts_text.trim().parse().map_err(|_| SignatureError::Malformed {
                    header: ts_header.into(),
                    why: "not a Unix time".into(),
                })?;
                fresh(ts, now_unix)?;
                let hex = value.strip_prefix("v0=").ok_or_else(|| SignatureError::Malformed {
                    header: name.into(),
                    why: "it does not start with v0=".into(),
                })?;
                let mut message = format!("v0:{}:", ts_text.trim()).into_bytes();
                message.extend_from_slice(body);
                check(Hash::Sha256, secret, &message, &decode_hex(name, hex)?)
            }
            Preset::Stripe => {
                let mut timestamp = None;
                let mut candidates = Vec::new();
                for part in value.split(',') {
                    match part.trim().split_once('=') {
                        Some(("t", t)) => timestamp = Some(t.to_string()),
                        Some(("v1", sig)) if candidates.len() < MAX_CANDIDATES => candidates.push(sig),
                        Some(("v1", _)) => {
                            return Err(SignatureError::Malformed {
                                header: name.into(),
                                why: format!("it has more than {MAX_CANDIDATES} v1= signatures"),
                            });
                        }
                        _ => {}
                    }
                }
                let t = timestamp.ok_or_else(|| SignatureError::Malformed {
                    header: name.into(),
                    why: "it has no t= timestamp".into(),
                })?;
                let ts: i64 = t.parse().map_err(|_| SignatureError::Malformed {
                    header: name.into(),
                    why: "its t= is not a Unix time".into(),
                })?;
                if candidates.is_empty() {
                    return Err(SignatureError::Malformed {
                        header: name.into(),
                        why: "it has no v1= signature".into(),
                    });
                }
                fresh(ts, now_unix)?;
                let mut message = format!("{t}.").into_bytes();
                message.extend_from_slice(body);
                // Stripe may send several v1 signatures while a secret is rolled: one must
                // match. The HMAC is computed once and compared with each in constant time.
                let expected = hmac::sign(&key(Hash::Sha256, secret), &message);
                let mut matched = false;
                for sig in candidates {
                    if let Ok(bytes) = decode_hex(name, sig) {
                        matched |= equal_in_constant_time(expected.as_ref(), &bytes);
                    }
                }
                if matched { Ok(expected.as_ref().to_vec()) } else { Err(SignatureError::Mismatch) }
            }
        }
    }

    /// Signs a body in this format, as a sender would: the headers to send. Used by the
    /// outgoing webhook node and "send sample payload".
    pub fn sign(&self, body: &[u8], secret: &[u8], now_unix: i64) -> Vec<(String, String)> {
        let tag = |hash: Hash, message: &[u8]| hmac::sign(&key(hash, secret), message).as_ref().to_vec();
        match self {
            Preset::GitHub => vec![(self.header().into(), format!("sha256={}", hex(&tag(Hash::Sha256, body))))],
            Preset::Shopify => {
                vec![(self.header().into(), base64::engine::general_purpose::STANDARD.encode(tag(Hash::Sha256, body)))]
            }
            Preset::Generic { hash, encoding, prefix, .. } => {
                let sig = tag(*hash, body);
                let text = match encoding {
                    Encoding::Hex => hex(&sig),
                    Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(sig),
                };
                vec![(self.header().into(), format!("{prefix}{text}"))]
            }
            Preset::Slack => {
                let mut message = format!("v0:{now_unix}:").into_bytes();
                message.extend_from_slice(body);
                vec![
                    ("X-Slack-Request-Timestamp".into(), now_unix.to_string()),
                    (self.header().into(), format!("v0={}", hex(&tag(Hash::Sha256, &message)))),
                ]
            }
            Preset::Stripe => {
                let mut message = format!("{now_unix}.").into_bytes();
                message.extend_from_slice(body);
                vec![(self.header().into(), format!("t={now_unix},v1={}", hex(&tag(Hash::Sha256, &message))))]
            }
        }
    }
}
