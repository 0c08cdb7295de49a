//! Harness for integration tests that talk to the real upstreams.
//!
//! `scripts/test.sh` starts the test stack (tests/stack/start.sh: Dovecot, Radicale,
//! Postfix on 127.0.0.1) and exports `AIRSYNC_TEST_STACK=DIR`; this module reads
//! `DIR/stack.env`. Use it from an integration test with `mod common;`.
//!
//! A test that needs the stack and does not find it FAILS (panics) — it never skips.
//! Each test makes its own users with [`Stack::new_user`], so tests run in parallel
//! and never see each other's mail, events or contacts.
//!
//! Everything here is blocking std code (no runtime needed); call it from async tests
//! through `tokio::task::spawn_blocking` if it would block a runtime for long.
#![allow(dead_code)]

/// The airsync server process, the EAS client and a small IMAP client of the tests.
pub mod airsync;
pub mod dav;
pub mod eas;
pub mod imap;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The running test stack, as described by `$AIRSYNC_TEST_STACK/stack.env`.
#[derive(Debug)]
pub struct Stack {
    /// The stack's directory (configs, mail, logs).
    pub dir: PathBuf,
    /// The test mail domain; every login is `name@mail_domain`.
    pub mail_domain: String,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    pub sieve_port: u16,
    /// Inbound MTA (port-25-like, no auth): what [`Stack::deliver`] uses.
    pub smtp_port: u16,
    /// Submission with SMTP AUTH (STARTTLS available): how airsync sends as a user.
    pub submission_port: u16,
    /// Submission over implicit TLS.
    pub smtps_port: u16,
    /// Radicale (CalDAV + CardDAV), plain HTTP.
    pub dav_port: u16,
    /// The test CA that signed `server_cert`; trust it in TLS clients.
    pub ca_cert: PathBuf,
    /// Server certificate (SAN IP:127.0.0.1, DNS:localhost) and key: also for
    /// airsync's own HTTPS in tests.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub dovecot_conf: PathBuf,
    /// Every KEY=value of stack.env, for anything without a field.
    pub env: HashMap<String, String>,
}

static STACK: OnceLock<Stack> = OnceLock::new();
static USER_SEQ: AtomicU64 = AtomicU64::new(0);

impl Stack {
    /// The stack of this test run, loaded once. Panics with instructions when
    /// `AIRSYNC_TEST_STACK` is unset or its stack.env is missing.
    pub fn get() -> &'static Stack {
        STACK.get_or_init(Stack::load)
    }

    fn load() -> Stack {
        let dir = match std::env::var_os("AIRSYNC_TEST_STACK") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => panic!(
                "AIRSYNC_TEST_STACK is not set: this test needs the upstream test stack. \
                 Run the tests with scripts/test.sh, or start a stack by hand with \
                 `tests/stack/start.sh DIR` and `export AIRSYNC_TEST_STACK=DIR`."
            ),
        };
        Stack::load_from(&dir)
    }

    /// Starts a stack of the test's own (tests/stack/start.sh in a fresh directory
    /// under /tmp), for tests that stop and start its daemons: the shared stack of
    /// `AIRSYNC_TEST_STACK` must stay up for the tests running beside them. Stopped
    /// (and its directory removed, unless the test failed) when dropped.
    pub fn start_private() -> PrivateStack {
        // Short: Dovecot's socket paths below DIR must fit in 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("asf-")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        if let Err(e) = stack_script("start.sh", &dir, &[]) {
            let _ = stack_script("stop.sh", &dir, &[]);
            panic!("{e}");
        }
        PrivateStack(Stack::load_from(&dir))
    }

    /// Stops (`"stop"`) or starts (`"start"`, waiting until it answers) one daemon of
    /// this stack, `"dovecot"` or `"radicale"` (tests/stack/daemon.sh).
    pub fn daemon(&self, action: &str, daemon: &str) {
        stack_script("daemon.sh", &self.dir, &[action, daemon]).unwrap_or_else(|e| panic!("{e}"));
    }

    fn load_from(dir: &Path) -> Stack {
        let env_file = dir.join("stack.env");
        let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): is the test stack in AIRSYNC_TEST_STACK={} running? \
                 (tests/stack/start.sh DIR starts one)",
                env_file.display(),
                dir.display()
            )
        });
        let env = parse_env(&text);
        let get = |k: &str| -> String {
            env.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {k}", env_file.display()))
        };
        let port = |k: &str| -> u16 {
            get(k)
                .parse()
                .unwrap_or_else(|e| panic!("{k} in {} is not a port: {e}", env_file.display()))
        };
        Stack {
            dir: PathBuf::from(get("DIR")),
            mail_domain: get("MAIL_DOMAIN"),
            imap_port: port("IMAP_PORT"),
            imaps_port: port("IMAPS_PORT"),
            lmtp_port: port("LMTP_PORT"),
            sieve_port: port("SIEVE_PORT"),
            smtp_port: port("SMTP_PORT"),
            submission_port: port("SUBMISSION_PORT"),
            smtps_port: port("SMTPS_PORT"),
            dav_port: port("DAV_PORT"),
            ca_cert: PathBuf::from(get("CA_CERT")),
            server_cert: PathBuf::from(get("SERVER_CERT")),
            server_key: PathBuf::from(get("SERVER_KEY")),
            dovecot_conf: PathBuf::from(get("DOVECOT_CONF")),
            env,
        }
    }

    /// A value of stack.env by name; panics if absent.
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("stack.env has no {key}"))
    }

    /// `imap://127.0.0.1:PORT` (plain, STARTTLS offered).
    pub fn imap_url(&self) -> String {
        format!("imap://127.0.0.1:{}", self.imap_port)
    }
    /// `imaps://127.0.0.1:PORT` (implicit TLS, certificate from the test CA).
    pub fn imaps_url(&self) -> String {
        format!("imaps://127.0.0.1:{}", self.imaps_port)
    }
    /// `smtp://127.0.0.1:PORT` of the authenticated submission service.
    pub fn submission_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.submission_port)
    }
    /// `smtps://127.0.0.1:PORT` of submission over implicit TLS.
    pub fn smtps_url(&self) -> String {
        format!("smtps://127.0.0.1:{}", self.smtps_port)
    }
    /// `http://127.0.0.1:PORT/` of Radicale (CalDAV and CardDAV).
    pub fn dav_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.dav_port)
    }
    /// `"127.0.0.1:PORT"` of the plain IMAP port, for `TcpStream::connect`.
    pub fn imap_addr(&self) -> String {
        format!("127.0.0.1:{}", self.imap_port)
    }

    /// The test CA certificate (PEM), to add to a TLS client's roots.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.ca_cert.display()))
    }

    /// The pre-created users (login, password): alice and bob. Prefer
    /// [`Stack::new_user`] in tests; these are for the demo and for tests that only
    /// read.
    pub fn alice(&self) -> (String, String) {
        (
            self.var("ALICE_LOGIN").into(),
            self.var("ALICE_PASSWORD").into(),
        )
    }
    pub fn bob(&self) -> (String, String) {
        (
            self.var("BOB_LOGIN").into(),
            self.var("BOB_PASSWORD").into(),
        )
    }
    /// The mailbox that receives every message addressed outside the test domain
    /// (nothing leaves the machine): (login, password).
    pub fn sink(&self) -> (String, String) {
        (
            self.var("SINK_LOGIN").into(),
            self.var("SINK_PASSWORD").into(),
        )
    }

    /// Creates a fresh user `PREFIX-…@MAIL_DOMAIN` (unique across parallel tests and
    /// test binaries) with a random password, in Dovecot and Radicale, with its
    /// Radicale collections `calendar/`, `tasks/` and `contacts/`. Returns
    /// (login, password).
    pub fn new_user(&self, prefix: &str) -> (String, String) {
        let seq = USER_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let clean: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(24)
            .collect();
        let local = format!(
            "{}-{}-{}-{:x}",
            if clean.is_empty() { "user" } else { &clean },
            std::process::id(),
            seq,
            (nanos & 0xffff_ffff) as u32
        );
        let login = format!("{local}@{}", self.mail_domain);
        let password = format!(
            "pw-{:x}{:x}",
            nanos,
            seq.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        self.add_user(&login, &password);
        (login, password)
    }

    /// A fresh, empty schema in the stack's PostgreSQL database, and the `[store] url`
    /// that uses it: airsync servers given the same URL share one store (several
    /// nodes); each test gets its own, so tests run in parallel.
    pub fn new_pg_store(&self) -> String {
        let seq = USER_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!("t_{}_{seq}_{nanos:x}", std::process::id());
        let psql: Vec<&str> = self.var("PSQL").split_whitespace().collect();
        let out = Command::new(psql[0])
            .args(&psql[1..])
            .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE SCHEMA {schema}"))
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", psql[0]));
        assert!(
            out.status.success(),
            "CREATE SCHEMA failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail("postgresql.log", 20)
        );
        format!("{}?options[search_path]={schema}", self.var("PG_URL"))
    }

    /// Adds or updates a user (tests/stack/add-user.sh): same login and password for
    /// IMAP, ManageSieve, SMTP submission and Radicale.
    pub fn add_user(&self, login: &str, password: &str) {
        stack_script("add-user.sh", &self.dir, &[login, password])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Delivers `raw` (an RFC 5322 message) from `from` to `to` through the inbound
    /// MTA, as a remote server would. Postfix hands test-domain mail to Dovecot over
    /// LMTP; delivery is asynchronous: poll with [`Stack::wait_for_messages`].
    pub fn deliver(&self, from: &str, to: &str, raw: &[u8]) {
        self.deliver_to(from, &[to], raw)
    }

    /// [`Stack::deliver`] to several recipients at once.
    pub fn deliver_to(&self, from: &str, to: &[&str], raw: &[u8]) {
        smtp_send(self.smtp_port, None, from, to, raw)
            .unwrap_or_else(|e| panic!("SMTP delivery from {from} to {to:?} failed: {e}"))
    }

    /// Sends as `login` through the authenticated submission port (AUTH PLAIN without
    /// TLS: loopback only), as airsync's SendMail will.
    pub fn submit(&self, login: &str, password: &str, from: &str, to: &[&str], raw: &[u8]) {
        smtp_send(self.submission_port, Some((login, password)), from, to, raw)
            .unwrap_or_else(|e| panic!("SMTP submission as {login} failed: {e}"))
    }

    /// Runs `doveadm -c DOVECOT_CONF ARGS…` and returns its stdout; panics (with
    /// stderr and the tail of the Dovecot log) if it fails.
    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = self.doveadm_output(args);
        if !out.status.success() {
            panic!(
                "doveadm {args:?} failed ({}):\n{}{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail("dovecot.log", 20)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs doveadm with `input` on its stdin (e.g. `sieve put -u USER -a NAME`);
    /// panics if it fails.
    pub fn doveadm_stdin(&self, args: &[&str], input: &[u8]) -> String {
        use std::process::Stdio;
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(&self.dovecot_conf)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run doveadm: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write doveadm stdin");
        let out = child.wait_with_output().expect("wait for doveadm");
        if !out.status.success() {
            panic!(
                "doveadm {args:?} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Installs and activates a Sieve script for `login` (Pigeonhole runs it at
    /// LMTP delivery).
    pub fn set_sieve(&self, login: &str, script: &str) {
        self.doveadm_stdin(
            &["sieve", "put", "-u", login, "-a", "main"],
            script.as_bytes(),
        );
    }

    /// Runs doveadm and returns its whole output, whatever its status.
    pub fn doveadm_output(&self, args: &[&str]) -> Output {
        Command::new("doveadm")
            .arg("-c")
            .arg(&self.dovecot_conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run doveadm: {e}"))
    }

    /// UIDs in `mailbox` of `login` matching a doveadm search query (e.g. `["ALL"]`,
    /// `["HEADER", "Message-ID", "<x@y>"]`).
    pub fn search(&self, login: &str, mailbox: &str, query: &[&str]) -> Vec<u32> {
        let mut args = vec!["search", "-u", login, "mailbox", mailbox];
        args.extend_from_slice(query);
        self.doveadm(&args)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .collect()
    }

    /// Polls until `mailbox` of `login` holds at least `n` messages matching `query`,
    /// or panics after `timeout`. Returns the UIDs.
    pub fn wait_for_messages(
        &self,
        login: &str,
        mailbox: &str,
        query: &[&str],
        n: usize,
        timeout: Duration,
    ) -> Vec<u32> {
        let start = Instant::now();
        loop {
            let uids = self.search(login, mailbox, query);
            if uids.len() >= n {
                return uids;
            }
            if start.elapsed() > timeout {
                panic!(
                    "{login}/{mailbox}: {} of {n} messages matching {query:?} after {timeout:?}\n{}\n{}",
                    uids.len(),
                    self.log_tail("postfix.log", 20),
                    self.log_tail("dovecot.log", 20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last `n` lines of a log in the stack directory (dovecot.log,
    /// postfix.log, radicale.log), for failure messages.
    pub fn log_tail(&self, name: &str, n: usize) -> String {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(t) => {
                let lines: Vec<&str> = t.lines().collect();
                let from = lines.len().saturating_sub(n);
                format!("---- {} ----\n{}", path.display(), lines[from..].join("\n"))
            }
            Err(e) => format!("---- {}: {e} ----", path.display()),
        }
    }

    /// Logs in over plain IMAP and returns the connection.
    pub fn imap_login(&self, login: &str, password: &str) -> Imap {
        let mut imap = Imap::connect(self.imap_port);
        let lines = imap.command(&format!("LOGIN {} {}", quote(login), quote(password)));
        let last = lines.last().map(String::as_str).unwrap_or("");
        assert!(
            last.contains(" OK"),
            "IMAP LOGIN as {login} failed: {lines:?}"
        );
        imap
    }
}

/// A stack started by [`Stack::start_private`]; derefs to the [`Stack`].
pub struct PrivateStack(Stack);

impl std::ops::Deref for PrivateStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.0
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = stack_script("stop.sh", &self.0.dir, &[]);
        if std::thread::panicking() {
            eprintln!("private stack kept for debugging: {}", self.0.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0.dir);
        }
    }
}

/// Runs `tests/stack/SCRIPT DIR ARGS…`; on failure, says which and what it printed.
fn stack_script(script: &str, dir: &Path, args: &[&str]) -> Result<(), String> {
    let path = repo_root().join("tests/stack").join(script);
    let out = Command::new("bash")
        .arg(&path)
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("run {}: {e}", path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{script} {} {args:?} failed ({}):\n{}{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The repository root (where Cargo.toml of the workspace is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after
/// `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// An IMAP string: quoted, with `\` and `"` escaped.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A minimal line-based IMAP client for test set-up and checks (no literals in
/// responses: use doveadm fetch for message bodies).
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
    /// The server greeting.
    pub greeting: String,
}

impl Imap {
    pub fn connect(port: u16) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to IMAP 127.0.0.1:{port}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let writer = stream.try_clone().expect("clone TcpStream");
        let mut imap = Imap {
            reader: BufReader::new(stream),
            writer,
            tag: 0,
            greeting: String::new(),
        };
        imap.greeting = imap.read_line();
        assert!(
            imap.greeting.starts_with("* OK"),
            "IMAP greeting: {:?}",
            imap.greeting
        );
        imap
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("read from IMAP server");
        assert!(n > 0, "IMAP server closed the connection");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Sends `TAG COMMAND` and returns every response line up to and including the
    /// tagged completion (whose status is not checked: see [`Imap::ok`]).
    pub fn command(&mut self, command: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.writer, "{tag} {command}\r\n").expect("write to IMAP server");
        self.writer.flush().ok();
        let mut lines = Vec::new();
        loop {
            let line = self.read_line();
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// [`Imap::command`], panicking unless the completion is OK.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let lines = self.command(command);
        let last = lines.last().cloned().unwrap_or_default();
        assert!(
            last.split_whitespace().nth(1) == Some("OK"),
            "IMAP {command:?} failed: {lines:?}"
        );
        lines
    }

    /// The capabilities the server announces now (after LOGIN: the full list).
    pub fn capabilities(&mut self) -> Vec<String> {
        self.ok("CAPABILITY")
            .iter()
            .filter_map(|l| l.strip_prefix("* CAPABILITY "))
            .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }
}

/// A tiny SMTP client: EHLO, optional AUTH PLAIN, MAIL, RCPT…, DATA (CRLF line
/// ends and dot-stuffing applied), QUIT.
fn smtp_send(
    port: u16,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &[&str],
    raw: &[u8],
) -> Result<(), String> {
    let stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect :{port}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);

    let reply = |reader: &mut BufReader<TcpStream>| -> Result<(u16, String), String> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("connection closed after {text:?}"));
            }
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line
                    .get(..3)
                    .and_then(|c| c.parse().ok())
                    .ok_or(format!("bad reply {line:?}"))?;
                return Ok((code, text));
            }
        }
    };
    let step = |writer: &mut TcpStream,
                reader: &mut BufReader<TcpStream>,
                cmd: Option<&str>,
                want: u16|
     -> Result<(), String> {
        if let Some(cmd) = cmd {
            writer
                .write_all(cmd.as_bytes())
                .and_then(|_| writer.write_all(b"\r\n"))
                .map_err(|e| e.to_string())?;
        }
        let (code, text) = reply(reader)?;
        if code != want {
            return Err(format!(
                "{}: expected {want}, got {}",
                cmd.unwrap_or("greeting"),
                text.trim_end()
            ));
        }
        Ok(())
    };

    step(&mut writer, &mut reader, None, 220)?;
    step(&mut writer, &mut reader, Some("EHLO test.invalid"), 250)?;
    if let Some((user, pass)) = auth {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"));
        step(
            &mut writer,
            &mut reader,
            Some(&format!("AUTH PLAIN {token}")),
            235,
        )?;
    }
    step(
        &mut writer,
        &mut reader,
        Some(&format!("MAIL FROM:<{from}>")),
        250,
    )?;
    for rcpt in to {
        step(
            &mut writer,
            &mut reader,
            Some(&format!("RCPT TO:<{rcpt}>")),
            250,
        )?;
    }
    step(&mut writer, &mut reader, Some("DATA"), 354)?;
    let mut data = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.first() == Some(&b'.') {
            data.push(b'.');
        }
        data.extend_from_slice(body);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    writer.write_all(&data).map_err(|e| e.to_string())?;
    step(&mut writer, &mut reader, None, 250)?;
    step(&mut writer, &mut reader, Some("QUIT"), 221)?;
    Ok(())
}

/// Reads a file below the stack directory (e.g. a log), for assertions.
pub fn read_stack_file(stack: &Stack, rel: impl AsRef<Path>) -> String {
    let p = stack.dir.join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}
