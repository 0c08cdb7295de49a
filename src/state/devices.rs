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
    pub blocked: bool,
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
            last_command, policy_key, pending_policy_key, policy_hash, wipe_state, blocked FROM devices ", $rest)
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
    })
}

impl Store {
    /// Records that a device made a request (creating it on first contact) and
    /// returns its stored state.
    pub async fn device_seen(&self, seen: &DeviceSeen<'_>) -> Result<Device, StoreError> {
        let t = now();
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
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE devices SET policy_key = $3, policy_hash = $4 \
             WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .bind(key as i64)
        .bind(policy_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::temp_store;

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
        let (store, _dir) = temp_store().await;
        let d = store.device_seen(&seen("Provision")).await.unwrap();
        assert_eq!(d.policy_key, 0);
        assert_eq!(d.last_command, "Provision");
        store.start_provisioning("alice@example.org", "ABC123", 77).await.unwrap();
        assert_eq!(store.device("alice@example.org", "ABC123").await.unwrap().unwrap().pending_policy_key, 77);
        store.set_policy_key("alice@example.org", "ABC123", 4_000_000_000, "h").await.unwrap();
        let d = store.device_seen(&seen("FolderSync")).await.unwrap();
        assert_eq!(d.policy_key, 4_000_000_000);
        assert_eq!(d.pending_policy_key, 77);
        assert_eq!(d.last_command, "FolderSync");
        let info = DeviceInfo { model: "iPhone15,2".into(), ..Default::default() };
        store.set_device_info("alice@example.org", "ABC123", &info).await.unwrap();
        let all = store.devices(Some("alice@example.org")).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].info.model, "iPhone15,2");
        assert!(store.devices(Some("bob")).await.unwrap().is_empty());
    }
}
