//! What the mail benches share: the seeded INBOX, the plain IMAP client they are
//! measured against, and a new phone's initial Sync of it. Each bench uses part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use crate::common::Stack;
use airsync::wbxml::Element;

use crate::common::eas::{Phone, https_client, mail_options};
use crate::common::imap::{Imap, message};

/// Messages in the seeded INBOX (issue 3's figure).
pub const MESSAGES: usize = 10_000;

/// A new account whose INBOX holds [`MESSAGES`] short messages: its login and password.
///
/// The INBOX is then opened read-write once, as any mail client that selects it does
/// (webmail, a desktop client, or airsync itself when a phone marks mail read): Dovecot
/// moves appended or delivered messages from the Maildir's `new/` to `cur/` only then.
/// Left in `new/`, every EXAMINE rescans 10,000 files there under the uidlist lock (a
/// state no mailbox in use stays in); `MAIL_SEED_UNOPENED=1` keeps it, for comparison
/// with the figures of sessions before 11, which were measured so.
pub fn seed(stack: &Stack, prefix: &str) -> (String, String) {
    let (user, pw) = stack.new_user(prefix);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    let msgs: Vec<_> = (0..MESSAGES)
        .map(|i| message("bench@example.org", &user, &format!("bench {i}"), &body))
        .collect();
    let t = Instant::now();
    imap.append_many("INBOX", &msgs, "");
    if std::env::var_os("MAIL_SEED_UNOPENED").is_none() {
        imap.command("SELECT INBOX");
        imap.command("UNSELECT");
    }
    eprintln!("seeded {MESSAGES} messages in {:?}", t.elapsed());
    (user, pw)
}

/// The baseline: one IMAP connection fetching what the phone gets (headers and 512
/// bytes of text) of every message. The connection is handed back open: Dovecot's
/// process for it ends with it, and its CPU time can only be read while it lives.
pub fn plain_fetch(stack: &Stack, user: &str, pw: &str) -> (Duration, Imap) {
    let mut baseline = Imap::login(stack.imap_port, user, pw);
    let t = Instant::now();
    baseline.command("EXAMINE INBOX");
    let lines = baseline.command("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.512>)");
    let elapsed = t.elapsed();
    assert!(lines.len() >= MESSAGES);
    (elapsed, baseline)
}

/// A new phone `device` of `user` on the server at `base_url`, provisioned, and the
/// ServerId of its INBOX.
pub async fn new_phone(
    stack: &Stack,
    base_url: &str,
    (user, pw): (&str, &str),
    device: &str,
) -> (Phone, String) {
    let mut phone = Phone::new(https_client(&stack.ca_cert), base_url, user, pw, device);
    phone.provision().await;
    let inbox = phone.folder_id(2).await;
    (phone, inbox)
}

/// What the phone asks for: plain text truncated to 512 bytes.
pub fn options() -> Element {
    mail_options(1, Some(512))
}

/// The phone's initial Sync of the INBOX (WindowSize 100, [`options`]): its time and
/// the final SyncKey; checks that every message came, once. The phone scans each
/// answer rather than decoding it into a tree (`Phone::sync_all_scanned`): it shares
/// the two cores with airsync and Dovecot, and the tree cost it about 0.25 ms per
/// window.
pub async fn initial_sync(phone: &Phone, inbox: &str) -> (Duration, String) {
    let t = Instant::now();
    let (key, added) = phone.sync_all_scanned(inbox, 100, options()).await;
    let elapsed = t.elapsed();
    let distinct: std::collections::HashSet<&String> = added.iter().collect();
    assert_eq!((added.len(), distinct.len()), (MESSAGES, MESSAGES));
    (elapsed, key)
}
