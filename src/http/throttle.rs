//! Request budgets (`[limits]`): a token bucket per (login, device id), so that a
//! phone stuck in a loop cannot flood the upstreams, and one per account (device id
//! `""`) for all its devices together. It is checked after authentication (which has its own
//! failure throttle) and before anything touches the store or an upstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before full (idle) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Throttle {
    /// Tokens per second; 0: no limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl Throttle {
    pub fn new(per_minute: u32, burst: u32) -> Throttle {
        Throttle {
            rate: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token of the device's bucket; `Err(wait)` when it is empty, with the
    /// time until the next token.
    pub fn take(&self, login: &str, device_id: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = buckets
            .entry((login.to_string(), device_id.to_string()))
            .or_insert(Bucket {
                tokens: self.burst,
                at: now,
            });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_device() {
        let t = Throttle::new(60, 3);
        for _ in 0..3 {
            assert!(t.take("alice", "A").is_ok());
        }
        let wait = t.take("alice", "A").unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another device, and the same device id of another user, have their own budget.
        assert!(t.take("alice", "B").is_ok());
        assert!(t.take("bob", "A").is_ok());
        std::thread::sleep(Duration::from_millis(1100));
        assert!(
            t.take("alice", "A").is_ok(),
            "one token back after a second"
        );
        assert!(t.take("alice", "A").is_err());
    }

    #[test]
    fn zero_means_unlimited() {
        let t = Throttle::new(0, 1);
        assert!((0..1000).all(|_| t.take("a", "b").is_ok()));
    }
}
