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
//!
//! The caps on a request (operations, filter size, values) leave room for PATCHes whose work
//! multiplies: a thousand operations, each testing a long value filter against each of a
//! thousand values. So applying counts its work against a [`Work`] budget given by the
//! caller ([`PATCH_WORK`] in full), and a PATCH past it is a 400 `tooMany`
//! ([`too_costly`]) with nothing changed.

use serde_json::Value;

use crate::scim::entra;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::PatchPath;
use crate::scim::work::Work;

mod apply;
mod members;
mod parse;
#[cfg(test)]
mod test_util;

pub use apply::{apply_group_patch, apply_user_patch};
pub use members::{member_refs, membership_only, MemberChange, MemberRef, MembershipDelta};
pub use parse::{parse_patch_request, parse_patch_request_within, MAX_OPERATIONS};

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

/// The work one PATCH may do, in [`Work`] units (about a filter comparison or a value visited
/// each): 2,000,000, some tenths of a second of CPU. Entra's and Okta's PATCHes spend tens to
/// a few thousand (the most a request can ask without repeating itself: replacing a thousand
/// values), so only requests that multiply filters by values by operations reach it.
pub const PATCH_WORK: u64 = 2_000_000;

/// The 400 `tooMany` of a PATCH whose work passed its budget during operation `index` of
/// `count` (the detail leaves the operation out when `count` is 0: not known yet).
pub fn too_costly(work: &Work, index: usize, count: usize) -> ScimError {
    let at = if count == 0 {
        String::new()
    } else {
        format!(" (it ran out at Operations[{index}] of {count})")
    };
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "the PATCH needs more work than one request may take: {} units, where each value \
             filter costs one per term for every value it is tested against{at}; nothing was \
             changed. Send fewer operations or simpler value filters (one value each, such as \
             emails[value eq \"…\"]), or split the changes over several PATCHes",
            work.limit()
        ),
    )
}

/// About how many bytes a JSON value holds: its strings and keys, and a few bytes for
/// anything else (what copying or serialising it costs, without doing either).
pub(crate) fn approx_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 8,
        Value::Array(items) => items.iter().map(approx_size).sum::<usize>() + 8,
        Value::Object(m) => {
            m.iter()
                .map(|(k, v)| k.len() + approx_size(v))
                .sum::<usize>()
                + 8
        }
        _ => 8,
    }
}

/// Name the operation an error comes from when there are several: in a request of up to
/// [`MAX_OPERATIONS`], which one failed is the first thing to fix.
fn in_operation(index: usize, count: usize, mut e: ScimError) -> ScimError {
    if count > 1 && !e.detail.starts_with("Operations[") {
        e.detail = format!("Operations[{index}]: {}", e.detail);
    }
    e
}
