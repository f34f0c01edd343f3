//! lms-config
