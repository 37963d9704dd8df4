//! Shaping rendered resources for responses: `attributes` / `excludedAttributes` projection
//! (RFC 7644 §3.9) and sort keys for `sortBy` (RFC 7644 §3.4.2.3).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::path::{self, get_ci, is_core_urn, key_ci, split_urn, AttrPath};

/// Longest `attributes` / `excludedAttributes` value accepted, in bytes.
pub const MAX_ATTRIBUTES_LEN: usize = 16 * 1024;

/// Attributes returned whatever the client asks (RFC 7643 §3.1, `returned: always`).
const ALWAYS_RETURNED: [&str; 2] = ["id", "schemas"];

/// One entry of an `attributes` / `excludedAttributes` list.
#[derive(Debug)]
enum Selector {
    /// A bare schema URN: the whole extension object, or all core attributes for a core URN.
    Schema(String),
    Attr(AttrPath),
    /// `emails[type eq "work"]`: the values of a core multi-valued attribute that match.
    Values {
        attr: AttrPath,
        filter: Box<crate::scim::filter::Filter>,
    },
}

/// Applies `attributes` / `excludedAttributes` (comma-separated attribute paths, possibly
/// URN-qualified, e.g. `userName,name.givenName,urn:…:enterprise:2.0:User:department`) to a
/// rendered resource, in place.
///
/// `id` and `schemas` are always returned. With `attributes`, only the listed attributes (plus
/// those) remain; `excludedAttributes` then removes the listed ones (never `id`/`schemas`). Names
/// are case-insensitive. `emails.value` keeps only `value` in each element, `name.givenName` only
/// that sub-attribute; an extension object keeps only its selected keys and disappears when none
/// remain. A bare schema URN selects or removes a whole extension. An empty or blank parameter
/// counts as absent. Answers `invalidPath` for a malformed entry.
pub fn project(
    resource: &mut Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<(), ScimError> {
    let include = parse_list(attributes, "attributes")?;
    let exclude = parse_list(excluded, "excludedAttributes")?;
    let Some(obj) = resource.as_object_mut() else {
        return Ok(());
    };
    if let Some(sel) = include {
        keep_only(obj, &sel);
        keep_matching_values(obj, &sel);
    }
    if let Some(sel) = exclude {
        remove(obj, &sel);
        remove_matching_values(obj, &sel);
    }
    Ok(())
}

/// Check `attributes` and `excludedAttributes` without a resource: a list answers 400 for a
/// bad one even when it has nothing to project.
pub fn check_projection(attributes: Option<&str>, excluded: Option<&str>) -> Result<(), ScimError> {
    parse_list(attributes, "attributes")?;
    parse_list(excluded, "excludedAttributes")?;
    Ok(())
}

fn parse_list(param: Option<&str>, name: &str) -> Result<Option<Vec<Selector>>, ScimError> {
    let Some(list) = param.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    if list.len() > MAX_ATTRIBUTES_LEN {
        return Err(ScimError::invalid_path(format!(
            "{name} is {} bytes long; at most {MAX_ATTRIBUTES_LEN} are accepted",
            list.len()
        )));
    }
    let mut out = Vec::new();
    // Blank entries ("a,,b", a trailing comma) are harmless, so they are skipped, not refused.
    for entry in split_entries(list)
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if path::is_schema_urn(entry) {
            out.push(Selector::Schema(entry.to_string()));
            continue;
        }
        if entry.contains('[') {
            out.push(value_selector(entry, name)?);
            continue;
        }
        let attr = path::parse_attr_path(entry).map_err(|reason| {
            ScimError::invalid_path(format!(
                "invalid attribute path \"{}\" in {name}: {reason}",
                path::snippet(entry)
            ))
        })?;
        out.push(Selector::Attr(attr));
    }
    Ok(Some(out))
}

/// The entries of a list: commas inside `[…]` or quotes belong to a value filter.
fn split_entries(list: &str) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut quoted, mut escaped) =
        (Vec::new(), 0, 0usize, false, false);
    for (i, c) in list.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(list.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list.get(start..).unwrap_or_default());
    out
}

/// `attr[filter]` in a list: the attribute's values that match the filter.
fn value_selector(entry: &str, name: &str) -> Result<Selector, ScimError> {
    let invalid = |reason: String| {
        ScimError::invalid_path(format!(
            "invalid attribute path \"{}\" in {name}: {reason}",
            path::snippet(entry)
        ))
    };
    match crate::scim::filter::parse(entry).map_err(|e| invalid(e.detail))? {
        crate::scim::filter::Filter::ValuePath { attr, filter } if attr.extension().is_none() => {
            Ok(Selector::Values { attr, filter })
        }
        _ => Err(invalid("expected a core multi-valued attribute and a value filter, such as emails[type eq \"work\"]".into())),
    }
}

/// Whether an element of a multi-valued attribute matches a value filter (names in the
/// filter are the element's sub-attributes, compared as strings case-insensitively).
fn value_matches(filter: &crate::scim::filter::Filter, element: &Value) -> bool {
    crate::scim::filter::matches(filter, element, &|_| false)
}

/// After [`keep_only`]: an attribute selected only through value filters keeps the values
/// that match one of them (and disappears when none does).
fn keep_matching_values(obj: &mut Map<String, Value>, sels: &[Selector]) {
    let plain = |name: &str| {
        sels.iter().any(|s| matches!(s, Selector::Attr(a) if a.extension().is_none() && a.name.eq_ignore_ascii_case(name)))
            || sels.iter().any(|s| matches!(s, Selector::Schema(u) if is_core_urn(u)))
    };
    let mut names: Vec<&str> = sels
        .iter()
        .filter_map(|s| match s {
            Selector::Values { attr, .. } => Some(attr.name.as_str()),
            _ => None,
        })
        .collect();
    names.dedup();
    for name in names {
        if plain(name) {
            continue;
        }
        let Some(key) = key_ci(obj, name) else {
            continue;
        };
        let filters: Vec<&crate::scim::filter::Filter> = sels
            .iter()
            .filter_map(|s| match s {
                Selector::Values { attr, filter } if attr.name.eq_ignore_ascii_case(name) => {
                    Some(filter.as_ref())
                }
                _ => None,
            })
            .collect();
        let keep = match obj.get_mut(&key) {
            Some(Value::Array(items)) => {
                items.retain(|e| filters.iter().any(|f| value_matches(f, e)));
                !items.is_empty()
            }
            Some(other) => filters.iter().any(|f| value_matches(f, other)),
            None => false,
        };
        if !keep {
            obj.remove(&key);
        }
    }
}

/// After [`remove`]: values that match an excluded value filter are removed.
fn remove_matching_values(obj: &mut Map<String, Value>, sels: &[Selector]) {
    for sel in sels {
        let Selector::Values { attr, filter } = sel else {
            continue;
        };
        let Some(key) = key_ci(obj, &attr.name) else {
            continue;
        };
        let now_empty = match obj.get_mut(&key) {
            Some(Value::Array(items)) => {
                items.retain(|e| !value_matches(filter, e));
                items.is_empty()
            }
            _ => false,
        };
        if now_empty {
            obj.remove(&key);
        }
    }
}

/// Whether a top-level key is an extension object (its key is a schema URN).
fn is_extension_key(key: &str) -> bool {
    matches!(split_urn(key), (Some(_), _)) && !is_core_urn(key)
}

fn is_always_returned(key: &str) -> bool {
    ALWAYS_RETURNED.iter().any(|a| a.eq_ignore_ascii_case(key))
}

fn keep_only(obj: &mut Map<String, Value>, sels: &[Selector]) {
    let all_core = sels
        .iter()
        .any(|s| matches!(s, Selector::Schema(u) if is_core_urn(u)));
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        if is_always_returned(&key) {
            continue;
        }
        let keep = if is_extension_key(&key) {
            keep_extension(obj, &key, sels)
        } else if all_core {
            true
        } else {
            let wanted: Vec<(&str, Option<&str>)> = sels
                .iter()
                .filter_map(|s| match s {
                    Selector::Attr(a) if a.extension().is_none() => {
                        Some((a.name.as_str(), a.sub.as_deref()))
                    }
                    Selector::Values { attr, .. } => Some((attr.name.as_str(), None)),
                    _ => None,
                })
                .collect();
            obj.get_mut(&key)
                .is_some_and(|v| keep_attr(&key, v, &wanted))
        };
        if !keep {
            obj.remove(&key);
        }
    }
}

/// Projects the extension object under `key`; answers whether it should stay.
fn keep_extension(obj: &mut Map<String, Value>, key: &str, sels: &[Selector]) -> bool {
    if sels
        .iter()
        .any(|s| matches!(s, Selector::Schema(u) if u.eq_ignore_ascii_case(key)))
    {
        return true;
    }
    let wanted: Vec<(&str, Option<&str>)> = sels
        .iter()
        .filter_map(|s| match s {
            Selector::Attr(a) if a.extension().is_some_and(|u| u.eq_ignore_ascii_case(key)) => {
                Some((a.name.as_str(), a.sub.as_deref()))
            }
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return false;
    }
    let Some(Value::Object(ext)) = obj.get_mut(key) else {
        return false;
    };
    let inner_keys: Vec<String> = ext.keys().cloned().collect();
    for k in inner_keys {
        if !ext.get_mut(&k).is_some_and(|v| keep_attr(&k, v, &wanted)) {
            ext.remove(&k);
        }
    }
    !ext.is_empty()
}

/// Narrows the attribute `key` = `value` to the wanted `(name, sub)` pairs; answers whether it
/// should stay. A whole-attribute selection wins over sub-attribute ones.
fn keep_attr(key: &str, value: &mut Value, wanted: &[(&str, Option<&str>)]) -> bool {
    let mut subs = Vec::new();
    for (name, sub) in wanted {
        if !name.eq_ignore_ascii_case(key) {
            continue;
        }
        match sub {
            None => return true,
            Some(s) => subs.push(*s),
        }
    }
    if subs.is_empty() {
        return false;
    }
    let keep_subs = |m: &mut Map<String, Value>| {
        m.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)));
        !m.is_empty()
    };
    match value {
        Value::Object(m) => keep_subs(m),
        Value::Array(items) => {
            // Elements left with none of the selected sub-attributes carry no information.
            items.retain_mut(|e| match e {
                Value::Object(m) => keep_subs(m),
                _ => true,
            });
            !items.is_empty()
        }
        // A sub-attribute of a simple value selects nothing in it; keep the value rather than
        // silently dropping what the client asked about.
        _ => true,
    }
}

fn remove(obj: &mut Map<String, Value>, sels: &[Selector]) {
    for sel in sels {
        match sel {
            // Handled value by value in `remove_matching_values`.
            Selector::Values { .. } => {}
            Selector::Schema(urn) => {
                // Excluding the core schema would mean excluding everything but id/schemas; no
                // client means that, so only extensions are removed this way.
                if !is_core_urn(urn) {
                    if let Some(k) = key_ci(obj, urn) {
                        obj.remove(&k);
                    }
                }
            }
            Selector::Attr(attr) => match attr.extension() {
                None => {
                    if attr.sub.is_none() && is_always_returned(&attr.name) {
                        continue;
                    }
                    remove_attr(obj, attr);
                }
                Some(urn) => {
                    let Some(k) = key_ci(obj, urn) else { continue };
                    let now_empty = match obj.get_mut(&k) {
                        Some(Value::Object(ext)) => {
                            remove_attr(ext, attr);
                            ext.is_empty()
                        }
                        _ => false,
                    };
                    if now_empty {
                        obj.remove(&k);
                    }
                }
            },
        }
    }
}

fn remove_attr(obj: &mut Map<String, Value>, attr: &AttrPath) {
    let Some(k) = key_ci(obj, &attr.name) else {
        return;
    };
    let Some(sub) = &attr.sub else {
        obj.remove(&k);
        return;
    };
    // Answers whether anything is left in the complex value.
    let drop_sub = |m: &mut Map<String, Value>| {
        if let Some(sk) = key_ci(m, sub) {
            m.remove(&sk);
        }
        !m.is_empty()
    };
    // As with `attributes`, a value emptied by the removal is dropped rather than left as `{}`.
    let still_present = match obj.get_mut(&k) {
        Some(Value::Object(m)) => drop_sub(m),
        Some(Value::Array(items)) => {
            items.retain_mut(|e| match e {
                Value::Object(m) => drop_sub(m),
                _ => true,
            });
            !items.is_empty()
        }
        _ => true,
    };
    if !still_present {
        obj.remove(&k);
    }
}

/// A sort key for `sortBy`. Implements a total order: booleans < numbers < strings across
/// kinds (a well-typed attribute never mixes them), numbers by `f64::total_cmp`.
#[derive(Debug, Clone)]
pub enum SortKey {
    /// A boolean attribute.
    Bool(bool),
    /// A numeric attribute.
    Number(f64),
    /// A string (or datetime, reference…) attribute, lower-cased unless case-exact.
    String(String),
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::String(_) => 2,
        }
    }
}

impl Ord for SortKey {
    /// The total order described on [`SortKey`].
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::String(a), SortKey::String(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// The sort key of `resource` for `sortBy=attr` (RFC 7644 §3.4.2.3): the attribute's value; for a
/// multi-valued attribute, that of the element marked `primary`, else the first; a complex value
/// without sub-attribute sorts by its `value`. Strings are lower-cased when `!case_exact`.
/// `None` when the resource has no such (simple) value.
pub fn sort_key(resource: &Value, attr: &AttrPath, case_exact: bool) -> Option<SortKey> {
    let top = get_ci(attr.container(resource)?, &attr.name)?;
    let v = match top {
        Value::Array(items) => items
            .iter()
            .find(|e| get_ci(e, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let v = match (&attr.sub, v) {
        (Some(sub), Value::Object(_)) => get_ci(v, sub)?,
        (Some(_), _) => return None,
        (None, Value::Object(_)) => get_ci(v, "value")?,
        (None, other) => other,
    };
    match v {
        Value::Bool(b) => Some(SortKey::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SortKey::Number),
        Value::String(s) if case_exact => Some(SortKey::String(s.clone())),
        Value::String(s) => Some(SortKey::String(s.to_lowercase())),
        _ => None,
    }
}

/// Orders two resources' sort keys per RFC 7644 §3.4.2.3: resources without a value sort last
/// when ascending and first when descending (descending is exactly the reverse of ascending).
pub fn compare_sort_keys(a: Option<&SortKey>, b: Option<&SortKey>, descending: bool) -> Ordering {
    let ascending = match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    if descending {
        ascending.reverse()
    } else {
        ascending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT, CUSTOM],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "Bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "active": true,
            "loginCount": 42,
            "emails": [
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"type": "other"}
            ],
            "roles": ["admin", "user"],
            "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"},
            ENT: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915", "displayName": "John Smith"}
            },
            CUSTOM: {"postalCode": "98052"}
        })
    }

    fn projected(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let mut u = user();
        project(&mut u, attributes, excluded).unwrap();
        u
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn sorted(mut k: Vec<&str>) -> Vec<String> {
        k.sort_unstable();
        k.into_iter().map(String::from).collect()
    }

    // ----- attributes -----

    #[test]
    fn no_parameters_leave_the_resource_alone() {
        assert_eq!(projected(None, None), user());
        assert_eq!(projected(Some(""), Some("  ")), user());
    }

    #[test]
    fn attributes_keep_only_listed_plus_always_returned() {
        let u = projected(Some("userName"), None);
        assert_eq!(keys(&u), sorted(vec!["id", "schemas", "userName"]));
        assert_eq!(u["schemas"], user()["schemas"]);
    }

    #[test]
    fn attributes_are_case_insensitive_and_keep_original_spelling() {
        let u = projected(Some("USERNAME,displayname"), None);
        assert_eq!(
            keys(&u),
            sorted(vec!["displayName", "id", "schemas", "userName"])
        );
    }

    #[test]
    fn attributes_tolerate_spaces_and_blank_entries() {
        let u = projected(Some(" userName , ,name.givenName,"), None);
        assert_eq!(keys(&u), sorted(vec!["id", "name", "schemas", "userName"]));
    }

    #[test]
    fn attributes_sub_attribute_of_complex() {
        let u = projected(Some("name.givenName"), None);
        assert_eq!(u["name"], json!({"givenName": "Barbara"}));
    }

    #[test]
    fn attributes_sub_attribute_of_multi_valued() {
        let u = projected(Some("emails.value"), None);
        assert_eq!(
            u["emails"],
            json!([{"value": "babs@jensen.org"}, {"value": "bjensen@example.com"}])
        );
        let u = projected(Some("emails.value,emails.TYPE"), None);
        assert_eq!(u["emails"].as_array().unwrap().len(), 3);
        assert_eq!(
            u["emails"][1],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
    }

    #[test]
    fn attributes_whole_attribute_wins_over_sub_attribute() {
        assert_eq!(
            projected(Some("name.givenName,name"), None)["name"],
            user()["name"]
        );
        assert_eq!(
            projected(Some("emails,emails.value"), None)["emails"],
            user()["emails"]
        );
    }

    #[test]
    fn attributes_sub_attribute_missing_everywhere_drops_the_attribute() {
        let u = projected(Some("name.middleName"), None);
        assert!(u.get("name").is_none());
    }

    #[test]
    fn attributes_sub_attribute_of_simple_value_keeps_it() {
        assert_eq!(
            projected(Some("userName.x"), None)["userName"],
            json!("Bjensen@example.com")
        );
        assert_eq!(
            projected(Some("roles.value"), None)["roles"],
            json!(["admin", "user"])
        );
    }

    #[test]
    fn attributes_extension_attribute() {
        let u = projected(Some(&format!("userName,{ENT}:department")), None);
        assert_eq!(keys(&u), sorted(vec!["id", "schemas", "userName", ENT]));
        assert_eq!(u[ENT], json!({"department": "Tour Operations"}));
    }

    #[test]
    fn attributes_extension_sub_attribute() {
        let u = projected(Some(&format!("{}:MANAGER.value", ENT.to_lowercase())), None);
        assert_eq!(u[ENT], json!({"manager": {"value": "26118915"}}));
    }

    #[test]
    fn attributes_whole_extension_by_urn() {
        let u = projected(Some(ENT), None);
        assert_eq!(keys(&u), sorted(vec!["id", "schemas", ENT]));
        assert_eq!(u[ENT], user()[ENT]);
    }

    #[test]
    fn attributes_custom_extension() {
        let u = projected(Some(&format!("{CUSTOM}:postalCode")), None);
        assert_eq!(keys(&u), sorted(vec!["id", "schemas", CUSTOM]));
    }

    #[test]
    fn attributes_absent_extension_attribute_drops_the_extension() {
        let u = projected(Some(&format!("{ENT}:costCenter")), None);
        assert_eq!(keys(&u), sorted(vec!["id", "schemas"]));
    }

    #[test]
    fn attributes_core_urn_qualified() {
        let u = projected(
            Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            None,
        );
        assert_eq!(keys(&u), sorted(vec!["id", "schemas", "userName"]));
    }

    #[test]
    fn attributes_core_schema_urn_keeps_core_attributes() {
        let u = projected(Some("urn:ietf:params:scim:schemas:core:2.0:User"), None);
        assert!(u.get("userName").is_some() && u.get("emails").is_some());
        assert!(u.get(ENT).is_none() && u.get(CUSTOM).is_none());
    }

    #[test]
    fn attributes_meta_only_when_asked() {
        assert!(projected(Some("userName"), None).get("meta").is_none());
        assert_eq!(projected(Some("meta"), None)["meta"], user()["meta"]);
        assert_eq!(
            projected(Some("meta.lastModified"), None)["meta"],
            json!({"lastModified": "2011-05-13T04:42:34Z"})
        );
    }

    #[test]
    fn attributes_id_and_schemas_even_if_not_listed() {
        let u = projected(Some("displayName"), None);
        assert_eq!(u["id"], json!("2819c223"));
        assert!(u["schemas"].is_array());
    }

    #[test]
    fn attributes_group_members() {
        let mut g = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
            "displayName": "Sales",
            "members": [{"value": "u1", "$ref": "../Users/u1", "display": "A"}]
        });
        project(&mut g, Some("displayName,members.value"), None).unwrap();
        assert_eq!(g["members"], json!([{"value": "u1"}]));
        assert_eq!(g["displayName"], json!("Sales"));
    }

    // ----- excludedAttributes -----

    #[test]
    fn excluded_removes_attributes() {
        let u = projected(None, Some("emails,DisplayName"));
        assert!(u.get("emails").is_none() && u.get("displayName").is_none());
        assert!(u.get("userName").is_some() && u.get(ENT).is_some());
    }

    #[test]
    fn excluded_never_removes_id_or_schemas() {
        let u = projected(
            None,
            Some("id,schemas,urn:ietf:params:scim:schemas:core:2.0:User:id"),
        );
        assert_eq!(u, user());
    }

    #[test]
    fn excluded_sub_attributes() {
        let u = projected(None, Some("name.givenName,emails.type"));
        assert_eq!(u["name"], json!({"familyName": "Jensen"}));
        assert_eq!(u["emails"][0], json!({"value": "babs@jensen.org"}));
        assert_eq!(
            u["emails"][1],
            json!({"value": "bjensen@example.com", "primary": true})
        );
    }

    #[test]
    fn excluded_extension_attributes() {
        let u = projected(
            None,
            Some(&format!("{ENT}:department,{ENT}:manager.displayName")),
        );
        assert_eq!(
            u[ENT],
            json!({"employeeNumber": "701984", "manager": {"value": "26118915"}})
        );
        let all = format!("{ENT}:department,{ENT}:manager,{ENT}:employeeNumber");
        assert!(
            projected(None, Some(&all)).get(ENT).is_none(),
            "an emptied extension goes away"
        );
    }

    #[test]
    fn excluded_whole_extension() {
        let u = projected(None, Some(&ENT.to_uppercase()));
        assert!(u.get(ENT).is_none());
        assert!(u.get(CUSTOM).is_some());
    }

    #[test]
    fn excluded_core_schema_urn_is_ignored() {
        assert_eq!(
            projected(None, Some("urn:ietf:params:scim:schemas:core:2.0:User")),
            user()
        );
    }

    #[test]
    fn excluded_absent_attributes_are_harmless() {
        assert_eq!(
            projected(
                None,
                Some(&format!("nickName,name.middleName,{ENT}:costCenter"))
            ),
            user()
        );
        assert_eq!(
            projected(None, Some(&format!("{}:x", "urn:a:b:2.0:User"))),
            user()
        );
    }

    #[test]
    fn both_parameters() {
        let u = projected(Some("userName,emails"), Some("emails.type"));
        assert_eq!(
            keys(&u),
            sorted(vec!["emails", "id", "schemas", "userName"])
        );
        // The third email only had a type: nothing is left of it.
        assert_eq!(u["emails"].as_array().unwrap().len(), 2);
        let u = projected(Some("name"), Some("name.givenName,name.familyName"));
        assert_eq!(keys(&u), sorted(vec!["id", "schemas"]));
    }

    // ----- errors and robustness -----

    #[test]
    fn invalid_entries_are_invalid_path() {
        let mut u = user();
        let e = project(&mut u, Some("userName,a.b.c"), None).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(e.detail.contains("\"a.b.c\" in attributes"), "{}", e.detail);
        let e = project(&mut u, None, Some("emails[type eq]")).unwrap_err();
        assert!(e.detail.contains("in excludedAttributes"), "{}", e.detail);
        let e = project(&mut u, Some("emails[type eq \"work\"].value"), None).unwrap_err();
        assert!(e.detail.contains("in attributes"), "{}", e.detail);
        assert_eq!(u, user(), "nothing is changed on error");
    }

    #[test]
    fn value_filters_select_values() {
        let mut u = json!({"id": "1", "schemas": [], "userName": "a", "emails": [
            {"value": "w@x", "type": "work"}, {"value": "h@x", "type": "home"}]});
        project(&mut u, Some("emails[type eq \"work\"],userName"), None).unwrap();
        assert_eq!(u["emails"], json!([{"value": "w@x", "type": "work"}]));
        assert_eq!(u["userName"], "a");
        let mut u = json!({"id": "1", "emails": [{"value": "w@x", "type": "work"}, {"value": "h@x", "type": "home"}]});
        project(&mut u, None, Some("emails[type eq work]")).unwrap();
        assert_eq!(u["emails"], json!([{"value": "h@x", "type": "home"}]));
        let mut u = json!({"id": "1", "emails": [{"value": "h@x", "type": "home"}]});
        project(&mut u, Some("emails[type eq \"work\"]"), None).unwrap();
        assert!(u.get("emails").is_none(), "{u}");
    }

    #[test]
    fn length_cap() {
        let mut u = user();
        let long = vec!["userName"; 3000].join(",");
        let e = project(&mut u, Some(&long), None).unwrap_err();
        assert!(e.detail.contains("at most 16384"), "{}", e.detail);
    }

    #[test]
    fn non_object_resources_are_left_alone() {
        for mut v in [json!(null), json!([1]), json!("x")] {
            let before = v.clone();
            project(&mut v, Some("userName"), Some("id")).unwrap();
            assert_eq!(v, before);
        }
    }

    #[test]
    fn fuzz_project_never_panics() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let frags = [
            "userName",
            ",",
            ".",
            ":",
            "emails",
            "value",
            "name",
            "givenName",
            ENT,
            CUSTOM,
            "urn:",
            " ",
            "[",
            "é",
            "",
            "$ref",
            "id",
            "schemas",
            "2.0",
            "User",
            "urn:ietf:params:scim:schemas:core:2.0:User",
        ];
        for _ in 0..5000 {
            let mut pick = || -> String {
                (0..next() % 12)
                    .map(|_| frags[(next() % frags.len() as u64) as usize])
                    .collect()
            };
            let (a, x) = (pick(), pick());
            let mut u = user();
            if project(&mut u, Some(&a), Some(&x)).is_ok() {
                assert_eq!(u["id"], json!("2819c223"), "{a:?} / {x:?}");
                assert!(u["schemas"].is_array());
            }
        }
    }

    // ----- sort keys -----

    fn key(attr: &str, case_exact: bool) -> Option<SortKey> {
        sort_key(&user(), &AttrPath::parse(attr).unwrap(), case_exact)
    }

    #[test]
    fn sort_key_simple_values() {
        assert_eq!(
            key("userName", false),
            Some(SortKey::String("bjensen@example.com".into()))
        );
        assert_eq!(
            key("USERNAME", true),
            Some(SortKey::String("Bjensen@example.com".into()))
        );
        assert_eq!(key("loginCount", false), Some(SortKey::Number(42.0)));
        assert_eq!(key("active", false), Some(SortKey::Bool(true)));
        assert_eq!(
            key("meta.lastModified", false),
            Some(SortKey::String("2011-05-13t04:42:34z".into()))
        );
    }

    #[test]
    fn sort_key_complex_and_multi_valued() {
        assert_eq!(
            key("name.familyName", true),
            Some(SortKey::String("Jensen".into()))
        );
        // The primary email, not the first one.
        assert_eq!(
            key("emails", true),
            Some(SortKey::String("bjensen@example.com".into()))
        );
        assert_eq!(
            key("emails.value", true),
            Some(SortKey::String("bjensen@example.com".into()))
        );
        assert_eq!(
            key("emails.type", true),
            Some(SortKey::String("work".into()))
        );
        // Without a primary element, the first one.
        assert_eq!(key("roles", true), Some(SortKey::String("admin".into())));
        let mut u = user();
        u["emails"][1]["primary"] = json!(false);
        assert_eq!(
            sort_key(&u, &AttrPath::parse("emails.value").unwrap(), true),
            Some(SortKey::String("babs@jensen.org".into()))
        );
    }

    #[test]
    fn sort_key_extension() {
        assert_eq!(
            key(&format!("{ENT}:department"), true),
            Some(SortKey::String("Tour Operations".into()))
        );
        assert_eq!(
            key(&format!("{ENT}:manager"), true),
            Some(SortKey::String("26118915".into()))
        );
    }

    #[test]
    fn sort_key_missing() {
        assert_eq!(key("nickName", false), None);
        assert_eq!(
            key("name", false),
            None,
            "a complex value without `value` has no key"
        );
        assert_eq!(key("userName.x", false), None);
        assert_eq!(key("name.middleName", false), None);
        assert_eq!(key(&format!("{ENT}:costCenter"), false), None);
        assert_eq!(
            sort_key(
                &json!({"x509Certificates": []}),
                &AttrPath::new("x509Certificates"),
                true
            ),
            None
        );
    }

    #[test]
    fn sort_key_total_order() {
        let s = |v: &str| SortKey::String(v.into());
        assert!(SortKey::Bool(true) < SortKey::Number(-1.0));
        assert!(SortKey::Number(1e9) < s(""));
        assert!(SortKey::Bool(false) < SortKey::Bool(true));
        assert!(SortKey::Number(-2.5) < SortKey::Number(1.0));
        assert!(s("a") < s("b"));
        assert_eq!(s("a").cmp(&s("a")), Ordering::Equal);
        assert_eq!(SortKey::Number(f64::NAN), SortKey::Number(f64::NAN));
    }

    #[test]
    fn compare_sort_keys_puts_missing_last_ascending_first_descending() {
        let a = SortKey::String("a".into());
        let b = SortKey::String("b".into());
        assert_eq!(compare_sort_keys(Some(&a), Some(&b), false), Ordering::Less);
        assert_eq!(
            compare_sort_keys(Some(&a), Some(&b), true),
            Ordering::Greater
        );
        assert_eq!(compare_sort_keys(Some(&a), None, false), Ordering::Less);
        assert_eq!(compare_sort_keys(Some(&a), None, true), Ordering::Greater);
        assert_eq!(compare_sort_keys(None, None, true), Ordering::Equal);
    }

    #[test]
    fn sorting_resources_by_user_name() {
        let users = [
            json!({"userName": "carol"}),
            json!({}),
            json!({"userName": "Alice"}),
            json!({"userName": "bob"}),
        ];
        let attr = AttrPath::new("userName");
        let mut keyed: Vec<(Option<SortKey>, usize)> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (sort_key(u, &attr, false), i))
            .collect();
        keyed.sort_by(|a, b| compare_sort_keys(a.0.as_ref(), b.0.as_ref(), false));
        assert_eq!(
            keyed.iter().map(|k| k.1).collect::<Vec<_>>(),
            vec![2, 3, 0, 1]
        );
        keyed.sort_by(|a, b| compare_sort_keys(a.0.as_ref(), b.0.as_ref(), true));
        assert_eq!(
            keyed.iter().map(|k| k.1).collect::<Vec<_>>(),
            vec![1, 0, 3, 2]
        );
    }
}
