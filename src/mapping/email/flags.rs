//! IMAP flags and keywords ⇄ the flag-derived Email fields: Read, Flag, Categories,
//! LastVerbExecuted, IsDraft.
//!
//! What maps to what:
//!
//! | IMAP                              | EAS                                                  |
//! |-----------------------------------|------------------------------------------------------|
//! | `\Seen`                           | `Email:Read` 1 (MS-ASEMAIL 2.2.2.62)                  |
//! | `\Flagged`                        | `Email:Flag` with `Status` 2 (active), `FlagType` "Follow up" |
//! | `$Completed` without `\Flagged`   | `Email:Flag` with `Status` 1 (complete)               |
//! | neither                           | empty `<Flag/>` (MS-ASEMAIL 2.2.2.34)                 |
//! | `\Answered`                       | `Email2:LastVerbExecuted` 1 (reply to sender), 14.0+  |
//! | `$Forwarded`                      | `Email2:LastVerbExecuted` 3 (forward), 14.0+          |
//! | `\Draft`                          | `Email2:IsDraft` 1, 16.0+                             |
//! | other keywords                    | `Email:Categories/Category`, 14.0+ (2.2.2.16/17)      |
//!
//! **Completion.** IMAP has no standard "follow-up done" state. airsync stores a
//! client's "mark complete" (flag `Status` 1) as the keyword `$Completed` with
//! `\Flagged` removed, so other IMAP clients show the message as unflagged and EAS
//! clients see it complete. `\Flagged` wins when both are set. We do not know when the
//! flag was completed, so `CompleteTime` is not sent (MS-ASEMAIL 2.2.2.19 only requires
//! it of a client marking an item complete).
//!
//! **Categories.** Every keyword that is not a system flag (`\…`), not `$`-prefixed
//! (`$Forwarded`, `$MDNSent`, `$Junk`, `$label1`…) and not one of the junk markers
//! (`Junk`, `NonJunk`, `NotJunk`) is a category. IMAP keywords are atoms: no spaces,
//! no `( ) { % * " \ ]`, ASCII only. Category names like "Red category" are therefore
//! stored with the modified UTF-7 escape IMAP uses for mailbox names (RFC 3501
//! §5.1.3): runs of characters an atom cannot hold become `&` + base64 of their
//! UTF-16 + `-`, and `&` itself is `&-`. Plain names ("Work") are stored unchanged, and
//! a keyword that is not valid escaped text is shown as it is.
//!
//! **Reply and forward.** When both `\Answered` and `$Forwarded` are set we cannot tell
//! which came last; reply (1) is reported. `LastVerbExecutionTime` is never sent since
//! IMAP does not record it.

use airsync_model::FlagChange;
use base64::Engine as _;

use crate::eas::ProtocolVersion;
use crate::wbxml::pages::{Email, Email2};
use crate::wbxml::{Element, Node};

pub(crate) const SEEN: &str = "\\Seen";
pub(crate) const FLAGGED: &str = "\\Flagged";
pub(crate) const ANSWERED: &str = "\\Answered";
pub(crate) const DRAFT: &str = "\\Draft";
pub(crate) const FORWARDED: &str = "$Forwarded";
/// airsync's keyword for a completed follow-up flag (see the module docs).
pub(crate) const COMPLETED: &str = "$Completed";

/// `FlagType` of an active or completed flag; Exchange's and Outlook's value.
const FLAG_TYPE: &str = "Follow up";

/// MS-ASEMAIL 2.2.2.47 LastVerbExecuted values.
const VERB_REPLY_TO_SENDER: u8 = 1;
const VERB_FORWARD: u8 = 3;

/// Keywords that are not `$`-prefixed but are still not user categories.
const HIDDEN_KEYWORDS: &[&str] = &["Junk", "NonJunk", "NotJunk"];

fn has(flags: &[String], flag: &str) -> bool {
    // IMAP flag and keyword names are case-insensitive (RFC 3501 §9, last rule).
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// The follow-up state EAS sees: MS-ASEMAIL 2.2.2.74 Status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagState {
    Cleared,
    Complete,
    Active,
}

/// Everything about a message's flags that an EAS client can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VisibleFlags {
    pub read: bool,
    pub flag: FlagState,
    pub last_verb: Option<u8>,
    pub draft: bool,
    /// Category names, decoded, sorted and without duplicates.
    pub categories: Vec<String>,
}

impl VisibleFlags {
    pub(crate) fn from_imap(flags: &[String]) -> VisibleFlags {
        let flag = if has(flags, FLAGGED) {
            FlagState::Active
        } else if has(flags, COMPLETED) {
            FlagState::Complete
        } else {
            FlagState::Cleared
        };
        let last_verb = if has(flags, ANSWERED) {
            Some(VERB_REPLY_TO_SENDER)
        } else if has(flags, FORWARDED) {
            Some(VERB_FORWARD)
        } else {
            None
        };
        let mut categories: Vec<String> = flags
            .iter()
            .filter(|f| is_category_keyword(f))
            .map(|f| keyword_to_category(f))
            .collect();
        categories.sort();
        categories.dedup();
        VisibleFlags {
            read: has(flags, SEEN),
            flag,
            last_verb,
            draft: has(flags, DRAFT),
            categories,
        }
    }
}

/// Whether an IMAP flag is a user keyword that EAS shows as a category.
pub(crate) fn is_category_keyword(flag: &str) -> bool {
    !flag.is_empty()
        && !flag.starts_with('\\')
        && !flag.starts_with('$')
        && !HIDDEN_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(flag))
}

/// Characters an IMAP atom may hold (RFC 3501 §9 `ATOM-CHAR`), minus `&` (our escape).
fn is_plain_keyword_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']' | '&')
}

fn utf7_engine() -> base64::engine::GeneralPurpose {
    use base64::alphabet::Alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // RFC 3501 §5.1.3: modified BASE64 with ',' in place of '/', no padding.
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .expect("valid alphabet");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    )
}

/// A category name → the IMAP keyword that stores it (see the module docs).
pub(crate) fn category_to_keyword(name: &str) -> String {
    let engine = utf7_engine();
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine.encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for (i, c) in name.chars().enumerate() {
        // A leading '$' would make the keyword look like a well-known one and hide it.
        if is_plain_keyword_char(c) && !(i == 0 && c == '$') {
            flush(&mut pending, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut pending, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// An IMAP keyword → its category name; keywords that are not valid escapes are shown
/// as they are.
pub(crate) fn keyword_to_category(keyword: &str) -> String {
    decode_keyword(keyword).unwrap_or_else(|| keyword.to_string())
}

fn decode_keyword(keyword: &str) -> Option<String> {
    if !keyword.contains('&') {
        return Some(keyword.to_string());
    }
    let engine = utf7_engine();
    let mut out = String::new();
    let mut rest = keyword;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = engine.decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `<Email:Read>`.
pub(crate) fn read_element(v: &VisibleFlags) -> Element {
    Element::with_text(Email::Read, if v.read { "1" } else { "0" })
}

/// `<Email:Flag>`: empty when cleared (MS-ASEMAIL 2.2.2.34 "SHOULD be included … as an
/// empty container"). The flag's `Status` is `Email:Status` (0x3B), which MS-ASEMAIL
/// names FlagStatus in prose.
pub(crate) fn flag_element(v: &VisibleFlags) -> Element {
    let status = match v.flag {
        FlagState::Cleared => return Element::new(Email::Flag),
        FlagState::Complete => "1",
        FlagState::Active => "2",
    };
    Element::new(Email::Flag)
        .text_child(Email::Status, status)
        .text_child(Email::FlagType, FLAG_TYPE)
}

/// `<Email:Categories>`, empty when there are none (MS-ASEMAIL 2.2.2.16: an Add carries
/// an empty element when no category is set). 14.0+ only.
pub(crate) fn categories_element(v: &VisibleFlags) -> Element {
    let mut el = Element::new(Email::Categories);
    for c in &v.categories {
        el.push(Element::with_text(Email::Category, c.clone()));
    }
    el
}

/// `<Email2:LastVerbExecuted>` when a verb is known. 14.0+ only.
pub(crate) fn last_verb_element(v: &VisibleFlags) -> Option<Element> {
    v.last_verb
        .map(|verb| Element::with_text(Email2::LastVerbExecuted, verb.to_string()))
}

/// `<Email2:IsDraft>`. 16.0+ only.
pub(crate) fn is_draft_element(v: &VisibleFlags) -> Element {
    Element::with_text(Email2::IsDraft, if v.draft { "1" } else { "0" })
}

/// See [`super::change_application_data`].
pub(crate) fn change_elements(flags: &[String], version: ProtocolVersion) -> Vec<Element> {
    let v = VisibleFlags::from_imap(flags);
    let mut out = vec![read_element(&v), flag_element(&v)];
    if version >= ProtocolVersion::V14_0 {
        // A Change carries the verb even when it went away, as 0 (unknown), so that a
        // removed \Answered reaches the client.
        out.push(
            last_verb_element(&v)
                .unwrap_or_else(|| Element::with_text(Email2::LastVerbExecuted, "0")),
        );
        out.push(categories_element(&v));
    }
    if version >= ProtocolVersion::V16_0 {
        out.push(is_draft_element(&v));
    }
    out
}

fn text_of(el: &Element) -> Option<String> {
    el.text().map(|t| t.trim().to_string())
}

fn has_element_children(el: &Element) -> bool {
    el.children.iter().any(|n| matches!(n, Node::Element(_)))
}

/// Accumulates a minimal change against the current flags.
struct ChangeBuilder<'a> {
    current: &'a [String],
    change: FlagChange,
}

impl ChangeBuilder<'_> {
    fn set(&mut self, flag: &str, on: bool) {
        if on {
            if !has(self.current, flag) && !has(&self.change.add, flag) {
                self.change.add.push(flag.to_string());
            }
        } else {
            // Remove every spelling that is actually present (case may differ).
            for f in self.current {
                if f.eq_ignore_ascii_case(flag) && !self.change.remove.contains(f) {
                    self.change.remove.push(f.clone());
                }
            }
        }
    }
}

/// See [`super::flag_change`].
pub(crate) fn flag_change(change: &Element, current: &[String]) -> FlagChange {
    let mut b = ChangeBuilder {
        current,
        change: FlagChange::default(),
    };
    if let Some(read) = change.first(Email::Read) {
        match text_of(read).as_deref() {
            Some("1") => b.set(SEEN, true),
            Some("0") => b.set(SEEN, false),
            _ => {} // not a valid boolean: leave \Seen alone
        }
    }
    if let Some(flag) = change.first(Email::Flag) {
        // MS-ASEMAIL 2.2.2.34: an empty Flag clears the flag. A Flag without Status but
        // with other children sets an active flag.
        let status = flag.child_text(Email::Status).map(|s| s.trim().to_string());
        let state = match status.as_deref() {
            Some("0") => Some(FlagState::Cleared),
            Some("1") => Some(FlagState::Complete),
            Some("2") => Some(FlagState::Active),
            Some(_) => None, // invalid value (Sync answers Status 6 upstream of us)
            None if has_element_children(flag) => Some(FlagState::Active),
            None => Some(FlagState::Cleared),
        };
        if let Some(state) = state {
            b.set(FLAGGED, state == FlagState::Active);
            b.set(COMPLETED, state == FlagState::Complete);
        }
    }
    if let Some(cats) = change.first(Email::Categories) {
        // MS-ASEMAIL 2.2.2.16: the element replaces the whole set; empty clears it.
        let wanted: Vec<String> = cats
            .all(Email::Category)
            .filter_map(|c| c.text().map(|t| t.to_string()))
            .filter(|t| !t.trim().is_empty())
            .collect();
        for f in current.iter().filter(|f| is_category_keyword(f)) {
            let name = keyword_to_category(f);
            if !wanted.contains(&name) && !b.change.remove.contains(f) {
                b.change.remove.push(f.clone());
            }
        }
        let have: Vec<String> = current
            .iter()
            .filter(|f| is_category_keyword(f))
            .map(|f| keyword_to_category(f))
            .collect();
        for name in wanted {
            let keyword = category_to_keyword(&name);
            if !have.contains(&name) && !b.change.add.contains(&keyword) {
                b.change.add.push(keyword);
            }
        }
    }
    b.change
}

/// See [`super::visible_flags_signature`]. FNV-1a over a canonical text of the visible
/// state, so the value is stable across builds and Rust versions (it may be stored).
pub(crate) fn visible_flags_signature(flags: &[String]) -> u32 {
    let v = VisibleFlags::from_imap(flags);
    let mut canonical = String::new();
    canonical.push(if v.read { 'R' } else { 'r' });
    canonical.push(match v.flag {
        FlagState::Cleared => '0',
        FlagState::Complete => '1',
        FlagState::Active => '2',
    });
    canonical.push(match v.last_verb {
        None => '-',
        Some(VERB_REPLY_TO_SENDER) => 'A',
        Some(_) => 'F',
    });
    canonical.push(if v.draft { 'D' } else { 'd' });
    for c in &v.categories {
        canonical.push('\u{0}');
        canonical.push_str(c);
    }
    let mut hash: u32 = 0x811c_9dc5;
    for byte in canonical.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn change_doc(children: Vec<Element>) -> Element {
        let mut el = Element::new(crate::wbxml::pages::AirSync::ApplicationData);
        for c in children {
            el.push(c);
        }
        el
    }

    #[test]
    fn visible_flags_from_imap() {
        let v = VisibleFlags::from_imap(&flags(&[
            "\\seen",
            "\\Flagged",
            "$Forwarded",
            "Work",
            "$label1",
            "\\Recent",
            "NonJunk",
            "Red&ACA-category",
        ]));
        assert!(v.read);
        assert_eq!(v.flag, FlagState::Active);
        assert_eq!(v.last_verb, Some(VERB_FORWARD));
        assert!(!v.draft);
        assert_eq!(
            v.categories,
            vec!["Red category".to_string(), "Work".to_string()]
        );

        let v = VisibleFlags::from_imap(&flags(&[
            "$Completed",
            "\\Answered",
            "$Forwarded",
            "\\Draft",
        ]));
        assert_eq!(v.flag, FlagState::Complete);
        assert_eq!(v.last_verb, Some(VERB_REPLY_TO_SENDER));
        assert!(v.draft);
        // \Flagged wins over $Completed.
        let v = VisibleFlags::from_imap(&flags(&["$Completed", "\\Flagged"]));
        assert_eq!(v.flag, FlagState::Active);
    }

    #[test]
    fn category_keyword_escape_round_trips() {
        for name in [
            "Work",
            "Red category",
            "Ärger & Freude",
            "a&b",
            "$money",
            "x]y(z)",
            "日本語",
            "emoji 🎉",
            "%*\"\\{",
            "",
        ] {
            let kw = category_to_keyword(name);
            assert!(
                kw.chars().all(|c| c.is_ascii_graphic()
                    && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']')),
                "{kw:?} is not an IMAP atom"
            );
            assert!(!kw.starts_with('$') && !kw.starts_with('\\'));
            assert_eq!(keyword_to_category(&kw), name, "via {kw:?}");
        }
        assert_eq!(category_to_keyword("Work"), "Work");
        assert_eq!(category_to_keyword("a b"), "a&ACA-b");
        // Not a valid escape: shown as is.
        assert_eq!(keyword_to_category("R&D"), "R&D");
        assert_eq!(keyword_to_category("x&!!-"), "x&!!-");
    }

    #[test]
    fn read_changes() {
        let unread = flags(&["\\Flagged"]);
        let read = flags(&["\\Seen"]);
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "1")]),
            &unread,
        );
        assert_eq!(c.add, vec!["\\Seen"]);
        assert!(c.remove.is_empty());
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "0")]),
            &read,
        );
        assert!(c.add.is_empty());
        assert_eq!(c.remove, vec!["\\Seen"]);
        // Already in that state: nothing to do.
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "1")]),
            &read,
        );
        assert_eq!(c, FlagChange::default());
        // Read absent: \Seen untouched even though the message is unread.
        let c = flag_change(&change_doc(vec![]), &unread);
        assert_eq!(c, FlagChange::default());
        // Removal keeps the server's spelling.
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "0")]),
            &flags(&["\\SEEN"]),
        );
        assert_eq!(c.remove, vec!["\\SEEN"]);
    }

    #[test]
    fn flag_set_cleared_completed() {
        let active = Element::new(Email::Flag)
            .text_child(Email::Status, "2")
            .text_child(Email::FlagType, "Follow up");
        let c = flag_change(&change_doc(vec![active]), &flags(&["\\Seen"]));
        assert_eq!(c.add, vec!["\\Flagged"]);
        assert!(c.remove.is_empty());

        let empty = Element::new(Email::Flag);
        let c = flag_change(
            &change_doc(vec![empty]),
            &flags(&["\\Seen", "\\Flagged", "$Completed"]),
        );
        assert!(c.add.is_empty());
        assert_eq!(c.remove, vec!["\\Flagged", "$Completed"]);

        let complete = Element::new(Email::Flag)
            .text_child(Email::Status, "1")
            .text_child(Email::CompleteTime, "2024-01-31T12:00:00.000Z");
        let c = flag_change(&change_doc(vec![complete]), &flags(&["\\Flagged"]));
        assert_eq!(c.add, vec!["$Completed"]);
        assert_eq!(c.remove, vec!["\\Flagged"]);

        let zero = Element::new(Email::Flag).text_child(Email::Status, "0");
        let c = flag_change(&change_doc(vec![zero]), &flags(&["\\Flagged"]));
        assert_eq!(c.remove, vec!["\\Flagged"]);

        let bogus = Element::new(Email::Flag).text_child(Email::Status, "7");
        let c = flag_change(&change_doc(vec![bogus]), &flags(&["\\Flagged"]));
        assert_eq!(c, FlagChange::default());

        // Flag absent: flag untouched.
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "1")]),
            &flags(&["\\Flagged", "\\Seen"]),
        );
        assert_eq!(c, FlagChange::default());
    }

    #[test]
    fn categories_replaced_and_cleared() {
        let current = flags(&["\\Seen", "Work", "Old&ACA-one", "$label1", "NonJunk"]);
        let cats = Element::new(Email::Categories)
            .text_child(Email::Category, "Work")
            .text_child(Email::Category, "Red category");
        let c = flag_change(&change_doc(vec![cats]), &current);
        assert_eq!(c.add, vec!["Red&ACA-category"]);
        assert_eq!(c.remove, vec!["Old&ACA-one"]);

        let c = flag_change(&change_doc(vec![Element::new(Email::Categories)]), &current);
        assert!(c.add.is_empty());
        assert_eq!(c.remove, vec!["Work", "Old&ACA-one"]);

        // Categories absent: untouched.
        let c = flag_change(
            &change_doc(vec![Element::with_text(Email::Read, "1")]),
            &current,
        );
        assert_eq!(c, FlagChange::default());
    }

    #[test]
    fn signature_ignores_order_and_invisible_flags() {
        let a = flags(&["\\Seen", "\\Flagged", "Work", "Home"]);
        let b = flags(&[
            "Home",
            "\\Recent",
            "Work",
            "\\flagged",
            "\\Seen",
            "\\Deleted",
            "$MDNSent",
        ]);
        assert_eq!(visible_flags_signature(&a), visible_flags_signature(&b));
        let unseen = flags(&["\\Flagged", "Work", "Home"]);
        assert_ne!(
            visible_flags_signature(&a),
            visible_flags_signature(&unseen)
        );
        let answered = flags(&["\\Seen", "\\Flagged", "Work", "Home", "\\Answered"]);
        assert_ne!(
            visible_flags_signature(&a),
            visible_flags_signature(&answered)
        );
        let fewer = flags(&["\\Seen", "\\Flagged", "Work"]);
        assert_ne!(visible_flags_signature(&a), visible_flags_signature(&fewer));
        assert_ne!(
            visible_flags_signature(&[]),
            visible_flags_signature(&flags(&["\\Draft"]))
        );
        assert_ne!(
            visible_flags_signature(&[]),
            visible_flags_signature(&flags(&["$Completed"]))
        );
    }

    #[test]
    fn change_elements_by_version() {
        let f = flags(&["\\Seen", "\\Flagged", "Work", "\\Draft"]);
        let names = |v| {
            change_elements(&f, v)
                .iter()
                .map(|e| e.tag.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(ProtocolVersion::V12_1),
            vec!["Email:Read", "Email:Flag"]
        );
        assert_eq!(
            names(ProtocolVersion::V14_1),
            vec![
                "Email:Read",
                "Email:Flag",
                "Email2:LastVerbExecuted",
                "Email:Categories"
            ]
        );
        assert_eq!(
            names(ProtocolVersion::V16_1),
            vec![
                "Email:Read",
                "Email:Flag",
                "Email2:LastVerbExecuted",
                "Email:Categories",
                "Email2:IsDraft"
            ]
        );
    }
}
