//! Enums on the wire: the proto value name without its prefix (`LEAD_STATUS_IN_PROGRESS`
//! is `IN_PROGRESS`), exact and upper case; `UNSPECIFIED` is never a valid input and is
//! rendered as `null`.

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $prefix:literal) => {
        $(#[$doc])*
        // Not every enum needs every direction.
        #[allow(dead_code)]
        pub mod $name {
            /// Parses a wire name into the proto value.
            pub fn parse(s: &str) -> Option<i32> {
                if s.is_empty() || s == "UNSPECIFIED" {
                    return None;
                }
                <$ty>::from_str_name(&format!(concat!($prefix, "{}"), s)).map(|v| v as i32)
            }

            /// The wire name of a proto value; `None` for unset or unknown values.
            pub fn name(v: i32) -> Option<&'static str> {
                <$ty>::try_from(v)
                    .ok()
                    .and_then(|e| e.as_str_name().strip_prefix($prefix))
                    .filter(|s| *s != "UNSPECIFIED")
            }

            /// The wire name as JSON (`null` when unset).
            pub fn json(v: i32) -> serde_json::Value {
                name(v).map_or(serde_json::Value::Null, |s| serde_json::Value::from(s))
            }

            /// Every wire name, comma-separated (for messages).
            pub fn expected() -> String {
                (1..64).map_while(name).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

wire_enum!(
    /// `NEW`, `IN_PROGRESS`, `QUALIFIED`, `UNQUALIFIED`, `CLOSED_WON`, `CLOSED_LOST`.
    status, lms_proto::common::v1::LeadStatus, "LEAD_STATUS_"
);
wire_enum!(
    /// `LOW`, `MEDIUM`, `HIGH`, `URGENT`.
    priority, lms_proto::common::v1::LeadPriority, "LEAD_PRIORITY_"
);
wire_enum!(
    /// `FORM`, `CHATBOT`, `FACEBOOK`, `WHATSAPP`, `TELEGRAM`.
    channel, lms_proto::common::v1::LeadChannel, "LEAD_CHANNEL_"
);
wire_enum!(
    /// `ADMIN`, `MANAGER`, `AGENT`.
    role, lms_proto::uam::v1::Role, "ROLE_"
);
wire_enum!(
    /// `NONE`, `PROOF_OF_WORK`, `TURNSTILE`, `RECAPTCHA`, `HCAPTCHA`.
    captcha, lms_proto::config::v1::CaptchaMode, "CAPTCHA_MODE_"
);
wire_enum!(
    /// `ALLOW`, `MERGE`, `SUPPRESS`.
    duplicate, lms_proto::config::v1::DuplicatePolicy, "DUPLICATE_POLICY_"
);
wire_enum!(
    /// `CREATED`, `MERGED`, `DUPLICATE_SUPPRESSED`, `QUARANTINED`.
    outcome, lms_proto::lead::v1::SubmissionOutcome, "SUBMISSION_OUTCOME_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        assert_eq!(status::parse("IN_PROGRESS"), Some(2));
        assert_eq!(status::name(2), Some("IN_PROGRESS"));
        assert_eq!(status::parse("in_progress"), None);
        assert_eq!(status::parse("UNSPECIFIED"), None);
        assert_eq!(status::name(0), None);
        assert_eq!(status::json(99), serde_json::Value::Null);
        assert_eq!(channel::parse("TELEGRAM"), Some(5));
        assert_eq!(channel::parse("LEAD_CHANNEL_FORM"), None);
        assert_eq!(priority::expected(), "LOW, MEDIUM, HIGH, URGENT");
        assert_eq!(
            status::expected(),
            "NEW, IN_PROGRESS, QUALIFIED, UNQUALIFIED, CLOSED_WON, CLOSED_LOST"
        );
        assert_eq!(role::parse("ADMIN"), Some(1));
        assert_eq!(captcha::name(1), Some("NONE"));
        assert_eq!(duplicate::parse("ALLOW"), Some(1));
        assert_eq!(outcome::name(1), Some("CREATED"));
    }
}
