//! The new messages of one mail Sync window, read once: fetched from IMAP and converted
//! for the device. The same [`Reader`] serves
//! the window a Sync needs now and the one it reads ahead for the device's next
//! request (`prefetch.rs`), so a read-ahead window arrives ready to send: the request
//! that takes it only checks that it was converted the way it would convert it.

use std::sync::Arc;

use airsync_model::{BackendError, Credentials, FetchedMessage, MailStore, MessageMeta, Uid};

use crate::eas::ProtocolVersion;
use crate::eas::sync::SyncOptions;
use crate::mapping::email;
use crate::wbxml::pages::{AirSync, Email};
use crate::wbxml::{Element, Encoded};

use super::mail::{convert_options, server_id};

/// How a window's messages were converted: the same version and options give the same
/// ApplicationData (flags aside, see [`Reader::refresh`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub version: ProtocolVersion,
    pub options: SyncOptions,
}

/// One message of a window, ready to be offered.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message: FetchedMessage,
    /// Its ApplicationData, for `conversion`, encoded as soon as converted (see
    /// [`Encoded::new`]).
    pub data: Encoded,
    /// The ConversationId of its thread (see `commands::conversation`).
    pub conversation: Option<[u8; 16]>,
    /// It carries an iTIP REPLY, applied to the organizer's event when first offered.
    pub itip_reply: bool,
    conversion: Arc<Conversion>,
}

impl super::prefetch::Weight for Prepared {
    fn weight(&self) -> usize {
        // The converted copy holds at most about what the message holds.
        2 * self.message.raw.len()
    }
}

/// Reads windows of one mailbox for one device's collection.
#[derive(Clone)]
pub struct Reader {
    pub mail: Arc<dyn MailStore>,
    pub creds: Credentials,
    pub mailbox: String,
    /// The CollectionId, which the ServerIds (and FileReferences) carry.
    pub collection_id: String,
    pub conversion: Arc<Conversion>,
}

impl Reader {
    /// The messages `wanted` (UID and INTERNALDATE, as the snapshot knows them) that
    /// still exist, prepared.
    pub async fn read(&self, wanted: Vec<(Uid, i64)>) -> Result<Vec<Prepared>, BackendError> {
        let fetched = self
            .mail
            .fetch_messages_dated(&self.creds, &self.mailbox, &wanted)
            .await?;
        Ok(self.prepare_all(fetched))
    }

    /// The last `count` messages of the mailbox (the highest UIDs), prepared, with the
    /// UIDVALIDITY they belong to (see [`MailStore::fetch_last`]).
    pub async fn read_last(&self, count: usize) -> Result<(u32, Vec<Prepared>), BackendError> {
        let (uidvalidity, fetched) = self
            .mail
            .fetch_last(&self.creds, &self.mailbox, count)
            .await?;
        Ok((uidvalidity, self.prepare_all(fetched)))
    }

    fn prepare_all(&self, fetched: Vec<FetchedMessage>) -> Vec<Prepared> {
        fetched.into_iter().map(|m| self.prepare(m)).collect()
    }

    /// A message converted the way this reader converts; a message that cannot be
    /// converted still reaches the device, as a stub, rather than blocking its folder.
    pub fn prepare(&self, message: FetchedMessage) -> Prepared {
        let sid = server_id(&self.collection_id, message.meta.uid);
        let c = &self.conversion;
        let converted = email::convert(
            &message.raw,
            &message.meta,
            &convert_options(c.version, &c.options, sid.clone()),
        );
        let data = data_or_stub(converted.data, &sid, &message.meta);
        Prepared {
            message,
            data: Encoded::new(&data),
            conversation: converted.conversation,
            itip_reply: converted.itip_reply,
            conversion: self.conversion.clone(),
        }
    }

    /// `p` as this reader would prepare it now: converted again when it was read ahead
    /// with other options, or when the Sync's own delta knows newer flags (`fresh`) than
    /// the copy read ahead (the flags show in Read, Flag, Categories…).
    pub fn refresh(&self, mut p: Prepared, fresh: Option<&MessageMeta>) -> Prepared {
        let flags_changed = fresh.is_some_and(|m| m.flags != p.message.meta.flags);
        if let Some(m) = fresh {
            p.message.meta = m.clone();
        }
        if flags_changed || p.conversion != self.conversion {
            return self.prepare(p.message);
        }
        p
    }
}

/// The ApplicationData of a message, or what a device gets for a message that cannot
/// be read (logged): a stub with its Read state, rather than a blocked folder.
pub fn data_or_stub(
    data: Result<Element, email::ConvertError>,
    server_id: &str,
    meta: &MessageMeta,
) -> Element {
    data.unwrap_or_else(|e| {
        tracing::warn!(target: "airsync", server_id, error = %e, "message could not be converted");
        let read = meta.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
        Element::new(AirSync::ApplicationData)
            .text_child(Email::Subject, "(this message could not be read)")
            .text_child(Email::Read, if read { "1" } else { "0" })
    })
}
