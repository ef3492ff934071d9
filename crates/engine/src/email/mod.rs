//! Email: sending through an `email.smtp` account (lettre) and reading a mailbox of an
//! `email.imap` account. Both connect to the account's own `host:port` (checked against its
//! allowed hosts), encrypt as the account says (TLS, STARTTLS, or none for a local server),
//! and trust the system's certificates or the account's CA file. Errors name the server and
//! never hold the password.

pub mod imap;
pub mod smtp;

use crate::credentials::Fields;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

/// How the connection to a mail server is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (SMTPS on 465, IMAPS on 993).
    Tls,
    /// Plain first, then STARTTLS before signing in; a server that does not offer it is
    /// refused (never a silent fall-back to plain text).
    StartTls,
    /// No encryption: for a server on this computer.
    None,
}

impl Security {
    fn of(fields: &Fields, default: Security) -> Result<Security, NodeError> {
        match fields.get("security").trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "tls" | "ssl" | "ssl/tls" => Ok(Security::Tls),
            "starttls" => Ok(Security::StartTls),
            "none" | "off" | "plain" => Ok(Security::None),
            other => Err(NodeError::new(
                ErrorCode::InvalidParameter,
                format!("the account's security \"{other}\" is not one of tls, starttls, none"),
            )
            .with_class(ErrorClass::Permanent)),
        }
    }
}

/// Where an account connects, checked against its allowed hosts.
pub(crate) struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// A PEM file of certificates to trust instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// `SMTP "work" at mail.example.com:587`, for messages.
    pub place: String,
}

impl Server {
    pub(crate) fn of(protocol: &str, fields: &Fields, default: Security) -> Result<Server, NodeError> {
        let host = fields.get("host").trim().to_string();
        let default_port = match (protocol, default) {
            ("SMTP", _) => 587,
            (_, Security::Tls) => 993,
            _ => 143,
        };
        let security = Security::of(fields, default)?;
        let port_text = fields.get("port").trim();
        let port = if port_text.is_empty() {
            match (protocol, security) {
                ("SMTP", Security::Tls) => 465,
                ("SMTP", _) => 587,
                (_, Security::Tls) => 993,
                _ => 143,
            }
        } else {
            port_text.parse().map_err(|_| {
                NodeError::new(
                    ErrorCode::InvalidParameter,
                    format!("the account's port \"{port_text}\" is not a port number"),
                )
                .with_class(ErrorClass::Permanent)
            })?
        };
        let place = format!("{protocol} \"{}\" at {host}:{port}", fields.scope.account);
        if host.is_empty() {
            return Err(NodeError::new(ErrorCode::InvalidParameter, format!("{place}: the account has no host"))
                .with_class(ErrorClass::Permanent));
        }
        fields.scope.check_address(&host, port, default_port)?;
        let ca = fields.get("caFile").trim();
        let ca_file = (!ca.is_empty()).then(|| crate::access::expand_home(ca));
        Ok(Server { host, port, security, ca_file, place })
    }

    /// The CA file's certificates (PEM), read when the account names one.
    pub(crate) fn ca_pem(&self) -> Result<Option<Vec<u8>>, NodeError> {
        let Some(path) = &self.ca_file else { return Ok(None) };
        std::fs::read(path).map(Some).map_err(|e| {
            NodeError::new(
                ErrorCode::ConnectionFailed,
                format!("{}: cannot read the CA certificate file {}: {e}", self.place, path.display()),
            )
            .with_class(ErrorClass::Permanent)
        })
    }
}

/// A node error with the server in front.
pub(crate) fn at(place: &str, code: ErrorCode, class: ErrorClass, message: impl std::fmt::Display) -> NodeError {
    NodeError::new(code, format!("{place}: {message}")).with_class(class)
}
