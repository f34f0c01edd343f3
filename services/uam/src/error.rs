//! The errors of uam and their stable reasons. Authentication failures are deliberately
//! coarse: unknown user, wrong password, disabled and throttled accounts are all
//! `INVALID_CREDENTIALS`, so a caller learns nothing about which accounts exist.

use lms_platform::{ApiError, Violation};
use tonic::Code;

/// Why a TOTP code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Wrong code (or outside the current and previous step).
    Invalid,
    /// A code for a step the user already spent.
    Reused,
    /// Too many bad codes: locked until the next 30 s step.
    Locked,
}

impl CodeRefusal {
    fn reason(self) -> &'static str {
        match self {
            Self::Invalid => "INVALID_TOTP_CODE",
            Self::Reused => "TOTP_CODE_REUSED",
            Self::Locked => "TOTP_LOCKED",
        }
    }
}

/// Every failure of the uam service.
#[derive(Debug, thiserror::Error)]
pub enum UamError {
    /// Bad input; the violations name the fields.
    #[error("invalid input")]
    Invalid {
        /// Stable reason (`INVALID_ARGUMENT`, `WEAK_PASSWORD`).
        reason: &'static str,
        /// What is wrong, per field.
        violations: Vec<Violation>,
    },
    /// Registration is closed and the caller is not an ADMIN.
    #[error("registration is closed")]
    RegistrationClosed,
    /// The username is taken (case-insensitively).
    #[error("username taken")]
    UsernameTaken,
    /// The e-mail address is taken.
    #[error("e-mail taken")]
    EmailTaken,
    /// Login failed (any cause).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many attempts from one client address.
    #[error("too many requests")]
    TooManyRequests,
    /// Every password-hashing slot stayed busy.
    #[error("password hashing is saturated")]
    HashingBusy,
    /// The refresh token is unknown, or its family was revoked.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A retired refresh token was presented; its family is now revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// The refresh token was live when the request arrived, but a concurrent refresh
    /// with the same token retired it first (a lost race). Nothing is revoked; the
    /// winner's successor stays live. Not retryable with the same token: that would be
    /// a replay.
    #[error("refresh token race lost")]
    RefreshTokenRace,
    /// The refresh token's family outlived its absolute lifetime.
    #[error("refresh token expired")]
    RefreshTokenExpired,
    /// The MFA token is invalid, expired, already used or no longer valid for the user.
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// A TOTP code was refused in the login step (UNAUTHENTICATED).
    #[error("totp code refused at login: {0:?}")]
    LoginCode(CodeRefusal),
    /// A TOTP code was refused by EnableTotp or DisableTotp (INVALID_ARGUMENT).
    #[error("totp code refused: {0:?}")]
    Code(CodeRefusal),
    /// EnableTotp without a pending secret.
    #[error("totp not set up")]
    TotpNotSetUp,
    /// SetupTotp or EnableTotp while TOTP is on.
    #[error("totp already enabled")]
    TotpAlreadyEnabled,
    /// DisableTotp while TOTP is off.
    #[error("totp not enabled")]
    TotpNotEnabled,
    /// ChangePassword with a wrong current password (or a throttled account).
    #[error("invalid current password")]
    InvalidCurrentPassword,
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// An update mask path that may not be written.
    #[error("field not writable: {0}")]
    FieldNotWritable(String),
    /// An administrator tried to disable themselves or drop their own ADMIN role.
    #[error("self lockout")]
    SelfLockout,
    /// The signed-in caller's account is disabled or gone.
    #[error("account unavailable")]
    AccountUnavailable,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Anything else unexpected.
    #[error("{0}")]
    Internal(String),
}

impl UamError {
    /// INVALID_ARGUMENT for one field with the generic reason.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid {
            reason: "INVALID_ARGUMENT",
            violations: vec![Violation::new(field, description)],
        }
    }

    /// INVALID_ARGUMENT for these violations: `WEAK_PASSWORD` when only password fields
    /// are at fault, else `INVALID_ARGUMENT`.
    pub fn invalid(violations: Vec<Violation>) -> Self {
        let only_password = violations
            .iter()
            .all(|v| v.field == "password" || v.field == "newPassword");
        Self::Invalid {
            reason: if only_password {
                "WEAK_PASSWORD"
            } else {
                "INVALID_ARGUMENT"
            },
            violations,
        }
    }
}

impl From<UamError> for ApiError {
    fn from(e: UamError) -> Self {
        use UamError as E;
        match e {
            E::Invalid { reason, violations } => {
                let message = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError::invalid(reason, message, violations)
            }
            E::RegistrationClosed => ApiError::new(
                Code::PermissionDenied,
                "REGISTRATION_CLOSED",
                "registration is closed; ask an administrator",
            ),
            E::UsernameTaken => {
                ApiError::new(Code::AlreadyExists, "USERNAME_TAKEN", "username is taken")
            }
            E::EmailTaken => ApiError::new(
                Code::AlreadyExists,
                "EMAIL_TAKEN",
                "e-mail address is taken",
            ),
            E::InvalidCredentials => ApiError::new(
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
                "invalid username, e-mail or password",
            ),
            E::TooManyRequests => ApiError::new(
                Code::ResourceExhausted,
                "TOO_MANY_REQUESTS",
                "too many attempts; slow down",
            ),
            E::HashingBusy => ApiError::new(
                Code::ResourceExhausted,
                "SERVER_BUSY",
                "the server is busy; retry shortly",
            ),
            E::InvalidRefreshToken => ApiError::unauthenticated("INVALID_REFRESH_TOKEN"),
            E::RefreshTokenReused => ApiError::unauthenticated("REFRESH_TOKEN_REUSED"),
            E::RefreshTokenRace => ApiError::unauthenticated("REFRESH_TOKEN_RACE"),
            E::RefreshTokenExpired => ApiError::unauthenticated("REFRESH_TOKEN_EXPIRED"),
            E::InvalidMfaToken => ApiError::unauthenticated("INVALID_MFA_TOKEN"),
            E::LoginCode(c) => ApiError::unauthenticated(c.reason()),
            E::Code(c) => ApiError::invalid(
                c.reason(),
                "code: is not valid",
                vec![Violation::new("code", "is not a valid current code")],
            ),
            E::TotpNotSetUp => ApiError::new(
                Code::FailedPrecondition,
                "TOTP_NOT_SET_UP",
                "call SetupTotp first",
            ),
            E::TotpAlreadyEnabled => ApiError::new(
                Code::FailedPrecondition,
                "TOTP_ALREADY_ENABLED",
                "TOTP is already enabled",
            ),
            E::TotpNotEnabled => ApiError::new(
                Code::FailedPrecondition,
                "TOTP_NOT_ENABLED",
                "TOTP is not enabled",
            ),
            E::InvalidCurrentPassword => ApiError::invalid(
                "INVALID_CURRENT_PASSWORD",
                "currentPassword: is not correct",
                vec![Violation::new("currentPassword", "is not correct")],
            ),
            E::UserNotFound => ApiError::not_found("USER_NOT_FOUND", "no such user"),
            E::FieldNotWritable(path) => ApiError::invalid(
                "FIELD_NOT_WRITABLE",
                format!("{path}: is not writable (writable: roles, enabled)"),
                vec![Violation::new(
                    path,
                    "is not writable (writable: roles, enabled)",
                )],
            ),
            E::SelfLockout => ApiError::new(
                Code::FailedPrecondition,
                "SELF_LOCKOUT",
                "administrators may not disable themselves or drop their own ADMIN role",
            ),
            E::AccountUnavailable => ApiError::unauthenticated("UNAUTHENTICATED"),
            E::Db(e) if is_transient_conflict(&e) => ApiError::new(
                Code::Aborted,
                "CONCURRENT_UPDATE",
                "a concurrent update got in the way; retry",
            ),
            E::Db(e) => ApiError::from(e),
            E::Internal(m) => ApiError::internal(&UamError::Internal(m)),
        }
    }
}

/// A database error that only means "a concurrent transaction got in the way": the
/// transaction was rolled back, so the request may be retried as it was (for
/// RefreshToken too: the token was not retired). PostgreSQL serialization failure,
/// deadlock and lock timeout; SQLite busy or locked (any extended code).
fn is_transient_conflict(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let Some(code) = db.code() else {
        return false;
    };
    match code.as_ref() {
        "40001" | "40P01" | "55P03" => true,
        other => other
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
    }
}

impl From<UamError> for tonic::Status {
    fn from(e: UamError) -> Self {
        ApiError::from(e).into()
    }
}
