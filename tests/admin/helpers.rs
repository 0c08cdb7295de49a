//! Helpers shared by the admin end-to-end and browser tests: an admin API client,
//! the CLI, and phones of given EAS versions.

#![allow(dead_code)]

use std::process::Command;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{FolderHierarchy as F, Provision as P};
use serde_json::Value;

use crate::common::Stack;
use crate::common::airsync::{ADMIN_TOKEN, Server};
use crate::common::eas::{Answer, Phone, https_client};

/// The JSON API of a test server, with the configured token.
pub struct AdminApi {
    pub http: reqwest::Client,
    pub base: String,
}

impl AdminApi {
    pub fn new(server: &Server) -> AdminApi {
        AdminApi {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: server.admin_url(),
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r
            .bearer_auth(ADMIN_TOKEN)
            .header("X-Airsync-Admin", "e2e")
            .send()
            .await
            .expect("admin request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// POST that must succeed; returns the answer.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(status, 200, "POST {path}: {v}");
        v
    }

    /// The registry entry of a device.
    pub async fn device(&self, login: &str, device: &str) -> Value {
        let (status, v) = self.get(&format!("/api/devices/{login}/{device}")).await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// A server with `extra` appended to its configuration, in a fresh directory.
pub fn server_with(stack: &Stack, extra: &str) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("airsync-admin-")
        .tempdir()
        .unwrap()
        .keep();
    Server::start_in(stack, &dir, extra)
}

/// Runs `airsync ARGS --config <server's config>`; returns (success, stdout, stderr).
pub fn cli(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airsync"))
        .args(args)
        .arg("--config")
        .arg(server.dir.join("airsync.toml"))
        .env("USER", "e2e-admin")
        .output()
        .expect("run the airsync CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

pub fn cli_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = cli(server, args);
    assert!(ok, "airsync {args:?} failed: {err}");
    out
}

pub fn phone(
    server: &Server,
    stack: &Stack,
    login: &str,
    password: &str,
    device: &str,
    version: &str,
) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        login,
        password,
        device,
    );
    p.version = version.into();
    p
}

/// The top-level Status of an answer's body.
pub fn status(a: &Answer) -> String {
    a.body
        .as_ref()
        .and_then(|b| {
            let tag = if b.tag == F::FolderSync {
                F::Status
            } else {
                P::Status
            };
            b.child_text(tag).map(|s| s.into_owned())
        })
        .unwrap_or_default()
}

/// Provision phase 1 (what a device sends after being told to provision).
pub fn provision_request() -> Element {
    Element::new(P::Provision).child(
        Element::new(P::Policies)
            .child(Element::new(P::Policy).text_child(P::PolicyType, "MS-EAS-Provisioning-WBXML")),
    )
}

/// The acknowledgement of a (account-only) remote wipe with `status`.
pub fn wipe_ack(account_only: bool, status: &str) -> Element {
    let tag = if account_only {
        P::AccountOnlyRemoteWipe
    } else {
        P::RemoteWipe
    };
    Element::new(P::Provision).child(Element::new(tag).text_child(P::Status, status))
}
