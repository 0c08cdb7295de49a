//! Runs the real `airsync` binary against the test stack, as a child process, so that
//! tests can restart it (or kill it) between requests.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::Stack;

/// The admin token every test server is configured with (`[admin] token`).
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Server {
    child: Option<Child>,
    /// `https://127.0.0.1:PORT`
    pub base_url: String,
    pub dir: PathBuf,
}

impl Server {
    /// Starts airsync with a fresh state directory.
    pub fn start(stack: &Stack) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("airsync-test-")
            .tempdir()
            .unwrap()
            .keep();
        Server::start_in(stack, &dir, "")
    }

    /// Starts airsync on `dir` (its config and database), e.g. after a restart.
    /// `extra` is appended to the generated configuration; a `[store]` table in it
    /// replaces the default store (e.g. a PostgreSQL shared by several servers).
    pub fn start_in(stack: &Stack, dir: &Path, extra: &str) -> Server {
        Server::configure(stack, dir, extra);
        Server::start_config(dir)
    }

    /// Writes `dir/airsync.toml` for the test stack, as [`Server::start_in`] starts it.
    pub fn configure(stack: &Stack, dir: &Path, extra: &str) {
        let config = dir.join("airsync.toml");
        let store = if extra.lines().any(|l| l.trim() == "[store]") {
            String::new()
        } else {
            format!("[store]\nurl = \"{}\"\n", default_store(stack, dir))
        };
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\n\
             [log]\nlevel = \"{log}\"\n\
             {store}\
             [imap]\nurl = \"imap://127.0.0.1:{imap}\"\n\
             [caldav]\nurl = \"http://127.0.0.1:{dav}/\"\n\
             [carddav]\nurl = \"http://127.0.0.1:{dav}/\"\n\
             [smtp]\nurl = \"smtp://127.0.0.1:{submission}\"\nca_file = \"{ca}\"\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN_TOKEN}\"\ntrace_dir = \"{traces}\"\n\
             [auth]\ndefault_domain = \"{domain}\"\n{extra}",
            cert = stack.server_cert.display(),
            key = stack.server_key.display(),
            imap = stack.imap_port,
            dav = stack.dav_port,
            submission = stack.submission_port,
            ca = stack.ca_cert.display(),
            domain = stack.mail_domain,
            log = std::env::var("AIRSYNC_TEST_LOG").unwrap_or_else(|_| "debug".into()),
            traces = dir.join("traces").display(),
        );
        std::fs::write(&config, text).unwrap();
    }

    /// Starts airsync on `dir` with the configuration already in `dir/airsync.toml`
    /// (for set-ups the generated one does not fit, e.g. benches without DAV).
    pub fn start_config(dir: &Path) -> Server {
        Server::start_binary(dir, Path::new(env!("CARGO_BIN_EXE_airsync")))
    }

    /// [`Server::start_config`] with another build of airsync (benches comparing builds).
    pub fn start_binary(dir: &Path, binary: &Path) -> Server {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--config")
            .arg(dir.join("airsync.toml"));
        Server::spawn(command, dir, "https")
    }

    /// Starts `airsync serve` with no configuration file, every setting from the
    /// `AIRSYNC__…` variables in `env` (as the container image runs it), logging to
    /// `dir/airsync.log`. `scheme` is how its ActiveSync listener answers.
    pub fn start_env(dir: &Path, env: &[(String, String)], scheme: &str) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_airsync"));
        command.arg("serve").envs(env.iter().map(|(k, v)| (k, v)));
        Server::spawn(command, dir, scheme)
    }

    fn spawn(mut command: Command, dir: &Path, scheme: &str) -> Server {
        let mut child = command
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start airsync");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log_path = dir.join("airsync.log");
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .unwrap();
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                if let Some(addr) = log_field(&line, "addr").filter(|_| line.contains("listening"))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.join("airsync.log")).unwrap_or_default();
                panic!("airsync did not start; its log:\n{log}");
            }
        };
        Server {
            child: Some(child),
            base_url: format!("{scheme}://{addr}"),
            dir: dir.to_path_buf(),
        }
    }

    /// A phone of `user`, provisioned against this server.
    pub async fn phone(
        &self,
        stack: &Stack,
        user: &str,
        password: &str,
        device: &str,
    ) -> super::eas::Phone {
        super::eas::Phone::provisioned(&stack.ca_cert, &self.base_url, user, password, device).await
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The server's log so far (for assertions and for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("airsync.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT` of the admin listener (from its start-up log line).
    pub fn admin_url(&self) -> String {
        let log = self.log();
        let addr = log
            .lines()
            .rev()
            .filter(|l| l.contains("admin interface ready"))
            .find_map(|l| log_field(l, "admin"))
            .unwrap_or_else(|| panic!("no admin listener in the log:\n{log}"));
        format!("http://{addr}")
    }

    /// Graceful stop (SIGTERM), waiting for the process to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            for _ in 0..200 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The store of a server in `dir`: an SQLite file there, or with
/// `AIRSYNC_TEST_STORE=postgres` a PostgreSQL schema of the stack's, made on the first
/// start in `dir` and kept for restarts (so that any e2e test file can be run on
/// PostgreSQL: `AIRSYNC_TEST_STORE=postgres cargo test --test e2e_mail`).
fn default_store(stack: &Stack, dir: &Path) -> String {
    match std::env::var("AIRSYNC_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let remembered = dir.join("pg-store.url");
            if let Ok(url) = std::fs::read_to_string(&remembered) {
                return url;
            }
            let url = stack.new_pg_store();
            std::fs::write(&remembered, &url).unwrap();
            url
        }
        Ok("") | Ok("sqlite") | Err(_) => format!("sqlite://{}", dir.join("airsync.db").display()),
        Ok(other) => panic!("AIRSYNC_TEST_STORE={other:?}: use sqlite or postgres"),
    }
}

/// A field of a log line, in the text format (`key=value`) or the JSON one
/// (`"key":"value"`).
pub fn log_field(line: &str, key: &str) -> Option<String> {
    if let Some(rest) = line.split(&format!("\"{key}\":\"")).nth(1) {
        return rest.split('"').next().map(str::to_string);
    }
    let rest = line.split(&format!("{key}=")).nth(1)?;
    rest.split_whitespace().next().map(str::to_string)
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
