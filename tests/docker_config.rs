//! The container set-up without a Docker engine (none runs on the build machines):
//! airsync is started exactly as `docker/Dockerfile` and `docker/compose.yaml` start it —
//! `airsync serve` with no configuration file, every setting from the image's `ENV` and
//! the compose service's `environment:` — with only the host names of the compose
//! network (dovecot, radicale, postfix) and the fixed ports turned into the test
//! stack's loopback addresses. A phone then provisions and syncs its folders, and the
//! image's `HEALTHCHECK` command passes.

mod common;

use std::collections::BTreeMap;

use common::Stack;
use common::airsync::{ADMIN_TOKEN, Server};
use common::eas::Phone;

/// The `ENV` instruction of the Dockerfile's last stage, as (key, value) pairs.
fn dockerfile_env(text: &str) -> Vec<(String, String)> {
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("ENV "))
        .expect("an ENV instruction");
    line.trim_start()["ENV ".len()..]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("ENV KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The `environment:` map of the compose service `service`, with `${VAR:-default}`
/// taken as its default and `${VAR:?message}` as `required(VAR)`.
fn compose_env(
    text: &str,
    service: &str,
    required: impl Fn(&str) -> String,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_service = false;
    let mut in_env = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 2 {
            in_service = trimmed == format!("{service}:");
            in_env = false;
        } else if in_service && indent == 4 {
            in_env = trimmed == "environment:";
        } else if in_service && in_env && indent == 6 {
            let (k, v) = trimmed.split_once(": ").expect("KEY: value");
            let v = v.trim().trim_matches('"');
            let v = match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(expr) => match (expr.split_once(":-"), expr.split_once(":?")) {
                    (Some((_, default)), _) => default.to_string(),
                    (_, Some((var, _))) => required(var),
                    _ => panic!("unsupported substitution {v}"),
                },
                None => v.to_string(),
            };
            out.push((k.to_string(), v));
        }
    }
    assert!(!out.is_empty(), "no environment for service {service}");
    out
}

#[tokio::test]
async fn the_image_configuration_serves_a_phone() {
    let stack = Stack::get();
    let root = common::repo_root();
    let image = dockerfile_env(&std::fs::read_to_string(root.join("docker/Dockerfile")).unwrap());
    let compose = compose_env(
        &std::fs::read_to_string(root.join("docker/compose.yaml")).unwrap(),
        "airsync",
        |var| {
            assert_eq!(
                var, "AIRSYNC_ADMIN_TOKEN",
                "only the admin token is required"
            );
            ADMIN_TOKEN.to_string()
        },
    );
    // Compose's environment overrides the image's ENV, as Docker applies them.
    let mut env: BTreeMap<String, String> = image.into_iter().collect();
    env.extend(compose);

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let local = |port: u16| format!("127.0.0.1:{port}");
    let rewrites = [
        ("dovecot:143", local(stack.imap_port)),
        ("dovecot:4190", local(stack.sieve_port)),
        ("radicale:5232", local(stack.dav_port)),
        ("postfix:587", local(stack.submission_port)),
        ("0.0.0.0:8080", "127.0.0.1:0".to_string()),
        ("0.0.0.0:8081", "127.0.0.1:0".to_string()),
        ("/var/lib/airsync", state.to_string()),
    ];
    for value in env.values_mut() {
        for (from, to) in &rewrites {
            *value = value.replace(from, to);
        }
    }
    env.insert(
        "AIRSYNC__AUTH__DEFAULT_DOMAIN".into(),
        stack.mail_domain.clone(),
    );
    for (key, value) in &env {
        assert!(key.starts_with("AIRSYNC__"), "{key}");
        assert!(
            !["dovecot:", "radicale:", "postfix:", "0.0.0.0:"]
                .iter()
                .any(|h| value.contains(h)),
            "{key}={value}: a compose address the test does not map"
        );
    }
    let env: Vec<(String, String)> = env.into_iter().collect();

    // `airsync check-config` accepts exactly this environment…
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_airsync"))
        .arg("check-config")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // …and `airsync serve` (the image's ENTRYPOINT and CMD) serves a phone with it.
    let server = Server::start_env(dir.path(), &env, "http");
    let (user, pw) = stack.alice();
    let phone = Phone::provisioned(&stack.ca_cert, &server.base_url, &user, &pw, "DOCKER1").await;
    let answer = phone.folder_sync("0").await;
    assert_eq!(answer.status, 200, "{}", answer.xml());
    let (_, _, folders, _, _) = common::eas::folder_changes(answer.body.as_ref().unwrap());
    assert!(folders.iter().any(|f| f.kind == 2), "an Inbox");
    assert!(
        folders.iter().any(|f| f.kind == 8),
        "a calendar (CalDAV wired)"
    );
    assert!(
        server
            .log()
            .lines()
            .any(|l| l.trim_start().starts_with('{')),
        "compose asks for JSON logs"
    );
    assert!(
        std::path::Path::new(state).join("airsync.db").exists(),
        "state in the volume"
    );

    // The HEALTHCHECK command of the image, against the admin listener.
    let healthcheck = std::process::Command::new(env!("CARGO_BIN_EXE_airsync"))
        .args([
            "health",
            "--url",
            &format!("{}/healthz", server.admin_url()),
        ])
        .status()
        .unwrap();
    assert!(healthcheck.success());
    let dockerfile = std::fs::read_to_string(root.join("docker/Dockerfile")).unwrap();
    assert!(
        dockerfile
            .contains(r#"CMD ["airsync", "health", "--url", "http://127.0.0.1:8081/healthz"]"#),
        "the image's HEALTHCHECK is the command tested here"
    );
}
