//! A plain DAV client for set-up and checks, independent of airsync's backend.

use super::Stack;

/// A plain DAV client for set-up and checks, independent of airsync's backend.
pub struct Dav {
    client: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Dav {
    pub fn new(stack: &Stack, user: &str, password: &str) -> Dav {
        Dav {
            client: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{}", stack.dav_port),
            user: user.into(),
            password: password.into(),
        }
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base, self.user.replace('@', "%40"))
    }
    pub async fn put(&self, path: &str, body: &str) {
        self.put_as(path, body, "text/calendar; charset=utf-8")
            .await
    }
    pub async fn put_as(&self, path: &str, body: &str, content_type: &str) {
        let r = self
            .client
            .put(self.url(path))
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    }
    /// Creates a calendar (MKCALENDAR) for one component kind (VEVENT, VTODO).
    pub async fn mkcalendar(&self, path: &str, name: &str, component: &str) {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><C:mkcalendar xmlns:D=\"DAV:\" \
             xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop><D:displayname>{name}</D:displayname>\
             <C:supported-calendar-component-set><C:comp name=\"{component}\"/></C:supported-calendar-component-set>\
             </D:prop></D:set></C:mkcalendar>"
        );
        self.make(path, "MKCALENDAR", body).await
    }
    /// Creates an address book (extended MKCOL, RFC 5689).
    pub async fn mkaddressbook(&self, path: &str, name: &str) {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:mkcol xmlns:D=\"DAV:\" \
             xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop><D:resourcetype><D:collection/>\
             <CR:addressbook/></D:resourcetype><D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"
        );
        self.make(path, "MKCOL", body).await
    }
    async fn make(&self, path: &str, method: &str, body: String) {
        let r = self
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{method} {path}");
    }
    pub async fn get(&self, path: &str) -> Option<String> {
        let r = self
            .client
            .get(self.url(path))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            Some(r.text().await.unwrap())
        } else {
            None
        }
    }
    /// Bodies of every object in a collection.
    pub async fn all(&self, collection: &str) -> Vec<String> {
        let body = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/></d:prop></d:propfind>";
        let r = self
            .client
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
                self.url(collection),
            )
            .basic_auth(&self.user, Some(&self.password))
            .header("Depth", "1")
            .body(body)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        let mut out = Vec::new();
        // Any namespace prefix: take the text of every element whose name ends in "href>".
        for part in text.split("href>").skip(1).step_by(2) {
            let href = part.split('<').next().unwrap();
            if href.ends_with(".ics") || href.ends_with(".vcf") {
                let r = self
                    .client
                    .get(format!("{}{href}", self.base))
                    .basic_auth(&self.user, Some(&self.password))
                    .send()
                    .await
                    .unwrap();
                out.push(r.text().await.unwrap());
            }
        }
        out
    }
}
