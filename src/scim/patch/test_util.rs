//! Helpers shared by the PATCH unit tests: the loaded registry, sample custom fields, a stored
//! User, PatchOp bodies and shorthands that apply them.

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimError;
use crate::scim::schema::{
    CustomField, FieldType, Schemas, CUSTOM_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA,
    PATCH_OP_SCHEMA, USER_SCHEMA,
};
use crate::scim::work::Work;

pub(super) const ENT: &str = ENTERPRISE_USER_SCHEMA;
pub(super) const CUS: &str = CUSTOM_USER_SCHEMA;

pub(super) fn schemas() -> Schemas {
    Schemas::load().expect("schemas")
}

pub(super) fn custom() -> Vec<CustomField> {
    vec![
        CustomField {
            name: "postalCode".into(),
            field_type: FieldType::String,
            multi_valued: false,
        },
        CustomField {
            name: "vip".into(),
            field_type: FieldType::Boolean,
            multi_valued: false,
        },
    ]
}

/// A stored user, as validate_user produced it from Entra's POST.
pub(super) fn stored_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENT],
        "id": "u-1",
        "meta": {"resourceType": "User", "version": "W/\"1\""},
        "externalId": "alice",
        "userName": "alice@contoso.com",
        "active": true,
        "displayName": "Alice Martin",
        "title": "Engineer",
        "name": {"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Alice"},
        "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
        ENT: {"department": "Sales", "manager": {"value": "m-1"}}
    })
}

pub(super) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

pub(super) fn patch_user(resource: &Value, ops: Value) -> Result<Value, ScimError> {
    let ops = parse_patch_request(&body(ops))?;
    apply_user_patch(
        resource,
        &ops,
        &schemas(),
        &custom(),
        &Work::new(PATCH_WORK),
    )
}

pub(super) fn ok(resource: &Value, ops: Value) -> Value {
    let out = patch_user(resource, ops).expect("patch applies");
    // Whatever PATCH produces must pass validation.
    schemas()
        .validate_user(out.clone(), &custom())
        .expect("patched user validates");
    out
}

pub(super) fn fails(resource: &Value, ops: Value) -> ScimError {
    patch_user(resource, ops).expect_err("patch must fail")
}

pub(super) fn refs(ids: &[&str]) -> Vec<MemberRef> {
    ids.iter().map(|id| MemberRef::new(*id)).collect()
}

pub(super) fn patch_group(ops: Value) -> Result<(Value, Vec<MemberChange>), ScimError> {
    let group = json!({"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "Sales", "externalId": "sales"});
    let ops = parse_patch_request(&body(ops))?;
    apply_group_patch(&group, &ops, &schemas(), &Work::new(PATCH_WORK))
}
