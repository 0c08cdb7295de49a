//! Status codes shared by all commands (MS-ASCMD 2.2.2, "Common Status Codes", EAS
//! 14.0+), and where each command carries its top-level Status.

use crate::wbxml::pages::{
    AirSync, ComposeMail, Find, FolderHierarchy, ItemEstimate, ItemOperations, MeetingResponse,
    Move, Ping, Provision, ResolveRecipients, Search, Settings, ValidateCert,
};
use crate::wbxml::{Element, Tag};

use super::Command;

/// The common status codes airsync uses (MS-ASCMD 2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonStatus {
    InvalidContent = 101,
    InvalidWbxml = 102,
    ServerError = 110,
    ServerErrorRetryLater = 111,
    DeviceIsBlockedForThisUser = 129,
    AccessDenied = 130,
    SyncStateNotFound = 132,
    CommandNotSupported = 137,
    VersionNotSupported = 138,
    RemoteWipeRequested = 140,
    DeviceNotProvisioned = 142,
    PolicyRefresh = 143,
    InvalidPolicyKey = 144,
    ItemNotFound = 150,
}

/// The root element and top-level Status element of each command's response, for
/// answering a common status inside the command (14.0+). GetAttachment has none: it
/// answers with HTTP codes only.
pub fn status_frame(command: Command) -> Option<(Tag, Tag)> {
    Some(match command {
        Command::Sync => (AirSync::Sync, AirSync::Status),
        Command::SendMail => (ComposeMail::SendMail, ComposeMail::Status),
        Command::SmartForward => (ComposeMail::SmartForward, ComposeMail::Status),
        Command::SmartReply => (ComposeMail::SmartReply, ComposeMail::Status),
        Command::GetAttachment => return None,
        Command::FolderSync => (FolderHierarchy::FolderSync, FolderHierarchy::Status),
        Command::FolderCreate => (FolderHierarchy::FolderCreate, FolderHierarchy::Status),
        Command::FolderDelete => (FolderHierarchy::FolderDelete, FolderHierarchy::Status),
        Command::FolderUpdate => (FolderHierarchy::FolderUpdate, FolderHierarchy::Status),
        Command::MoveItems => (Move::MoveItems, Move::Status),
        Command::GetItemEstimate => (ItemEstimate::GetItemEstimate, ItemEstimate::Status),
        Command::MeetingResponse => (MeetingResponse::MeetingResponse, MeetingResponse::Status),
        Command::Search => (Search::Search, Search::Status),
        Command::Settings => (Settings::Settings, Settings::Status),
        Command::Ping => (Ping::Ping, Ping::Status),
        Command::ItemOperations => (ItemOperations::ItemOperations, ItemOperations::Status),
        Command::Provision => (Provision::Provision, Provision::Status),
        Command::ResolveRecipients => (
            ResolveRecipients::ResolveRecipients,
            ResolveRecipients::Status,
        ),
        Command::ValidateCert => (ValidateCert::ValidateCert, ValidateCert::Status),
        Command::Find => (Find::Find, Find::Status),
    })
}

/// `<Command><Status>code</Status></Command>` for a command, if it has such a frame.
pub fn status_document(command: Command, code: u16) -> Option<Element> {
    status_frame(command)
        .map(|(root, status)| Element::new(root).text_child(status, code.to_string()))
}
