//! MeetingResponse (MS-ASCMD 2.2.1.11), typed.

use crate::wbxml::Element;
use crate::wbxml::pages::{MeetingResponse as M, Search};

use super::{EasError, require_root};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// 1 accept, 2 tentative, 3 decline.
    pub user_response: u8,
    pub collection_id: Option<String>,
    /// The meeting request mail's or the calendar item's ServerId (or a Search LongId).
    pub request_id: String,
    pub instance_id: Option<String>,
    /// 16.1 SendResponse: the device sends its own reply; ProposedStartTime/EndTime.
    pub send_response: bool,
    pub proposed: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub request_id: String,
    pub status: u8,
    pub calendar_id: Option<String>,
}

pub mod status {
    pub const SUCCESS: u8 = 1;
    pub const INVALID_REQUEST: u8 = 2;
    pub const MAILBOX_ERROR: u8 = 3;
    pub const SERVER_ERROR: u8 = 4;
}

fn text(el: &Element, tag: crate::wbxml::Tag) -> Option<String> {
    el.child_text(tag)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn parse(root: &Element) -> Result<Vec<Request>, EasError> {
    require_root(root, M::MeetingResponse)?;
    let mut out = Vec::new();
    for r in root.all(M::Request) {
        let request_id = text(r, M::RequestId)
            .or_else(|| text(r, Search::LongId))
            .ok_or(EasError::Missing("RequestId"))?;
        let user_response = text(r, M::UserResponse)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let send = r.first(M::SendResponse);
        let proposed =
            send.and_then(|s| Some((text(s, M::ProposedStartTime)?, text(s, M::ProposedEndTime)?)));
        out.push(Request {
            user_response,
            collection_id: text(r, M::CollectionId),
            request_id,
            instance_id: text(r, M::InstanceId),
            send_response: send.is_some(),
            proposed,
        });
    }
    if out.is_empty() {
        return Err(EasError::Missing("Request"));
    }
    Ok(out)
}

pub fn response(outcomes: &[Outcome]) -> Element {
    let mut root = Element::new(M::MeetingResponse);
    for o in outcomes {
        let mut r = Element::new(M::Result)
            .text_child(M::RequestId, o.request_id.clone())
            .text_child(M::Status, o.status.to_string());
        if let Some(c) = &o.calendar_id {
            r.push(Element::with_text(M::CalendarId, c.clone()));
        }
        root.push(r);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response() {
        let doc = Element::new(M::MeetingResponse).child(
            Element::new(M::Request)
                .text_child(M::UserResponse, "2")
                .text_child(M::CollectionId, "5")
                .text_child(M::RequestId, "5:7")
                .child(
                    Element::new(M::SendResponse)
                        .text_child(M::ProposedStartTime, "a")
                        .text_child(M::ProposedEndTime, "b"),
                ),
        );
        let r = parse(&doc).unwrap();
        assert_eq!(r[0].user_response, 2);
        assert_eq!(r[0].proposed, Some(("a".into(), "b".into())));
        let xml = crate::wbxml::to_xml(&response(&[Outcome {
            request_id: "5:7".into(),
            status: 1,
            calendar_id: Some("9:1".into()),
        }]));
        assert!(xml.contains("<CalendarId>9:1</CalendarId>"), "{xml}");
        assert!(parse(&Element::new(M::MeetingResponse)).is_err());
    }
}
