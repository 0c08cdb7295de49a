//! A dedicated connection that watches a user's mailboxes for push (never pooled).
//!
//! With RFC 5465 NOTIFY the server reports changes to every personal mailbox as
//! untagged STATUS responses (with HIGHESTMODSEQ once CONDSTORE is enabled, RFC 7162)
//! and mailbox creation, deletion and renaming as LIST responses. Without it the
//! caller IDLEs (RFC 2177) on INBOX and asks STATUS of the other mailboxes it cares
//! about. All responses are read with our own reader ([`crate::raw`]): async-imap
//! cannot parse NOTIFY's unsolicited STATUS.

use std::time::Duration;

use airsync_model::{BackendError, Credentials};
use tokio::io::AsyncWriteExt;

use crate::error::Error;
use crate::mailboxes::wire_name;
use crate::raw::{self, Frame, Session, Status, Untagged};
use crate::store::ImapStore;
use crate::utf7;

/// What the server told a watching connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Where a mailbox stands now. Fields the response did not carry are `None`.
    Status {
        mailbox: String,
        uidvalidity: Option<u32>,
        highestmodseq: Option<u64>,
    },
    /// A mailbox was created, deleted or renamed (a LIST response).
    Hierarchy,
    /// Something changed in the selected (IDLEd) mailbox: EXISTS, EXPUNGE, FETCH.
    Selected,
}

/// An authenticated connection used only for watching.
pub struct WatchConn {
    session: Session,
    notify: bool,
    /// The tag of a running IDLE.
    idling: Option<String>,
}

impl std::fmt::Debug for WatchConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConn")
            .field("notify", &self.notify)
            .finish()
    }
}

const NOTIFY_SET: &str =
    "NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName))";

impl ImapStore {
    /// Opens a new connection for `creds` outside the pool, for watching. Counted in
    /// [`ImapStore::watch_connection_count`].
    pub async fn watch_connection(&self, creds: &Credentials) -> Result<WatchConn, BackendError> {
        let mut session = self.open_unpooled(creds).await?;
        let info = self.server_info_on(&mut session).await?;
        let notify = info.capabilities.has("NOTIFY") && info.capabilities.has("CONDSTORE");
        self.count_watch_connection();
        tracing::info!(target: "airsync", login = %creds.login, notify, "push: upstream watcher connected");
        Ok(WatchConn {
            session,
            notify,
            idling: None,
        })
    }
}

impl WatchConn {
    /// Whether the server offers NOTIFY (with CONDSTORE).
    pub fn has_notify(&self) -> bool {
        self.notify
    }

    /// Enables CONDSTORE and NOTIFY for every personal mailbox; returns the STATUS of each
    /// (the `STATUS` option of NOTIFY SET) and anything else the server sent meanwhile.
    pub async fn start_notify(&mut self) -> Result<Vec<WatchEvent>, BackendError> {
        let replies = raw::run_pipelined(&mut self.session, &["ENABLE CONDSTORE", NOTIFY_SET])
            .await
            .map_err(BackendError::from)?;
        let mut events = Vec::new();
        for reply in replies {
            events.extend(reply.untagged.iter().filter_map(event_of));
            reply.ok().map_err(BackendError::from)?;
        }
        Ok(events)
    }

    /// Waits for the next event the server sends on its own (NOTIFY, or IDLE after
    /// [`WatchConn::idle`]). Cancel-safe: bytes read stay buffered for the next call.
    pub async fn next_event(&mut self) -> Result<WatchEvent, BackendError> {
        loop {
            match raw::read_frame(self.session.get_mut(), 1 << 20).await? {
                Frame::Untagged(Untagged::Status(st)) if st.status == Status::Bye => {
                    return Err(Error::ConnectionLost.into());
                }
                Frame::Untagged(u) => {
                    if let Some(e) = event_of(&u) {
                        return Ok(e);
                    }
                }
                Frame::Continuation(_) => {}
                Frame::Tagged(tag, st) => {
                    if self.idling.as_deref() == Some(tag.as_str()) {
                        // The server ended our IDLE (e.g. its own timeout).
                        self.idling = None;
                        return Ok(WatchEvent::Selected);
                    }
                    tracing::debug!(target: "airsync", tag, status = ?st.status, "imap watch: stray completion");
                }
            }
        }
    }

    /// STATUS (UIDVALIDITY HIGHESTMODSEQ) of some mailboxes, in one round trip. Also
    /// returns whatever else arrived meanwhile. A mailbox that no longer exists yields
    /// [`WatchEvent::Hierarchy`].
    pub async fn status(&mut self, mailboxes: &[String]) -> Result<Vec<WatchEvent>, BackendError> {
        if mailboxes.is_empty() {
            return Ok(Vec::new());
        }
        let commands = mailboxes
            .iter()
            .map(|m| {
                Ok(format!(
                    "STATUS {} (UIDVALIDITY HIGHESTMODSEQ)",
                    wire_name(m)?
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let replies = raw::run_pipelined(&mut self.session, &commands).await?;
        let mut events = Vec::new();
        for reply in replies {
            events.extend(reply.untagged.iter().filter_map(event_of));
            if reply.done.status != Status::Ok {
                events.push(WatchEvent::Hierarchy);
            }
        }
        Ok(events)
    }

    /// The names of every mailbox (LIST "" "*"), to notice hierarchy changes without NOTIFY.
    pub async fn mailbox_names(&mut self) -> Result<Vec<String>, BackendError> {
        let reply = raw::run(&mut self.session, "LIST \"\" \"*\"").await?.ok()?;
        Ok(reply
            .data("LIST")
            .filter_map(|t| t.get(2).and_then(|v| v.text()).map(|n| decode(&n)))
            .collect())
    }

    /// EXAMINE `mailbox` and start IDLE; changes then arrive as [`WatchEvent::Selected`]
    /// from [`WatchConn::next_event`]. End it with [`WatchConn::idle_done`].
    pub async fn idle(&mut self, mailbox: &str) -> Result<(), BackendError> {
        raw::run(
            &mut self.session,
            &format!("EXAMINE {}", wire_name(mailbox)?),
        )
        .await?
        .ok()?;
        let tag = self
            .session
            .run_command("IDLE")
            .await
            .map_err(Error::from)?
            .0;
        // Wait for the continuation ("+ idling").
        loop {
            match raw::read_frame(self.session.get_mut(), 1 << 20).await? {
                Frame::Continuation(_) => break,
                Frame::Tagged(_, st) => return Err(Error::No(st).into()),
                Frame::Untagged(_) => {}
            }
        }
        self.idling = Some(tag);
        Ok(())
    }

    /// Ends a running IDLE (RFC 2177 DONE) and waits for its completion.
    pub async fn idle_done(&mut self) -> Result<(), BackendError> {
        let Some(tag) = self.idling.take() else {
            return Ok(());
        };
        let conn = self.session.get_mut();
        conn.write_all(b"DONE\r\n").await.map_err(Error::from)?;
        conn.flush().await.map_err(Error::from)?;
        let deadline = Duration::from_secs(30);
        tokio::time::timeout(deadline, async {
            loop {
                let frame = raw::read_frame(self.session.get_mut(), 1 << 20).await?;
                if matches!(frame, Frame::Tagged(ref t, _) if *t == tag) {
                    return Ok::<(), Error>(());
                }
            }
        })
        .await
        .map_err(|_| Error::Timeout("IDLE DONE"))??;
        Ok(())
    }

    /// NOOP: keeps the connection alive; returns what arrived meanwhile.
    pub async fn noop(&mut self) -> Result<Vec<WatchEvent>, BackendError> {
        let reply = raw::run(&mut self.session, "NOOP").await?.ok()?;
        Ok(reply.untagged.iter().filter_map(event_of).collect())
    }

    /// Says LOGOUT, giving up after a second.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.session.logout()).await;
    }
}

fn decode(raw_name: &str) -> String {
    utf7::decode(raw_name).unwrap_or_else(|_| raw_name.to_string())
}

/// `* STATUS name (k v …)`, `* LIST …`, `* n EXISTS|EXPUNGE|FETCH|VANISHED`.
fn event_of(u: &Untagged) -> Option<WatchEvent> {
    if let Some(t) = u.data("STATUS") {
        let mailbox = decode(&t.first()?.text()?);
        let items = t.get(1)?.list()?;
        let mut uidvalidity = None;
        let mut highestmodseq = None;
        for pair in items.chunks(2) {
            if let [k, v] = pair {
                if k.is_atom("UIDVALIDITY") {
                    uidvalidity = v.number();
                } else if k.is_atom("HIGHESTMODSEQ") {
                    highestmodseq = v.number();
                }
            }
        }
        return Some(WatchEvent::Status {
            mailbox,
            uidvalidity,
            highestmodseq,
        });
    }
    if u.data("LIST").is_some() {
        return Some(WatchEvent::Hierarchy);
    }
    match u {
        Untagged::Data(v) if v.first().is_some_and(|t| t.is_atom("VANISHED")) => {
            Some(WatchEvent::Selected)
        }
        Untagged::Data(v)
            if v.get(1).is_some_and(|t| {
                t.is_atom("EXISTS") || t.is_atom("EXPUNGE") || t.is_atom("FETCH")
            }) =>
        {
            Some(WatchEvent::Selected)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::parse_frame_for_tests as frame;

    #[test]
    fn notify_responses_become_events() {
        assert_eq!(
            event_of(&frame(
                b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ 2)\r\n"
            )),
            Some(WatchEvent::Status {
                mailbox: "INBOX".into(),
                uidvalidity: None,
                highestmodseq: Some(2)
            })
        );
        assert_eq!(
            event_of(&frame(
                b"* STATUS \"Entw&APw-rfe\" (UIDVALIDITY 7 HIGHESTMODSEQ 9)\r\n"
            )),
            Some(WatchEvent::Status {
                mailbox: "Entwürfe".into(),
                uidvalidity: Some(7),
                highestmodseq: Some(9)
            })
        );
        assert_eq!(
            event_of(&frame(b"* LIST (\\NonExistent) \"/\" Bar\r\n")),
            Some(WatchEvent::Hierarchy)
        );
        assert_eq!(
            event_of(&frame(b"* 3 EXISTS\r\n")),
            Some(WatchEvent::Selected)
        );
        assert_eq!(event_of(&frame(b"* OK still here\r\n")), None);
        assert_eq!(event_of(&frame(b"* 2 RECENT\r\n")), None);
    }
}
