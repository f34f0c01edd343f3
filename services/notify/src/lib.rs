//! lms-notify
