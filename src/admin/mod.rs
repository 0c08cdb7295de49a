//! Device and account administration: the operations behind the CLI
//! (`airsync devices …`, `airsync accounts …`, `airsync domains …`), the JSON API and
//! the web page, which all call this module and nothing else. Every change is
//! recorded in the audit table with its time and administrator.

pub mod api;
pub mod cli;
pub mod ops;
pub mod trace;
mod web;

use serde::Serialize;

use crate::eas::ProtocolVersion;
use crate::policy::effective::{self, DeviceAccess};
use crate::policy::rules::Verdict;
use crate::settings::Settings;
use crate::state::{AuditEntry, Device, Overrides, Scope, Setting, Store, StoreError};

/// Why an administrative operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} not found")]
    NotFound(String),
    /// The operation does not apply (e.g. account-only wipe of a 14.1 device).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A device as the admin surfaces show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub login: String,
    pub device_id: String,
    pub device_type: String,
    pub user_agent: String,
    pub protocol_version: String,
    pub model: String,
    pub friendly_name: String,
    pub os: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_command: String,
    /// The device holds a key of its current effective policy.
    pub provisioned: bool,
    /// The effective policy's name, and the product page's short form of it.
    pub policy: String,
    pub policy_label: String,
    /// The policy the device last acknowledged (its key stands for it).
    pub policy_acknowledged: String,
    /// The device's own policy and PIN-lock (`None`: inherited).
    pub policy_override: Option<String>,
    pub pin_lock: Option<bool>,
    /// `none`, `pending`, `wiped`, `account-pending`, `account-wiped`.
    pub wipe_state: String,
    pub wipe_requested: i64,
    pub wipe_acknowledged: i64,
    /// Whether the device may connect now, and why.
    pub allowed: bool,
    pub access: String,
    /// The administrator's decision: `None` (rules decide), `allow` or `block`.
    pub access_override: Option<String>,
    /// Recorded at its last request.
    pub blocked: bool,
    pub trace: bool,
}

/// An account as the admin surfaces show it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub login: String,
    /// Whether it may use ActiveSync, with the effective device rules and policy.
    pub allowed: bool,
    pub device_rules: String,
    pub policy: String,
    /// What the account and its domain set themselves (`null`: inherited).
    pub account: Overrides,
    pub domain: Option<String>,
    pub domain_overrides: Overrides,
    pub hidden_folders: Vec<String>,
    pub aliases: Vec<Alias>,
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alias {
    pub name: String,
    pub target: String,
}

/// A device's access as the administrator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceAccessChoice {
    Allow,
    Block,
    /// The rules decide again.
    Rules,
}

/// The operations. Cheap to build; holds the configuration and the store.
#[derive(Clone)]
pub struct Admin {
    pub settings: Settings,
    pub store: Store,
    /// The running server's metrics and push hub, for `/metrics`.
    pub ops: Option<ops::Ops>,
}

impl Admin {
    pub fn new(settings: Settings, store: Store) -> Admin {
        Admin {
            settings,
            store,
            ops: None,
        }
    }

    /// The admin operations of a running server, which also serve its metrics.
    pub fn with_ops(mut self, ops: ops::Ops) -> Admin {
        self.ops = Some(ops);
        self
    }

    async fn view(&self, d: Device) -> Result<DeviceView, AdminError> {
        let layers = effective::layers(&self.store, &d.login).await?;
        let policy = effective::effective_policy(&self.settings, &layers, &d);
        let access = effective::device_access(&self.settings, &layers, &d);
        let why = match &access {
            DeviceAccess::Admin(true) => "allowed by an administrator".to_string(),
            DeviceAccess::Admin(false) => "blocked by an administrator".to_string(),
            DeviceAccess::Rules(Verdict::Allowed(e)) => format!("allowed by rule {e:?}"),
            DeviceAccess::Rules(Verdict::Prohibited(e)) => format!("prohibited by rule {e:?}"),
            DeviceAccess::Rules(Verdict::NoMatch) => "prohibited: no rule matches".to_string(),
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(DeviceView {
            provisioned: d.policy_key != 0 && d.policy_hash == policy.fingerprint,
            policy_label: policy.label(),
            policy_acknowledged: d.policy_name,
            policy: policy.name,
            policy_override: some(&d.policy_override),
            pin_lock: d.pin_lock,
            allowed: access.allowed(),
            access: why,
            access_override: some(&d.access_override),
            wipe_state: d.wipe_state,
            wipe_requested: d.wipe_requested,
            wipe_acknowledged: d.wipe_acknowledged,
            blocked: d.blocked,
            trace: d.trace,
            login: d.login,
            device_id: d.device_id,
            device_type: d.device_type,
            user_agent: d.user_agent,
            protocol_version: d.protocol_version,
            model: d.info.model,
            friendly_name: d.info.friendly_name,
            os: d.info.os,
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            last_command: d.last_command,
        })
    }

    /// All devices, or those of one account.
    pub async fn devices(&self, account: Option<&str>) -> Result<Vec<DeviceView>, AdminError> {
        let mut out = Vec::new();
        for d in self.store.devices(account).await? {
            out.push(self.view(d).await?);
        }
        Ok(out)
    }

    async fn stored(&self, login: &str, device_id: &str) -> Result<Device, AdminError> {
        self.store
            .device(login, device_id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("device {device_id} of {login}")))
    }

    pub async fn device(&self, login: &str, device_id: &str) -> Result<DeviceView, AdminError> {
        let d = self.stored(login, device_id).await?;
        self.view(d).await
    }

    /// Runs a device update that reports whether the device exists, then audits it.
    async fn on_device(
        &self,
        actor: &str,
        action: &str,
        login: &str,
        device_id: &str,
        detail: &str,
        done: Result<bool, StoreError>,
    ) -> Result<DeviceView, AdminError> {
        if !done? {
            return Err(AdminError::NotFound(format!(
                "device {device_id} of {login}"
            )));
        }
        self.store
            .audit(actor, action, login, device_id, detail)
            .await?;
        tracing::info!(target: "airsync", admin = actor, action, login, device = device_id, detail, "admin action");
        self.device(login, device_id).await
    }

    /// "Wipe Out": the device is told to wipe itself at its next request. An
    /// account-only wipe (MS-ASPROV AccountOnlyRemoteWipe) needs EAS 16.1.
    pub async fn wipe(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        account_only: bool,
    ) -> Result<DeviceView, AdminError> {
        let d = self.stored(login, device_id).await?;
        if d.wipe().active() && !matches!(d.wipe_state.as_str(), "pending" | "account-pending") {
            return Err(AdminError::Refused(format!(
                "device {device_id} is already wiped ({})",
                d.wipe_state
            )));
        }
        if account_only {
            let version = ProtocolVersion::parse(&d.protocol_version);
            if version.is_none_or(|v| v < ProtocolVersion::V16_1) {
                return Err(AdminError::Refused(format!(
                    "account-only wipe needs EAS 16.1; device {device_id} speaks {}",
                    if d.protocol_version.is_empty() {
                        "an unknown version"
                    } else {
                        &d.protocol_version
                    }
                )));
            }
        }
        let done = self
            .store
            .request_wipe(login, device_id, account_only)
            .await;
        let action = if account_only { "wipe-account" } else { "wipe" };
        self.on_device(actor, action, login, device_id, "", done)
            .await
    }

    /// "Cancel": withdraws a wipe the device has not acknowledged.
    pub async fn cancel_wipe(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
    ) -> Result<DeviceView, AdminError> {
        let d = self.stored(login, device_id).await?;
        if !self.store.cancel_wipe(login, device_id).await? {
            return Err(AdminError::Refused(match d.wipe_state.as_str() {
                "none" => format!("no wipe is pending for device {device_id}"),
                state => format!(
                    "device {device_id} has acknowledged the wipe ({state}); remove it instead"
                ),
            }));
        }
        self.on_device(actor, "cancel-wipe", login, device_id, "", Ok(true))
            .await
    }

    /// "Enable / Disable PIN-lock" (`None`: as the policy says). The device must
    /// provision again if its effective policy changes.
    pub async fn pin(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        on: Option<bool>,
    ) -> Result<DeviceView, AdminError> {
        let detail = match on {
            Some(true) => "on",
            Some(false) => "off",
            None => "policy",
        };
        let done = self.store.set_pin_lock(login, device_id, on).await;
        self.on_device(actor, "pin", login, device_id, detail, done)
            .await
    }

    /// The device's own policy (`None`: inherit).
    pub async fn device_policy(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        name: Option<&str>,
    ) -> Result<DeviceView, AdminError> {
        self.check_policy(name)?;
        let done = self
            .store
            .set_policy_override(login, device_id, name.unwrap_or(""))
            .await;
        self.on_device(
            actor,
            "policy",
            login,
            device_id,
            name.unwrap_or("inherit"),
            done,
        )
        .await
    }

    /// Block or allow one device regardless of the rules, or let the rules decide.
    pub async fn device_access(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        choice: DeviceAccessChoice,
    ) -> Result<DeviceView, AdminError> {
        let (value, action) = match choice {
            DeviceAccessChoice::Allow => ("allow", "allow"),
            DeviceAccessChoice::Block => ("block", "block"),
            DeviceAccessChoice::Rules => ("", "unblock"),
        };
        let done = self
            .store
            .set_access_override(login, device_id, value)
            .await;
        self.on_device(actor, action, login, device_id, "", done)
            .await
    }

    /// Switches the protocol trace of a device.
    pub async fn trace(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        on: bool,
    ) -> Result<DeviceView, AdminError> {
        let done = self.store.set_trace(login, device_id, on).await;
        self.on_device(
            actor,
            "trace",
            login,
            device_id,
            if on { "on" } else { "off" },
            done,
        )
        .await
    }

    /// The file a device's trace goes to.
    pub fn trace_path(&self, login: &str, device_id: &str) -> std::path::PathBuf {
        trace::path(&self.settings.admin.trace_dir, login, device_id)
    }

    /// Forgets the sync state of a device (all folders, and its folder hierarchy), or
    /// of one folder (collection id): the device syncs it again from scratch.
    pub async fn resync(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
        folder: Option<&str>,
    ) -> Result<DeviceView, AdminError> {
        self.stored(login, device_id).await?;
        match folder {
            Some(f) => {
                self.store
                    .forget_sync_state(login, device_id, Some(f))
                    .await?
            }
            None => self.store.forget_device_state(login, device_id).await?,
        }
        self.on_device(
            actor,
            "resync",
            login,
            device_id,
            folder.unwrap_or("all"),
            Ok(true),
        )
        .await
    }

    /// Removes a device of an account and everything airsync keeps for it.
    pub async fn remove(
        &self,
        actor: &str,
        login: &str,
        device_id: &str,
    ) -> Result<(), AdminError> {
        if !self.store.remove_device(login, device_id).await? {
            return Err(AdminError::NotFound(format!(
                "device {device_id} of {login}"
            )));
        }
        self.store
            .audit(actor, "remove", login, device_id, "")
            .await?;
        tracing::info!(target: "airsync", admin = actor, login, device = device_id, "admin removed device");
        Ok(())
    }

    fn check_policy(&self, name: Option<&str>) -> Result<(), AdminError> {
        match name {
            Some(n) if !self.settings.policy_exists(n) => {
                let mut known: Vec<&str> =
                    self.settings.policies.keys().map(String::as_str).collect();
                known.insert(0, crate::policy::DEFAULT_POLICY);
                Err(AdminError::Invalid(format!(
                    "no policy {n:?}; configured: {}",
                    known.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }

    /// Sets (`Some`) or clears (`None`, inherit) an override of a domain or account:
    /// access (`allow`/`deny`), device rules, or policy name.
    pub async fn set_override(
        &self,
        actor: &str,
        scope: Scope,
        name: &str,
        setting: Setting,
        value: Option<&str>,
    ) -> Result<(), AdminError> {
        let name = match scope {
            Scope::Domain => name.trim().to_ascii_lowercase(),
            Scope::Account => name.trim().to_string(),
        };
        if name.is_empty() {
            return Err(AdminError::Invalid(format!(
                "empty {} name",
                scope.as_str()
            )));
        }
        let action = match setting {
            Setting::Access => {
                if let Some(v) = value.filter(|v| !["allow", "deny"].contains(v)) {
                    return Err(AdminError::Invalid(format!(
                        "access must be allow or deny, not {v:?}"
                    )));
                }
                "access"
            }
            Setting::DeviceRules => "device-rules",
            Setting::Policy => {
                self.check_policy(value)?;
                "policy"
            }
        };
        self.store
            .set_override(scope, &name, setting, value)
            .await?;
        let (login, detail) = match scope {
            Scope::Account => (name.clone(), value.unwrap_or("inherit").to_string()),
            Scope::Domain => (
                String::new(),
                format!("domain {name}: {}", value.unwrap_or("inherit")),
            ),
        };
        self.store.audit(actor, action, &login, "", &detail).await?;
        tracing::info!(target: "airsync", admin = actor, action, scope = scope.as_str(), name = %name, detail = %detail, "admin action");
        Ok(())
    }

    /// What an account may do and has set, with its devices.
    pub async fn account(&self, login: &str) -> Result<AccountView, AdminError> {
        let layers = effective::layers(&self.store, login).await?;
        let probe = Device::unregistered(login, "", "");
        let policy = effective::effective_policy(&self.settings, &layers, &probe);
        let [domain_overrides, account] = layers.clone();
        Ok(AccountView {
            login: login.to_string(),
            allowed: effective::account_allowed(&self.settings, &layers),
            device_rules: effective::device_rules(&self.settings, &layers).to_string(),
            policy: policy.name,
            account,
            domain: effective::domain_of(login),
            domain_overrides,
            hidden_folders: self.store.hidden_folders(login).await?,
            aliases: self
                .store
                .folder_aliases(login)
                .await?
                .into_iter()
                .map(|(name, target)| Alias { name, target })
                .collect(),
            devices: self.devices(Some(login)).await?,
        })
    }

    /// Hides a mailbox from the account's devices, or shows it again.
    pub async fn folder_hidden(
        &self,
        actor: &str,
        login: &str,
        folder: &str,
        hidden: bool,
    ) -> Result<(), AdminError> {
        if folder.trim().is_empty() {
            return Err(AdminError::Invalid("empty folder name".into()));
        }
        self.store.set_folder_hidden(login, folder, hidden).await?;
        let action = if hidden { "hide-folder" } else { "show-folder" };
        self.store.audit(actor, action, login, "", folder).await?;
        Ok(())
    }

    /// Adds (or retargets) a mailbox alias of an account.
    pub async fn alias_add(
        &self,
        actor: &str,
        login: &str,
        name: &str,
        target: &str,
    ) -> Result<(), AdminError> {
        if name.trim().is_empty() || target.trim().is_empty() {
            return Err(AdminError::Invalid(
                "an alias needs a name and a target mailbox".into(),
            ));
        }
        self.store.put_folder_alias(login, name, target).await?;
        self.store
            .audit(
                actor,
                "alias-add",
                login,
                "",
                &format!("{name} -> {target}"),
            )
            .await?;
        Ok(())
    }

    pub async fn alias_remove(
        &self,
        actor: &str,
        login: &str,
        name: &str,
    ) -> Result<(), AdminError> {
        if !self.store.remove_folder_alias(login, name).await? {
            return Err(AdminError::NotFound(format!("alias {name:?} of {login}")));
        }
        self.store
            .audit(actor, "alias-remove", login, "", name)
            .await?;
        Ok(())
    }

    /// The audit trail, newest first.
    pub async fn audit(
        &self,
        login: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, AdminError> {
        Ok(self.store.audit_log(login, limit).await?)
    }

    /// What a domain set itself.
    pub async fn domain(&self, domain: &str) -> Result<Overrides, AdminError> {
        Ok(self
            .store
            .overrides(Scope::Domain, &domain.trim().to_ascii_lowercase())
            .await?)
    }
}
