//! lms-gateway
