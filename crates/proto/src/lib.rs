//! `lms-proto`: the generated messages, clients and servers of every LMS package
//! (`lms.common.v1`, `lms.uam.v1`, `lms.config.v1`, `lms.lead.v1`, `lms.notify.v1`,
//! `lms.report.v1`) and the encoded file descriptor set that gRPC reflection serves.
//! Nothing but generated code lives here; conversions belong to each service's `convert`.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// The encoded `FileDescriptorSet` of every LMS proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/lms_descriptor.bin"));

/// Shared enums.
pub mod common {
    pub mod v1 {
        tonic::include_proto!("lms.common.v1");
    }
}
/// User and access management.
pub mod uam {
    pub mod v1 {
        tonic::include_proto!("lms.uam.v1");
    }
}
/// Product configuration and documents.
pub mod config {
    pub mod v1 {
        tonic::include_proto!("lms.config.v1");
    }
}
/// Leads.
pub mod lead {
    pub mod v1 {
        tonic::include_proto!("lms.lead.v1");
    }
}
/// Notifications.
pub mod notify {
    pub mod v1 {
        tonic::include_proto!("lms.notify.v1");
    }
}
/// Analytics and reports.
pub mod report {
    pub mod v1 {
        tonic::include_proto!("lms.report.v1");
    }
}
