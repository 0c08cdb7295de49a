//! A minimal EAS client for the end-to-end tests: one phone, one account. It encodes
//! with airsync's own codec; the codec's interoperability is proven separately
//! against libwbxml and captured traffic (tests/wbxml_fixtures.rs).

use std::time::{Duration, Instant};

use airsync::wbxml::pages::{FolderHierarchy as F, Ping as PG, Provision as P};
use airsync::wbxml::{self, Element, Node, Tag};
use base64::Engine;

pub struct Phone {
    pub client: reqwest::Client,
    pub base_url: String,
    pub user: String,
    pub password: String,
    pub device_id: String,
    pub device_type: String,
    pub version: String,
    pub policy_key: Option<u32>,
}

/// What came back from a POST.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Option<Element>,
}

impl Answer {
    pub fn xml(&self) -> String {
        self.body.as_ref().map(wbxml::to_xml).unwrap_or_default()
    }
}

/// A reqwest client that trusts the test stack's CA (and nothing is sent off-box).
pub fn https_client(ca_pem: &std::path::Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca_pem).unwrap()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .no_proxy()
        .build()
        .unwrap()
}

impl Phone {
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        user: &str,
        password: &str,
        device_id: &str,
    ) -> Phone {
        Phone {
            client,
            base_url: base_url.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            device_id: device_id.to_string(),
            device_type: "TestPhone".into(),
            version: "16.1".into(),
            policy_key: None,
        }
    }

    pub fn url(&self, cmd: &str) -> String {
        format!(
            "{}/Microsoft-Server-ActiveSync?Cmd={cmd}&User={}&DeviceId={}&DeviceType={}",
            self.base_url, self.user, self.device_id, self.device_type
        )
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password))
            .header("MS-ASProtocolVersion", &self.version)
            .header("User-Agent", "airsync-test/1.0");
        if let Some(k) = self.policy_key {
            r = r.header("X-MS-PolicyKey", k.to_string());
        }
        r
    }

    /// POSTs a command with a WBXML body and decodes the answer.
    pub async fn post(&self, cmd: &str, body: &Element) -> Answer {
        self.try_post(cmd, body).await.expect("request")
    }

    /// [`Phone::post`], but `None` when no answer came (fault tests).
    pub async fn try_post(&self, cmd: &str, body: &Element) -> Option<Answer> {
        try_send(self.wbxml_request(cmd, body)).await
    }

    /// The POST of command `cmd` with `body` encoded as WBXML.
    fn wbxml_request(&self, cmd: &str, body: &Element) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, &self.url(cmd))
            .header("Content-Type", "application/vnd.ms-sync.wbxml")
            .body(wbxml::encode(body))
    }

    /// A phone of `user` on the airsync at `base_url` (trusting `ca`), provisioned.
    pub async fn provisioned(
        ca: &std::path::Path,
        base_url: &str,
        user: &str,
        password: &str,
        device_id: &str,
    ) -> Phone {
        let mut p = Phone::new(https_client(ca), base_url, user, password, device_id);
        p.provision().await;
        p
    }

    /// Both Provision phases; stores and returns the final policy key.
    pub async fn provision(&mut self) -> u32 {
        let phase1 =
            Element::new(P::Provision).child(Element::new(P::Policies).child(
                Element::new(P::Policy).text_child(P::PolicyType, "MS-EAS-Provisioning-WBXML"),
            ));
        let a = self.post("Provision", &phase1).await;
        assert_eq!(a.status, 200, "{}", a.xml());
        let body = a.body.expect("phase 1 body");
        let policy = body
            .first(P::Policies)
            .and_then(|p| p.first(P::Policy))
            .expect("Policy");
        assert_eq!(policy.child_text(P::Status).as_deref(), Some("1"));
        assert!(
            policy
                .first(P::Data)
                .and_then(|d| d.first(P::EASProvisionDoc))
                .is_some(),
            "no policy document"
        );
        let temporary: u32 = policy.child_text(P::PolicyKey).unwrap().parse().unwrap();
        let final_key = self.acknowledge(temporary).await;
        self.policy_key = Some(final_key);
        final_key
    }

    /// Provision phase 2 for `temporary`; returns the final key.
    pub async fn acknowledge(&self, temporary: u32) -> u32 {
        let phase2 = Element::new(P::Provision).child(
            Element::new(P::Policies).child(
                Element::new(P::Policy)
                    .text_child(P::PolicyType, "MS-EAS-Provisioning-WBXML")
                    .text_child(P::PolicyKey, temporary.to_string())
                    .text_child(P::Status, "1"),
            ),
        );
        let a = self.post("Provision", &phase2).await;
        assert_eq!(a.status, 200);
        let body = a.body.expect("phase 2 body");
        assert_eq!(
            body.child_text(P::Status).as_deref(),
            Some("1"),
            "{}",
            wbxml::to_xml(&body)
        );
        let policy = body
            .first(P::Policies)
            .and_then(|p| p.first(P::Policy))
            .unwrap();
        assert!(
            policy.first(P::Data).is_none(),
            "phase 2 carries no document"
        );
        policy.child_text(P::PolicyKey).unwrap().parse().unwrap()
    }

    pub async fn folder_sync(&self, key: &str) -> Answer {
        self.post(
            "FolderSync",
            &Element::new(F::FolderSync).text_child(F::SyncKey, key),
        )
        .await
    }
}

pub async fn send(r: reqwest::RequestBuilder) -> Answer {
    try_send(r).await.expect("request")
}

/// [`send`], but `None` when no answer came (the server died or refused the
/// connection): for fault tests.
pub async fn try_send(r: reqwest::RequestBuilder) -> Option<Answer> {
    let resp = r.send().await.ok()?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.ok()?.to_vec();
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
            .expect("valid gzip");
        bytes = plain;
    }
    let is_wbxml = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.ms-sync"));
    let body = (is_wbxml && !bytes.is_empty()).then(|| {
        wbxml::decode(&bytes, &wbxml::Limits::default()).expect("server sent valid WBXML")
    });
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// A folder from a FolderSync answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub server_id: String,
    pub parent_id: String,
    pub name: String,
    pub kind: u8,
}

/// FolderSync answer → (Status, SyncKey, Adds, Updates, Deletes).
pub fn folder_changes(body: &Element) -> (String, String, Vec<Folder>, Vec<Folder>, Vec<String>) {
    let text = |e: &Element, t| e.child_text(t).map(|s| s.into_owned()).unwrap_or_default();
    let folder = |e: &Element| Folder {
        server_id: text(e, F::ServerId),
        parent_id: text(e, F::ParentId),
        name: text(e, F::DisplayName),
        kind: text(e, F::Type).parse().unwrap(),
    };
    let changes = body.first(F::Changes);
    let all = |t| {
        changes
            .map(|c| c.all(t).map(folder).collect())
            .unwrap_or_default()
    };
    let deletes = changes
        .map(|c| c.all(F::Delete).map(|d| text(d, F::ServerId)).collect())
        .unwrap_or_default();
    if let Some(c) = changes {
        let count: usize = text(c, F::Count).parse().unwrap();
        assert_eq!(
            count,
            c.elements().filter(|e| e.tag != F::Count).count(),
            "Count must match the changes"
        );
    }
    (
        text(body, F::Status),
        text(body, F::SyncKey),
        all(F::Add),
        all(F::Update),
        deletes,
    )
}

/// The base64 request line of MS-ASHTTP 2.2.1.1.1.1 for a command code.
pub fn base64_query(
    version: u8,
    command: u8,
    device_id: &[u8],
    policy_key: Option<u32>,
    device_type: &str,
) -> String {
    let mut raw = vec![version, command, 0x09, 0x04, device_id.len() as u8];
    raw.extend_from_slice(device_id);
    match policy_key {
        Some(k) => {
            raw.push(4);
            raw.extend_from_slice(&k.to_le_bytes());
        }
        None => raw.push(0),
    }
    raw.push(device_type.len() as u8);
    raw.extend_from_slice(device_type.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

// ---- Sync -------------------------------------------------------------------------

use airsync::wbxml::pages::{AirSync as A, AirSyncBase as B};

/// One server command of a Sync answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Add(String, Element),
    Change(String, Element),
    Delete(String),
    SoftDelete(String),
}

impl Cmd {
    pub fn server_id(&self) -> &str {
        match self {
            Cmd::Add(s, _) | Cmd::Change(s, _) | Cmd::Delete(s) | Cmd::SoftDelete(s) => s,
        }
    }
}

/// One collection of a Sync answer.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    pub status: String,
    pub sync_key: String,
    pub commands: Vec<Cmd>,
    pub responses: Vec<Element>,
    pub more_available: bool,
    /// Top-level Status (errors of the whole request).
    pub top_status: Option<String>,
}

impl Synced {
    pub fn adds(&self) -> Vec<&Element> {
        self.commands
            .iter()
            .filter_map(|c| {
                if let Cmd::Add(_, d) = c {
                    Some(d)
                } else {
                    None
                }
            })
            .collect()
    }
    /// The (Status, ServerId) of the response to the client's Add.
    pub fn add_result(&self) -> (String, String) {
        let r = self
            .responses
            .iter()
            .find(|r| r.tag == A::Add)
            .expect("an Add response");
        let text = |t| r.child_text(t).map(|s| s.into_owned()).unwrap_or_default();
        (text(A::Status), text(A::ServerId))
    }

    pub fn add_ids(&self) -> Vec<String> {
        self.commands
            .iter()
            .filter_map(|c| {
                if let Cmd::Add(s, _) = c {
                    Some(s.clone())
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Builds the Options element of a mail collection.
pub fn mail_options(body_type: u8, truncation: Option<u32>) -> Element {
    let mut pref = Element::new(B::BodyPreference).text_child(B::Type, body_type.to_string());
    if let Some(t) = truncation {
        pref.push(Element::with_text(B::TruncationSize, t.to_string()));
    }
    Element::new(A::Options)
        .text_child(A::FilterType, "0")
        .child(pref)
}

/// A Collection element of a Sync request.
pub fn collection(
    id: &str,
    key: &str,
    window: Option<u32>,
    options: Option<Element>,
    commands: Vec<Element>,
) -> Element {
    let mut c = Element::new(A::Collection)
        .text_child(A::SyncKey, key)
        .text_child(A::CollectionId, id);
    if key != "0" {
        c.push(Element::with_text(A::DeletesAsMoves, "1"));
        c.push(Element::with_text(A::GetChanges, "1"));
    }
    if let Some(w) = window {
        c.push(Element::with_text(A::WindowSize, w.to_string()));
    }
    if let Some(o) = options {
        c.push(o);
    }
    if !commands.is_empty() {
        let mut cmds = Element::new(A::Commands);
        for cmd in commands {
            cmds.push(cmd);
        }
        c.push(cmds);
    }
    c
}

pub fn parse_sync(body: Option<&Element>) -> Synced {
    parse_sync_owned(body.cloned())
}

/// [`parse_sync`] of a body the caller is done with: the commands' ApplicationData are
/// moved out rather than copied (a bench reads a thousand of them per second).
pub fn parse_sync_owned(body: Option<Element>) -> Synced {
    let Some(body) = body else {
        return Synced::default();
    };
    let text = |e: &Element, t| e.child_text(t).map(|s| s.into_owned()).unwrap_or_default();
    let mut out = Synced {
        top_status: body.child_text(A::Status).map(|s| s.into_owned()),
        ..Default::default()
    };
    let Some(c) = take_child(body, A::Collections).and_then(|cs| take_child(cs, A::Collection))
    else {
        return out;
    };
    out.status = text(&c, A::Status);
    out.sync_key = text(&c, A::SyncKey);
    out.more_available = c.first(A::MoreAvailable).is_some();
    if let Some(rs) = c.first(A::Responses) {
        out.responses = rs.elements().cloned().collect();
    }
    if let Some(cmds) = take_child(c, A::Commands) {
        for node in cmds.children {
            let Node::Element(cmd) = node else { continue };
            let (tag, id) = (cmd.tag, text(&cmd, A::ServerId));
            let data = || {
                take_child(cmd, A::ApplicationData)
                    .unwrap_or_else(|| Element::new(A::ApplicationData))
            };
            out.commands.push(match tag {
                t if t == A::Add => Cmd::Add(id, data()),
                t if t == A::Change => Cmd::Change(id, data()),
                t if t == A::Delete => Cmd::Delete(id),
                _ => Cmd::SoftDelete(id),
            });
        }
    }
    out
}

/// A Sync request of one collection.
pub fn sync_doc(collection: Element) -> Element {
    Element::new(A::Sync).child(Element::new(A::Collections).child(collection))
}

/// What [`scan_sync`] reads of a Sync answer of one collection.
#[derive(Debug, Default)]
pub struct Scanned {
    pub status: String,
    pub sync_key: String,
    pub more_available: bool,
    /// The ServerIds of the Adds, in order.
    pub added: Vec<String>,
    /// How many Adds carried ApplicationData.
    pub with_data: usize,
}

/// Reads a Sync answer's WBXML events (`wbxml::Events`) without building its tree:
/// the collection's Status, SyncKey and MoreAvailable and the ServerIds of the server's
/// Adds (not of the Responses to the client's).
pub fn scan_sync(bytes: &[u8]) -> Scanned {
    let limits = wbxml::Limits::default();
    let mut events = wbxml::Events::new(bytes, &limits).expect("a WBXML answer");
    let mut open: Vec<Tag> = Vec::new();
    let mut out = Scanned::default();
    while let Some(event) = events.next().expect("server sent valid WBXML") {
        let within = |path: &[Tag]| open.ends_with(path);
        match event {
            wbxml::Event::Start { tag, content } => {
                if tag == A::MoreAvailable && within(&[A::Collection]) {
                    out.more_available = true;
                }
                if tag == A::ApplicationData && within(&[A::Commands, A::Add]) {
                    out.with_data += 1;
                }
                if content {
                    open.push(tag);
                }
            }
            wbxml::Event::End => {
                open.pop();
            }
            wbxml::Event::Text(text) => {
                if within(&[A::Collection, A::SyncKey]) {
                    out.sync_key = text.into_owned();
                } else if within(&[A::Collection, A::Status]) {
                    out.status = text.into_owned();
                } else if within(&[A::Commands, A::Add, A::ServerId]) {
                    out.added.push(text.into_owned());
                }
            }
            wbxml::Event::Opaque(_) => {}
        }
    }
    out
}

/// The first child element of `parent` with this tag, moved out.
fn take_child(parent: Element, tag: Tag) -> Option<Element> {
    parent.children.into_iter().find_map(|n| match n {
        Node::Element(e) if e.tag == tag => Some(e),
        _ => None,
    })
}

/// `seen` holds every id once, and `n` of them: no item doubled, none missing.
pub fn assert_each_once(seen: &[String], n: usize) {
    let mut unique = seen.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(unique.len(), n, "nothing missing");
}

impl Phone {
    /// A Sync of one collection.
    pub async fn sync_one(&self, collection: Element) -> Synced {
        let a = self.post("Sync", &sync_doc(collection)).await;
        assert_eq!(a.status, 200, "Sync HTTP status");
        parse_sync_owned(a.body)
    }

    /// A Sync of one collection that only asks for the server's changes.
    pub async fn sync_changes(&self, id: &str, key: &str, window: u32, options: Element) -> Synced {
        self.sync_one(collection(id, key, Some(window), Some(options), vec![]))
            .await
    }

    /// MoveItems of one item: its Status and, when it moved, its new ServerId.
    pub async fn move_item(
        &self,
        src_msg: &str,
        src_fld: &str,
        dst_fld: &str,
    ) -> (String, Option<String>) {
        use airsync::wbxml::pages::Move as M;
        let mv = Element::new(M::MoveItems).child(
            Element::new(M::Move)
                .text_child(M::SrcMsgId, src_msg)
                .text_child(M::SrcFldId, src_fld)
                .text_child(M::DstFldId, dst_fld),
        );
        let a = self.post("MoveItems", &mv).await;
        let r = a
            .body
            .as_ref()
            .and_then(|b| b.first(M::Response))
            .unwrap_or_else(|| panic!("MoveItems without a Response: {}", a.xml()));
        let text = |tag| r.child_text(tag).map(|s| s.into_owned());
        (text(M::Status).unwrap_or_default(), text(M::DstMsgId))
    }

    /// Key 0, then Syncs until no MoreAvailable; returns the final key and every command.
    /// SyncKey 0 of collection `id` with `options`: the chain's first key.
    pub async fn first_key(&self, id: &str, options: &Element) -> String {
        self.sync_one(collection(id, "0", None, Some(options.clone()), vec![]))
            .await
            .sync_key
    }

    pub async fn sync_all(&self, id: &str, window: u32, options: Element) -> (String, Vec<Cmd>) {
        let first = self
            .sync_one(collection(id, "0", None, Some(options.clone()), vec![]))
            .await;
        assert_eq!(first.status, "1", "initial Sync of {id}");
        let mut key = first.sync_key;
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let s = self
                .sync_one(collection(
                    id,
                    &key,
                    Some(window),
                    Some(options.clone()),
                    vec![],
                ))
                .await;
            assert_eq!(s.status, "1", "Sync of {id} with key {key}");
            key = s.sync_key.clone();
            let more = s.more_available;
            all.extend(s.commands);
            if !more {
                break;
            }
        }
        (key, all)
    }

    /// [`Phone::sync_all`] as a lean client reads it: each answer is scanned
    /// ([`scan_sync`]) instead of decoded into a tree, and only the ServerIds of the
    /// Adds are kept. The benches' phone: a client on the same two cores as the server
    /// should take as little of them as the plain IMAP client it is compared with,
    /// which only frames lines. Returns the final key and the added ServerIds.
    pub async fn sync_all_scanned(
        &self,
        id: &str,
        window: u32,
        options: Element,
    ) -> (String, Vec<String>) {
        let mut key = "0".to_string();
        let mut added = Vec::new();
        for round in 0..10_000 {
            let window = (round > 0).then_some(window);
            let doc = sync_doc(collection(id, &key, window, Some(options.clone()), vec![]));
            let resp = self
                .wbxml_request("Sync", &doc)
                .send()
                .await
                .expect("Sync request");
            assert_eq!(resp.status().as_u16(), 200, "Sync HTTP status");
            let bytes = resp.bytes().await.expect("Sync answer");
            let s = scan_sync(&bytes);
            assert_eq!(s.status, "1", "Sync of {id} with key {key}");
            assert_eq!(
                s.with_data,
                s.added.len(),
                "every Add has its ApplicationData"
            );
            key = s.sync_key;
            added.extend(s.added);
            if round > 0 && !s.more_available {
                break;
            }
        }
        (key, added)
    }

    /// The ServerId of the folder with this EAS type (after a FolderSync 0).
    pub async fn folder_id(&self, kind: u8) -> String {
        self.hierarchy(kind).await.1
    }

    /// FolderSync 0: the new FolderSync key and the ServerId of the folder with this
    /// EAS type.
    pub async fn hierarchy(&self, kind: u8) -> (String, String) {
        let a = self.folder_sync("0").await;
        let (_, key, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
        let id = adds
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no folder of type {kind}"))
            .server_id
            .clone();
        (key, id)
    }

    pub async fn folder_id_by_name(&self, name: &str) -> String {
        let a = self.folder_sync("0").await;
        let (_, _, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
        adds.iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no folder {name}"))
            .server_id
            .clone()
    }
}

// ---------------------------------------------------------------- Ping

pub fn ping_doc(heartbeat: Option<u32>, folders: &[(&str, &str)]) -> Element {
    let mut doc = Element::new(PG::Ping);
    if let Some(h) = heartbeat {
        doc.push(Element::with_text(PG::HeartbeatInterval, h.to_string()));
    }
    if !folders.is_empty() {
        let mut fs = Element::new(PG::Folders);
        for (id, class) in folders {
            fs.push(
                Element::new(PG::Folder)
                    .text_child(PG::Id, *id)
                    .text_child(PG::Class, *class),
            );
        }
        doc.push(fs);
    }
    doc
}

/// A Ping answer: Status and the folders it names.
#[derive(Debug)]
pub struct Pinged {
    pub status: String,
    pub folders: Vec<String>,
    pub heartbeat: Option<String>,
    pub took: Duration,
}

pub fn pinged(a: &Answer, took: Duration) -> Pinged {
    assert_eq!(a.status, 200, "Ping HTTP status; {}", a.xml());
    let body = a.body.as_ref().expect("Ping body");
    Pinged {
        status: body
            .child_text(PG::Status)
            .map(|s| s.into_owned())
            .unwrap_or_default(),
        folders: body
            .first(PG::Folders)
            .map(|f| {
                f.all(PG::Folder)
                    .filter_map(|e| e.text().map(|t| t.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        heartbeat: body
            .child_text(PG::HeartbeatInterval)
            .map(|s| s.into_owned()),
        took,
    }
}

pub async fn ping(p: &Phone, heartbeat: Option<u32>, folders: &[(&str, &str)]) -> Pinged {
    let started = Instant::now();
    let a = p.post("Ping", &ping_doc(heartbeat, folders)).await;
    pinged(&a, started.elapsed())
}

/// A Ping with no body at all (MS-ASCMD: repeat the last one).
pub async fn empty_ping(p: &Phone) -> Pinged {
    let started = Instant::now();
    let a = send(p.request(reqwest::Method::POST, &p.url("Ping"))).await;
    pinged(&a, started.elapsed())
}

/// Starts a Ping in the background.
pub fn spawn_ping(
    p: &Phone,
    heartbeat: u32,
    folders: &[(&str, &str)],
) -> tokio::task::JoinHandle<Pinged> {
    let p = clone_phone(p);
    let folders: Vec<(String, String)> = folders
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    tokio::spawn(async move {
        let f: Vec<(&str, &str)> = folders
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        ping(&p, Some(heartbeat), &f).await
    })
}

/// The same phone again (for a request in the background).
pub fn clone_phone(p: &Phone) -> Phone {
    p.at(&p.base_url)
}

impl Phone {
    /// The same device — user, DeviceId, policy key — talking to the server at
    /// `base_url` (another node of a several-node set-up).
    pub fn at(&self, base_url: &str) -> Phone {
        let mut c = Phone::new(
            self.client.clone(),
            base_url,
            &self.user,
            &self.password,
            &self.device_id,
        );
        c.device_type = self.device_type.clone();
        c.version = self.version.clone();
        c.policy_key = self.policy_key;
        c
    }
}

/// The AirSyncBase Body Data of an item, as text.
pub fn body_text(data: &Element) -> String {
    let body = data
        .first(airsync::wbxml::pages::AirSyncBase::Body)
        .expect("Body");
    String::from_utf8_lossy(
        &body
            .first(airsync::wbxml::pages::AirSyncBase::Data)
            .and_then(|d| d.bytes())
            .unwrap_or_default(),
    )
    .into_owned()
}
