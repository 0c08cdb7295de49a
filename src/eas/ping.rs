//! Ping (MS-ASCMD 2.2.1.13), typed.

use crate::wbxml::Element;
use crate::wbxml::pages::Ping as P;

use super::{EasError, require_root};

/// One folder a Ping watches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PingFolder {
    pub id: String,
    /// `Email`, `Calendar`, `Contacts`, `Tasks` (or `Notes`, `SMS`).
    pub class: String,
}

/// A Ping request. Both parts are optional: an empty Ping (no body, or an empty
/// `<Ping/>`) reuses the last heartbeat and folders the device sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingRequest {
    pub heartbeat_interval: Option<u32>,
    pub folders: Option<Vec<PingFolder>>,
}

impl PingRequest {
    pub fn parse(root: Option<&Element>) -> Result<PingRequest, EasError> {
        let Some(root) = root else {
            return Ok(PingRequest::default());
        };
        require_root(root, P::Ping)?;
        let heartbeat_interval = match root.child_text(P::HeartbeatInterval) {
            None => None,
            Some(t) => Some(
                t.trim()
                    .parse()
                    .map_err(|_| EasError::Invalid("HeartbeatInterval must be a number".into()))?,
            ),
        };
        let folders = match root.first(P::Folders) {
            None => None,
            Some(f) => Some(
                f.all(P::Folder)
                    .map(|folder| {
                        let text = |t| {
                            folder
                                .child_text(t)
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty())
                        };
                        Ok(PingFolder {
                            id: text(P::Id).ok_or(EasError::Missing("Folder/Id"))?,
                            class: text(P::Class).ok_or(EasError::Missing("Folder/Class"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, EasError>>()?,
            ),
        };
        Ok(PingRequest {
            heartbeat_interval,
            folders,
        })
    }
}

/// Ping Status values (MS-ASCMD 2.2.3.177.10).
pub mod status {
    /// The heartbeat expired without a change.
    pub const EXPIRED: u16 = 1;
    /// Changes in the listed folders.
    pub const CHANGES: u16 = 2;
    /// The empty Ping has nothing to repeat: the device must send the full request.
    pub const MISSING_PARAMETERS: u16 = 3;
    pub const SYNTAX_ERROR: u16 = 4;
    /// HeartbeatInterval out of range; the answer names the bound.
    pub const INVALID_HEARTBEAT: u16 = 5;
    /// Too many folders; the answer names the maximum.
    pub const TOO_MANY_FOLDERS: u16 = 6;
    /// The folder hierarchy changed: FolderSync first.
    pub const FOLDER_SYNC_NEEDED: u16 = 7;
    pub const SERVER_ERROR: u16 = 8;
}

/// A Ping response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingResponse {
    /// A status alone (1, 3, 4, 7, 8).
    Status(u16),
    /// Status 2 with the changed folders' ids.
    Changes(Vec<String>),
    /// Status 5 with the nearest allowed heartbeat.
    HeartbeatOutOfRange(u32),
    /// Status 6 with the most folders allowed.
    TooManyFolders(usize),
}

impl PingResponse {
    pub fn to_element(&self) -> Element {
        let root = |s: u16| Element::new(P::Ping).text_child(P::Status, s.to_string());
        match self {
            PingResponse::Status(s) => root(*s),
            PingResponse::Changes(ids) => {
                let mut folders = Element::new(P::Folders);
                for id in ids {
                    folders.push(Element::with_text(P::Folder, id.clone()));
                }
                root(status::CHANGES).child(folders)
            }
            PingResponse::HeartbeatOutOfRange(limit) => {
                root(status::INVALID_HEARTBEAT).text_child(P::HeartbeatInterval, limit.to_string())
            }
            PingResponse::TooManyFolders(max) => {
                root(status::TOO_MANY_FOLDERS).text_child(P::MaxFolders, max.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn parses_full_and_empty_pings() {
        let doc = Element::new(P::Ping)
            .text_child(P::HeartbeatInterval, "480")
            .child(
                Element::new(P::Folders)
                    .child(
                        Element::new(P::Folder)
                            .text_child(P::Id, "5")
                            .text_child(P::Class, "Email"),
                    )
                    .child(
                        Element::new(P::Folder)
                            .text_child(P::Id, "12")
                            .text_child(P::Class, "Calendar"),
                    ),
            );
        let r = PingRequest::parse(Some(&doc)).unwrap();
        assert_eq!(r.heartbeat_interval, Some(480));
        let folders = r.folders.unwrap();
        assert_eq!(
            folders[1],
            PingFolder {
                id: "12".into(),
                class: "Calendar".into()
            }
        );
        assert_eq!(PingRequest::parse(None).unwrap(), PingRequest::default());
        assert_eq!(
            PingRequest::parse(Some(&Element::new(P::Ping))).unwrap(),
            PingRequest::default()
        );
        let bad = Element::new(P::Ping)
            .child(Element::new(P::Folders).child(Element::new(P::Folder).text_child(P::Id, "5")));
        assert!(PingRequest::parse(Some(&bad)).is_err());
        assert!(
            PingRequest::parse(Some(
                &Element::new(P::Ping).text_child(P::HeartbeatInterval, "x")
            ))
            .is_err()
        );
    }

    #[test]
    fn responses() {
        let xml = wbxml::to_xml(&PingResponse::Changes(vec!["5".into(), "12".into()]).to_element());
        assert!(
            xml.contains("<Status>2</Status>")
                && xml.contains("<Folder>5</Folder>")
                && xml.contains("<Folder>12</Folder>"),
            "{xml}"
        );
        let xml = wbxml::to_xml(&PingResponse::HeartbeatOutOfRange(60).to_element());
        assert!(
            xml.contains("<Status>5</Status>")
                && xml.contains("<HeartbeatInterval>60</HeartbeatInterval>"),
            "{xml}"
        );
        let xml = wbxml::to_xml(&PingResponse::TooManyFolders(300).to_element());
        assert!(
            xml.contains("<Status>6</Status>") && xml.contains("<MaxFolders>300</MaxFolders>"),
            "{xml}"
        );
    }
}
