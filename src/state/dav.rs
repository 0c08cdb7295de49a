//! Item numbers of DAV objects: `href` ⇄ a small number per (account, folder), so that
//! ServerIds stay short and never expose upstream paths.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::{Store, StoreError};

/// Recently read item-number maps, by (login, folder id). A number, once handed out,
/// always names the same href (rows are only ever added), so a copy is right for every
/// number it holds; one that lacks a number asked for is read again.
#[derive(Clone)]
pub(super) struct ItemCache(moka::future::Cache<(String, i64), Arc<HashMap<u64, String>>>);

impl Default for ItemCache {
    fn default() -> Self {
        ItemCache(
            moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        )
    }
}

impl Store {
    /// The numbers of `hrefs` in a folder, handing out new ones where needed (in one
    /// transaction, retried if a concurrent request raced for the same numbers).
    pub async fn dav_item_ids(
        &self,
        login: &str,
        folder_id: i64,
        hrefs: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let mut last = None;
        for _ in 0..5 {
            match self.try_dav_item_ids(login, folder_id, hrefs).await {
                Ok(map) => return Ok(map),
                Err(StoreError::Sql(e)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Sql(last.expect("an attempt was made")))
    }

    async fn try_dav_item_ids(
        &self,
        login: &str,
        folder_id: i64,
        hrefs: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let known = self.dav_hrefs(login, folder_id).await?;
        let mut next = known.keys().max().map_or(1, |m| *m as i64 + 1);
        let mut map: HashMap<String, u64> = known.into_iter().map(|(id, h)| (h, id)).collect();
        let missing: Vec<&String> = hrefs.iter().filter(|h| !map.contains_key(*h)).collect();
        if missing.is_empty() {
            return Ok(map);
        }
        let mut tx = self.pool().begin().await?;
        for href in missing {
            sqlx::query(
                "INSERT INTO dav_items (login, folder_id, item_id, href) VALUES ($1, $2, $3, $4)",
            )
            .bind(login)
            .bind(folder_id)
            .bind(next)
            .bind(href)
            .execute(&mut *tx)
            .await?;
            map.insert(href.clone(), next as u64);
            next += 1;
        }
        tx.commit().await?;
        Ok(map)
    }

    /// The hrefs of the item numbers `ids` of a folder (and maybe more): a recent copy
    /// of the folder's map when it holds them all, else the map read anew.
    pub async fn dav_hrefs_of(
        &self,
        login: &str,
        folder_id: i64,
        ids: &[u64],
    ) -> Result<Arc<HashMap<u64, String>>, StoreError> {
        let key = (login.to_string(), folder_id);
        if let Some(map) = self.dav_items.0.get(&key).await
            && ids.iter().all(|id| map.contains_key(id))
        {
            return Ok(map);
        }
        let map = Arc::new(self.dav_hrefs(login, folder_id).await?);
        self.dav_items.0.insert(key, map.clone()).await;
        Ok(map)
    }

    /// Every item number of a folder with its href, in one query.
    pub async fn dav_hrefs(
        &self,
        login: &str,
        folder_id: i64,
    ) -> Result<HashMap<u64, String>, StoreError> {
        let rows =
            sqlx::query("SELECT item_id, href FROM dav_items WHERE login = $1 AND folder_id = $2")
                .bind(login)
                .bind(folder_id)
                .fetch_all(self.pool())
                .await?;
        let mut map = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("item_id")?;
            map.insert(id as u64, row.try_get("href")?);
        }
        Ok(map)
    }

    /// The href behind an item number.
    pub async fn dav_href(
        &self,
        login: &str,
        folder_id: i64,
        item_id: u64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT href FROM dav_items WHERE login = $1 AND folder_id = $2 AND item_id = $3",
        )
        .bind(login)
        .bind(folder_id)
        .bind(item_id as i64)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("href")).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_stores;

    #[tokio::test]
    async fn numbers_are_stable_and_per_folder() {
        for (s, _db) in test_stores().await {
            let a = s
                .dav_item_ids("u", 7, &["/c/a.ics".into(), "/c/b.ics".into()])
                .await
                .unwrap();
            assert_eq!(s.dav_hrefs_of("u", 7, &[]).await.unwrap().len(), 2);
            let b = s
                .dav_item_ids("u", 7, &["/c/b.ics".into(), "/c/c.ics".into()])
                .await
                .unwrap();
            assert_eq!(a["/c/b.ics"], b["/c/b.ics"]);
            assert_eq!(b["/c/c.ics"], 3);
            assert_eq!(
                s.dav_href("u", 7, a["/c/a.ics"]).await.unwrap().as_deref(),
                Some("/c/a.ics")
            );
            assert_eq!(s.dav_href("u", 8, 1).await.unwrap(), None);
            let cached = s.dav_hrefs_of("u", 7, &[a["/c/a.ics"]]).await.unwrap();
            assert_eq!(
                cached.len(),
                2,
                "the copy read before /c/c.ics was numbered"
            );
            let fresh = s.dav_hrefs_of("u", 7, &[b["/c/c.ics"]]).await.unwrap();
            assert_eq!(
                fresh[&b["/c/c.ics"]], "/c/c.ics",
                "a missing number reads again"
            );
            let all = s.dav_hrefs("u", 7).await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(all[&b["/c/c.ics"]], "/c/c.ics");
            let other = s.dav_item_ids("u", 8, &["/c/a.ics".into()]).await.unwrap();
            assert_eq!(other["/c/a.ics"], 1);
        }
    }
}
