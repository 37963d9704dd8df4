//! Filters checked against the schemas. The SCIM interop profile
//! (draft-zollner-scim-interop-profile) asks a service provider to refuse a filter that names an
//! attribute its resource type does not define (400 `invalidFilter`) rather than to answer "no
//! match": a client that misspells `userName` learns it at once instead of creating a duplicate.
//! The same holds for the value filter of a PATCH path (`emails[typ eq "work"].value`), refused
//! as any other unknown attribute of a PATCH (400 `invalidSyntax`).
//!
//! The lookups are those of the registry (the schemas are parsed once, at start): a filter costs a
//! few name comparisons per attribute it names.

use std::borrow::Cow;

use super::{AttrDef, AttrType, CustomField, ResourceKind, Schemas, CUSTOM_USER_SCHEMA};
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;

impl Schemas {
    /// Check that every attribute `filter` names is defined for `kind` (core, extension and, for
    /// Users, the tenant's `custom` fields; `meta` and `schemas`, common to all resources, too)
    /// and that the attributes inside a value filter are sub-attributes of the attribute
    /// filtered. A 400 `invalidFilter` naming the first unknown attribute otherwise.
    pub fn check_filter(
        &self,
        kind: ResourceKind,
        filter: &Filter,
        custom: &[CustomField],
    ) -> Result<(), ScimError> {
        match self.first_unknown(kind, filter, custom) {
            None => Ok(()),
            Some(label) => {
                let custom_hint = if kind == ResourceKind::User
                    && label
                        .to_ascii_lowercase()
                        .starts_with(&CUSTOM_USER_SCHEMA.to_ascii_lowercase())
                {
                    " (a custom attribute is there once defined with `scimd field add` or on the admin page)"
                } else {
                    ""
                };
                Err(ScimError::invalid_filter(format!(
                    "the filter names \"{label}\", which is not an attribute of a {kind}: filter on \
                     attributes that /Schemas lists for a {kind}{custom_hint}",
                    kind = kind.name()
                )))
            }
        }
    }

    /// The first attribute `filter` names that `kind` does not define, written as the client
    /// would (`name.nick`, `emails.typ` for a value filter's `emails[typ eq "work"]`).
    fn first_unknown(
        &self,
        kind: ResourceKind,
        filter: &Filter,
        custom: &[CustomField],
    ) -> Option<String> {
        // Depth-first, left to right, without recursion (depth is capped by the parser, but a
        // stack costs nothing).
        let mut stack = vec![filter];
        while let Some(f) = stack.pop() {
            match f {
                Filter::And(a, b) | Filter::Or(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Filter::Not(inner) => stack.push(inner),
                Filter::Compare { attr, .. } | Filter::Present(attr) => {
                    if !is_schemas(attr) && self.filter_attr(kind, attr, custom).is_none() {
                        return Some(attr.to_string());
                    }
                }
                Filter::ValuePath { attr, filter } => {
                    let Some(def) = self.filter_attr(kind, attr, custom) else {
                        return Some(attr.to_string());
                    };
                    if let Some(inner) = unknown_in_value_filter(&def, filter) {
                        return Some(format!("{attr}.{inner}"));
                    }
                }
            }
        }
        None
    }

    /// The definition of a filter's attribute path; `None` when `kind` does not define it.
    fn filter_attr<'a>(
        &'a self,
        kind: ResourceKind,
        attr: &AttrPath,
        custom: &[CustomField],
    ) -> Option<Cow<'a, AttrDef>> {
        let top = self.top_attr(kind, attr.urn.as_deref(), &attr.name, custom)?;
        match (&attr.sub, top.def) {
            (None, def) => Some(def),
            (Some(sub), Cow::Borrowed(def)) => def.sub(sub).map(Cow::Borrowed),
            (Some(sub), Cow::Owned(def)) => def.sub(sub).cloned().map(Cow::Owned),
        }
    }
}

/// The attribute `schemas`, common to all resources (RFC 7643 §3) and defined by no schema.
fn is_schemas(attr: &AttrPath) -> bool {
    attr.urn.is_none() && attr.sub.is_none() && attr.name.eq_ignore_ascii_case("schemas")
}

/// The first attribute that the value filter `filter` of the attribute `def` names and that is
/// not one of `def`'s sub-attributes (names inside a value filter are relative: `type` in
/// `emails[type eq "work"]`), written as the client wrote it.
pub fn unknown_in_value_filter<'f>(def: &AttrDef, filter: &'f Filter) -> Option<&'f AttrPath> {
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Not(inner) => stack.push(inner),
            Filter::Compare { attr, .. } | Filter::Present(attr) => {
                let known = def.attr_type == AttrType::Complex
                    && attr.urn.is_none()
                    && attr.sub.is_none()
                    && def.sub(&attr.name).is_some();
                if !known {
                    return Some(attr);
                }
            }
            // The parser allows no value path inside a value filter; were one there, its
            // attribute is no sub-attribute either.
            Filter::ValuePath { attr, .. } => return Some(attr),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::scim::error::{ScimError, ScimType};
    use crate::scim::filter::parse;

    fn check(kind: ResourceKind, filter: &str, custom: &[CustomField]) -> Result<(), ScimError> {
        schemas().check_filter(kind, &parse(filter).expect("parses"), custom)
    }

    #[test]
    fn filters_on_defined_attributes_pass() {
        let c = custom();
        for f in [
            "userName eq \"a\"",
            "USERNAME eq \"a\" and active eq true",
            "emails[type eq \"work\"].value eq \"a@b.c\"",
            "emails[type eq \"work\" and value co \"@\"]",
            "emails.value sw \"a\"",
            "name.givenName eq \"A\" or not (title pr)",
            "externalId eq \"x\" and id eq \"y\"",
            "meta.lastModified gt \"2024-01-01T00:00:00Z\"",
            "schemas eq \"urn:ietf:params:scim:schemas:core:2.0:User\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Sales\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode eq \"1\"",
            "addresses[type eq \"work\"].country eq \"FR\"",
        ] {
            assert_eq!(check(ResourceKind::User, f, &c), Ok(()), "{f}");
        }
        for f in [
            "displayName eq \"Sales\"",
            "members.value eq \"u\"",
            "members[value eq \"u\" or type eq \"User\"]",
            "externalId pr",
            "meta.created ge \"2024-01-01T00:00:00Z\"",
        ] {
            assert_eq!(check(ResourceKind::Group, f, &[]), Ok(()), "{f}");
        }
    }

    #[test]
    fn filters_on_unknown_attributes_are_invalid_filter_naming_them() {
        let c = custom();
        for (kind, f, named) in [
            (ResourceKind::User, "shoeSize eq 42", "shoeSize"),
            (
                ResourceKind::User,
                "userName eq \"a\" and nosuch pr",
                "nosuch",
            ),
            (ResourceKind::User, "not (userNam eq \"a\")", "userNam"),
            (ResourceKind::User, "name.nick eq \"a\"", "name.nick"),
            (ResourceKind::User, "emails[typ eq \"work\"]", "emails.typ"),
            (
                ResourceKind::User,
                "emails[type eq \"work\"].valu eq \"a\"",
                "emails.valu",
            ),
            (
                ResourceKind::User,
                "members.value eq \"u\"",
                "members.value",
            ),
            (
                ResourceKind::User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:floor eq \"3\"",
                "enterprise:2.0:User:floor",
            ),
            (
                ResourceKind::User,
                "urn:acme:2.0:User:badge eq \"x\"",
                "urn:acme:2.0:User:badge",
            ),
            (ResourceKind::User, "department eq \"Sales\"", "department"),
            (ResourceKind::Group, "userName eq \"a\"", "userName"),
            (
                ResourceKind::Group,
                "members[display eq \"a\" or foo pr]",
                "members.foo",
            ),
            (
                ResourceKind::Group,
                "displayName.x eq \"a\"",
                "displayName.x",
            ),
        ] {
            let e = check(kind, f, &c).expect_err(f);
            assert_eq!(
                (e.status.as_u16(), e.scim_type),
                (400, Some(ScimType::InvalidFilter)),
                "{f}"
            );
            assert!(e.detail.contains(named), "{f}: {}", e.detail);
            assert!(e.detail.contains("/Schemas lists"), "{f}: {}", e.detail);
        }
        // A custom attribute exists once the tenant defines it.
        let f = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode eq \"1\"";
        let e = check(ResourceKind::User, f, &[]).expect_err("undefined");
        assert!(e.detail.contains("scimd field add"), "{}", e.detail);
    }

    #[test]
    fn value_filters_of_patch_paths() {
        let s = schemas();
        let emails = s.user_schema().attr("emails").expect("emails");
        let name = s.user_schema().attr("userName").expect("userName");
        let f = parse("type eq \"work\" and (value co \"@\" or primary eq true)").expect("f");
        assert_eq!(unknown_in_value_filter(emails, &f), None);
        let f = parse("type eq \"work\" and not (kind eq \"x\")").expect("f");
        assert_eq!(
            unknown_in_value_filter(emails, &f).map(|a| a.to_string()),
            Some("kind".to_string())
        );
        let f = parse("value.x eq \"a\"").expect("f");
        assert!(unknown_in_value_filter(emails, &f).is_some());
        let f = parse("urn:x:value eq \"a\"").expect("f");
        assert!(unknown_in_value_filter(emails, &f).is_some());
        let f = parse("value eq \"a\"").expect("f");
        assert!(
            unknown_in_value_filter(name, &f).is_some(),
            "simple attribute"
        );
    }
}
