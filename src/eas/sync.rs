//! Sync request and response (MS-ASCMD 2.2.1.21), typed.

use crate::wbxml::pages::{AirSync as A, AirSyncBase as B};
use crate::wbxml::{Element, Node, Tag};

use super::{EasError, require_root};

/// One airsyncbase:BodyPreference (MS-ASAIRS 2.2.2.7).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BodyPreference {
    /// 1 plain text, 2 HTML, 3 RTF, 4 MIME.
    pub body_type: u8,
    pub truncation_size: Option<u32>,
    pub all_or_none: bool,
    /// Characters of plain-text preview wanted (14.0+), at most 255.
    pub preview: Option<u32>,
}

impl BodyPreference {
    /// Reads every BodyPreference child of an Options (or ItemOperations Options) element.
    pub fn parse_all(options: &Element) -> Result<Vec<BodyPreference>, EasError> {
        options
            .all(B::BodyPreference)
            .map(|p| {
                Ok(BodyPreference {
                    body_type: number(p, B::Type)?
                        .ok_or(EasError::Missing("BodyPreference/Type"))?
                        as u8,
                    truncation_size: number(p, B::TruncationSize)?,
                    all_or_none: flag(p, B::AllOrNone)?.unwrap_or(false),
                    preview: number(p, B::Preview)?.map(|n| n.min(255)),
                })
            })
            .collect()
    }
}

/// Options of one collection (MS-ASCMD 2.2.3.125.6).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SyncOptions {
    pub class: Option<String>,
    /// MS-ASCMD 2.2.3.69.2: 0 all, 1 day, 2 three days, 3 week, 4 two weeks, 5 month…
    pub filter_type: Option<u8>,
    pub body_preferences: Vec<BodyPreference>,
    pub mime_support: Option<u8>,
    /// The MIMETruncation enumeration value (MS-ASCMD 2.2.3.109), not bytes.
    pub mime_truncation: Option<u8>,
    /// 0: client wins, 1: server wins (the default).
    pub conflict: Option<u8>,
}

/// A command the client sends for one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    Add {
        client_id: String,
        data: Element,
    },
    /// `instance_id`: 16.x, a change of one occurrence of a recurring event
    /// (airsyncbase:InstanceId beside the ServerId, MS-ASAIRS 2.2.2.25).
    Change {
        server_id: String,
        data: Element,
        instance_id: Option<String>,
    },
    /// `instance_id`: 16.x, a delete of one occurrence only.
    Delete {
        server_id: String,
        instance_id: Option<String>,
    },
    Fetch {
        server_id: String,
    },
}

/// One Collection of a Sync request.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionRequest {
    pub sync_key: String,
    pub collection_id: String,
    pub class: Option<String>,
    pub deletes_as_moves: Option<bool>,
    pub get_changes: Option<bool>,
    pub window_size: Option<u32>,
    pub options: Option<SyncOptions>,
    pub commands: Vec<ClientCommand>,
}

/// A Sync request. An empty body is represented by `SyncRequest::default()` with
/// `empty = true` (MS-ASCMD 3.1.5.3: it repeats the previous request).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncRequest {
    pub collections: Vec<CollectionRequest>,
    /// Minutes (12.x).
    pub wait: Option<u32>,
    /// Seconds (14.0+).
    pub heartbeat_interval: Option<u32>,
    pub window_size: Option<u32>,
    pub partial: bool,
    pub empty: bool,
}

fn text(el: &Element, tag: Tag) -> Option<String> {
    el.child_text(tag).map(|s| s.trim().to_string())
}

fn number(el: &Element, tag: Tag) -> Result<Option<u32>, EasError> {
    match el.child_text(tag) {
        None => Ok(None),
        Some(t) => t.trim().parse().map(Some).map_err(|_| {
            EasError::Invalid(format!(
                "{} must be a number",
                tag.name().unwrap_or("element")
            ))
        }),
    }
}

/// Boolean elements come as `<X/>` (true), `<X>1</X>` or `<X>0</X>`.
fn flag(el: &Element, tag: Tag) -> Result<Option<bool>, EasError> {
    match el.first(tag) {
        None => Ok(None),
        Some(e) => match e.text().as_deref().map(str::trim) {
            None | Some("") | Some("1") => Ok(Some(true)),
            Some("0") => Ok(Some(false)),
            Some(_) => Err(EasError::Invalid(format!(
                "{} must be 0 or 1",
                tag.name().unwrap_or("element")
            ))),
        },
    }
}

impl SyncOptions {
    fn parse(options: &Element) -> Result<SyncOptions, EasError> {
        Ok(SyncOptions {
            class: text(options, A::Class),
            filter_type: number(options, A::FilterType)?.map(|n| n as u8),
            body_preferences: BodyPreference::parse_all(options)?,
            mime_support: number(options, A::MIMESupport)?.map(|n| n as u8),
            mime_truncation: number(options, A::MIMETruncation)?.map(|n| n as u8),
            conflict: number(options, A::Conflict)?.map(|n| n as u8),
        })
    }
}

impl SyncRequest {
    pub fn parse(root: Option<&Element>) -> Result<SyncRequest, EasError> {
        let Some(root) = root else {
            return Ok(SyncRequest {
                empty: true,
                ..Default::default()
            });
        };
        require_root(root, A::Sync)?;
        let mut req = SyncRequest {
            wait: number(root, A::Wait)?,
            heartbeat_interval: number(root, A::HeartbeatInterval)?,
            window_size: number(root, A::WindowSize)?,
            partial: flag(root, A::Partial)?.unwrap_or(false),
            ..Default::default()
        };
        for c in root
            .first(A::Collections)
            .into_iter()
            .flat_map(|c| c.all(A::Collection))
        {
            let mut commands = Vec::new();
            for cmd in c.first(A::Commands).into_iter().flat_map(|c| c.elements()) {
                let server_id = || text(cmd, A::ServerId).ok_or(EasError::Missing("ServerId"));
                let data = || {
                    cmd.first(A::ApplicationData)
                        .cloned()
                        .unwrap_or_else(|| Element::new(A::ApplicationData))
                };
                commands.push(match cmd.tag {
                    t if t == A::Add => ClientCommand::Add {
                        client_id: text(cmd, A::ClientId).ok_or(EasError::Missing("ClientId"))?,
                        data: data(),
                    },
                    t if t == A::Change => ClientCommand::Change {
                        server_id: server_id()?,
                        data: data(),
                        instance_id: text(cmd, B::InstanceId),
                    },
                    t if t == A::Delete => ClientCommand::Delete {
                        server_id: server_id()?,
                        instance_id: text(cmd, B::InstanceId),
                    },
                    t if t == A::Fetch => ClientCommand::Fetch {
                        server_id: server_id()?,
                    },
                    _ => return Err(EasError::Invalid("unknown command in Commands".into())),
                });
            }
            req.collections.push(CollectionRequest {
                sync_key: text(c, A::SyncKey).ok_or(EasError::Missing("SyncKey"))?,
                collection_id: text(c, A::CollectionId).ok_or(EasError::Missing("CollectionId"))?,
                class: text(c, A::Class),
                deletes_as_moves: flag(c, A::DeletesAsMoves)?,
                get_changes: flag(c, A::GetChanges)?,
                window_size: number(c, A::WindowSize)?,
                // Several Options blocks exist only for SMS beside Email; the first is ours.
                options: c.first(A::Options).map(SyncOptions::parse).transpose()?,
                commands,
            });
        }
        Ok(req)
    }
}

/// A command the server sends for one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerCommand {
    Add {
        server_id: String,
        /// The ApplicationData, as a tree or already encoded (a mail window's items,
        /// see `commands::sync::window::Prepared`).
        data: Node,
    },
    Change {
        server_id: String,
        data: Element,
    },
    Delete {
        server_id: String,
    },
    /// The item left the FilterType window; the client drops it without deleting it.
    SoftDelete {
        server_id: String,
    },
}

/// The server's answer to one client command.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemResponse {
    Add {
        client_id: String,
        server_id: Option<String>,
        status: u16,
    },
    Change {
        server_id: String,
        status: u16,
    },
    Delete {
        server_id: String,
        status: u16,
    },
    Fetch {
        server_id: String,
        status: u16,
        data: Option<Element>,
    },
}

/// Sync Status values (MS-ASCMD 2.2.3.177.17).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const INVALID_SYNC_KEY: u16 = 3;
    pub const PROTOCOL_ERROR: u16 = 4;
    pub const SERVER_ERROR: u16 = 5;
    pub const CONVERSION_ERROR: u16 = 6;
    pub const CONFLICT: u16 = 7;
    pub const OBJECT_NOT_FOUND: u16 = 8;
    pub const FOLDER_HIERARCHY_CHANGED: u16 = 12;
    pub const RESEND_FULL_REQUEST: u16 = 13;
    pub const INVALID_WAIT: u16 = 14;
    pub const TOO_MANY_COLLECTIONS: u16 = 15;
    pub const RETRY: u16 = 16;
}

#[derive(Debug, Clone, PartialEq)]
pub struct CollectionResponse {
    pub class: Option<String>,
    pub sync_key: String,
    pub collection_id: String,
    pub status: u16,
    pub commands: Vec<ServerCommand>,
    pub responses: Vec<ItemResponse>,
    pub more_available: bool,
}

impl CollectionResponse {
    pub fn status_only(req: &CollectionRequest, status: u16) -> CollectionResponse {
        CollectionResponse {
            class: None,
            sync_key: req.sync_key.clone(),
            collection_id: req.collection_id.clone(),
            status,
            commands: vec![],
            responses: vec![],
            more_available: false,
        }
    }

    /// Moves the response into its element (a window's ApplicationData is large: not
    /// copied).
    fn into_element(self) -> Element {
        let mut c = Element::new(A::Collection);
        if let Some(class) = self.class {
            c.push(Element::with_text(A::Class, class));
        }
        c.push(Element::with_text(A::SyncKey, self.sync_key));
        c.push(Element::with_text(A::CollectionId, self.collection_id));
        c.push(Element::with_text(A::Status, self.status.to_string()));
        if !self.commands.is_empty() {
            let mut cmds = Element::new(A::Commands);
            for cmd in self.commands {
                cmds.push(match cmd {
                    ServerCommand::Add { server_id, data } => {
                        let mut add = Element::new(A::Add).text_child(A::ServerId, server_id);
                        add.children.push(data);
                        add
                    }
                    ServerCommand::Change { server_id, data } => Element::new(A::Change)
                        .text_child(A::ServerId, server_id)
                        .child(data),
                    ServerCommand::Delete { server_id } => {
                        Element::new(A::Delete).text_child(A::ServerId, server_id)
                    }
                    ServerCommand::SoftDelete { server_id } => {
                        Element::new(A::SoftDelete).text_child(A::ServerId, server_id)
                    }
                });
            }
            c.push(cmds);
        }
        if !self.responses.is_empty() {
            let mut rs = Element::new(A::Responses);
            for r in self.responses {
                rs.push(match r {
                    ItemResponse::Add {
                        client_id,
                        server_id,
                        status,
                    } => {
                        let mut e = Element::new(A::Add).text_child(A::ClientId, client_id);
                        if let Some(id) = server_id {
                            e.push(Element::with_text(A::ServerId, id));
                        }
                        e.text_child(A::Status, status.to_string())
                    }
                    ItemResponse::Change { server_id, status } => Element::new(A::Change)
                        .text_child(A::ServerId, server_id)
                        .text_child(A::Status, status.to_string()),
                    ItemResponse::Delete { server_id, status } => Element::new(A::Delete)
                        .text_child(A::ServerId, server_id)
                        .text_child(A::Status, status.to_string()),
                    ItemResponse::Fetch {
                        server_id,
                        status,
                        data,
                    } => {
                        let mut e = Element::new(A::Fetch)
                            .text_child(A::ServerId, server_id)
                            .text_child(A::Status, status.to_string());
                        if let Some(d) = data {
                            e.push(d);
                        }
                        e
                    }
                });
            }
            c.push(rs);
        }
        // MS-ASCMD 4.5.8 shows MoreAvailable after Commands.
        if self.more_available {
            c.push(Element::new(A::MoreAvailable));
        }
        c
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncResponse {
    /// A top-level Status, only for errors of the whole request (13, 14, 4…).
    pub status: Option<u16>,
    /// Limit (MS-ASCMD 2.2.3.97) for Status 14 / 15 answers.
    pub limit: Option<u32>,
    pub collections: Vec<CollectionResponse>,
}

impl SyncResponse {
    pub fn error(status: u16, limit: Option<u32>) -> SyncResponse {
        SyncResponse {
            status: Some(status),
            limit,
            collections: vec![],
        }
    }

    pub fn into_element(self) -> Element {
        let mut root = Element::new(A::Sync);
        if let Some(s) = self.status {
            root.push(Element::with_text(A::Status, s.to_string()));
        }
        if let Some(l) = self.limit {
            root.push(Element::with_text(A::Limit, l.to_string()));
        }
        if !self.collections.is_empty() {
            let mut cs = Element::new(A::Collections);
            for c in self.collections {
                cs.push(c.into_element());
            }
            root.push(cs);
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn every_captured_sync_request_parses() {
        let dir = format!(
            "{}/../shared/fixtures/eas/syncgw-traces",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut n = 0;
        let mut with_commands = 0;
        for d in std::fs::read_dir(&dir).expect("fixtures missing") {
            for f in std::fs::read_dir(d.unwrap().path()).into_iter().flatten() {
                let p = f.unwrap().path();
                let name = p.to_string_lossy().into_owned();
                if name.ends_with("-Sync.req.wbxml") {
                    let bytes = std::fs::read(&p).unwrap();
                    let el = (!bytes.is_empty())
                        .then(|| wbxml::decode(&bytes, &wbxml::Limits::default()).unwrap());
                    let req =
                        SyncRequest::parse(el.as_ref()).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(req.empty || !req.collections.is_empty(), "{name}");
                    with_commands += req
                        .collections
                        .iter()
                        .filter(|c| !c.commands.is_empty())
                        .count();
                    n += 1;
                }
            }
        }
        assert!(n >= 15, "{n}");
        assert!(with_commands >= 3, "{with_commands}");
    }

    #[test]
    fn nine_options_are_read() {
        let p = format!(
            "{}/../shared/fixtures/eas/syncgw-traces/754/11-Sync.req.wbxml",
            env!("CARGO_MANIFEST_DIR")
        );
        let el = wbxml::decode(&std::fs::read(p).unwrap(), &wbxml::Limits::default()).unwrap();
        let req = SyncRequest::parse(Some(&el)).unwrap();
        let c = &req.collections[0];
        assert_eq!((c.sync_key.as_str(), c.collection_id.as_str()), ("2", "C1"));
        assert_eq!(
            (c.deletes_as_moves, c.get_changes, c.window_size),
            (Some(true), Some(true), Some(8))
        );
        let o = c.options.as_ref().unwrap();
        assert_eq!((o.filter_type, o.conflict), (Some(4), Some(1)));
        assert_eq!(
            o.body_preferences,
            vec![BodyPreference {
                body_type: 1,
                truncation_size: Some(20480),
                all_or_none: false,
                preview: None
            }]
        );
    }

    #[test]
    fn empty_body_is_an_empty_request() {
        assert!(SyncRequest::parse(None).unwrap().empty);
    }
}
