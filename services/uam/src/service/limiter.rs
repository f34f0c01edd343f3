//! The per-client-IP attempt limiter of Login and TotpLogin (in memory, per replica; the
//! per-account limits live in the database).

use crate::error::UamError;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 100_000;

/// Keyed GCRA limiter over client addresses.
pub struct IpLimiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for IpLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpLimiter").finish_non_exhaustive()
    }
}

impl IpLimiter {
    /// `per_minute` attempts per address with bursts of `burst` (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: RateLimiter::keyed(Quota::per_minute(per).allow_burst(burst)),
        }
    }

    /// Counts one attempt from `ip`; TOO_MANY_REQUESTS over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), UamError> {
        if self.inner.len() > SWEEP_AT {
            self.inner.retain_recent();
        }
        self.inner.check_key(&ip).map_err(|_| {
            tracing::info!(%ip, "per-ip login limit reached");
            UamError::TooManyRequests
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_the_burst_per_address() {
        let l = IpLimiter::new(20, 20);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        for _ in 0..20 {
            l.check(a).unwrap();
        }
        assert!(matches!(l.check(a), Err(UamError::TooManyRequests)));
        l.check(b).unwrap();
    }
}
