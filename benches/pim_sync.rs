//! Benchmark of issue 4 (run with `scripts/bench.sh pim_sync`, not in CI): the initial
//! Sync of 5,000 events and of 5,000 contacts through airsync (WindowSize 100) against a
//! plain DAV client reading the same objects with one sync-collection REPORT and
//! multigets of 100; and airsync's peak RSS. One unmeasured warm-up pass reads both
//! collections first, so neither side pays Radicale's cold start.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use airsync::wbxml::Element;
use airsync::wbxml::pages::AirSync as A;
use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, folder_changes, https_client};
use process::rss_peak_kib;

const OBJECTS: usize = 5_000;
const CHUNK: usize = 100;

fn event(i: usize) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-{i}@test\r\n\
         DTSTAMP:20261120T100000Z\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nDTEND;TZID=Europe/Berlin:20261201T100000\r\n\
         SUMMARY:Bench event {i}\r\nLOCATION:Room {i}\r\nDESCRIPTION:Agenda item {i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn contact(i: usize) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-{i}@test\r\nFN:Person {i}\r\nN:Person;Bench {i};;;\r\n\
         EMAIL;TYPE=INTERNET:person{i}@example.org\r\nTEL;TYPE=CELL:+49 170 {i:07}\r\nORG:Company {i}\r\nEND:VCARD\r\n"
    )
}

struct Raw {
    client: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Raw {
    fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base, self.user.replace('@', "%40"))
    }

    async fn report(&self, url: &str, depth: &str, body: String) -> String {
        let r = self
            .client
            .request(reqwest::Method::from_bytes(b"REPORT").unwrap(), url)
            .basic_auth(&self.user, Some(&self.password))
            .header("Depth", depth)
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    /// What a plain DAV client does for a first sync: one sync-collection, then multigets.
    async fn read_all(&self, collection: &str, calendar: bool) -> usize {
        let url = self.url(collection);
        let listing = self
            .report(
                &url,
                "0",
                "<?xml version=\"1.0\"?><d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/>\
            <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
                    .into(),
            )
            .await;
        let hrefs: Vec<&str> = listing
            .split("href>")
            .skip(1)
            .step_by(2)
            .map(|p| p.split('<').next().unwrap())
            .filter(|h| h.ends_with(".ics") || h.ends_with(".vcf"))
            .collect();
        let (ns, multiget, data) = if calendar {
            (
                "xmlns:x=\"urn:ietf:params:xml:ns:caldav\"",
                "calendar-multiget",
                "calendar-data",
            )
        } else {
            (
                "xmlns:x=\"urn:ietf:params:xml:ns:carddav\"",
                "addressbook-multiget",
                "address-data",
            )
        };
        let mut objects = 0;
        for chunk in hrefs.chunks(CHUNK) {
            let body = format!(
                "<?xml version=\"1.0\"?><x:{multiget} xmlns:d=\"DAV:\" {ns}><d:prop><d:getetag/><x:{data}/></d:prop>{}</x:{multiget}>",
                chunk
                    .iter()
                    .map(|h| format!("<d:href>{h}</d:href>"))
                    .collect::<String>()
            );
            let reply = self.report(&url, "1", body).await;
            objects += reply
                .matches(if calendar {
                    "BEGIN:VEVENT"
                } else {
                    "BEGIN:VCARD"
                })
                .count();
        }
        objects
    }
}

/// Writes the objects straight into Radicale's file storage: PUTting 5,000 objects one
/// by one takes Radicale a quarter of an hour on this machine, and the set-up is not
/// what is measured. Radicale reads its collections from these files.
fn seed(stack: &Stack, user: &str, collection: &str, make: fn(usize) -> String, ext: &str) {
    let dir = stack
        .dir
        .join("radicale/collections/collection-root")
        .join(user)
        .join(collection);
    assert!(dir.is_dir(), "no Radicale collection at {}", dir.display());
    for i in 0..OBJECTS {
        std::fs::write(dir.join(format!("b{i}.{ext}")), make(i)).unwrap();
    }
}

async fn airsync_sync(phone: &Phone, kind: u8) -> (usize, Duration) {
    let a = phone.folder_sync("0").await;
    let (_, _, folders, _, _) = folder_changes(a.body.as_ref().unwrap());
    let id = folders
        .iter()
        .find(|f| f.kind == kind)
        .unwrap()
        .server_id
        .clone();
    let t = Instant::now();
    let (_, commands) = phone
        .sync_all(
            &id,
            100,
            Element::new(A::Options).text_child(A::FilterType, "0"),
        )
        .await;
    (commands.len(), t.elapsed())
}

#[tokio::main]
async fn main() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("pimbench");
    let raw = Raw {
        client: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{}", stack.dav_port),
        user: user.clone(),
        password: pw.clone(),
    };
    seed(stack, &user, "calendar", event, "ics");
    seed(stack, &user, "contacts", contact, "vcf");

    // Warm-up: Radicale's first read of a collection parses every file from disk and
    // fills its caches (and the OS page cache). Both sides are measured warm; without
    // this pass the baseline, measured first, paid the cold start alone.
    assert_eq!(raw.read_all("calendar/", true).await, OBJECTS);
    assert_eq!(raw.read_all("contacts/", false).await, OBJECTS);

    let t = Instant::now();
    let n = raw.read_all("calendar/", true).await;
    let dav_events = t.elapsed();
    assert_eq!(n, OBJECTS);
    let t = Instant::now();
    let n = raw.read_all("contacts/", false).await;
    let dav_contacts = t.elapsed();
    assert_eq!(n, OBJECTS);

    let server = Server::start(stack);
    let mut phone = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        &user,
        &pw,
        "PIMBENCH",
    );
    phone.provision().await;
    let (events, sync_events) = airsync_sync(&phone, 8).await;
    assert_eq!(events, OBJECTS);
    let (contacts, sync_contacts) = airsync_sync(&phone, 9).await;
    assert_eq!(contacts, OBJECTS);
    let rss = rss_peak_kib(server.pid());

    println!("pim_sync: {OBJECTS} events and {OBJECTS} contacts, WindowSize 100");
    println!(
        "  plain DAV client, events:   {:.2} s",
        dav_events.as_secs_f64()
    );
    println!(
        "  airsync initial Sync, events:   {:.2} s ({:.2}x)",
        sync_events.as_secs_f64(),
        sync_events.as_secs_f64() / dav_events.as_secs_f64()
    );
    println!(
        "  plain DAV client, contacts: {:.2} s",
        dav_contacts.as_secs_f64()
    );
    println!(
        "  airsync initial Sync, contacts: {:.2} s ({:.2}x)",
        sync_contacts.as_secs_f64(),
        sync_contacts.as_secs_f64() / dav_contacts.as_secs_f64()
    );
    println!("  airsync peak RSS: {:.1} MiB", rss as f64 / 1024.0);
}
