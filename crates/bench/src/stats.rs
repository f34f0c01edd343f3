//! Latency histograms (microseconds, 3 significant digits) and the figures a phase reports.

use hdrhistogram::Histogram;
use std::fmt;
use std::time::Duration;

/// A latency histogram in microseconds, from 1 µs to 10 minutes.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Records `d` (saturating at the histogram's bound).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(us);
}

/// The outcome of one timed phase.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was measured, e.g. "gateway submit (closed loop, 32 in flight)".
    pub name: String,
    /// Successful operations.
    pub ok: u64,
    /// Failed operations (non-2xx answers, transport or database errors).
    pub errors: u64,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Latencies of the successful operations.
    pub latency: Histogram<u64>,
    /// One failure, for the reader (first seen).
    pub first_error: Option<String>,
    /// CPU time per operation, when measured.
    pub cpu: Option<crate::cpu::Usage>,
    /// Open loop only: the largest latency (µs) of the operations scheduled in each
    /// second of the run, to tell a steady tail from a stall.
    pub worst_per_second: Vec<u64>,
    /// Open loop only: the longest the load generator started an operation after its
    /// scheduled time, and in which second; a stall of the generator's own process (or of
    /// the whole machine) shows here, a stall of the server does not.
    pub generator_lag: Option<(Duration, usize)>,
}

impl Report {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency at `q` (0..=1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// The largest latency in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// Adds a later phase of the same kind: counts, wall time and latencies add up, CPU
    /// per operation is averaged over the operations.
    pub fn merge(&mut self, other: &Report) -> anyhow::Result<()> {
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => {
                Some(a.weighted(self.ok, self.elapsed, &b, other.ok, other.elapsed))
            }
            (a, b) => a.or(b),
        };
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency.add(&other.latency)?;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        writeln!(
            f,
            "  ok {} errors {} in {:.2} s: {:.0}/s",
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.rate()
        )?;
        write!(
            f,
            "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            self.ms(0.50),
            self.ms(0.90),
            self.ms(0.99),
            self.max_ms()
        )?;
        if !self.worst_per_second.is_empty() {
            let worst: Vec<String> = self
                .worst_per_second
                .iter()
                .map(|us| format!("{:.0}", *us as f64 / 1000.0))
                .collect();
            write!(f, "\n  worst ms per second: {}", worst.join(" "))?;
        }
        if let Some((lag, second)) = self.generator_lag {
            write!(
                f,
                "\n  load generator lag: up to {:.1} ms (second {second})",
                lag.as_secs_f64() * 1000.0
            )?;
        }
        if let Some(c) = &self.cpu {
            write!(f, "\n  {c}")?;
        }
        if let Some(e) = &self.first_error {
            write!(f, "\n  first error: {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_rate() {
        let mut h = histogram().expect("histogram");
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let r = Report {
            name: "t".into(),
            ok: 100,
            errors: 0,
            elapsed: Duration::from_secs(4),
            latency: h,
            first_error: None,
            cpu: None,
            worst_per_second: Vec::new(),
            generator_lag: None,
        };
        assert_eq!(r.rate(), 25.0);
        assert!((r.ms(0.5) - 50.0).abs() < 0.1, "{}", r.ms(0.5));
        assert!((r.ms(0.99) - 99.0).abs() < 0.1, "{}", r.ms(0.99));
        assert!((r.max_ms() - 100.0).abs() < 0.1);
    }
}
