//! The admin web page: server-rendered HTML with a little inline script that calls
//! the JSON API (same origin, session cookie) and reloads. Per account, the device
//! table of the product page (client type, id, policy, last access, remote wipe) with
//! its buttons, then the account's access settings, hidden folders and aliases.

use std::fmt::Write;

use super::{AccountView, Admin, AdminError, DeviceView};

/// Escapes text for HTML content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left}th{background:#eee}\
.pending{color:#b00;font-weight:bold}button{margin:0 .15em}section{margin-top:2em}";

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

pub(super) fn login_page(message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p id=\"message\" class=\"pending\">{}</p>", esc(m)))
        .unwrap_or_default();
    shell(
        "airsync admin: log in",
        &format!(
            "<h1>airsync administration</h1>{msg}<form method=\"post\" action=\"/login\">\
             <label>Admin token <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\"></label> \
             <button type=\"submit\" id=\"login\">Log in</button></form>"
        ),
    )
}

/// The script: every button carries its API path and JSON body.
const SCRIPT: &str = r#"<script>
async function act(path, body) {
  const r = await fetch(path, {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-Requested-With': 'airsync'},
    body: JSON.stringify(body || {})});
  if (!r.ok) { let m = r.status + ''; try { m = (await r.json()).error; } catch (e) {} alert(m); }
  location.reload();
}
async function del(path) {
  const r = await fetch(path, {method: 'DELETE', credentials: 'same-origin', headers: {'X-Requested-With': 'airsync'}});
  if (!r.ok) { alert(r.status); }
  location.reload();
}
document.addEventListener('click', ev => {
  const b = ev.target.closest('button[data-path]');
  if (!b) return;
  if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
  if (b.dataset.method === 'DELETE') { del(b.dataset.path); return; }
  let body = JSON.parse(b.dataset.body || '{}');
  for (const [k, id] of Object.entries(JSON.parse(b.dataset.fields || '{}'))) {
    const v = document.getElementById(id).value; body[k] = v === '' ? null : v;
  }
  act(b.dataset.path, body);
});
</script>"#;

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn time(t: i64) -> String {
    if t == 0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A button that POSTs `body` to `path`.
fn button(id: &str, label: &str, path: &str, body: &str, confirm: Option<&str>) -> String {
    let confirm = confirm
        .map(|c| format!(" data-confirm=\"{}\"", esc(c)))
        .unwrap_or_default();
    format!(
        "<button type=\"button\" id=\"{}\" data-path=\"{}\" data-body=\"{}\"{confirm}>{}</button>",
        esc(id),
        esc(path),
        esc(body),
        esc(label)
    )
}

fn device_row(d: &DeviceView) -> String {
    let base = format!("/api/devices/{}/{}", enc(&d.login), enc(&d.device_id));
    let wipe = match d.wipe_state.as_str() {
        "none" => String::new(),
        "pending" => "<span class=\"pending\">pending</span>".into(),
        "account-pending" => "<span class=\"pending\">pending (account only)</span>".into(),
        other => format!(
            "<span class=\"pending\">{}</span> {}",
            esc(other),
            esc(&time(d.wipe_acknowledged))
        ),
    };
    let mut buttons = vec![
        button(
            &format!("pin-on-{}", d.device_id),
            "Enable PIN-lock",
            &format!("{base}/pin"),
            "{\"on\":true}",
            None,
        ),
        button(
            &format!("pin-off-{}", d.device_id),
            "Disable PIN-lock",
            &format!("{base}/pin"),
            "{\"on\":false}",
            None,
        ),
        button(
            &format!("wipe-{}", d.device_id),
            "Wipe Out",
            &format!("{base}/wipe"),
            "{}",
            Some("Erase all data on this device at its next connection?"),
        ),
    ];
    if d.protocol_version == "16.1" {
        buttons.push(button(
            &format!("wipe-account-{}", d.device_id),
            "Wipe account only",
            &format!("{base}/wipe"),
            "{\"account_only\":true}",
            Some("Erase this account's data on the device at its next connection?"),
        ));
    }
    buttons.push(button(
        &format!("cancel-{}", d.device_id),
        "Cancel",
        &format!("{base}/cancel-wipe"),
        "{}",
        None,
    ));
    let (block_label, block_action) = if d.access_override.as_deref() == Some("block") {
        ("Unblock", "unblock")
    } else {
        ("Block", "block")
    };
    buttons.push(button(
        &format!("block-{}", d.device_id),
        block_label,
        &format!("{base}/{block_action}"),
        "{}",
        None,
    ));
    buttons.push(format!(
        "<button type=\"button\" id=\"{}\" data-path=\"{}\" data-method=\"DELETE\" data-confirm=\"Forget this device and its sync state?\">Remove</button>",
        esc(&format!("remove-{}", d.device_id)),
        esc(&base)
    ));
    format!(
        "<tr id=\"device-{id}\"><td>{ty}</td><td>{id}</td><td>{policy}</td><td>{seen}</td><td class=\"wipe\">{wipe}</td>\
         <td>{eas}</td><td>{access}</td><td>{buttons}</td></tr>",
        ty = esc(&d.device_type),
        id = esc(&d.device_id),
        policy = esc(&d.policy_label),
        seen = esc(&time(d.last_seen)),
        eas = esc(&d.protocol_version),
        access = esc(&d.access),
        buttons = buttons.join(""),
    )
}

fn account_section(a: &AccountView) -> String {
    let base = format!("/api/accounts/{}", enc(&a.login));
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2>Account {}</h2><p>ActiveSync: <b id=\"account-access\">{}</b>; device rules: <code>{}</code>; policy: {}</p>",
        esc(&a.login),
        if a.allowed { "allowed" } else { "not allowed" },
        esc(&a.device_rules),
        esc(&a.policy)
    );
    s.push_str(
        "<h3>AirSync Clients</h3><table id=\"devices\"><tr><th>Client Type</th><th>ID</th><th>Policy</th>\
         <th>Last Access</th><th>Remote Device Wipe</th><th>EAS</th><th>Access</th><th></th></tr>",
    );
    for d in &a.devices {
        s.push_str(&device_row(d));
    }
    s.push_str("</table>");
    if a.devices.is_empty() {
        s.push_str("<p>No device has used this account.</p>");
    }

    let own = |v: &Option<String>| v.clone().unwrap_or_default();
    let _ = write!(
        s,
        "<section><h3>Access</h3><p>Empty fields inherit from the domain ({}) and the server.</p>\
         <label>ActiveSync (allow / deny) <input id=\"access\" value=\"{}\"></label> {}<br>\
         <label>Enabled Mobile Device IDs <input id=\"rules\" size=\"50\" value=\"{}\"></label> {}<br>\
         <label>Policy <input id=\"policy\" value=\"{}\"></label> {}</section>",
        esc(a.domain.as_deref().unwrap_or("none")),
        esc(&own(&a.account.access)),
        field_button("save-access", &format!("{base}/access"), "access"),
        esc(&own(&a.account.device_rules)),
        field_button("save-rules", &format!("{base}/rules"), "rules"),
        esc(&own(&a.account.policy)),
        field_button("save-policy", &format!("{base}/policy"), "policy"),
    );

    s.push_str("<section><h3>Hidden folders</h3><ul id=\"hidden-folders\">");
    for f in &a.hidden_folders {
        let body = serde_json::json!({ "folder": f }).to_string();
        let _ = write!(
            s,
            "<li>{} {}</li>",
            esc(f),
            button("", "Show", &format!("{base}/show-folder"), &body, None)
        );
    }
    let _ = write!(
        s,
        "</ul><input id=\"new-hidden\" placeholder=\"mailbox\"> {}</section>",
        fields_button(
            "hide-folder",
            "Hide",
            &format!("{base}/hide-folder"),
            &[("folder", "new-hidden")]
        )
    );

    s.push_str("<section><h3>Aliases</h3><ul id=\"aliases\">");
    for al in &a.aliases {
        let body = serde_json::json!({ "name": al.name }).to_string();
        let _ = write!(
            s,
            "<li>{} → {} {}</li>",
            esc(&al.name),
            esc(&al.target),
            button("", "Remove", &format!("{base}/alias-remove"), &body, None)
        );
    }
    let _ = write!(
        s,
        "</ul><input id=\"alias-name\" placeholder=\"name\"> <input id=\"alias-target\" placeholder=\"target mailbox\"> {}</section>",
        fields_button(
            "add-alias",
            "Add",
            &format!("{base}/alias-add"),
            &[("name", "alias-name"), ("target", "alias-target")]
        )
    );
    s
}

/// A button that sends the values of input fields: `(json key, input id)`.
fn fields_button(id: &str, label: &str, path: &str, fields: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    format!(
        "<button type=\"button\" id=\"{}\" data-path=\"{}\" data-fields=\"{}\">{}</button>",
        esc(id),
        esc(path),
        esc(&serde_json::Value::Object(map).to_string()),
        esc(label)
    )
}

fn field_button(id: &str, path: &str, input: &str) -> String {
    fields_button(id, "Save", path, &[("value", input)])
}

pub(super) async fn page(admin: &Admin, account: Option<&str>) -> Result<String, AdminError> {
    let mut body = String::from(
        "<h1>airsync administration</h1><form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>",
    );
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/\"><label>Account <input name=\"account\" id=\"account\" value=\"{}\"></label> \
         <button type=\"submit\" id=\"show\">Show</button></form>",
        esc(account.unwrap_or(""))
    );
    match account {
        Some(login) => body.push_str(&account_section(&admin.account(login.trim()).await?)),
        None => {
            let mut logins: Vec<String> = admin
                .store
                .devices(None)
                .await?
                .into_iter()
                .map(|d| d.login)
                .collect();
            logins.sort();
            logins.dedup();
            body.push_str("<h2>Accounts with devices</h2><ul id=\"accounts\">");
            for l in logins {
                let _ = write!(
                    body,
                    "<li><a href=\"/?account={}\">{}</a></li>",
                    esc(&enc(&l)),
                    esc(&l)
                );
            }
            body.push_str("</ul>");
        }
    }
    body.push_str(SCRIPT);
    Ok(shell("airsync admin", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(enc("a b/c@d"), "a%20b%2Fc@d");
    }
}
