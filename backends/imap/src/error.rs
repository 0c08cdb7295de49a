//! Errors inside the IMAP backend and how they map to [`BackendError`].

use std::io;

use airsync_model::BackendError;

use crate::raw::StatusText;

/// What went wrong on one connection or command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Reading or writing the connection failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The server closed the connection.
    #[error("connection lost")]
    ConnectionLost,
    /// Connect, greeting or command took longer than configured.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The server sent something that is not IMAP as we know it.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A tagged NO (RFC 3501 §7.1.2).
    #[error("NO {0}")]
    No(StatusText),
    /// A tagged BAD (RFC 3501 §7.1.3).
    #[error("BAD {0}")]
    Bad(StatusText),
    /// A command that names a mailbox failed in a way that means it does not exist.
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(String),
    /// LOGIN was refused; the text is the server's reason, never the password.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// An argument that cannot be sent (e.g. a mailbox name with CR or LF).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A response (e.g. a fetched message) is larger than the configured limit. The
    /// connection is left mid-response and is dropped.
    #[error("too large: {0}")]
    TooLarge(String),
    /// No connection slot for this user became free in time.
    #[error("all {0} connections of this user are busy")]
    Busy(usize),
    /// An error reported by async-imap.
    #[error("imap: {0}")]
    Imap(async_imap::error::Error),
}

impl From<async_imap::error::Error> for Error {
    fn from(e: async_imap::error::Error) -> Self {
        use async_imap::error::Error as E;
        match e {
            E::Io(e) => Error::Io(e),
            E::ConnectionLost => Error::ConnectionLost,
            other => Error::Imap(other),
        }
    }
}

impl Error {
    /// True when the connection is unusable after this error and must be dropped instead
    /// of going back to the pool. A NO or BAD leaves the session in a known state.
    pub(crate) fn breaks_connection(&self) -> bool {
        !matches!(
            self,
            Error::No(_)
                | Error::Bad(_)
                | Error::NoSuchMailbox(_)
                | Error::Invalid(_)
                | Error::Busy(_)
        )
    }

    /// True when the failure may come from a pooled connection that the server closed
    /// while it sat idle, so that one retry on a fresh connection is worth it.
    pub(crate) fn may_be_stale_connection(&self) -> bool {
        matches!(self, Error::Io(_) | Error::ConnectionLost)
    }
}

/// Maps a response code (RFC 5530 and RFC 3501 §7.1) to the caller's terms.
fn from_code(code: Option<&str>, what: String) -> BackendError {
    match code {
        Some("ALREADYEXISTS") => BackendError::Conflict(what),
        Some("NONEXISTENT" | "TRYCREATE") => BackendError::NotFound(what),
        Some("AUTHENTICATIONFAILED" | "AUTHORIZATIONFAILED" | "EXPIRED") => BackendError::Auth,
        Some("UNAVAILABLE" | "INUSE" | "LIMIT" | "SERVERBUG") => BackendError::Transient(what),
        _ => BackendError::Permanent(what),
    }
}

impl From<Error> for BackendError {
    fn from(e: Error) -> Self {
        match e {
            Error::No(st) => from_code(st.code_name().as_deref(), format!("NO {st}")),
            Error::Bad(st) => BackendError::Permanent(format!("BAD {st}")),
            Error::LoginRefused(text) => match login_refusal_code(&text).as_deref() {
                Some("UNAVAILABLE" | "LIMIT" | "SERVERBUG" | "INUSE") => {
                    BackendError::Transient(format!("login: {text}"))
                }
                Some("PRIVACYREQUIRED" | "CLIENTBUG" | "CANNOT") => {
                    BackendError::Permanent(format!("login: {text}"))
                }
                // AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, EXPIRED, or a plain NO: RFC 3501
                // §6.2.3 says NO to LOGIN means the name or password was rejected.
                _ => BackendError::Auth,
            },
            Error::NoSuchMailbox(what) => BackendError::NotFound(what),
            Error::Invalid(what) => BackendError::Permanent(what),
            Error::TooLarge(what) => BackendError::Permanent(format!("too large: {what}")),
            Error::Protocol(what) => BackendError::Permanent(format!("protocol: {what}")),
            Error::Imap(async_imap::error::Error::Bad(what)) => {
                BackendError::Permanent(format!("BAD {what}"))
            }
            other => BackendError::Transient(other.to_string()),
        }
    }
}

/// Finds the response code in async-imap's rendering of a refused LOGIN, e.g.
/// `code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`:
/// imap-proto only types the RFC 3501 codes, so RFC 5530 codes stay in the text.
pub(crate) fn login_refusal_code(text: &str) -> Option<String> {
    let start = text.find('[')? + 1;
    let len = text[start..].find([']', ' '])?;
    let code = &text[start..start + len];
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| code.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_refusals() {
        let dovecot = r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#;
        assert_eq!(
            login_refusal_code(dovecot).as_deref(),
            Some("AUTHENTICATIONFAILED")
        );
        assert_eq!(
            BackendError::from(Error::LoginRefused(dovecot.into())),
            BackendError::Auth
        );
        let down = r#"code: None, info: Some("[UNAVAILABLE] Temporary authentication failure.")"#;
        assert!(matches!(
            BackendError::from(Error::LoginRefused(down.into())),
            BackendError::Transient(_)
        ));
        let plain = r#"code: None, info: Some("Login failed")"#;
        assert_eq!(login_refusal_code(plain), None);
        assert_eq!(
            BackendError::from(Error::LoginRefused(plain.into())),
            BackendError::Auth
        );
    }

    #[test]
    fn refusals_keep_the_connection() {
        assert!(!Error::NoSuchMailbox("x".into()).breaks_connection());
        assert!(!Error::Invalid("x".into()).breaks_connection());
        let e = Error::TooLarge("x".into());
        assert!(e.breaks_connection());
        assert!(matches!(BackendError::from(e), BackendError::Permanent(_)));
    }

    #[test]
    fn connection_errors_are_transient_and_break_the_connection() {
        let e = Error::Timeout("command");
        assert!(e.breaks_connection());
        assert!(matches!(BackendError::from(e), BackendError::Transient(_)));
        let e = Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(e.may_be_stale_connection());
        assert!(matches!(BackendError::from(e), BackendError::Transient(_)));
    }
}
