//! The two load shapes: a closed loop (a fixed number of operations in flight, each worker
//! starting the next as soon as the last one ends) and an open loop (operations started at
//! a fixed arrival rate whatever the answers do, latency counted from the scheduled start
//! so a stalled server cannot hide its queue: no coordinated omission).

use crate::stats::{self, Report};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Runs `op(0..n)` with `concurrency` in flight; returns the report and every success's
/// value with its index.
pub async fn closed<T, F, Fut>(
    name: String,
    concurrency: usize,
    n: usize,
    op: F,
) -> anyhow::Result<(Report, Vec<(usize, T)>)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        let mut hist = stats::histogram()?;
        workers.spawn(async move {
            let mut values = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t0 = Instant::now();
                match op(i).await {
                    Ok(v) => {
                        stats::record(&mut hist, t0.elapsed());
                        values.push((i, v));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (hist, values, errors, first_error)
        });
    }
    let mut report = Report {
        name,
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: stats::histogram()?,
        first_error: None,
        cpu: None,
        worst_per_second: Vec::new(),
        generator_lag: None,
    };
    let mut values = Vec::with_capacity(n);
    while let Some(done) = workers.join_next().await {
        let (hist, vals, errors, first_error) = done?;
        report.latency.add(&hist)?;
        report.ok += vals.len() as u64;
        report.errors += errors;
        if report.first_error.is_none() {
            report.first_error = first_error;
        }
        values.extend(vals);
    }
    report.elapsed = started.elapsed();
    Ok((report, values))
}

/// Starts `op(0..n)` at `rate` per second, each at its scheduled instant, however many
/// are still in flight; latency runs from the scheduled instant to the answer.
pub async fn open<F, Fut>(name: String, rate: f64, n: usize, op: F) -> anyhow::Result<Report>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    anyhow::ensure!(rate > 0.0, "the rate must be positive");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(20);
    let mut report = Report {
        name,
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: stats::histogram()?,
        first_error: None,
        cpu: None,
        worst_per_second: Vec::new(),
        generator_lag: None,
    };
    let mut last = start;
    let mut in_flight = JoinSet::new();
    let mut tally = |res: Result<(Instant, Instant, Result<(), String>), _>| -> anyhow::Result<()> {
        let (due, done, outcome) = res?;
        last = last.max(done);
        match outcome {
            Ok(()) => {
                report.ok += 1;
                stats::record(&mut report.latency, done - due);
                let second = (due - start).as_secs() as usize;
                let us = u64::try_from((done - due).as_micros()).unwrap_or(u64::MAX);
                let worst = &mut report.worst_per_second;
                if worst.len() <= second {
                    worst.resize(second + 1, 0);
                }
                worst[second] = worst[second].max(us);
            }
            Err(e) => {
                report.errors += 1;
                report.first_error.get_or_insert(e);
            }
        }
        Ok(())
    };
    for i in 0..n {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let lag = Instant::now().saturating_duration_since(due);
        if report.generator_lag.is_none_or(|(worst, _)| lag > worst) {
            report.generator_lag = Some((lag, (due - start).as_secs() as usize));
        }
        let fut = op(i);
        in_flight.spawn(async move {
            let outcome = fut.await;
            (due, Instant::now(), outcome)
        });
        while let Some(res) = in_flight.try_join_next() {
            tally(res)?;
        }
    }
    while let Some(res) = in_flight.join_next().await {
        tally(res)?;
    }
    report.elapsed = last - start;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closed_loop_runs_every_index_once() {
        let (report, mut values) = closed("t".into(), 4, 50, |i| async move {
            if i % 10 == 3 {
                Err(format!("bad {i}"))
            } else {
                Ok(i * 2)
            }
        })
        .await
        .expect("run");
        assert_eq!(report.ok, 45);
        assert_eq!(report.errors, 5);
        assert!(report.first_error.is_some_and(|e| e.starts_with("bad ")));
        values.sort_unstable();
        assert_eq!(values.len(), 45);
        assert!(values.iter().all(|(i, v)| *v == i * 2 && i % 10 != 3));
    }

    #[tokio::test]
    async fn open_loop_counts_from_the_schedule() {
        // 20 operations at 200/s, each taking 30 ms: the schedule spans ~95 ms.
        let report = open("t".into(), 200.0, 20, |_| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(())
        })
        .await
        .expect("run");
        assert_eq!(report.ok, 20);
        assert_eq!(report.errors, 0);
        assert!(report.ms(0.5) >= 30.0, "{}", report.ms(0.5));
        assert!(
            report.elapsed >= Duration::from_millis(120),
            "{:?}",
            report.elapsed
        );
    }
}
