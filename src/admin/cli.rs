//! `airsync devices …`, `airsync accounts …`, `airsync domains …`: the admin
//! operations from the command line, acting on the store the configuration names
//! (the running server sees the changes at the device's next request).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::{Admin, AdminError, DeviceAccessChoice, DeviceView};
use crate::settings::Settings;
use crate::state::{Scope, Setting, Store};

/// The configuration file, shared by every admin verb.
#[derive(Args, Debug)]
pub struct ConfigArg {
    /// The configuration file (TOML); AIRSYNC__SECTION__KEY variables override it.
    #[arg(long, short, env = "AIRSYNC_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(subcommand)]
    pub command: DeviceCommand,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PinState {
    On,
    Off,
    /// As the device's policy says.
    Policy,
}

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// List devices (all, or of one account).
    List {
        #[arg(long)]
        account: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Everything known about one device.
    Show { account: String, device: String },
    /// "Wipe Out": the device erases itself at its next request.
    Wipe {
        account: String,
        device: String,
        /// Only this account's data (EAS 16.1 AccountOnlyRemoteWipe).
        #[arg(long)]
        account_only: bool,
    },
    /// Cancel a wipe the device has not acknowledged yet.
    CancelWipe { account: String, device: String },
    /// Enable / Disable PIN-lock (or follow the policy again).
    Pin {
        account: String,
        device: String,
        state: PinState,
    },
    /// The device's own policy; without NAME it inherits again.
    Policy {
        account: String,
        device: String,
        name: Option<String>,
    },
    /// Block one device, whatever the rules say.
    Block { account: String, device: String },
    /// Allow one device, whatever the rules say.
    Allow { account: String, device: String },
    /// Let the rules decide for this device again.
    Unblock { account: String, device: String },
    /// Forget the sync state of the device, or of one folder (collection id).
    Resync {
        account: String,
        device: String,
        #[arg(long)]
        folder: Option<String>,
    },
    /// Switch the protocol trace of a device on or off.
    Trace {
        account: String,
        device: String,
        state: OnOff,
    },
    /// Forget a device and its sync state.
    Remove { account: String, device: String },
}

#[derive(Args, Debug)]
pub struct AccountsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(subcommand)]
    pub command: AccountCommand,
}

/// A setting's new value, or `--inherit`.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Value {
    pub value: Option<String>,
    /// Remove the account's (or domain's) own value: inherit again.
    #[arg(long)]
    pub inherit: bool,
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// An account's settings, hidden folders, aliases and devices.
    Show { account: String },
    /// Whether the account may use ActiveSync: allow | deny | --inherit.
    Access {
        account: String,
        #[command(flatten)]
        value: Value,
    },
    /// The account's "Enabled Mobile Device IDs", e.g. "!phoneX*, !vendor1/*, *".
    Rules {
        account: String,
        #[command(flatten)]
        value: Value,
    },
    /// The account's policy name.
    Policy {
        account: String,
        #[command(flatten)]
        value: Value,
    },
    /// Hide a mailbox from the account's devices.
    HideFolder { account: String, folder: String },
    /// Show a hidden mailbox again.
    ShowFolder { account: String, folder: String },
    /// Mailbox aliases.
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// The audit trail (of one account, or of all).
    Audit {
        account: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum AliasCommand {
    /// Add (or retarget) an alias: NAME appears in the account's folder tree for TARGET.
    Add {
        account: String,
        name: String,
        target: String,
    },
    Remove {
        account: String,
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct DomainsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(subcommand)]
    pub command: DomainCommand,
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// A domain's own settings.
    Show { domain: String },
    /// Whether the domain's accounts may use ActiveSync: allow | deny | --inherit.
    Access {
        domain: String,
        #[command(flatten)]
        value: Value,
    },
    /// The domain's "Enabled Mobile Device IDs".
    Rules {
        domain: String,
        #[command(flatten)]
        value: Value,
    },
    /// The domain's policy name.
    Policy {
        domain: String,
        #[command(flatten)]
        value: Value,
    },
}

/// Who acts, for the audit trail: the invoking user.
fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

async fn open(config: &ConfigArg) -> Result<Admin, ExitCode> {
    let settings = Settings::load(config.config.as_deref()).map_err(|e| {
        eprintln!("airsync: {e}");
        ExitCode::from(2)
    })?;
    let store = Store::connect(&settings.store.url).await.map_err(|e| {
        eprintln!("airsync: {e}");
        ExitCode::FAILURE
    })?;
    Ok(Admin::new(settings, store))
}

fn finish<T>(result: Result<T, AdminError>, print: impl FnOnce(T)) -> ExitCode {
    match result {
        Ok(v) => {
            print(v);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("airsync: {e}");
            match e {
                AdminError::NotFound(_) => ExitCode::from(3),
                AdminError::Refused(_) | AdminError::Invalid(_) => ExitCode::from(4),
                AdminError::Store(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn print_table(devices: &[DeviceView]) {
    println!(
        "{:<28} {:<14} {:<34} {:<5} {:<22} {:<16} {:<8} LAST ACCESS",
        "ACCOUNT", "TYPE", "ID", "EAS", "POLICY", "WIPE", "ACCESS"
    );
    for d in devices {
        println!(
            "{:<28} {:<14} {:<34} {:<5} {:<22} {:<16} {:<8} {}",
            d.login,
            d.device_type,
            d.device_id,
            d.protocol_version,
            format!(
                "{}{}",
                d.policy_label,
                if d.provisioned {
                    ""
                } else {
                    " (not provisioned)"
                }
            ),
            d.wipe_state,
            if d.allowed { "allowed" } else { "blocked" },
            time(d.last_seen)
        );
    }
}

pub async fn devices(args: DevicesArgs) -> ExitCode {
    let admin = match open(&args.config).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let who = actor();
    let (a, who) = (&admin, who.as_str());
    let one = |r: Result<DeviceView, AdminError>| finish(r, |d| print_json(&d));
    use DeviceCommand as C;
    match args.command {
        C::List { account, json } => finish(a.devices(account.as_deref()).await, |all| {
            if json {
                print_json(&all)
            } else {
                print_table(&all)
            }
        }),
        C::Show { account, device } => one(a.device(&account, &device).await),
        C::Wipe {
            account,
            device,
            account_only,
        } => one(a.wipe(who, &account, &device, account_only).await),
        C::CancelWipe { account, device } => one(a.cancel_wipe(who, &account, &device).await),
        C::Pin {
            account,
            device,
            state,
        } => {
            let on = match state {
                PinState::On => Some(true),
                PinState::Off => Some(false),
                PinState::Policy => None,
            };
            one(a.pin(who, &account, &device, on).await)
        }
        C::Policy {
            account,
            device,
            name,
        } => one(a
            .device_policy(who, &account, &device, name.as_deref())
            .await),
        C::Block { account, device } => one(a
            .device_access(who, &account, &device, DeviceAccessChoice::Block)
            .await),
        C::Allow { account, device } => one(a
            .device_access(who, &account, &device, DeviceAccessChoice::Allow)
            .await),
        C::Unblock { account, device } => one(a
            .device_access(who, &account, &device, DeviceAccessChoice::Rules)
            .await),
        C::Resync {
            account,
            device,
            folder,
        } => one(a.resync(who, &account, &device, folder.as_deref()).await),
        C::Trace {
            account,
            device,
            state,
        } => {
            let on = matches!(state, OnOff::On);
            finish(a.trace(who, &account, &device, on).await, |d| {
                println!(
                    "trace {} for {} of {}: {}",
                    if on { "on" } else { "off" },
                    d.device_id,
                    d.login,
                    a.trace_path(&d.login, &d.device_id).display()
                );
            })
        }
        C::Remove { account, device } => finish(a.remove(who, &account, &device).await, |()| {
            println!("removed {device} of {account}")
        }),
    }
}

async fn set(
    a: &Admin,
    who: &str,
    scope: Scope,
    name: &str,
    setting: Setting,
    value: &Value,
) -> ExitCode {
    let v = if value.inherit {
        None
    } else {
        value.value.as_deref()
    };
    finish(a.set_override(who, scope, name, setting, v).await, |()| {
        println!("{} {name}: {}", scope.as_str(), v.unwrap_or("inherit"));
    })
}

pub async fn accounts(args: AccountsArgs) -> ExitCode {
    let admin = match open(&args.config).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let who = actor();
    let (a, who) = (&admin, who.as_str());
    use AccountCommand as C;
    let done = |what: String| move |()| println!("{what}");
    match args.command {
        C::Show { account } => finish(a.account(&account).await, |v| print_json(&v)),
        C::Access { account, value } => {
            set(a, who, Scope::Account, &account, Setting::Access, &value).await
        }
        C::Rules { account, value } => {
            set(
                a,
                who,
                Scope::Account,
                &account,
                Setting::DeviceRules,
                &value,
            )
            .await
        }
        C::Policy { account, value } => {
            set(a, who, Scope::Account, &account, Setting::Policy, &value).await
        }
        C::HideFolder { account, folder } => finish(
            a.folder_hidden(who, &account, &folder, true).await,
            done(format!("{folder} hidden")),
        ),
        C::ShowFolder { account, folder } => finish(
            a.folder_hidden(who, &account, &folder, false).await,
            done(format!("{folder} visible")),
        ),
        C::Alias {
            command:
                AliasCommand::Add {
                    account,
                    name,
                    target,
                },
        } => finish(
            a.alias_add(who, &account, &name, &target).await,
            done(format!("{name} -> {target}")),
        ),
        C::Alias {
            command: AliasCommand::Remove { account, name },
        } => finish(
            a.alias_remove(who, &account, &name).await,
            done(format!("{name} removed")),
        ),
        C::Audit { account, limit } => {
            finish(a.audit(account.as_deref(), limit).await, |entries| {
                for e in entries {
                    println!(
                        "{} {:<16} {:<18} {:<28} {:<34} {}",
                        time(e.at),
                        e.admin,
                        e.action,
                        e.login,
                        e.device_id,
                        e.detail
                    );
                }
            })
        }
    }
}

pub async fn domains(args: DomainsArgs) -> ExitCode {
    let admin = match open(&args.config).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let who = actor();
    let (a, who) = (&admin, who.as_str());
    use DomainCommand as C;
    match args.command {
        C::Show { domain } => finish(a.domain(&domain).await, |v| print_json(&v)),
        C::Access { domain, value } => {
            set(a, who, Scope::Domain, &domain, Setting::Access, &value).await
        }
        C::Rules { domain, value } => {
            set(a, who, Scope::Domain, &domain, Setting::DeviceRules, &value).await
        }
        C::Policy { domain, value } => {
            set(a, who, Scope::Domain, &domain, Setting::Policy, &value).await
        }
    }
}
