//! Attribute paths (RFC 7644 §3.10) and PATCH paths (RFC 7644 §3.5.2).
//!
//! ```text
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! subAttr   = "." ATTRNAME
//! PATH      = attrPath / valuePath [subAttr]
//! valuePath = attrPath "[" valFilter "]"
//! ```
//!
//! SCIM attribute names and schema URNs are case-insensitive, so every comparison and every
//! lookup in a resource here ignores ASCII case.

use std::fmt;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::filter::Filter;

/// The prefix shared by all core schema URNs (`…:core:2.0:User`, `…:core:2.0:Group`, …).
/// Attributes qualified with a core URN live at the top level of a resource.
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// `attrPath = [URI ":"] ATTRNAME *1subAttr`. `urn` is the schema URN prefix if given, e.g.
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` for
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix as written, if any (core or extension).
    pub urn: Option<String>,
    /// The attribute name as written (compare ignoring case).
    pub name: String,
    /// The sub-attribute name after `.`, if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path to a top-level core attribute, without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// Parses `[URI ":"] ATTRNAME ["." ATTRNAME]`; answers `invalidPath` with the reason otherwise.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        parse_attr_path(s).map_err(|reason| {
            ScimError::invalid_path(format!(
                "invalid attribute path \"{}\": {reason}",
                snippet(s)
            ))
        })
    }

    /// Whether this path names the core (or unqualified) attribute `name` with sub-attribute `sub`,
    /// ignoring case. A path qualified with an extension URN never matches: use [`AttrPath::is_in`]
    /// for extension attributes, so that a custom extension's `members` is not taken for a Group's.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.extension().is_none() && self.names_match(name, sub)
    }

    /// Like [`AttrPath::is`], for an attribute of the schema `urn` (`None` = core). A core URN
    /// given here or in the path is equivalent to no URN.
    pub fn is_in(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        let wanted = urn.filter(|u| !is_core_urn(u));
        let same_schema = match (self.extension(), wanted) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        same_schema && self.names_match(name, sub)
    }

    /// The extension schema URN this attribute belongs to, or `None` for core attributes
    /// (unqualified or qualified with a core URN): the key of the resource's extension object.
    pub fn extension(&self) -> Option<&str> {
        self.urn.as_deref().filter(|u| !is_core_urn(u))
    }

    /// The JSON object that holds this attribute: the resource itself for core attributes, the
    /// extension object for extension attributes (`None` if the resource has none).
    pub fn container<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        match self.extension() {
            Some(urn) => get_ci(resource, urn),
            None => Some(resource),
        }
    }

    fn names_match(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (self.sub.as_deref(), sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    /// Renders the path as a client would write it, e.g. `urn:…:User:manager.value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A PATCH path: an attrPath, or a valuePath with optional trailing subAttr, e.g.
/// `emails[type eq "work"].value`, `members[value eq "id"]`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute the operation targets (before any `[`).
    pub attr: AttrPath,
    /// The value filter between `[` and `]`; its attribute names are relative to `attr`.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, e.g. `value` in `emails[type eq "work"].value`.
    pub sub_attr: Option<String>,
}

/// Parses a PATCH operation's `path`; answers `invalidPath` saying what is wrong and where.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    crate::scim::filter::parse_patch(s)
}

/// Splits a possibly URN-qualified attribute key into `(urn, attribute)`:
/// `urn:…:enterprise:2.0:User:department` → `(Some("urn:…:enterprise:2.0:User"), "department")`;
/// `name.givenName` → `(None, "name.givenName")`.
///
/// The attribute is the final `:`-separated segment (it may hold a `.` for a sub-attribute), so
/// any extension URN works, not just the known ones. A bare schema URN — one whose final segment
/// follows a version segment such as `2.0`, e.g. `urn:…:enterprise:2.0:User` — names no attribute
/// and comes back whole with an empty attribute: `(Some(s), "")`. Meant for plain keys: a path with
/// a `[filter]` must go through [`parse_patch_path`].
pub fn split_urn(s: &str) -> (Option<&str>, &str) {
    let is_urn = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        return (None, s);
    }
    let Some(idx) = s.rfind(':') else {
        return (None, s);
    };
    let urn = s.get(..idx).unwrap_or_default();
    let attr = s.get(idx + 1..).unwrap_or_default();
    let before_last = urn.rsplit(':').next().unwrap_or_default();
    if is_version(before_last) {
        return (Some(s), "");
    }
    (Some(urn), attr)
}

/// Whether `urn` is a core schema URN, whose attributes are top-level in a resource.
pub fn is_core_urn(urn: &str) -> bool {
    urn.get(..CORE_URN_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX))
}

/// Whether `s` is a bare schema URN such as
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (as opposed to an attribute
/// qualified with one).
pub fn is_schema_urn(s: &str) -> bool {
    matches!(split_urn(s), (Some(_), ""))
}

/// `obj[key]` with the key compared ignoring ASCII case, as SCIM attribute names and URNs are
/// case-insensitive; the exact spelling is tried first because it is the common case.
pub fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The actual spelling of `key` in `obj`, ignoring ASCII case (to mutate or remove it).
pub fn key_ci(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Mutable `obj[key]`, ignoring ASCII case.
pub fn get_ci_mut<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let actual = key_ci(map, key)?;
    map.get_mut(&actual)
}

/// Parses an attrPath, answering the reason it is invalid (the caller adds context and picks the
/// error type: invalidPath for paths, invalidFilter inside filters).
pub(crate) fn parse_attr_path(s: &str) -> Result<AttrPath, String> {
    if s.is_empty() {
        return Err("the attribute name is empty".into());
    }
    let (urn, rest) = split_urn(s);
    if let Some(urn) = urn {
        check_urn(urn)?;
        if rest.is_empty() {
            return Err(format!(
                "\"{}\" is a schema URN, not an attribute: add \":\" and an attribute name",
                snippet(urn)
            ));
        }
    }
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    check_name(name)?;
    if let Some(sub) = sub {
        if sub.contains('.') {
            return Err("only one level of sub-attribute is allowed (name.subName)".into());
        }
        check_name(sub)?;
    }
    Ok(AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`; `$ref` is also
/// accepted because RFC 7643 defines it as a sub-attribute of references (`members.$ref`).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let body = name.strip_prefix('$').unwrap_or(name);
    let mut chars = body.chars();
    match chars.next() {
        None => return Err("an attribute name is empty".into()),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err(format!(
                "attribute name \"{}\" must start with a letter",
                snippet(name)
            ))
        }
        Some(_) => {}
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!(
            "attribute name \"{}\" contains '{}'; only letters, digits, '-' and '_' are allowed",
            snippet(name),
            bad.escape_default()
        ));
    }
    Ok(())
}

fn check_urn(urn: &str) -> Result<(), String> {
    if urn.split(':').any(str::is_empty) {
        return Err(format!(
            "schema URN \"{}\" has an empty segment",
            snippet(urn)
        ));
    }
    if let Some(bad) = urn
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "schema URN \"{}\" contains '{}'",
            snippet(urn),
            bad.escape_default()
        ));
    }
    Ok(())
}

/// A schema version segment such as `2.0` or `1`.
fn is_version(seg: &str) -> bool {
    seg.starts_with(|c: char| c.is_ascii_digit())
        && seg.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Client input quoted in an error detail, cut short so a 16 KiB value cannot bloat the response.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::filter::{CompareOp, Filter};
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(Into::into),
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn eq(name: &str, v: &str) -> Filter {
        Filter::Compare {
            attr: AttrPath::new(name),
            op: CompareOp::Eq,
            value: json!(v),
        }
    }

    #[test]
    fn attr_path_simple() {
        assert_eq!(
            AttrPath::parse("userName").unwrap(),
            ap(None, "userName", None)
        );
    }

    #[test]
    fn attr_path_sub_attribute() {
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            ap(None, "name", Some("givenName"))
        );
    }

    #[test]
    fn attr_path_ref_sub_attribute() {
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap(),
            ap(None, "members", Some("$ref"))
        );
    }

    #[test]
    fn attr_path_enterprise_urn() {
        let p = AttrPath::parse(&format!("{ENT}:department")).unwrap();
        assert_eq!(p, ap(Some(ENT), "department", None));
        assert_eq!(p.extension(), Some(ENT));
    }

    #[test]
    fn attr_path_enterprise_urn_with_sub() {
        let p = AttrPath::parse(&format!("{ENT}:manager.value")).unwrap();
        assert_eq!(p, ap(Some(ENT), "manager", Some("value")));
    }

    #[test]
    fn attr_path_core_urn_is_core() {
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!(p.extension(), None);
        assert!(p.is("username", None));
    }

    #[test]
    fn attr_path_errors_are_invalid_path() {
        for bad in [
            "",
            "1abc",
            "a.b.c",
            "na me",
            "name.",
            ".name",
            "em@il",
            ENT,
            "urn::x",
            "urn:a b:c",
            "emails[type eq \"work\"]",
        ] {
            let e = AttrPath::parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
            assert_eq!(e.status, 400);
            assert!(
                e.detail.starts_with("invalid attribute path"),
                "{}",
                e.detail
            );
        }
    }

    #[test]
    fn attr_path_error_detail_explains() {
        let e = AttrPath::parse("a.b.c").unwrap_err();
        assert!(
            e.detail.contains("one level of sub-attribute"),
            "{}",
            e.detail
        );
        let e = AttrPath::parse(ENT).unwrap_err();
        assert!(
            e.detail.contains("schema URN, not an attribute"),
            "{}",
            e.detail
        );
        let e = AttrPath::parse("9lives").unwrap_err();
        assert!(
            e.detail.contains("must start with a letter"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn is_ignores_case_and_checks_sub() {
        let p = ap(None, "name", Some("givenName"));
        assert!(p.is("NAME", Some("GIVENNAME")));
        assert!(!p.is("name", None));
        assert!(!p.is("name", Some("familyName")));
        assert!(!ap(None, "name", None).is("name", Some("givenName")));
    }

    #[test]
    fn is_rejects_extension_attributes_and_is_in_accepts_them() {
        let p = ap(Some(ENT), "department", None);
        assert!(!p.is("department", None));
        assert!(p.is_in(Some(&ENT.to_ascii_lowercase()), "Department", None));
        assert!(!p.is_in(Some(CUSTOM), "department", None));
        assert!(!p.is_in(None, "department", None));
        let core = ap(None, "userName", None);
        assert!(core.is_in(
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            "userName",
            None
        ));
        assert!(core.is_in(None, "username", None));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "userName",
            "name.givenName",
            &format!("{ENT}:manager.value"),
        ] {
            assert_eq!(AttrPath::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn split_urn_known_and_custom_schemas() {
        assert_eq!(
            split_urn(&format!("{ENT}:department")),
            (Some(ENT), "department")
        );
        assert_eq!(
            split_urn(&format!("{CUSTOM}:postalCode")),
            (Some(CUSTOM), "postalCode")
        );
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"),
            (
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name.givenName"
            )
        );
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:core:2.0:Group:displayName"),
            (
                Some("urn:ietf:params:scim:schemas:core:2.0:Group"),
                "displayName"
            )
        );
        assert_eq!(
            split_urn("URN:x:y:2.0:User:a"),
            (Some("URN:x:y:2.0:User"), "a")
        );
    }

    #[test]
    fn split_urn_plain_names() {
        assert_eq!(split_urn("userName"), (None, "userName"));
        assert_eq!(split_urn("name.givenName"), (None, "name.givenName"));
        assert_eq!(split_urn(""), (None, ""));
        assert_eq!(split_urn("ur"), (None, "ur"));
        assert_eq!(split_urn("urnish:a"), (None, "urnish:a"));
    }

    #[test]
    fn split_urn_bare_schema() {
        assert_eq!(split_urn(ENT), (Some(ENT), ""));
        assert!(is_schema_urn(CUSTOM));
        assert!(!is_schema_urn(&format!("{CUSTOM}:postalCode")));
        assert!(!is_schema_urn("userName"));
    }

    #[test]
    fn core_urn_detection() {
        assert!(is_core_urn("urn:ietf:params:scim:schemas:core:2.0:User"));
        assert!(is_core_urn("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:Group"));
        assert!(!is_core_urn(ENT));
        assert!(!is_core_urn("urn"));
    }

    #[test]
    fn case_insensitive_lookup() {
        let v = json!({"userName": "a", "Emails": [1]});
        assert_eq!(get_ci(&v, "USERNAME"), Some(&json!("a")));
        assert_eq!(get_ci(&v, "emails"), Some(&json!([1])));
        assert_eq!(get_ci(&v, "nope"), None);
        assert_eq!(get_ci(&json!([1]), "x"), None);
        let mut m = v.clone();
        *get_ci_mut(&mut m, "username").unwrap() = json!("b");
        assert_eq!(m["userName"], json!("b"));
    }

    #[test]
    fn container_for_core_and_extension() {
        let user = json!({"userName": "a", ENT: {"department": "Sales"}});
        assert_eq!(ap(None, "userName", None).container(&user), Some(&user));
        let dept = ap(Some(&ENT.to_uppercase()), "department", None);
        assert_eq!(dept.container(&user), Some(&user[ENT]));
        assert_eq!(ap(Some(CUSTOM), "x", None).container(&user), None);
    }

    // PATCH paths as Entra ID sends them.

    #[test]
    fn patch_emails_work_value() {
        let p = parse_patch_path("emails[type eq \"work\"].value").unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.filter, Some(eq("type", "work")));
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
    }

    #[test]
    fn patch_addresses_work_country() {
        let p = parse_patch_path("addresses[type eq \"work\"].country").unwrap();
        assert_eq!(p.attr, AttrPath::new("addresses"));
        assert_eq!(p.filter, Some(eq("type", "work")));
        assert_eq!(p.sub_attr.as_deref(), Some("country"));
    }

    #[test]
    fn patch_phone_mobile_value() {
        let p = parse_patch_path("phoneNumbers[type eq \"mobile\"].value").unwrap();
        assert_eq!(p.attr, AttrPath::new("phoneNumbers"));
        assert_eq!(p.filter, Some(eq("type", "mobile")));
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
    }

    #[test]
    fn patch_name_family_name() {
        let p = parse_patch_path("name.familyName").unwrap();
        assert_eq!(
            p,
            PatchPath {
                attr: ap(None, "name", Some("familyName")),
                filter: None,
                sub_attr: None
            }
        );
    }

    #[test]
    fn patch_members_value_filter() {
        let p = parse_patch_path("members[value eq \"2819c223\"]").unwrap();
        assert_eq!(p.attr, AttrPath::new("members"));
        assert_eq!(p.filter, Some(eq("value", "2819c223")));
        assert_eq!(p.sub_attr, None);
    }

    #[test]
    fn patch_enterprise_department() {
        let p = parse_patch_path(&format!("{ENT}:department")).unwrap();
        assert_eq!(p.attr, ap(Some(ENT), "department", None));
        assert_eq!(p.filter, None);
    }

    #[test]
    fn patch_custom_extension_postal_code() {
        let p = parse_patch_path(&format!("{CUSTOM}:postalCode")).unwrap();
        assert_eq!(p.attr, ap(Some(CUSTOM), "postalCode", None));
    }

    #[test]
    fn patch_enterprise_manager_with_filter_is_tolerated() {
        let p = parse_patch_path(&format!("{ENT}:manager[value eq \"x\"]")).unwrap();
        assert_eq!(p.attr, ap(Some(ENT), "manager", None));
        assert_eq!(p.filter, Some(eq("value", "x")));
    }

    #[test]
    fn patch_complex_value_filter() {
        let p = parse_patch_path("emails[type eq \"work\" and not (primary eq false)]").unwrap();
        let Some(Filter::And(_, right)) = p.filter else {
            panic!("expected and")
        };
        assert!(matches!(*right, Filter::Not(_)));
    }

    #[test]
    fn patch_filter_strings_may_hold_brackets_and_colons() {
        let p = parse_patch_path("members[value eq \"a]b:c[\"]").unwrap();
        assert_eq!(p.filter, Some(eq("value", "a]b:c[")));
    }

    #[test]
    fn patch_path_errors() {
        let cases = [
            ("", "empty"),
            ("emails[type eq \"work\"", "expected ']'"),
            ("emails[type eq \"work\"].", "expected a sub-attribute name"),
            ("emails[type eq \"work\"].value.x", "one level"),
            ("emails[type eq]", "expected a value"),
            ("emails[type eq \"work\"] extra", "after the path"),
            ("emails[type[value eq 1] eq 1]", "nested"),
            ("emails[]", "expected an attribute name"),
            ("name.givenName[value eq 1]", "sub-attribute"),
            ("[type eq \"work\"]", "expected an attribute name"),
            (ENT, "schema URN"),
        ];
        for (path, want) in cases {
            let e = parse_patch_path(path).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{path}");
            assert!(e.detail.contains(want), "{path}: {}", e.detail);
        }
    }

    #[test]
    fn patch_path_error_has_position() {
        let e = parse_patch_path("emails[type eq \"work\"] extra").unwrap_err();
        assert!(
            e.detail.starts_with("invalid path at position 23:"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn snippet_cuts_long_input() {
        let long = "a".repeat(1000);
        assert_eq!(snippet(&long).chars().count(), 65);
        assert_eq!(snippet("short"), "short");
    }
}
