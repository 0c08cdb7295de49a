//! The running test stack, as `dovecot.rs` reads it: `$AIRSYNC_TEST_STACK/stack.env` gives
//! `IMAP_PORT`, `IMAPS_PORT`, `CA_CERT` and `DIR`; each test adds its own user with
//! `tests/stack/add-user.sh DIR user pass` (or the script named by
//! `AIRSYNC_TEST_ADD_USER`). Without `AIRSYNC_TEST_STACK` the tests fail, never skip.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use airsync_imap::{ImapConfig, ImapStore};
use airsync_model::Credentials;

pub struct Stack {
    pub imap_port: u16,
    pub imaps_port: u16,
    pub ca_cert: PathBuf,
    pub dir: PathBuf,
}

pub fn stack() -> Stack {
    let dir = std::env::var("AIRSYNC_TEST_STACK").unwrap_or_else(|_| {
        panic!(
            "AIRSYNC_TEST_STACK is not set: these tests need a running Dovecot. Start the test \
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
        imap_port: get("IMAP_PORT").parse().expect("IMAP_PORT"),
        imaps_port: get("IMAPS_PORT").parse().expect("IMAPS_PORT"),
        ca_cert: get("CA_CERT").into(),
        dir: get("DIR").into(),
    }
}

impl Stack {
    /// Creates a fresh user for one test and returns its credentials.
    pub fn user(&self, name: &str) -> Credentials {
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

    pub fn config(&self) -> ImapConfig {
        let mut c = ImapConfig::new(format!("imap://127.0.0.1:{}", self.imap_port));
        c.connect_timeout = Duration::from_secs(5);
        c.command_timeout = Duration::from_secs(30);
        c
    }

    pub fn store(&self) -> ImapStore {
        ImapStore::new(self.config()).expect("store")
    }

    /// A tiny blocking IMAP client for set-up and for looking behind the backend's back:
    /// logs in, runs each command (bytes, may carry LITERAL+ literals) and returns all
    /// response lines of each, asserting a tagged OK.
    pub fn imap(&self, creds: &Credentials, commands: &[&[u8]]) -> Vec<Vec<String>> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.imap_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        let mut run = |tag: &str, cmd: &[u8]| -> Vec<String> {
            s.write_all(format!("{tag} ").as_bytes()).unwrap();
            s.write_all(cmd).unwrap();
            s.write_all(b"\r\n").unwrap();
            let mut lines = Vec::new();
            loop {
                let mut line = Vec::new();
                assert!(
                    r.read_until(b'\n', &mut line).unwrap() > 0,
                    "connection closed"
                );
                let line = String::from_utf8_lossy(&line).into_owned();
                if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                    assert!(rest.starts_with("OK"), "{tag}: {line}");
                    return lines;
                }
                lines.push(line);
            }
        };
        let login = format!("LOGIN \"{}\" \"{}\"", creds.login, creds.password);
        run("L", login.as_bytes());
        let out = commands
            .iter()
            .enumerate()
            .map(|(i, cmd)| run(&format!("C{i}"), cmd))
            .collect();
        run("Z", b"LOGOUT");
        out
    }
}
