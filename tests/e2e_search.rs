//! Search, Find, ResolveRecipients, Settings (Oof, UserInformation, DeviceInformation,
//! DevicePassword) and ValidateCert end to end against the real Dovecot (with
//! Pigeonhole/ManageSieve), Radicale, Postfix and a test-owned slapd.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use airsync::wbxml::pages::{
    AirSync as A, Email as E, Find as F, GAL as G, ResolveRecipients as R, Search as S,
    Settings as St, ValidateCert as V,
};
use airsync::wbxml::{Element, Tag};
use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, https_client};

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str, device: &str) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        device,
    );
    p.provision().await;
    p
}

fn text(e: &Element, t: Tag) -> String {
    e.child_text(t).map(|s| s.into_owned()).unwrap_or_default()
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!("From: a@example.net\r\nTo: b@example.net\r\nSubject: {subject}\r\nMessage-ID: <{}@t>\r\n\r\n{body}\r\n", subject.replace(' ', "."))
        .into_bytes()
}

/// The Store of a Search answer.
fn store(doc: &Element) -> &Element {
    assert_eq!(text(doc, S::Status), "1", "{}", airsync::wbxml::to_xml(doc));
    doc.first(S::Response)
        .and_then(|r| r.first(S::Store))
        .expect("Response/Store")
}

fn mail_search(
    cid: Option<&str>,
    free: Option<&str>,
    after: Option<&str>,
    before: Option<&str>,
    range: &str,
) -> Element {
    let mut and = Element::new(S::And).text_child(A::Class, "Email");
    if let Some(c) = cid {
        and.push(Element::with_text(A::CollectionId, c));
    }
    if let Some(f) = free {
        and.push(Element::with_text(S::FreeText, f));
    }
    if let Some(d) = after {
        and.push(
            Element::new(S::GreaterThan)
                .child(Element::new(E::DateReceived))
                .text_child(S::Value, d),
        );
    }
    if let Some(d) = before {
        and.push(
            Element::new(S::LessThan)
                .child(Element::new(E::DateReceived))
                .text_child(S::Value, d),
        );
    }
    let mut options = Element::new(S::Options).text_child(S::Range, range);
    if cid.is_some() {
        options.push(Element::new(S::DeepTraversal));
    }
    Element::new(S::Search).child(
        Element::new(S::Store)
            .text_child(S::Name, "Mailbox")
            .child(Element::new(S::Query).child(and))
            .child(options),
    )
}

fn subjects(store: &Element) -> Vec<String> {
    store
        .all(S::Result)
        .filter_map(|r| r.first(S::Properties))
        .map(|p| text(p, E::Subject))
        .collect()
}

#[tokio::test]
async fn mailbox_search_and_find_in_a_big_folder() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("srch");
    let mut imap = common::imap::Imap::login(stack.imap_port, &user, &pw);
    imap.command("CREATE Big");
    // 9,995 fillers, then five messages with known words and received dates.
    let fillers: Vec<Vec<u8>> = (0..9_995)
        .map(|i| message(&format!("filler {i}"), "nothing to see"))
        .collect();
    imap.append_many("Big", &fillers, "\\Seen");
    for (subject, body, date) in [
        (
            "zebra one",
            "the zebraquartz word",
            "01-Mar-2025 10:00:00 +0000",
        ),
        (
            "zebra two",
            "again zebraquartz",
            "02-Mar-2025 10:00:00 +0000",
        ),
        (
            "zebra three",
            "zebraquartz thrice",
            "03-Mar-2025 10:00:00 +0000",
        ),
        ("old one", "from long ago", "01-Jun-2019 10:00:00 +0000"),
        ("old two", "from long ago", "02-Jun-2019 10:00:00 +0000"),
    ] {
        let m = message(subject, body);
        let lines = imap.command(&format!(
            "APPEND Big (\\Seen) \"{date}\" {{{}+}}\r\n{}",
            m.len(),
            String::from_utf8(m).unwrap()
        ));
        assert!(lines.last().unwrap().contains("OK"), "{lines:?}");
    }
    let server = Server::start(stack);
    let p = phone(&server, stack, &user, &pw, "SRCH1").await;
    let big = p.folder_id_by_name("Big").await;

    // Free text: exactly the three, newest first, each with a LongId ItemOperations takes.
    let a = p
        .post(
            "Search",
            &mail_search(Some(&big), Some("zebraquartz"), None, None, "0-9"),
        )
        .await;
    let doc = a.body.expect("Search answer");
    let st = store(&doc);
    assert_eq!(text(st, S::Status), "1");
    assert_eq!(text(st, S::Total), "3", "{}", airsync::wbxml::to_xml(&doc));
    assert_eq!(subjects(st), vec!["zebra three", "zebra two", "zebra one"]);
    assert_eq!(text(st, S::Range), "0-2");
    for r in st.all(S::Result) {
        assert!(
            text(r, S::LongId).starts_with(&format!("{big}:")),
            "{}",
            text(r, S::LongId)
        );
        assert_eq!(text(r, A::CollectionId), big);
    }
    // Range paging.
    let a = p
        .post(
            "Search",
            &mail_search(Some(&big), Some("zebraquartz"), None, None, "1-1"),
        )
        .await;
    let doc = a.body.unwrap();
    let st = store(&doc);
    assert_eq!(subjects(st), vec!["zebra two"]);
    assert_eq!(text(st, S::Range), "1-1");
    assert_eq!(text(st, S::Total), "3");

    // Date range over all folders: exactly the two old ones.
    let a = p
        .post(
            "Search",
            &mail_search(
                None,
                None,
                Some("2019-05-31T00:00:00.000Z"),
                Some("2019-07-01T00:00:00.000Z"),
                "0-9",
            ),
        )
        .await;
    let doc = a.body.unwrap();
    let st = store(&doc);
    assert_eq!(text(st, S::Total), "2", "{}", airsync::wbxml::to_xml(&doc));
    assert_eq!(subjects(st), vec!["old two", "old one"]);

    // A forged CollectionId finds nothing of anybody's.
    let a = p
        .post(
            "Search",
            &mail_search(Some("99999"), Some("zebraquartz"), None, None, "0-9"),
        )
        .await;
    let doc = a.body.unwrap();
    assert_eq!(text(store(&doc), S::Status), "11");

    // Find (16.1): Status 1 and the Total, also for no match.
    let find = |q: &str| {
        Element::new(F::Find).text_child(F::SearchId, "1").child(
            Element::new(F::ExecuteSearch).child(
                Element::new(F::MailBoxSearchCriterion)
                    .child(
                        Element::new(F::Query)
                            .text_child(A::Class, "Email")
                            .text_child(A::CollectionId, big.clone())
                            .text_child(F::FreeText, q),
                    )
                    .child(Element::new(F::Options).text_child(F::Range, "0-1")),
            ),
        )
    };
    let doc = p.post("Find", &find("zebraquartz")).await.body.unwrap();
    assert_eq!(
        text(&doc, F::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    let r = doc.first(F::Response).unwrap();
    assert_eq!(text(r, F::Status), "1");
    assert_eq!(text(r, F::Total), "3");
    assert_eq!(r.all(F::Result).count(), 2);
    let doc = p
        .post("Find", &find("nosuchwordanywhere"))
        .await
        .body
        .unwrap();
    assert_eq!(text(&doc, F::Status), "1");
    let r = doc.first(F::Response).unwrap();
    assert_eq!(text(r, F::Total), "0");
    assert_eq!(r.all(F::Result).count(), 0);
}

fn vcard(uid: &str, first: &str, last: &str, mail: &str, org: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\nEMAIL;TYPE=work:{mail}\r\n\
         TEL;TYPE=work:+49 30 {uid}\r\nORG:{org}\r\nTITLE:Engineer\r\nEND:VCARD\r\n"
    )
}

async fn dav_put(stack: &Stack, user: &str, pw: &str, path: &str, body: &str, ct: &str) {
    let url = format!(
        "http://127.0.0.1:{}/{}/{path}",
        stack.dav_port,
        user.replace('@', "%40")
    );
    let r = reqwest::Client::new()
        .put(url)
        .basic_auth(user, Some(pw))
        .header("Content-Type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT {path}: {}", r.status());
}

fn gal_search(q: &str, range: &str) -> Element {
    Element::new(S::Search).child(
        Element::new(S::Store)
            .text_child(S::Name, "GAL")
            .text_child(S::Query, q)
            .child(Element::new(S::Options).text_child(S::Range, range)),
    )
}

fn gal_names(st: &Element) -> Vec<String> {
    let mut v: Vec<String> = st
        .all(S::Result)
        .filter_map(|r| r.first(S::Properties))
        .map(|p| text(p, G::DisplayName))
        .collect();
    v.sort();
    v
}

fn resolve(to: &str, availability: Option<(&str, &str)>, certs: bool) -> Element {
    let mut options = Element::new(R::Options);
    if certs {
        options.push(Element::with_text(R::CertificateRetrieval, "2"));
    }
    if let Some((a, b)) = availability {
        options.push(
            Element::new(R::Availability)
                .text_child(R::StartTime, a)
                .text_child(R::EndTime, b),
        );
    }
    Element::new(R::ResolveRecipients)
        .text_child(R::To, to)
        .child(options)
}

#[tokio::test]
async fn gal_over_carddav_find_and_resolve_recipients() {
    let stack = Stack::get();
    let d = &stack.mail_domain;
    let (dir_user, dir_pw) = stack.new_user("galdir");
    for (uid, first, last) in [
        ("1", "Carol", "Smith"),
        ("2", "Dave", "Smith"),
        ("3", "Erin", "Jones"),
    ] {
        let mail = format!("{}.{}@{d}", first.to_lowercase(), last.to_lowercase());
        dav_put(
            stack,
            &dir_user,
            &dir_pw,
            &format!("contacts/{uid}.vcf"),
            &vcard(uid, first, last, &mail, "Example"),
            "text/vcard",
        )
        .await;
    }
    let (user, pw) = stack.new_user("galuser");
    let (other, _) = stack.new_user("galother");
    // A busy hour in the user's own calendar.
    let ev = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:busy-1\r\nDTSTAMP:20260101T000000Z\r\n\
              DTSTART:20300105T100000Z\r\nDTEND:20300105T110000Z\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    dav_put(
        stack,
        &user,
        &pw,
        "calendar/busy-1.ics",
        ev,
        "text/calendar",
    )
    .await;
    let dir = tempfile::Builder::new()
        .prefix("airsync-test-")
        .tempdir()
        .unwrap()
        .keep();
    let extra = format!(
        "[directory]\ncarddav = \"/{dir_user}/contacts/\"\ncarddav_user = \"{dir_user}\"\ncarddav_password = \"{dir_pw}\"\n"
    );
    let server = Server::start_in(stack, &dir, &extra);
    let p = phone(&server, stack, &user, &pw, "GAL1").await;

    let doc = p
        .post("Search", &gal_search("smith", "0-9"))
        .await
        .body
        .unwrap();
    let st = store(&doc);
    assert_eq!(text(st, S::Total), "2", "{}", airsync::wbxml::to_xml(&doc));
    assert_eq!(gal_names(st), vec!["Carol Smith", "Dave Smith"]);
    let carol = st
        .all(S::Result)
        .filter_map(|r| r.first(S::Properties))
        .find(|p| text(p, G::FirstName) == "Carol")
        .unwrap();
    assert_eq!(text(carol, G::EmailAddress), format!("carol.smith@{d}"));
    assert_eq!(text(carol, G::Company), "Example");
    assert_eq!(text(carol, G::LastName), "Smith");
    // Paging a GAL search.
    let doc = p
        .post("Search", &gal_search("smith", "1-1"))
        .await
        .body
        .unwrap();
    assert_eq!(store(&doc).all(S::Result).count(), 1);

    // Find GAL: Status 1 and Totals, zero included.
    let find = |q: &str| {
        Element::new(F::Find).text_child(F::SearchId, "2").child(
            Element::new(F::ExecuteSearch).child(
                Element::new(F::GalSearchCriterion)
                    .text_child(F::Query, q)
                    .child(Element::new(F::Options).text_child(F::Range, "0-9")),
            ),
        )
    };
    let doc = p.post("Find", &find("jones")).await.body.unwrap();
    assert_eq!(
        text(&doc, F::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    assert_eq!(text(doc.first(F::Response).unwrap(), F::Total), "1");
    let doc = p.post("Find", &find("nobody-here")).await.body.unwrap();
    assert_eq!(text(&doc, F::Status), "1");
    assert_eq!(text(doc.first(F::Response).unwrap(), F::Total), "0");

    // ResolveRecipients: a directory address resolves (Type 1); free/busy of another
    // user's calendar is refused by Radicale's owner_only rights: Status 162.
    let window = Some(("2030-01-05T09:00:00.000Z", "2030-01-05T12:00:00.000Z"));
    let doc = p
        .post(
            "ResolveRecipients",
            &resolve(&format!("carol.smith@{d}"), window, true),
        )
        .await
        .body
        .unwrap();
    assert_eq!(
        text(&doc, R::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    let resp = doc.first(R::Response).unwrap();
    assert_eq!(text(resp, R::Status), "1");
    let rcp = resp.first(R::Recipient).unwrap();
    assert_eq!(text(rcp, R::Type), "1");
    assert_eq!(text(rcp, R::DisplayName), "Carol Smith");
    assert_eq!(text(rcp.first(R::Availability).unwrap(), R::Status), "162");
    assert_eq!(text(rcp.first(R::Certificates).unwrap(), R::Status), "7");
    // Another real user of the stack, not in the directory: unresolved (Status 4)…
    let doc = p
        .post("ResolveRecipients", &resolve(&other, None, false))
        .await
        .body
        .unwrap();
    assert_eq!(text(doc.first(R::Response).unwrap(), R::Status), "4");
    // …and the user's own address with free/busy from the own calendar: busy 10–11.
    let doc = p
        .post("ResolveRecipients", &resolve(&user, window, false))
        .await
        .body
        .unwrap();
    let rcp = doc
        .first(R::Response)
        .unwrap()
        .first(R::Recipient)
        .expect("own address resolves");
    let a = rcp.first(R::Availability).unwrap();
    assert_eq!(text(a, R::Status), "1");
    assert_eq!(text(a, R::MergedFreeBusy), "002200");
}

/// A private slapd on a loopback port with a test-owned config, its data in `dir`.
struct Slapd {
    child: std::process::Child,
    port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_slapd(dir: &Path) -> Slapd {
    let port = free_port();
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let schema = "/etc/ldap/schema";
    let conf = format!(
        "include {schema}/core.schema\ninclude {schema}/cosine.schema\ninclude {schema}/inetorgperson.schema\n\
         pidfile {d}/slapd.pid\nmoduleload back_mdb\n\
         database mdb\nsuffix \"dc=example,dc=org\"\nrootdn \"cn=admin,dc=example,dc=org\"\nrootpw secret\n\
         directory {d}/db\nmaxsize 10485760\n",
        d = dir.display()
    );
    std::fs::write(dir.join("slapd.conf"), conf).unwrap();
    let ldif = "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
                dn: uid=frank,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: frank\ncn: Frank Miller\n\
                givenName: Frank\nsn: Miller\ndisplayName: Frank Miller\nmail: frank.miller@example.org\n\
                telephoneNumber: +49 30 111\nmobile: +49 170 222\ntitle: Architect\no: Example LDAP\n\n\
                dn: uid=grace,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: grace\ncn: Grace Miller\n\
                givenName: Grace\nsn: Miller\nmail: grace.miller@example.org\n\n\
                dn: uid=heidi,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: heidi\ncn: Heidi Klum\nsn: Klum\n\
                mail: heidi@example.org\n";
    std::fs::write(dir.join("seed.ldif"), ldif).unwrap();
    let out = Command::new("slapadd")
        .args([
            "-f",
            &dir.join("slapd.conf").to_string_lossy(),
            "-l",
            &dir.join("seed.ldif").to_string_lossy(),
        ])
        .output()
        .expect("slapadd (tests/stack/packages-ldap.txt)");
    assert!(
        out.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // -d 0 keeps it in the foreground (so the test owns and ends it); as root, it stays
    // root but reads only this directory.
    let child = Command::new("slapd")
        .args([
            "-d",
            "0",
            "-f",
            &dir.join("slapd.conf").to_string_lossy(),
            "-h",
            &format!("ldap://127.0.0.1:{port}/"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("slapd");
    common::wait_until(Duration::from_secs(15), "slapd listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    Slapd { child, port }
}

#[tokio::test]
async fn gal_over_ldap() {
    let stack = Stack::get();
    let tmp = tempfile::Builder::new()
        .prefix("airsync-ldap-")
        .tempdir()
        .unwrap();
    let slapd = start_slapd(tmp.path());
    let (user, pw) = stack.new_user("ldapuser");
    let dir = tempfile::Builder::new()
        .prefix("airsync-test-")
        .tempdir()
        .unwrap()
        .keep();
    let extra = format!(
        "[directory]\nldap_url = \"ldap://127.0.0.1:{}\"\nldap_base_dn = \"dc=example,dc=org\"\n\
         ldap_bind_dn = \"cn=admin,dc=example,dc=org\"\nldap_bind_password = \"secret\"\n",
        slapd.port
    );
    let server = Server::start_in(stack, &dir, &extra);
    let p = phone(&server, stack, &user, &pw, "LDAP1").await;
    let doc = p
        .post("Search", &gal_search("miller", "0-9"))
        .await
        .body
        .unwrap();
    let st = store(&doc);
    assert_eq!(text(st, S::Total), "2", "{}", airsync::wbxml::to_xml(&doc));
    assert_eq!(gal_names(st), vec!["Frank Miller", "Grace Miller"]);
    let frank = st
        .all(S::Result)
        .filter_map(|r| r.first(S::Properties))
        .find(|p| text(p, G::FirstName) == "Frank")
        .unwrap();
    assert_eq!(text(frank, G::EmailAddress), "frank.miller@example.org");
    assert_eq!(text(frank, G::MobilePhone), "+49 170 222");
    assert_eq!(text(frank, G::Title), "Architect");
    assert_eq!(text(frank, G::Alias), "frank");
    let doc = p
        .post(
            "ResolveRecipients",
            &resolve("heidi@example.org", None, false),
        )
        .await
        .body
        .unwrap();
    let resp = doc.first(R::Response).unwrap();
    assert_eq!(text(resp, R::Status), "1");
    assert_eq!(
        text(resp.first(R::Recipient).unwrap(), R::DisplayName),
        "Heidi Klum"
    );
}

fn oof_set(state: u8, start: &str, end: &str, reply: &str) -> Element {
    let msg = |t: Tag| {
        Element::new(St::OofMessage)
            .child(Element::new(t))
            .text_child(St::Enabled, "1")
            .text_child(St::ReplyMessage, reply)
            .text_child(St::BodyType, "Text")
    };
    let mut set = Element::new(St::Set).text_child(St::OofState, state.to_string());
    if state == 2 {
        set.push(Element::with_text(St::StartTime, start));
        set.push(Element::with_text(St::EndTime, end));
    }
    set.push(msg(St::AppliesToInternal));
    set.push(msg(St::AppliesToExternalUnknown));
    Element::new(St::Settings).child(Element::new(St::Oof).child(set))
}

fn oof_get() -> Element {
    Element::new(St::Settings)
        .child(Element::new(St::Oof).child(Element::new(St::Get).text_child(St::BodyType, "Text")))
}

#[tokio::test]
async fn out_of_office_through_sieve() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("oof");
    let mut imap = common::imap::Imap::login(stack.imap_port, &user, &pw);
    imap.command("CREATE Filed");
    // The user's own rule, which must keep working under Out-of-Office.
    stack.set_sieve(&user, "require [\"fileinto\"];\nif header :contains \"subject\" \"FILEME\" { fileinto \"Filed\"; }\n");
    let dir = tempfile::Builder::new()
        .prefix("airsync-test-")
        .tempdir()
        .unwrap()
        .keep();
    let server = Server::start_in(
        stack,
        &dir,
        &format!(
            "[sieve]\nurl = \"sieve://127.0.0.1:{}\"\nca_file = \"{}\"\n",
            stack.sieve_port,
            stack.ca_cert.display()
        ),
    );
    let p = phone(&server, stack, &user, &pw, "OOF1").await;

    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
    let (start, end) = (
        fmt(now - chrono::Duration::hours(1)),
        fmt(now + chrono::Duration::hours(1)),
    );
    let doc = p
        .post(
            "Settings",
            &oof_set(2, &start, &end, "I am away until later."),
        )
        .await
        .body
        .unwrap();
    assert_eq!(
        text(&doc, St::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    assert_eq!(
        text(doc.first(St::Oof).unwrap(), St::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    let doc = p.post("Settings", &oof_get()).await.body.unwrap();
    let get = doc
        .first(St::Oof)
        .and_then(|o| o.first(St::Get))
        .expect("Oof/Get");
    assert_eq!(text(get, St::OofState), "2");
    assert_eq!(text(get, St::StartTime), start);
    assert_eq!(text(get, St::EndTime), end);
    let msgs: Vec<&Element> = get.all(St::OofMessage).collect();
    assert_eq!(msgs.len(), 2);
    assert!(
        msgs.iter()
            .all(|m| text(m, St::ReplyMessage) == "I am away until later."
                && text(m, St::Enabled) == "1")
    );

    // Mail from outside gets exactly one automatic reply through Postfix (to the sink).
    let sender = format!("{}@elsewhere.test", user.split('@').next().unwrap());
    for i in 0..2 {
        let raw = format!(
            "From: {sender}\r\nTo: {user}\r\nSubject: hello {i}\r\nMessage-ID: <oof{i}.{user}>\r\n\r\nhi\r\n"
        );
        stack.deliver(&sender, &user, raw.as_bytes());
    }
    let (sink, _) = stack.sink();
    stack.wait_for_messages(
        &sink,
        "INBOX",
        &["HEADER", "To", &sender],
        1,
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        stack
            .search(&sink, "INBOX", &["HEADER", "To", &sender])
            .len(),
        1,
        "exactly one vacation reply"
    );
    // The pre-existing rule still files.
    let raw = format!(
        "From: x@{d}\r\nTo: {user}\r\nSubject: FILEME please\r\nMessage-ID: <file.{user}>\r\n\r\nx\r\n",
        d = stack.mail_domain
    );
    stack.deliver(&format!("x@{}", stack.mail_domain), &user, raw.as_bytes());
    stack.wait_for_messages(
        &user,
        "Filed",
        &["SUBJECT", "FILEME"],
        1,
        Duration::from_secs(20),
    );

    // Off: Get says 0, the user's own script is active again, no more replies.
    let doc = p
        .post("Settings", &oof_set(0, "", "", ""))
        .await
        .body
        .unwrap();
    assert_eq!(text(doc.first(St::Oof).unwrap(), St::Status), "1");
    let doc = p.post("Settings", &oof_get()).await.body.unwrap();
    assert_eq!(
        text(
            doc.first(St::Oof).unwrap().first(St::Get).unwrap(),
            St::OofState
        ),
        "0"
    );
    let sender2 = format!("{}-2@elsewhere.test", user.split('@').next().unwrap());
    let raw = format!(
        "From: {sender2}\r\nTo: {user}\r\nSubject: after\r\nMessage-ID: <after.{user}>\r\n\r\nhi\r\n"
    );
    stack.deliver(&sender2, &user, raw.as_bytes());
    stack.wait_for_messages(
        &user,
        "INBOX",
        &["SUBJECT", "after"],
        1,
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        stack
            .search(&sink, "INBOX", &["HEADER", "To", &sender2])
            .is_empty(),
        "no reply once Oof is off"
    );
    let raw = format!(
        "From: x@{d}\r\nTo: {user}\r\nSubject: FILEME again\r\nMessage-ID: <file2.{user}>\r\n\r\nx\r\n",
        d = stack.mail_domain
    );
    stack.deliver(&format!("x@{}", stack.mail_domain), &user, raw.as_bytes());
    stack.wait_for_messages(
        &user,
        "Filed",
        &["SUBJECT", "FILEME"],
        2,
        Duration::from_secs(20),
    );
}

#[tokio::test]
async fn user_information_and_device_settings() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("uinfo");
    let server = Server::start(stack);
    let p = phone(&server, stack, &user, &pw, "UINFO1").await;
    let doc = Element::new(St::Settings)
        .child(Element::new(St::UserInformation).child(Element::new(St::Get)))
        .child(
            Element::new(St::DeviceInformation).child(
                Element::new(St::Set)
                    .text_child(St::Model, "TestPhone 9")
                    .text_child(St::OS, "TestOS 1"),
            ),
        )
        .child(
            Element::new(St::DevicePassword)
                .child(Element::new(St::Set).text_child(St::Password, "recover-me")),
        );
    let a = p.post("Settings", &doc).await;
    let doc = a.body.unwrap();
    assert_eq!(text(&doc, St::Status), "1");
    let ui = doc.first(St::UserInformation).unwrap();
    assert_eq!(text(ui, St::Status), "1");
    let emails = ui
        .first(St::Get)
        .and_then(|g| g.first(St::Accounts))
        .and_then(|a| a.first(St::Account))
        .and_then(|a| a.first(St::EmailAddresses))
        .expect("14.1+ Accounts form");
    assert_eq!(text(emails, St::PrimarySmtpAddress), user);
    assert_eq!(
        text(doc.first(St::DeviceInformation).unwrap(), St::Status),
        "1"
    );
    assert_eq!(
        text(doc.first(St::DevicePassword).unwrap(), St::Status),
        "1"
    );
    // The registry has the model; the recovery password never reaches the log.
    let devices = reqwest::Client::new()
        .get(format!("{}/api/devices?account={user}", server.admin_url()))
        .bearer_auth(common::airsync::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(devices.contains("TestPhone 9"), "{devices}");
    assert!(!server.log().contains("recover-me"));
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn der_b64(dir: &Path, pem: &str) -> String {
    use base64::Engine;
    let text = std::fs::read_to_string(dir.join(pem)).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(der)
}

#[tokio::test]
async fn validate_cert_against_the_configured_trust() {
    let stack = Stack::get();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("ext.cnf"), "[smime]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n").unwrap();
    // A trusted CA and an untrusted one, each with an S/MIME leaf.
    for ca in ["ca", "rogue"] {
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "30",
                "-subj",
                &format!("/CN={ca} CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=keyCertSign,cRLSign",
            ],
        );
    }
    for (leaf, ca) in [("good", "ca"), ("untrusted", "rogue")] {
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{leaf}.key"),
                "-out",
                &format!("{leaf}.csr"),
                "-subj",
                &format!("/CN={leaf}/emailAddress={leaf}@example.org"),
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{leaf}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{leaf}.pem"),
                "-days",
                "10",
                "-extfile",
                "ext.cnf",
                "-extensions",
                "smime",
            ],
        );
    }
    // An expired leaf from the trusted CA: `openssl ca` takes explicit dates.
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(d.join("ca.cnf"), format!("[ca]\ndefault_ca=c\n[c]\ndir={}\ndatabase=$dir/index.txt\nserial=$dir/serial\nnew_certs_dir=$dir\ncertificate=$dir/ca.pem\nprivate_key=$dir/ca.key\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\nx509_extensions=smime\n[p]\ncommonName=supplied\n[smime]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=emailProtection\n", d.display())).unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "old.key",
            "-out",
            "old.csr",
            "-subj",
            "/CN=old",
        ],
    );
    openssl(
        d,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-in",
            "old.csr",
            "-out",
            "old.pem",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
            "-notext",
        ],
    );

    let dir = tempfile::Builder::new()
        .prefix("airsync-test-")
        .tempdir()
        .unwrap()
        .keep();
    let extra = format!(
        "[certificates]\nsystem_roots = \"\"\ntrust_file = \"{}\"\n",
        d.join("ca.pem").display()
    );
    let server = Server::start_in(stack, &dir, &extra);
    let (user, pw) = stack.new_user("vcert");
    let p = phone(&server, stack, &user, &pw, "VCERT1").await;
    let request = Element::new(V::ValidateCert).child(
        Element::new(V::Certificates)
            .text_child(V::Certificate, der_b64(d, "good.pem"))
            .text_child(V::Certificate, der_b64(d, "untrusted.pem"))
            .text_child(V::Certificate, der_b64(d, "old.pem")),
    );
    let doc = p.post("ValidateCert", &request).await.body.unwrap();
    assert_eq!(
        text(&doc, V::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&doc)
    );
    let codes: Vec<String> = doc
        .all(V::Certificate)
        .map(|c| text(c, V::Status))
        .collect();
    assert_eq!(codes, vec!["1", "4", "7"]);
}
