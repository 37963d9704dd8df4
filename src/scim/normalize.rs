//! The host app's view of a stored User: the fields a product reads (mail, name, job, manager,
//! roles, custom attributes) in one shape, whichever IdP wrote the SCIM resource and however
//! it wrote it. Pure: the service adds what only the store knows (id, state, the identity
//! mail, groups) and keeps the resource itself beside this view, untouched.
//!
//! Roles come in several shapes, all made `{"value", "display", "id"?}` here:
//! - Entra's `SingleAppRoleAssignment` mapping: one role, `{"primary": true, "value":
//!   "Admin"}` (its POST) or written through the PATCH path `roles[primary eq "True"].value`.
//! - Entra's `AppRoleAssignmentsComplex` mapping: each role's `value` is JSON text inside a
//!   string, `"{\"id\":\"06b0…\",\"value\":\"Admin\",\"displayName\":\"Administrator\"}"`.
//!   The text is parsed for the view only (the resource keeps the string, so Entra's next
//!   cycle compares equal and its `Remove` of the same string matches). Text that does not
//!   parse as such an object is a plain role value, never an error.
//! - Okta's `roles` and `entitlements`: `{"value", "display"}` objects (Okta Identity
//!   Governance's entitlements carry a `type` too, which the view leaves in the resource).

use serde_json::{json, Map, Value};

use super::schema::{CUSTOM_USER_SCHEMA, ENTERPRISE_USER_SCHEMA};

/// `obj[key]`, ignoring ASCII case (stored keys are canonical; a stored resource written by
/// an older scimd may differ in case).
fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A non-empty string at `obj[key]`.
fn text<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    get(obj, key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn text_value(obj: &Map<String, Value>, key: &str) -> Value {
    text(obj, key).map_or(Value::Null, |s| Value::String(s.to_string()))
}

fn object<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Map<String, Value>> {
    get(obj, key).and_then(Value::as_object)
}

fn elements<'v>(obj: &'v Map<String, Value>, key: &str) -> &'v [Value] {
    match get(obj, key) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// `{"givenName", "familyName", "formatted"}`, each a string or null; `formatted` is the
/// IdP's, else given and family name joined by a space.
pub fn name(resource: &Map<String, Value>) -> Value {
    let empty = Map::new();
    let name = object(resource, "name").unwrap_or(&empty);
    let given = text(name, "givenName");
    let family = text(name, "familyName");
    let formatted = match (text(name, "formatted"), given, family) {
        (Some(f), _, _) => Some(f.to_string()),
        (None, Some(g), Some(f)) => Some(format!("{} {}", g.trim(), f.trim())),
        (None, Some(one), None) | (None, None, Some(one)) => Some(one.trim().to_string()),
        (None, None, None) => None,
    };
    json!({"givenName": given, "familyName": family, "formatted": formatted})
}

/// The emails as sent, each `{"value", "type", "primary"}` (`type` null when the IdP gave
/// none, `primary` false unless it said true), in the resource's order.
pub fn emails(resource: &Map<String, Value>) -> Value {
    let out: Vec<Value> = elements(resource, "emails")
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|e| {
            let value = text(e, "value")?;
            Some(json!({
                "value": value,
                "type": text_value(e, "type"),
                "primary": get(e, "primary").and_then(Value::as_bool).unwrap_or(false),
            }))
        })
        .collect();
    Value::Array(out)
}

/// One role as the host app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub value: String,
    pub display: Option<String>,
    /// The IdP's id of the role (Entra's app role id), only where it sent one.
    pub id: Option<String>,
}

impl Role {
    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("value".into(), Value::String(self.value.clone()));
        obj.insert("display".into(), self.display.clone().into());
        if let Some(id) = &self.id {
            obj.insert("id".into(), Value::String(id.clone()));
        }
        Value::Object(obj)
    }
}

/// Entra's `AppRoleAssignmentsComplex` text, `{"id":…,"value":…,"displayName":…}`, as a role;
/// `None` when the text is not such an object (then it is a plain value).
fn entra_complex_role(value: &str) -> Option<Role> {
    let trimmed = value.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let parsed: Map<String, Value> = serde_json::from_str(trimmed).ok()?;
    let inner = text(&parsed, "value")?;
    Some(Role {
        value: inner.to_string(),
        display: text(&parsed, "displayName")
            .or_else(|| text(&parsed, "display"))
            .map(str::to_string),
        id: text(&parsed, "id").map(str::to_string),
    })
}

/// One element of `roles` or `entitlements` as a role; `None` for an element without a value.
fn role_of(element: &Value) -> Option<Role> {
    let (value, display) = match element {
        Value::String(s) => (s.as_str(), None),
        Value::Object(obj) => (text(obj, "value")?, text(obj, "display")),
        _ => return None,
    };
    if value.trim().is_empty() {
        return None;
    }
    let mut role = entra_complex_role(value).unwrap_or_else(|| Role {
        value: value.to_string(),
        display: None,
        id: None,
    });
    // The element's own label wins over the one inside Entra's text.
    if let Some(d) = display {
        role.display = Some(d.to_string());
    }
    Some(role)
}

/// The user's roles from `roles` and then `entitlements`: one per value (the first seen;
/// a later duplicate only fills in a display or id the first lacked), in the resource's
/// order.
pub fn roles(resource: &Map<String, Value>) -> Vec<Role> {
    let mut out: Vec<Role> = Vec::new();
    let all = elements(resource, "roles")
        .iter()
        .chain(elements(resource, "entitlements"));
    for role in all.filter_map(role_of) {
        match out.iter_mut().find(|r| r.value == role.value) {
            Some(seen) => {
                if seen.display.is_none() {
                    seen.display = role.display;
                }
                if seen.id.is_none() {
                    seen.id = role.id;
                }
            }
            None => out.push(role),
        }
    }
    out
}

/// The normalized fields a stored User resource gives by itself: `emails`, `name`,
/// `displayName`, `title`, `department`, `employeeNumber`, `manager` (the manager's id, from
/// the enterprise `manager.value`), `roles` and `customAttributes` (the custom extension's
/// attributes by name). Missing values are null (`roles` empty, `customAttributes` `{}`), so
/// the host app always sees the same keys.
pub fn user_fields(resource: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let resource = resource.as_object().unwrap_or(&empty);
    let enterprise = object(resource, ENTERPRISE_USER_SCHEMA).unwrap_or(&empty);
    let manager = object(enterprise, "manager")
        .map(|m| text_value(m, "value"))
        // Stored by an older scimd as a bare id.
        .or_else(|| {
            get(enterprise, "manager")
                .filter(|v| v.is_string())
                .cloned()
        })
        .unwrap_or(Value::Null);
    let custom = object(resource, CUSTOM_USER_SCHEMA)
        .map(|c| {
            c.iter()
                .filter(|(k, _)| k.as_str() != "schemas")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>()
        })
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert("emails".into(), emails(resource));
    out.insert("name".into(), name(resource));
    out.insert("displayName".into(), text_value(resource, "displayName"));
    out.insert("title".into(), text_value(resource, "title"));
    out.insert("department".into(), text_value(enterprise, "department"));
    out.insert(
        "employeeNumber".into(),
        text_value(enterprise, "employeeNumber"),
    );
    out.insert("manager".into(), manager);
    out.insert(
        "roles".into(),
        Value::Array(roles(resource).iter().map(Role::to_json).collect()),
    );
    out.insert("customAttributes".into(), Value::Object(custom));
    out
}

/// The state a user is in, for the host app: `active`, `deactivated` (soft-deleted by its
/// IdP: it stays, the product stops counting it) or `deleted` (a tombstone).
pub fn user_state(active: bool, deleted: bool) -> &'static str {
    match (deleted, active) {
        (true, _) => "deleted",
        (false, true) => "active",
        (false, false) => "deactivated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles_of(resource: Value) -> Value {
        user_fields(&resource)["roles"].clone()
    }

    #[test]
    fn entra_single_app_role_assignment() {
        // Its POST, and what its PATCH path roles[primary eq "True"].value leaves stored.
        let posted = json!({"roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]});
        assert_eq!(
            roles_of(posted),
            json!([{"value": "Admin", "display": null}])
        );
        let patched =
            json!({"roles": [{"primary": true, "value": "Admin", "display": "Administrator"}]});
        assert_eq!(
            roles_of(patched),
            json!([{"value": "Admin", "display": "Administrator"}])
        );
    }

    #[test]
    fn entra_app_role_assignments_complex() {
        let r = json!({"roles": [
            {"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"Admin\",\"displayName\":\"Administrator\"}"},
            {"value": "{\"id\":\"06b07648-ecfe-599f-9d2f-6325724a46ee\",\"value\":\"User\",\"displayName\":\"User\"}"}
        ]});
        assert_eq!(
            roles_of(r),
            json!([
                {"value": "Admin", "display": "Administrator", "id": "06b07648-ecfe-589f-9d2f-6325724a46ee"},
                {"value": "User", "display": "User", "id": "06b07648-ecfe-599f-9d2f-6325724a46ee"}
            ])
        );
    }

    #[test]
    fn malformed_entra_text_is_a_plain_role() {
        for text in [
            "{\"id\":\"x\",\"value\":\"Admin\"",    // cut short
            "{\"id\":\"x\",\"displayName\":\"A\"}", // no inner value
            "{\"value\": 7}",                       // inner value not a string
            "{}",
            "{not json",
        ] {
            let r = json!({"roles": [{"value": text}]});
            assert_eq!(
                roles_of(r),
                json!([{"value": text, "display": null}]),
                "{text}"
            );
        }
    }

    #[test]
    fn okta_roles_and_entitlements() {
        let r = json!({
            "roles": [{"value": "r-1", "display": "Billing admin"}],
            "entitlements": [
                {"value": "lic-pro", "display": "Pro licence", "type": "License"},
                {"value": "r-1", "display": "ignored: r-1 is a role already"}
            ]
        });
        assert_eq!(
            roles_of(r),
            json!([
                {"value": "r-1", "display": "Billing admin"},
                {"value": "lic-pro", "display": "Pro licence"}
            ])
        );
    }

    #[test]
    fn the_same_role_twice_is_one_with_what_each_told() {
        // Entra's POST sends plain roles; its later PATCH adds the same role as JSON text.
        let r = json!({"roles": [
            {"value": "Admin", "primary": false, "type": "WindowsAzureActiveDirectoryRole"},
            {"value": "{\"id\":\"r1\",\"value\":\"Admin\",\"displayName\":\"Administrator\"}"},
            "Reader",
            {"display": "no value"},
            {"value": "  "}
        ]});
        assert_eq!(
            roles_of(r),
            json!([
                {"value": "Admin", "display": "Administrator", "id": "r1"},
                {"value": "Reader", "display": null}
            ])
        );
    }

    #[test]
    fn names_are_derived_when_missing() {
        let n = |r: Value| user_fields(&r)["name"].clone();
        assert_eq!(
            n(json!({"name": {"givenName": "Ada", "familyName": "Lovelace"}})),
            json!({"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"})
        );
        assert_eq!(
            n(
                json!({"name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Lady Ada"}})
            )["formatted"],
            "Lady Ada"
        );
        assert_eq!(
            n(json!({"name": {"familyName": "Lovelace"}}))["formatted"],
            "Lovelace"
        );
        assert_eq!(
            n(json!({"userName": "ada"})),
            json!({"givenName": null, "familyName": null, "formatted": null})
        );
    }

    #[test]
    fn a_user_from_entra_reads_as_the_host_app_expects() {
        let r = json!({
            "userName": "alice@contoso.com",
            "displayName": "Alice Smith",
            "title": "Engineer",
            "emails": [{"value": "Alice@Contoso.com", "type": "work", "primary": true}, {"value": "a@home.org"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "R&D", "employeeNumber": "701984", "manager": {"value": "m-1"}
            },
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"costCenter": "4130"}
        });
        let f = Value::Object(user_fields(&r));
        assert_eq!(
            f["emails"],
            json!([
                {"value": "Alice@Contoso.com", "type": "work", "primary": true},
                {"value": "a@home.org", "type": null, "primary": false}
            ])
        );
        assert_eq!(f["displayName"], "Alice Smith");
        assert_eq!(f["title"], "Engineer");
        assert_eq!(f["department"], "R&D");
        assert_eq!(f["employeeNumber"], "701984");
        assert_eq!(f["manager"], "m-1");
        assert_eq!(f["roles"], json!([]));
        assert_eq!(f["customAttributes"], json!({"costCenter": "4130"}));
        // Nothing sent: the same keys, empty.
        let bare = Value::Object(user_fields(&json!({"userName": "b"})));
        for key in [
            "displayName",
            "title",
            "department",
            "employeeNumber",
            "manager",
        ] {
            assert_eq!(bare[key], Value::Null, "{key}");
        }
        assert_eq!(bare["customAttributes"], json!({}));
        assert_eq!(bare["emails"], json!([]));
    }

    #[test]
    fn states() {
        assert_eq!(user_state(true, false), "active");
        assert_eq!(user_state(false, false), "deactivated");
        assert_eq!(user_state(true, true), "deleted");
        assert_eq!(user_state(false, true), "deleted");
    }
}
