//! The process lifecycle. SIGTERM: the process drains and exits. Every service follows
//! uam's revoked-session feed, a stream that never ends on its own; on shutdown it ends,
//! so the drain does not have to wait out the grace period. Start-up: the hint to create
//! an administrator appears only while there is none.

use crate::support::System;
use lms_testkit::Backend;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_process_well_within_the_grace_period() {
    let mut sys = System::start_with_env(
        Backend::Sqlite,
        &[("LMS_SERVER__SHUTDOWN_GRACE_MS", "30000")],
    )
    .await;
    // The system works, and the services' revocation feeds are open.
    let token = sys.admin_token().await;
    assert!(!token.is_empty());
    let asked = Instant::now();
    let status = sys
        .terminate(Duration::from_secs(40))
        .expect("lms serve still running 40 s after SIGTERM");
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status}");
    // Streams that outlived shutdown would hold the drain for the whole 30 s.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tells_how_to_create_an_administrator_only_while_there_is_none() {
    // `System::start` creates the administrator after the process reported readiness.
    let mut sys = System::start(Backend::Sqlite).await;
    assert!(sys.stdout_shows("No administrator yet", Duration::from_secs(10)));
    sys.restart();
    assert!(sys.stdout_shows("LMS is running", Duration::from_secs(1)));
    // Decided before readiness was printed: no later line can bring it.
    assert!(!sys.stdout_shows("No administrator yet", Duration::from_millis(500)));
    assert!(!sys.admin_token().await.is_empty());
}
