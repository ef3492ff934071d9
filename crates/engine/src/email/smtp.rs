//! Sending mail through an `email.smtp` account with lettre: TLS from the start, STARTTLS
//! (required, never a fall-back to plain text) or none for a local server; signing in when
//! the account has a user. A refusal keeps the server's reply; 4xx replies are transient
//! (worth a retry) and 5xx permanent, so the node's retry policy does the right thing.

use super::{Security, Server, at};
use crate::credentials::Fields;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

/// An SMTP account ready to send (connections are opened as messages go, and reused).
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `SMTP "work" at mail.example.com:587`.
    pub place: String,
    /// The account's sender address.
    pub from: String,
}

impl Sender {
    pub fn open(fields: &Fields) -> Result<Sender, NodeError> {
        let server = Server::of("SMTP", fields, Security::StartTls)?;
        let tls_error = |e: lettre::transport::smtp::Error| {
            at(&server.place, ErrorCode::ConnectionFailed, ErrorClass::Permanent, format!("TLS settings: {e}"))
        };
        let tls = if server.security == Security::None {
            Tls::None
        } else {
            let mut parameters = TlsParameters::builder(server.host.clone());
            if let Some(pem) = server.ca_pem()? {
                let certificate = Certificate::from_pem(&pem).map_err(tls_error)?;
                parameters = parameters.certificate_store(CertificateStore::None).add_root_certificate(certificate);
            }
            let parameters = parameters.build_rustls().map_err(tls_error)?;
            if server.security == Security::Tls { Tls::Wrapper(parameters) } else { Tls::Required(parameters) }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
            .port(server.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(60)));
        let user = fields.get("user").trim();
        if !user.is_empty() {
            builder = builder.credentials(Credentials::new(user.to_string(), fields.get("password").to_string()));
        }
        Ok(Sender { transport: builder.build(), place: server.place, from: fields.get("from").trim().to_string() })
    }

    /// Sends one message; the server's reply (`250 2.0.0 Ok: queued as …`).
    pub async fn send(&self, message: Message) -> Result<String, NodeError> {
        let response = self.transport.send(message).await.map_err(|e| self.error(e))?;
        Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
    }

    /// "Test connection": connect, EHLO, STARTTLS or TLS, sign in.
    pub async fn test(&self) -> Result<String, NodeError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(format!("connected and signed in to {}", self.place)),
            Ok(false) => {
                Err(at(&self.place, ErrorCode::ConnectionFailed, ErrorClass::Transient, "the server did not answer"))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: lettre::transport::smtp::Error) -> NodeError {
        // The innermost cause says most ("connection refused", "invalid peer certificate").
        let cause = switchyard_model::error::with_causes(&e);
        let code = e.status().map(|c| c.to_string());
        let (error_code, class) = if e.is_permanent() {
            (ErrorCode::MailRejected, ErrorClass::Permanent)
        } else if e.is_transient() {
            (ErrorCode::MailRejected, ErrorClass::Transient)
        } else if e.is_tls() {
            (ErrorCode::ConnectionFailed, ErrorClass::Permanent)
        } else {
            (ErrorCode::ConnectionFailed, ErrorClass::Transient)
        };
        at(&self.place, error_code, class, cause).with_details(serde_json::json!({ "smtpCode": code }))
    }
}

/// Sends a plain-text message from the account's From address to `to` (comma-separated):
/// for messages the app itself sends (alerts). The server's reply.
pub async fn send_text(fields: &Fields, to: &str, subject: &str, text: &str) -> Result<String, NodeError> {
    let sender = Sender::open(fields)?;
    let invalid = |what: String| at(&sender.place, ErrorCode::InvalidParameter, ErrorClass::Permanent, what);
    let from: lettre::message::Mailbox =
        sender.from.parse().map_err(|e| invalid(format!("the account's From address \"{}\": {e}", sender.from)))?;
    let recipients: lettre::message::Mailboxes =
        to.parse().map_err(|e| invalid(format!("\"{to}\" is not a list of email addresses: {e}")))?;
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(format!("<{}@{domain}>", uuid::Uuid::now_v7())))
        .date_now();
    for mailbox in recipients {
        builder = builder.to(mailbox);
    }
    let message = builder
        .singlepart(lettre::message::SinglePart::plain(text.to_string()))
        .map_err(|e| invalid(format!("the message cannot be built: {e}")))?;
    sender.send(message).await
}

/// "Test connection" for an `email.smtp` account.
pub async fn test(fields: &Fields) -> Result<String, NodeError> {
    Sender::open(fields)?.test().await
}
