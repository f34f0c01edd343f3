//! Throttling arithmetic for password and TOTP guessing (security.md "Failed logins" and
//! "TOTP guessing"). The counters live in the database so they survive restarts and are
//! shared by replicas; these functions only compute the next state. Instants are
//! microseconds since the epoch, as stored.

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SECOND;
const DAY: i64 = 24 * HOUR;

/// Consecutive failures before the first lock.
pub const FREE_FAILURES: i64 = 5;
/// Lock windows after the 5th, 6th, ... consecutive failure, in seconds (the last repeats).
pub const LOCK_SCHEDULE_SECS: &[i64] = &[1, 3, 5, 10, 30, 60, 120, 300];
/// Most failed logins an account may collect per hour.
pub const MAX_FAILURES_PER_HOUR: i64 = 100;

/// Bad TOTP codes that lock TOTP until the next step boundary.
pub const TOTP_FAILURES_PER_WINDOW: i64 = 3;
/// Bad TOTP codes within 24 h after which the password step must be redone.
pub const TOTP_FAILURES_PER_DAY: i64 = 20;

/// An account's password-guessing state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Consecutive failures since the last success.
    pub failures: i64,
    /// No password is checked before this instant.
    pub locked_until: i64,
    /// Start of the current one-hour counting window.
    pub hour_start: i64,
    /// Failures in that window.
    pub hour_failures: i64,
}

impl LoginThrottle {
    /// True when a login must be refused without checking the password.
    pub fn is_locked(&self, now: i64) -> bool {
        now < self.locked_until
            || (now - self.hour_start < HOUR && self.hour_failures >= MAX_FAILURES_PER_HOUR)
    }

    /// The state after one more failed password at `now`.
    pub fn after_failure(&self, now: i64) -> Self {
        let failures = self.failures + 1;
        let (hour_start, hour_failures) = if now - self.hour_start >= HOUR {
            (now, 1)
        } else {
            (self.hour_start, self.hour_failures + 1)
        };
        let locked_until = if failures >= FREE_FAILURES {
            let idx = usize::try_from(failures - FREE_FAILURES).unwrap_or(usize::MAX);
            let secs = LOCK_SCHEDULE_SECS
                .get(idx)
                .or(LOCK_SCHEDULE_SECS.last())
                .copied()
                .unwrap_or(1);
            now + secs * SECOND
        } else {
            self.locked_until
        };
        Self {
            failures,
            locked_until,
            hour_start,
            hour_failures,
        }
    }

    /// The state after a successful login: the consecutive count starts again, the
    /// hourly count stays (it bounds guesses whatever happens in between).
    pub fn after_success(&self) -> Self {
        Self {
            failures: 0,
            locked_until: 0,
            ..*self
        }
    }
}

/// A user's TOTP-guessing state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TotpGuard {
    /// Bad codes since the last success or lock.
    pub failures: i64,
    /// No code is checked before this instant.
    pub locked_until: i64,
    /// Start of the current 24 h window.
    pub day_start: i64,
    /// Bad codes in that window.
    pub day_failures: i64,
}

/// What a bad TOTP code leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpFailure {
    /// The new state.
    pub guard: TotpGuard,
    /// True when the daily cap was reached: pending MFA tokens die and the password step
    /// must be redone (the daily count then starts again).
    pub restart_login: bool,
}

impl TotpGuard {
    /// True when codes must be refused without checking them.
    pub fn is_locked(&self, now: i64) -> bool {
        now < self.locked_until
    }

    /// The state after a bad code at `now`; `step_end` is the first instant of the next
    /// 30 s step.
    pub fn after_failure(&self, now: i64, step_end: i64) -> TotpFailure {
        let mut g = *self;
        g.failures += 1;
        if g.failures >= TOTP_FAILURES_PER_WINDOW {
            g.failures = 0;
            g.locked_until = step_end;
        }
        if now - g.day_start >= DAY {
            g.day_start = now;
            g.day_failures = 0;
        }
        g.day_failures += 1;
        let restart_login = g.day_failures >= TOTP_FAILURES_PER_DAY;
        if restart_login {
            g.day_start = now;
            g.day_failures = 0;
        }
        TotpFailure {
            guard: g,
            restart_login,
        }
    }

    /// The state after a good code: the per-window count starts again; the daily one stays.
    pub fn after_success(&self) -> Self {
        Self {
            failures: 0,
            locked_until: 0,
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_after_five_failures() {
        let mut t = LoginThrottle::default();
        let now = 1_000 * HOUR;
        for _ in 0..4 {
            t = t.after_failure(now);
            assert!(!t.is_locked(now));
        }
        let windows: Vec<i64> = (0..10)
            .map(|_| {
                t = t.after_failure(now);
                (t.locked_until - now) / SECOND
            })
            .collect();
        assert_eq!(windows, [1, 3, 5, 10, 30, 60, 120, 300, 300, 300]);
        assert!(t.is_locked(now + 299 * SECOND));
        assert!(!t.is_locked(now + 300 * SECOND));
        let ok = t.after_success();
        assert!(!ok.is_locked(now));
        assert_eq!(ok.failures, 0);
    }

    #[test]
    fn at_most_a_hundred_failures_per_hour() {
        let mut t = LoginThrottle::default();
        let start = 1_000 * HOUR;
        let mut now = start;
        let mut counted = 0;
        // Try every second for an hour, as fast as the locks allow.
        while now < start + HOUR {
            if !t.is_locked(now) {
                t = t.after_failure(now);
                // Successes in between must not reset the hourly count.
                t = LoginThrottle {
                    failures: 0,
                    locked_until: 0,
                    ..t
                };
                counted += 1;
            }
            now += SECOND;
        }
        assert_eq!(counted, MAX_FAILURES_PER_HOUR);
        assert!(!t.is_locked(start + HOUR + SECOND));
    }

    #[test]
    fn three_bad_codes_lock_until_the_next_step() {
        let now = 90 * SECOND + 5 * SECOND;
        let end = 120 * SECOND;
        let mut g = TotpGuard::default();
        for _ in 0..2 {
            g = g.after_failure(now, end).guard;
            assert!(!g.is_locked(now));
        }
        g = g.after_failure(now, end).guard;
        assert!(g.is_locked(now));
        assert!(g.is_locked(end - 1));
        assert!(!g.is_locked(end));
    }

    #[test]
    fn daily_cap_restarts_the_login() {
        let mut g = TotpGuard::default();
        let mut now = 10 * DAY;
        let mut restarts = 0;
        for i in 1..=20 {
            let f = g.after_failure(now, now + 30 * SECOND);
            g = f.guard;
            if f.restart_login {
                restarts += 1;
                assert_eq!(i, 20);
            }
            now += 31 * SECOND;
        }
        assert_eq!(restarts, 1);
        assert_eq!(g.day_failures, 0);
    }
}
