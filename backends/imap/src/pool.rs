//! Per-user pool of authenticated connections.
//!
//! Idle connections are kept per login together with a salted hash of the password that
//! opened them; a checkout only reuses a connection whose login *and* password hash match,
//! so a wrong password never rides on another request's session, and never evicts the
//! right one's connections (unless the user is at the connection limit). Passwords are not
//! stored: each call carries its credentials, and a miss simply logs in afresh.
//!
//! At most `max_per_user` connections per login exist at once (in use plus idle); a
//! checkout beyond that waits for one to come back. Idle connections older than
//! `idle_ttl` are handed out by [`Pool::expired`] for closing. A connection that failed
//! is simply not checked in: dropping its [`Lease`] frees the slot.
//!
//! Until one connection of a login has been checked in healthy (the user is "warm"),
//! checkouts of that login take turns: a brand-new user's first sessions create the
//! mailbox list index and the auto-created mailboxes, and Dovecot 2.3 processes doing
//! that at the same time deadlock on its locks (seen in CI: two first LISTs waiting on
//! each other's flock for 35 s, then a panic). The checkout holding that turn
//! ([`Lease::is_first_turn`]) opens every mailbox on its new connection before its own
//! work (`ImapStore::warm_up`), since its work may be a bare LOGIN that creates nothing.
//! A login stays warm for the life of the process, also after its idle connections
//! closed: a phone waking from a Ping does not pay the turns or the warm-up again.
//! Connections are reused for at most [`MAX_AGE`].

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Salted SHA-256 of login and password: what a pooled connection remembers of the
/// credentials that opened it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A per-process random salt for [`SecretKey`]s.
#[derive(Clone)]
pub(crate) struct Salt([u8; 16]);

impl Salt {
    /// A fresh random salt (from the std hasher's per-process random keys).
    pub(crate) fn random() -> Self {
        let mut salt = [0u8; 16];
        for half in salt.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x0061_6972_7379_6e63);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        Self(salt)
    }

    /// The key for a login and password.
    pub(crate) fn key(&self, login: &str, password: &str) -> SecretKey {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update((login.len() as u64).to_le_bytes());
        h.update(login.as_bytes());
        h.update(password.as_bytes());
        SecretKey(h.finalize().into())
    }
}

struct Idle<C> {
    conn: C,
    key: SecretKey,
    since: Instant,
    /// When the connection was opened.
    born: Instant,
}

impl<C> Idle<C> {
    fn stale(&self, now: Instant, idle_ttl: Duration, max_age: Duration) -> bool {
        now.duration_since(self.since) >= idle_ttl || now.duration_since(self.born) >= max_age
    }
}

/// How long a connection is reused at most. Dovecot reads a session's shared
/// namespaces once, so a mailbox newly shared with the user (an alias target) shows
/// only on a session opened after the grant: this bounds that delay for a user whose
/// connections are never idle long enough to close.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(600);

struct Slot<C> {
    /// One permit per connection in use.
    permits: Arc<Semaphore>,
    idle: Vec<Idle<C>>,
    /// Held by the one checkout in flight while the login is not warm.
    first: Arc<tokio::sync::Mutex<()>>,
}

/// The right to hold one connection of a user; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Lease {
    login: String,
    key: SecretKey,
    _permit: OwnedSemaphorePermit,
    /// The turn of a checkout while the login is not warm.
    _first: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// When the connection was opened (now, for a new one).
    born: Instant,
}

impl Lease {
    /// Whether this checkout holds the login's one turn before it is warm: its
    /// connection must do the first-session work (see `ImapStore::warm_up`).
    pub(crate) fn is_first_turn(&self) -> bool {
        self._first.is_some()
    }
}

/// What a checkout found.
pub(crate) struct Checkout<C> {
    pub lease: Lease,
    /// An idle connection opened with the same credentials, if there was one.
    pub conn: Option<C>,
    /// Idle connections pushed out to stay within the limit; close them.
    pub evicted: Vec<C>,
}

/// The pool, generic over the connection type so its rules can be tested without I/O.
pub(crate) struct Pool<C> {
    users: Mutex<HashMap<String, Slot<C>>>,
    /// Logins with a connection checked in healthy in this process (warm). Kept
    /// apart from the slots: Dovecot keeps what a login's first session created, so
    /// a slot made again for it (after its connections closed) needs no turns and no
    /// warm-up.
    warmed: Mutex<HashSet<String>>,
    max_per_user: usize,
    idle_ttl: Duration,
    /// [`MAX_AGE`]; shorter in unit tests.
    max_age: Duration,
}

impl<C> Pool<C> {
    pub(crate) fn new(max_per_user: usize, idle_ttl: Duration) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            warmed: Mutex::default(),
            max_per_user: max_per_user.max(1),
            idle_ttl,
            max_age: MAX_AGE,
        }
    }

    /// Lock order: `users` before `warmed`.
    fn warmed(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.warmed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_warm(&self, login: &str) -> bool {
        self.warmed().contains(login)
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot<C>>> {
        // A panic while holding the lock leaves the map consistent: recover it.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for `login` (waiting up to `wait` when all are in use) and the most
    /// recently used idle connection with the same key, if any. `Err(())` on timeout.
    #[cfg(test)]
    pub(crate) async fn checkout(
        &self,
        login: &str,
        key: SecretKey,
        wait: Duration,
    ) -> Result<Checkout<C>, ()> {
        self.checkout_preferring(login, key, wait, &|_| false).await
    }

    /// [`Pool::checkout`], but among the idle connections with the same key the most
    /// recently used one that `prefer` likes comes first (e.g. one that has the
    /// mailbox open that the operation reads).
    pub(crate) async fn checkout_preferring(
        &self,
        login: &str,
        key: SecretKey,
        wait: Duration,
        prefer: &(dyn Fn(&C) -> bool + Sync),
    ) -> Result<Checkout<C>, ()> {
        let (permits, first) = {
            let mut users = self.users();
            let slot = users.entry(login.to_string()).or_insert_with(|| Slot {
                permits: Arc::new(Semaphore::new(self.max_per_user)),
                idle: Vec::new(),
                first: Arc::default(),
            });
            (
                slot.permits.clone(),
                (!self.is_warm(login)).then(|| slot.first.clone()),
            )
        };
        let first = match first {
            Some(first) => {
                let turn = tokio::time::timeout(wait, first.lock_owned())
                    .await
                    .map_err(|_| ())?;
                // The checkout before us may have warmed the login meanwhile.
                (!self.is_warm(login)).then_some(turn)
            }
            None => None,
        };
        let permit = tokio::time::timeout(wait, permits.acquire_owned())
            .await
            .map_err(|_| ())?
            .expect("pool semaphores are never closed");
        let mut users = self.users();
        let slot = users
            .get_mut(login)
            .expect("a slot with live permits stays");
        let now = Instant::now();
        let mut evicted = Vec::new();
        let mut i = 0;
        while i < slot.idle.len() {
            if slot.idle[i].stale(now, self.idle_ttl, self.max_age) {
                evicted.push(slot.idle.remove(i).conn);
            } else {
                i += 1;
            }
        }
        let mut born = now;
        let same_key = |e: &Idle<C>| e.key == key;
        let chosen = slot
            .idle
            .iter()
            .rposition(|e| same_key(e) && prefer(&e.conn))
            .or_else(|| slot.idle.iter().rposition(same_key));
        let conn = match chosen {
            Some(i) => {
                let idle = slot.idle.remove(i);
                born = idle.born;
                Some(idle.conn)
            }
            None => {
                // A new connection will be opened: make room among the others' idle ones.
                // `in_use` counts ours too, so afterwards in use + idle <= the limit.
                let in_use = self.max_per_user - slot.permits.available_permits();
                while !slot.idle.is_empty() && in_use + slot.idle.len() > self.max_per_user {
                    evicted.push(slot.idle.remove(0).conn);
                }
                None
            }
        };
        Ok(Checkout {
            lease: Lease {
                login: login.to_string(),
                key,
                _permit: permit,
                _first: first,
                born,
            },
            conn,
            evicted,
        })
    }

    /// Returns a healthy connection for reuse by the same credentials.
    pub(crate) fn checkin(&self, lease: Lease, conn: C) {
        let mut users = self.users();
        if let Some(slot) = users.get_mut(&lease.login) {
            if !self.is_warm(&lease.login) {
                self.warmed().insert(lease.login.clone());
            }
            slot.idle.push(Idle {
                conn,
                key: lease.key,
                since: Instant::now(),
                born: lease.born,
            });
        }
        drop(users);
        drop(lease);
    }

    /// Removes and returns idle connections older than the idle timeout, and forgets users
    /// with nothing idle and nothing in use.
    pub(crate) fn expired(&self) -> Vec<C> {
        let now = Instant::now();
        let mut out = Vec::new();
        self.users().retain(|_, slot| {
            let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut slot.idle)
                .into_iter()
                .partition(|e| e.stale(now, self.idle_ttl, self.max_age));
            out.extend(old.into_iter().map(|e| e.conn));
            slot.idle = keep;
            // Only we hold the semaphore: no checkout is in flight for this user.
            !slot.idle.is_empty() || Arc::strong_count(&slot.permits) > 1
        });
        out
    }

    /// Number of idle connections (all users).
    pub(crate) fn idle_count(&self) -> usize {
        self.users().values().map(|s| s.idle.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(50);

    fn pool(max: usize) -> (Pool<u32>, Salt) {
        (Pool::new(max, Duration::from_secs(60)), Salt::random())
    }

    /// A first connection of `login` came back healthy, and is then closed.
    async fn warm(pool: &Pool<u32>, login: &str, key: SecretKey) {
        let first = pool.checkout(login, key, WAIT).await.unwrap();
        pool.checkin(first.lease, 0);
        let again = pool.checkout(login, key, WAIT).await.unwrap();
        assert_eq!(again.conn, Some(0));
    }

    #[tokio::test]
    async fn a_new_login_takes_turns_until_one_connection_came_back() {
        let (p, salt) = pool(4);
        let k = salt.key("new", "pw");
        let first = p.checkout("new", k, WAIT).await.unwrap();
        // Not warm yet: a second checkout waits for the first.
        assert!(p.checkout("new", k, WAIT).await.is_err());
        // A failed first connection (dropped, not checked in) passes the turn on.
        drop(first);
        let second = p.checkout("new", k, WAIT).await.unwrap();
        p.checkin(second.lease, 1);
        // Warm: checkouts no longer wait for each other.
        let a = p.checkout("new", k, WAIT).await.unwrap();
        let b = p.checkout("new", k, WAIT).await.unwrap();
        let c = p.checkout("new", k, WAIT).await.unwrap();
        assert_eq!((a.conn, b.conn, c.conn), (Some(1), None, None));
        // Other logins have their own turn.
        assert!(
            p.checkout("other", salt.key("other", "x"), WAIT)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_preferred_idle_connection_comes_first() {
        let (pool, salt) = pool(4);
        let k = salt.key("alice", "pw");
        warm(&pool, "alice", k).await;
        // Idle, oldest first: 7, 8, 9 (9 is the most recently used).
        let leases: Vec<_> =
            futures::future::join_all((0..3).map(|_| pool.checkout("alice", k, WAIT)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        for (c, conn) in leases.into_iter().zip([7, 8, 9]) {
            pool.checkin(c.lease, conn);
        }
        let even = |c: &u32| c.is_multiple_of(2);
        let c = pool
            .checkout_preferring("alice", k, WAIT, &even)
            .await
            .unwrap();
        assert_eq!(c.conn, Some(8));
        pool.checkin(c.lease, 8);
        // None preferred: the most recently used.
        let none = |_: &u32| false;
        let c = pool
            .checkout_preferring("alice", k, WAIT, &none)
            .await
            .unwrap();
        assert_eq!(c.conn, Some(8));
        let odd = |c: &u32| c % 2 == 1;
        let d = pool
            .checkout_preferring("alice", k, WAIT, &odd)
            .await
            .unwrap();
        assert_eq!(d.conn, Some(9));
        // Another password's connection is never taken, preferred or not.
        let other = salt.key("alice", "old");
        let any = |_: &u32| true;
        let e = pool
            .checkout_preferring("alice", other, WAIT, &any)
            .await
            .unwrap();
        assert_eq!(e.conn, None);
    }

    #[tokio::test]
    async fn reuses_only_with_the_same_password() {
        let (pool, salt) = pool(4);
        let right = salt.key("alice", "secret");
        let wrong = salt.key("alice", "guess");
        let c = pool.checkout("alice", right, WAIT).await.unwrap();
        assert!(c.conn.is_none());
        pool.checkin(c.lease, 1);
        let c = pool.checkout("alice", wrong, WAIT).await.unwrap();
        assert!(
            c.conn.is_none(),
            "a wrong password must not get the session"
        );
        assert!(c.evicted.is_empty(), "nor push it out below the limit");
        drop(c.lease); // its login failed
        let c = pool.checkout("alice", right, WAIT).await.unwrap();
        assert_eq!(c.conn, Some(1));
        let other = pool
            .checkout("bob", salt.key("bob", "secret"), WAIT)
            .await
            .unwrap();
        assert!(other.conn.is_none(), "another login never gets it either");
    }

    #[test]
    fn keys_are_salted_and_separate_login_from_password() {
        let (a, b) = (Salt::random(), Salt::random());
        assert_ne!(a.key("alice", "pw"), b.key("alice", "pw"));
        assert_eq!(a.key("alice", "pw"), a.key("alice", "pw"));
        assert_ne!(a.key("alic", "epw"), a.key("alice", "pw"));
        assert_eq!(format!("{:?}", a.key("alice", "pw")), "SecretKey(..)");
    }

    #[tokio::test]
    async fn bounded_per_user_and_waits_for_a_free_slot() {
        let (pool, salt) = pool(2);
        let k = salt.key("alice", "pw");
        warm(&pool, "alice", k).await;
        let a = pool.checkout("alice", k, WAIT).await.unwrap();
        let b = pool.checkout("alice", k, WAIT).await.unwrap();
        assert!(
            pool.checkout("alice", k, WAIT).await.is_err(),
            "third must wait"
        );
        assert!(
            pool.checkout("bob", salt.key("bob", "pw"), WAIT)
                .await
                .is_ok()
        );
        pool.checkin(a.lease, 1);
        drop(b.lease); // broken connection: dropped, not returned
        let c = pool.checkout("alice", k, WAIT).await.unwrap();
        assert_eq!(c.conn, Some(1));
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn total_connections_stay_within_the_limit() {
        let (pool, salt) = pool(2);
        let old = salt.key("alice", "old");
        let new = salt.key("alice", "new");
        warm(&pool, "alice", old).await;
        let a = pool.checkout("alice", old, WAIT).await.unwrap();
        let b = pool.checkout("alice", old, WAIT).await.unwrap();
        pool.checkin(a.lease, 1);
        pool.checkin(b.lease, 2);
        // Password changed: the new one needs a connection; one old idle one must go.
        let c = pool.checkout("alice", new, WAIT).await.unwrap();
        assert!(c.conn.is_none());
        assert_eq!(c.evicted, vec![1]);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn idle_connections_expire() {
        let pool: Pool<u32> = Pool::new(2, Duration::from_millis(20));
        let salt = Salt::random();
        let k = salt.key("alice", "pw");
        let a = pool.checkout("alice", k, WAIT).await.unwrap();
        pool.checkin(a.lease, 7);
        assert!(pool.expired().is_empty());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(pool.expired(), vec![7]);
        assert!(pool.users().is_empty(), "idle user is forgotten");
        let a = pool.checkout("alice", k, WAIT).await.unwrap();
        assert!(
            !a.lease.is_first_turn(),
            "but stays warm: no turns, no warm-up"
        );
        let beside = pool.checkout("alice", k, WAIT).await.unwrap();
        drop(beside);
        pool.checkin(a.lease, 8);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let b = pool.checkout("alice", k, WAIT).await.unwrap();
        assert!(b.conn.is_none(), "expired connection is not reused");
        assert_eq!(b.evicted, vec![8]);
    }

    #[tokio::test]
    async fn busy_connections_are_replaced_at_max_age() {
        let mut pool: Pool<u32> = Pool::new(2, Duration::from_secs(60));
        pool.max_age = Duration::from_millis(50);
        let k = Salt::random().key("alice", "pw");
        let a = pool.checkout("alice", k, WAIT).await.unwrap();
        pool.checkin(a.lease, 7);
        // Reused while young, never idle for long...
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let again = pool.checkout("alice", k, WAIT).await.unwrap();
            assert_eq!(again.conn, Some(7));
            pool.checkin(again.lease, 7);
        }
        // ...but not past its age, counted from when it was opened.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let old = pool.checkout("alice", k, WAIT).await.unwrap();
        assert!(old.conn.is_none());
        assert_eq!(old.evicted, vec![7]);
        pool.checkin(old.lease, 8);
        let new = pool.checkout("alice", k, WAIT).await.unwrap();
        assert_eq!(new.conn, Some(8), "the replacement is young");
    }
}
