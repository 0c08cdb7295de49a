//! Raw IMAP commands: send a tagged command through the async-imap session and read the
//! responses ourselves.
//!
//! For what async-imap (imap-proto) cannot parse: RFC 8474 MAILBOXID, Dovecot's X-GUID,
//! NAMESPACE (RFC 2342), LIST-EXTENDED/LIST-STATUS data (RFC 5258, RFC 5819), RFC 5530
//! response codes, and later QRESYNC/VANISHED (RFC 7162) and UIDPLUS codes (RFC 4315).
//! Tags come from the session's own generator, so raw and typed commands can alternate on
//! one connection; bytes read past our tagged completion stay buffered in [`ImapConn`].
//!
//! Responses are split into frames (a line plus any `{n}` literals it announces, RFC 3501
//! §4.3) and each frame into [`Value`]s: atoms, strings, NIL and parenthesized lists.

use std::fmt;

use crate::conn::ImapConn;
use crate::error::Error;

/// The session type the backend runs on.
pub type Session = async_imap::Session<ImapConn>;

/// Longest line we accept without CRLF, and largest literal: bounds memory per response.
const MAX_LINE: usize = 1 << 20;
pub(crate) const MAX_LITERAL: usize = 256 << 20;

/// One token of a response (RFC 3501 §9 `astring`, `nstring`, lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An atom or number, e.g. `LIST`, `\Noselect`, `42`, `BODY[TEXT]`.
    Atom(Atom),
    /// A quoted string or literal, as raw bytes.
    Str(Vec<u8>),
    /// `NIL`
    Nil,
    /// `( … )`
    List(Vec<Value>),
}

/// The text of an atom. Nearly every atom of a response is short (numbers, flags, FETCH
/// item names): up to [`Atom::INLINE`] bytes are kept in place, so that the thousands of
/// FETCH responses of a mailbox listing cost no allocation per atom.
#[derive(Clone, PartialEq, Eq)]
pub struct Atom(AtomText);

#[derive(Clone, PartialEq, Eq)]
enum AtomText {
    Inline { len: u8, bytes: [u8; Atom::INLINE] },
    Heap(Box<str>),
}

impl Atom {
    const INLINE: usize = 22;

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only whole UTF-8 strings are stored inline (`From<&str>`).
            AtomText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).expect("inline atoms are UTF-8")
            }
            AtomText::Heap(s) => s,
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom(match u8::try_from(s.len()) {
            Ok(len) if s.len() <= Atom::INLINE => {
                let mut bytes = [0; Atom::INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                AtomText::Inline { len, bytes }
            }
            _ => AtomText::Heap(s.into()),
        })
    }
}

impl std::ops::Deref for Atom {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Value {
    /// The text of an atom or string (lossy for non-UTF-8 strings); `None` for NIL or lists.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Value::Atom(a) => Some(a.as_str().into()),
            Value::Str(s) => Some(String::from_utf8_lossy(s)),
            _ => None,
        }
    }

    /// True if this is an atom equal to `word`, ignoring ASCII case.
    pub fn is_atom(&self, word: &str) -> bool {
        matches!(self, Value::Atom(a) if a.eq_ignore_ascii_case(word))
    }

    /// The number in an atom.
    pub fn number<T: std::str::FromStr>(&self) -> Option<T> {
        match self {
            Value::Atom(a) => a.parse().ok(),
            _ => None,
        }
    }

    /// The items of a list.
    pub fn list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }
}

/// Status of a status response (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// A status response: status, optional `[code]`, human-readable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText {
    pub status: Status,
    /// Everything between `[` and `]`, e.g. `ALREADYEXISTS` or `HIGHESTMODSEQ 7`.
    pub code: Option<String>,
    pub text: String,
}

impl StatusText {
    /// The code's first word in upper case (`ALREADYEXISTS`, `CAPABILITY`, …).
    pub fn code_name(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        Some(code.split(' ').next().unwrap_or(code).to_ascii_uppercase())
    }
}

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(code) = &self.code {
            write!(f, "[{code}] ")?;
        }
        f.write_str(&self.text)
    }
}

/// An untagged response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text`
    Status(StatusText),
    /// Any other data, as tokens: `* STATUS INBOX (MESSAGES 3)` →
    /// `[Atom("STATUS"), Atom("INBOX"), List([..])]`, `* 3 EXISTS` → `[Atom("3"), Atom("EXISTS")]`.
    Data(Vec<Value>),
}

impl Untagged {
    /// The tokens of a data response whose first token is the atom `kind` (e.g. `LIST`).
    pub fn data(&self, kind: &str) -> Option<&[Value]> {
        match self {
            Untagged::Data(v) if v.first().is_some_and(|t| t.is_atom(kind)) => Some(&v[1..]),
            _ => None,
        }
    }
}

/// All responses to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Untagged responses received while the command ran, in order.
    pub untagged: Vec<Untagged>,
    /// The tagged completion.
    pub done: StatusText,
}

impl Reply {
    /// Turns a tagged NO or BAD into an error.
    pub fn ok(self) -> Result<Self, Error> {
        match self.done.status {
            Status::Ok => Ok(self),
            Status::Bad => Err(Error::Bad(self.done)),
            _ => Err(Error::No(self.done)),
        }
    }

    /// Iterates over the data responses of one kind (e.g. `"STATUS"`), tokens after the kind.
    pub fn data<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a [Value]> + 'a {
        self.untagged.iter().filter_map(move |u| u.data(kind))
    }
}

/// One frame read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Untagged(Untagged),
    Tagged(String, StatusText),
    Continuation(String),
}

/// Quotes a string for a command (RFC 3501 §4.3). Refuses what a quoted string cannot
/// carry (CR, LF, NUL, 8-bit); mailbox names are modified UTF-7 and so 7-bit.
pub fn quote(s: &str) -> Result<String, Error> {
    if s.bytes()
        .any(|b| matches!(b, b'\r' | b'\n' | 0) || !b.is_ascii())
    {
        return Err(Error::Invalid(format!("cannot quote {s:?}")));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Sends one command and reads its responses. A NO/BAD completion is returned as a
/// [`Reply`], not an error: use [`Reply::ok`].
pub async fn run(session: &mut Session, command: &str) -> Result<Reply, Error> {
    let mut replies = run_pipelined(session, &[command]).await?;
    Ok(replies.remove(0))
}

/// Sends several commands at once and reads all their responses (RFC 3501 §5.5: the
/// client may pipeline commands that do not depend on each other). Untagged responses go
/// to the earliest command not yet completed. Saves a round trip per command.
pub async fn run_pipelined<S: AsRef<str>>(
    session: &mut Session,
    commands: &[S],
) -> Result<Vec<Reply>, Error> {
    let mut untagged: Vec<Vec<Untagged>> = vec![Vec::new(); commands.len()];
    let done = run_streaming(session, commands, MAX_LITERAL, |i, u| {
        untagged[i].push(u);
        Ok(())
    })
    .await?;
    Ok(untagged
        .into_iter()
        .zip(done)
        .map(|(untagged, done)| Reply { untagged, done })
        .collect())
}

/// Like [`run_pipelined`], but hands each untagged response to `on_untagged` as soon as
/// it is read, with the index of the earliest command not yet completed, instead of
/// collecting them: a listing of 100,000 messages is parsed as it streams in. Literals
/// longer than `max_literal` are refused before they are read ([`Error::TooLarge`]; the
/// connection is then unusable). An error from `on_untagged` ends the call at once, also
/// leaving the connection mid-response. Returns the tagged completions in command order.
pub(crate) async fn run_streaming<S, F>(
    session: &mut Session,
    commands: &[S],
    max_literal: usize,
    mut on_untagged: F,
) -> Result<Vec<StatusText>, Error>
where
    S: AsRef<str>,
    F: FnMut(usize, Untagged) -> Result<(), Error>,
{
    // A mailbox a fetch left open is left first, in the same round trip; what it still
    // reports (EXISTS, EXPUNGE, FETCH of that mailbox) is nobody's business here.
    let deselect = session.get_mut().examined.take().map(|e| e.deselect);
    let skip = usize::from(deselect.is_some());
    let mut tags = Vec::with_capacity(commands.len() + skip);
    for command in deselect
        .into_iter()
        .chain(commands.iter().map(AsRef::as_ref))
    {
        tracing::trace!(target: "airsync", command, "imap raw command");
        tags.push(session.run_command(command).await?.0);
    }
    let mut done = collect_completions(session.get_mut(), &tags, max_literal, &mut |i, u| {
        if i < skip {
            Ok(())
        } else {
            on_untagged(i - skip, u)
        }
    })
    .await?;
    done.drain(..skip);
    Ok(done)
}

/// Reads frames until every tag in `tags` is completed.
pub(crate) async fn collect_completions<F>(
    conn: &mut ImapConn,
    tags: &[String],
    max_literal: usize,
    on_untagged: &mut F,
) -> Result<Vec<StatusText>, Error>
where
    F: FnMut(usize, Untagged) -> Result<(), Error>,
{
    let mut done: Vec<Option<StatusText>> = vec![None; tags.len()];
    while let Some(open) = done.iter().position(Option::is_none) {
        match read_frame(conn, max_literal).await? {
            Frame::Untagged(u) => on_untagged(open, u)?,
            Frame::Tagged(tag, st) => match tags.iter().position(|t| *t == tag) {
                Some(i) => done[i] = Some(st),
                None => tracing::warn!(target: "airsync", tag, "imap: completion for unknown tag"),
            },
            Frame::Continuation(text) => {
                return Err(Error::Protocol(format!("unexpected continuation: {text}")));
            }
        }
    }
    Ok(done
        .into_iter()
        .map(|d| d.expect("loop ends when all are done"))
        .collect())
}

/// Reads one frame, filling the connection's buffer as needed. A literal longer than
/// `max_literal` is refused as soon as its `{n}` is seen, before its bytes are buffered.
pub(crate) async fn read_frame(conn: &mut ImapConn, max_literal: usize) -> Result<Frame, Error> {
    loop {
        if let Some(len) = frame_len(conn.buffered(), max_literal)? {
            let frame = parse_frame(&conn.buffered()[..len]);
            conn.consume(len);
            return frame;
        }
        if conn.fill().await? == 0 {
            return Err(Error::ConnectionLost);
        }
    }
}

/// Length of the first complete frame in `buf`, or `None` if more bytes are needed.
fn frame_len(buf: &[u8], max_literal: usize) -> Result<Option<usize>, Error> {
    let mut line_start = 0;
    loop {
        let Some(rel) = crlf(&buf[line_start..]) else {
            if buf.len() - line_start > MAX_LINE {
                return Err(Error::Protocol("response line too long".into()));
            }
            return Ok(None);
        };
        let line_end = line_start + rel;
        match literal_len(&buf[line_start..line_end], max_literal)? {
            None => return Ok(Some(line_end + 2)),
            Some(n) => {
                line_start = line_end + 2 + n;
                if buf.len() < line_start {
                    return Ok(None);
                }
            }
        }
    }
}

/// Where the first CRLF of `bytes` starts.
fn crlf(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let lf = from + memchr::memchr(b'\n', &bytes[from..])?;
        if lf > 0 && bytes[lf - 1] == b'\r' {
            return Some(lf - 1);
        }
        from = lf + 1;
    }
}

/// The `n` of a line ending in `{n}` or `{n+}` (a literal follows the CRLF).
fn literal_len(line: &[u8], max_literal: usize) -> Result<Option<usize>, Error> {
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = inner.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let n: u64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(u64::MAX);
    if n > max_literal.min(MAX_LITERAL) as u64 {
        return Err(Error::TooLarge(format!(
            "server sent a literal of {n} bytes, limit {}",
            max_literal.min(MAX_LITERAL)
        )));
    }
    Ok(Some(n as usize))
}

/// Parses one complete frame (ending in CRLF).
fn parse_frame(bytes: &[u8]) -> Result<Frame, Error> {
    let mut p = Parser { b: bytes, pos: 0 };
    let head = p.word();
    if head == b"+" {
        return Ok(Frame::Continuation(p.rest_of_line()));
    }
    if head.is_empty() || !p.eat(b' ') {
        return Err(p.error("expected tag"));
    }
    let untagged = head == b"*";
    let save = p.pos;
    let word = p.word();
    let status = [
        (&b"OK"[..], Status::Ok),
        (b"NO", Status::No),
        (b"BAD", Status::Bad),
        (b"BYE", Status::Bye),
        (b"PREAUTH", Status::Preauth),
    ]
    .into_iter()
    .find(|(name, _)| word.eq_ignore_ascii_case(name))
    .map(|(_, status)| status);
    match (untagged, status) {
        (_, Some(status)) => {
            let st = p.status_text(status)?;
            Ok(if untagged {
                Frame::Untagged(Untagged::Status(st))
            } else {
                Frame::Tagged(String::from_utf8_lossy(head).into_owned(), st)
            })
        }
        (true, None) => {
            p.pos = save;
            Ok(Frame::Untagged(Untagged::Data(p.values(false)?)))
        }
        (false, None) => Err(p.error("tagged response without status")),
    }
}

/// Parses one untagged frame (tests of response parsers elsewhere in the crate).
#[cfg(test)]
pub(crate) fn parse_frame_for_tests(bytes: &[u8]) -> Untagged {
    match parse_frame(bytes).expect("frame parses") {
        Frame::Untagged(u) => u,
        other => panic!("not untagged: {other:?}"),
    }
}

/// A cursor over one frame.
struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.pos += usize::from(hit);
        hit
    }

    fn error(&self, what: &str) -> Error {
        let shown = String::from_utf8_lossy(&self.b[..self.b.len().min(200)]);
        Error::Protocol(format!("{what} at byte {} of {shown:?}", self.pos))
    }

    /// Bytes up to the next space or CR.
    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b' ' | b'\r')) {
            self.pos += 1;
        }
        &self.b[start..self.pos]
    }

    fn rest_of_line(&mut self) -> String {
        let start = self.pos.min(self.b.len());
        let end = self.b.len().saturating_sub(2).max(start);
        self.pos = self.b.len();
        String::from_utf8_lossy(&self.b[start..end])
            .trim_start()
            .to_string()
    }

    /// `resp-text = ["[" resp-text-code "]" SP] text` (RFC 3501 §9).
    fn status_text(&mut self, status: Status) -> Result<StatusText, Error> {
        self.eat(b' ');
        let mut code = None;
        if self.eat(b'[') {
            let start = self.pos;
            let mut in_quote = false;
            loop {
                match self.peek() {
                    None | Some(b'\r') => return Err(self.error("unterminated response code")),
                    Some(b'"') => in_quote = !in_quote,
                    Some(b'\\') if in_quote => self.pos += 1,
                    Some(b']') if !in_quote => break,
                    _ => {}
                }
                self.pos += 1;
            }
            code = Some(String::from_utf8_lossy(&self.b[start..self.pos]).into_owned());
            self.pos += 1;
        }
        Ok(StatusText {
            status,
            code,
            text: self.rest_of_line(),
        })
    }

    /// Values up to CRLF (top level) or `)` (inside a list).
    fn values(&mut self, in_list: bool) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        loop {
            while self.eat(b' ') {}
            match self.peek() {
                None => return Err(self.error("unexpected end")),
                Some(b'\r') if !in_list => return Ok(out),
                Some(b')') if in_list => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\r' | b')') => return Err(self.error("unbalanced parenthesis")),
                Some(b'(') => {
                    self.pos += 1;
                    out.push(Value::List(self.values(true)?));
                }
                Some(b'"') => out.push(Value::Str(self.quoted()?)),
                Some(b'{') => out.push(Value::Str(self.literal()?)),
                Some(_) => out.push(self.atom()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Vec<u8>, Error> {
        self.pos += 1;
        // Commonly no escapes: the bytes up to the closing quote, as they stand.
        let rest = &self.b[self.pos..];
        if let Some(end) = rest.iter().position(|&b| matches!(b, b'"' | b'\\' | b'\r'))
            && rest[end] == b'"'
        {
            self.pos += end + 1;
            return Ok(rest[..end].to_vec());
        }
        let mut s = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') => return Err(self.error("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    s.push(self.peek().ok_or_else(|| self.error("bad escape"))?);
                }
                Some(c) => s.push(c),
            }
            self.pos += 1;
        }
    }

    /// `{n}` CRLF and n bytes; [`frame_len`] made sure they are all there.
    fn literal(&mut self) -> Result<Vec<u8>, Error> {
        let close = self.b[self.pos..]
            .iter()
            .position(|&b| b == b'}')
            .ok_or_else(|| self.error("bad literal"))?;
        let spec = &self.b[self.pos + 1..self.pos + close];
        let spec = spec.strip_suffix(b"+").unwrap_or(spec);
        let n: usize = std::str::from_utf8(spec)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.error("bad literal length"))?;
        self.pos += close + 1;
        if !self.b[self.pos..].starts_with(b"\r\n") || self.b.len() < self.pos + 2 + n {
            return Err(self.error("truncated literal"));
        }
        self.pos += 2;
        let data = self.b[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(data)
    }

    /// An atom; a `[ … ]` section inside it (e.g. `BODY[HEADER.FIELDS (TO)]`) is kept
    /// whole, spaces included.
    fn atom(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'\r' => break,
                b' ' | b'(' | b')' | b'"' | b'{' if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let bytes = &self.b[start..self.pos];
        Ok(if bytes.eq_ignore_ascii_case(b"NIL") {
            Value::Nil
        } else {
            // Atoms are ASCII (RFC 3501 §9); the lossy reading is for broken servers.
            match std::str::from_utf8(bytes) {
                Ok(atom) => Value::Atom(atom.into()),
                Err(_) => Value::Atom(String::from_utf8_lossy(bytes).as_ref().into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    fn data(line: &str) -> Vec<Value> {
        match parse_frame(line.as_bytes()).unwrap() {
            Frame::Untagged(Untagged::Data(v)) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn atoms_short_and_long_read_back_as_sent() {
        let long = "BODY[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO)]";
        for text in [
            "",
            "1",
            "\\Seen",
            "exactly-twenty-two-byt",
            "twenty-three-bytes-long",
            long,
        ] {
            let a = Atom::from(text);
            assert_eq!(a.as_str(), text);
            assert_eq!(&*a, text);
            assert_eq!(format!("{a:?}"), format!("{text:?}"));
        }
        assert_eq!(Atom::from("\\Seen"), Atom::from("\\Seen"));
        assert_ne!(Atom::from("\\Seen"), Atom::from("\\Seen2"));
        // A non-UTF-8 atom is read lossily, as before.
        let raw = b"* X ab\xffcd\r\n";
        let Frame::Untagged(Untagged::Data(v)) = parse_frame(raw).unwrap() else {
            panic!()
        };
        assert_eq!(v, vec![atom("X"), atom("ab\u{fffd}cd")]);
    }

    #[test]
    fn status_words_in_any_case() {
        let Frame::Tagged(tag, st) = parse_frame(b"a1 ok [READ-ONLY] done\r\n").unwrap() else {
            panic!()
        };
        assert_eq!((tag.as_str(), st.status), ("a1", Status::Ok));
        assert!(matches!(
            parse_frame(b"* Bye now\r\n").unwrap(),
            Frame::Untagged(Untagged::Status(StatusText {
                status: Status::Bye,
                ..
            }))
        ));
        // Not a status word: data.
        assert!(matches!(
            parse_frame(b"* OKAY 1\r\n").unwrap(),
            Frame::Untagged(Untagged::Data(_))
        ));
    }

    #[test]
    fn frames_need_their_literals() {
        assert_eq!(frame_len(b"* OK hi\r", MAX_LITERAL).unwrap(), None);
        assert_eq!(
            frame_len(b"* OK hi\r\nA1 OK", MAX_LITERAL).unwrap(),
            Some(9)
        );
        let lit = b"* LIST () \"/\" {5}\r\nab cd\r\nA1 OK\r\n";
        assert_eq!(frame_len(&lit[..20], MAX_LITERAL).unwrap(), None);
        assert_eq!(frame_len(&lit[..25], MAX_LITERAL).unwrap(), None);
        assert_eq!(frame_len(lit, MAX_LITERAL).unwrap(), Some(26));
        let two = b"* X {1}\r\na {2+}\r\nbc\r\n";
        assert_eq!(frame_len(two, MAX_LITERAL).unwrap(), Some(two.len()));
        // A bare LF does not end a line.
        assert_eq!(frame_len(b"* OK a\nb\r\n", MAX_LITERAL).unwrap(), Some(10));
        assert_eq!(frame_len(b"\n\r\n", MAX_LITERAL).unwrap(), Some(3));
    }

    #[test]
    fn status_responses() {
        let f = parse_frame(b"A0003 NO [ALREADYEXISTS] Mailbox already exists\r\n").unwrap();
        let Frame::Tagged(tag, st) = f else { panic!() };
        assert_eq!(tag, "A0003");
        assert_eq!(st.status, Status::No);
        assert_eq!(st.code_name().as_deref(), Some("ALREADYEXISTS"));
        assert_eq!(st.text, "Mailbox already exists");
        let f = parse_frame(b"* OK [HIGHESTMODSEQ 7] Highest\r\n").unwrap();
        let Frame::Untagged(Untagged::Status(st)) = f else {
            panic!()
        };
        assert_eq!(st.code.as_deref(), Some("HIGHESTMODSEQ 7"));
        let f = parse_frame(b"* BYE\r\n").unwrap();
        assert!(matches!(
            f,
            Frame::Untagged(Untagged::Status(StatusText {
                status: Status::Bye,
                ..
            }))
        ));
        assert!(
            matches!(parse_frame(b"+ go ahead\r\n").unwrap(), Frame::Continuation(t) if t == "go ahead")
        );
    }

    #[test]
    fn dovecot_list_status_and_namespace() {
        assert_eq!(
            data("* LIST (\\Subscribed \\Drafts) \"/\" Drafts\r\n"),
            vec![
                atom("LIST"),
                Value::List(vec![atom("\\Subscribed"), atom("\\Drafts")]),
                Value::Str(b"/".to_vec()),
                atom("Drafts"),
            ]
        );
        assert_eq!(
            data(
                "* STATUS \"Entw&APw-rfe\" (MESSAGES 0 X-GUID 208d750cc77c076bdd2d000083ecc375)\r\n"
            )[2],
            Value::List(vec![
                atom("MESSAGES"),
                atom("0"),
                atom("X-GUID"),
                atom("208d750cc77c076bdd2d000083ecc375"),
            ])
        );
        let ns = data("* NAMESPACE ((\"\" \"/\")) ((\"shared/\" \"/\")) NIL\r\n");
        assert_eq!(ns[3], Value::Nil);
        assert_eq!(
            ns[2].list().unwrap()[0].list().unwrap()[0],
            Value::Str(b"shared/".to_vec())
        );
    }

    #[test]
    fn extended_list_data_literals_and_sections() {
        let v = data("* LIST () \"/\" {7}\r\nfoo bar (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
        assert_eq!(v[3], Value::Str(b"foo bar".to_vec()));
        assert_eq!(v[4].list().unwrap().len(), 2);
        let v = data("* STATUS x (MAILBOXID (F2212ea87-6097))\r\n");
        assert_eq!(
            v[2].list().unwrap()[1],
            Value::List(vec![atom("F2212ea87-6097")])
        );
        let v = data("* 1 FETCH (UID 5 BODY[HEADER.FIELDS (TO FROM)] {2}\r\nhi)\r\n");
        assert_eq!(
            v[2].list().unwrap()[2],
            atom("BODY[HEADER.FIELDS (TO FROM)]")
        );
        assert_eq!(v[2].list().unwrap()[3], Value::Str(b"hi".to_vec()));
        let v = data("* LIST (\\Noselect) NIL \"a\\\"b\\\\c\"\r\n");
        assert_eq!(v[2], Value::Nil);
        assert_eq!(v[3], Value::Str(b"a\"b\\c".to_vec()));
    }

    #[test]
    fn malformed_frames_are_protocol_errors() {
        assert!(parse_frame(b"* LIST (a\r\n").is_err());
        assert!(parse_frame(b"* LIST a)\r\n").is_err());
        assert!(parse_frame(b"* X \"open\r\n").is_err());
        assert!(parse_frame(b"A1 FOO bar\r\n").is_err());
        assert!(frame_len(b"* X {999999999999}\r\n", MAX_LITERAL).is_err());
    }

    #[test]
    fn quoted_strings_with_and_without_escapes() {
        assert_eq!(
            data("* X \"plain\" \"a\\\"b\\\\c\" \"\" NIL\r\n"),
            vec![
                atom("X"),
                Value::Str(b"plain".to_vec()),
                Value::Str(b"a\"b\\c".to_vec()),
                Value::Str(Vec::new()),
                Value::Nil,
            ]
        );
        assert!(parse_frame(b"* X \"open\r\n").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert!(quote("a\r\nb").is_err());
        assert!(quote("ä").is_err());
    }
}
