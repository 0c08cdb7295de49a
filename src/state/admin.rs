//! What administrators set beyond a device: domain and account overrides of access,
//! device rules and policy; hidden folders and mailbox aliases of an account; and the
//! audit trail of every administrative action.

use sqlx::Row;

use super::{Store, StoreError, now};

/// The level an override applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Domain,
    Account,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Domain => "domain",
            Scope::Account => "account",
        }
    }
}

/// Which override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `allow` / `deny` ActiveSync for the domain or account.
    Access,
    /// "Enabled Mobile Device IDs".
    DeviceRules,
    /// A policy name.
    Policy,
}

/// The overrides of one domain or account (`None`: inherit).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overrides {
    pub access: Option<String>,
    pub device_rules: Option<String>,
    pub policy: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub admin: String,
    pub action: String,
    pub login: String,
    pub device_id: String,
    pub detail: String,
}

/// Microseconds since the epoch, strictly increasing within this process.
fn micros() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let prev = LAST.fetch_max(t, Ordering::SeqCst);
    if prev >= t {
        LAST.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        t
    }
}

fn overrides_of(row: &sqlx::any::AnyRow) -> Result<Overrides, sqlx::Error> {
    Ok(Overrides {
        access: row.try_get("access")?,
        device_rules: row.try_get("device_rules")?,
        policy: row.try_get("policy")?,
    })
}

impl Store {
    /// The overrides stored for a domain or an account.
    pub async fn overrides(&self, scope: Scope, name: &str) -> Result<Overrides, StoreError> {
        let row = sqlx::query("SELECT access, device_rules, policy FROM access_settings WHERE scope = $1 AND name = $2")
            .bind(scope.as_str())
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| overrides_of(&r))
            .transpose()?
            .unwrap_or_default())
    }

    /// The overrides of a domain (when the login has one) and of an account, in one
    /// statement: every request reads both.
    pub async fn override_layers(
        &self,
        domain: Option<&str>,
        login: &str,
    ) -> Result<[Overrides; 2], StoreError> {
        let rows = sqlx::query(
            "SELECT scope, access, device_rules, policy FROM access_settings \
             WHERE (scope = $1 AND name = $2) OR (scope = $3 AND name = $4)",
        )
        .bind(Scope::Domain.as_str())
        .bind(domain.unwrap_or(""))
        .bind(Scope::Account.as_str())
        .bind(login)
        .fetch_all(self.pool())
        .await?;
        let mut layers: [Overrides; 2] = Default::default();
        for row in rows {
            let scope: String = row.try_get("scope")?;
            let layer = if scope == Scope::Domain.as_str() {
                if domain.is_none() {
                    continue;
                }
                &mut layers[0]
            } else {
                &mut layers[1]
            };
            *layer = overrides_of(&row)?;
        }
        Ok(layers)
    }

    /// Sets (`Some`) or clears (`None`) one override of a domain or account.
    pub async fn set_override(
        &self,
        scope: Scope,
        name: &str,
        setting: Setting,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = match setting {
            Setting::Access => {
                "INSERT INTO access_settings (scope, name, access) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, name) DO UPDATE SET access = $3"
            }
            Setting::DeviceRules => {
                "INSERT INTO access_settings (scope, name, device_rules) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, name) DO UPDATE SET device_rules = $3"
            }
            Setting::Policy => {
                "INSERT INTO access_settings (scope, name, policy) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, name) DO UPDATE SET policy = $3"
            }
        };
        sqlx::query(sql)
            .bind(scope.as_str())
            .bind(name)
            .bind(value)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The mailboxes an account hides from its devices, sorted.
    pub async fn hidden_folders(&self, login: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.account_folders(login).await?.hidden)
    }

    /// Hides (`true`) or shows again (`false`) a mailbox of an account.
    pub async fn set_folder_hidden(
        &self,
        login: &str,
        folder: &str,
        hidden: bool,
    ) -> Result<(), StoreError> {
        let sql = if hidden {
            "INSERT INTO hidden_folders (login, folder) VALUES ($1, $2) ON CONFLICT (login, folder) DO NOTHING"
        } else {
            "DELETE FROM hidden_folders WHERE login = $1 AND folder = $2"
        };
        sqlx::query(sql)
            .bind(login)
            .bind(folder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The mailbox aliases of an account: (name, target), sorted by name.
    pub async fn folder_aliases(&self, login: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self.account_folders(login).await?.aliases)
    }

    /// Adds (or retargets) an alias.
    pub async fn put_folder_alias(
        &self,
        login: &str,
        name: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO folder_aliases (login, name, target) VALUES ($1, $2, $3) \
             ON CONFLICT (login, name) DO UPDATE SET target = $3",
        )
        .bind(login)
        .bind(name)
        .bind(target)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes an alias; false when there was none of that name.
    pub async fn remove_folder_alias(&self, login: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM folder_aliases WHERE login = $1 AND name = $2")
            .bind(login)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records an administrative action.
    pub async fn audit(
        &self,
        admin: &str,
        action: &str,
        login: &str,
        device_id: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_audit (at, seq, admin, action, login, device_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now())
        .bind(micros())
        .bind(admin)
        .bind(action)
        .bind(login)
        .bind(device_id)
        .bind(detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The audit trail, newest first, of one account or of all.
    pub async fn audit_log(
        &self,
        login: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = match login {
            Some(login) => {
                sqlx::query(
                    "SELECT at, admin, action, login, device_id, detail FROM admin_audit \
                     WHERE login = $1 ORDER BY seq DESC LIMIT $2",
                )
                .bind(login)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT at, admin, action, login, device_id, detail FROM admin_audit ORDER BY seq DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at")?,
                    admin: r.try_get("admin")?,
                    action: r.try_get("action")?,
                    login: r.try_get("login")?,
                    device_id: r.try_get("device_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_stores;

    #[tokio::test]
    async fn overrides_folders_aliases_audit() {
        for (s, _db) in test_stores().await {
            assert_eq!(
                s.overrides(Scope::Account, "a@x").await.unwrap(),
                Overrides::default()
            );
            s.set_override(Scope::Account, "a@x", Setting::DeviceRules, Some("!x*, *"))
                .await
                .unwrap();
            s.set_override(Scope::Account, "a@x", Setting::Access, Some("deny"))
                .await
                .unwrap();
            s.set_override(Scope::Domain, "x", Setting::Policy, Some("strict"))
                .await
                .unwrap();
            let o = s.overrides(Scope::Account, "a@x").await.unwrap();
            assert_eq!(
                (
                    o.access.as_deref(),
                    o.device_rules.as_deref(),
                    o.policy.as_deref()
                ),
                (Some("deny"), Some("!x*, *"), None)
            );
            // Both layers in one read; an account named like a domain is no domain.
            let [domain, account] = s.override_layers(Some("x"), "a@x").await.unwrap();
            assert_eq!(domain.policy.as_deref(), Some("strict"));
            assert_eq!(account, o);
            let [domain, account] = s.override_layers(None, "x").await.unwrap();
            assert_eq!((domain, account), Default::default());
            let [domain, _] = s.override_layers(Some("y"), "a@x").await.unwrap();
            assert_eq!(domain, Overrides::default());
            s.set_override(Scope::Account, "a@x", Setting::Access, None)
                .await
                .unwrap();
            assert_eq!(
                s.overrides(Scope::Account, "a@x").await.unwrap().access,
                None
            );
            assert_eq!(
                s.overrides(Scope::Domain, "x")
                    .await
                    .unwrap()
                    .policy
                    .as_deref(),
                Some("strict")
            );

            s.set_folder_hidden("a@x", "Junk", true).await.unwrap();
            s.set_folder_hidden("a@x", "Junk", true).await.unwrap();
            s.set_folder_hidden("a@x", "Archive", true).await.unwrap();
            assert_eq!(s.hidden_folders("a@x").await.unwrap(), ["Archive", "Junk"]);
            s.set_folder_hidden("a@x", "Junk", false).await.unwrap();
            assert_eq!(s.hidden_folders("a@x").await.unwrap(), ["Archive"]);

            s.put_folder_alias("a@x", "Team", "shared/b@x/INBOX")
                .await
                .unwrap();
            s.put_folder_alias("a@x", "Team", "shared/c@x/INBOX")
                .await
                .unwrap();
            assert_eq!(
                s.folder_aliases("a@x").await.unwrap(),
                [("Team".to_string(), "shared/c@x/INBOX".to_string())]
            );
            assert!(s.remove_folder_alias("a@x", "Team").await.unwrap());
            assert!(!s.remove_folder_alias("a@x", "Team").await.unwrap());

            s.audit("cli:root", "wipe", "a@x", "D1", "").await.unwrap();
            s.audit("api", "cancel-wipe", "b@x", "D2", "")
                .await
                .unwrap();
            let all = s.audit_log(None, 10).await.unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(
                all[0].action, "cancel-wipe",
                "newest first, also within one second"
            );
            let mine = s.audit_log(Some("a@x"), 10).await.unwrap();
            assert_eq!(
                (mine.len(), mine[0].admin.as_str(), mine[0].action.as_str()),
                (1, "cli:root", "wipe")
            );
        }
    }
}
