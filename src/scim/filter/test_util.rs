//! Helpers shared by the filter unit tests: AST builders, a sample User and shorthands that
//! parse or evaluate a filter.

use serde_json::{json, Value};

use super::{matches, parse, CompareOp, Filter};
use crate::scim::error::ScimType;
use crate::scim::path::AttrPath;

pub(super) const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

pub(super) fn attr(s: &str) -> AttrPath {
    AttrPath::parse(s).unwrap()
}
pub(super) fn cmp(a: &str, op: CompareOp, v: Value) -> Filter {
    Filter::Compare {
        attr: attr(a),
        op,
        value: v,
    }
}
pub(super) fn eq(a: &str, v: &str) -> Filter {
    cmp(a, CompareOp::Eq, json!(v))
}
pub(super) fn pr(a: &str) -> Filter {
    Filter::Present(attr(a))
}
pub(super) fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}
pub(super) fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}
pub(super) fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}
pub(super) fn vp(a: &str, f: Filter) -> Filter {
    Filter::ValuePath {
        attr: attr(a),
        filter: Box::new(f),
    }
}
pub(super) fn p(s: &str) -> Filter {
    parse(s).unwrap_or_else(|e| panic!("{s}: {}", e.detail))
}
pub(super) fn err(s: &str) -> String {
    let e = parse(s).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{s}");
    e.detail
}

pub(super) fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "nickName": "",
        "active": true,
        "loginCount": 42,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "mobile"}],
        "addresses": [{"type": "work", "country": "US", "locality": "Hollywood"}],
        "roles": ["admin", "user"],
        "x509Certificates": [],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z"},
        ENT: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

/// Evaluates with case-insensitive strings except `id` (as most SCIM schemas declare).
pub(super) fn m(filter: &str, resource: &Value) -> bool {
    let f = p(filter);
    matches(&f, resource, &|a: &AttrPath| a.is("id", None))
}

pub(super) fn eq_op(a: &str, op: CompareOp, v: &str) -> Filter {
    cmp(a, op, json!(v))
}
