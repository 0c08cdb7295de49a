//! A tiny synchronous IMAP client for test set-up and checks (plain IMAP on loopback),
//! independent of airsync's own backend so that tests do not prove the backend with
//! itself.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Imap {
    pub fn login(port: u16, user: &str, password: &str) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Dovecot");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut imap = Imap {
            reader: BufReader::new(stream),
            writer,
            tag: 0,
        };
        let mut greeting = String::new();
        imap.reader.read_line(&mut greeting).unwrap();
        let lines = imap.command(&format!("LOGIN {} {}", quote(user), quote(password)));
        assert!(
            lines.last().unwrap().contains("OK"),
            "IMAP login failed: {lines:?}"
        );
        imap
    }

    /// Sends one command and returns every line up to and including the tagged one.
    pub fn command(&mut self, cmd: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.writer, "{tag} {cmd}\r\n").unwrap();
        self.read_until(&tag)
    }

    fn read_until(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "IMAP connection closed");
            // Literals: read their bytes verbatim into the same line.
            if let Some(len) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|l| l.rsplit('{').next())
                .and_then(|n| n.parse::<usize>().ok())
            {
                let mut buf = vec![0u8; len];
                std::io::Read::read_exact(&mut self.reader, &mut buf).unwrap();
                line.push_str(&String::from_utf8_lossy(&buf));
                let mut rest = String::new();
                self.reader.read_line(&mut rest).unwrap();
                line.push_str(&rest);
            }
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// APPENDs many messages in one pipelined burst (LITERAL+), returning when all are in.
    pub fn append_many(&mut self, mailbox: &str, messages: &[Vec<u8>], flags: &str) {
        let mut batch = Vec::new();
        let first = self.tag + 1;
        for m in messages {
            self.tag += 1;
            batch.extend_from_slice(
                format!(
                    "t{} APPEND {} ({flags}) {{{}+}}\r\n",
                    self.tag,
                    quote(mailbox),
                    m.len()
                )
                .as_bytes(),
            );
            batch.extend_from_slice(m);
            batch.extend_from_slice(b"\r\n");
            if batch.len() > 1 << 20 {
                self.writer.write_all(&batch).unwrap();
                batch.clear();
            }
        }
        self.writer.write_all(&batch).unwrap();
        for t in first..=self.tag {
            let lines = self.read_until(&format!("t{t}"));
            assert!(
                lines.last().unwrap().contains("OK"),
                "APPEND failed: {lines:?}"
            );
        }
    }

    pub fn append(&mut self, mailbox: &str, message: &[u8], flags: &str) {
        self.append_many(mailbox, &[message.to_vec()], flags);
    }

    /// UID → flags of every message in `mailbox`.
    pub fn flags(&mut self, mailbox: &str) -> Vec<(u32, String)> {
        self.command(&format!("EXAMINE {}", quote(mailbox)));
        let lines = self.command("UID FETCH 1:* (UID FLAGS)");
        lines
            .iter()
            .filter(|l| l.starts_with("* ") && l.contains("FETCH"))
            .filter_map(|l| {
                let uid = l
                    .split("UID ")
                    .nth(1)?
                    .split([' ', ')'])
                    .next()?
                    .parse()
                    .ok()?;
                let flags = l.split("FLAGS (").nth(1)?.split(')').next()?.to_string();
                Some((uid, flags))
            })
            .collect()
    }

    /// Messages in `mailbox` (STATUS MESSAGES).
    pub fn count(&mut self, mailbox: &str) -> usize {
        let lines = self.command(&format!("STATUS {} (MESSAGES)", quote(mailbox)));
        lines
            .iter()
            .find_map(|l| {
                l.split("MESSAGES ")
                    .nth(1)?
                    .split(')')
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    pub fn store(&mut self, mailbox: &str, uid: u32, change: &str) {
        self.command(&format!("SELECT {}", quote(mailbox)));
        let lines = self.command(&format!("UID STORE {uid} {change}"));
        assert!(lines.last().unwrap().contains("OK"), "{lines:?}");
    }
}

/// Whether a LOGIN succeeds (without panicking when it does not).
pub fn can_login(port: u16, user: &str, password: &str) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return false;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return false;
    }
    if write!(writer, "a LOGIN {} {}\r\n", quote(user), quote(password)).is_err() {
        return false;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if line.starts_with("a ") {
            let ok = line.starts_with("a OK");
            let _ = write!(writer, "b LOGOUT\r\n");
            return ok;
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A simple text message.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand_id()
    )
    .into_bytes()
}

pub fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}.{}", N.fetch_add(1, Ordering::Relaxed))
}
