//! The config contract (design.md, "Config contract"): a TOML file given by
//! `airsync serve --config FILE`, every key overridable by an environment variable
//! `AIRSYNC__SECTION__KEY`, unknown keys rejected. `config/example.toml` documents
//! every key; keep the two in step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Everything airsync reads from its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub store: Store,
    pub imap: Imap,
    #[serde(default)]
    pub caldav: Option<Dav>,
    #[serde(default)]
    pub carddav: Option<Dav>,
    #[serde(default)]
    pub smtp: Option<Smtp>,
    #[serde(default)]
    pub send: Send,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub provision: Provision,
    /// `[policies.NAME]`: named MS-ASPROV policies besides `default` (which is `[provision]`).
    #[serde(default)]
    pub policies: BTreeMap<String, crate::policy::Policy>,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub folders: Folders,
    /// `[directory]`: the organisation directory (GAL) for Search, Find and
    /// ResolveRecipients.
    #[serde(default)]
    pub directory: Directory,
    /// `[sieve]`: ManageSieve, for Out-of-Office (Settings Oof).
    #[serde(default)]
    pub sieve: Option<Sieve>,
    /// `[certificates]`: trust anchors of ValidateCert.
    #[serde(default)]
    pub certificates: Certificates,
    #[serde(default)]
    pub push: Push,
}

/// `[directory]`: where GAL entries come from. Both sources may be set; results are
/// merged (CardDAV first).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Path of a CardDAV address book on the `[carddav]` server holding the directory,
    /// e.g. `/directory/gal/`. Empty: no CardDAV directory.
    #[serde(default)]
    pub carddav: String,
    /// Login and password airsync reads that address book with; empty: the requesting
    /// user's own credentials (the upstream's rights then decide who sees it).
    #[serde(default)]
    pub carddav_user: String,
    #[serde(default)]
    pub carddav_password: String,
    /// `ldap://host:389` (plain LDAP; no TLS, see README). Empty: no LDAP directory.
    #[serde(default)]
    pub ldap_url: String,
    #[serde(default)]
    pub ldap_base_dn: String,
    /// Bind DN and password; empty DN: anonymous.
    #[serde(default)]
    pub ldap_bind_dn: String,
    #[serde(default)]
    pub ldap_bind_password: String,
    /// Filter every search is ANDed with.
    #[serde(default = "default_ldap_filter")]
    pub ldap_filter: String,
    /// GAL field → LDAP attribute, overriding the inetOrgPerson defaults (keys:
    /// display_name, first_name, last_name, email, phone, mobile_phone, home_phone,
    /// company, title, office, alias, picture, certificate).
    #[serde(default)]
    pub ldap_attributes: BTreeMap<String, String>,
    /// Most entries one search returns (and that airsync reads from a source).
    #[serde(default = "default_directory_max")]
    pub max_results: usize,
}

fn default_ldap_filter() -> String {
    "(objectClass=inetOrgPerson)".into()
}
fn default_directory_max() -> usize {
    100
}

/// `[sieve]`: the ManageSieve server (RFC 5804) holding the users' Sieve scripts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sieve {
    /// `sieve://host:4190`; `?tls=starttls` to require STARTTLS.
    pub url: String,
    /// Extra trust anchor (PEM) for STARTTLS.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name of the script airsync writes (it includes the user's previous one).
    #[serde(default = "default_sieve_script")]
    pub script: String,
}

fn default_sieve_script() -> String {
    "airsync".into()
}

/// `[certificates]`: what ValidateCert trusts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    /// PEM bundle of the system's trust store; empty: none.
    #[serde(default = "default_system_roots")]
    pub system_roots: String,
    /// Extra PEM trust anchors (e.g. the organisation's S/MIME CA).
    #[serde(default)]
    pub trust_file: Option<PathBuf>,
}

impl Default for Certificates {
    fn default() -> Self {
        Certificates {
            system_roots: default_system_roots(),
            trust_file: None,
        }
    }
}

fn default_system_roots() -> String {
    "/etc/ssl/certs/ca-certificates.crt".into()
}

/// `[server]`: the ActiveSync listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain; with `tls_key`, the listener speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The address phones use, e.g. `https://mail.example.org`; Autodiscover hands it out.
    pub public_url: Option<String>,
}

/// `[log]`: the AIRSYNC log level. Records carry the tracing target `airsync`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` (default) or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
}

/// `[store]`: where airsync keeps devices, folder maps and sync state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    #[serde(default = "default_store_url")]
    pub url: String,
}

/// `[imap]`: the upstream mail store; it also checks every login.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    /// `imap://host:143`, `imaps://host:993` or `imap://host:143?tls=starttls`.
    pub url: String,
    /// An extra trust anchor (PEM) for the upstream's certificate, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// Idle upstream connections per user are closed after this many seconds.
    #[serde(default = "default_pool_idle")]
    pub pool_idle_secs: u64,
    #[serde(default = "default_pool_max")]
    pub max_connections_per_user: usize,
}

/// `[caldav]` / `[carddav]`: the upstream DAV server (used from the PIM issue on).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dav {
    pub url: String,
    /// An extra trust anchor (PEM) for the upstream's certificate.
    pub ca_file: Option<PathBuf>,
}

/// `[smtp]`: the upstream submission server (SendMail, SmartReply, SmartForward and
/// the iCalendar replies of MeetingResponse).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// `smtp://host:587` (STARTTLS), `smtps://host:465`, `smtp://host:25?tls=none`.
    pub url: String,
    /// An extra trust anchor (PEM) for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Submit as this relay account instead of the user's own login (both set or
    /// neither). The From control of `[send]` applies either way.
    pub relay_login: Option<String>,
    pub relay_password: Option<String>,
    /// Longest a submission may take, in seconds. A message whose submission started
    /// more than twice this long ago and never finished (the process died meanwhile)
    /// is sent again when the device retries.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

fn default_smtp_timeout() -> u64 {
    60
}

/// `[send]`: what a device may send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// Extra From addresses per account (send-as), keyed by login:
    /// `aliases = { "alice@example.org" = ["sales@example.org"] }`. The login itself
    /// (when it is an address) is always allowed; so is the owner address of a shared
    /// mailbox the account has as a folder alias (`airsync accounts alias add`).
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
}

/// `[admin]`: the loopback admin listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// The bearer token of the admin API and web page. Empty: every admin request is
    /// refused (401); set it (or AIRSYNC__ADMIN__TOKEN) to use them.
    #[serde(default)]
    pub token: String,
    /// Where per-device protocol traces are written, one file per device.
    #[serde(default = "default_trace_dir")]
    pub trace_dir: PathBuf,
    /// Serve `/metrics` without the token (e.g. for a Prometheus on a private network).
    #[serde(default)]
    pub metrics_public: bool,
}

/// `[access]`: who may use ActiveSync, and with which devices. Domains and accounts
/// can override both in the store (`airsync accounts …`, the admin API and page).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// Whether an account without its own setting may use ActiveSync at all.
    #[serde(default)]
    pub default: AccessDefault,
    /// The server-wide "Enabled Mobile Device IDs" (see `policy::rules`).
    #[serde(default = "default_device_rules")]
    pub device_rules: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessDefault {
    #[default]
    Allow,
    Deny,
}

/// `[auth]`: how an EAS user name becomes an upstream login, and login protection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Appended as `@domain` to bare user names (`alice`, `EXAMPLE\alice`). Empty: bare
    /// names are passed to the upstream unchanged.
    #[serde(default)]
    pub default_domain: String,
    /// Seconds a verified password is remembered (as a salted hash).
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl_secs: u64,
    /// Failed logins allowed per user, and per client address, within `failure_window_secs`.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    #[serde(default = "default_failure_window")]
    pub failure_window_secs: u64,
}

/// `[provision]`: MS-ASPROV provisioning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// Require a provisioned policy key on every command (HTTP 449 / Status 142).
    #[serde(default = "yes")]
    pub required: bool,
    /// Ask devices for a PIN / password (DevicePasswordEnabled).
    #[serde(default)]
    pub device_password: bool,
    #[serde(default = "default_min_password_length")]
    pub min_password_length: u32,
    /// Seconds of inactivity before the device locks (0: device default).
    #[serde(default)]
    pub max_inactivity_secs: u32,
    /// The policy every device gets unless a domain, account or device has its own:
    /// `default` (the keys above) or the name of a `[policies.NAME]` section.
    #[serde(default = "default_policy_name")]
    pub policy: String,
}

/// `[folders]`: what devices see of each account's mailboxes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Folders {
    /// Mailboxes hidden from every device (IMAP names; `*` matches any run of
    /// characters). A hidden mailbox hides its children too.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// Devices that are not shown the children of INBOX: EAS versions (`"12.0"`) or
    /// device types (`"WindowsMail"`), compared without regard to case.
    #[serde(default = "default_inbox_children")]
    pub hide_inbox_children_for: Vec<String>,
}

impl Default for Folders {
    fn default() -> Self {
        Folders {
            hidden: Vec::new(),
            hide_inbox_children_for: default_inbox_children(),
        }
    }
}

fn default_inbox_children() -> Vec<String> {
    vec!["12.0".into()]
}

/// `[push]`: Ping and the hanging Sync (MS-ASCMD 2.2.1.13, 2.2.3.88.2, 2.2.3.198).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// Shortest heartbeat a device may ask for, in seconds (Ping Status 5 / Sync Status 14 below).
    #[serde(default = "default_min_heartbeat")]
    pub min_heartbeat_secs: u32,
    /// Longest heartbeat, in seconds (MS-ASCMD allows up to 3540).
    #[serde(default = "default_max_heartbeat")]
    pub max_heartbeat_secs: u32,
    /// Most folders one Ping may watch (Status 6 above).
    #[serde(default = "default_max_folders")]
    pub max_folders: usize,
    /// How often a watched user's CalDAV/CardDAV collections are polled, in seconds.
    #[serde(default = "default_dav_poll")]
    pub dav_poll_secs: u64,
    /// Use IMAP NOTIFY (RFC 5465) where the server offers it; `false` uses IDLE on
    /// INBOX plus STATUS polling of the other watched mailboxes (every `dav_poll_secs`).
    #[serde(default = "yes")]
    pub imap_notify: bool,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            min_heartbeat_secs: default_min_heartbeat(),
            max_heartbeat_secs: default_max_heartbeat(),
            max_folders: default_max_folders(),
            dav_poll_secs: default_dav_poll(),
            imap_notify: true,
        }
    }
}

fn default_min_heartbeat() -> u32 {
    60
}
fn default_max_heartbeat() -> u32 {
    3540
}
fn default_max_folders() -> usize {
    300
}
fn default_dav_poll() -> u64 {
    30
}

/// `[limits]`: bounds on what a request may cost.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted, in bytes (after gzip decoding).
    #[serde(default = "default_max_request")]
    pub max_request_bytes: usize,
    /// Contact pictures larger than this (decoded bytes) are not sent to devices.
    #[serde(default = "default_max_picture")]
    pub max_contact_picture_bytes: usize,
    /// Sustained requests a device may make per minute (Ping excepted); 0: no limit.
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute_per_device: u32,
    /// Requests a device may make in a burst before the per-minute rate applies.
    #[serde(default = "default_request_burst")]
    pub request_burst_per_device: u32,
    /// Sustained requests all devices of one account may make per minute together
    /// (Ping excepted); 0: no limit. Holds back an account whose many devices (or a
    /// client inventing new device ids) would flood the upstreams.
    #[serde(default = "default_requests_per_minute_per_user")]
    pub requests_per_minute_per_user: u32,
    /// Requests an account may make in a burst before its per-minute rate applies.
    #[serde(default = "default_request_burst_per_user")]
    pub request_burst_per_user: u32,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: default_log_level(),
            format: default_log_format(),
        }
    }
}
impl Default for Store {
    fn default() -> Self {
        Store {
            url: default_store_url(),
        }
    }
}
impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: default_admin_listen(),
            token: String::new(),
            trace_dir: default_trace_dir(),
            metrics_public: false,
        }
    }
}
impl Default for Access {
    fn default() -> Self {
        Access {
            default: AccessDefault::Allow,
            device_rules: default_device_rules(),
        }
    }
}
impl Default for Auth {
    fn default() -> Self {
        Auth {
            default_domain: String::new(),
            cache_ttl_secs: default_cache_ttl(),
            max_failures: default_max_failures(),
            failure_window_secs: default_failure_window(),
        }
    }
}
impl Default for Provision {
    fn default() -> Self {
        Provision {
            required: true,
            device_password: false,
            min_password_length: default_min_password_length(),
            max_inactivity_secs: 0,
            policy: default_policy_name(),
        }
    }
}
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: default_max_request(),
            max_contact_picture_bytes: default_max_picture(),
            requests_per_minute_per_device: default_requests_per_minute(),
            request_burst_per_device: default_request_burst(),
            requests_per_minute_per_user: default_requests_per_minute_per_user(),
            request_burst_per_user: default_request_burst_per_user(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 443))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}
fn default_log_level() -> String {
    "info".into()
}
fn default_log_format() -> String {
    "text".into()
}
fn default_store_url() -> String {
    "sqlite:///var/lib/airsync/airsync.db".into()
}
fn default_pool_idle() -> u64 {
    300
}
fn default_pool_max() -> usize {
    4
}
fn default_cache_ttl() -> u64 {
    300
}
fn default_max_failures() -> u32 {
    10
}
fn default_failure_window() -> u64 {
    900
}
fn default_min_password_length() -> u32 {
    4
}
fn default_max_request() -> usize {
    64 * 1024 * 1024
}
fn default_trace_dir() -> PathBuf {
    PathBuf::from("/var/lib/airsync/traces")
}
fn default_device_rules() -> String {
    "*".into()
}
fn default_policy_name() -> String {
    crate::policy::DEFAULT_POLICY.into()
}
fn default_max_picture() -> usize {
    48 * 1024
}
/// 10 a second: a looping device is held to a twentieth of what it could do, and a
/// fast initial sync (100 Syncs of 100 messages, then no-change Syncs) passes.
fn default_requests_per_minute() -> u32 {
    600
}
fn default_request_burst() -> u32 {
    200
}
/// Three devices at full pace.
fn default_requests_per_minute_per_user() -> u32 {
    1800
}
fn default_request_burst_per_user() -> u32 {
    600
}
fn yes() -> bool {
    true
}

impl Settings {
    /// Reads `path` (if given) and the `AIRSYNC__SECTION__KEY` environment variables.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(path) = path {
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        builder = builder.add_source(env_source(std::env::vars()));
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses a TOML document (and no environment); for tests and `check-config`.
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        Self::from_toml_and_env(text, std::iter::empty())
    }

    /// Parses a TOML document with the given environment overrides.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(env_source(env))
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if let Some(smtp) = &self.smtp
            && smtp.relay_login.is_some() != smtp.relay_password.is_some()
        {
            return Err(SettingsError::Invalid(
                "smtp.relay_login and smtp.relay_password must be set together".into(),
            ));
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(SettingsError::Invalid(
                    "server.tls_cert and server.tls_key must be set together".into(),
                ));
            }
            _ => {}
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(SettingsError::Invalid(format!(
                "log.format must be \"text\" or \"json\", not {:?}",
                self.log.format
            )));
        }
        if self.log.level.parse::<tracing::Level>().is_err() && self.log.level != "off" {
            return Err(SettingsError::Invalid(format!(
                "log.level must be one of error, warn, info, debug, trace, off; not {:?}",
                self.log.level
            )));
        }
        if !(self.store.url.starts_with("sqlite:") || self.store.url.starts_with("postgres")) {
            return Err(SettingsError::Invalid(format!(
                "store.url must start with sqlite: or postgres://, not {:?}",
                self.store.url
            )));
        }
        let push = &self.push;
        if push.min_heartbeat_secs == 0 || push.min_heartbeat_secs > push.max_heartbeat_secs {
            return Err(SettingsError::Invalid(
                "push.min_heartbeat_secs must be at least 1 and at most push.max_heartbeat_secs"
                    .into(),
            ));
        }
        if push.max_folders == 0 || push.dav_poll_secs == 0 {
            return Err(SettingsError::Invalid(
                "push.max_folders and push.dav_poll_secs must be at least 1".into(),
            ));
        }
        if self.policies.contains_key(crate::policy::DEFAULT_POLICY) {
            return Err(SettingsError::Invalid(
                "[policies.default] is reserved: the default policy is set in [provision]".into(),
            ));
        }
        if !self.policy_exists(&self.provision.policy) {
            return Err(SettingsError::Invalid(format!(
                "provision.policy names no [policies.{}] section",
                self.provision.policy
            )));
        }
        if let Some(k) = self
            .directory
            .ldap_attributes
            .keys()
            .find(|k| !crate::directory::ldap_attribute_keys().any(|known| known == k.as_str()))
        {
            return Err(SettingsError::Invalid(format!(
                "directory.ldap_attributes: unknown field {k:?}"
            )));
        }
        if !self.directory.ldap_url.is_empty() && !self.directory.ldap_url.starts_with("ldap://") {
            return Err(SettingsError::Invalid(
                "directory.ldap_url must start with ldap:// (no TLS)".into(),
            ));
        }
        if let Some(sieve) = &self.sieve
            && !sieve.url.starts_with("sieve://")
        {
            return Err(SettingsError::Invalid(
                "sieve.url must start with sieve://".into(),
            ));
        }
        Ok(())
    }

    /// Whether `name` is `default` or a configured `[policies.NAME]`.
    pub fn policy_exists(&self, name: &str) -> bool {
        name == crate::policy::DEFAULT_POLICY || self.policies.contains_key(name)
    }

    pub fn pool_idle(&self) -> Duration {
        Duration::from_secs(self.imap.pool_idle_secs)
    }
}

/// The environment as a config source: `AIRSYNC__SERVER__LISTEN` → `server.listen`.
fn env_source(vars: impl IntoIterator<Item = (String, String)>) -> config::Environment {
    let map: config::Map<String, String> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("AIRSYNC__"))
        .collect();
    config::Environment::with_prefix("AIRSYNC")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .source(Some(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "[server]\nlisten = \"127.0.0.1:8443\"\n[imap]\nurl = \"imap://127.0.0.1:143\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let s = Settings::from_toml(MINIMAL).unwrap();
        assert_eq!(s.server.listen.port(), 8443);
        assert_eq!(s.log.level, "info");
        assert!(s.provision.required);
        assert_eq!(s.admin.listen, "127.0.0.1:8081".parse().unwrap());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Settings::from_toml(&format!("{MINIMAL}[log]\nlevle = \"debug\"\n")).unwrap_err();
        assert!(err.to_string().contains("levle"), "{err}");
        let err = Settings::from_toml(&format!("{MINIMAL}[nonsense]\na = 1\n")).unwrap_err();
        assert!(err.to_string().contains("nonsense"), "{err}");
    }

    #[test]
    fn environment_overrides_file() {
        let env = [
            ("AIRSYNC__LOG__LEVEL".to_string(), "debug".to_string()),
            (
                "AIRSYNC__SERVER__LISTEN".to_string(),
                "127.0.0.1:9999".to_string(),
            ),
            (
                "AIRSYNC__PROVISION__REQUIRED".to_string(),
                "false".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let s = Settings::from_toml_and_env(MINIMAL, env).unwrap();
        assert_eq!(s.log.level, "debug");
        assert_eq!(s.server.listen.port(), 9999);
        assert!(!s.provision.required);
    }

    #[test]
    fn unknown_environment_key_is_rejected() {
        let env = [("AIRSYNC__LOG__COLOUR".to_string(), "red".to_string())];
        assert!(Settings::from_toml_and_env(MINIMAL, env).is_err());
    }

    #[test]
    fn tls_needs_both_halves() {
        let err = Settings::from_toml(&MINIMAL.replace("[imap]", "tls_cert = \"/x.pem\"\n[imap]"))
            .unwrap_err();
        assert!(err.to_string().contains("tls_key"), "{err}");
    }

    #[test]
    fn policies_and_access() {
        let text = format!(
            "{MINIMAL}[provision]\npolicy = \"strict\"\n[policies.strict]\ndevice_password_enabled = true\n\
             min_device_password_length = 6\n[access]\ndefault = \"deny\"\ndevice_rules = \"!x*, *\"\n"
        );
        let s = Settings::from_toml(&text).unwrap();
        assert_eq!(s.access.default, AccessDefault::Deny);
        assert!(s.policies["strict"].device_password_enabled);
        assert_eq!(s.policies["strict"].min_password_length, 6);
        let err =
            Settings::from_toml(&format!("{MINIMAL}[provision]\npolicy = \"nope\"\n")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = Settings::from_toml(&format!(
            "{MINIMAL}[policies.default]\nallow_camera = false\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
        let err = Settings::from_toml(&format!("{MINIMAL}[policies.x]\nallow_kamera = false\n"))
            .unwrap_err();
        assert!(err.to_string().contains("allow_kamera"), "{err}");
        let s = Settings::from_toml(MINIMAL).unwrap();
        assert_eq!(
            (s.access.default, s.access.device_rules.as_str()),
            (AccessDefault::Allow, "*")
        );
        assert!(s.admin.token.is_empty());
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../config/example.toml");
        Settings::from_toml(text).expect("config/example.toml must parse");
    }
}
