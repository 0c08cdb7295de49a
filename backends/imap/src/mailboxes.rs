//! Mailbox commands: LIST (with special-use, subscription and stable ids), STATUS,
//! CREATE, DELETE, RENAME. Names are UTF-8 outside, modified UTF-7 on the wire.

use std::collections::{HashMap, HashSet};

use airsync_model::{Mailbox, MailboxStatus, SpecialUse};

use crate::error::Error;
use crate::raw::{self, Reply, Session, Value};
use crate::server::ServerInfo;
use crate::utf7;

/// Which STATUS item yields a mailbox's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdItem {
    /// RFC 8474 §4.2 `MAILBOXID (objectid)`, announced by capability OBJECTID.
    MailboxId,
    /// Dovecot's `X-GUID` (not announced as a capability; probed once).
    XGuid,
}

impl IdItem {
    fn name(self) -> &'static str {
        match self {
            IdItem::MailboxId => "MAILBOXID",
            IdItem::XGuid => "X-GUID",
        }
    }
}

/// A mailbox name for the wire: modified UTF-7, quoted.
pub(crate) fn wire_name(name: &str) -> Result<String, Error> {
    if name.is_empty() {
        return Err(Error::Invalid("empty mailbox name".into()));
    }
    raw::quote(&utf7::encode(name))
}

/// Lists all mailboxes in as few round trips as the server allows:
/// - LIST-EXTENDED (RFC 5258): one `LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE STATUS (id))`,
///   the STATUS part only with LIST-STATUS (RFC 5819);
/// - otherwise `LIST` and `LSUB` pipelined (servers include special-use attributes in
///   plain LIST responses, RFC 6154 §1);
/// - ids the LIST did not carry come from one pipelined batch of STATUS commands.
///
/// `Err(Bad)` when the server rejects the id item, so that the caller can stop asking.
pub(crate) async fn list(
    session: &mut Session,
    info: &ServerInfo,
    id_item: Option<IdItem>,
) -> Result<Vec<Mailbox>, Error> {
    let caps = &info.capabilities;
    let mut entries;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut ids_done = id_item.is_none();
    if caps.has("LIST-EXTENDED") {
        let mut opts = vec!["SUBSCRIBED".to_string()];
        if caps.has("SPECIAL-USE") {
            opts.push("SPECIAL-USE".into());
        }
        if let Some(item) = id_item.filter(|_| caps.has("LIST-STATUS")) {
            opts.push(format!("STATUS ({})", item.name()));
            ids_done = true;
        }
        let reply = raw::run(
            session,
            &format!("LIST \"\" \"*\" RETURN ({})", opts.join(" ")),
        )
        .await?
        .ok()?;
        entries = list_entries(&reply, None);
        collect_ids(&reply, id_item, &mut ids);
    } else {
        let mut replies =
            raw::run_pipelined(session, &["LIST \"\" \"*\"", "LSUB \"\" \"*\""]).await?;
        let lsub = replies.pop().expect("two replies").ok()?;
        let list = replies.pop().expect("two replies").ok()?;
        let subscribed: HashSet<String> = lsub
            .data("LSUB")
            .filter_map(|t| t.get(2)?.text().map(|n| n.into_owned()))
            .collect();
        entries = list_entries(&list, Some(&subscribed));
    }
    if !ids_done && let Some(item) = id_item {
        let commands: Vec<String> = entries
            .iter()
            .filter(|e| e.selectable)
            .map(|e| {
                Ok(format!(
                    "STATUS {} ({})",
                    raw::quote(&e.raw_name)?,
                    item.name()
                ))
            })
            .collect::<Result<_, Error>>()?;
        for reply in raw::run_pipelined(session, &commands).await? {
            collect_ids(&reply.ok()?, Some(item), &mut ids);
        }
    }
    for e in &mut entries {
        e.mailbox.id = ids.remove(&e.raw_name);
        e.mailbox.shared = info.namespaces.is_shared(&e.raw_name);
    }
    let mut out: Vec<Mailbox> = entries.into_iter().map(|e| e.mailbox).collect();
    out.sort_by(|a, b| {
        let inbox = |m: &Mailbox| m.special_use != Some(SpecialUse::Inbox);
        (inbox(a), &a.name).cmp(&(inbox(b), &b.name))
    });
    Ok(out)
}

/// A listed mailbox and its name as the server wrote it.
struct Entry {
    raw_name: String,
    selectable: bool,
    mailbox: Mailbox,
}

/// Reads `* LIST (attrs) delim name [extended data]` responses (RFC 3501 §7.2.2, RFC 5258
/// §3). `subscribed` is the LSUB result when the server could not say `\Subscribed`.
fn list_entries(reply: &Reply, subscribed: Option<&HashSet<String>>) -> Vec<Entry> {
    reply
        .data("LIST")
        .filter_map(|t| {
            let attrs = t.first()?.list()?;
            let delimiter = t.get(1)?.text().and_then(|d| d.chars().next());
            let raw_name = t.get(2)?.text()?.into_owned();
            let has = |flag: &str| attrs.iter().any(|a| a.is_atom(flag));
            let selectable = !has("\\Noselect") && !has("\\NonExistent");
            let name = utf7::decode(&raw_name).unwrap_or_else(|e| {
                tracing::warn!(target: "airsync", name = raw_name, error = %e, "imap: keeping undecodable mailbox name");
                raw_name.clone()
            });
            let special_use = if raw_name.eq_ignore_ascii_case("INBOX") {
                Some(SpecialUse::Inbox)
            } else {
                attrs.iter().find_map(special_use)
            };
            let is_subscribed = match subscribed {
                Some(set) => set.contains(&raw_name),
                None => has("\\Subscribed"),
            };
            Some(Entry {
                mailbox: Mailbox {
                    name,
                    delimiter,
                    special_use,
                    id: None,
                    selectable,
                    subscribed: is_subscribed,
                    shared: false,
                },
                raw_name,
                selectable,
            })
        })
        .collect()
}

/// The RFC 6154 §2 attribute of a LIST response, if this is one.
fn special_use(attr: &Value) -> Option<SpecialUse> {
    let Value::Atom(a) = attr else { return None };
    Some(match a.to_ascii_lowercase().as_str() {
        "\\drafts" => SpecialUse::Drafts,
        "\\sent" => SpecialUse::Sent,
        "\\trash" => SpecialUse::Trash,
        "\\junk" => SpecialUse::Junk,
        "\\archive" => SpecialUse::Archive,
        "\\all" => SpecialUse::All,
        "\\flagged" => SpecialUse::Flagged,
        _ => return None,
    })
}

/// Collects `* STATUS name (… MAILBOXID (id) | X-GUID id …)` into `ids` by raw name.
fn collect_ids(reply: &Reply, item: Option<IdItem>, ids: &mut HashMap<String, String>) {
    let Some(item) = item else { return };
    for t in reply.data("STATUS") {
        let (Some(name), Some(values)) = (
            t.first().and_then(Value::text),
            t.get(1).and_then(Value::list),
        ) else {
            continue;
        };
        let id = status_value(values, item.name()).and_then(|v| match v {
            // RFC 8474 §7: MAILBOXID's value is a parenthesized objectid.
            Value::List(inner) => inner.first().and_then(Value::text),
            other => other.text(),
        });
        if let Some(id) = id {
            ids.insert(name.into_owned(), id.into_owned());
        }
    }
}

/// The value after `key` in a STATUS attribute list.
fn status_value<'a>(values: &'a [Value], key: &str) -> Option<&'a Value> {
    values
        .chunks(2)
        .find(|kv| kv[0].is_atom(key))
        .and_then(|kv| kv.get(1))
}

/// `STATUS mailbox (UIDVALIDITY UIDNEXT MESSAGES [HIGHESTMODSEQ])` (RFC 3501 §6.3.10,
/// RFC 7162 §3.1.2.2 for HIGHESTMODSEQ, asked only when CONDSTORE is offered).
/// A NO without response code means the mailbox does not exist: Dovecot 2.3 answers
/// `NO Mailbox doesn't exist: x` to STATUS, without RFC 5530's `[NONEXISTENT]`.
pub(crate) async fn status(
    session: &mut Session,
    info: &ServerInfo,
    name: &str,
) -> Result<MailboxStatus, Error> {
    let condstore = info.capabilities.has("CONDSTORE");
    let items = if condstore {
        "UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ"
    } else {
        "UIDVALIDITY UIDNEXT MESSAGES"
    };
    let reply = raw::run(session, &format!("STATUS {} ({items})", wire_name(name)?))
        .await?
        .ok()
        .map_err(|e| missing_mailbox(e, name))?;
    let values = reply
        .data("STATUS")
        .find_map(|t| t.get(1).and_then(Value::list))
        .ok_or_else(|| Error::Protocol("STATUS without STATUS response".into()))?;
    let num = |key: &str| -> Result<u32, Error> {
        status_value(values, key)
            .and_then(Value::number)
            .ok_or_else(|| Error::Protocol(format!("STATUS lacks {key}")))
    };
    Ok(MailboxStatus {
        uidvalidity: num("UIDVALIDITY")?,
        uidnext: num("UIDNEXT")?,
        messages: num("MESSAGES")?,
        highestmodseq: status_value(values, "HIGHESTMODSEQ").and_then(Value::number),
    })
}

/// Dovecot 2.3 answers a command on a mailbox that does not exist with a bare `NO`,
/// without RFC 5530's `[NONEXISTENT]`: on STATUS and MYRIGHTS that means "no such mailbox".
fn missing_mailbox(e: Error, name: &str) -> Error {
    match e {
        Error::No(st) if st.code.is_none() => Error::NoSuchMailbox(format!("{name}: {st}")),
        other => other,
    }
}

/// `MYRIGHTS mailbox` (RFC 4314 §3.8): the user's rights on a mailbox, `None` when the
/// server has no ACL extension (then every mailbox the user sees is taken as writable).
pub(crate) async fn my_rights(
    session: &mut Session,
    info: &ServerInfo,
    name: &str,
) -> Result<Option<String>, Error> {
    if !info.capabilities.has("ACL") {
        return Ok(None);
    }
    let reply = raw::run(session, &format!("MYRIGHTS {}", wire_name(name)?))
        .await?
        .ok()
        .map_err(|e| missing_mailbox(e, name))?;
    // `* MYRIGHTS mailbox rights`
    Ok(reply
        .data("MYRIGHTS")
        .find_map(|t| t.get(1).and_then(Value::text))
        .map(|r| r.into_owned()))
}

/// Runs a command on one or two mailbox names and requires OK.
pub(crate) async fn simple(session: &mut Session, verb: &str, names: &[&str]) -> Result<(), Error> {
    let args = names
        .iter()
        .map(|n| wire_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    raw::run(session, &format!("{verb} {}", args.join(" ")))
        .await?
        .ok()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{Status, StatusText, Untagged};

    fn reply(lines: &[Vec<Value>]) -> Reply {
        Reply {
            untagged: lines.iter().cloned().map(Untagged::Data).collect(),
            done: StatusText {
                status: Status::Ok,
                code: None,
                text: String::new(),
            },
        }
    }

    fn a(s: &str) -> Value {
        Value::Atom(s.into())
    }

    fn s(x: &str) -> Value {
        Value::Str(x.as_bytes().to_vec())
    }

    #[test]
    fn list_entries_decode_names_and_attributes() {
        let r = reply(&[
            vec![
                a("LIST"),
                Value::List(vec![a("\\Subscribed"), a("\\Drafts")]),
                s("/"),
                a("Drafts"),
            ],
            vec![a("LIST"), Value::List(vec![]), s("/"), a("inbox")],
            vec![
                a("LIST"),
                Value::List(vec![a("\\Noselect")]),
                s("/"),
                s("Entw&APw-rfe-&AMQ-rger"),
            ],
            vec![
                a("LIST"),
                Value::List(vec![a("\\NonExistent")]),
                Value::Nil,
                a("x"),
            ],
        ]);
        let e = list_entries(&r, None);
        assert_eq!(e[0].mailbox.special_use, Some(SpecialUse::Drafts));
        assert!(e[0].mailbox.subscribed && e[0].selectable);
        assert_eq!(e[1].mailbox.special_use, Some(SpecialUse::Inbox));
        assert_eq!(e[2].mailbox.name, "Entwürfe-Ärger");
        assert_eq!(e[2].raw_name, "Entw&APw-rfe-&AMQ-rger");
        assert!(!e[2].selectable && !e[3].selectable);
        assert_eq!(e[3].mailbox.delimiter, None);
    }

    #[test]
    fn ids_from_mailboxid_and_xguid() {
        let mut ids = HashMap::new();
        let r = reply(&[vec![
            a("STATUS"),
            a("INBOX"),
            Value::List(vec![
                a("MESSAGES"),
                a("0"),
                a("MAILBOXID"),
                Value::List(vec![a("F123")]),
            ]),
        ]]);
        collect_ids(&r, Some(IdItem::MailboxId), &mut ids);
        let r = reply(&[vec![
            a("STATUS"),
            s("Sent"),
            Value::List(vec![a("X-GUID"), a("ab12")]),
        ]]);
        collect_ids(&r, Some(IdItem::XGuid), &mut ids);
        assert_eq!(ids["INBOX"], "F123");
        assert_eq!(ids["Sent"], "ab12");
    }

    #[test]
    fn wire_names_are_encoded_and_quoted() {
        assert_eq!(
            wire_name("Entwürfe \"x\"").unwrap(),
            "\"Entw&APw-rfe \\\"x\\\"\""
        );
        assert!(wire_name("").is_err());
        // Control characters are not printable ASCII: encoded, never sent raw.
        assert_eq!(wire_name("a\nb").unwrap(), "\"a&AAo-b\"");
    }
}
