//! Helpers shared by the schema unit tests: the loaded registry, sample custom fields, Entra's
//! POST body and a shorthand for expected failures.

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimError;

pub(super) fn schemas() -> Schemas {
    Schemas::load().expect("embedded schemas load")
}

pub(super) fn custom() -> Vec<CustomField> {
    vec![
        CustomField {
            name: "postalCode".into(),
            field_type: FieldType::String,
            multi_valued: false,
        },
        CustomField {
            name: "seats".into(),
            field_type: FieldType::Integer,
            multi_valued: false,
        },
        CustomField {
            name: "onboarded".into(),
            field_type: FieldType::DateTime,
            multi_valued: false,
        },
        CustomField {
            name: "tags".into(),
            field_type: FieldType::String,
            multi_valued: true,
        },
    ]
}

/// Entra's POST /Users body, as its provisioning service sends it.
pub(super) fn entra_post() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": "alice",
        "userName": "alice@contoso.com",
        "active": "True",
        "displayName": "Alice Martin",
        "title": "Engineer",
        "name": {"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Alice"},
        "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
        "addresses": [{"type": "work", "country": "FR", "primary": false}],
        "meta": {"resourceType": "User"},
        "roles": [],
        ENTERPRISE_USER_SCHEMA: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "m-1"}},
        CUSTOM_USER_SCHEMA: {"postalCode": "75001"}
    })
}

pub(super) fn err(r: Result<Value, ScimError>) -> ScimError {
    r.expect_err("must fail")
}
