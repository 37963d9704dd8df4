//! Group membership operations: `members` of a PATCH become [`MemberChange`]s for the store
//! to apply as deltas (a group may have 100k members, never rewritten as JSON), with Entra's
//! forms of adding and removing members.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::apply::Patcher;
use super::{in_operation, PatchOpKind, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::schema::{unknown_in_value_filter, ResourceKind, Schemas, GROUP_SCHEMA};
use crate::scim::work::Work;

/// One member named by a request: its id and the `display` the client gave, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's id (a user or a group of the tenant).
    pub id: String,
    /// The client's label for the member, kept and returned as `members.display`.
    pub display: Option<String>,
}

impl MemberRef {
    /// A member without a display.
    pub fn new(id: impl Into<String>) -> MemberRef {
        MemberRef {
            id: id.into(),
            display: None,
        }
    }
    /// A member with a display.
    pub fn with_display(id: impl Into<String>, display: impl Into<String>) -> MemberRef {
        MemberRef {
            id: id.into(),
            display: Some(display.into()),
        }
    }
}

/// The members of a normalised `members` value (an array of `{"value", "display", …}`
/// objects), deduplicated by id in first-seen order; a later duplicate's `display`
/// wins when it has one. Elements without a string `value` are skipped.
pub fn member_refs(members: &Value) -> Vec<MemberRef> {
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut refs: Vec<MemberRef> = Vec::new();
    for item in members.as_array().into_iter().flatten() {
        let Some(id) = item.get("value").and_then(Value::as_str) else {
            continue;
        };
        let display = item
            .get("display")
            .and_then(Value::as_str)
            .map(str::to_string);
        match at.get(id).and_then(|&i| refs.get_mut(i)) {
            Some(existing) => {
                if display.is_some() {
                    existing.display = display;
                }
            }
            None => {
                at.insert(id, refs.len());
                refs.push(MemberRef {
                    id: id.to_string(),
                    display,
                });
            }
        }
    }
    refs
}

/// A group membership change, applied by the store as a delta (groups may have 100k
/// members, so they are never rewritten as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Add these members; ids already present are a success, not a conflict (a new
    /// `display` updates theirs).
    Add(Vec<MemberRef>),
    /// Remove only these member ids.
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Make the membership exactly these members.
    ReplaceAll(Vec<MemberRef>),
}

/// Members a PATCH adds and member ids it removes.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipDelta {
    pub add: Vec<MemberRef>,
    pub remove: Vec<String>,
}

/// The member ids a PATCH adds and removes when that is all it does (every operation has
/// the path `members` or `members[value eq "…"]`, and none removes or replaces the whole
/// list): such a PATCH needs neither the group's resource nor its member list. None
/// otherwise; the caller then applies the PATCH in full.
pub fn membership_only(
    ops: &[PatchOperation],
    schemas: &Schemas,
) -> Result<Option<MembershipDelta>, ScimError> {
    // Each step here is linear in the request (no stored values are visited), so the caps
    // on a request bound it.
    let work = Work::unlimited();
    let patcher = Patcher {
        schemas,
        kind: ResourceKind::Group,
        custom: &[],
        work: &work,
    };
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    // Ids seen, so that a request naming tens of thousands stays linear.
    let mut removing: HashSet<String> = HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        let Some(path) = op.path.as_ref().filter(|p| is_members(&p.attr)) else {
            return Ok(None);
        };
        match patcher
            .member_change(op, path)
            .map_err(|e| in_operation(i, ops.len(), e))?
        {
            Some(MemberChange::Add(refs)) => add.extend(refs),
            Some(MemberChange::Remove(ids)) => {
                for id in ids {
                    if removing.insert(id.clone()) {
                        remove.push(id);
                    }
                }
            }
            Some(MemberChange::RemoveAll | MemberChange::ReplaceAll(_)) => return Ok(None),
            None => {}
        }
    }
    // Adding and removing one member in one request: their order matters, the full path keeps it.
    if add.iter().any(|a| removing.contains(&a.id)) {
        return Ok(None);
    }
    Ok(Some(MembershipDelta { add, remove }))
}

/// `members` of a Group, with or without the core URN prefix.
pub(super) fn is_members(attr: &AttrPath) -> bool {
    attr.name.eq_ignore_ascii_case("members")
        && attr
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

impl Patcher<'_> {
    /// The membership change of an op on `members` of a Group.
    pub(super) fn member_change(
        &self,
        op: &PatchOperation,
        path: &PatchPath,
    ) -> Result<Option<MemberChange>, ScimError> {
        let unsupported = || {
            ScimError::invalid_path(format!(
                "unsupported {} on members: use add, remove or replace on \"members\", or remove on \
                 members[value eq \"<id>\"]",
                op.op.as_str()
            ))
        };
        // Sub-attributes and filter terms that members do not have are unknown attributes.
        if let Some(def) = self.schemas.group_schema().attr("members") {
            let unknown = path
                .attr
                .sub
                .iter()
                .chain(path.sub_attr.iter())
                .find(|s| def.sub(s).is_none())
                .cloned()
                .or_else(|| {
                    let filter = path.filter.as_ref()?;
                    unknown_in_value_filter(def, filter).map(|a| a.to_string())
                });
            if let Some(name) = unknown {
                return Err(ScimError::unknown_attribute(
                    def.unknown_sub_detail("members", &name),
                ));
            }
        }
        if path.attr.sub.is_some() || path.sub_attr.is_some() {
            return Err(unsupported());
        }
        if let Some(filter) = &path.filter {
            if op.op != PatchOpKind::Remove {
                return Err(unsupported());
            }
            let mut ids = Vec::new();
            collect_member_ids(filter, &mut ids, &mut HashSet::new())?;
            return Ok(Some(MemberChange::Remove(ids)));
        }
        let refs = match &op.value {
            None => None,
            Some(v) => Some(self.member_refs(v)?),
        };
        Ok(match (op.op, refs) {
            (PatchOpKind::Add, Some(refs)) if refs.is_empty() => None,
            (PatchOpKind::Add, Some(refs)) => Some(MemberChange::Add(refs)),
            (PatchOpKind::Replace, Some(refs)) => Some(MemberChange::ReplaceAll(refs)),
            // The older Entra removal lists the members to remove: only those go.
            (PatchOpKind::Remove, Some(refs)) if refs.is_empty() => None,
            (PatchOpKind::Remove, Some(refs)) => Some(MemberChange::Remove(
                refs.into_iter().map(|r| r.id).collect(),
            )),
            (PatchOpKind::Remove, None) => Some(MemberChange::RemoveAll),
            (_, None) => {
                return Err(ScimError::invalid_value(format!(
                    "{} of members requires a value",
                    op.op.as_str()
                )))
            }
        })
    }

    /// Members of a members value (`[{"value": id, "display": …}, …]`, a single object,
    /// null or ""), type-checked against the Group schema.
    fn member_refs(&self, value: &Value) -> Result<Vec<MemberRef>, ScimError> {
        let Some(top) = self
            .schemas
            .top_attr(ResourceKind::Group, None, "members", &[])
        else {
            return Err(ScimError::internal(
                "the Group schema has no members attribute",
            ));
        };
        let normalized = top.def.normalize(value.clone(), "members")?;
        Ok(normalized.as_ref().map(member_refs).unwrap_or_default())
    }
}

/// Ids of `value eq "id"` clauses joined by `or`, the only member filters a server that
/// does not load members can honour.
fn collect_member_ids<'f>(
    filter: &'f Filter,
    ids: &mut Vec<String>,
    seen: &mut HashSet<&'f str>,
) -> Result<(), ScimError> {
    match filter {
        Filter::Or(a, b) => {
            collect_member_ids(a, ids, seen)?;
            collect_member_ids(b, ids, seen)
        }
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if attr.is("value", None) && attr.urn.is_none() => {
            if seen.insert(id) {
                ids.push(id.clone());
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_path(
            "a members filter must be value eq \"<id>\" (optionally joined by or)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    #[test]
    fn group_member_changes() {
        let (g, ch) = patch_group(json!([
            {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}, {"value": "u1"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
            {"op": "remove", "path": "members[value eq \"u4\"]"},
            {"op": "Replace", "path": "displayName", "value": "New"},
        ]))
        .expect("ok");
        assert_eq!(
            ch,
            vec![
                MemberChange::Add(refs(&["u1", "u2"])),
                MemberChange::Remove(vec!["u3".into()]),
                MemberChange::Remove(vec!["u4".into()]),
            ]
        );
        assert_eq!(g["displayName"], json!("New"));
        assert!(g.get("members").is_none());
        assert_eq!(
            schemas()
                .validate_group(g)
                .map(|v| v["displayName"].clone()),
            Ok(json!("New"))
        );

        let (_, ch) = patch_group(json!([{"op": "remove", "path": "members"}])).expect("ok");
        assert_eq!(ch, vec![MemberChange::RemoveAll]);
        let (_, ch) =
            patch_group(json!([{"op": "remove", "path": "members", "value": []}])).expect("ok");
        assert_eq!(ch, vec![], "an empty list removes nobody");
        let (_, ch) =
            patch_group(json!([{"op": "remove", "path": "members", "value": null}])).expect("ok");
        assert_eq!(ch, vec![]);
        let (_, ch) = patch_group(json!([{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}])).expect("ok");
        assert_eq!(ch, vec![MemberChange::ReplaceAll(refs(&["a", "b"]))]);
        let (_, ch) =
            patch_group(json!([{"op": "replace", "path": "members", "value": []}])).expect("ok");
        assert_eq!(ch, vec![MemberChange::ReplaceAll(vec![])]);
        let (g, ch) = patch_group(
            json!([{"op": "add", "value": {"members": [{"value": "x"}], "externalId": "e2"}}]),
        )
        .expect("ok");
        assert_eq!(ch, vec![MemberChange::Add(refs(&["x"]))]);
        assert_eq!(g["externalId"], json!("e2"));
        let (_, ch) =
            patch_group(json!([{"op": "replace", "value": {"members": [{"value": "x"}]}}]))
                .expect("ok");
        assert_eq!(ch, vec![MemberChange::ReplaceAll(refs(&["x"]))]);
        let (_, ch) = patch_group(
            json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
        )
        .expect("ok");
        assert_eq!(ch, vec![MemberChange::Remove(vec!["a".into(), "b".into()])]);
        let (_, ch) = patch_group(json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": {"value": "s"}}])).expect("ok");
        assert_eq!(ch, vec![MemberChange::Add(refs(&["s"]))]);
        let (_, ch) =
            patch_group(json!([{"op": "add", "path": "members", "value": []}])).expect("ok");
        assert_eq!(ch, vec![]);
    }

    #[test]
    fn group_member_display_is_carried() {
        let (_, ch) = patch_group(json!([
            {"op": "add", "path": "members", "value": [
                {"value": "u1", "display": "Alice", "type": "User", "$ref": "https://x/Users/u1"},
                {"value": "u2"}
            ]},
            {"op": "replace", "path": "members", "value": [{"value": "u3", "display": "Carol"}]},
            {"op": "remove", "path": "members", "value": [{"value": "u1", "display": "Alice"}]},
            {"op": "add", "value": {"members": {"value": "u4", "display": "Dan"}}},
        ]))
        .expect("ok");
        assert_eq!(
            ch,
            vec![
                MemberChange::Add(vec![
                    MemberRef::with_display("u1", "Alice"),
                    MemberRef::new("u2")
                ]),
                MemberChange::ReplaceAll(vec![MemberRef::with_display("u3", "Carol")]),
                MemberChange::Remove(vec!["u1".into()]),
                MemberChange::Add(vec![MemberRef::with_display("u4", "Dan")]),
            ]
        );
        // A display must be a string.
        let e = patch_group(
            json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": 3}]}]),
        )
        .expect_err("type");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("members.display"), "{}", e.detail);
    }

    #[test]
    fn member_refs_dedupe_by_id_and_keep_the_last_display() {
        assert_eq!(
            member_refs(&json!([
                {"value": "a"},
                {"value": "b", "display": "B"},
                {"value": "a", "display": "A"},
                {"value": "b"},
                {"display": "no id"},
                {"value": 5},
                {"value": "a", "display": "A2"}
            ])),
            vec![
                MemberRef::with_display("a", "A2"),
                MemberRef::with_display("b", "B")
            ]
        );
        assert_eq!(member_refs(&Value::Null), vec![]);
        assert_eq!(member_refs(&json!({"value": "a"})), vec![]);
    }

    #[test]
    fn group_errors() {
        let e = patch_group(json!([{"op": "remove", "path": "members[type eq \"User\"]"}]))
            .expect_err("unsupported");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = patch_group(
            json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]),
        )
        .expect_err("unsupported");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e =
            patch_group(json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]))
                .expect_err("no value");
        assert_eq!(
            (e.scim_type, e.detail.as_str()),
            (
                Some(ScimType::InvalidValue),
                "\"members.value\" is required"
            )
        );
        let e = patch_group(json!([{"op": "add", "path": "members", "value": [{"value": 7}]}]))
            .expect_err("bad id");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e =
            patch_group(json!([{"op": "remove", "path": "displayName"}])).expect_err("required");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = patch_group(json!([{"op": "replace", "path": "userName", "value": "x"}]))
            .expect_err("unknown");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(
            e.detail,
            format!(
                "unknown attribute \"userName\" of {GROUP_SCHEMA}: leave it out (/Schemas lists \
                 the attributes of a Group)"
            )
        );
        for path in ["members[kind eq \"x\"]", "members.label"] {
            let e = patch_group(json!([{"op": "remove", "path": path}])).expect_err(path);
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{path}");
            assert!(
                e.detail.contains("sub-attributes of \"members\""),
                "{}",
                e.detail
            );
        }
        let e = patch_group(json!([{"op": "replace", "path": ENT, "value": {"department": "x"}}]))
            .expect_err("no extension");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = patch_group(json!([{"op": "replace", "path": "id", "value": "x"}]))
            .expect_err("readOnly");
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // All or nothing: a later failure discards member changes too.
        let e = patch_group(
            json!([{"op": "add", "path": "members", "value": [{"value": "u"}]}, {"op": "bogus"}]),
        )
        .expect_err("bad op");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }
}
