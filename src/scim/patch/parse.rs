//! Parsing a PatchOp message (RFC 7644 §3.5.2): the body's `schemas` and `Operations`, each
//! operation's `op`, `path` and `value`, and the caps on their number.

use serde_json::{Map, Value};

use super::{approx_size, in_operation, too_costly, PatchOpKind, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::path::{parse_patch_path, AttrPath, PatchPath};
use crate::scim::schema::{
    quote_value, CUSTOM_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, PATCH_OP_SCHEMA,
};
use crate::scim::work::Work;

/// Bytes of a path that count as one unit of [`Work`] when parsed: a path is lexed, and each
/// of its filter's terms becomes nodes and strings, several times the cost per byte of
/// comparing strings.
const PATH_BYTES_PER_UNIT: usize = 8;

/// Most operations accepted in one PATCH request; Entra sends a handful.
pub const MAX_OPERATIONS: usize = 1000;

/// Parse a PatchOp request body (RFC 7644 §3.5.2).
///
/// `schemas` must contain [`PATCH_OP_SCHEMA`] (missing or malformed: invalidSyntax;
/// without the URN: invalidValue). `Operations` must be a non-empty array of at most
/// [`MAX_OPERATIONS`] objects with `op` (any case), optional `path` and `value`; any
/// other member of an operation is invalidSyntax (members beside `Operations` are ignored). `remove` needs a path (noTarget); `add`/`replace` need
/// a `value` (invalidValue), an object when there is no path.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    parse_patch_request_within(body, &Work::unlimited())
}

/// [`parse_patch_request`], counting the work of every operation (its path's bytes, its
/// value's size) against `work` before parsing any: past the budget, 400 `tooMany`
/// ([`too_costly`]) and nothing parsed. Parsing is linear in the request, but a request can
/// be a megabyte of value filters: the caller parses such a one where it may take the time.
pub fn parse_patch_request_within(
    body: &Value,
    work: &Work,
) -> Result<Vec<PatchOperation>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object (a PatchOp message)",
        ));
    };
    let mut schemas = None;
    let mut operations = None;
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            schemas = Some(v);
        } else if key.eq_ignore_ascii_case("Operations") {
            operations = Some(v);
        }
        // Other top-level members (Microsoft's validator sends the resource's `id`) carry
        // nothing a PatchOp means: only the Operations are applied.
    }
    let Some(schemas) = schemas.and_then(Value::as_array) else {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must be [\"{PATCH_OP_SCHEMA}\"]"
        )));
    };
    if !schemas.iter().any(|s| {
        s.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    }) {
        return Err(ScimError::invalid_value(format!(
            "schemas must contain \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let Some(ops) = operations else {
        return Err(ScimError::invalid_syntax(
            "Operations is required in a PatchOp message",
        ));
    };
    let Some(ops) = ops.as_array() else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations must be an array, got {}",
            quote_value(ops)
        )));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_value("Operations must not be empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "too many operations: {} (at most {MAX_OPERATIONS} per request)",
            ops.len()
        )));
    }
    for (i, op) in ops.iter().enumerate() {
        if !work.charge(parse_cost(op)) {
            return Err(too_costly(work, i, ops.len()));
        }
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op).map_err(|e| in_operation(i, ops.len(), e)))
        .collect()
}

/// The work of parsing one raw operation: its path's bytes, and a copy of its value.
fn parse_cost(raw: &Value) -> u64 {
    let Some(obj) = raw.as_object() else {
        return 1;
    };
    let path = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("path"))
        .and_then(|(_, v)| v.as_str())
        .map_or(0, str::len);
    let value = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("value"))
        .map_or(0, |(_, v)| approx_size(v));
    (1 + path / PATH_BYTES_PER_UNIT + value / 32) as u64
}

fn parse_operation(index: usize, raw: &Value) -> Result<PatchOperation, ScimError> {
    let at = format!("Operations[{index}]");
    let Some(obj) = raw.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "{at} must be an object with op, path and value, got {}",
            quote_value(raw)
        )));
    };
    let (mut op, mut path, mut value) = (None, None, None);
    for (key, v) in obj {
        let slot = if key.eq_ignore_ascii_case("op") {
            &mut op
        } else if key.eq_ignore_ascii_case("path") {
            &mut path
        } else if key.eq_ignore_ascii_case("value") {
            &mut value
        } else {
            return Err(ScimError::invalid_syntax(format!(
                "{at}: unknown member \"{key}\"; an operation has op, path and value"
            )));
        };
        if slot.replace(v).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "{at}: member \"{key}\" is given twice"
            )));
        }
    }
    let op = match op {
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "{at}: op is required (add, remove or replace)"
            )))
        }
        Some(Value::String(name)) => PatchOpKind::parse(name).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "{at}: unknown op \"{name}\"; expected add, remove or replace"
            ))
        })?,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "{at}: op must be a string (add, remove or replace), got {}",
                quote_value(other)
            )))
        }
    };
    let path = match path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s.trim())?),
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "{at}: path must be a string, got {}",
                quote_value(other)
            )))
        }
    };
    let mut value = value.cloned();
    let mut path = path;
    // `add`/`replace` on a whole extension object is a path-less op on `{urn: value}`.
    if op != PatchOpKind::Remove {
        if let Some(urn) = path.as_ref().and_then(whole_extension) {
            let mut wrapped = Map::new();
            wrapped.insert(urn.to_string(), value.take().unwrap_or(Value::Null));
            value = Some(Value::Object(wrapped));
            path = None;
        }
    }
    match (op, &path, &value) {
        (PatchOpKind::Remove, None, _) => Err(ScimError::no_target(format!(
            "{at}: remove requires a path"
        ))),
        (PatchOpKind::Add | PatchOpKind::Replace, _, None) => Err(ScimError::invalid_value(
            format!("{at}: {} requires a value", op.as_str()),
        )),
        (PatchOpKind::Add | PatchOpKind::Replace, None, Some(v)) if !v.is_object() => {
            Err(ScimError::invalid_value(format!(
                "{at}: {} without a path needs an object of attributes as value, got {}",
                op.as_str(),
                quote_value(v)
            )))
        }
        _ => Ok(PatchOperation { op, path, value }),
    }
}

/// A PATCH path; a bare known extension URN (not an RFC attrPath, but clients send it)
/// becomes an [`AttrPath`] with an empty name.
fn parse_path(s: &str) -> Result<PatchPath, ScimError> {
    let known = [ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA];
    if let Some(urn) = known.into_iter().find(|u| u.eq_ignore_ascii_case(s)) {
        let attr = AttrPath {
            urn: Some(urn.to_string()),
            name: String::new(),
            sub: None,
        };
        return Ok(PatchPath {
            attr,
            filter: None,
            sub_attr: None,
        });
    }
    parse_patch_path(s)
}

/// The URN of a path that names a whole extension object.
pub(super) fn whole_extension(path: &PatchPath) -> Option<&str> {
    if path.attr.name.is_empty() && path.filter.is_none() {
        path.attr.urn.as_deref()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::USER_SCHEMA;
    use serde_json::json;

    #[test]
    fn parses_entra_operations_in_both_dialects() {
        let ops = parse_patch_request(&body(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "REMOVE", "path": "title"},
            {"op": "replace", "value": {"displayName": "A B"}},
        ])))
        .expect("parses");
        let kinds: Vec<PatchOpKind> = ops.iter().map(|o| o.op).collect();
        assert_eq!(
            kinds,
            [
                PatchOpKind::Replace,
                PatchOpKind::Add,
                PatchOpKind::Remove,
                PatchOpKind::Replace
            ]
        );
        let p = ops[0].path.as_ref().expect("path");
        assert!(
            p.attr.is("emails", None)
                && p.filter.is_some()
                && p.sub_attr.as_deref() == Some("value")
        );
        let p = ops[1].path.as_ref().expect("path");
        assert_eq!(
            (p.attr.urn.as_deref(), p.attr.name.as_str()),
            (Some(ENT), "department")
        );
        assert_eq!(ops[2].value, None);
        assert!(ops[3].path.is_none());
    }

    #[test]
    fn parse_rejects_malformed_requests() {
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (json!([1]), ScimType::InvalidSyntax, "JSON object"),
            (
                json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                ScimType::InvalidSyntax,
                "schemas",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                ScimType::InvalidValue,
                PATCH_OP_SCHEMA,
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA]}),
                ScimType::InvalidSyntax,
                "Operations is required",
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {}}),
                ScimType::InvalidSyntax,
                "must be an array",
            ),
            (body(json!([])), ScimType::InvalidValue, "must not be empty"),
            (
                body(json!(["add"])),
                ScimType::InvalidSyntax,
                "Operations[0] must be an object",
            ),
            (
                body(json!([{"op": "move", "path": "title"}])),
                ScimType::InvalidSyntax,
                "unknown op \"move\"",
            ),
            (
                body(json!([{"op": 1, "path": "title"}])),
                ScimType::InvalidSyntax,
                "op must be a string",
            ),
            (
                body(json!([{"path": "title", "value": "x"}])),
                ScimType::InvalidSyntax,
                "op is required",
            ),
            (
                body(json!([{"op": "remove"}])),
                ScimType::NoTarget,
                "remove requires a path",
            ),
            (
                body(json!([{"op": "add", "path": "title"}])),
                ScimType::InvalidValue,
                "add requires a value",
            ),
            (
                body(json!([{"op": "replace"}])),
                ScimType::InvalidValue,
                "replace requires a value",
            ),
            (
                body(json!([{"op": "add", "value": "x"}])),
                ScimType::InvalidValue,
                "needs an object",
            ),
            (
                body(json!([{"op": "add", "path": 3, "value": "x"}])),
                ScimType::InvalidSyntax,
                "path must be a string",
            ),
            (
                body(json!([{"op": "add", "path": "title", "value": "x", "values": 1}])),
                ScimType::InvalidSyntax,
                "unknown member \"values\"",
            ),
        ];
        for (b, t, needle) in cases {
            let e = parse_patch_request(&b).expect_err("must fail");
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(t), "{b}: {}", e.detail);
            assert!(e.detail.contains(needle), "{b}: {}", e.detail);
        }
        let many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "remove", "path": "title"}))
            .collect();
        let e = parse_patch_request(&body(Value::Array(many))).expect_err("too many");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail.contains("too many operations: 1001"),
            "{}",
            e.detail
        );
        let max: Vec<Value> = (0..MAX_OPERATIONS)
            .map(|_| json!({"op": "remove", "path": "title"}))
            .collect();
        assert!(parse_patch_request(&body(Value::Array(max))).is_ok());
    }

    #[test]
    fn parse_keeps_explicit_null_apart_from_missing_value() {
        let ops = parse_patch_request(&body(json!([
            {"op": "remove", "path": "members", "value": null},
            {"op": "replace", "path": "title", "value": null},
        ])))
        .expect("parses");
        assert_eq!(ops[0].value, Some(Value::Null));
        assert_eq!(ops[1].value, Some(Value::Null));
    }
}
