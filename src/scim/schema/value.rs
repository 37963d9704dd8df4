//! Value coercion: one value checked and normalised against its attribute definition
//! ([`AttrDef::normalize`]: types, Entra's strings for booleans and numbers, unassigned
//! values, multi-valued wrapping), and a whole User or Group body against the registry
//! ([`Schemas::validate_user`], [`Schemas::validate_group`]).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::urn::check_schemas;
use super::{
    AttrDef, AttrType, CustomField, FieldType, Mutability, ResourceKind, Schemas,
    CUSTOM_USER_SCHEMA,
};
use crate::scim::entra;
use crate::scim::error::ScimError;
use crate::scim::path::{key_ci, split_urn};

/// Longest JSON excerpt of a rejected value quoted in an error detail, so a huge
/// value does not end up in Entra's provisioning log.
const MAX_QUOTED: usize = 80;

/// Most values a multi-valued User attribute may hold. Real users have a handful of
/// emails or roles; the bound keeps the quadratic work of PATCH (duplicate and
/// value matching) small. Group `members` are exempt: they are stored as rows.
pub const MAX_VALUES: usize = 1000;

impl AttrDef {
    /// Type-check and normalise a value for this attribute; `label` names the attribute
    /// in error details. `Ok(None)` means "unassigned": null, `""`, an empty array or
    /// an empty complex value, which the caller removes (RFC 7643 §2.5).
    ///
    /// Normalisation: canonical sub-attribute names; `"True"`/`"false"` strings become
    /// booleans and numeric strings numbers (Entra sends strings: [`entra::boolean_text`],
    /// [`entra::integer_text`]); a single value of a multi-valued attribute is wrapped into
    /// an array; a bare string for a complex attribute with a `value` sub-attribute becomes
    /// `{"value": …}` (Entra's manager: [`entra::bare_value`]);
    /// readOnly sub-attributes are dropped (the server owns them); elements without
    /// their `value` are dropped, or rejected when `value` is required (members).
    pub fn normalize(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        if !self.multi_valued {
            return self.normalize_single(value, label);
        }
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        // Exact duplicates carry no information and would trip uniqueness checks; the
        // compact JSON text is a canonical key (maps serialise in key order).
        let mut seen = HashSet::new();
        for item in items {
            if let Some(v) = self.normalize_single(item, label)? {
                if seen.insert(v.to_string()) {
                    out.push(v);
                }
            }
        }
        if out.len() > MAX_VALUES && self.name != "members" {
            return Err(ScimError::invalid_value(format!(
                "attribute \"{label}\" has {} values; at most {MAX_VALUES} are accepted",
                out.len()
            )));
        }
        if out.is_empty() {
            return Ok(None);
        }
        if self.attr_type == AttrType::Complex && count_primaries(&out) > 1 {
            return Err(ScimError::invalid_value(format!(
                "at most one value of \"{label}\" may have \"primary\": true"
            )));
        }
        Ok(Some(Value::Array(out)))
    }

    /// One value (an element, for a multi-valued attribute).
    fn normalize_single(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        // An empty string unassigns a simple value; a complex one decides in
        // `normalize_complex`.
        if value.is_null() || (self.attr_type != AttrType::Complex && entra::unassigns(&value)) {
            return Ok(None);
        }
        match self.attr_type {
            AttrType::Complex => self.normalize_complex(value, label),
            AttrType::Boolean => match value {
                Value::Bool(b) => Ok(Some(Value::Bool(b))),
                Value::String(s) => match entra::boolean_text(&s) {
                    Some(b) => Ok(Some(Value::Bool(b))),
                    None => Err(type_error(label, "a boolean", &Value::String(s))),
                },
                other => Err(type_error(label, "a boolean", &other)),
            },
            AttrType::String | AttrType::Reference | AttrType::Binary => match value {
                Value::String(s) => Ok(Some(Value::String(s))),
                other => Err(type_error(label, "a string", &other)),
            },
            AttrType::DateTime => match value {
                Value::String(s) if is_date_time(&s) => Ok(Some(Value::String(s))),
                other => Err(type_error(
                    label,
                    "a dateTime (e.g. \"2024-01-31T09:30:00Z\")",
                    &other,
                )),
            },
            AttrType::Integer => match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(Value::Number(n))),
                Value::String(s) => match entra::integer_text(&s) {
                    Some(i) => Ok(Some(Value::from(i))),
                    None => Err(type_error(label, "an integer", &Value::String(s))),
                },
                other => Err(type_error(label, "an integer", &other)),
            },
            AttrType::Decimal => match value {
                Value::Number(n) => Ok(Some(Value::Number(n))),
                Value::String(s) => match entra::decimal_text(&s) {
                    Some(n) => Ok(Some(Value::Number(n))),
                    None => Err(type_error(label, "a decimal number", &Value::String(s))),
                },
                other => Err(type_error(label, "a decimal number", &other)),
            },
        }
    }

    fn normalize_complex(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        let input = match value {
            Value::Object(m) => m,
            v if self.has_value_sub() && entra::unassigns(&v) => return Ok(None),
            Value::String(s) if self.has_value_sub() => entra::bare_value(s),
            other => return Err(type_error(label, "a complex value (a JSON object)", &other)),
        };
        let mut out = Map::new();
        for (key, v) in input {
            let sub = self
                .sub(&key)
                .or_else(|| entra::sub_attribute_alias(&self.name, &key).and_then(|a| self.sub(a)));
            let Some(sub) = sub else {
                return Err(ScimError::unknown_attribute(
                    self.unknown_sub_detail(label, &key),
                ));
            };
            if sub.mutability == Mutability::ReadOnly {
                continue;
            }
            let sub_label = format!("{label}.{}", sub.name);
            if let Some(v) = sub.normalize(v, &sub_label)? {
                if out.insert(sub.name.clone(), v).is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "attribute \"{sub_label}\" is given twice"
                    )));
                }
            }
        }
        if let Some(value_def) = self.sub("value") {
            if !out.contains_key(&value_def.name) {
                // A member without a value is a client error; an email whose value Entra
                // removed (`remove emails[type eq "other"].value`) simply goes away.
                if value_def.required && self.name == "members" {
                    return Err(ScimError::invalid_value(format!(
                        "\"{label}.value\" is required"
                    )));
                }
                return Ok(None);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::Object(out)))
    }
}

/// Whether a body's key is a schema URN (`urn:…`) rather than an attribute name.
fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// How many elements of a multi-valued complex attribute say `"primary": true`.
pub fn count_primaries(items: &[Value]) -> usize {
    items
        .iter()
        .filter(|v| {
            v.as_object()
                .and_then(|o| o.get("primary"))
                .and_then(Value::as_bool)
                == Some(true)
        })
        .count()
}

/// A 400 invalidValue saying what type `label` needs and quoting (a bounded excerpt of)
/// what came.
pub fn type_error(label: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute \"{label}\" must be {expected}, got {}",
        quote_value(got)
    ))
}

/// A value as compact JSON, cut at a bounded length for error details.
pub fn quote_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_QUOTED {
        return s;
    }
    let cut: String = s.chars().take(MAX_QUOTED).collect();
    format!("{cut}…")
}

/// Whether `s` is an xsd:dateTime as RFC 7643 §2.3.5 requires:
/// `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0, 4),
        digits(5, 2),
        digits(8, 2),
        digits(11, 2),
        digits(14, 2),
        digits(17, 2),
    ) else {
        return false;
    };
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let ok = digits(i + 1, 2).is_some_and(|h| h <= 23)
                && sep(i + 3, b':')
                && digits(i + 4, 2).is_some_and(|m| m <= 59);
            ok && i + 6 == b.len()
        }
        Some(_) => false,
    }
}

impl Schemas {
    /// Validate and normalise an incoming User body (POST, PUT, and the result of a
    /// PATCH). Returns the body ready to store: canonical attribute names, values
    /// normalised as [`AttrDef::normalize`] describes, `schemas` listing the core URN
    /// and the extensions that hold data; without `id`, `meta`, `groups` and `password`
    /// (server-set or never stored). Errors are 400 with a detail naming the attribute.
    pub fn validate_user(&self, body: Value, custom: &[CustomField]) -> Result<Value, ScimError> {
        self.validate(ResourceKind::User, body, custom)
    }

    /// Validate and normalise an incoming Group body, as [`Schemas::validate_user`]
    /// does; `members` elements are type-checked only (each needs a `value`).
    pub fn validate_group(&self, body: Value) -> Result<Value, ScimError> {
        self.validate(ResourceKind::Group, body, &[])
    }

    fn validate(
        &self,
        kind: ResourceKind,
        body: Value,
        custom: &[CustomField],
    ) -> Result<Value, ScimError> {
        let Value::Object(mut input) = body else {
            return Err(ScimError::invalid_syntax(format!(
                "a {} must be a JSON object",
                kind.name()
            )));
        };
        let schemas_key = key_ci(&input, "schemas");
        check_schemas(kind, schemas_key.and_then(|k| input.remove(&k)).as_ref())?;
        let mut out = Map::new();
        for (key, value) in input {
            if let Some(urn) = kind.extension_urn(&key) {
                match value {
                    Value::Null => {}
                    Value::Object(attrs) => {
                        for (name, v) in attrs {
                            // Clients serialise extension objects with their own
                            // `schemas`; the resource's `schemas` already says it.
                            if name.eq_ignore_ascii_case("schemas") {
                                continue;
                            }
                            self.put_attr(kind, Some(urn), &name, v, custom, &mut out)?;
                        }
                    }
                    other => return Err(type_error(urn, "an object", &other)),
                }
            } else {
                let (urn, name) = split_urn(&key);
                if value.is_object()
                    && is_urn(&key)
                    && self.top_attr(kind, urn, name, custom).is_none()
                {
                    // An extension object under a schema URN this kind does not have.
                    return Err(ScimError::unknown_attribute(self.unknown_attr_detail(
                        kind,
                        Some(&key),
                        "",
                        None,
                    )));
                }
                self.put_attr(kind, urn, name, value, custom, &mut out)?;
            }
        }
        let core = match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        };
        // `emails` is advertised as required (scimd identifies users by mail), but the
        // service enforces it when it derives the identity mail, with the detail an Entra
        // admin needs; here it would only duplicate that rule.
        for def in core
            .attributes
            .iter()
            .filter(|d| d.required && d.name != "emails")
        {
            if !out.contains_key(&def.name) {
                return Err(ScimError::invalid_value(format!(
                    "{} is required",
                    def.name
                )));
            }
        }
        // `schemas` follows the data: Entra sends extension objects whose URN it left out.
        let mut schemas = vec![Value::String(kind.core_schema().to_string())];
        for urn in kind.extensions() {
            if out.contains_key(*urn) {
                schemas.push(Value::String((*urn).to_string()));
            }
        }
        out.insert("schemas".into(), Value::Array(schemas));
        Ok(Value::Object(out))
    }

    /// Check, normalise and place one top-level attribute of a body into `out`.
    fn put_attr(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        value: Value,
        custom: &[CustomField],
        out: &mut Map<String, Value>,
    ) -> Result<(), ScimError> {
        let Some(top) = self.top_attr(kind, urn, name, custom) else {
            return Err(ScimError::unknown_attribute(self.unknown_attr_detail(
                kind,
                urn,
                name,
                Some(&value),
            )));
        };
        // Server-set attributes (id, meta, groups) are echoed by clients: ignore them.
        // Passwords are never stored.
        if matches!(
            top.def.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ) {
            return Ok(());
        }
        let label = top.label();
        let Some(v) = top.def.normalize(value, &label)? else {
            return Ok(());
        };
        let container = match top.ext {
            None => out,
            Some(ext) => match out.entry(ext).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => m,
                // Unreachable in practice (only this function writes there); fail safe.
                _ => return Err(ScimError::invalid_value(format!("{ext} must be an object"))),
            },
        };
        if container.insert(top.def.name.clone(), v).is_some() {
            return Err(ScimError::invalid_value(format!(
                "attribute \"{label}\" is given twice"
            )));
        }
        Ok(())
    }
}

impl Schemas {
    /// Validate the new form of a stored user (a PUT body, or the result of a PATCH) as
    /// [`Schemas::validate_user`] does, except for the stored custom values that the tenant's
    /// fields no longer accept ([`stale_custom_values`]): a field removed since, or removed
    /// and defined again with another type (a string `"K-42"` where an integer is now
    /// expected). Such a value stays as it was stored while the write leaves it as it is
    /// (a PATCH of other attributes, a PUT that resends it unchanged), so Entra can still
    /// deactivate the user; a write that gives it a new value is validated, and refused with
    /// a detail naming the field and its type when the value does not fit.
    ///
    /// The value of a removed field is kept even when a PUT leaves it out: no client can
    /// address it any more. The value of a field defined again is the client's to replace or
    /// remove (PATCH `remove`, a PUT without it), like any other attribute.
    pub fn validate_user_edit(
        &self,
        stored: &Value,
        mut new: Value,
        custom: &[CustomField],
    ) -> Result<Value, ScimError> {
        let stale = stale_custom_values(stored, custom);
        if stale.is_empty() {
            return self.validate_user(new, custom);
        }
        // Set aside what the write leaves unchanged; anything else reaches validation.
        let mut kept: Vec<(String, Value)> = Vec::new();
        let mut ext = new.as_object_mut().and_then(|obj| {
            let key = key_ci(obj, CUSTOM_USER_SCHEMA)?;
            obj.get_mut(&key)?.as_object_mut()
        });
        for value in stale {
            let resent = ext.as_deref_mut().and_then(|ext| {
                let key = key_ci(ext, &value.name)?;
                (ext.get(&key) == Some(&value.value)).then(|| ext.remove(&key))
            });
            if resent.is_some() || value.retired {
                kept.push((value.name, value.value));
            }
        }
        let mut valid = self.validate_user(new, custom)?;
        if kept.is_empty() {
            return Ok(valid);
        }
        let Some(obj) = valid.as_object_mut() else {
            return Ok(valid);
        };
        if let Value::Object(ext) = obj
            .entry(CUSTOM_USER_SCHEMA)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            for (name, value) in kept {
                ext.entry(name).or_insert(value);
            }
        }
        if let Some(Value::Array(list)) = obj.get_mut("schemas") {
            if !list.iter().any(|u| u == CUSTOM_USER_SCHEMA) {
                list.push(Value::String(CUSTOM_USER_SCHEMA.to_string()));
            }
        }
        Ok(valid)
    }
}

/// A stored custom value that the tenant's fields, as defined now, do not accept.
#[derive(Debug, Clone, PartialEq)]
struct StaleValue {
    /// The attribute name as stored.
    name: String,
    /// The value as stored.
    value: Value,
    /// Whether no field of that name exists any more (rather than one of another type).
    retired: bool,
}

/// The values of a stored user's custom extension that its field no longer accepts: fields
/// removed since, and fields defined again with a type or multiplicity the stored value does
/// not fit (a value that still fits, such as `"12"` for an integer, is not stale: the next
/// write normalises it).
fn stale_custom_values(stored: &Value, custom: &[CustomField]) -> Vec<StaleValue> {
    let Some(Value::Object(ext)) = stored.get(CUSTOM_USER_SCHEMA) else {
        return Vec::new();
    };
    ext.iter()
        .filter_map(|(name, value)| {
            let field = custom.iter().find(|f| f.name.eq_ignore_ascii_case(name));
            let retired = field.is_none();
            let fits = field.is_some_and(|f| {
                let label = format!("{CUSTOM_USER_SCHEMA}:{}", f.name);
                f.attr_def().normalize(value.clone(), &label).is_ok()
            });
            (!fits).then(|| StaleValue {
                name: name.clone(),
                value: value.clone(),
                retired,
            })
        })
        .collect()
}

/// The custom field type a value suggests, for the "define it first" hint.
pub(super) fn guess_field_type(v: &Value) -> FieldType {
    match v {
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Integer,
        Value::Number(_) => FieldType::Decimal,
        Value::String(s) if entra::boolean_text(s).is_some() => FieldType::Boolean,
        Value::String(s) if is_date_time(s) => FieldType::DateTime,
        Value::Array(items) => items.first().map_or(FieldType::String, guess_field_type),
        _ => FieldType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    #[test]
    fn validate_user_accepts_entra_post() {
        let s = schemas();
        let out = s.validate_user(entra_post(), &custom()).expect("valid");
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA],
                "externalId": "alice",
                "userName": "alice@contoso.com",
                "active": true,
                "displayName": "Alice Martin",
                "title": "Engineer",
                "name": {"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Alice"},
                "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
                "addresses": [{"type": "work", "country": "FR", "primary": false}],
                ENTERPRISE_USER_SCHEMA: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "m-1"}},
                CUSTOM_USER_SCHEMA: {"postalCode": "75001"}
            })
        );
        // Validation is idempotent: the stored form validates to itself.
        assert_eq!(s.validate_user(out.clone(), &custom()), Ok(out));
    }

    #[test]
    fn validate_user_ignores_schemas_inside_extension_objects() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                    "userName": "u",
                    ENTERPRISE_USER_SCHEMA: {"schemas": [ENTERPRISE_USER_SCHEMA], "employeeNumber": "7"}
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        // An extension object holding only its schemas carries no data.
        let out = s
            .validate_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"schemas": []}}),
                &[],
            )
            .expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
    }

    #[test]
    fn validate_user_normalises_names_booleans_and_single_values() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "SCHEMAS": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
                    "username": "bob",
                    "ACTIVE": "false",
                    "Emails": {"Value": "bob@x.com", "Type": "work", "Primary": "True"},
                    "NAME": {"GivenName": "Bob"},
                    "phoneNumbers": [{"value": "+33"}, {"value": "+33"}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Manager": "boss-id"},
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bob",
                "active": false,
                "emails": [{"value": "bob@x.com", "type": "work", "primary": true}],
                "name": {"givenName": "Bob"},
                "phoneNumbers": [{"value": "+33"}],
                ENTERPRISE_USER_SCHEMA: {"manager": {"value": "boss-id"}}
            })
        );
    }

    #[test]
    fn entra_role_display_name_is_display() {
        // Microsoft's AppRoleAssignmentsComplex POST example labels roles with displayName.
        let out = schemas()
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA],
                    "userName": "u",
                    "roles": [{"primary": false, "type": "WindowsAzureActiveDirectoryRole",
                               "displayName": "Admin", "value": "Admin"}],
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(
            out["roles"],
            json!([{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"}])
        );
        let err = schemas()
            .validate_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": [{"value": "a@b.c", "displayName": "x"}]}),
                &[],
            )
            .expect_err("only roles and entitlements");
        assert!(err.detail.contains("emails.displayName"), "{}", err.detail);
    }

    #[test]
    fn validate_user_drops_server_set_unassigned_and_empty_values() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                    "id": "client-chosen", "meta": {"resourceType": "User", "created": "x"},
                    "groups": [{"value": "g1"}], "password": "hunter2",
                    "userName": "carol", "title": null, "nickName": "", "roles": [], "emails": [null],
                    "name": {}, "addresses": [{}],
                    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "", "displayName": "Boss"}, "department": null},
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "carol"}));
    }

    #[test]
    fn validate_user_manager_forms() {
        let s = schemas();
        let body = |m: Value| json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": m}});
        let mgr = |out: Value| out[ENTERPRISE_USER_SCHEMA]["manager"].clone();
        assert_eq!(
            mgr(s.validate_user(body(json!("m-9")), &[]).expect("ok")),
            json!({"value": "m-9"})
        );
        assert_eq!(
            mgr(s
                .validate_user(
                    body(json!({"value": "m-9", "displayName": "ro", "$ref": "../Users/m-9"})),
                    &[]
                )
                .expect("ok")),
            json!({"value": "m-9", "$ref": "../Users/m-9"})
        );
        assert_eq!(
            s.validate_user(body(json!("")), &[]).expect("ok"),
            json!({"schemas": [USER_SCHEMA], "userName": "u"})
        );
        assert_eq!(
            s.validate_user(body(json!({"value": ""})), &[])
                .expect("ok")["schemas"],
            json!([USER_SCHEMA])
        );
        let e = err(s.validate_user(body(json!(7)), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("manager"), "{}", e.detail);
    }

    #[test]
    fn validate_user_type_errors() {
        let s = schemas();
        let c = custom();
        let with = |k: &str, v: Value| {
            let mut b = json!({"schemas": [USER_SCHEMA], "userName": "u"});
            b[k] = v;
            b
        };
        let e = err(s.validate_user(with("active", json!("maybe")), &c));
        assert_eq!(
            (e.status.as_u16(), e.scim_type),
            (400, Some(ScimType::InvalidValue))
        );
        assert_eq!(
            e.detail,
            "attribute \"active\" must be a boolean, got \"maybe\""
        );
        let e = err(s.validate_user(with("title", json!(5)), &c));
        assert_eq!(e.detail, "attribute \"title\" must be a string, got 5");
        let e = err(s.validate_user(
            with("emails", json!([{"value": "a", "primary": "yes"}])),
            &c,
        ));
        assert_eq!(
            e.detail,
            "attribute \"emails.primary\" must be a boolean, got \"yes\""
        );
        let e = err(s.validate_user(with("name", json!("Bob")), &c));
        assert!(
            e.detail.contains("\"name\" must be a complex value"),
            "{}",
            e.detail
        );
        let e = err(s.validate_user(with("emails", json!([{"value": "a", "kind": "x"}])), &c));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(
            e.detail,
            "unknown attribute \"emails.kind\": the sub-attributes of \"emails\" are value, display, \
             type, primary"
        );
        let long = "x".repeat(500);
        let e = err(s.validate_user(with("active", json!(long)), &c));
        assert!(
            e.detail.len() < 200,
            "quoted values are bounded: {}",
            e.detail
        );

        let ext = |k: &str, v: Value| json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {k: v}});
        let out = s
            .validate_user(ext("seats", json!("12")), &c)
            .expect("numeric string");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["seats"], json!(12));
        let e = err(s.validate_user(ext("seats", json!("twelve")), &c));
        assert_eq!(
            e.detail,
            format!("attribute \"{CUSTOM_USER_SCHEMA}:seats\" must be an integer, got \"twelve\"")
        );
        assert!(s
            .validate_user(ext("onboarded", json!("2024-02-29T10:00:00.5+01:00")), &c)
            .is_ok());
        let e = err(s.validate_user(ext("onboarded", json!("2023-02-29T10:00:00Z")), &c));
        assert!(e.detail.contains("dateTime"), "{}", e.detail);
        let out = s
            .validate_user(ext("tags", json!("solo")), &c)
            .expect("wrapped");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["tags"], json!(["solo"]));
    }

    #[test]
    fn validate_user_rejects_two_primaries() {
        let s = schemas();
        let b = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}]});
        let e = err(s.validate_user(b, &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "at most one value of \"emails\" may have \"primary\": true"
        );
        let b = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]});
        assert!(s.validate_user(b, &[]).is_ok());
    }

    #[test]
    fn validate_user_requires_user_name() {
        let s = schemas();
        for b in [
            json!({"schemas": [USER_SCHEMA]}),
            json!({"schemas": [USER_SCHEMA], "userName": ""}),
            json!({"schemas": [USER_SCHEMA], "userName": null}),
        ] {
            let e = err(s.validate_user(b, &[]));
            assert_eq!(
                (e.scim_type, e.detail.as_str()),
                (Some(ScimType::InvalidValue), "userName is required")
            );
        }
        let e = err(s.validate_user(json!({"schemas": [USER_SCHEMA], "userName": 12}), &[]));
        assert_eq!(e.detail, "attribute \"userName\" must be a string, got 12");
    }

    #[test]
    fn validate_user_qualified_keys_and_duplicates() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA],
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName": "u",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
                }),
                &[],
            )
            .expect("ok");
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"department": "Ops"}})
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "USERNAME": "v"}),
            &[],
        ));
        assert_eq!(e.detail, "attribute \"userName\" is given twice");
    }

    #[test]
    fn validate_group_rules() {
        let s = schemas();
        let out = s
            .validate_group(json!({
                "schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA],
                "externalId": "g-ext", "displayName": "Sales", "id": "x", "meta": {"resourceType": "Group"},
                "members": [{"value": "u1"}, {"Value": "u2", "type": "User", "display": "Two", "$ref": "../Users/u2"}],
            }))
            .expect("ok");
        assert_eq!(
            out,
            json!({
                "schemas": [GROUP_SCHEMA], "externalId": "g-ext", "displayName": "Sales",
                "members": [{"value": "u1"}, {"value": "u2", "type": "User", "display": "Two", "$ref": "../Users/u2"}],
            })
        );
        let e = err(s.validate_group(json!({"schemas": [GROUP_SCHEMA]})));
        assert_eq!(e.detail, "displayName is required");
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"type": "User"}]}),
        ));
        assert_eq!(e.detail, "\"members.value\" is required");
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": 3}]}),
        ));
        assert_eq!(
            e.detail,
            "attribute \"members.value\" must be a string, got 3"
        );
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA], "displayName": "G"}),
        ));
        assert!(e.detail.contains(ENTERPRISE_USER_SCHEMA), "{}", e.detail);
        let e = err(s.validate_group(json!({"schemas": [USER_SCHEMA], "displayName": "G"})));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "userName": "x"}),
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(
            e.detail,
            format!(
                "unknown attribute \"userName\" of {GROUP_SCHEMA}: leave it out (/Schemas lists \
                 the attributes of a Group)"
            )
        );
    }

    /// A stored value its field no longer accepts (removed, or defined again with another
    /// type) survives writes that leave it as it is; a new value is validated.
    #[test]
    fn validate_user_edit_keeps_values_that_no_longer_fit() {
        let s = schemas();
        // `seats` was a string field when "K-42" was stored; it is an integer field now, and
        // `badge` was removed.
        let stored = json!({
            "schemas": [USER_SCHEMA, CUSTOM_USER_SCHEMA],
            "userName": "u", "active": true,
            CUSTOM_USER_SCHEMA: {"seats": "K-42", "badge": "gold", "postalCode": "75001"}
        });
        let c = custom();
        assert!(
            s.validate_user(stored.clone(), &c).is_err(),
            "the stored form itself no longer validates"
        );
        // A PATCH of another attribute (the whole stored resource comes back).
        let mut deactivated = stored.clone();
        deactivated["active"] = json!("False");
        let out = s
            .validate_user_edit(&stored, deactivated, &c)
            .expect("other attributes can change");
        assert_eq!(out["active"], json!(false));
        assert_eq!(out[CUSTOM_USER_SCHEMA], stored[CUSTOM_USER_SCHEMA]);
        assert_eq!(out["schemas"], stored["schemas"]);
        // A PUT resending the stale values unchanged (key case aside) keeps them.
        let resent = json!({
            "schemas": [USER_SCHEMA], "userName": "v",
            "urn:ietf:params:scim:schemas:extension:customextensionname:2.0:user":
                {"Seats": "K-42", "badge": "gold"}
        });
        let out = s.validate_user_edit(&stored, resent, &c).expect("resent");
        assert_eq!(
            out[CUSTOM_USER_SCHEMA],
            json!({"seats": "K-42", "badge": "gold"})
        );
        // A PUT leaving them out drops the defined field's value, keeps the removed one's.
        let out = s
            .validate_user_edit(
                &stored,
                json!({"schemas": [USER_SCHEMA], "userName": "u"}),
                &c,
            )
            .expect("left out");
        assert_eq!(out[CUSTOM_USER_SCHEMA], json!({"badge": "gold"}));
        // A new value is validated against the field as defined now.
        let mut changed = stored.clone();
        changed[CUSTOM_USER_SCHEMA]["seats"] = json!("K-9");
        let e = err(s.validate_user_edit(&stored, changed, &c));
        assert_eq!(
            (e.status.as_u16(), e.scim_type),
            (400, Some(ScimType::InvalidValue))
        );
        assert_eq!(
            e.detail,
            format!("attribute \"{CUSTOM_USER_SCHEMA}:seats\" must be an integer, got \"K-9\"")
        );
        let mut fixed = stored.clone();
        fixed[CUSTOM_USER_SCHEMA]["seats"] = json!("12");
        let out = s.validate_user_edit(&stored, fixed, &c).expect("fits");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["seats"], json!(12));
        // A removed field still takes no new value.
        let mut renamed = stored.clone();
        renamed[CUSTOM_USER_SCHEMA]["badge"] = json!("silver");
        let e = err(s.validate_user_edit(&stored, renamed, &c));
        assert!(
            e.detail.contains("unknown attribute \"badge\""),
            "{}",
            e.detail
        );
        // A stored value that still fits is normalised as any other.
        let fits = json!({"schemas": [USER_SCHEMA, CUSTOM_USER_SCHEMA], "userName": "u",
            CUSTOM_USER_SCHEMA: {"seats": "12"}});
        let out = s.validate_user_edit(&fits, fits.clone(), &c).expect("fits");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["seats"], json!(12));
    }

    #[test]
    fn date_times() {
        for ok in [
            "2008-01-23T04:56:22Z",
            "2008-01-23T04:56:22.123Z",
            "2024-02-29t00:00:00+05:30",
            "2008-01-23T04:56:22",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "",
            "2008-01-23",
            "2008-13-01T00:00:00Z",
            "2008-01-32T00:00:00Z",
            "2008-01-23T24:00:00Z",
            "2008-01-23T04:56:22.Z",
            "2008-01-23T04:56:22+0100",
            "2008-01-23T04:56:22Zjunk",
            "２００８-01-23T04:56:22Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
