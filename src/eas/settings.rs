//! Settings (MS-ASCMD 2.2.1.18), typed: Oof Get/Set, DeviceInformation Set,
//! UserInformation Get, DevicePassword Set. RightsManagementInformation is not offered.

use crate::sieve::{Oof, OofMessage};
use crate::wbxml::Element;
use crate::wbxml::pages::Settings as S;

use super::provision::DeviceInformation;
use super::search::parse_date;
use super::{EasError, require_root};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsOp {
    /// Oof Get with the BodyType wanted for the messages.
    OofGet {
        body_type: String,
    },
    OofSet(Oof),
    DeviceInformation(DeviceInformation),
    UserInformation,
    /// The recovery password. `Debug` of the request is never logged.
    DevicePassword(String),
    /// Something airsync does not offer (RightsManagementInformation…).
    Unsupported(String),
}

/// Settings Status values (MS-ASCMD 2.2.3.177.14).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const PROTOCOL_ERROR: u16 = 2;
    pub const ACCESS_DENIED: u16 = 3;
    pub const SERVER_UNAVAILABLE: u16 = 4;
    pub const INVALID_ARGUMENTS: u16 = 5;
    pub const CONFLICTING_ARGUMENTS: u16 = 6;
}

fn oof_message(el: &Element) -> OofMessage {
    OofMessage {
        enabled: el.child_text(S::Enabled).is_some_and(|e| e.trim() == "1"),
        reply: el
            .child_text(S::ReplyMessage)
            .map(|s| s.into_owned())
            .unwrap_or_default(),
        body_type: el
            .child_text(S::BodyType)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "Text".into()),
    }
}

fn oof_set(set: &Element) -> Result<Oof, EasError> {
    let state: u8 = match set.child_text(S::OofState) {
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| EasError::Invalid("OofState".into()))?,
        None => return Err(EasError::Missing("OofState")),
    };
    if state > 2 {
        return Err(EasError::Invalid("OofState".into()));
    }
    let date = |t| -> Result<Option<i64>, EasError> {
        set.child_text(t)
            .map(|s| parse_date(&s).ok_or_else(|| EasError::Invalid("Oof time".into())))
            .transpose()
    };
    let mut oof = Oof {
        state,
        start: date(S::StartTime)?,
        end: date(S::EndTime)?,
        ..Default::default()
    };
    if state == 2 && (oof.start.is_none() || oof.end.is_none()) {
        return Err(EasError::Missing("StartTime/EndTime"));
    }
    if let (Some(a), Some(b)) = (oof.start, oof.end)
        && a >= b
    {
        return Err(EasError::Invalid("StartTime after EndTime".into()));
    }
    for m in set.all(S::OofMessage) {
        let msg = oof_message(m);
        if m.first(S::AppliesToInternal).is_some() {
            oof.internal = Some(msg);
        } else if m.first(S::AppliesToExternalKnown).is_some() {
            oof.external_known = Some(msg);
        } else if m.first(S::AppliesToExternalUnknown).is_some() {
            oof.external_unknown = Some(msg);
        }
    }
    Ok(oof)
}

/// One operation of the request, or (its element name, why it cannot be read).
pub type ParsedOp = Result<SettingsOp, (String, EasError)>;

/// The operations in request order; an operation that cannot be read is an error
/// for that operation only (`Err` inside).
pub fn parse(root: &Element) -> Result<Vec<ParsedOp>, EasError> {
    require_root(root, S::Settings)?;
    let mut out = Vec::new();
    for el in root.elements() {
        let name = el.tag.name().unwrap_or("?").to_string();
        let op = if el.tag == S::Oof {
            if let Some(get) = el.first(S::Get) {
                Ok(SettingsOp::OofGet {
                    body_type: get
                        .child_text(S::BodyType)
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|| "Text".into()),
                })
            } else if let Some(set) = el.first(S::Set) {
                oof_set(set).map(SettingsOp::OofSet)
            } else {
                Err(EasError::Missing("Oof Get or Set"))
            }
        } else if el.tag == S::DeviceInformation {
            Ok(SettingsOp::DeviceInformation(DeviceInformation::parse(el)))
        } else if el.tag == S::UserInformation {
            Ok(SettingsOp::UserInformation)
        } else if el.tag == S::DevicePassword {
            let set = el
                .first(S::Set)
                .ok_or(EasError::Missing("DevicePassword Set"));
            set.map(|s| {
                SettingsOp::DevicePassword(
                    s.child_text(S::Password)
                        .map(|p| p.into_owned())
                        .unwrap_or_default(),
                )
            })
        } else {
            Ok(SettingsOp::Unsupported(name.clone()))
        };
        out.push(op.map_err(|e| (name, e)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::Tag;

    #[test]
    fn oof_set_scheduled() {
        let msg = |t: Tag| {
            Element::new(S::OofMessage)
                .child(Element::new(t))
                .text_child(S::Enabled, "1")
                .text_child(S::ReplyMessage, "away")
                .text_child(S::BodyType, "Text")
        };
        let doc = Element::new(S::Settings).child(
            Element::new(S::Oof).child(
                Element::new(S::Set)
                    .text_child(S::OofState, "2")
                    .text_child(S::StartTime, "2026-01-01T00:00:00.000Z")
                    .text_child(S::EndTime, "2026-01-02T00:00:00.000Z")
                    .child(msg(S::AppliesToInternal))
                    .child(msg(S::AppliesToExternalUnknown)),
            ),
        );
        let ops = parse(&doc).unwrap();
        let Ok(SettingsOp::OofSet(oof)) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(oof.state, 2);
        assert_eq!(oof.start, Some(1_767_225_600));
        assert!(oof.internal.as_ref().unwrap().enabled);
        assert!(oof.external_known.is_none());
        assert_eq!(oof.external_unknown.as_ref().unwrap().reply, "away");
    }
}
