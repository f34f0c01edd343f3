//! Pure rules of the lead service: the lead and its enums, events and field changes, the
//! checks and normalisation of a submitted form, and the rules of an update. No I/O, no
//! clock, no proto types: callers pass instants and get values or violations back.

pub mod form;
pub mod lead;
pub mod product;
pub mod update;

pub use lead::{
    Caller, Channel, EventType, FieldChange, Lead, LeadStatus, Priority, ScoreBreakdown, ScoreItem,
    SubmitOutcome, Submitted, lead_uid,
};
