//! SCIM errors (RFC 7644 §3.12): one type, rendered as SCIM error JSON in one place.

pub use http::StatusCode;
use serde_json::json;

/// The `scimType` values of RFC 7644 §3.12 that scimd answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    /// The wire name, e.g. `invalidFilter`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// An error answered to a SCIM client: HTTP status, optional `scimType`, and a detail
/// that tells the caller what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {detail}", status.as_u16())]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds a 429 or 503 asks the client to wait (`Retry-After`); 1 when not set.
    pub retry_after: Option<u64>,
}

impl ScimError {
    /// A 400 with the given `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// 400 invalidFilter.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    /// 400 invalidSyntax.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    /// 400 invalidSyntax for an attribute or a schema URI that the resource type does not
    /// define, in a body, a PATCH path or a PATCH value: the SCIM interop profile
    /// (draft-zollner-scim-interop-profile) requires unknown attributes and schema URIs to be
    /// refused with `invalidSyntax`. The detail names the attribute and says what to do.
    pub fn unknown_attribute(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    /// 400 invalidValue.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    /// 400 invalidPath.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    /// 400 noTarget.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    /// 400 mutability.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    /// 409 uniqueness.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// An error with a status and no `scimType` (401, 404, 412, 413, 500, 503…).
    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// A 429 or 503 that tells the client, in `Retry-After`, to wait `seconds` (at least 1),
    /// the same number its detail gives.
    pub fn retry_later(status: StatusCode, seconds: u64, detail: impl Into<String>) -> Self {
        ScimError {
            retry_after: Some(seconds.max(1)),
            ..Self::status(status, detail)
        }
    }
    /// 404 for a resource id that does not exist in this tenant.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::NOT_FOUND, detail)
    }
    /// 500: a fault of the server's (a corrupt stored resource, a failed hash); the
    /// detail says what, never a secret.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// The SCIM error body (RFC 7644 §3.12).
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), json!(t.as_str()));
        }
        body
    }
}
