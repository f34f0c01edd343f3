//! lms-report
