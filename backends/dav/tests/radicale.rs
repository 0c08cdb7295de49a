//! Integration tests against a real Radicale 3.
//!
//! `AIRSYNC_TEST_STACK` names the directory of a running test stack (see `tests/stack`):
//! its `stack.env` gives `DAV_PORT` and `DIR`; each test adds its own user with
//! `tests/stack/add-user.sh DIR user pass` (or the script named by
//! `AIRSYNC_TEST_ADD_USER`), so tests run in parallel without seeing each other's data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use airsync_dav::{DavClient, DavConfig};
use airsync_model::{BackendError, Credentials, DavKind, DavStore};

struct Stack {
    dav_port: u16,
    dir: PathBuf,
}

fn stack() -> Stack {
    let dir = std::env::var("AIRSYNC_TEST_STACK").unwrap_or_else(|_| {
        panic!(
            "AIRSYNC_TEST_STACK is not set: these tests need a running Radicale. Start the test \
             stack (tests/stack) and set AIRSYNC_TEST_STACK to its directory (holding stack.env)."
        )
    });
    let path = PathBuf::from(&dir).join("stack.env");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let env: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    let get = |k: &str| -> &str {
        env.get(k)
            .copied()
            .unwrap_or_else(|| panic!("{} lacks {k}", path.display()))
    };
    Stack {
        dav_port: get("DAV_PORT").parse().expect("DAV_PORT"),
        dir: get("DIR").into(),
    }
}

impl Stack {
    fn user(&self, name: &str) -> Credentials {
        static N: AtomicU32 = AtomicU32::new(0);
        let login = format!(
            "{name}-{}-{}@example.org",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let password = format!("pw-{login}");
        let script = std::env::var("AIRSYNC_TEST_ADD_USER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/stack/add-user.sh")
            });
        let status = std::process::Command::new(&script)
            .arg(&self.dir)
            .arg(&login)
            .arg(&password)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed", script.display());
        Credentials::new(login, password)
    }

    fn client(&self) -> DavClient {
        let mut c = DavConfig::new(format!("http://127.0.0.1:{}/", self.dav_port));
        c.timeout = Duration::from_secs(20);
        DavClient::new(c).expect("client")
    }
}

impl Stack {
    /// The stored bytes of a resource by a plain GET, for comparison.
    async fn get(&self, u: &Credentials, href: &str) -> Vec<u8> {
        let url = format!(
            "http://127.0.0.1:{}{}",
            self.dav_port,
            airsync_dav::href::encode(href)
        );
        let r = reqwest::Client::new()
            .get(url)
            .basic_auth(&u.login, Some(&u.password))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {href}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }
}

/// The CRLF-terminated lines of an object, sorted.
fn sorted_lines(data: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(data).unwrap();
    let mut lines: Vec<String> = text.split_inclusive("\r\n").map(str::to_owned).collect();
    lines.sort();
    lines
}

const ICS: &str = "text/calendar; charset=utf-8";
const VCF: &str = "text/vcard; charset=utf-8";

fn event(uid: &str, summary: &str, start: &str, rrule: Option<&str>) -> String {
    let rrule = rrule.map(|r| format!("RRULE:{r}\r\n")).unwrap_or_default();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//airsync//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\n\
         {rrule}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}

/// Unix seconds of a UTC date.
fn ts(y: i64, m: i64, d: i64) -> i64 {
    // days from civil (H. Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

async fn new_calendar(c: &DavClient, u: &Credentials, name: &str) -> String {
    c.create_collection(u, DavKind::Calendar, name, &["VEVENT", "VTODO"])
        .await
        .expect("create calendar")
}

#[tokio::test]
async fn discovery_finds_created_calendars_and_address_books() {
    let s = stack();
    let c = s.client();
    let u = s.user("disc");
    let cal1 = c
        .create_collection(&u, DavKind::Calendar, "Work", &["VEVENT"])
        .await
        .unwrap();
    let cal2 = c
        .create_collection(&u, DavKind::Calendar, "Tasks & more", &["VTODO"])
        .await
        .unwrap();
    let ab1 = c
        .create_collection(&u, DavKind::Contacts, "Friends", &[])
        .await
        .unwrap();
    let ab2 = c
        .create_collection(&u, DavKind::Contacts, "Kollegen ä", &[])
        .await
        .unwrap();
    assert!(cal1.starts_with('/') && cal1.ends_with('/'));

    // A fresh client discovers from scratch.
    let c = s.client();
    // The test stack gives every user a calendar/, tasks/ and contacts/ of its own:
    // look at the collections this test made.
    let mut cals = c.collections(&u, DavKind::Calendar).await.unwrap();
    cals.retain(|c| c.href == cal1 || c.href == cal2);
    cals.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    assert_eq!(cals.len(), 2, "{cals:?}");
    assert_eq!(cals[0].display_name, "Tasks & more");
    assert_eq!(cals[0].href, cal2);
    assert_eq!(cals[0].components, vec!["VTODO".to_string()]);
    assert_eq!(cals[1].display_name, "Work");
    assert_eq!(cals[1].href, cal1);
    assert_eq!(cals[1].components, vec!["VEVENT".to_string()]);
    assert!(cals.iter().all(|c| c.kind == DavKind::Calendar));
    assert!(cals.iter().all(|c| c.sync_token.is_some()), "{cals:?}");
    assert!(cals.iter().all(|c| c.ctag.is_some()), "{cals:?}");
    // The principal is in the user's namespace.
    assert!(cal1.contains(&u.login), "{cal1}");

    let mut abs = c.collections(&u, DavKind::Contacts).await.unwrap();
    abs.retain(|a| a.href == ab1 || a.href == ab2);
    abs.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    assert_eq!(abs.len(), 2, "{abs:?}");
    assert_eq!(abs[0].display_name, "Friends");
    assert_eq!(abs[0].href, ab1);
    assert_eq!(abs[1].display_name, "Kollegen ä");
    assert_eq!(abs[1].href, ab2);
    assert!(
        abs.iter()
            .all(|a| a.components.is_empty() && a.kind == DavKind::Contacts)
    );

    // Another user sees none of them (only their own defaults).
    let other = s.user("disc-other");
    assert!(
        c.collections(&other, DavKind::Calendar)
            .await
            .unwrap()
            .iter()
            .all(|c| c.href != cal1 && c.href != cal2 && !c.href.contains(&u.login))
    );
}

#[tokio::test]
async fn put_list_fetch_and_conflicts() {
    let s = stack();
    let c = s.client();
    let u = s.user("put");
    let cal = new_calendar(&c, &u, "Cal").await;
    let data = event("e1@test", "First", "20240310T100000Z", None);
    let (href, etag) = c
        .put(&u, &cal, "e1 test.ics", data.as_bytes(), ICS, None)
        .await
        .unwrap();
    assert_eq!(href, format!("{cal}e1 test.ics"));
    assert!(!etag.is_empty());

    let listing = c.list(&u, &cal).await.unwrap();
    assert_eq!(listing.members, vec![(href.clone(), etag.clone())]);
    assert!(listing.sync_token.is_some());

    let got = c
        .fetch(&u, &cal, std::slice::from_ref(&href))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].href, href);
    assert_eq!(got[0].etag, etag);
    // Radicale stores its own serialisation (vobject may reorder properties): the fetched
    // bytes are exactly what a plain GET returns, and hold the same lines as the PUT.
    let stored = s.get(&u, &href).await;
    assert_eq!(got[0].data, stored);
    assert_eq!(sorted_lines(&got[0].data), sorted_lines(data.as_bytes()));
    assert!(got[0].data.ends_with(b"END:VCALENDAR\r\n"));

    // Creating the same name again is a conflict.
    let again = c
        .put(&u, &cal, "e1 test.ics", data.as_bytes(), ICS, None)
        .await;
    assert!(matches!(again, Err(BackendError::Conflict(_))), "{again:?}");

    // Update with the right ETag, then with the now stale one.
    let data2 = event("e1@test", "Second", "20240310T100000Z", None);
    let (_, etag2) = c
        .put(&u, &cal, "e1 test.ics", data2.as_bytes(), ICS, Some(&etag))
        .await
        .unwrap();
    assert_ne!(etag2, etag);
    let stale = c
        .put(&u, &cal, "e1 test.ics", data.as_bytes(), ICS, Some(&etag))
        .await;
    assert!(matches!(stale, Err(BackendError::Conflict(_))), "{stale:?}");

    // Missing hrefs are left out of a fetch.
    let missing = format!("{cal}nope.ics");
    let got = c.fetch(&u, &cal, &[missing, href.clone()]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].etag, etag2);

    // Delete with a wrong ETag is refused, with the right one works.
    let wrong = c.delete(&u, &href, Some(&etag)).await;
    assert!(matches!(wrong, Err(BackendError::Conflict(_))), "{wrong:?}");
    c.delete(&u, &href, Some(&etag2)).await.unwrap();
    assert!(c.list(&u, &cal).await.unwrap().members.is_empty());
    let gone = c.delete(&u, &href, None).await;
    assert!(matches!(gone, Err(BackendError::NotFound(_))), "{gone:?}");
}

#[tokio::test]
async fn contacts_round_trip_through_a_fresh_client() {
    let s = stack();
    let c = s.client();
    let u = s.user("card");
    let ab = c
        .create_collection(&u, DavKind::Contacts, "Book", &[])
        .await
        .unwrap();
    let data = card("c1@test", "Ann Example");
    let (href, etag) = c
        .put(&u, &ab, "c1.vcf", data.as_bytes(), VCF, None)
        .await
        .unwrap();
    // A client that has not seen the collection yet still picks addressbook-multiget.
    let fresh = s.client();
    let got = fresh
        .fetch(&u, &ab, std::slice::from_ref(&href))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].etag, etag);
    assert_eq!(got[0].data, s.get(&u, &href).await);
    assert_eq!(sorted_lines(&got[0].data), sorted_lines(data.as_bytes()));
}

#[tokio::test]
async fn changes_report_adds_modifications_and_deletions() {
    let s = stack();
    let c = s.client();
    let u = s.user("sync");
    let cal = new_calendar(&c, &u, "Sync").await;
    let (keep, _) = c
        .put(
            &u,
            &cal,
            "keep.ics",
            event("k@t", "Keep", "20240101T090000Z", None).as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();
    let (modify, modify_etag) = c
        .put(
            &u,
            &cal,
            "mod.ics",
            event("m@t", "Mod", "20240102T090000Z", None).as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();
    let (remove, _) = c
        .put(
            &u,
            &cal,
            "del.ics",
            event("d@t", "Del", "20240103T090000Z", None).as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();
    let token = c.list(&u, &cal).await.unwrap().sync_token.expect("token");

    // Nothing happened yet.
    let d = c.changes(&u, &cal, &token).await.unwrap().expect("delta");
    assert!(d.changed.is_empty() && d.removed.is_empty(), "{d:?}");

    let (added, added_etag) = c
        .put(
            &u,
            &cal,
            "new.ics",
            event("n@t", "New", "20240104T090000Z", None).as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();
    let (_, modified_etag) = c
        .put(
            &u,
            &cal,
            "mod.ics",
            event("m@t", "Mod 2", "20240102T090000Z", None).as_bytes(),
            ICS,
            Some(&modify_etag),
        )
        .await
        .unwrap();
    c.delete(&u, &remove, None).await.unwrap();

    let d = c.changes(&u, &cal, &token).await.unwrap().expect("delta");
    let mut changed = d.changed.clone();
    changed.sort();
    let mut want = vec![(added, added_etag), (modify, modified_etag)];
    want.sort();
    assert_eq!(changed, want);
    assert_eq!(d.removed, vec![remove]);
    assert_ne!(d.sync_token, token);
    assert!(!changed.iter().any(|(h, _)| *h == keep));

    // From the new token: nothing.
    let d2 = c
        .changes(&u, &cal, &d.sync_token)
        .await
        .unwrap()
        .expect("delta");
    assert!(d2.changed.is_empty() && d2.removed.is_empty(), "{d2:?}");

    // An invalid token means "fall back to list".
    assert_eq!(
        c.changes(&u, &cal, "http://radicale.org/ns/sync/bogus")
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.changes(&u, &cal, "not even a token").await.unwrap(), None);
}

#[tokio::test]
async fn time_range_finds_a_later_instance_of_a_weekly_event() {
    let s = stack();
    let c = s.client();
    let u = s.user("range");
    let cal = new_calendar(&c, &u, "Range").await;
    // Weekly on Mondays from 2024-01-01 10:00Z, ten times (until 2024-03-04).
    let (weekly, weekly_etag) = c
        .put(
            &u,
            &cal,
            "weekly.ics",
            event(
                "w@t",
                "Weekly",
                "20240101T100000Z",
                Some("FREQ=WEEKLY;COUNT=10"),
            )
            .as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();
    let (single, _) = c
        .put(
            &u,
            &cal,
            "single.ics",
            event("s@t", "Single", "20240102T100000Z", None).as_bytes(),
            ICS,
            None,
        )
        .await
        .unwrap();

    // 2024-02-05 is a Monday (6th instance); the first instance is far outside.
    let hits = c
        .time_range(&u, &cal, "VEVENT", ts(2024, 2, 5), Some(ts(2024, 2, 6)))
        .await
        .unwrap();
    assert_eq!(hits, vec![(weekly.clone(), weekly_etag.clone())]);

    // A Tuesday-to-Sunday window in February has no instance.
    let none = c
        .time_range(&u, &cal, "VEVENT", ts(2024, 2, 6), Some(ts(2024, 2, 11)))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    // After the last instance (2024-03-04): nothing, open-ended.
    let after = c
        .time_range(&u, &cal, "VEVENT", ts(2024, 3, 5), None)
        .await
        .unwrap();
    assert!(after.is_empty(), "{after:?}");

    // The first week holds both.
    let mut first = c
        .time_range(&u, &cal, "VEVENT", ts(2024, 1, 1), Some(ts(2024, 1, 3)))
        .await
        .unwrap();
    first.sort();
    let hrefs: Vec<_> = first.iter().map(|(h, _)| h.clone()).collect();
    let mut want = vec![single, weekly];
    want.sort();
    assert_eq!(hrefs, want);

    // No VTODO anywhere.
    assert!(
        c.time_range(&u, &cal, "VTODO", ts(2024, 1, 1), None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn rename_and_delete_collections() {
    let s = stack();
    let c = s.client();
    let u = s.user("coll");
    let cal = new_calendar(&c, &u, "Before").await;
    c.rename_collection(&u, &cal, "After ü").await.unwrap();
    let mut cals = c.collections(&u, DavKind::Calendar).await.unwrap();
    cals.retain(|c| c.href == cal);
    assert_eq!(cals.len(), 1);
    assert_eq!(cals[0].display_name, "After ü");

    c.delete_collection(&u, &cal).await.unwrap();
    assert!(
        c.collections(&u, DavKind::Calendar)
            .await
            .unwrap()
            .iter()
            .all(|c| c.href != cal)
    );
    let again = c.list(&u, &cal).await;
    assert!(matches!(again, Err(BackendError::NotFound(_))), "{again:?}");
    let renamed = c.rename_collection(&u, &cal, "x").await;
    assert!(
        matches!(renamed, Err(BackendError::NotFound(_))),
        "{renamed:?}"
    );
}

#[tokio::test]
async fn wrong_password_is_auth() {
    let s = stack();
    let c = s.client();
    let u = s.user("auth");
    c.collections(&u, DavKind::Calendar).await.unwrap();
    let wrong = Credentials::new(u.login.clone(), "wrong");
    // Discovery is cached for the login, but every request carries the password.
    assert_eq!(
        c.collections(&wrong, DavKind::Calendar).await,
        Err(BackendError::Auth)
    );
    let fresh = s.client();
    assert_eq!(
        fresh.collections(&wrong, DavKind::Contacts).await,
        Err(BackendError::Auth)
    );
    let nobody = Credentials::new("nobody-at-all@example.org", "x");
    assert_eq!(
        fresh.list(&nobody, "/nobody-at-all@example.org/x/").await,
        Err(BackendError::Auth)
    );
}

#[tokio::test]
async fn server_down_is_transient_and_quick() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cfg = DavConfig::new(format!("http://127.0.0.1:{port}/"));
    cfg.timeout = Duration::from_secs(5);
    let c = DavClient::new(cfg).unwrap();
    let u = Credentials::new("a@example.org", "p");
    let started = Instant::now();
    let r = c.collections(&u, DavKind::Calendar).await;
    assert!(matches!(r, Err(BackendError::Transient(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // A server that accepts but never answers: the request timeout applies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = DavConfig::new(format!("http://{}/", silent.local_addr().unwrap()));
    cfg.timeout = Duration::from_millis(500);
    let c = DavClient::new(cfg).unwrap();
    let started = Instant::now();
    let r = c.list(&u, "/a/b/").await;
    assert!(matches!(r, Err(BackendError::Transient(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);
}
