//! Where a phase's CPU went, from `/proc` (Linux; elsewhere nothing is reported): the
//! `lms` server process (all its threads), every `postgres` process, this tool, and the
//! whole machine's busy share. On a small machine the three share the same cores, so CPU
//! time per operation tells which of them limits the rate.

use std::fmt;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU times at one instant, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    server: u64,
    postgres: u64,
    bench: u64,
    machine_busy: u64,
    machine_total: u64,
}

impl Snapshot {
    /// Reads the times now; `None` when `/proc` is unreadable.
    pub fn take(server_pid: Option<u32>) -> Option<Self> {
        let server = match server_pid {
            Some(pid) => process_ticks(&format!("/proc/{pid}/stat")).unwrap_or(0),
            None => 0,
        };
        let bench = process_ticks("/proc/self/stat")?;
        let mut postgres = 0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let path = entry.path();
            let is_pid = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            if is_pid
                && std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres")
            {
                postgres += process_ticks(&path.join("stat").display().to_string()).unwrap_or(0);
            }
        }
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        let total: u64 = cpu.iter().take(8).sum();
        Some(Self {
            server,
            postgres,
            bench,
            machine_busy: total.saturating_sub(idle),
            machine_total: total,
        })
    }
}

/// utime + stime of one process (all its threads).
fn process_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU milliseconds per operation between two snapshots.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// The `lms` process.
    pub server_ms: f64,
    /// All `postgres` processes.
    pub postgres_ms: f64,
    /// This tool.
    pub bench_ms: f64,
    /// Share of the machine's CPU that was busy, 0..=1.
    pub machine_busy: f64,
}

impl Usage {
    /// The usage per operation over `ops` operations.
    pub fn between(a: &Snapshot, b: &Snapshot, ops: u64) -> Self {
        let per_op = |x: u64, y: u64| {
            (y.saturating_sub(x)) as f64 / TICKS_PER_SEC * 1000.0 / ops.max(1) as f64
        };
        let total = b.machine_total.saturating_sub(a.machine_total).max(1) as f64;
        Self {
            server_ms: per_op(a.server, b.server),
            postgres_ms: per_op(a.postgres, b.postgres),
            bench_ms: per_op(a.bench, b.bench),
            machine_busy: b.machine_busy.saturating_sub(a.machine_busy) as f64 / total,
        }
    }
}

impl Usage {
    /// The usage of two phases together: per-operation times weighted by their
    /// operations, the machine's load by their wall time.
    pub fn weighted(
        &self,
        ops: u64,
        elapsed: std::time::Duration,
        other: &Usage,
        other_ops: u64,
        other_elapsed: std::time::Duration,
    ) -> Self {
        let mix = |a: f64, wa: f64, b: f64, wb: f64| {
            if wa + wb > 0.0 {
                (a * wa + b * wb) / (wa + wb)
            } else {
                0.0
            }
        };
        let (oa, ob) = (ops as f64, other_ops as f64);
        let (ta, tb) = (elapsed.as_secs_f64(), other_elapsed.as_secs_f64());
        Self {
            server_ms: mix(self.server_ms, oa, other.server_ms, ob),
            postgres_ms: mix(self.postgres_ms, oa, other.postgres_ms, ob),
            bench_ms: mix(self.bench_ms, oa, other.bench_ms, ob),
            machine_busy: mix(self.machine_busy, ta, other.machine_busy, tb),
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPU ms per op: lms {:.2}, postgres {:.2}, lms-bench {:.2}; machine busy {:.0}%",
            self.server_ms,
            self.postgres_ms,
            self.bench_ms,
            self.machine_busy * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_op_times() {
        let a = Snapshot {
            server: 100,
            postgres: 50,
            bench: 10,
            machine_busy: 1000,
            machine_total: 2000,
        };
        let b = Snapshot {
            server: 300,
            postgres: 150,
            bench: 30,
            machine_busy: 1180,
            machine_total: 2200,
        };
        let u = Usage::between(&a, &b, 1000);
        assert!((u.server_ms - 2.0).abs() < 1e-9);
        assert!((u.postgres_ms - 1.0).abs() < 1e-9);
        assert!((u.bench_ms - 0.2).abs() < 1e-9);
        assert!((u.machine_busy - 0.9).abs() < 1e-9);
    }

    #[test]
    fn reads_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(Snapshot::take(None).is_some());
        }
    }
}
