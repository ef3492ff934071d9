//! Reading a mailbox of an `email.imap` account with async-imap: TLS from the start,
//! STARTTLS (required before signing in) or none for a local server; then SELECT, UID
//! SEARCH, FETCH (`BODY.PEEK[]`, so reading does not mark a message read) and IDLE.

use super::{Security, Server, at};
use crate::credentials::Fields;
use async_imap::{Client, Session};
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use tokio::io::{AsyncRead, AsyncWrite};

/// A connection to the server, plain or encrypted.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}
pub type Stream = Box<dyn Io>;

/// How long connecting, signing in or one command may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A signed-in session and where it is.
pub struct Connection {
    pub session: Session<Stream>,
    /// `IMAP "inbox" at mail.example.com:993`.
    pub place: String,
    /// Whether the server offers IDLE.
    pub idle: bool,
}

/// The selected mailbox's identity and next UID.
#[derive(Debug, Clone, Copy)]
pub struct Selected {
    pub validity: u32,
    pub next: u32,
    pub exists: u32,
}

/// An IMAP error as a node error naming the server.
pub fn error(place: &str, e: async_imap::error::Error) -> NodeError {
    use async_imap::error::Error as E;
    match e {
        E::No(text) | E::Bad(text) => at(place, ErrorCode::MailRejected, ErrorClass::Permanent, text),
        E::Io(io) => at(place, ErrorCode::ConnectionFailed, ErrorClass::Transient, format!("connection: {io}")),
        E::ConnectionLost => at(place, ErrorCode::ConnectionFailed, ErrorClass::Transient, "the connection was lost"),
        other => at(place, ErrorCode::ConnectionFailed, ErrorClass::Transient, other),
    }
}

fn timed_out(place: &str, what: &str) -> NodeError {
    at(
        place,
        ErrorCode::ConnectionFailed,
        ErrorClass::Transient,
        format!("{what} took longer than {} s", TIMEOUT.as_secs()),
    )
}

async fn within<T>(
    place: &str,
    what: &str,
    f: impl std::future::Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, NodeError> {
    tokio::time::timeout(TIMEOUT, f).await.map_err(|_| timed_out(place, what))?.map_err(|e| error(place, e))
}

/// A TLS client configuration that trusts the account's CA file, or the system's roots.
fn tls_config(server: &Server) -> Result<Arc<rustls::ClientConfig>, NodeError> {
    let fail = |what: String| at(&server.place, ErrorCode::ConnectionFailed, ErrorClass::Permanent, what);
    let mut roots = rustls::RootCertStore::empty();
    match server.ca_pem()? {
        Some(pem) => {
            use rustls_pki_types::pem::PemObject;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| fail(format!("the CA certificate file is not PEM: {e}")))?;
                roots.add(cert).map_err(|e| fail(format!("the CA certificate file: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn encrypt(server: &Server, tcp: Stream) -> Result<Stream, NodeError> {
    let connector = tokio_rustls::TlsConnector::from(tls_config(server)?);
    let name = rustls_pki_types::ServerName::try_from(server.host.clone()).map_err(|e| {
        at(&server.place, ErrorCode::InvalidParameter, ErrorClass::Permanent, format!("the host name: {e}"))
    })?;
    let tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| timed_out(&server.place, "the TLS handshake"))?
        .map_err(|e| {
            // A certificate that does not verify will not verify on a retry either.
            at(&server.place, ErrorCode::ConnectionFailed, ErrorClass::Permanent, format!("TLS failed: {e}"))
        })?;
    Ok(Box::new(tls))
}

/// Connects, encrypts as the account says, and signs in.
pub async fn connect(fields: &Fields) -> Result<Connection, NodeError> {
    let server = Server::of("IMAP", fields, Security::Tls)?;
    let place = server.place.clone();
    let tcp = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect((server.host.as_str(), server.port)))
        .await
        .map_err(|_| timed_out(&place, "connecting"))?
        .map_err(|e| {
            at(&place, ErrorCode::ConnectionFailed, ErrorClass::Transient, format!("cannot reach the server: {e}"))
        })?;
    let stream: Stream = match server.security {
        Security::Tls => encrypt(&server, Box::new(tcp)).await?,
        Security::None => Box::new(tcp),
        Security::StartTls => {
            let mut client = Client::new(Box::new(tcp) as Stream);
            within(&place, "the greeting", async { client.read_response().await.map_err(Into::into) }).await?;
            within(&place, "STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await.map_err(|e| {
                NodeError { message: format!("{} (the server must offer STARTTLS before signing in)", e.message), ..e }
            })?;
            encrypt(&server, client.into_inner()).await?
        }
    };
    let mut client = Client::new(stream);
    if server.security != Security::StartTls {
        within(&place, "the greeting", async { client.read_response().await.map_err(Into::into) }).await?;
    }
    let login = tokio::time::timeout(TIMEOUT, client.login(fields.get("user"), fields.get("password")))
        .await
        .map_err(|_| timed_out(&place, "signing in"))?;
    let mut session = login.map_err(|(e, _)| {
        let e = error(&place, e);
        NodeError { message: format!("{} (signing in as \"{}\")", e.message, fields.get("user")), ..e }
    })?;
    let capabilities = within(&place, "CAPABILITY", session.capabilities()).await?;
    let idle = capabilities.has_str("IDLE");
    Ok(Connection { session, place, idle })
}

impl Connection {
    /// SELECTs `mailbox` (read-write, so flags can change).
    pub async fn select(&mut self, mailbox: &str) -> Result<Selected, NodeError> {
        let selected = within(&self.place, "SELECT", self.session.select(mailbox))
            .await
            .map_err(|e| NodeError { message: format!("{} (mailbox \"{mailbox}\")", e.message), ..e })?;
        Ok(Selected {
            validity: selected.uid_validity.unwrap_or(0),
            next: selected.uid_next.unwrap_or(0),
            exists: selected.exists,
        })
    }

    /// UIDs above `after`, ascending (`UID SEARCH UID n:*` also answers the highest UID
    /// when it is lower: filtered out).
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<u32>, NodeError> {
        let query = format!("UID {}:*", after.saturating_add(1));
        let found = within(&self.place, "UID SEARCH", self.session.uid_search(query)).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > after).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// A message's raw bytes without marking it read.
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, NodeError> {
        let place = self.place.clone();
        let fetched = within(&place, "UID FETCH", async {
            let stream = self.session.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        Ok(fetched.into_iter().find(|f| f.uid == Some(uid)).and_then(|f| f.body().map(<[u8]>::to_vec)))
    }

    /// Marks a message read.
    pub async fn mark_read(&mut self, uid: u32) -> Result<(), NodeError> {
        let place = self.place.clone();
        within(&place, "UID STORE", async {
            let stream = self.session.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await
        .map(drop)
    }

    /// Moves a message to another mailbox.
    pub async fn move_to(&mut self, uid: u32, mailbox: &str) -> Result<(), NodeError> {
        within(&self.place, "UID MOVE", self.session.uid_mv(uid.to_string(), mailbox))
            .await
            .map_err(|e| NodeError { message: format!("{} (moving to \"{mailbox}\")", e.message), ..e })
    }

    /// Waits in IDLE until the server says something changed (new mail), or `max` passed;
    /// the session comes back ready for commands.
    pub async fn idle_until_news(self, max: Duration) -> Result<Connection, NodeError> {
        let Connection { session, place, idle } = self;
        let mut handle = session.idle();
        within(&place, "IDLE", handle.init()).await?;
        {
            let (wait, _stop) = handle.wait_with_timeout(max);
            // Keep-alives reset async-imap's own timeout: bound the whole wait as well.
            match tokio::time::timeout(max, wait).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => return Err(error(&place, e)),
            }
        }
        let session = within(&place, "DONE", handle.done()).await?;
        Ok(Connection { session, place, idle })
    }

    /// Drops notices the server sent on its own (kept by async-imap in a bounded queue).
    pub fn drain(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

/// "Test connection" for an `email.imap` account: sign in and SELECT its mailbox.
pub async fn test(fields: &Fields) -> Result<String, NodeError> {
    let mut connection = connect(fields).await?;
    let mailbox = match fields.get("mailbox").trim() {
        "" => "INBOX",
        name => name,
    };
    let selected = connection.select(mailbox).await;
    let place = connection.place.clone();
    connection.logout().await;
    let selected = selected?;
    Ok(format!("signed in to {place}: mailbox \"{mailbox}\" holds {} message(s)", selected.exists))
}
