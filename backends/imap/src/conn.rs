//! The byte stream under an IMAP session: TCP or TLS, plus a read-ahead buffer.
//!
//! async-imap parses every response with imap-proto, which rejects responses it does not
//! know (`STATUS … (MAILBOXID …)`, `X-GUID`, NAMESPACE, LIST-EXTENDED data) and then stays
//! stuck on them. [`crate::raw`] therefore reads those responses itself, straight from
//! this stream. It reads through [`ImapConn::fill`] into the buffer here, takes exactly the
//! bytes of its own responses and leaves the rest in the buffer, where `AsyncRead` hands
//! them to async-imap first — so both readers can share one connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use crate::url::ImapUrl;

/// TCP or TLS transport.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One connection to the upstream, with bytes read ahead but not yet consumed.
pub struct ImapConn {
    transport: Transport,
    /// Bytes read from the transport that no reader has consumed yet.
    buf: ReadBuffer,
    /// A mailbox a fetch left open read-only (see `messages`, "Session state").
    pub(crate) examined: Option<Examined>,
}

/// Bytes read from the transport that no reader has consumed yet: `bytes[start..]`.
///
/// Consuming a frame only moves `start`; the consumed bytes are dropped when a read
/// needs room. Shifting the rest of the buffer out for every frame, as a plain
/// `Vec::drain` does, moved a 10,000-message listing some forty times over.
#[derive(Default)]
struct ReadBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl ReadBuffer {
    /// What one read may fill at most.
    const CHUNK: usize = 32 * 1024;

    fn unread(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
        if self.start == self.bytes.len() {
            if self.bytes.capacity() > 2 * Self::CHUNK {
                // A large literal has been read: do not keep its room for good.
                self.bytes = Vec::new();
            } else {
                self.bytes.clear();
            }
            self.start = 0;
        }
    }

    /// The vector to read into (after its unread bytes), with room for a chunk.
    fn make_room(&mut self) -> &mut Vec<u8> {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        if self.bytes.capacity() - self.bytes.len() < Self::CHUNK / 4 {
            self.bytes.reserve(Self::CHUNK);
        }
        &mut self.bytes
    }
}

/// A mailbox left selected with a plain EXAMINE, and how to leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Examined {
    /// Its name as sent (`wire_name`).
    pub wire: String,
    /// `UNSELECT`, or `CLOSE` (which never expunges a read-only selection).
    pub deselect: &'static str,
    /// The UIDNEXT the EXAMINE reported: the session knows of every message with a
    /// lower UID (0 when the server did not say).
    pub uidnext: u32,
}

impl std::fmt::Debug for ImapConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Plain(_) => "plain",
            Transport::Tls(_) => "tls",
        };
        f.debug_struct("ImapConn")
            .field("transport", &kind)
            .field("buffered", &self.buf.unread().len())
            .finish()
    }
}

impl ImapConn {
    /// Opens a TCP connection, with TLS first when `tls` is given (implicit TLS).
    pub async fn connect(
        url: &ImapUrl,
        tls: Option<&TlsConnector>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((url.host.as_str(), url.port)))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        tcp.set_nodelay(true)?;
        let conn = Self {
            transport: Transport::Plain(tcp),
            buf: ReadBuffer::default(),
            examined: None,
        };
        match tls {
            Some(tls) => conn.start_tls(tls, &url.host).await,
            None => Ok(conn),
        }
    }

    /// Wraps the plain connection in TLS (for implicit TLS, or after `STARTTLS` was
    /// accepted). Bytes still buffered from before the handshake are a protocol violation
    /// (RFC 3501 §6.2.1 forbids pipelining past STARTTLS) and refuse the upgrade.
    pub async fn start_tls(self, tls: &TlsConnector, host: &str) -> io::Result<Self> {
        let Transport::Plain(tcp) = self.transport else {
            return Err(io::Error::other("TLS already active"));
        };
        if !self.buf.unread().is_empty() {
            return Err(io::Error::other(
                "server sent data before the TLS handshake",
            ));
        }
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stream = tls.connect(name, tcp).await?;
        Ok(Self {
            transport: Transport::Tls(Box::new(stream)),
            buf: ReadBuffer::default(),
            examined: None,
        })
    }

    /// Bytes read ahead and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        self.buf.unread()
    }

    /// Drops the first `n` buffered bytes (consumed by a reader).
    pub(crate) fn consume(&mut self, n: usize) {
        self.buf.consume(n);
    }

    /// Reads more bytes from the transport into the buffer. `Ok(0)` means EOF.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        let bytes = self.buf.make_room();
        match &mut self.transport {
            Transport::Plain(s) => s.read_buf(bytes).await,
            Transport::Tls(s) => s.read_buf(bytes).await,
        }
    }
}

impl AsyncRead for ImapConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let unread = this.buf.unread();
        if !unread.is_empty() {
            let n = unread.len().min(out.remaining());
            out.put_slice(&unread[..n]);
            this.buf.consume(n);
            return Poll::Ready(Ok(()));
        }
        match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, out),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, out),
        }
    }
}

impl AsyncWrite for ImapConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, data),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Builds the TLS client configuration: web PKI roots plus the optional extra CA file,
/// on the ring provider (rustls is built without aws-lc).
pub fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<TlsConnector, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("bad PEM in {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("unusable CA in {}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("no certificate in CA file {}", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::ReadBuffer;

    #[test]
    fn read_buffer_keeps_unread_bytes_in_order() {
        let mut b = ReadBuffer::default();
        b.make_room().extend_from_slice(b"* 1 FETCH\r\n* 2 FE");
        b.consume(11);
        assert_eq!(b.unread(), b"* 2 FE");
        // Room for the next read drops what was consumed, not what is unread.
        let v = b.make_room();
        assert!(v.capacity() - v.len() >= ReadBuffer::CHUNK / 4);
        v.extend_from_slice(b"TCH\r\n");
        assert_eq!(b.unread(), b"* 2 FETCH\r\n");
        b.consume(100);
        assert_eq!(b.unread(), b"");
        // A large literal's room is given back once it is read.
        b.make_room()
            .extend_from_slice(&vec![b'x'; 5 * ReadBuffer::CHUNK]);
        b.consume(5 * ReadBuffer::CHUNK);
        assert_eq!(b.bytes.capacity(), 0);
    }
}
