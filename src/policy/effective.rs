//! What applies to one account and device: whether the account may use ActiveSync,
//! which device rules decide, and which policy it must enforce. Each is the most
//! specific setting of: device (policy, PIN-lock, the administrator's allow/block),
//! account, domain (the part of the login after `@`), server (`[access]`,
//! `[provision]`).

use serde::Serialize;

use super::rules::{DeviceRules, Verdict};
use super::{DEFAULT_POLICY, Policy};
use crate::settings::{AccessDefault, Settings};
use crate::state::{Device, Overrides, Store, StoreError};

/// The domain of a login (`alice@example.org` → `example.org`), lower-cased.
pub fn domain_of(login: &str) -> Option<String> {
    login
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// The stored overrides that apply to an account: its domain's, then its own.
pub async fn layers(store: &Store, login: &str) -> Result<[Overrides; 2], StoreError> {
    store
        .override_layers(domain_of(login).as_deref(), login)
        .await
}

/// The most specific value of one override, or the server's.
fn pick<'a>(
    layers: &'a [Overrides; 2],
    get: impl Fn(&'a Overrides) -> Option<&'a str>,
    server: &'a str,
) -> &'a str {
    layers.iter().rev().find_map(get).unwrap_or(server)
}

/// Whether the account may use ActiveSync at all.
pub fn account_allowed(settings: &Settings, layers: &[Overrides; 2]) -> bool {
    let server = match settings.access.default {
        AccessDefault::Allow => "allow",
        AccessDefault::Deny => "deny",
    };
    pick(layers, |o| o.access.as_deref(), server) == "allow"
}

/// The device rules that apply to the account.
pub fn device_rules<'a>(settings: &'a Settings, layers: &'a [Overrides; 2]) -> &'a str {
    pick(
        layers,
        |o| o.device_rules.as_deref(),
        &settings.access.device_rules,
    )
}

/// Whether a device may connect, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAccess {
    /// The administrator allowed or blocked this device.
    Admin(bool),
    /// The rules decided.
    Rules(Verdict),
}

impl DeviceAccess {
    pub fn allowed(&self) -> bool {
        match self {
            DeviceAccess::Admin(allowed) => *allowed,
            DeviceAccess::Rules(v) => v.allowed(),
        }
    }
}

pub fn device_access(
    settings: &Settings,
    layers: &[Overrides; 2],
    device: &Device,
) -> DeviceAccess {
    match device.access_override.as_str() {
        "allow" => DeviceAccess::Admin(true),
        "block" => DeviceAccess::Admin(false),
        _ => DeviceAccess::Rules(
            DeviceRules::parse(device_rules(settings, layers))
                .check(&device.device_type, &device.device_id),
        ),
    }
}

/// The policy a device must enforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// The policy's name, e.g. `default`.
    pub name: String,
    pub policy: Policy,
    /// Changes whenever `policy` does: the device must then provision again.
    pub fingerprint: String,
}

impl Effective {
    /// The product page's short form, e.g. `strict {UsePIN=YES;}`.
    pub fn label(&self) -> String {
        let pin = if self.policy.device_password_enabled {
            "{UsePIN=YES;}"
        } else {
            "{}"
        };
        format!("{} {pin}", self.name)
    }
}

/// The policy of `name`, if it exists.
pub fn named_policy(settings: &Settings, name: &str) -> Option<Policy> {
    if name == DEFAULT_POLICY {
        Some(Policy::from_settings(&settings.provision))
    } else {
        settings.policies.get(name).cloned()
    }
}

pub fn effective_policy(
    settings: &Settings,
    layers: &[Overrides; 2],
    device: &Device,
) -> Effective {
    let assigned = match device.policy_override.as_str() {
        "" => pick(layers, |o| o.policy.as_deref(), &settings.provision.policy),
        own => own,
    };
    let (name, mut policy) = match named_policy(settings, assigned) {
        Some(p) => (assigned.to_string(), p),
        None => {
            // Removed from the configuration since it was assigned: the server's.
            tracing::warn!(target: "airsync", policy = assigned, login = %device.login,
                device = %device.device_id, "assigned policy is not configured; using the server's");
            let name = settings.provision.policy.clone();
            let p = named_policy(settings, &name)
                .unwrap_or_else(|| Policy::from_settings(&settings.provision));
            (name, p)
        }
    };
    if let Some(on) = device.pin_lock {
        policy.device_password_enabled = on;
    }
    let fingerprint = policy.fingerprint();
    Effective {
        name,
        policy,
        fingerprint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> Settings {
        Settings::from_toml(&format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[imap]\nurl = \"imap://127.0.0.1:143\"\n{extra}"
        ))
        .unwrap()
    }

    fn device(id: &str) -> Device {
        let mut d = crate::policy::tests::device(1, "");
        d.device_id = id.into();
        d.device_type = "iPhone".into();
        d
    }

    fn layer(access: Option<&str>, rules: Option<&str>, policy: Option<&str>) -> Overrides {
        Overrides {
            access: access.map(Into::into),
            device_rules: rules.map(Into::into),
            policy: policy.map(Into::into),
        }
    }

    #[test]
    fn most_specific_wins() {
        let s = settings(
            "[access]\ndefault = \"deny\"\ndevice_rules = \"!bad*, *\"\n[policies.strict]\ndevice_password_enabled = true\n",
        );
        let none = [Overrides::default(), Overrides::default()];
        assert!(!account_allowed(&s, &none));
        assert!(account_allowed(
            &s,
            &[layer(Some("allow"), None, None), Overrides::default()]
        ));
        assert!(!account_allowed(
            &s,
            &[
                layer(Some("allow"), None, None),
                layer(Some("deny"), None, None)
            ]
        ));

        assert!(!device_access(&s, &none, &device("bad1")).allowed());
        assert!(device_access(&s, &none, &device("good")).allowed());
        let domain_only_good = [layer(None, Some("good"), None), Overrides::default()];
        assert!(!device_access(&s, &domain_only_good, &device("other")).allowed());
        let account_all = [
            layer(None, Some("good"), None),
            layer(None, Some("*"), None),
        ];
        assert!(device_access(&s, &account_all, &device("other")).allowed());
        let mut blocked = device("good");
        blocked.access_override = "block".into();
        assert_eq!(
            device_access(&s, &none, &blocked),
            DeviceAccess::Admin(false)
        );
        let mut allowed = device("bad1");
        allowed.access_override = "allow".into();
        assert!(device_access(&s, &none, &allowed).allowed());
    }

    #[test]
    fn policy_levels_and_pin_lock() {
        let s = settings(
            "[policies.strict]\ndevice_password_enabled = true\nmin_device_password_length = 8\n",
        );
        let none = [Overrides::default(), Overrides::default()];
        let d = device("x");
        let base = effective_policy(&s, &none, &d);
        assert_eq!(
            (base.name.as_str(), base.policy.device_password_enabled),
            ("default", false)
        );

        let by_domain = effective_policy(
            &s,
            &[layer(None, None, Some("strict")), Overrides::default()],
            &d,
        );
        assert_eq!(
            (
                by_domain.name.as_str(),
                by_domain.policy.min_password_length
            ),
            ("strict", 8)
        );
        assert_ne!(by_domain.fingerprint, base.fingerprint);
        let by_account = effective_policy(
            &s,
            &[
                layer(None, None, Some("strict")),
                layer(None, None, Some("default")),
            ],
            &d,
        );
        assert_eq!(by_account.fingerprint, base.fingerprint);

        let mut own = device("x");
        own.policy_override = "strict".into();
        own.pin_lock = Some(false);
        let e = effective_policy(&s, &none, &own);
        assert_eq!(
            (e.name.as_str(), e.policy.device_password_enabled),
            ("strict", false)
        );
        own.pin_lock = Some(true);
        own.policy_override.clear();
        let e = effective_policy(&s, &none, &own);
        assert!(e.policy.device_password_enabled);
        assert_ne!(
            e.fingerprint, base.fingerprint,
            "PIN-lock makes the device provision again"
        );
        assert_eq!(e.label(), "default {UsePIN=YES;}");

        let mut gone = device("x");
        gone.policy_override = "removed".into();
        assert_eq!(
            effective_policy(&s, &none, &gone).fingerprint,
            base.fingerprint
        );
    }

    #[test]
    fn domains() {
        assert_eq!(domain_of("a@Example.ORG").as_deref(), Some("example.org"));
        assert_eq!(domain_of("a"), None);
        assert_eq!(domain_of("a@"), None);
    }
}
