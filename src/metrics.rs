//! Counters and histograms of the running server, rendered in the Prometheus text
//! exposition format (version 0.0.4) on the admin listener's `/metrics`.
//!
//! Written here rather than with the `metrics` crates: a handful of series, keyed by
//! short labels, need no recorder, registry or extra dependency tree; a mutex per
//! family is far cheaper than the upstream round trip every request makes anyway.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency buckets. Ping and hanging Sync
/// answers take up to their heartbeat, hence the long tail.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Values that live elsewhere (the push hub), read when `/metrics` is rendered.
pub struct Gauges {
    pub waiting_requests: usize,
    pub push_watchers: usize,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    upstream_errors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    sync_items_sent: AtomicU64,
    sync_items_received: AtomicU64,
    auth_failures: AtomicU64,
    throttled: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One finished ActiveSync request of `command` (the request line's name, possibly
    /// unknown) answered with `status` after `took`.
    pub fn request(&self, command: &str, status: u16, took: Duration) {
        *lock(&self.requests)
            .entry((command.to_string(), status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let h = latency.entry(command.to_string()).or_default();
        for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// An upstream failure: `backend` is imap, dav, smtp, store or upstream (a
    /// command's backend error that does not say which); `kind` the error's class.
    pub fn upstream_error(&self, backend: &'static str, kind: &'static str) {
        *lock(&self.upstream_errors)
            .entry((backend, kind))
            .or_default() += 1;
    }

    /// An upstream's [`BackendError`](airsync_model::BackendError), by its kind.
    pub fn backend_error(&self, backend: &'static str, e: &airsync_model::BackendError) {
        use airsync_model::BackendError as B;
        let kind = match e {
            B::Auth => "auth",
            B::NotFound(_) => "not_found",
            B::Conflict(_) => "conflict",
            B::Transient(_) => "transient",
            B::Permanent(_) => "permanent",
        };
        self.upstream_error(backend, kind);
    }

    pub fn sync_items(&self, sent: u64, received: u64) {
        self.sync_items_sent.fetch_add(sent, Ordering::Relaxed);
        self.sync_items_received
            .fetch_add(received, Ordering::Relaxed);
    }

    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP airsync_requests_total ActiveSync requests by command and HTTP status.\n\
             # TYPE airsync_requests_total counter"
        );
        for ((command, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "airsync_requests_total{{command=\"{}\",status=\"{status}\"}} {n}",
                escape(command)
            );
        }
        let _ = writeln!(
            out,
            "# HELP airsync_request_duration_seconds ActiveSync request latency by command.\n\
             # TYPE airsync_request_duration_seconds histogram"
        );
        for (command, h) in lock(&self.latency).iter() {
            let c = escape(command);
            for (n, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
                let _ = writeln!(
                    out,
                    "airsync_request_duration_seconds_bucket{{command=\"{c}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "airsync_request_duration_seconds_bucket{{command=\"{c}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "airsync_request_duration_seconds_sum{{command=\"{c}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "airsync_request_duration_seconds_count{{command=\"{c}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP airsync_upstream_errors_total Upstream failures by backend and kind.\n\
             # TYPE airsync_upstream_errors_total counter"
        );
        for ((backend, kind), n) in lock(&self.upstream_errors).iter() {
            let _ = writeln!(
                out,
                "airsync_upstream_errors_total{{backend=\"{backend}\",kind=\"{kind}\"}} {n}"
            );
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let singles: [(&str, &str, &str, u64); 6] = [
            (
                "airsync_sync_items_sent_total",
                "counter",
                "Items (Add, Change, Delete, SoftDelete) sent to devices in Sync responses.",
                load(&self.sync_items_sent),
            ),
            (
                "airsync_sync_items_received_total",
                "counter",
                "Items (Add, Change, Delete, Fetch) received from devices in Sync requests.",
                load(&self.sync_items_received),
            ),
            (
                "airsync_auth_failures_total",
                "counter",
                "Requests refused for missing, wrong or throttled credentials.",
                load(&self.auth_failures),
            ),
            (
                "airsync_throttled_requests_total",
                "counter",
                "Requests refused by the per-device rate limit.",
                load(&self.throttled),
            ),
            (
                "airsync_waiting_requests",
                "gauge",
                "Pings and hanging Syncs waiting now.",
                gauges.waiting_requests as u64,
            ),
            (
                "airsync_push_watchers",
                "gauge",
                "Upstream push watchers running now (one per user).",
                gauges.push_watchers as u64,
            ),
        ];
        for (name, kind, help, value) in singles {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("Sync", 200, Duration::from_millis(30));
        m.request("Sync", 200, Duration::from_secs(3));
        m.request("Fold\"er", 503, Duration::from_millis(1));
        m.upstream_error("imap", "transient");
        m.sync_items(5, 2);
        let text = m.render(&Gauges {
            waiting_requests: 3,
            push_watchers: 1,
        });
        assert!(
            text.contains("airsync_requests_total{command=\"Sync\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("airsync_requests_total{command=\"Fold\\\"er\",status=\"503\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "airsync_request_duration_seconds_bucket{command=\"Sync\",le=\"0.05\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("airsync_request_duration_seconds_bucket{command=\"Sync\",le=\"10\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("airsync_request_duration_seconds_count{command=\"Sync\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("airsync_upstream_errors_total{backend=\"imap\",kind=\"transient\"} 1"),
            "{text}"
        );
        assert!(text.contains("airsync_sync_items_sent_total 5\n"), "{text}");
        assert!(
            text.contains("airsync_sync_items_received_total 2\n"),
            "{text}"
        );
        assert!(text.contains("airsync_waiting_requests 3\n"), "{text}");
        assert!(text.contains("airsync_push_watchers 1\n"), "{text}");
    }
}
