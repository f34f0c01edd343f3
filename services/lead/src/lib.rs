//! lms-lead
