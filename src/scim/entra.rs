//! Microsoft Entra ID's SCIM dialect, in one place.
//!
//! Entra's provisioning service is the client scimd is built for. Where it sends something
//! RFC 7643/7644 does not define, or defines otherwise, the rule that accepts it is here, with
//! the Entra behaviour it serves; the generic code (`schema`, `patch`, `filter`) calls the rule
//! where it decides. Where Entra has two behaviours (its older dialect and the newer one an
//! admin gets with `?aadOptscim062020`), both are accepted.
//!
//! Entra behaviours that need no rule of their own, because the generic code already serves
//! them:
//! - PATCH paths such as `emails[type eq "work"].value`, `addresses[type eq "work"].country`
//!   and `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` are RFC 7644
//!   paths (a valuePath with a subAttr, a URN-qualified attrPath): `path` parses them.
//! - Extension data whose URN Entra left out of `schemas` (custom fields especially) is
//!   accepted: `schemas` is always rebuilt from the data.
//! - Member adds re-sent every cycle are a success, not a conflict
//!   ([`MemberChange::Add`](crate::scim::patch::MemberChange::Add)), and the older removal,
//!   `remove` `members` with a `value` list, removes only the listed members
//!   ([`MemberChange::Remove`](crate::scim::patch::MemberChange::Remove)).

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::patch::PatchOpKind;
use crate::scim::path::{parse_patch_path, AttrPath, PatchPath};
use crate::scim::schema::{AttrDef, AttrType, ResourceKind};

/// A URN some Entra versions put in a Group's `schemas` (the group POST of its ADSCIM
/// heritage); accepted there and dropped from the stored list.
pub const ENTRA_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// Whether `urn`, in the `schemas` of a `kind` body, is one of Entra's own URNs that scimd
/// accepts beside the core and extension URNs: [`ENTRA_GROUP_SCHEMA`] on a Group.
pub fn accepted_schema(kind: ResourceKind, urn: &str) -> bool {
    kind == ResourceKind::Group && urn.eq_ignore_ascii_case(ENTRA_GROUP_SCHEMA)
}

/// Whether the `op` of a PATCH operation names the operation `op_name` (lower-case): Entra's
/// older dialect capitalises op names (`"op":"Replace"`, `"Add"`, `"Remove"`), the newer
/// writes them in lower case, as RFC 7644 does. Any case is accepted.
pub fn op_name_is(given: &str, op_name: &str) -> bool {
    given.eq_ignore_ascii_case(op_name)
}

/// A boolean written as a string: Entra's older dialect deactivates with
/// `{"op":"Replace","path":"active","value":"False"}` and reactivates with `"True"` (the
/// `Switch([IsSoftDeleted], …)` mapping yields strings; `"false"` is seen too), and its POST
/// may carry `"active": "True"`. Any case of `true` / `false`; `None` for other text.
pub fn boolean_text(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An integer written as a string (surrounding spaces allowed): Entra's attribute mappings
/// often yield text (expression mappings such as `Join` or `Switch` return strings), so an
/// integer attribute (a custom field of type integer) may arrive as `"42"`.
pub fn integer_text(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

/// A decimal number written as a string (surrounding spaces allowed), as
/// [`integer_text`] for a decimal attribute; `None` when it is not a finite number.
pub fn decimal_text(s: &str) -> Option<Number> {
    s.trim().parse::<f64>().ok().and_then(Number::from_f64)
}

/// Whether a value unassigns its attribute although it is not null: Entra clears an
/// attribute it no longer has by replacing it with an empty string (`"value":""`, e.g.
/// the manager), where RFC 7643 §2.5 names only null and empty arrays.
pub fn unassigns(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.is_empty())
}

/// The complex value a bare string stands for, `{"value": id}`: Entra sets and changes the
/// manager with a bare id (`"path":"urn:…:enterprise:2.0:User:manager","value":"<id>"`, and
/// the same in a POST body) where the attribute is complex; GET must answer
/// `{"value": "<id>"}`, which Entra parses (a bare string makes it fail on the user). Applies
/// to complex attributes with a `value` sub-attribute.
pub fn bare_value(id: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("value".into(), Value::String(id));
    m
}

/// The attribute a key of a path-less `add`/`replace` value names: Entra's path-less replace
/// names attributes by their path, `{"op":"replace","value":{"displayName":"A B",
/// "name.givenName":"A","urn:…:CustomExtensionName:2.0:User:postalCode":"75001"}}`, dotted for
/// a sub-attribute and URN-qualified for an extension attribute (even with a value filter),
/// where RFC 7644 §3.5.2 expects attribute names whose values hold the sub-attributes.
pub fn path_less_key(key: &str) -> Result<PatchPath, ScimError> {
    parse_patch_path(key)
}

/// The sub-attribute that an unknown `key` of an `attribute` element stands for: Entra's
/// `AppRoleAssignmentsComplex` POST labels each of its `roles` with `displayName` where
/// RFC 7643 names it `display` (Microsoft's "Provisioning a role to a SCIM app" example), so
/// `roles.displayName` (and `entitlements.displayName`) is stored as `display`.
pub fn sub_attribute_alias(attribute: &str, key: &str) -> Option<&'static str> {
    let labelled = ["roles", "entitlements"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attribute));
    (labelled && key.eq_ignore_ascii_case("displayName")).then_some("display")
}

/// Whether an operation may put a value filter on a single-valued complex attribute, which
/// RFC 7644 defines for multi-valued ones only: Entra clears the manager with
/// `{"op":"remove","path":"urn:…:enterprise:2.0:User:manager[value eq \"<id>\"]"}`, so a
/// `remove` may (the value goes when it matches the filter); `add` and `replace` may not.
pub fn filter_on_single_value(op: PatchOpKind) -> bool {
    op == PatchOpKind::Remove
}

/// The value that an `add`/`replace` through a value filter creates when no value of the
/// multi-valued complex attribute `def` (named `label` in errors) matches, built from the
/// filter's `eq` clauses joined by `and`: `type eq "work"` gives `{"type": "work"}`, to which
/// the operation then adds its value. Entra's older dialect writes a work address as several
/// `add` ops on `addresses[type eq "work"].streetAddress`, `.locality`, `.postalCode`,
/// `.country`… on a user that may have no work address yet, which must build one merged work
/// address; and its mail mapping replaces `emails[type eq "work"].value` on a user without a
/// work email. RFC 7644 would answer noTarget, which is still the answer for a filter that
/// cannot describe a value (other operators, `or`, `not`).
pub fn value_from_filter(
    filter: &Filter,
    def: &AttrDef,
    label: &str,
) -> Result<Map<String, Value>, ScimError> {
    let no_target = || {
        ScimError::no_target(format!(
            "no value of \"{label}\" matches the filter, and only eq clauses joined by and can create one"
        ))
    };
    let mut obj = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Compare {
                attr,
                op: CompareOp::Eq,
                value,
            } if attr.urn.is_none() && attr.sub.is_none() => {
                let sd = def.sub(&attr.name).ok_or_else(no_target)?;
                let sub_label = format!("{label}.{}", sd.name);
                match sd.normalize(value.clone(), &sub_label)? {
                    // Keys are canonical sub-attribute names: a later clause on the same
                    // sub-attribute replaces the earlier one.
                    Some(v) => {
                        obj.insert(sd.name.clone(), v);
                    }
                    None => return Err(no_target()),
                }
            }
            _ => return Err(no_target()),
        }
    }
    Ok(obj)
}

/// A PATCH path's value filter with its booleans typed by the attribute `def`: Entra's
/// `SingleAppRoleAssignment` mapping targets `roles[primary eq "True"].value`, quoting the
/// boolean. Compared as text with the stored `true`, it matches no role, so every cycle's
/// PATCH would add a role (and demote the last one) instead of replacing it. A comparison of
/// a boolean sub-attribute with the text `"True"` / `"False"` (any case, as
/// [`boolean_text`]) compares with that boolean; any other filter is returned as it is.
/// (Filters of queries keep RFC 7644's typing: `active eq "true"` matches nothing.)
pub fn typed_path_filter<'f>(filter: &'f Filter, def: &AttrDef) -> Cow<'f, Filter> {
    if !has_boolean_text(filter, def) {
        return Cow::Borrowed(filter);
    }
    Cow::Owned(retyped(filter, def))
}

/// The boolean a comparison's text stands for, if its attribute is a boolean of `def`.
fn boolean_of(attr: &AttrPath, value: &Value, def: &AttrDef) -> Option<bool> {
    let text = value.as_str()?;
    if attr.urn.is_some() || attr.sub.is_some() {
        return None;
    }
    let sd = def.sub(&attr.name)?;
    (sd.attr_type == AttrType::Boolean)
        .then(|| boolean_text(text))
        .flatten()
}

fn has_boolean_text(filter: &Filter, def: &AttrDef) -> bool {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            has_boolean_text(a, def) || has_boolean_text(b, def)
        }
        Filter::Not(a) => has_boolean_text(a, def),
        Filter::Compare { attr, value, .. } => boolean_of(attr, value, def).is_some(),
        Filter::Present(_) | Filter::ValuePath { .. } => false,
    }
}

fn retyped(filter: &Filter, def: &AttrDef) -> Filter {
    match filter {
        Filter::And(a, b) => Filter::And(Box::new(retyped(a, def)), Box::new(retyped(b, def))),
        Filter::Or(a, b) => Filter::Or(Box::new(retyped(a, def)), Box::new(retyped(b, def))),
        Filter::Not(a) => Filter::Not(Box::new(retyped(a, def))),
        Filter::Compare { attr, op, value } => Filter::Compare {
            attr: attr.clone(),
            op: *op,
            value: boolean_of(attr, value, def).map_or_else(|| value.clone(), Value::Bool),
        },
        other => other.clone(),
    }
}

/// The filter that `attr[inner].sub op value` means: Entra matches users with
/// `emails[type eq "work"].value eq "alice@contoso.com"`, a comparison after a value path
/// that RFC 7644 §3.4.2.2 does not allow. It reads as `emails[type eq "work" and value eq
/// "…"]`: one element must satisfy both `inner` and `condition` (the comparison of `sub`).
pub fn value_path_comparison(inner: Box<Filter>, condition: Filter) -> Box<Filter> {
    Box::new(Filter::And(inner, Box::new(condition)))
}

/// Whether a `GET /Users` query string is Entra's Test Connection probe: a filter of one
/// attribute `eq` a random GUID (`userName eq "1c5ad3e1-…"`, or the matching attribute, mail,
/// with a GUID in it), which no real user's value is. Entra sends the same probe at the start
/// of each provisioning cycle and of each provision-on-demand.
pub fn is_test_connection_probe(query: &str) -> bool {
    // Decoded only when the text holds a GUID's 32 hex digits in a row (with its hyphens):
    // Entra's other filters (a mail, a userName) are not decoded for nothing.
    if !query.contains("filter=") || !holds_guid_digits(query) {
        return false;
    }
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
        return false;
    };
    pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .any(|(_, filter)| filter_is_guid_probe(filter))
}

/// Whether a run of hex digits and hyphens of `text` holds at least 32 hex digits.
fn holds_guid_digits(text: &str) -> bool {
    let mut digits = 0;
    for b in text.bytes() {
        match b {
            b'-' => {}
            b if b.is_ascii_hexdigit() => {
                digits += 1;
                if digits >= 32 {
                    return true;
                }
            }
            _ => digits = 0,
        }
    }
    false
}

fn filter_is_guid_probe(filter: &str) -> bool {
    let lower = filter.to_ascii_lowercase();
    // The last `eq`: the mail probe's attribute has a value filter of its own.
    let Some(at) = lower.rfind(" eq ") else {
        return false;
    };
    let (attribute, value) = (filter.get(..at), filter.get(at + 4..));
    let (Some(attribute), Some(value)) = (attribute, value) else {
        return false;
    };
    let attribute = attribute.trim();
    let value = value.trim();
    let lower_attribute = attribute.to_ascii_lowercase();
    !attribute.is_empty()
        && !lower_attribute.contains(" and ")
        && !lower_attribute.contains(" or ")
        && !attribute.starts_with('(')
        && value.len() > 2
        && value.starts_with('"')
        && value.ends_with('"')
        && value
            .get(1..value.len() - 1)
            .is_some_and(|guid| uuid::Uuid::try_parse(guid).is_ok())
}

#[cfg(test)]
mod probe_tests {
    use super::is_test_connection_probe;

    #[test]
    fn the_guid_filter_is_the_probe() {
        assert!(is_test_connection_probe(
            "filter=userName+eq+%2213b0c3f2-3d8a-4b4e-9c59-1bbd4e1a6d2f%22"
        ));
        assert!(is_test_connection_probe(
            "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%2213b0c3f2-3d8a-4b4e-9c59-1bbd4e1a6d2f%22"
        ));
        assert!(is_test_connection_probe(
            "startIndex=1&filter=externalId eq \"13b0c3f23d8a4b4e9c591bbd4e1a6d2f\""
        ));
        assert!(!is_test_connection_probe(
            "filter=userName+eq+%22ada%40contoso.com%22"
        ));
        assert!(!is_test_connection_probe("startIndex=1&count=100"));
        assert!(!is_test_connection_probe(
            "filter=active+eq+true+and+userName+eq+%2213b0c3f2-3d8a-4b4e-9c59-1bbd4e1a6d2f%22"
        ));
    }
}
