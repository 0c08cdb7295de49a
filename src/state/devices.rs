//! The device registry: every (account, device) pair that has spoken to airsync, with
//! its provisioning state (MS-ASPROV policy keys).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now};

/// What a device tells about itself (Settings / Provision DeviceInformation).
pub use crate::eas::provision::DeviceInformation as DeviceInfo;

/// One device of one account, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub login: String,
    pub device_id: String,
    pub device_type: String,
    pub user_agent: String,
    pub protocol_version: String,
    pub info: DeviceInfo,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_command: String,
    /// The policy key the device acknowledged (0: not provisioned).
    pub policy_key: u32,
    /// The temporary key of an unfinished Provision exchange (0: none).
    pub pending_policy_key: u32,
    /// Fingerprint of the policy behind `policy_key`.
    pub policy_hash: String,
    pub wipe_state: String,
    /// The outcome of the last access check (rules or administrator), as recorded.
    pub blocked: bool,
    /// The administrator's decision: `""` (the rules decide), `"allow"` or `"block"`.
    pub access_override: String,
    /// The device's own policy (`""`: inherit from account, domain, server).
    pub policy_override: String,
    /// PIN-lock: `None` as the policy says, `Some(on)` forced by the administrator.
    pub pin_lock: Option<bool>,
    /// The name of the policy behind `policy_key`.
    pub policy_name: String,
    /// When a remote wipe was requested / acknowledged by the device (0: never).
    pub wipe_requested: i64,
    pub wipe_acknowledged: i64,
    /// Requests and responses of this device are written to its trace file.
    pub trace: bool,
}

/// Remote wipe (MS-ASPROV 3.2.5.1.2) as stored in `devices.wipe_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeState {
    None,
    /// The whole device is to be wiped; told so on its next request.
    Pending,
    /// The device acknowledged the wipe; it gets nothing but the wipe again.
    Wiped,
    /// Only this account's data is to be removed (EAS 16.1 AccountOnlyRemoteWipe).
    AccountPending,
    AccountWiped,
}

impl WipeState {
    pub fn as_str(self) -> &'static str {
        match self {
            WipeState::None => "none",
            WipeState::Pending => "pending",
            WipeState::Wiped => "wiped",
            WipeState::AccountPending => "account-pending",
            WipeState::AccountWiped => "account-wiped",
        }
    }

    pub fn parse(s: &str) -> WipeState {
        match s {
            "pending" => WipeState::Pending,
            "wiped" => WipeState::Wiped,
            "account-pending" => WipeState::AccountPending,
            "account-wiped" => WipeState::AccountWiped,
            _ => WipeState::None,
        }
    }

    /// Any state but `None`: the device must be told to wipe.
    pub fn active(self) -> bool {
        self != WipeState::None
    }

    pub fn account_only(self) -> bool {
        matches!(self, WipeState::AccountPending | WipeState::AccountWiped)
    }
}

impl Device {
    /// This record already says what a request described by `seen` at `now` would
    /// record (same device type, version, user agent and command, last seen less than
    /// [`SEEN_EVERY_SECS`] ago): [`Store::device_seen`] then writes nothing.
    pub fn seen_recently(&self, seen: &DeviceSeen<'_>, now: i64) -> bool {
        self.login == seen.login
            && self.device_id == seen.device_id
            && (0..SEEN_EVERY_SECS).contains(&(now - self.last_seen))
            && self.device_type == seen.device_type
            && self.protocol_version == seen.protocol_version
            && (seen.user_agent.is_empty() || self.user_agent == seen.user_agent)
            && self.last_command == seen.command
    }

    /// A device with no history and nothing set: what a first request would create.
    pub fn unregistered(login: &str, device_id: &str, device_type: &str) -> Device {
        Device {
            login: login.into(),
            device_id: device_id.into(),
            device_type: device_type.into(),
            user_agent: String::new(),
            protocol_version: String::new(),
            info: DeviceInfo::default(),
            first_seen: 0,
            last_seen: 0,
            last_command: String::new(),
            policy_key: 0,
            pending_policy_key: 0,
            policy_hash: String::new(),
            wipe_state: WipeState::None.as_str().into(),
            blocked: false,
            access_override: String::new(),
            policy_override: String::new(),
            pin_lock: None,
            policy_name: String::new(),
            wipe_requested: 0,
            wipe_acknowledged: 0,
            trace: false,
        }
    }

    pub fn wipe(&self) -> WipeState {
        WipeState::parse(&self.wipe_state)
    }
}

/// What every request tells about its device.
#[derive(Debug, Clone)]
pub struct DeviceSeen<'a> {
    pub login: &'a str,
    pub device_id: &'a str,
    pub device_type: &'a str,
    pub user_agent: &'a str,
    pub protocol_version: &'a str,
    pub command: &'a str,
}

/// The device columns, as a literal so that queries stay static strings.
macro_rules! device_select {
    ($rest:literal) => {
        concat!("SELECT login, device_id, device_type, user_agent, protocol_version, model, imei, \
            friendly_name, os, os_language, phone_number, mobile_operator, first_seen, last_seen, \
            last_command, policy_key, pending_policy_key, policy_hash, wipe_state, blocked, access_override, \
            policy_override, pin_lock, policy_name, wipe_requested, wipe_acknowledged, trace FROM devices ", $rest)
    };
}

fn device_from_row(row: &AnyRow) -> Result<Device, sqlx::Error> {
    Ok(Device {
        login: row.try_get("login")?,
        device_id: row.try_get("device_id")?,
        device_type: row.try_get("device_type")?,
        user_agent: row.try_get("user_agent")?,
        protocol_version: row.try_get("protocol_version")?,
        info: DeviceInfo {
            model: row.try_get("model")?,
            imei: row.try_get("imei")?,
            friendly_name: row.try_get("friendly_name")?,
            os: row.try_get("os")?,
            os_language: row.try_get("os_language")?,
            phone_number: row.try_get("phone_number")?,
            mobile_operator: row.try_get("mobile_operator")?,
            user_agent: String::new(),
        },
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        last_command: row.try_get("last_command")?,
        policy_key: row.try_get::<i64, _>("policy_key")? as u32,
        pending_policy_key: row.try_get::<i64, _>("pending_policy_key")? as u32,
        policy_hash: row.try_get("policy_hash")?,
        wipe_state: row.try_get("wipe_state")?,
        blocked: row.try_get::<i32, _>("blocked")? != 0,
        access_override: row.try_get("access_override")?,
        policy_override: row.try_get("policy_override")?,
        pin_lock: match row.try_get::<i32, _>("pin_lock")? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        policy_name: row.try_get("policy_name")?,
        wipe_requested: row.try_get("wipe_requested")?,
        wipe_acknowledged: row.try_get("wipe_acknowledged")?,
        trace: row.try_get::<i32, _>("trace")? != 0,
    })
}

/// How old a device's last access may get before a repeated request writes it again.
pub const SEEN_EVERY_SECS: i64 = 60;

impl Store {
    /// Records that a device made a request (creating it on first contact) and
    /// returns its stored state. A device that repeats the command it made less than
    /// [`SEEN_EVERY_SECS`] ago, with nothing else about it changed, is only read: a
    /// phone paging through an initial sync or pinging does not write its row each
    /// time (the device list's last access is then up to a minute old).
    pub async fn device_seen(&self, seen: &DeviceSeen<'_>) -> Result<Device, StoreError> {
        let t = now();
        if let Some(d) = self.device(seen.login, seen.device_id).await?
            && d.seen_recently(seen, t)
        {
            return Ok(d);
        }
        sqlx::query(
            "INSERT INTO devices (login, device_id, device_type, user_agent, protocol_version, \
             first_seen, last_seen, last_command) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
             ON CONFLICT (login, device_id) DO UPDATE SET device_type = $3, \
             user_agent = CASE WHEN $4 = '' THEN devices.user_agent ELSE $4 END, \
             protocol_version = $5, last_seen = $6, last_command = $7",
        )
        .bind(seen.login)
        .bind(seen.device_id)
        .bind(seen.device_type)
        .bind(seen.user_agent)
        .bind(seen.protocol_version)
        .bind(t)
        .bind(seen.command)
        .execute(self.pool())
        .await?;
        self.device(seen.login, seen.device_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("device vanished after upsert".into()))
    }

    /// The stored state of one device of one account.
    pub async fn device(&self, login: &str, device_id: &str) -> Result<Option<Device>, StoreError> {
        let row = sqlx::query(device_select!("WHERE login = $1 AND device_id = $2"))
            .bind(login)
            .bind(device_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(device_from_row).transpose()?)
    }

    /// All devices, or those of one account, newest contact first.
    pub async fn devices(&self, login: Option<&str>) -> Result<Vec<Device>, StoreError> {
        let rows = match login {
            Some(login) => {
                sqlx::query(device_select!("WHERE login = $1 ORDER BY last_seen DESC"))
                    .bind(login)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query(device_select!("ORDER BY last_seen DESC"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows.iter().map(device_from_row).collect::<Result<_, _>>()?)
    }

    /// Stores the device's recovery password (Settings DevicePassword); empty clears it.
    pub async fn set_recovery_password(
        &self,
        login: &str,
        device_id: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let value = (!password.is_empty()).then_some(password);
        sqlx::query(
            "UPDATE devices SET recovery_password = $3 WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a recovery password is stored for the device (its value is not shown).
    pub async fn has_recovery_password(
        &self,
        login: &str,
        device_id: &str,
    ) -> Result<bool, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT recovery_password FROM devices WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|r| r.0).is_some())
    }

    /// Stores what the device said about itself; empty fields keep their old value.
    pub async fn set_device_info(
        &self,
        login: &str,
        device_id: &str,
        info: &DeviceInfo,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE devices SET \
             model = CASE WHEN $3 = '' THEN model ELSE $3 END, \
             imei = CASE WHEN $4 = '' THEN imei ELSE $4 END, \
             friendly_name = CASE WHEN $5 = '' THEN friendly_name ELSE $5 END, \
             os = CASE WHEN $6 = '' THEN os ELSE $6 END, \
             os_language = CASE WHEN $7 = '' THEN os_language ELSE $7 END, \
             phone_number = CASE WHEN $8 = '' THEN phone_number ELSE $8 END, \
             mobile_operator = CASE WHEN $9 = '' THEN mobile_operator ELSE $9 END, \
             user_agent = CASE WHEN $10 = '' THEN user_agent ELSE $10 END \
             WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .bind(&info.model)
        .bind(&info.imei)
        .bind(&info.friendly_name)
        .bind(&info.os)
        .bind(&info.os_language)
        .bind(&info.phone_number)
        .bind(&info.mobile_operator)
        .bind(&info.user_agent)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Provision phase 1: remember the temporary key handed to the device. Its old key
    /// stops counting: the device is provisioning anew.
    pub async fn start_provisioning(
        &self,
        login: &str,
        device_id: &str,
        key: u32,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE devices SET pending_policy_key = $3, policy_key = 0 WHERE login = $1 AND device_id = $2")
            .bind(login)
            .bind(device_id)
            .bind(key as i64)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Provision phase 2: the device acknowledged the policy; `key` is now required.
    /// The temporary key stays recorded, so that a repeated acknowledgement (the device
    /// lost our answer) gets the same final key instead of an error.
    pub async fn set_policy_key(
        &self,
        login: &str,
        device_id: &str,
        key: u32,
        policy_hash: &str,
        policy_name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE devices SET policy_key = $3, policy_hash = $4, policy_name = $5 \
             WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .bind(key as i64)
        .bind(policy_hash)
        .bind(policy_name)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Runs an UPDATE of one device row; true when the device exists.
    async fn update_device(
        &self,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<bool, StoreError> {
        Ok(query.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// Asks for a remote wipe of the device (or of the account's data on it). Returns
    /// false when the device is unknown or already wiped.
    pub async fn request_wipe(
        &self,
        login: &str,
        device_id: &str,
        account_only: bool,
    ) -> Result<bool, StoreError> {
        let state = if account_only {
            WipeState::AccountPending
        } else {
            WipeState::Pending
        };
        let sql = "UPDATE devices SET wipe_state = $3, wipe_requested = $4, wipe_acknowledged = 0 \
                   WHERE login = $1 AND device_id = $2 AND wipe_state NOT IN ('wiped', 'account-wiped')";
        self.update_device(
            sqlx::query(sql)
                .bind(login)
                .bind(device_id)
                .bind(state.as_str())
                .bind(now()),
        )
        .await
    }

    /// Cancels a wipe the device has not acknowledged yet. Returns false when there
    /// was none to cancel.
    pub async fn cancel_wipe(&self, login: &str, device_id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET wipe_state = 'none', wipe_requested = 0 \
                   WHERE login = $1 AND device_id = $2 AND wipe_state IN ('pending', 'account-pending')";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id))
            .await
    }

    /// The device acknowledged the wipe (MS-ASPROV 3.2.5.1.2.2): from now on it gets
    /// nothing but the wipe again.
    pub async fn wipe_acknowledged(&self, login: &str, device_id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE devices SET wipe_acknowledged = $3, wipe_state = CASE wipe_state \
                   WHEN 'pending' THEN 'wiped' WHEN 'account-pending' THEN 'account-wiped' ELSE wipe_state END \
                   WHERE login = $1 AND device_id = $2";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id).bind(now()))
            .await?;
        Ok(())
    }

    /// Records the outcome of an access check.
    pub async fn set_blocked(
        &self,
        login: &str,
        device_id: &str,
        blocked: bool,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE devices SET blocked = $3 WHERE login = $1 AND device_id = $2";
        self.update_device(
            sqlx::query(sql)
                .bind(login)
                .bind(device_id)
                .bind(blocked as i32),
        )
        .await?;
        Ok(())
    }

    /// The administrator's access decision: `""`, `"allow"` or `"block"`. Returns
    /// false when the device is unknown.
    pub async fn set_access_override(
        &self,
        login: &str,
        device_id: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET access_override = $3, \
                   blocked = CASE $3 WHEN 'block' THEN 1 WHEN 'allow' THEN 0 ELSE blocked END \
                   WHERE login = $1 AND device_id = $2";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id).bind(value))
            .await
    }

    /// The device's own policy (`""`: inherit).
    pub async fn set_policy_override(
        &self,
        login: &str,
        device_id: &str,
        policy: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET policy_override = $3 WHERE login = $1 AND device_id = $2";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id).bind(policy))
            .await
    }

    /// Enable / Disable PIN-lock (`None`: as the policy says).
    pub async fn set_pin_lock(
        &self,
        login: &str,
        device_id: &str,
        on: Option<bool>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET pin_lock = $3 WHERE login = $1 AND device_id = $2";
        self.update_device(
            sqlx::query(sql)
                .bind(login)
                .bind(device_id)
                .bind(on.map_or(-1, i32::from)),
        )
        .await
    }

    /// Switches the protocol trace of a device on or off.
    pub async fn set_trace(
        &self,
        login: &str,
        device_id: &str,
        on: bool,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE devices SET trace = $3 WHERE login = $1 AND device_id = $2";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id).bind(on as i32))
            .await
    }

    /// Forgets all sync state of a device (every collection, the folder hierarchy and
    /// the cached Sync request): its next FolderSync and Syncs start from key 0.
    pub async fn forget_device_state(
        &self,
        login: &str,
        device_id: &str,
    ) -> Result<(), StoreError> {
        self.forget_sync_state(login, device_id, None).await?;
        for sql in [
            "DELETE FROM folder_sync WHERE login = $1 AND device_id = $2",
            "DELETE FROM sync_cache WHERE login = $1 AND device_id = $2",
            "DELETE FROM ping_state WHERE login = $1 AND device_id = $2",
        ] {
            sqlx::query(sql)
                .bind(login)
                .bind(device_id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Forgets a device of an account: its registry entry and all its sync state.
    /// Its next request starts afresh (provisioning, FolderSync 0, Sync 0).
    pub async fn remove_device(&self, login: &str, device_id: &str) -> Result<bool, StoreError> {
        self.forget_device_state(login, device_id).await?;
        let sql = "DELETE FROM devices WHERE login = $1 AND device_id = $2";
        self.update_device(sqlx::query(sql).bind(login).bind(device_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_stores;

    fn seen<'a>(cmd: &'a str) -> DeviceSeen<'a> {
        DeviceSeen {
            login: "alice@example.org",
            device_id: "ABC123",
            device_type: "iPhone",
            user_agent: "Apple-iPhone/1",
            protocol_version: "16.1",
            command: cmd,
        }
    }

    #[tokio::test]
    async fn device_lifecycle() {
        for (store, _db) in test_stores().await {
            let d = store.device_seen(&seen("Provision")).await.unwrap();
            assert_eq!(d.policy_key, 0);
            assert_eq!(d.last_command, "Provision");
            store
                .start_provisioning("alice@example.org", "ABC123", 77)
                .await
                .unwrap();
            assert_eq!(
                store
                    .device("alice@example.org", "ABC123")
                    .await
                    .unwrap()
                    .unwrap()
                    .pending_policy_key,
                77
            );
            store
                .set_policy_key("alice@example.org", "ABC123", 4_000_000_000, "h", "default")
                .await
                .unwrap();
            let d = store.device_seen(&seen("FolderSync")).await.unwrap();
            assert_eq!(d.policy_key, 4_000_000_000);
            assert_eq!(d.pending_policy_key, 77);
            assert_eq!(d.last_command, "FolderSync");
            let info = DeviceInfo {
                model: "iPhone15,2".into(),
                ..Default::default()
            };
            store
                .set_device_info("alice@example.org", "ABC123", &info)
                .await
                .unwrap();
            let all = store.devices(Some("alice@example.org")).await.unwrap();
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].info.model, "iPhone15,2");
            assert!(store.devices(Some("bob")).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn a_repeated_command_is_read_not_written() {
        for (store, _db) in test_stores().await {
            let (a, d) = ("alice@example.org", "ABC123");
            store.device_seen(&seen("Sync")).await.unwrap();
            // Pretend the last write was 30 s ago, then 61 s ago.
            let age = |secs: i64| {
                let store = store.clone();
                async move {
                    sqlx::query("UPDATE devices SET last_seen = $1 WHERE login = $2")
                        .bind(now() - secs)
                        .bind(a)
                        .execute(store.pool())
                        .await
                        .unwrap();
                }
            };
            age(30).await;
            let before = store.device(a, d).await.unwrap().unwrap().last_seen;
            let same = store.device_seen(&seen("Sync")).await.unwrap();
            assert_eq!(
                same.last_seen, before,
                "a repeat within a minute is not written"
            );
            // Another command, another version, another agent, or an older write: written.
            let ping = store.device_seen(&seen("Ping")).await.unwrap();
            assert!(ping.last_seen > before && ping.last_command == "Ping");
            age(30).await;
            let newer = DeviceSeen {
                protocol_version: "14.1",
                ..seen("Ping")
            };
            assert_eq!(
                store.device_seen(&newer).await.unwrap().protocol_version,
                "14.1"
            );
            age(30).await;
            let agent = DeviceSeen {
                user_agent: "Apple-iPhone/2",
                ..seen("Ping")
            };
            let d2 = store.device_seen(&agent).await.unwrap();
            assert_eq!(d2.user_agent, "Apple-iPhone/2");
            assert!(d2.last_seen >= now() - 1);
            age(61).await;
            let stale = store.device_seen(&agent).await.unwrap();
            assert!(stale.last_seen >= now() - 1, "written again after a minute");
        }
    }

    #[tokio::test]
    async fn wipe_pin_access_and_removal() {
        for (store, _db) in test_stores().await {
            let (a, d) = ("alice@example.org", "ABC123");
            assert!(
                !store.request_wipe(a, d, false).await.unwrap(),
                "unknown device"
            );
            store.device_seen(&seen("Sync")).await.unwrap();
            let dev = store.device(a, d).await.unwrap().unwrap();
            assert_eq!(
                (
                    dev.wipe(),
                    dev.pin_lock,
                    dev.trace,
                    dev.access_override.as_str()
                ),
                (WipeState::None, None, false, "")
            );

            // Wipe, cancel, wipe again, acknowledge: then it can no longer be cancelled.
            assert!(store.request_wipe(a, d, false).await.unwrap());
            assert_eq!(
                store.device(a, d).await.unwrap().unwrap().wipe(),
                WipeState::Pending
            );
            assert!(store.cancel_wipe(a, d).await.unwrap());
            assert!(
                !store.cancel_wipe(a, d).await.unwrap(),
                "nothing left to cancel"
            );
            assert_eq!(
                store.device(a, d).await.unwrap().unwrap().wipe(),
                WipeState::None
            );
            assert!(store.request_wipe(a, d, true).await.unwrap());
            store.wipe_acknowledged(a, d).await.unwrap();
            let dev = store.device(a, d).await.unwrap().unwrap();
            assert_eq!(dev.wipe(), WipeState::AccountWiped);
            assert!(dev.wipe_acknowledged > 0);
            assert!(!store.cancel_wipe(a, d).await.unwrap());
            assert!(
                !store.request_wipe(a, d, false).await.unwrap(),
                "a wiped device stays wiped"
            );

            assert!(store.set_pin_lock(a, d, Some(true)).await.unwrap());
            assert!(store.set_trace(a, d, true).await.unwrap());
            assert!(store.set_access_override(a, d, "block").await.unwrap());
            let dev = store.device(a, d).await.unwrap().unwrap();
            assert_eq!(
                (dev.pin_lock, dev.trace, dev.blocked),
                (Some(true), true, true)
            );
            store.set_pin_lock(a, d, Some(false)).await.unwrap();
            assert_eq!(
                store.device(a, d).await.unwrap().unwrap().pin_lock,
                Some(false)
            );

            store.put_sync_cache(a, d, "<Sync/>").await.unwrap();
            assert!(store.remove_device(a, d).await.unwrap());
            assert!(store.device(a, d).await.unwrap().is_none());
            assert!(store.sync_cache(a, d).await.unwrap().is_none());
            assert!(!store.remove_device(a, d).await.unwrap());
        }
    }
}
