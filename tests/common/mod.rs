//! Shared harness of the integration tests: the test stack (real Dovecot, Radicale and
//! Postfix on loopback, started by `scripts/test.sh`, described by
//! `$AIRSYNC_TEST_STACK/stack.env`), the airsync server process, an EAS client and a
//! small IMAP client. A test whose stack is missing fails; it never skips.

#![allow(dead_code)]

pub mod airsync;
pub mod eas;
pub mod imap;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The running test stack.
pub struct Stack {
    pub dir: PathBuf,
    pub env: HashMap<String, String>,
    pub imap_port: u16,
    pub smtp_port: u16,
    pub submission_port: u16,
    pub dav_port: u16,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub mail_domain: String,
}

impl Stack {
    pub fn get() -> &'static Stack {
        static STACK: OnceLock<Stack> = OnceLock::new();
        STACK.get_or_init(|| {
            let dir = std::env::var("AIRSYNC_TEST_STACK").expect(
                "AIRSYNC_TEST_STACK is not set: run the tests with scripts/test.sh, which starts \
                 Dovecot, Radicale and Postfix and points this variable at them",
            );
            let text = std::fs::read_to_string(format!("{dir}/stack.env"))
                .unwrap_or_else(|e| panic!("{dir}/stack.env: {e}"));
            let env: HashMap<String, String> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                .collect();
            let get = |k: &str| env.get(k).cloned().unwrap_or_else(|| panic!("stack.env has no {k}"));
            let port = |k: &str| get(k).parse().unwrap_or_else(|_| panic!("{k} is not a port"));
            Stack {
                dir: PathBuf::from(&dir),
                imap_port: port("IMAP_PORT"),
                smtp_port: port("SMTP_PORT"),
                submission_port: port("SUBMISSION_PORT"),
                dav_port: port("DAV_PORT"),
                ca_cert: get("CA_CERT").into(),
                server_cert: get("SERVER_CERT").into(),
                server_key: get("SERVER_KEY").into(),
                mail_domain: get("MAIL_DOMAIN"),
                env,
            }
        })
    }

    /// A fresh account of its own for one test, so tests run in parallel.
    pub fn new_user(&self, prefix: &str) -> (String, String) {
        let login = format!("{prefix}-{}@{}", imap::rand_id().replace('.', "-"), self.mail_domain);
        let password = format!("pw-{}", imap::rand_id());
        let script = std::env::var("AIRSYNC_TEST_ADD_USER")
            .unwrap_or_else(|_| format!("{}/tests/stack/add-user.sh", env!("CARGO_MANIFEST_DIR")));
        let out = Command::new("bash").arg(&script).arg(&self.dir).arg(&login).arg(&password).output().unwrap();
        assert!(out.status.success(), "add-user failed: {}", String::from_utf8_lossy(&out.stderr));
        // Dovecot re-reads its passwd-file at most once a second: wait until the new
        // account can log in, so that no test starts with a spurious 401.
        for _ in 0..50 {
            if imap::can_login(self.imap_port, &login, &password) {
                return (login, password);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the new account {login} cannot log in to Dovecot");
    }

    /// Runs doveadm against the stack's Dovecot.
    pub fn doveadm(&self, args: &[&str]) {
        let conf = self.env.get("DOVECOT_CONF").expect("DOVECOT_CONF");
        let out = Command::new("doveadm").arg("-c").arg(conf).args(args).output().unwrap();
        assert!(out.status.success(), "doveadm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Hands a message to the MTA over SMTP, as a remote server would.
    pub fn deliver(&self, from: &str, to: &str, raw: &[u8]) {
        let stream = TcpStream::connect(("127.0.0.1", self.smtp_port)).expect("connect to the MTA");
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut expect = |code: &str| {
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                assert!(line.starts_with(code), "SMTP: expected {code}, got {line:?}");
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
        };
        expect("220");
        for (cmd, code) in [
            ("EHLO test.example.org".to_string(), "250"),
            (format!("MAIL FROM:<{from}>"), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_string(), "354"),
        ] {
            write!(w, "{cmd}\r\n").unwrap();
            expect(code);
        }
        let mut data = Vec::new();
        for line in raw.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        w.write_all(&data).unwrap();
        expect("250");
        write!(w, "QUIT\r\n").unwrap();
    }
}
