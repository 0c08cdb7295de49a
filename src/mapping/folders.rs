//! Upstream mailboxes → the EAS folder hierarchy (MS-ASCMD 2.2.3.186.3 folder types).
//!
//! Rules (product page, "Sub-Mailboxes"): children of Sent and Trash are never shown;
//! children of INBOX are hidden from clients that cannot show them (EAS 12.0). Other
//! users' and shared namespaces are not part of an account's own tree. Android clients
//! reset the account unless Drafts and Outbox exist, so airsync provides a virtual
//! Outbox when the upstream has none.

use std::collections::HashMap;

use airsync_model::{DavCollection, Mailbox, SpecialUse};

use crate::eas::folder_sync::FolderEntry;
use crate::state::{FolderRow, UpstreamFolder};

/// MS-ASCMD 2.2.3.186.3: the folder types airsync hands out for mail.
pub mod folder_type {
    pub const INBOX: u8 = 2;
    pub const DRAFTS: u8 = 3;
    pub const DELETED_ITEMS: u8 = 4;
    pub const SENT_ITEMS: u8 = 5;
    pub const OUTBOX: u8 = 6;
    pub const USER_MAIL: u8 = 12;
    pub const TASKS: u8 = 7;
    pub const CALENDAR: u8 = 8;
    pub const CONTACTS: u8 = 9;
    pub const USER_CALENDAR: u8 = 13;
    pub const USER_CONTACTS: u8 = 14;
    pub const USER_TASKS: u8 = 15;
}

/// The `source` of folders that live in DAV collections: one calendar collection can
/// give both a Calendar folder (its events) and a Tasks folder (its to-dos).
pub const SOURCE_EVENTS: &str = "caldav";
pub const SOURCE_TODOS: &str = "caldav-todo";
pub const SOURCE_CONTACTS: &str = "carddav";

/// The EAS class of a PIM folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PimClass {
    Calendar,
    Tasks,
    Contacts,
}

impl PimClass {
    pub fn name(self) -> &'static str {
        match self {
            PimClass::Calendar => "Calendar",
            PimClass::Tasks => "Tasks",
            PimClass::Contacts => "Contacts",
        }
    }

    /// The iCalendar component it holds (none for contacts).
    pub fn component(self) -> Option<&'static str> {
        match self {
            PimClass::Calendar => Some("VEVENT"),
            PimClass::Tasks => Some("VTODO"),
            PimClass::Contacts => None,
        }
    }
}

/// The `source` of folders that live in IMAP, and of airsync's own Outbox.
pub const SOURCE_IMAP: &str = "imap";
pub const SOURCE_VIRTUAL: &str = "virtual";
pub const VIRTUAL_OUTBOX: &str = "Outbox";

/// What shapes one account's tree as one device sees it.
#[derive(Debug, Clone, Default)]
pub struct TreeRules {
    /// Hide the children of INBOX (EAS 12.0 clients and configured device types).
    pub hide_inbox_children: bool,
    /// Hidden mailboxes: server-wide patterns and the account's own choices.
    pub hidden: Vec<String>,
    /// Mailbox aliases: (the name the account shows, the mailbox it stands for — usually
    /// one of another account, in a shared namespace).
    pub aliases: Vec<(String, String)>,
}

impl TreeRules {
    /// Whether `name` (with hierarchy `delimiter`) is hidden by a pattern, itself or
    /// through a hidden parent.
    pub fn is_hidden(&self, name: &str, delimiter: Option<char>) -> bool {
        self.hidden.iter().any(|pattern| {
            glob(pattern, name)
                || delimiter.is_some_and(|d| {
                    name.match_indices(d)
                        .any(|(i, _)| glob(pattern, &name[..i]))
                })
        })
    }

    /// The alias under which `mailbox` is shown, if it is an alias target.
    pub fn alias_of(&self, mailbox: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|(_, target)| target == mailbox)
            .map(|(name, _)| name.as_str())
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// A folder of the EAS tree before it has its stable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub upstream: UpstreamFolder,
    /// The upstream name of the parent folder, when the parent is in the tree.
    pub parent: Option<String>,
    pub display_name: String,
    pub folder_type: u8,
}

/// Names used for special folders by servers that do not announce SPECIAL-USE.
const FALLBACK_NAMES: &[(SpecialUse, &[&str])] = &[
    (SpecialUse::Drafts, &["Drafts", "Draft"]),
    (
        SpecialUse::Sent,
        &["Sent", "Sent Items", "Sent Messages", "Sent Mail"],
    ),
    (
        SpecialUse::Trash,
        &["Trash", "Deleted Items", "Deleted Messages"],
    ),
];

fn is_inbox(m: &Mailbox) -> bool {
    m.special_use == Some(SpecialUse::Inbox) || m.name.eq_ignore_ascii_case("INBOX")
}

/// The mailbox that plays `role`: the first announcing it, else a top-level one with a
/// customary name.
fn role_mailbox(mailboxes: &[Mailbox], role: SpecialUse) -> Option<&Mailbox> {
    let own = || mailboxes.iter().filter(|m| !m.shared);
    own().find(|m| m.special_use == Some(role)).or_else(|| {
        let names = FALLBACK_NAMES.iter().find(|(r, _)| *r == role)?.1;
        own().find(|m| {
            let top_level = m.delimiter.is_none_or(|d| !m.name.contains(d));
            top_level && names.iter().any(|n| n.eq_ignore_ascii_case(&m.name))
        })
    })
}

/// The name of the mailbox that serves as Deleted Items, if there is one.
pub fn trash_mailbox(mailboxes: &[Mailbox]) -> Option<String> {
    role_mailbox(mailboxes, SpecialUse::Trash).map(|m| m.name.clone())
}

/// The name of the mailbox that serves as Sent Items, if there is one.
pub fn sent_mailbox(mailboxes: &[Mailbox]) -> Option<String> {
    role_mailbox(mailboxes, SpecialUse::Sent).map(|m| m.name.clone())
}

fn is_below(m: &Mailbox, parent: &Mailbox) -> bool {
    match m.delimiter {
        Some(d) => {
            m.name.len() > parent.name.len() + 1
                && m.name.starts_with(&parent.name)
                && m.name[parent.name.len()..].starts_with(d)
        }
        None => false,
    }
}

/// Builds the mail part of the tree from the upstream's mailbox list.
pub fn mail_candidates(mailboxes: &[Mailbox], rules: &TreeRules) -> Vec<Candidate> {
    let drafts = role_mailbox(mailboxes, SpecialUse::Drafts);
    let sent = role_mailbox(mailboxes, SpecialUse::Sent);
    let trash = role_mailbox(mailboxes, SpecialUse::Trash);
    let inbox = mailboxes.iter().find(|m| is_inbox(m));
    let outbox = mailboxes
        .iter()
        .find(|m| !m.shared && m.name.eq_ignore_ascii_case(VIRTUAL_OUTBOX) && m.selectable);
    let same = |a: Option<&Mailbox>, b: &Mailbox| a.is_some_and(|a| a.name == b.name);

    let shown: Vec<&Mailbox> = mailboxes
        .iter()
        .filter(|m| !m.shared)
        .filter(|m| !rules.is_hidden(&m.name, m.delimiter))
        .filter(|m| !sent.is_some_and(|s| is_below(m, s)))
        .filter(|m| !trash.is_some_and(|t| is_below(m, t)))
        .filter(|m| !(rules.hide_inbox_children && inbox.is_some_and(|i| is_below(m, i))))
        .collect();

    let mut out: Vec<Candidate> = shown
        .iter()
        .map(|m| {
            let folder_type = if same(inbox, m) {
                folder_type::INBOX
            } else if same(drafts, m) {
                folder_type::DRAFTS
            } else if same(trash, m) {
                folder_type::DELETED_ITEMS
            } else if same(sent, m) {
                folder_type::SENT_ITEMS
            } else if same(outbox, m) {
                folder_type::OUTBOX
            } else {
                folder_type::USER_MAIL
            };
            let (parent, leaf) = match m.delimiter.and_then(|d| m.name.rsplit_once(d)) {
                Some((parent, leaf)) => (Some(parent.to_string()), leaf.to_string()),
                None => (None, m.name.clone()),
            };
            let parent = parent.filter(|p| shown.iter().any(|s| &s.name == p));
            let display_name = if folder_type == folder_type::INBOX {
                "Inbox".to_string()
            } else {
                leaf
            };
            Candidate {
                upstream: UpstreamFolder {
                    source: SOURCE_IMAP.into(),
                    name: m.name.clone(),
                    upstream_id: m.id.clone(),
                },
                parent,
                display_name,
                folder_type,
            }
        })
        .collect();
    // Aliases: a mailbox shown under a name of the account's choosing, at the top level.
    for (alias, target) in &rules.aliases {
        let Some(m) = mailboxes.iter().find(|m| &m.name == target && m.selectable) else {
            continue;
        };
        if out.iter().any(|c| c.upstream.name == m.name) {
            continue;
        }
        out.push(Candidate {
            upstream: UpstreamFolder {
                source: SOURCE_IMAP.into(),
                name: m.name.clone(),
                upstream_id: m.id.clone(),
            },
            parent: None,
            display_name: alias.clone(),
            folder_type: folder_type::USER_MAIL,
        });
    }
    if outbox.is_none() {
        out.push(Candidate {
            upstream: UpstreamFolder {
                source: SOURCE_VIRTUAL.into(),
                name: VIRTUAL_OUTBOX.into(),
                upstream_id: None,
            },
            parent: None,
            display_name: VIRTUAL_OUTBOX.into(),
            folder_type: folder_type::OUTBOX,
        });
    }
    out
}

/// The PIM part of the tree: every calendar that holds events gives a Calendar folder,
/// every one that holds to-dos a Tasks folder, every address book a Contacts folder;
/// the first of each kind is the default folder (types 8, 7, 9), the others are
/// user-created ones (13, 15, 14). Hidden-folder patterns match display names.
pub fn pim_candidates(
    calendars: &[DavCollection],
    address_books: &[DavCollection],
    rules: &TreeRules,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let visible = |c: &&DavCollection| !rules.is_hidden(&c.display_name, None);
    let mut add = |c: &DavCollection, source: &str, first: bool, default: u8, user: u8| {
        let name = if c.display_name.trim().is_empty() {
            c.href
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string()
        } else {
            c.display_name.clone()
        };
        out.push(Candidate {
            upstream: UpstreamFolder {
                source: source.into(),
                name: c.href.clone(),
                upstream_id: Some(c.href.clone()),
            },
            parent: None,
            display_name: name,
            folder_type: if first { default } else { user },
        });
    };
    let holds =
        |c: &DavCollection, comp: &str| c.components.iter().any(|x| x.eq_ignore_ascii_case(comp));
    for (i, c) in calendars
        .iter()
        .filter(visible)
        .filter(|c| holds(c, "VEVENT"))
        .enumerate()
    {
        add(
            c,
            SOURCE_EVENTS,
            i == 0,
            folder_type::CALENDAR,
            folder_type::USER_CALENDAR,
        );
    }
    for (i, c) in calendars
        .iter()
        .filter(visible)
        .filter(|c| holds(c, "VTODO"))
        .enumerate()
    {
        add(
            c,
            SOURCE_TODOS,
            i == 0,
            folder_type::TASKS,
            folder_type::USER_TASKS,
        );
    }
    for (i, c) in address_books.iter().filter(visible).enumerate() {
        add(
            c,
            SOURCE_CONTACTS,
            i == 0,
            folder_type::CONTACTS,
            folder_type::USER_CONTACTS,
        );
    }
    out
}

/// Makes the default Calendar, Tasks and Contacts folder the one with the smallest id
/// of its kind — the one airsync met first — so that the choice never moves when the
/// server lists collections in another order or a new one appears.
pub fn settle_default_pim_folders(candidates: &mut [Candidate], ids: &[i64]) {
    let kinds = [
        (folder_type::CALENDAR, folder_type::USER_CALENDAR),
        (folder_type::TASKS, folder_type::USER_TASKS),
        (folder_type::CONTACTS, folder_type::USER_CONTACTS),
    ];
    for (default, user) in kinds {
        let first = candidates
            .iter()
            .zip(ids)
            .filter(|(c, _)| c.folder_type == default || c.folder_type == user)
            .map(|(_, id)| *id)
            .min();
        for (c, id) in candidates.iter_mut().zip(ids) {
            if c.folder_type == default || c.folder_type == user {
                c.folder_type = if Some(*id) == first { default } else { user };
            }
        }
    }
}

/// Gives each candidate its stable id (`ids[i]` belongs to `candidates[i]`) and
/// resolves parents to ids.
pub fn entries(candidates: &[Candidate], ids: &[i64]) -> Vec<FolderEntry> {
    let id_of = |source: &str, name: &str| {
        candidates
            .iter()
            .zip(ids)
            .find(|(c, _)| c.upstream.source == source && c.upstream.name == name)
            .map(|(_, id)| id.to_string())
    };
    candidates
        .iter()
        .zip(ids)
        .map(|(c, id)| FolderEntry {
            server_id: id.to_string(),
            parent_id: c
                .parent
                .as_deref()
                .and_then(|p| id_of(&c.upstream.source, p))
                .unwrap_or_else(|| "0".into()),
            display_name: c.display_name.clone(),
            folder_type: c.folder_type,
        })
        .collect()
}

/// A CollectionId resolved inside the account's own folder map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// `alias`: the mailbox is shown through an alias (another account's mailbox, whose
    /// rights must be checked before any change).
    Mail {
        folder_id: i64,
        mailbox: String,
        alias: bool,
    },
    /// airsync's own Outbox: always empty, mail is sent with SendMail.
    Outbox,
    /// A calendar, task list or address book: the DAV collection at `href`.
    Pim {
        folder_id: i64,
        class: PimClass,
        href: String,
    },
}

/// The account's folder map with the rules that hide or add folders: what every
/// command resolves device ids against.
#[derive(Debug, Clone, Default)]
pub struct FolderView {
    pub rows: Vec<FolderRow>,
    pub rules: TreeRules,
    /// Always-moved conversations: ConversationId (hex) → destination folder id.
    pub always_moves: HashMap<String, i64>,
}

impl FolderView {
    /// Finds a folder the device names. Ids come from the device and are untrusted: only
    /// live, visible folders of this account's map resolve; anything else is "not found".
    pub fn resolve(&self, collection_id: &str) -> Option<Resolved> {
        match resolve(&self.rows, collection_id)? {
            Resolved::Mail {
                folder_id, mailbox, ..
            } => {
                let alias = self.rules.alias_of(&mailbox).is_some();
                // The map does not record the hierarchy delimiter; the two that IMAP
                // servers use in practice are both checked.
                if !alias
                    && ['/', '.']
                        .iter()
                        .any(|d| self.rules.is_hidden(&mailbox, Some(*d)))
                {
                    return None;
                }
                Some(Resolved::Mail {
                    folder_id,
                    mailbox,
                    alias,
                })
            }
            other => Some(other),
        }
    }
}

/// Finds a folder in the map alone (see [`FolderView::resolve`], which also applies the
/// account's rules).
fn resolve(rows: &[FolderRow], collection_id: &str) -> Option<Resolved> {
    if collection_id.is_empty() || !collection_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = collection_id.parse().ok()?;
    let row = rows.iter().find(|r| r.folder_id == id && !r.gone)?;
    match row.source.as_str() {
        SOURCE_IMAP => Some(Resolved::Mail {
            folder_id: id,
            mailbox: row.upstream_name.clone(),
            alias: false,
        }),
        SOURCE_VIRTUAL if row.upstream_name == VIRTUAL_OUTBOX => Some(Resolved::Outbox),
        SOURCE_EVENTS => Some(Resolved::Pim {
            folder_id: id,
            class: PimClass::Calendar,
            href: row.upstream_name.clone(),
        }),
        SOURCE_TODOS => Some(Resolved::Pim {
            folder_id: id,
            class: PimClass::Tasks,
            href: row.upstream_name.clone(),
        }),
        SOURCE_CONTACTS => Some(Resolved::Pim {
            folder_id: id,
            class: PimClass::Contacts,
            href: row.upstream_name.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: &str, use_: Option<SpecialUse>) -> Mailbox {
        Mailbox {
            name: name.into(),
            delimiter: Some('/'),
            special_use: use_,
            id: Some(format!("id-{name}")),
            selectable: true,
            subscribed: true,
            shared: false,
        }
    }

    fn by_name<'a>(c: &'a [Candidate], name: &str) -> Option<&'a Candidate> {
        c.iter().find(|c| c.upstream.name == name)
    }

    #[test]
    fn types_parents_and_sub_mailbox_rules() {
        let boxes = vec![
            mb("INBOX", Some(SpecialUse::Inbox)),
            mb("INBOX/Lists", None),
            mb("Drafts", Some(SpecialUse::Drafts)),
            mb("Sent", Some(SpecialUse::Sent)),
            mb("Sent/2019", None),
            mb("Trash", Some(SpecialUse::Trash)),
            mb("Trash/Old/Deeper", None),
            mb("Junk", Some(SpecialUse::Junk)),
            mb("Projects", None),
            mb("Projects/Ärger", None),
            Mailbox {
                shared: true,
                ..mb("shared/bob/Team", None)
            },
        ];
        let c = mail_candidates(&boxes, &TreeRules::default());
        assert_eq!(by_name(&c, "INBOX").unwrap().folder_type, 2);
        assert_eq!(by_name(&c, "INBOX").unwrap().display_name, "Inbox");
        assert_eq!(by_name(&c, "Drafts").unwrap().folder_type, 3);
        assert_eq!(by_name(&c, "Trash").unwrap().folder_type, 4);
        assert_eq!(by_name(&c, "Sent").unwrap().folder_type, 5);
        assert_eq!(by_name(&c, "Junk").unwrap().folder_type, 12);
        assert_eq!(by_name(&c, "Outbox").unwrap().folder_type, 6);
        assert_eq!(
            by_name(&c, "Outbox").unwrap().upstream.source,
            SOURCE_VIRTUAL
        );
        assert!(by_name(&c, "Sent/2019").is_none());
        assert!(by_name(&c, "Trash/Old/Deeper").is_none());
        assert!(by_name(&c, "shared/bob/Team").is_none());
        let child = by_name(&c, "Projects/Ärger").unwrap();
        assert_eq!(
            (child.parent.as_deref(), child.display_name.as_str()),
            (Some("Projects"), "Ärger")
        );
        assert!(by_name(&c, "INBOX/Lists").is_some());

        let ids: Vec<i64> = (1..=c.len() as i64).collect();
        let e = entries(&c, &ids);
        let projects = e.iter().find(|f| f.display_name == "Projects").unwrap();
        let aerger = e.iter().find(|f| f.display_name == "Ärger").unwrap();
        assert_eq!(aerger.parent_id, projects.server_id);
        assert_eq!(projects.parent_id, "0");

        let old = mail_candidates(
            &boxes,
            &TreeRules {
                hide_inbox_children: true,
                ..Default::default()
            },
        );
        assert!(by_name(&old, "INBOX/Lists").is_none());
    }

    #[test]
    fn resolve_only_live_folders_of_the_map() {
        let row = |id, source: &str, name: &str, gone| FolderRow {
            folder_id: id,
            source: source.into(),
            upstream_name: name.into(),
            upstream_id: None,
            gone,
        };
        let rows = vec![
            row(1, SOURCE_IMAP, "INBOX", false),
            row(2, SOURCE_IMAP, "Old", true),
            row(3, SOURCE_VIRTUAL, "Outbox", false),
        ];
        assert_eq!(
            resolve(&rows, "1"),
            Some(Resolved::Mail {
                folder_id: 1,
                mailbox: "INBOX".into(),
                alias: false
            })
        );
        assert_eq!(resolve(&rows, "3"), Some(Resolved::Outbox));
        for forged in ["2", "4", "", "1:2", "-1", "01x", "99999999999999999999"] {
            assert_eq!(resolve(&rows, forged), None, "{forged}");
        }
    }

    #[test]
    fn hidden_patterns_and_aliases() {
        let rules = TreeRules {
            hidden: vec!["Secret".into(), "Arch*/Old".into()],
            aliases: vec![("Team".into(), "shared/bob/Team".into())],
            ..Default::default()
        };
        assert!(rules.is_hidden("Secret", Some('/')));
        assert!(
            rules.is_hidden("Secret/Deeper", Some('/')),
            "a hidden parent hides its children"
        );
        assert!(!rules.is_hidden("Secrets", Some('/')));
        assert!(rules.is_hidden("Archive2020/Old", Some('/')));
        assert!(!rules.is_hidden("Archive2020/New", Some('/')));
        assert!(glob("*", "") && glob("a*b*c", "aXbYc") && !glob("a*b", "ab c"));
        let boxes = vec![
            mb("INBOX", Some(SpecialUse::Inbox)),
            mb("Secret", None),
            mb("Secret/Deeper", None),
            Mailbox {
                shared: true,
                ..mb("shared/bob/Team", None)
            },
            Mailbox {
                shared: true,
                ..mb("shared/bob/Other", None)
            },
        ];
        let c = mail_candidates(&boxes, &rules);
        assert!(by_name(&c, "Secret").is_none() && by_name(&c, "Secret/Deeper").is_none());
        let team = by_name(&c, "shared/bob/Team").expect("the alias is shown");
        assert_eq!(
            (
                team.display_name.as_str(),
                team.parent.as_deref(),
                team.folder_type
            ),
            ("Team", None, 12)
        );
        assert!(
            by_name(&c, "shared/bob/Other").is_none(),
            "shared mailboxes without an alias stay out"
        );

        let row = |id, name: &str| FolderRow {
            folder_id: id,
            source: SOURCE_IMAP.into(),
            upstream_name: name.into(),
            upstream_id: None,
            gone: false,
        };
        let view = FolderView {
            rows: vec![
                row(1, "Secret/Deeper"),
                row(2, "shared/bob/Team"),
                row(3, "INBOX"),
            ],
            rules,
            always_moves: HashMap::new(),
        };
        assert_eq!(view.resolve("1"), None, "hidden folders do not resolve");
        assert_eq!(
            view.resolve("2"),
            Some(Resolved::Mail {
                folder_id: 2,
                mailbox: "shared/bob/Team".into(),
                alias: true
            })
        );
        assert_eq!(
            view.resolve("3"),
            Some(Resolved::Mail {
                folder_id: 3,
                mailbox: "INBOX".into(),
                alias: false
            })
        );
    }

    #[test]
    fn the_first_met_pim_folder_stays_the_default() {
        let cal = |href: &str| DavCollection {
            href: href.into(),
            display_name: href.into(),
            kind: airsync_model::DavKind::Calendar,
            components: vec!["VEVENT".into()],
            ctag: None,
            sync_token: None,
            color: None,
        };
        // The server lists the new calendar first; ids say which one came first.
        let mut c = pim_candidates(
            &[cal("/u/a-new/"), cal("/u/calendar/")],
            &[],
            &TreeRules::default(),
        );
        settle_default_pim_folders(&mut c, &[9, 4]);
        assert_eq!(c[0].folder_type, folder_type::USER_CALENDAR);
        assert_eq!(c[1].folder_type, folder_type::CALENDAR);
    }

    #[test]
    fn fallback_names_and_upstream_outbox() {
        let boxes = vec![
            Mailbox {
                special_use: None,
                ..mb("INBOX", None)
            },
            mb("Sent Items", None),
            mb("Deleted Items", None),
            mb("Outbox", None),
        ];
        let c = mail_candidates(&boxes, &TreeRules::default());
        assert_eq!(by_name(&c, "Sent Items").unwrap().folder_type, 5);
        assert_eq!(by_name(&c, "Deleted Items").unwrap().folder_type, 4);
        assert_eq!(by_name(&c, "Outbox").unwrap().upstream.source, SOURCE_IMAP);
        assert_eq!(c.iter().filter(|c| c.folder_type == 6).count(), 1);
    }
}
