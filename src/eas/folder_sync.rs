//! FolderSync request and response (MS-ASCMD 2.2.1.5).

use crate::wbxml::Element;
use crate::wbxml::pages::FolderHierarchy as F;

use super::{EasError, require_root};

/// A FolderSync request: only the client's SyncKey ("0" asks for the whole hierarchy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSyncRequest {
    pub sync_key: String,
}

impl FolderSyncRequest {
    pub fn parse(root: &Element) -> Result<FolderSyncRequest, EasError> {
        require_root(root, F::FolderSync)?;
        let sync_key = root
            .child_text(F::SyncKey)
            .ok_or(EasError::Missing("SyncKey"))?;
        Ok(FolderSyncRequest {
            sync_key: sync_key.trim().to_string(),
        })
    }
}

/// FolderSync Status values (MS-ASCMD 2.2.3.177.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderSyncStatus {
    Success = 1,
    ServerError = 6,
    /// Synchronization key mismatch or invalid: the client starts over with key 0.
    InvalidSyncKey = 9,
    BadRequest = 10,
}

/// One folder as the device sees it (MS-ASCMD 2.2.3.8 Add).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderEntry {
    pub server_id: String,
    /// "0" for a top-level folder.
    pub parent_id: String,
    pub display_name: String,
    /// MS-ASCMD 2.2.3.186.3 folder type.
    pub folder_type: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderChanges {
    pub add: Vec<FolderEntry>,
    pub update: Vec<FolderEntry>,
    pub delete: Vec<String>,
}

impl FolderChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
    fn count(&self) -> usize {
        self.add.len() + self.update.len() + self.delete.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSyncResponse {
    pub status: FolderSyncStatus,
    pub sync_key: Option<String>,
    pub changes: FolderChanges,
}

impl FolderSyncResponse {
    pub fn error(status: FolderSyncStatus) -> FolderSyncResponse {
        FolderSyncResponse {
            status,
            sync_key: None,
            changes: FolderChanges::default(),
        }
    }

    pub fn to_element(&self) -> Element {
        let mut root =
            Element::new(F::FolderSync).text_child(F::Status, (self.status as u8).to_string());
        let Some(key) = &self.sync_key else {
            return root;
        };
        root.push(Element::with_text(F::SyncKey, key.clone()));
        let c = &self.changes;
        let mut changes = Element::new(F::Changes).text_child(F::Count, c.count().to_string());
        let entry = |tag, f: &FolderEntry| {
            Element::new(tag)
                .text_child(F::ServerId, f.server_id.clone())
                .text_child(F::ParentId, f.parent_id.clone())
                .text_child(F::DisplayName, f.display_name.clone())
                .text_child(F::Type, f.folder_type.to_string())
        };
        for f in &c.update {
            changes.push(entry(F::Update, f));
        }
        for id in &c.delete {
            changes.push(Element::new(F::Delete).text_child(F::ServerId, id.clone()));
        }
        for f in &c.add {
            changes.push(entry(F::Add, f));
        }
        root.child(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn parses_every_captured_foldersync_request() {
        let dir = format!(
            "{}/../shared/fixtures/eas/syncgw-traces",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut n = 0;
        for d in std::fs::read_dir(&dir).expect("fixtures missing") {
            for f in std::fs::read_dir(d.unwrap().path()).into_iter().flatten() {
                let p = f.unwrap().path();
                if p.to_string_lossy().ends_with("FolderSync.req.wbxml") {
                    let el = wbxml::decode(&std::fs::read(&p).unwrap(), &wbxml::Limits::default())
                        .unwrap();
                    let req = FolderSyncRequest::parse(&el).unwrap();
                    assert!(
                        req.sync_key.parse::<u64>().is_ok(),
                        "{p:?}: {}",
                        req.sync_key
                    );
                    n += 1;
                }
            }
        }
        assert!(n >= 10, "only {n} FolderSync requests found");
    }

    #[test]
    fn response_orders_count_update_delete_add() {
        let r = FolderSyncResponse {
            status: FolderSyncStatus::Success,
            sync_key: Some("2".into()),
            changes: FolderChanges {
                add: vec![FolderEntry {
                    server_id: "3".into(),
                    parent_id: "0".into(),
                    display_name: "Ä".into(),
                    folder_type: 12,
                }],
                update: vec![],
                delete: vec!["9".into()],
            },
        };
        let xml = wbxml::to_xml(&r.to_element());
        let count = xml.find("<Count>2</Count>").expect(&xml);
        let delete = xml.find("<Delete>").unwrap();
        let add = xml.find("<Add>").unwrap();
        assert!(count < delete && delete < add, "{xml}");
        assert!(xml.contains("<DisplayName>Ä</DisplayName>"));
    }
}
