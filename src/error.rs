//! The one place where errors of every layer become what the device sees: an HTTP
//! status, or (EAS 14.0+) a Status inside the command's response (MS-ASCMD 2.2.2).

use airsync_model::BackendError;

use crate::auth::AuthError;
use crate::eas::status::{CommonStatus, status_document};
use crate::eas::{Command, EasError, ProtocolVersion};
use crate::http::query::QueryError;
use crate::policy::KeyCheck;
use crate::state::StoreError;
use crate::wbxml::{Element, WbxmlError};

/// Anything that ends a request early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad request line: {0}")]
    Query(#[from] QueryError),
    #[error(
        "unsupported MS-ASProtocolVersion {0:?}; airsync speaks 12.0, 12.1, 14.0, 14.1, 16.0 and 16.1"
    )]
    UnsupportedVersion(String),
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("unreadable request body: {0}")]
    BadBody(String),
    #[error("WBXML: {0}")]
    Wbxml(#[from] WbxmlError),
    #[error("{0}")]
    Eas(#[from] EasError),
    #[error("device must provision: {0:?}")]
    Provision(KeyCheck),
    #[error("ActiveSync is not enabled for this account")]
    AccountDisabled,
    #[error("this device may not access this account")]
    DeviceBlocked,
    #[error("a remote wipe of this device was requested")]
    WipeRequested,
    #[error("command {0} is not supported")]
    NotSupported(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("upstream: {0}")]
    Backend(#[from] BackendError),
    /// SendMail / SmartReply / SmartForward / MeetingResponse failed with this
    /// command status (MS-ASCMD 2.2.2 / 2.2.3.177): 107 InvalidMIME, 111 retry later,
    /// 118 MessagePreviouslySent, 119 MessageHasNoRecipient, 120 MailSubmissionFailed,
    /// 130 AccessDenied (From is not the account's), 150 ItemNotFound.
    #[error("sending failed with status {0}")]
    Send(u16),
    /// The device used up its request budget (`[limits]`); it may retry after this long.
    #[error("too many requests from this device; retry in {0:?}")]
    Throttled(std::time::Duration),
}

/// What to send for an error, free of any HTTP library's types.
#[derive(Debug, PartialEq)]
pub struct ErrorReply {
    pub http_status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// A WBXML document (for 200 replies carrying a Status), or a plain-text reason.
    pub body: ErrorBody,
}

#[derive(Debug, PartialEq)]
pub enum ErrorBody {
    Wbxml(Element),
    Text(String),
    Empty,
}

/// Seconds a phone is asked to wait after an upstream outage or throttling.
const RETRY_AFTER_SECS: &str = "30";

impl Error {
    /// Maps the error for a request of `command` from a device speaking `version`.
    pub fn reply(&self, command: Option<Command>, version: Option<ProtocolVersion>) -> ErrorReply {
        // EAS 14.0+ report most conditions as a Status inside the command response.
        let in_band = |status: CommonStatus| -> Option<ErrorReply> {
            let (command, version) = (command?, version?);
            if !version.has_common_status() {
                return None;
            }
            status_document(command, status as u16).map(|doc| ErrorReply {
                http_status: 200,
                headers: vec![],
                body: ErrorBody::Wbxml(doc),
            })
        };
        let text = |code: u16, reason: String| ErrorReply {
            http_status: code,
            headers: vec![],
            body: ErrorBody::Text(reason),
        };
        let retry_later = |code: u16| ErrorReply {
            http_status: code,
            headers: vec![("Retry-After", RETRY_AFTER_SECS.into())],
            body: ErrorBody::Empty,
        };
        match self {
            Error::Query(_) | Error::UnsupportedVersion(_) | Error::BadBody(_) => {
                text(400, self.to_string())
            }
            Error::Auth(AuthError::Missing | AuthError::Rejected)
            | Error::Backend(BackendError::Auth) => ErrorReply {
                http_status: 401,
                headers: vec![("WWW-Authenticate", "Basic realm=\"ActiveSync\"".into())],
                body: ErrorBody::Empty,
            },
            Error::Auth(AuthError::Throttled) => retry_later(429),
            Error::Auth(AuthError::Upstream(_)) => retry_later(503),
            Error::BodyTooLarge(_) => text(413, self.to_string()),
            Error::Wbxml(_) => {
                in_band(CommonStatus::InvalidWbxml).unwrap_or_else(|| text(400, self.to_string()))
            }
            Error::Eas(_) => {
                in_band(CommonStatus::InvalidContent).unwrap_or_else(|| text(400, self.to_string()))
            }
            // MS-ASPROV 3.2.5.1.1: HTTP 449 before 14.0, a Status from 14.0 on.
            Error::Provision(check) => check
                .status()
                .and_then(in_band)
                .unwrap_or_else(|| text(449, "Retry after sending a PROVISION command".into())),
            // Refused before the password is checked (no upstream call): a plain 403 for
            // every version; the account's devices are not told anything more.
            Error::AccountDisabled => text(403, self.to_string()),
            // MS-ASCMD 2.2.2: 129 DeviceIsBlockedForThisUser from 14.0 on, in the
            // command's own Status; HTTP 403 before 14.0 and for commands without one.
            Error::DeviceBlocked => in_band(CommonStatus::DeviceIsBlockedForThisUser)
                .unwrap_or_else(|| text(403, self.to_string())),
            // MS-ASCMD 2.2.2 / MS-ASPROV 3.1.5.1: 140 RemoteWipeRequested from 14.0 on,
            // HTTP 449 before (the device provisions and gets the wipe directive).
            Error::WipeRequested => in_band(CommonStatus::RemoteWipeRequested)
                .unwrap_or_else(|| text(449, "Retry after sending a PROVISION command".into())),
            Error::NotSupported(_) => in_band(CommonStatus::CommandNotSupported)
                .unwrap_or_else(|| text(501, self.to_string())),
            // 14.0+: the status inside the command; before 14.0 there is no status
            // frame for SendMail (MS-ASCMD 2.2.1.17): HTTP 503 for "retry later",
            // else 500.
            Error::Send(code) => command
                .filter(|_| version.is_some_and(|v| v.has_common_status()))
                .and_then(|c| status_document(c, *code))
                .map(|doc| ErrorReply {
                    http_status: 200,
                    headers: vec![],
                    body: ErrorBody::Wbxml(doc),
                })
                .unwrap_or_else(|| {
                    if *code == 111 {
                        retry_later(503)
                    } else {
                        text(500, self.to_string())
                    }
                }),
            // MS-ASHTTP 2.2.2.1.2.13: Exchange throttles with 503 and X-MS-ASThrottle;
            // MS-ASCMD defines no Status for it, so every version gets the same.
            Error::Throttled(wait) => ErrorReply {
                http_status: 503,
                headers: vec![
                    (
                        "Retry-After",
                        wait.as_secs_f64().ceil().max(1.0).to_string(),
                    ),
                    ("X-MS-ASThrottle", "CommandFrequency".into()),
                ],
                body: ErrorBody::Empty,
            },
            Error::Backend(BackendError::Transient(_)) => retry_later(503),
            Error::Backend(BackendError::NotFound(_)) => {
                in_band(CommonStatus::ItemNotFound).unwrap_or_else(|| text(404, self.to_string()))
            }
            Error::Backend(_) | Error::Store(_) => in_band(CommonStatus::ServerError)
                .unwrap_or_else(|| text(500, "internal error".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn provisioning_by_version() {
        let e = Error::Provision(KeyCheck::NotProvisioned);
        assert_eq!(
            e.reply(Some(Command::FolderSync), Some(ProtocolVersion::V12_1))
                .http_status,
            449
        );
        let r = e.reply(Some(Command::FolderSync), Some(ProtocolVersion::V16_1));
        assert_eq!(r.http_status, 200);
        let ErrorBody::Wbxml(doc) = r.body else {
            panic!("{r:?}")
        };
        assert!(wbxml::to_xml(&doc).contains("<Status>142</Status>"));
        // GetAttachment has no status frame: 449 whatever the version.
        assert_eq!(
            e.reply(Some(Command::GetAttachment), Some(ProtocolVersion::V14_1))
                .http_status,
            449
        );
    }

    #[test]
    fn access_and_wipe_by_version() {
        let status = |e: &Error, c, v| {
            let r = e.reply(Some(c), Some(v));
            let xml = match &r.body {
                ErrorBody::Wbxml(doc) => wbxml::to_xml(doc),
                _ => String::new(),
            };
            (r.http_status, xml)
        };
        let (code, xml) = status(&Error::DeviceBlocked, Command::Sync, ProtocolVersion::V14_1);
        assert_eq!(code, 200);
        assert!(xml.contains("<Status>129</Status>"), "{xml}");
        assert_eq!(
            status(&Error::DeviceBlocked, Command::Sync, ProtocolVersion::V12_1).0,
            403
        );
        assert_eq!(
            status(
                &Error::DeviceBlocked,
                Command::GetAttachment,
                ProtocolVersion::V16_1
            )
            .0,
            403
        );
        let (code, xml) = status(
            &Error::WipeRequested,
            Command::FolderSync,
            ProtocolVersion::V16_1,
        );
        assert_eq!(code, 200);
        assert!(xml.contains("<Status>140</Status>"), "{xml}");
        assert_eq!(
            status(
                &Error::WipeRequested,
                Command::FolderSync,
                ProtocolVersion::V12_0
            )
            .0,
            449
        );
        assert_eq!(
            status(
                &Error::AccountDisabled,
                Command::Sync,
                ProtocolVersion::V16_1
            )
            .0,
            403
        );
        assert_eq!(Error::AccountDisabled.reply(None, None).http_status, 403);
    }

    #[test]
    fn send_statuses_by_version() {
        let r = Error::Send(118).reply(Some(Command::SendMail), Some(ProtocolVersion::V14_1));
        let ErrorBody::Wbxml(doc) = r.body else {
            panic!("{r:?}")
        };
        assert!(wbxml::to_xml(&doc).contains("<Status>118</Status>"));
        assert_eq!(
            Error::Send(130)
                .reply(Some(Command::SendMail), Some(ProtocolVersion::V12_1))
                .http_status,
            500
        );
        assert_eq!(
            Error::Send(111)
                .reply(Some(Command::SmartReply), Some(ProtocolVersion::V12_0))
                .http_status,
            503
        );
    }

    #[test]
    fn auth_and_outages() {
        let r = Error::Auth(AuthError::Rejected).reply(None, None);
        assert_eq!(r.http_status, 401);
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| *k == "WWW-Authenticate" && v.starts_with("Basic"))
        );
        let r = Error::Throttled(std::time::Duration::from_millis(2500))
            .reply(Some(Command::FolderSync), Some(ProtocolVersion::V16_1));
        assert_eq!(r.http_status, 503);
        assert!(r.headers.contains(&("Retry-After", "3".into())), "{r:?}");
        assert!(
            r.headers
                .contains(&("X-MS-ASThrottle", "CommandFrequency".into())),
            "{r:?}"
        );
        let r =
            Error::Backend(BackendError::Transient("down".into())).reply(Some(Command::Sync), None);
        assert_eq!(r.http_status, 503);
        assert!(r.headers.iter().any(|(k, _)| *k == "Retry-After"));
    }
}
