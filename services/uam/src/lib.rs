//! lms-uam
