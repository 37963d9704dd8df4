//! Schema URNs: the ids of the schemas and messages scimd knows, the extensions each kind
//! of resource may carry, and the rules for a body's `schemas` list.

use serde_json::Value;

use super::value::quote_value;
use crate::scim::entra;
use crate::scim::error::ScimError;

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The extension Entra uses for custom attribute mappings; its attributes are the
/// tenant's custom fields.
pub const CUSTOM_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
/// PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// List response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// `POST …/.search` request message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Bulk request message (RFC 7644 §3.7); scimd does not support bulk.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Schema resource (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// ResourceType resource (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// ServiceProviderConfig resource (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Which kind of resource a body or a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The core schema URN of this kind.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }
    /// `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// The extension URNs a resource of this kind may carry, in the order they are
    /// listed in `schemas`.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            ResourceKind::User => &[ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA],
            ResourceKind::Group => &[],
        }
    }
    /// The canonical spelling of `key` when it is (case-insensitively) the URN of an
    /// extension of this kind.
    pub fn extension_urn(self, key: &str) -> Option<&'static str> {
        self.extensions()
            .iter()
            .copied()
            .find(|u| u.eq_ignore_ascii_case(key))
    }
}

/// `schemas` of a body must list the core URN and only URNs this kind accepts.
pub(super) fn check_schemas(kind: ResourceKind, given: Option<&Value>) -> Result<(), ScimError> {
    let core = kind.core_schema();
    let Some(given) = given else {
        return Err(ScimError::invalid_value(format!(
            "schemas is required and must contain \"{core}\""
        )));
    };
    let Some(list) = given.as_array() else {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must be an array of schema URNs, got {}",
            quote_value(given)
        )));
    };
    let mut has_core = false;
    for item in list {
        let Some(urn) = item.as_str() else {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be an array of schema URNs, got {}",
                quote_value(item)
            )));
        };
        if urn.eq_ignore_ascii_case(core) {
            has_core = true;
        } else if kind.extension_urn(urn).is_some() || entra::accepted_schema(kind, urn) {
            // Accepted; the stored list is rebuilt from the data.
        } else {
            let mut accepted = vec![core];
            accepted.extend_from_slice(kind.extensions());
            return Err(ScimError::unknown_attribute(format!(
                "unknown schema \"{urn}\" in schemas; a {} accepts {}: remove it{}",
                kind.name(),
                accepted.join(", "),
                match kind {
                    ResourceKind::User =>
                        " (custom attributes go under the CustomExtensionName URN)",
                    ResourceKind::Group => "",
                }
            )));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!(
            "schemas must contain \"{core}\""
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::scim::error::ScimType;

    #[test]
    fn validate_user_schemas_rules() {
        let s = schemas();
        let e = err(s.validate_user(json!({"userName": "u"}), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains(USER_SCHEMA), "{}", e.detail);
        let e = err(s.validate_user(json!({"schemas": [GROUP_SCHEMA], "userName": "u"}), &[]));
        assert!(
            e.detail.contains(GROUP_SCHEMA),
            "unknown URN named: {}",
            e.detail
        );
        let e = err(s.validate_user(
            json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "u"}),
            &[],
        ));
        assert_eq!(e.detail, format!("schemas must contain \"{USER_SCHEMA}\""));
        let e = err(s.validate_user(json!({"schemas": USER_SCHEMA, "userName": "u"}), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = err(s.validate_user(json!([1, 2]), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        // The ADSCIM group URN is for groups only.
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA, ENTRA_GROUP_SCHEMA], "userName": "u"}),
            &[],
        ));
        assert!(e.detail.contains(ENTRA_GROUP_SCHEMA), "{}", e.detail);
        // Extension listed without data: dropped from the stored list.
        let out = s
            .validate_user(json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA], "userName": "u"}), &[])
            .expect("ok");
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        // Custom data whose URN is missing from schemas: accepted, URN added.
        let out = s
            .validate_user(json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"postalCode": "1"}}), &custom())
            .expect("ok");
        assert_eq!(out["schemas"], json!([USER_SCHEMA, CUSTOM_USER_SCHEMA]));
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: "Sales"}),
            &[],
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }
}
