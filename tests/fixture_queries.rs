//! The request lines of real clients (syncgw traces): Windows Mail's base64 form
//! (traces 806, 807) and Nine's plain form, parsed as the server parses them.

use airsync::eas::{Command, ProtocolVersion};
use airsync::http::query;

fn traces() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/eas/syncgw-traces")
}

/// Every request URI of one trace directory.
fn request_uris(trace: &str) -> Vec<(String, String)> {
    let dir = traces().join(trace);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".req.http.json") {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((name, json["request_uri"].as_str().unwrap().to_string()));
        }
    }
    out.sort();
    out
}

#[test]
fn windows_mail_base64_lines() {
    let mut seen = Vec::new();
    for trace in ["806", "807"] {
        for (name, uri) in request_uris(trace) {
            let q = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
            let line = query::parse(q).unwrap_or_else(|e| panic!("{trace}/{name}: {e}"));
            assert_eq!(line.version, Some(ProtocolVersion::V16_1), "{name}");
            assert_eq!(line.device_type, "WindowsMail");
            // 16 raw bytes NOByirVoyhBcQHNFB4wsmw== → 32 hex digits, the same in every request.
            assert_eq!(line.device_id, "34E0728AB568CA105C407345078C2C9B");
            assert_eq!(line.policy_key, Some(0));
            assert_eq!(line.locale, Some(0x0407));
            let expected = if name.contains("ItemOperations") {
                Command::ItemOperations
            } else if name.contains("Settings") {
                Command::Settings
            } else {
                Command::Search
            };
            assert_eq!(line.command, Some(expected), "{name}");
            if expected == Command::ItemOperations {
                assert!(
                    line.accept_multipart,
                    "806 asks for multipart (Options 0x02)"
                );
            }
            seen.push(expected);
        }
    }
    for c in [Command::ItemOperations, Command::Settings, Command::Search] {
        assert!(seen.contains(&c), "{c} missing from the traces");
    }
}

#[test]
fn every_plain_line_in_the_traces_parses() {
    let mut n = 0;
    for entry in std::fs::read_dir(traces()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for (name, uri) in request_uris(dir.file_name().unwrap().to_str().unwrap()) {
            let Some((path, q)) = uri.split_once('?') else {
                continue;
            };
            if !path.eq_ignore_ascii_case("/Microsoft-Server-ActiveSync") || !q.contains("Cmd=") {
                continue;
            }
            let line = query::parse(q).unwrap_or_else(|e| panic!("{name}: {uri}: {e}"));
            assert!(line.command.is_some(), "{name}: {uri}");
            n += 1;
        }
    }
    assert!(n > 50, "only {n} plain request lines found");
}
