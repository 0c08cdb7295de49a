//! Settings (MS-ASCMD 2.2.1.18): Out-of-Office through the user's Sieve script
//! (`crate::sieve`), UserInformation, DeviceInformation (device registry) and
//! DevicePassword (the recovery password, stored, never logged).

use airsync_model::BackendError;

use crate::eas::settings::{self, SettingsOp, status};
use crate::error::Error;
use crate::sieve::{self, OofMessage};
use crate::wbxml::Element;
use crate::wbxml::pages::Settings as S;

use super::{Reply, RequestContext};

/// The account's SMTP addresses: the primary one (the login, or login@default_domain)
/// and the other addresses a directory entry with that address lists.
pub async fn addresses(ctx: &RequestContext<'_>) -> Vec<String> {
    let login = ctx.login();
    let primary = if login.contains('@') || ctx.app.settings.auth.default_domain.is_empty() {
        login.to_string()
    } else {
        format!("{login}@{}", ctx.app.settings.auth.default_domain)
    };
    let mut out = vec![primary.clone()];
    if primary.contains('@')
        && let Ok(entries) = crate::directory::search_all(
            &ctx.app.directory,
            &ctx.principal.credentials,
            &primary,
            10,
        )
        .await
    {
        for e in entries.iter().filter(|e| e.has_address(&primary)) {
            for a in &e.emails {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
                    out.push(a.clone());
                }
            }
        }
    }
    out
}

fn section(tag: crate::wbxml::Tag, code: u16) -> Element {
    Element::new(tag).text_child(S::Status, code.to_string())
}

fn backend_status(e: &BackendError) -> u16 {
    match e {
        BackendError::Auth => status::ACCESS_DENIED,
        _ => status::SERVER_UNAVAILABLE,
    }
}

fn message_element(which: crate::wbxml::Tag, m: &OofMessage, body_type: &str) -> Element {
    let reply = if body_type.eq_ignore_ascii_case(&m.body_type) || m.reply.is_empty() {
        m.reply.clone()
    } else if body_type.eq_ignore_ascii_case("HTML") {
        format!(
            "<html><body><pre>{}</pre></body></html>",
            m.reply.replace('&', "&amp;").replace('<', "&lt;")
        )
    } else {
        crate::mapping::email::body::html_to_text(&m.reply)
    };
    Element::new(S::OofMessage)
        .child(Element::new(which))
        .text_child(S::Enabled, if m.enabled { "1" } else { "0" })
        .text_child(S::ReplyMessage, reply)
        .text_child(
            S::BodyType,
            if body_type.eq_ignore_ascii_case("HTML") {
                "HTML"
            } else {
                "Text"
            },
        )
}

fn eas_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

async fn oof(ctx: &RequestContext<'_>, op: SettingsOp) -> Element {
    let Some(cfg) = &ctx.app.settings.sieve else {
        // No Sieve server configured: Out-of-Office cannot be kept anywhere.
        return section(S::Oof, status::SERVER_UNAVAILABLE);
    };
    let creds = &ctx.principal.credentials;
    match op {
        SettingsOp::OofGet { body_type } => match sieve::get_oof(cfg, creds).await {
            Ok(oof) => {
                let mut get = Element::new(S::Get).text_child(S::OofState, oof.state.to_string());
                if oof.state == 2 {
                    if let Some(t) = oof.start {
                        get.push(Element::with_text(S::StartTime, eas_date(t)));
                    }
                    if let Some(t) = oof.end {
                        get.push(Element::with_text(S::EndTime, eas_date(t)));
                    }
                }
                for (tag, m) in [
                    (S::AppliesToInternal, &oof.internal),
                    (S::AppliesToExternalKnown, &oof.external_known),
                    (S::AppliesToExternalUnknown, &oof.external_unknown),
                ] {
                    if let Some(m) = m {
                        get.push(message_element(tag, m, &body_type));
                    }
                }
                section(S::Oof, status::SUCCESS).child(get)
            }
            Err(e) => {
                tracing::warn!(target: "airsync", error = %e, "Settings Oof Get failed");
                section(S::Oof, backend_status(&e))
            }
        },
        SettingsOp::OofSet(oof) => {
            let addresses = addresses(ctx).await;
            let domain = addresses[0]
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default();
            match sieve::set_oof(cfg, creds, &oof, &addresses, &domain).await {
                Ok(()) => section(S::Oof, status::SUCCESS),
                Err(e) => {
                    tracing::warn!(target: "airsync", error = %e, "Settings Oof Set failed");
                    section(S::Oof, backend_status(&e))
                }
            }
        }
        _ => section(S::Oof, status::PROTOCOL_ERROR),
    }
}

async fn user_information(ctx: &RequestContext<'_>) -> Element {
    let addresses = addresses(ctx).await;
    let mut get = Element::new(S::Get);
    if ctx.version.as_str() >= "14.1" {
        // 14.1+: Accounts/Account with the primary address (MS-ASCMD 2.2.3.5).
        let mut emails =
            Element::new(S::EmailAddresses).text_child(S::PrimarySmtpAddress, addresses[0].clone());
        for a in &addresses {
            emails.push(Element::with_text(S::SmtpAddress, a.clone()));
        }
        let account = Element::new(S::Account)
            .text_child(S::UserDisplayName, addresses[0].clone())
            .child(emails);
        get.push(Element::new(S::Accounts).child(account));
    } else {
        let mut emails = Element::new(S::EmailAddresses);
        for a in &addresses {
            emails.push(Element::with_text(S::SmtpAddress, a.clone()));
        }
        get.push(emails);
    }
    section(S::UserInformation, status::SUCCESS).child(get)
}

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let ops = settings::parse(&document)?;
    let mut doc = Element::new(S::Settings).text_child(S::Status, status::SUCCESS.to_string());
    for op in ops {
        let answer = match op {
            Err((name, e)) => {
                tracing::debug!(target: "airsync", setting = %name, error = %e, "Settings: invalid");
                let tag = crate::wbxml::Tag::from_name("Settings", &name).unwrap_or(S::Oof);
                section(tag, status::INVALID_ARGUMENTS)
            }
            Ok(op @ (SettingsOp::OofGet { .. } | SettingsOp::OofSet(_))) => oof(ctx, op).await,
            Ok(SettingsOp::DeviceInformation(info)) => {
                ctx.app
                    .store
                    .set_device_info(ctx.login(), ctx.device_id(), &info)
                    .await?;
                section(S::DeviceInformation, status::SUCCESS)
            }
            Ok(SettingsOp::UserInformation) => user_information(ctx).await,
            Ok(SettingsOp::DevicePassword(password)) => {
                ctx.app
                    .store
                    .set_recovery_password(ctx.login(), ctx.device_id(), &password)
                    .await?;
                section(S::DevicePassword, status::SUCCESS)
            }
            Ok(SettingsOp::Unsupported(name)) => {
                let tag = crate::wbxml::Tag::from_name("Settings", &name).unwrap_or(S::Settings);
                section(tag, status::PROTOCOL_ERROR)
            }
        };
        doc.push(answer);
    }
    Ok(Reply::Wbxml(doc))
}
