//! Scope rules and exclusions ("sleep"): which of a tenant's users its host app should see.
//! Pure: the rules as the host app sends them, validated, and whether a user matches them,
//! given what the store knows of the user (its identity mail, its stored resource and the
//! groups it belongs to, directly or through nested groups).
//!
//! A user is in scope when it is not slept (neither named in the exclusions nor a member,
//! through nested groups too, of an excluded group) and every criterion kind the rules give
//! matches:
//! - `groups`: the user is a member of any listed group, directly or through nested groups;
//! - `domains`: the domain of the user's identity mail is one of the listed domains (exactly,
//!   case-insensitively: `acme.com` does not take in `eu.acme.com`);
//! - `attributes`: for each named attribute, the user's value is one of the listed values
//!   (trimmed, case-insensitively; a multi-valued custom field matches when any value does).
//!
//! Rules that give no criterion take in everyone.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use super::error::ScimError;
use super::schema::{CUSTOM_USER_SCHEMA, ENTERPRISE_USER_SCHEMA};

/// Most groups the rules may name.
pub const MAX_RULE_GROUPS: usize = 100;
/// Most domains the rules may name.
pub const MAX_DOMAINS: usize = 100;
/// Most attributes the rules may name.
pub const MAX_ATTRIBUTES: usize = 20;
/// Most values one attribute may list.
pub const MAX_VALUES: usize = 100;
/// Longest value (bytes) an attribute may list.
pub const MAX_VALUE_LEN: usize = 256;
/// Most users the exclusions may name.
pub const MAX_EXCLUDED_USERS: usize = 10_000;
/// Most groups the exclusions may name.
pub const MAX_EXCLUDED_GROUPS: usize = 1_000;

/// The attributes a rule may name besides the tenant's custom fields, each with where it is
/// read: a core attribute, an enterprise one, or the work address's `formatted` (where Entra
/// maps `physicalDeliveryOfficeName`).
const KNOWN: &[(&str, Source)] = &[
    ("department", Source::Enterprise("department")),
    ("division", Source::Enterprise("division")),
    ("costCenter", Source::Enterprise("costCenter")),
    ("organization", Source::Enterprise("organization")),
    ("employeeNumber", Source::Enterprise("employeeNumber")),
    ("userType", Source::Core("userType")),
    ("title", Source::Core("title")),
    ("preferredLanguage", Source::Core("preferredLanguage")),
    ("locale", Source::Core("locale")),
    ("officeLocation", Source::WorkAddress),
    ("physicalDeliveryOfficeName", Source::WorkAddress),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Core(&'static str),
    Enterprise(&'static str),
    WorkAddress,
    Custom,
}

/// The names a rule's attribute may take besides custom fields (for error details).
pub fn known_attribute_names() -> Vec<&'static str> {
    KNOWN.iter().map(|(n, _)| *n).collect()
}

/// A tenant's scope rules, validated; values kept in their compared form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRules {
    /// Group ids, as given.
    pub groups: Vec<String>,
    /// Lower-case domains.
    pub domains: Vec<String>,
    /// Attribute name (canonical: a known name, or the custom field's name as defined) →
    /// lower-cased, trimmed values.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A tenant's exclusions ("sleep"): users and groups the host app put out of scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

fn bad(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

/// An array of strings at `obj[key]` (absent or null: empty), at most `max` of them.
fn strings(obj: &Map<String, Value>, key: &str, max: usize) -> Result<Vec<String>, ScimError> {
    let items = match obj.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad(format!("{key} must be an array of strings"))),
    };
    if items.len() > max {
        return Err(bad(format!(
            "{key} lists {} entries; at most {max} are allowed",
            items.len()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let s = item
            .as_str()
            .ok_or_else(|| bad(format!("{key} must be an array of strings; found {item}")))?;
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// An object body, or 400.
fn body_object<'v>(body: &'v Value, what: &str) -> Result<&'v Map<String, Value>, ScimError> {
    body.as_object()
        .ok_or_else(|| bad(format!("the {what} must be a JSON object")))
}

fn no_other_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ScimError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "unknown key {k:?}; the keys are {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A domain as compared: trimmed, lower-case, without a leading `@`.
fn domain(raw: &str) -> Result<String, ScimError> {
    let d = raw.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || !c.is_ascii());
    if valid {
        Ok(d)
    } else {
        Err(bad(format!(
            "domains: {raw:?} is not a mail domain; give domains such as \"acme.com\""
        )))
    }
}

/// A value as compared.
fn compared(value: &str) -> String {
    value.trim().to_lowercase()
}

/// The canonical name of a rule's attribute (a known one, or one of `custom_fields`, each
/// case-insensitively), or None.
fn attribute_name(name: &str, custom_fields: &[String]) -> Option<String> {
    KNOWN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, _)| n.to_string())
        .or_else(|| {
            custom_fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(name))
                .cloned()
        })
}

impl ScopeRules {
    /// Rules from `PUT …/scope`'s body `{"groups": [...], "domains": [...], "attributes":
    /// {name: [values]}}`: shapes, sizes, domains and attribute names are checked here (a
    /// name is one of [`known_attribute_names`] or of the tenant's `custom_fields`); that the
    /// groups are the tenant's is the caller's to check.
    pub fn parse(body: &Value, custom_fields: &[String]) -> Result<ScopeRules, ScimError> {
        let obj = body_object(body, "scope")?;
        no_other_keys(obj, &["groups", "domains", "attributes"])?;
        let groups = strings(obj, "groups", MAX_RULE_GROUPS)?;
        let mut domains = Vec::new();
        for d in strings(obj, "domains", MAX_DOMAINS)? {
            let d = domain(&d)?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        let mut attributes = BTreeMap::new();
        match obj.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(named)) => {
                if named.len() > MAX_ATTRIBUTES {
                    return Err(bad(format!(
                        "attributes names {} attributes; at most {MAX_ATTRIBUTES} are allowed",
                        named.len()
                    )));
                }
                for name in named.keys() {
                    let canonical = attribute_name(name, custom_fields).ok_or_else(|| {
                        let mut names = known_attribute_names().join(", ");
                        if !custom_fields.is_empty() {
                            names.push_str(", or a custom field: ");
                            names.push_str(&custom_fields.join(", "));
                        }
                        bad(format!(
                            "attributes: {name:?} is not an attribute scope rules know; use {names}"
                        ))
                    })?;
                    let values = strings(named, name, MAX_VALUES)?;
                    if values.is_empty() {
                        return Err(bad(format!(
                            "attributes.{name} lists no values; list at least one, or leave {name} out"
                        )));
                    }
                    if let Some(long) = values.iter().find(|v| v.len() > MAX_VALUE_LEN) {
                        return Err(bad(format!(
                            "attributes.{name}: a value of {} bytes; at most {MAX_VALUE_LEN}",
                            long.len()
                        )));
                    }
                    let entry: &mut Vec<String> = attributes.entry(canonical.clone()).or_default();
                    if !entry.is_empty() {
                        return Err(bad(format!(
                            "attributes names {canonical} twice; name it once"
                        )));
                    }
                    entry.extend(values.iter().map(|v| compared(v)));
                }
            }
            Some(_) => {
                return Err(bad(
                    "attributes must be an object of attribute names to arrays of values, such as {\"department\": [\"Sales\"]}",
                ))
            }
        }
        Ok(ScopeRules {
            groups,
            domains,
            attributes,
        })
    }

    /// Whether the rules give no criterion (everyone is in scope).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.domains.is_empty() && self.attributes.is_empty()
    }

    /// Whether a user matches the rules. `groups` are the ids of the groups the user belongs
    /// to, directly or through nested groups (only read when the rules name groups).
    pub fn matches(&self, mail: &str, resource: &Value, groups: &HashSet<String>) -> bool {
        if !self.groups.is_empty() && !self.groups.iter().any(|g| groups.contains(g)) {
            return false;
        }
        if !self.domains.is_empty() {
            let domain = mail
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            if !self.domains.contains(&domain) {
                return false;
            }
        }
        self.attributes.iter().all(|(name, wanted)| {
            attribute_values(resource, name)
                .iter()
                .any(|v| wanted.contains(&compared(v)))
        })
    }

    /// The rules as the API shows them (values in their compared form).
    pub fn to_json(&self) -> Value {
        json!({
            "groups": self.groups,
            "domains": self.domains,
            "attributes": self.attributes,
        })
    }

    /// Rules as stored (their [`ScopeRules::to_json`]), trusted: they were checked when put.
    pub fn stored(text: &str) -> ScopeRules {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return ScopeRules::default();
        };
        let list = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let attributes = v
            .get("attributes")
            .and_then(Value::as_object)
            .map(|named| {
                named
                    .iter()
                    .map(|(k, vals)| {
                        let vals = vals
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), vals)
                    })
                    .collect()
            })
            .unwrap_or_default();
        ScopeRules {
            groups: list("groups"),
            domains: list("domains"),
            attributes,
        }
    }
}

impl Exclusions {
    /// Exclusions from `PUT …/exclusions`'s body `{"users": [...], "groups": [...]}`; that the
    /// ids are the tenant's is the caller's to check.
    pub fn parse(body: &Value) -> Result<Exclusions, ScimError> {
        let obj = body_object(body, "exclusions")?;
        no_other_keys(obj, &["users", "groups"])?;
        Ok(Exclusions {
            users: strings(obj, "users", MAX_EXCLUDED_USERS)?,
            groups: strings(obj, "groups", MAX_EXCLUDED_GROUPS)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether the user `id`, a member of `groups` (directly or through nested groups), is
    /// slept.
    pub fn sleeps(&self, id: &str, groups: &HashSet<String>) -> bool {
        self.users.iter().any(|u| u == id) || self.groups.iter().any(|g| groups.contains(g))
    }

    pub fn to_json(&self) -> Value {
        json!({"users": self.users, "groups": self.groups})
    }

    /// Exclusions as stored (their [`Exclusions::to_json`]).
    pub fn stored(text: &str) -> Exclusions {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let list = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Exclusions {
            users: list("users"),
            groups: list("groups"),
        }
    }
}

/// A value of an attribute as text (a string as it is; a number or boolean as its JSON
/// text), for comparison.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `obj[key]` ignoring ASCII case.
fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values a stored User resource has for a rule's attribute (canonical name): none,
/// one, or several for a multi-valued custom field.
pub fn attribute_values(resource: &Value, name: &str) -> Vec<String> {
    let Some(resource) = resource.as_object() else {
        return Vec::new();
    };
    let source = KNOWN
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(Source::Custom, |(_, s)| *s);
    let found = match source {
        Source::Core(key) => get(resource, key),
        Source::Enterprise(key) => get(resource, ENTERPRISE_USER_SCHEMA)
            .and_then(Value::as_object)
            .and_then(|e| get(e, key)),
        Source::WorkAddress => get(resource, "addresses")
            .and_then(Value::as_array)
            .and_then(|addresses| {
                let of_type = |a: &&Value| {
                    a.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                };
                addresses.iter().find(of_type).or_else(|| addresses.first())
            })
            .and_then(Value::as_object)
            .and_then(|a| get(a, "formatted")),
        Source::Custom => get(resource, CUSTOM_USER_SCHEMA)
            .and_then(Value::as_object)
            .and_then(|c| get(c, name)),
    };
    match found {
        Some(Value::Array(items)) => items.iter().filter_map(as_text).collect(),
        Some(v) => as_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Value {
        json!({
            "userName": "ann@acme.com",
            "userType": "Member",
            "addresses": [{"type": "work", "formatted": "Oslo HQ"}],
            ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
            CUSTOM_USER_SCHEMA: {"costCenter": "4130", "tags": ["a", "B"]}
        })
    }

    #[test]
    fn every_criterion_kind_must_match() {
        let custom = vec!["tags".to_string(), "region".to_string()];
        let rules = ScopeRules::parse(
            &json!({"domains": ["ACME.com"], "attributes": {"Department": [" sales "], "tags": ["b"]}}),
            &custom,
        )
        .expect("valid");
        let none = HashSet::new();
        assert!(rules.matches("ann@acme.com", &user(), &none));
        assert!(!rules.matches("ann@eu.acme.com", &user(), &none));
        let mut other = user();
        other[ENTERPRISE_USER_SCHEMA]["department"] = json!("R&D");
        assert!(!rules.matches("ann@acme.com", &other, &none));
        assert!(ScopeRules::default().matches("x@y.z", &json!({}), &none));
    }

    #[test]
    fn groups_match_any_and_office_is_the_work_address() {
        let rules = ScopeRules::parse(
            &json!({"groups": ["g1", "g2"], "attributes": {"physicalDeliveryOfficeName": ["oslo hq"], "userType": ["member"]}}),
            &[],
        )
        .expect("valid");
        let mut groups = HashSet::new();
        assert!(!rules.matches("a@b.c", &user(), &groups));
        groups.insert("g2".to_string());
        assert!(rules.matches("a@b.c", &user(), &groups));
        assert_eq!(attribute_values(&user(), "officeLocation"), vec!["Oslo HQ"]);
    }

    #[test]
    fn bad_rules_say_what_to_fix() {
        let cases = [
            (json!({"domains": ["not a domain"]}), "not a mail domain"),
            (json!({"attributes": {"shoeSize": ["42"]}}), "shoeSize"),
            (json!({"attributes": {"department": []}}), "no values"),
            (json!({"groups": "g1"}), "array of strings"),
            (json!({"colour": []}), "unknown key"),
            (json!([]), "JSON object"),
        ];
        for (body, says) in cases {
            let e = ScopeRules::parse(&body, &[]).expect_err("invalid");
            assert!(e.detail.contains(says), "{body}: {}", e.detail);
        }
        let many: Vec<String> = (0..=MAX_DOMAINS).map(|i| format!("d{i}.com")).collect();
        assert!(ScopeRules::parse(&json!({ "domains": many }), &[]).is_err());
    }

    #[test]
    fn stored_rules_round_trip() {
        let rules = ScopeRules::parse(
            &json!({"groups": ["g"], "domains": ["a.com"], "attributes": {"title": ["X"]}}),
            &[],
        )
        .expect("valid");
        assert_eq!(ScopeRules::stored(&rules.to_json().to_string()), rules);
        let ex = Exclusions::parse(&json!({"users": ["u1", "u1"], "groups": ["g"]})).expect("ok");
        assert_eq!(ex.users, vec!["u1"]);
        assert_eq!(Exclusions::stored(&ex.to_json().to_string()), ex);
        let mut groups = HashSet::new();
        assert!(ex.sleeps("u1", &groups));
        assert!(!ex.sleeps("u2", &groups));
        groups.insert("g".into());
        assert!(ex.sleeps("u2", &groups));
    }
}
