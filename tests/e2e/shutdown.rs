//! SIGTERM: the process drains and exits, even with streams open that never end on their
//! own (every service follows uam's revoked-session feed).

use crate::support::System;
use lms_testkit::Backend;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_process_within_the_grace_period() {
    let mut sys = System::start_with_env(
        Backend::Sqlite,
        &[("LMS_SERVER__SHUTDOWN_GRACE_MS", "1500")],
    )
    .await;
    // The system works, and the services' revocation feeds are open.
    let token = sys.admin_token().await;
    assert!(!token.is_empty());
    let asked = Instant::now();
    let status = sys
        .terminate(Duration::from_secs(10))
        .expect("lms serve still running 10 s after SIGTERM");
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status}");
    // The feeds never end on their own: the process waited out the grace period for them
    // (a shutdown that cut everything at once would be faster), and no longer.
    assert!(took >= Duration::from_millis(1_400), "took {took:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
}
