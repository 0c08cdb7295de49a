//! FolderCreate, FolderUpdate and FolderDelete (MS-ASCMD 2.2.1.2–2.2.1.4), typed.

use crate::wbxml::Element;
use crate::wbxml::pages::FolderHierarchy as F;

use super::{EasError, require_root};

/// Status values shared by the three commands (MS-ASCMD 2.2.3.177.2–2.2.3.177.5).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const EXISTS: u16 = 2;
    pub const SPECIAL_FOLDER: u16 = 3;
    pub const NOT_FOUND: u16 = 4;
    pub const PARENT_NOT_FOUND: u16 = 5;
    pub const SERVER_ERROR: u16 = 6;
    pub const SYNC_KEY_MISMATCH: u16 = 9;
    pub const BAD_REQUEST: u16 = 10;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderRequest {
    Create {
        sync_key: String,
        parent_id: String,
        display_name: String,
        folder_type: u8,
    },
    Update {
        sync_key: String,
        server_id: String,
        parent_id: String,
        display_name: String,
    },
    Delete {
        sync_key: String,
        server_id: String,
    },
}

fn required(
    root: &Element,
    tag: crate::wbxml::Tag,
    name: &'static str,
) -> Result<String, EasError> {
    root.child_text(tag)
        .map(|s| s.trim().to_string())
        .ok_or(EasError::Missing(name))
}

impl FolderRequest {
    pub fn parse_create(root: &Element) -> Result<FolderRequest, EasError> {
        require_root(root, F::FolderCreate)?;
        Ok(FolderRequest::Create {
            sync_key: required(root, F::SyncKey, "SyncKey")?,
            parent_id: required(root, F::ParentId, "ParentId")?,
            display_name: root
                .child_text(F::DisplayName)
                .map(|s| s.into_owned())
                .ok_or(EasError::Missing("DisplayName"))?,
            folder_type: required(root, F::Type, "Type")?
                .parse()
                .map_err(|_| EasError::Invalid("Type must be a number".into()))?,
        })
    }

    pub fn parse_update(root: &Element) -> Result<FolderRequest, EasError> {
        require_root(root, F::FolderUpdate)?;
        Ok(FolderRequest::Update {
            sync_key: required(root, F::SyncKey, "SyncKey")?,
            server_id: required(root, F::ServerId, "ServerId")?,
            parent_id: required(root, F::ParentId, "ParentId")?,
            display_name: root
                .child_text(F::DisplayName)
                .map(|s| s.into_owned())
                .ok_or(EasError::Missing("DisplayName"))?,
        })
    }

    pub fn parse_delete(root: &Element) -> Result<FolderRequest, EasError> {
        require_root(root, F::FolderDelete)?;
        Ok(FolderRequest::Delete {
            sync_key: required(root, F::SyncKey, "SyncKey")?,
            server_id: required(root, F::ServerId, "ServerId")?,
        })
    }

    pub fn sync_key(&self) -> &str {
        match self {
            FolderRequest::Create { sync_key, .. }
            | FolderRequest::Update { sync_key, .. }
            | FolderRequest::Delete { sync_key, .. } => sync_key,
        }
    }
}

/// The answer: Status, and on success the new hierarchy SyncKey (and, for a create,
/// the new folder's ServerId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderResponse {
    pub root: crate::wbxml::Tag,
    pub status: u16,
    pub sync_key: Option<String>,
    pub server_id: Option<String>,
}

impl FolderResponse {
    pub fn to_element(&self) -> Element {
        let mut e = Element::new(self.root).text_child(F::Status, self.status.to_string());
        if let Some(k) = &self.sync_key {
            e.push(Element::with_text(F::SyncKey, k.clone()));
        }
        if let Some(id) = &self.server_id {
            e.push(Element::with_text(F::ServerId, id.clone()));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_answer() {
        let doc = Element::new(F::FolderCreate)
            .text_child(F::SyncKey, "3")
            .text_child(F::ParentId, "0")
            .text_child(F::DisplayName, " Spaced ")
            .text_child(F::Type, "12");
        assert_eq!(
            FolderRequest::parse_create(&doc).unwrap(),
            FolderRequest::Create {
                sync_key: "3".into(),
                parent_id: "0".into(),
                display_name: " Spaced ".into(),
                folder_type: 12
            }
        );
        assert!(FolderRequest::parse_delete(&doc).is_err());
        let r = FolderResponse {
            root: F::FolderCreate,
            status: 1,
            sync_key: Some("4".into()),
            server_id: Some("9".into()),
        };
        let xml = crate::wbxml::to_xml(&r.to_element());
        assert!(xml.contains("<ServerId>9</ServerId>"), "{xml}");
    }
}
