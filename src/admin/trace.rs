//! Per-device protocol traces: the decoded WBXML of every request and response of a
//! device whose trace is on (`airsync devices trace`, the admin API), appended to its
//! own file `<trace_dir>/<login>/<device id>.log`. Credentials never reach it: the
//! Authorization header is not written, and password elements are blanked.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::eas::{Command, ProtocolVersion};
use crate::error::{Error, ErrorBody};
use crate::state::Device;
use crate::wbxml::{self, Element};

/// The trace of one device for one request.
pub struct Trace {
    path: PathBuf,
}

impl Trace {
    /// The trace of `device`, if it is switched on.
    pub fn of(dir: &Path, device: &Device) -> Option<Trace> {
        device.trace.then(|| Trace {
            path: path(dir, &device.login, &device.device_id),
        })
    }

    pub fn request(&self, command: &str, version: ProtocolVersion, document: Option<&Element>) {
        let body = document.map(wbxml::to_xml).unwrap_or_default();
        self.write(&format!(">>> {command} (EAS {version})\n{}", redact(&body)));
    }

    pub fn response<T>(
        &self,
        outcome: &Result<T, Error>,
        document: Option<&Element>,
        command: Option<Command>,
        version: ProtocolVersion,
    ) {
        let text = match outcome {
            Ok(_) => format!(
                "<<< 200\n{}",
                document
                    .map(|d| redact(&wbxml::to_xml(d)))
                    .unwrap_or_default()
            ),
            Err(e) => {
                let reply = e.reply(command, Some(version));
                let body = match &reply.body {
                    ErrorBody::Wbxml(doc) => redact(&wbxml::to_xml(doc)),
                    ErrorBody::Text(t) => t.clone(),
                    ErrorBody::Empty => String::new(),
                };
                format!("<<< {} ({e})\n{body}", reply.http_status)
            }
        };
        self.write(&text);
    }

    fn write(&self, text: &str) {
        let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let result = (|| {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            writeln!(f, "{stamp} {text}")
        })();
        if let Err(e) = result {
            tracing::warn!(target: "airsync", path = %self.path.display(), error = %e, "cannot write the device trace");
        }
    }
}

/// `<trace_dir>/<login>/<device>.log`. Characters other than letters, digits and
/// `@-_+.` become `_`, and a leading dot is prefixed, so that every name stays one
/// plain component inside `dir`.
pub fn path(dir: &Path, login: &str, device_id: &str) -> PathBuf {
    let safe = |s: &str| -> String {
        let name: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@-_+.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() || name.starts_with('.') {
            format!("_{name}")
        } else {
            name
        }
    };
    dir.join(safe(login))
        .join(format!("{}.log", safe(device_id)))
}

/// Blanks the content of password elements (Search / ItemOperations credentials).
fn redact(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("Password>") {
        let open_end = start + "Password>".len();
        // Only an opening tag (`<Password>` or `<UserPassword>`) starts a secret.
        let tag_start = rest[..start].rfind('<').unwrap_or(start);
        if rest[tag_start..].starts_with("</") {
            out.push_str(&rest[..open_end]);
            rest = &rest[open_end..];
            continue;
        }
        out.push_str(&rest[..open_end]);
        rest = &rest[open_end..];
        match rest.find('<') {
            Some(end) => {
                out.push_str("***");
                rest = &rest[end..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_blanked() {
        let xml = "<Search><Store><Options><UserName>a</UserName><Password>s3cret</Password></Options></Store></Search>";
        let r = redact(xml);
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("<Password>***</Password>"), "{r}");
        assert_eq!(redact("<a>b</a>"), "<a>b</a>");
    }

    #[test]
    fn paths_stay_inside_the_directory() {
        let p = path(Path::new("/t"), "../../etc/x@y.org", "A/B");
        assert_eq!(p, Path::new("/t/_.._.._etc_x@y.org/A_B.log"));
        assert_eq!(path(Path::new("/t"), "..", ""), Path::new("/t/_../_.log"));
        assert_eq!(
            path(Path::new("/t"), "a@b.org", "D1"),
            Path::new("/t/a@b.org/D1.log")
        );
    }

    #[test]
    fn trace_file_gets_both_directions() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = crate::policy::tests::device(1, "");
        d.trace = true;
        let t = Trace::of(dir.path(), &d).unwrap();
        let doc = Element::new(crate::wbxml::pages::FolderHierarchy::FolderSync)
            .text_child(crate::wbxml::pages::FolderHierarchy::SyncKey, "0");
        t.request("FolderSync", ProtocolVersion::V16_1, Some(&doc));
        t.response::<()>(
            &Err(Error::WipeRequested),
            None,
            Some(Command::FolderSync),
            ProtocolVersion::V16_1,
        );
        let text = std::fs::read_to_string(path(dir.path(), &d.login, &d.device_id)).unwrap();
        assert!(
            text.contains(">>> FolderSync") && text.contains("<SyncKey>0</SyncKey>"),
            "{text}"
        );
        assert!(text.contains("<Status>140</Status>"), "{text}");
        d.trace = false;
        assert!(Trace::of(dir.path(), &d).is_none());
    }
}
