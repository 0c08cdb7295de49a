//! Readings of a process's CPU time and peak memory from /proc, for the benches. Each
//! bench uses part of it.
#![allow(dead_code)]

use std::time::Duration;

/// User + system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start with the state.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of proc_pid_stat(5), 11 and 12 after the
    // state, in clock ticks (USER_HZ, 100 on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every process named `imap` (Dovecot's IMAP processes).
pub fn dovecot_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "imap")
        })
        .map(cpu_seconds)
        .sum()
}

/// A process's peak resident memory, in KiB.
pub fn rss_peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

/// A process's resident memory now, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// A size in KiB from /proc/PID/status (`field`: VmRSS, VmHWM…); 0 if unreadable.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time spent between two readings.
pub fn spent(before: f64, after: f64) -> Duration {
    Duration::from_secs_f64((after - before).max(0.0))
}

pub fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}
