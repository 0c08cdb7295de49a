//! MoveItems (MS-ASCMD 2.2.1.12), typed.

use crate::wbxml::Element;
use crate::wbxml::pages::Move as M;

use super::{EasError, require_root};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRequest {
    pub src_msg_id: String,
    pub src_fld_id: String,
    pub dst_fld_id: String,
}

pub fn parse(root: &Element) -> Result<Vec<MoveRequest>, EasError> {
    require_root(root, M::MoveItems)?;
    root.all(M::Move)
        .map(|m| {
            let text = |t, name| {
                m.child_text(t)
                    .map(|s| s.trim().to_string())
                    .ok_or(EasError::Missing(name))
            };
            Ok(MoveRequest {
                src_msg_id: text(M::SrcMsgId, "SrcMsgId")?,
                src_fld_id: text(M::SrcFldId, "SrcFldId")?,
                dst_fld_id: text(M::DstFldId, "DstFldId")?,
            })
        })
        .collect()
}

/// MoveItems Status values (MS-ASCMD 2.2.3.177.9). Note that success is 3.
pub mod status {
    pub const INVALID_SOURCE: u16 = 1;
    pub const INVALID_DESTINATION: u16 = 2;
    pub const SUCCESS: u16 = 3;
    pub const SAME_FOLDER: u16 = 4;
    pub const FAILED: u16 = 5;
}

pub struct MoveResponse {
    pub src_msg_id: String,
    pub status: u16,
    pub dst_msg_id: Option<String>,
}

pub fn response(answers: &[MoveResponse]) -> Element {
    let mut root = Element::new(M::MoveItems);
    for a in answers {
        let mut r = Element::new(M::Response)
            .text_child(M::SrcMsgId, a.src_msg_id.clone())
            .text_child(M::Status, a.status.to_string());
        if let Some(dst) = &a.dst_msg_id {
            r.push(Element::with_text(M::DstMsgId, dst.clone()));
        }
        root.push(r);
    }
    root
}
