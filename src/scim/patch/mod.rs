//! SCIM PATCH (RFC 7644 §3.5.2) applied to a stored User or Group, with Entra's
//! dialect accepted through the rules of [`crate::scim::entra`]: capitalised op names,
//! `"True"`/`"False"` strings, bare manager ids, `""` meaning "remove", URN-qualified and
//! dotted keys in path-less values, several `add` ops on `addresses[type eq "work"].x`
//! building one address, and the manager removed through a value filter.
//!
//! Operations run in order on a clone of the resource; the result is returned only when
//! every operation succeeded, and the caller re-validates it with
//! [`Schemas::validate_user`](crate::scim::schema::Schemas::validate_user) /
//! [`Schemas::validate_group`](crate::scim::schema::Schemas::validate_group). Group membership is not
//! applied to JSON: it comes back as [`MemberChange`]s for the store to apply.
//!
//! This file holds the normalised operation every part shares ([`PatchOperation`]); the rest
//! is one concern a file:
//!
//! - `parse.rs`: the PatchOp body and its operations, with the caps;
//! - `apply.rs`: operations applied to a User's or a Group's JSON, all or nothing;
//! - `members.rs`: operations on a Group's `members`, as [`MemberChange`]s.

use serde_json::Value;

use crate::scim::entra;
use crate::scim::error::ScimError;
use crate::scim::path::PatchPath;

mod apply;
mod members;
mod parse;
#[cfg(test)]
mod test_util;

pub use apply::{apply_group_patch, apply_user_patch};
pub use members::{member_refs, membership_only, MemberChange, MemberRef, MembershipDelta};
pub use parse::{parse_patch_request, MAX_OPERATIONS};

/// The three PATCH operations of RFC 7644 §3.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    /// Parse an op name, case-insensitively (Entra sends `Add` and `add`:
    /// [`entra::op_name_is`]).
    pub fn parse(s: &str) -> Option<PatchOpKind> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|k| entra::op_name_is(s, k.as_str()))
    }
    /// The lower-case op name.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

/// One normalised PATCH operation.
///
/// `value` is `None` when the request had no `value` member and `Some(Value::Null)`
/// when it had an explicit `null`: the difference matters for `remove` on `members`.
/// A path that is a bare extension URN (`urn:…:enterprise:2.0:User`) is kept as an
/// [`AttrPath`](crate::scim::path::AttrPath) with that `urn` and an empty `name`: the whole extension object.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// add, remove or replace.
    pub op: PatchOpKind,
    /// Target; `None` only for add/replace, whose value then names the attributes.
    pub path: Option<PatchPath>,
    /// The `value` member as sent (`Some(Value::Null)` for an explicit null).
    pub value: Option<Value>,
}

/// Name the operation an error comes from when there are several: in a request of up to
/// [`MAX_OPERATIONS`], which one failed is the first thing to fix.
fn in_operation(index: usize, count: usize, mut e: ScimError) -> ScimError {
    if count > 1 && !e.detail.starts_with("Operations[") {
        e.detail = format!("Operations[{index}]: {}", e.detail);
    }
    e
}
