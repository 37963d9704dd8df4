//! Operations applied, in order and all or nothing, to a stored User's or Group's JSON: whole
//! attributes, sub-attributes, value filters, extension objects and path-less values, with
//! RFC 7644's rules for multi-valued attributes and `primary`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::members::is_members;
use super::parse::whole_extension;
use super::{approx_size, in_operation, too_costly, MemberChange, PatchOpKind, PatchOperation};
use crate::scim::entra;
use crate::scim::error::ScimError;
use crate::scim::filter::{matches_within, Filter};
use crate::scim::path::{key_ci, parse_patch_path, AttrPath, PatchPath};
use crate::scim::schema::{
    quote_value, type_error, unknown_in_value_filter, AttrDef, AttrType, CustomField, Mutability,
    ResourceKind, Schemas, TopAttr, MAX_VALUES,
};
use crate::scim::work::Work;

/// Apply operations, in order, to a stored User. All or nothing: the work happens on
/// a clone, returned only when every operation succeeded; the caller re-validates it
/// with [`Schemas::validate_user`]. The work is counted against `work`: past it the PATCH
/// is a 400 `tooMany` ([`too_costly`]) and nothing is returned.
pub fn apply_user_patch(
    resource: &Value,
    ops: &[PatchOperation],
    schemas: &Schemas,
    custom: &[CustomField],
    work: &Work,
) -> Result<Value, ScimError> {
    let patcher = Patcher {
        schemas,
        kind: ResourceKind::User,
        custom,
        work,
    };
    let mut doc = resource_object(resource)?;
    for (i, op) in ops.iter().enumerate() {
        patcher
            .apply(&mut doc, op)
            .and_then(|()| patcher.within_budget())
            .map_err(|e| patcher.op_error(i, ops.len(), e))?;
    }
    patcher.sync_schemas(&mut doc);
    Ok(Value::Object(doc))
}

/// Apply operations, in order, to a stored Group (without members). Operations on
/// `members` become [`MemberChange`]s, in request order; the rest apply to the JSON.
/// All or nothing and within `work`, as [`apply_user_patch`].
pub fn apply_group_patch(
    resource: &Value,
    ops: &[PatchOperation],
    schemas: &Schemas,
    work: &Work,
) -> Result<(Value, Vec<MemberChange>), ScimError> {
    let patcher = Patcher {
        schemas,
        kind: ResourceKind::Group,
        custom: &[],
        work,
    };
    let mut doc = resource_object(resource)?;
    let mut changes = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let mut apply_one = || -> Result<(), ScimError> {
            match &op.path {
                Some(path) if is_members(&path.attr) => {
                    changes.extend(patcher.member_change(op, path)?)
                }
                None => {
                    // A path-less value may mix members with other attributes.
                    let Some(Value::Object(attrs)) = &op.value else {
                        return Err(ScimError::invalid_value(format!(
                            "{} without a path needs an object of attributes as value",
                            op.op.as_str()
                        )));
                    };
                    let mut rest = Map::new();
                    for (key, v) in attrs {
                        match entra::path_less_key(key) {
                            Ok(path) if is_members(&path.attr) => {
                                let member_op = PatchOperation {
                                    op: op.op,
                                    path: Some(path.clone()),
                                    value: Some(v.clone()),
                                };
                                changes.extend(patcher.member_change(&member_op, &path)?);
                            }
                            _ => {
                                rest.insert(key.clone(), v.clone());
                            }
                        }
                    }
                    let rest_op = PatchOperation {
                        op: op.op,
                        path: None,
                        value: Some(Value::Object(rest)),
                    };
                    patcher.apply(&mut doc, &rest_op)?;
                }
                Some(_) => patcher.apply(&mut doc, op)?,
            }
            Ok(())
        };
        apply_one()
            .and_then(|()| patcher.within_budget())
            .map_err(|e| patcher.op_error(i, ops.len(), e))?;
    }
    patcher.sync_schemas(&mut doc);
    Ok((Value::Object(doc), changes))
}

fn resource_object(resource: &Value) -> Result<Map<String, Value>, ScimError> {
    match resource {
        Value::Object(m) => Ok(m.clone()),
        // Stored resources are always objects; refuse rather than invent one.
        _ => Err(ScimError::internal("stored resource is not a JSON object")),
    }
}

/// The resolved target of a path: the top-level attribute and its label.
struct Target<'a> {
    top: TopAttr<'a>,
    label: String,
}

impl Target<'_> {
    fn def(&self) -> &AttrDef {
        &self.top.def
    }
    fn name(&self) -> &str {
        &self.top.def.name
    }
    /// A sub-attribute definition, or invalidPath naming `label.sub`.
    fn sub(&self, sub: &str) -> Result<&AttrDef, ScimError> {
        let def = self.def();
        let sd = def.sub(sub).ok_or_else(|| {
            ScimError::unknown_attribute(def.unknown_sub_detail(&self.label, sub))
        })?;
        if sd.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!(
                "attribute \"{}.{}\" is readOnly and cannot be changed",
                self.label, sd.name
            )));
        }
        Ok(sd)
    }
}

/// Applies operations for one kind of resource.
pub(super) struct Patcher<'a> {
    pub(super) schemas: &'a Schemas,
    pub(super) kind: ResourceKind,
    pub(super) custom: &'a [CustomField],
    /// What the request may spend; every step that grows with the stored values or with the
    /// request's filters is counted.
    pub(super) work: &'a Work,
}

impl<'a> Patcher<'a> {
    /// An error (the budget's placeholder) once the work is past its budget: the operation
    /// stops there, and [`Patcher::op_error`] words the answer.
    pub(super) fn within_budget(&self) -> Result<(), ScimError> {
        if self.work.is_spent() {
            return Err(too_costly(self.work, 0, 0));
        }
        Ok(())
    }

    /// The answer for operation `index` of `count` failing with `e`: the budget's `tooMany`
    /// when the work ran out there (whatever error the cut-short step produced), else `e`
    /// naming the operation.
    pub(super) fn op_error(&self, index: usize, count: usize, e: ScimError) -> ScimError {
        if self.work.is_spent() {
            return too_costly(self.work, index, count);
        }
        in_operation(index, count, e)
    }

    fn apply(&self, doc: &mut Map<String, Value>, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            None => {
                let Some(Value::Object(attrs)) = &op.value else {
                    return Err(if op.op == PatchOpKind::Remove {
                        ScimError::no_target("remove requires a path")
                    } else {
                        ScimError::invalid_value(format!(
                            "{} without a path needs an object of attributes as value",
                            op.op.as_str()
                        ))
                    });
                };
                for (key, v) in attrs {
                    self.apply_key(doc, op.op, key, v)?;
                }
                Ok(())
            }
            Some(path) => self.apply_path(doc, op.op, path, op.value.as_ref()),
        }
    }

    /// One member of a path-less add/replace value: an attribute name (maybe dotted or
    /// URN-qualified) or a whole extension object keyed by its URN.
    fn apply_key(
        &self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        key: &str,
        value: &Value,
    ) -> Result<(), ScimError> {
        // `schemas` follows the data and `meta` is the server's: clients echo both.
        if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
            return Ok(());
        }
        if let Some(urn) = self.kind.extension_urn(key) {
            return match value {
                v if v.is_null() || entra::unassigns(v) => {
                    remove_key(doc, urn);
                    Ok(())
                }
                Value::Object(attrs) => {
                    for (name, v) in attrs {
                        // Clients serialise extension objects with their own `schemas`.
                        if name.eq_ignore_ascii_case("schemas") {
                            continue;
                        }
                        let mut path = parse_patch_path(name)?;
                        path.attr.urn = Some(urn.to_string());
                        self.apply_path(doc, op, &path, Some(v))?;
                    }
                    Ok(())
                }
                other => Err(ScimError::invalid_value(format!(
                    "{urn} must be an object of attributes, got {}",
                    quote_value(other)
                ))),
            };
        }
        // Keys may be dotted, URN-qualified or even carry a value filter.
        let path = entra::path_less_key(key)?;
        let target = self.resolve(&path.attr)?;
        if target.def().mutability == Mutability::ReadOnly {
            // Clients echo whole resources: the current id and the server-computed
            // groups are harmless. A different id is an attempt to change it (the stored
            // form may lack the id, which the caller holds: then nothing to compare).
            let current = get_ci(doc, target.name());
            if target.name() == "id" && current.is_some_and(|c| c != value) {
                return Err(ScimError::mutability(
                    "attribute \"id\" is readOnly and cannot be changed",
                ));
            }
            return Ok(());
        }
        self.apply_path(doc, op, &path, Some(value))
    }

    /// Find the definition of a path's top-level attribute, or invalidSyntax naming it (the
    /// interop profile's answer to an attribute the resource type does not define).
    fn resolve(&self, attr: &AttrPath) -> Result<Target<'a>, ScimError> {
        let urn = attr.urn.as_deref();
        let Some(top) = self
            .schemas
            .top_attr(self.kind, urn, &attr.name, self.custom)
        else {
            return Err(ScimError::unknown_attribute(
                self.schemas
                    .unknown_attr_detail(self.kind, urn, &attr.name, None),
            ));
        };
        let label = top.label();
        Ok(Target { top, label })
    }

    fn apply_path(
        &self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        spend(self.work, 1)?;
        if let Some(urn) = whole_extension(path) {
            let Some(urn) = self.kind.extension_urn(urn) else {
                return Err(ScimError::unknown_attribute(
                    self.schemas
                        .unknown_attr_detail(self.kind, Some(urn), "", None),
                ));
            };
            return match op {
                PatchOpKind::Remove => {
                    remove_key(doc, urn);
                    Ok(())
                }
                _ => self.apply_key(doc, op, urn, value.unwrap_or(&Value::Null)),
            };
        }
        let target = self.resolve(&path.attr)?;
        if target.def().mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!(
                "attribute \"{}\" is readOnly and cannot be changed",
                target.label
            )));
        }
        if let Some(inner) = path
            .filter
            .as_ref()
            .filter(|_| target.def().attr_type == AttrType::Complex)
            .and_then(|f| unknown_in_value_filter(target.def(), f))
        {
            return Err(ScimError::unknown_attribute(
                target
                    .def()
                    .unknown_sub_detail(&target.label, &inner.to_string()),
            ));
        }
        if path.filter.is_some() && path.attr.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "invalid path: a value filter applies to \"{}\", not to a sub-attribute",
                target.label
            )));
        }
        let sub = path.attr.sub.as_deref().or(path.sub_attr.as_deref());
        let sub = sub.map(|s| target.sub(s)).transpose()?;
        // The value to write: none for remove (its value, if any, lists what to remove).
        let write = match (op, value) {
            (PatchOpKind::Remove, _) => None,
            (_, Some(v)) => Some(v),
            (_, None) => {
                return Err(ScimError::invalid_value(format!(
                    "{} of \"{}\" requires a value",
                    op.as_str(),
                    target.label
                )))
            }
        };
        let Some(container) = container_mut(doc, target.top.ext, write.is_some()) else {
            return Ok(()); // removing from an extension the resource does not have
        };
        let work = self.work;
        match (&path.filter, sub, write) {
            (Some(filter), sub, write) => {
                apply_filtered(container, op, &target, filter, sub, write, work)
            }
            (None, Some(sd), None) => remove_sub(container, &target, sd, work),
            (None, Some(sd), Some(v)) => set_sub(container, &target, sd, v, work),
            (None, None, None) => remove_attr(container, &target, value, work),
            (None, None, Some(v)) => set_attr(container, op, &target, v, work),
        }
    }

    /// Keep `schemas` in step with the data: the core URN and the extensions present.
    fn sync_schemas(&self, doc: &mut Map<String, Value>) {
        let mut schemas = vec![Value::String(self.kind.core_schema().to_string())];
        for urn in self.kind.extensions() {
            let present = get_ci(doc, urn)
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty());
            if present {
                schemas.push(Value::String((*urn).to_string()));
            } else {
                remove_key(doc, urn);
            }
        }
        remove_key(doc, "schemas");
        doc.insert("schemas".into(), Value::Array(schemas));
    }
}

/// Count `units` of `work`; the budget's error (worded by [`Patcher::op_error`]) once it is
/// spent, so the step stops before doing what it was charged for.
fn spend(work: &Work, units: usize) -> Result<(), ScimError> {
    if work.charge(u64::try_from(units).unwrap_or(u64::MAX)) {
        return Ok(());
    }
    Err(too_costly(work, 0, 0))
}

/// Count a step over `bytes` of strings ([`Work::charge_bytes`]), as [`spend`].
fn spend_bytes(work: &Work, bytes: usize) -> Result<(), ScimError> {
    if work.charge_bytes(bytes) {
        return Ok(());
    }
    Err(too_costly(work, 0, 0))
}

/// Writing a value into `times` stored values copies it each time: the bytes that costs,
/// counted before it is done (a long value written into a thousand values is megabytes).
fn spend_copies(work: &Work, value: &Value, times: usize) -> Result<(), ScimError> {
    spend_bytes(work, approx_size(value).saturating_mul(times))?;
    spend(work, times)
}

/// The object holding a target's attribute: the resource itself, or its extension
/// object (created when `create`).
fn container_mut<'d>(
    doc: &'d mut Map<String, Value>,
    ext: Option<&str>,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    let Some(ext) = ext else { return Some(doc) };
    let key = match key_ci(doc, ext) {
        Some(k) if doc.get(&k).is_some_and(Value::is_object) => k,
        _ if !create => return None,
        _ => {
            put(doc, ext, Value::Object(Map::new()));
            ext.to_string()
        }
    };
    doc.get_mut(&key).and_then(Value::as_object_mut)
}

/// The value under `name`, matched case-insensitively.
fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    key_ci(map, name).and_then(|k| map.get(&k))
}

/// Remove every key equal to `name` case-insensitively; returns the last value.
fn remove_key(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let mut last = None;
    while let Some(k) = key_ci(map, name) {
        last = map.remove(&k);
    }
    last
}

/// Set `name` to `value`, replacing any differently-spelt key.
fn put(map: &mut Map<String, Value>, name: &str, value: Value) {
    remove_key(map, name);
    map.insert(name.to_string(), value);
}

/// The elements of a multi-valued attribute (a stray single value counts as one).
fn take_items(container: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match remove_key(container, name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
    }
}

/// Store the elements back, or remove the attribute when none is left.
fn put_items(container: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    if items.is_empty() {
        remove_key(container, name);
    } else {
        put(container, name, Value::Array(items));
    }
}

/// RFC 7644 §3.5.2: setting `primary` true on values makes every other value's
/// `primary` false. `chosen` are the indices just written.
fn demote_other_primaries(items: &mut [Value], chosen: &[usize]) {
    let is_primary = |v: &Value| v.get("primary").and_then(Value::as_bool) == Some(true);
    if !chosen.iter().any(|&i| items.get(i).is_some_and(is_primary)) {
        return;
    }
    let chosen: HashSet<usize> = chosen.iter().copied().collect();
    for (i, item) in items.iter_mut().enumerate() {
        if !chosen.contains(&i) && is_primary(item) {
            if let Some(obj) = item.as_object_mut() {
                obj.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// add/replace of a whole attribute (no filter, no sub-attribute).
fn set_attr(
    container: &mut Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    value: &Value,
    work: &Work,
) -> Result<(), ScimError> {
    let def = target.def();
    let name = target.name();
    if def.multi_valued {
        if op == PatchOpKind::Add && value.as_array().is_some_and(Vec::is_empty) {
            return Ok(()); // adding nothing
        }
        let Some(Value::Array(new)) = def.normalize(value.clone(), &target.label)? else {
            remove_key(container, name); // null or "": unassign
            return Ok(());
        };
        let (mut items, chosen) = match op {
            PatchOpKind::Add => {
                let mut items = take_items(container, name);
                // Index by canonical JSON text so appending stays linear (a later equal value
                // wins, as the stored order has it).
                let mut index: HashMap<String, usize> = HashMap::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    let text = v.to_string();
                    spend_bytes(work, text.len())?;
                    index.insert(text, i);
                }
                let mut chosen = Vec::new();
                for v in new {
                    let next = items.len();
                    let text = v.to_string();
                    spend_bytes(work, text.len())?;
                    let at = *index.entry(text).or_insert(next);
                    if at == next {
                        items.push(v);
                    }
                    chosen.push(at);
                }
                if items.len() > MAX_VALUES {
                    return Err(ScimError::invalid_value(format!(
                        "attribute \"{}\" would have {} values; at most {MAX_VALUES} are accepted",
                        target.label,
                        items.len()
                    )));
                }
                (items, chosen)
            }
            _ => {
                spend(work, new.len())?;
                let chosen = (0..new.len()).collect();
                (new, chosen)
            }
        };
        demote_other_primaries(&mut items, &chosen);
        put_items(container, name, items);
        return Ok(());
    }
    if def.attr_type == AttrType::Complex {
        return merge_complex(container, target, value);
    }
    match def.normalize(value.clone(), &target.label)? {
        Some(v) => put(container, name, v),
        None => {
            if def.required {
                return Err(required_error(target));
            }
            remove_key(container, name);
        }
    }
    Ok(())
}

fn required_error(target: &Target) -> ScimError {
    ScimError::invalid_value(format!(
        "{} is required and cannot be removed",
        target.label
    ))
}

/// RFC 7644 §3.5.2.1/§3.5.2.3 on a single complex attribute: the sub-attributes given
/// replace or add; the others stay. A bare string sets `value` (Entra's manager id);
/// `""` or null unassigns the attribute.
fn merge_complex(
    container: &mut Map<String, Value>,
    target: &Target,
    value: &Value,
) -> Result<(), ScimError> {
    let Some(incoming) = complex_input(target, value)? else {
        remove_key(container, target.name());
        return Ok(());
    };
    let mut obj = match get_ci(container, target.name()) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    merge_into(&mut obj, target, &incoming, true)?;
    store_complex(container, target, obj);
    Ok(())
}

/// The object a complex value stands for: `None` for null or `""` (unassign), a bare
/// string as `{"value": …}` where the attribute has one (Entra's manager id), and a
/// one-element array as its element (some clients wrap filtered values).
fn complex_input(target: &Target, value: &Value) -> Result<Option<Map<String, Value>>, ScimError> {
    match value {
        v if v.is_null() || entra::unassigns(v) => Ok(None),
        Value::String(s) if target.def().has_value_sub() => Ok(Some(entra::bare_value(s.clone()))),
        Value::Object(m) => Ok(Some(m.clone())),
        Value::Array(items) if items.len() == 1 => match items.first() {
            Some(only) => complex_input(target, only),
            None => Ok(None),
        },
        other => Err(type_error(
            &target.label,
            "a complex value (a JSON object)",
            other,
        )),
    }
}

/// Set each sub-attribute of `incoming` on `obj` (unknown ones are invalidValue,
/// readOnly ones are the server's and skipped). `reset_on_new_value`: see
/// [`set_in_object`].
fn merge_into(
    obj: &mut Map<String, Value>,
    target: &Target,
    incoming: &Map<String, Value>,
    reset_on_new_value: bool,
) -> Result<(), ScimError> {
    // A new `value` resets the object before anything is set, so that the other
    // sub-attributes given with it (e.g. the manager's `$ref`) stay whatever their order.
    let value_entry = incoming
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("value"));
    if let (true, Some((key, v)), Some(sd)) =
        (reset_on_new_value, value_entry, target.def().sub("value"))
    {
        let new = sd.normalize(v.clone(), &format!("{}.{key}", target.label))?;
        if get_ci(obj, "value").is_some_and(|old| Some(old) != new.as_ref()) {
            obj.clear();
        }
    }
    for (key, v) in incoming {
        let Some(sd) = target.def().sub(key) else {
            return Err(ScimError::unknown_attribute(
                target.def().unknown_sub_detail(&target.label, key),
            ));
        };
        if sd.mutability == Mutability::ReadOnly {
            continue; // e.g. manager.displayName
        }
        set_in_object(obj, sd, v, &target.label, false)?;
    }
    Ok(())
}

/// Set (or, for an unassigned value, remove) one sub-attribute of a complex value.
/// With `reset_on_new_value` (a single reference-like value: the manager), a new
/// `value` drops the other sub-attributes: they described the previous referent.
fn set_in_object(
    obj: &mut Map<String, Value>,
    sd: &AttrDef,
    value: &Value,
    label: &str,
    reset_on_new_value: bool,
) -> Result<(), ScimError> {
    let sub_label = format!("{label}.{}", sd.name);
    match sd.normalize(value.clone(), &sub_label)? {
        Some(v) => {
            if reset_on_new_value
                && sd.name == "value"
                && get_ci(obj, "value").is_some_and(|old| *old != v)
            {
                obj.clear();
            }
            put(obj, &sd.name, v);
        }
        None => {
            remove_key(obj, &sd.name);
        }
    }
    Ok(())
}

/// Store a single complex value, or remove it when it is empty or lost its `value`.
fn store_complex(container: &mut Map<String, Value>, target: &Target, obj: Map<String, Value>) {
    let useless =
        obj.is_empty() || (target.def().has_value_sub() && get_ci(&obj, "value").is_none());
    if useless {
        remove_key(container, target.name());
    } else {
        put(container, target.name(), Value::Object(obj));
    }
}

/// add/replace of `attr.sub` without a filter. On a multi-valued attribute it sets the
/// sub-attribute of every value (creating one value when there is none).
fn set_sub(
    container: &mut Map<String, Value>,
    target: &Target,
    sd: &AttrDef,
    value: &Value,
    work: &Work,
) -> Result<(), ScimError> {
    if !target.def().multi_valued {
        let obj = match get_ci(container, target.name()) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let mut obj = obj;
        set_in_object(&mut obj, sd, value, &target.label, true)?;
        store_complex(container, target, obj);
        return Ok(());
    }
    let mut items = take_items(container, target.name());
    if items.is_empty() {
        items.push(Value::Object(Map::new()));
    }
    spend_copies(work, value, items.len())?;
    for item in &mut items {
        if let Value::Object(obj) = item {
            set_in_object(obj, sd, value, &target.label, false)?;
        }
    }
    items.retain(|v| v.as_object().is_none_or(|m| !m.is_empty()));
    put_items(container, target.name(), items);
    Ok(())
}

/// remove of a whole attribute. With a value on a multi-valued attribute only the
/// listed values go (RFC 7644 §3.5.2.2 and Entra's older member/value removal).
fn remove_attr(
    container: &mut Map<String, Value>,
    target: &Target,
    value: Option<&Value>,
    work: &Work,
) -> Result<(), ScimError> {
    let def = target.def();
    let listed = match value {
        Some(v) if def.multi_valued && !v.is_null() => v,
        _ => {
            if def.required {
                return Err(required_error(target));
            }
            remove_key(container, target.name());
            return Ok(());
        }
    };
    let listed: Vec<Listed> = match listed {
        Value::Array(xs) => xs.iter().map(|l| Listed::of(def, l)).collect(),
        single => vec![Listed::of(def, single)],
    };
    // Every stored value is compared with every listed one.
    let mut items = Vec::new();
    for item in take_items(container, target.name()) {
        spend(work, listed.len())?;
        if !listed.iter().any(|l| value_matches(def, &item, l, work)) {
            items.push(item);
        }
    }
    if items.is_empty() && def.required {
        return Err(required_error(target));
    }
    put_items(container, target.name(), items);
    Ok(())
}

/// A value a remove lists, in the form it is compared in (made once, not once per stored
/// value): a simple value as it is; a complex one as its object (a bare string is its
/// `value`), `None` when it can match nothing.
enum Listed<'v> {
    Simple(&'v Value),
    Complex(Option<Cow<'v, Map<String, Value>>>),
}

impl<'v> Listed<'v> {
    fn of(def: &AttrDef, listed: &'v Value) -> Listed<'v> {
        if def.attr_type != AttrType::Complex {
            return Listed::Simple(listed);
        }
        Listed::Complex(match listed {
            Value::Object(m) => Some(Cow::Borrowed(m)),
            Value::String(s) => Some(Cow::Owned(entra::bare_value(s.clone()))),
            _ => None,
        })
    }
}

/// Whether a stored value is the one a remove lists: for complex values, equal `value`
/// when the listed object has one, else every listed sub-attribute equal; for simple
/// values, equality (strings case-insensitively unless caseExact). Each comparison counts
/// against `work`.
fn value_matches(def: &AttrDef, item: &Value, listed: &Listed, work: &Work) -> bool {
    // The pair itself is counted by the caller; a long string compared costs more.
    let same = |sd: Option<&AttrDef>, a: &Value, b: &Value| {
        if let (Value::String(x), Value::String(y)) = (a, b) {
            if x.len() == y.len() {
                work.charge_length(x.len());
            }
        }
        match (a, b) {
            (Value::String(x), Value::String(y)) if !sd.is_some_and(|d| d.case_exact) => {
                x.eq_ignore_ascii_case(y)
            }
            (Value::Bool(x), Value::String(y)) | (Value::String(y), Value::Bool(x)) => {
                entra::boolean_text(y) == Some(*x)
            }
            _ => a == b,
        }
    };
    let listed = match listed {
        Listed::Simple(v) => return same(Some(def), item, v),
        Listed::Complex(None) => return false,
        Listed::Complex(Some(m)) => m,
    };
    let Some(item) = item.as_object() else {
        return false;
    };
    let keys: Vec<&String> =
        if let Some(k) = listed.keys().find(|k| k.eq_ignore_ascii_case("value")) {
            vec![k]
        } else {
            listed.keys().collect()
        };
    !keys.is_empty()
        && keys
            .iter()
            .all(|k| match (get_ci(item, k), listed.get(*k)) {
                (Some(a), Some(b)) => same(def.sub(k), a, b),
                _ => false,
            })
}

/// remove of `attr.sub` without a filter (from every value of a multi-valued attribute).
fn remove_sub(
    container: &mut Map<String, Value>,
    target: &Target,
    sd: &AttrDef,
    work: &Work,
) -> Result<(), ScimError> {
    if !target.def().multi_valued {
        if let Some(Value::Object(obj)) = get_ci(container, target.name()) {
            let mut obj = obj.clone();
            remove_key(&mut obj, &sd.name);
            store_complex(container, target, obj);
        }
        return Ok(());
    }
    let mut items = take_items(container, target.name());
    spend(work, items.len())?;
    for item in &mut items {
        if let Value::Object(obj) = item {
            remove_key(obj, &sd.name);
        }
    }
    items.retain(|v| v.as_object().is_none_or(|m| !m.is_empty()));
    put_items(container, target.name(), items);
    Ok(())
}

/// Operations on `attr[filter]` and `attr[filter].sub`.
///
/// add/replace with a sub-attribute set it on every matching value; when none matches,
/// one value is created from the filter's `eq` clauses ([`entra::value_from_filter`]: RFC 7644
/// says noTarget, but Entra builds a work address with several such adds). Without a
/// sub-attribute, replace swaps the matching values for the given one and add merges
/// into them. remove drops matching values (or their sub-attribute); no match is fine.
fn apply_filtered(
    container: &mut Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    filter: &Filter,
    sub: Option<&AttrDef>,
    write: Option<&Value>,
    work: &Work,
) -> Result<(), ScimError> {
    let def = target.def();
    if def.attr_type != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "a value filter needs a multi-valued complex attribute; \"{}\" is {}",
            target.label,
            def.attr_type.as_str()
        )));
    }
    let case_exact = |p: &AttrPath| def.sub(&p.name).is_some_and(|d| d.case_exact);
    let filter = entra::typed_path_filter(filter, def);
    let filter = filter.as_ref();
    if !def.multi_valued {
        // Only remove makes sense on a single complex value: Entra clears the manager
        // with remove manager[value eq "<id>"].
        if !entra::filter_on_single_value(op) {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is single-valued: a value filter only applies to multi-valued attributes",
                target.label
            )));
        }
        if let Some(current) = get_ci(container, target.name()) {
            let hit = matches_within(filter, current, &case_exact, work);
            spend(work, 1)?;
            if hit {
                match sub {
                    Some(sd) => remove_sub(container, target, sd, work)?,
                    None => {
                        remove_key(container, target.name());
                    }
                }
            }
        }
        return Ok(());
    }
    // The filter is tested against every value: the costly part of a PATCH, counted term by
    // term, stopping as soon as the budget is spent.
    let mut items = take_items(container, target.name());
    let mut hits: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let hit = matches_within(filter, item, &case_exact, work);
        spend(work, 1)?;
        if hit {
            hits.push(i);
        }
    }
    if let Some(v) = write {
        // Written into each value it matched (or one new value).
        spend_copies(work, v, hits.len().max(1))?;
    }
    // Indices of the values this op wrote, for the primary rule; empty for removals.
    let mut chosen = Vec::new();
    match (sub, write) {
        (Some(sd), None) => {
            for &i in &hits {
                if let Some(Value::Object(obj)) = items.get_mut(i) {
                    remove_key(obj, &sd.name);
                }
            }
        }
        (None, None) => drop_indices(&mut items, &hits),
        (Some(sd), Some(v)) => {
            if hits.is_empty() {
                let sub_label = format!("{}.{}", target.label, sd.name);
                if sd.normalize(v.clone(), &sub_label)?.is_some() {
                    let mut obj = entra::value_from_filter(filter, def, &target.label)?;
                    set_in_object(&mut obj, sd, v, &target.label, false)?;
                    chosen.push(items.len());
                    items.push(Value::Object(obj));
                }
            } else {
                for &i in &hits {
                    if let Some(Value::Object(obj)) = items.get_mut(i) {
                        set_in_object(obj, sd, v, &target.label, false)?;
                    }
                }
                chosen = hits;
            }
        }
        (None, Some(v)) => match complex_input(target, v)? {
            None => drop_indices(&mut items, &hits), // null or "": unassign the matching values
            Some(incoming) if hits.is_empty() => {
                let mut obj = entra::value_from_filter(filter, def, &target.label)?;
                merge_into(&mut obj, target, &incoming, false)?;
                chosen.push(items.len());
                items.push(Value::Object(obj));
            }
            Some(incoming) => {
                for &i in &hits {
                    if let Some(item) = items.get_mut(i) {
                        // replace swaps the value; add merges into it.
                        let mut obj = match (op, item.as_object()) {
                            (PatchOpKind::Add, Some(m)) => m.clone(),
                            _ => Map::new(),
                        };
                        merge_into(&mut obj, target, &incoming, false)?;
                        *item = Value::Object(obj);
                    }
                }
                chosen = hits;
            }
        },
    }
    demote_other_primaries(&mut items, &chosen);
    items.retain(|v| v.as_object().is_none_or(|m| !m.is_empty()));
    put_items(container, target.name(), items);
    Ok(())
}

/// Remove the values at `indices` (ascending, as the filter found them), in one pass.
fn drop_indices(items: &mut Vec<Value>, indices: &[usize]) {
    let mut next = indices.iter().peekable();
    let mut i = 0;
    items.retain(|_| {
        let drop = next.next_if(|&&at| at == i).is_some();
        i += 1;
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::patch::{parse_patch_request, PATCH_WORK};
    use crate::scim::schema::{GROUP_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    // ---- Entra's user operations ------------------------------------------------

    #[test]
    fn entra_replace_work_email() {
        let out = ok(
            &stored_user(),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"primary": true, "type": "work", "value": "new@contoso.com"}])
        );
        // Type matching in the filter is case-insensitive (caseExact false).
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "emails[type eq \"WORK\"].value", "value": "x@y"}]),
        );
        assert_eq!(out["emails"][0]["value"], json!("x@y"));
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn entra_replace_family_name_and_title() {
        let out = ok(
            &stored_user(),
            json!([
                {"op": "Replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Replace", "path": "title", "value": "Lead"},
            ]),
        );
        assert_eq!(
            out["name"],
            json!({"formatted": "Alice Martin", "familyName": "Smith", "givenName": "Alice"})
        );
        assert_eq!(out["title"], json!("Lead"));
        // Creating the parent complex attribute.
        let mut u = stored_user();
        u.as_object_mut().map(|m| m.remove("name"));
        let out = ok(
            &u,
            json!([{"op": "Add", "path": "name.givenName", "value": "Al"}]),
        );
        assert_eq!(out["name"], json!({"givenName": "Al"}));
    }

    #[test]
    fn entra_enterprise_department_and_manager() {
        let mut u = stored_user();
        if let Some(m) = u.as_object_mut() {
            m.remove(ENT);
        }
        u["schemas"] = json!([USER_SCHEMA]);
        let out = ok(
            &u,
            json!([
                {"op": "Add", "path": format!("{ENT}:department"), "value": "Sales"},
                {"op": "Add", "path": format!("{ENT}:manager"), "value": "m-7"},
            ]),
        );
        assert_eq!(
            out[ENT],
            json!({"department": "Sales", "manager": {"value": "m-7"}})
        );
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
        // Changing the manager id drops sub-attributes describing the old manager.
        let mut u = stored_user();
        u[ENT]["manager"] = json!({"value": "m-1", "$ref": "../Users/m-1"});
        let out = ok(
            &u,
            json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": "m-2"}]),
        );
        assert_eq!(out[ENT]["manager"], json!({"value": "m-2"}));
        let out = ok(
            &u,
            json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m-3"}]),
        );
        assert_eq!(out[ENT]["manager"], json!({"value": "m-3"}));
        let out = ok(
            &u,
            json!([{"op": "add", "path": format!("{ENT}:manager"), "value": {"value": "m-1", "$ref": "x"}}]),
        );
        assert_eq!(out[ENT]["manager"], json!({"value": "m-1", "$ref": "x"}));
        // A new id given with its $ref keeps that $ref ("$ref" sorts before "value").
        for op in ["add", "replace"] {
            let out = ok(
                &u,
                json!([{"op": op, "path": format!("{ENT}:manager"), "value": {"$ref": "../Users/m-9", "value": "m-9"}}]),
            );
            assert_eq!(
                out[ENT]["manager"],
                json!({"value": "m-9", "$ref": "../Users/m-9"}),
                "{op}"
            );
        }
    }

    #[test]
    fn entra_clears_the_manager_every_way() {
        let cleared = |ops: Value| {
            let out = ok(&stored_user(), ops);
            assert_eq!(
                out[ENT],
                json!({"department": "Sales"}),
                "manager must be gone"
            );
            assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
        };
        cleared(json!([{"op": "Replace", "path": format!("{ENT}:manager"), "value": ""}]));
        cleared(json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": null}]));
        cleared(json!([{"op": "Remove", "path": format!("{ENT}:manager")}]));
        cleared(
            json!([{"op": "Remove", "path": format!("{ENT}:manager"), "value": [{"value": "m-1"}]}]),
        );
        cleared(json!([{"op": "remove", "path": format!("{ENT}:manager[value eq \"m-1\"]")}]));
        cleared(json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": ""}]));
        cleared(json!([{"op": "replace", "value": {format!("{ENT}:manager"): ""}}]));
        // A different id in the filter leaves the manager alone.
        let out = ok(
            &stored_user(),
            json!([{"op": "remove", "path": format!("{ENT}:manager[value eq \"other\"]")}]),
        );
        assert_eq!(out[ENT]["manager"], json!({"value": "m-1"}));
        // Removing the last extension attribute drops the extension and its URN.
        let out = ok(
            &stored_user(),
            json!([
                {"op": "remove", "path": format!("{ENT}:manager")},
                {"op": "remove", "path": format!("{ENT}:department")},
            ]),
        );
        assert!(out.get(ENT).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn entra_country_on_work_address() {
        let mut u = stored_user();
        u["addresses"] = json!([{"type": "home", "country": "DE"}, {"type": "work", "country": "US", "locality": "NYC"}]);
        let out = ok(
            &u,
            json!([{"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "FR"}]),
        );
        assert_eq!(
            out["addresses"],
            json!([{"type": "home", "country": "DE"}, {"type": "work", "country": "FR", "locality": "NYC"}])
        );
    }

    #[test]
    fn entra_address_adds_build_one_work_address() {
        let out = ok(
            &stored_user(),
            json!([
                {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"},
                {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "75001"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "FR"},
                {"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": ""},
            ]),
        );
        assert_eq!(
            out["addresses"],
            json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Paris", "postalCode": "75001", "country": "FR"}])
        );
        // Same for a replace on a missing work email (Entra's mail mapping).
        let mut u = stored_user();
        u.as_object_mut().map(|m| m.remove("emails"));
        let out = ok(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
        );
        assert_eq!(out["emails"], json!([{"type": "work", "value": "a@b.c"}]));
        // and with an `and` of eq clauses.
        let out = ok(
            &u,
            json!([{"op": "add", "path": "emails[type eq \"work\" and primary eq true].value", "value": "a@b.c"}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "primary": true, "value": "a@b.c"}])
        );
        // A filter that cannot describe a value: noTarget (RFC 7644 §3.5.2.3).
        let e = fails(
            &u,
            json!([{"op": "replace", "path": "emails[type co \"wor\"].value", "value": "a@b.c"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e = fails(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].value", "value": "a"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn entra_path_less_replace_with_dotted_and_custom_keys() {
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "value": {
                "displayName": "A B",
                "name.givenName": "A",
                "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode": "75001",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
            }}]),
        );
        assert_eq!(out["displayName"], json!("A B"));
        assert_eq!(out["name"]["givenName"], json!("A"));
        assert_eq!(out["name"]["familyName"], json!("Martin"));
        assert_eq!(out[CUS], json!({"postalCode": "75001"}));
        assert_eq!(out[ENT]["department"], json!("Ops"));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT, CUS]));
    }

    #[test]
    fn path_less_keys_may_carry_value_filters() {
        let mut u = stored_user();
        u.as_object_mut().map(|m| m.remove("emails"));
        let out = ok(
            &u,
            json!([{"op": "add", "value": {
                "emails[type eq \"work\"].value": "w@x",
                "addresses[type eq \"work\"].country": "FR",
            }}]),
        );
        assert_eq!(out["emails"], json!([{"type": "work", "value": "w@x"}]));
        assert_eq!(out["addresses"], json!([{"type": "work", "country": "FR"}]));
        // Members never reach the group JSON, whatever the spelling.
        let e = patch_group(
            json!([{"op": "add", "value": {"members[value eq \"x\"]": {"value": "x"}}}]),
        )
        .expect_err("unsupported");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn path_less_add_with_extension_object_and_echoed_server_fields() {
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "value": {
                "schemas": [USER_SCHEMA],
                "id": "u-1",
                "meta": {"resourceType": "User"},
                ENT: {"department": "X", "manager.value": "m-2"},
                CUS: {"vip": "True"},
            }}]),
        );
        assert_eq!(
            out[ENT],
            json!({"department": "X", "manager": {"value": "m-2"}})
        );
        assert_eq!(out[CUS], json!({"vip": true}));
        assert_eq!(out["id"], json!("u-1"));
        assert_eq!(out["meta"], stored_user()["meta"]);
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "value": {"id": "other"}}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // A path naming a whole extension behaves the same.
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": ENT, "value": {"costCenter": "C1"}}]),
        );
        assert_eq!(
            out[ENT],
            json!({"department": "Sales", "manager": {"value": "m-1"}, "costCenter": "C1"})
        );
        let out = ok(&stored_user(), json!([{"op": "remove", "path": ENT}]));
        assert!(out.get(ENT).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn extension_object_values_may_carry_their_schemas() {
        // scim2 clients serialise an extension object with its own `schemas`.
        for op in ["add", "replace"] {
            let out = ok(
                &stored_user(),
                json!([{"op": op, "path": ENT, "value": {"schemas": [ENT], "employeeNumber": "7"}}]),
            );
            assert_eq!(
                out[ENT],
                json!({"department": "Sales", "manager": {"value": "m-1"}, "employeeNumber": "7"}),
                "{op}"
            );
            let out = ok(
                &stored_user(),
                json!([{"op": op, "value": {ENT: {"SCHEMAS": [ENT], "division": "D"}}}]),
            );
            assert_eq!(out[ENT]["division"], json!("D"), "{op}");
            assert!(out[ENT].get("SCHEMAS").is_none() && out[ENT].get("schemas").is_none());
        }
        // On a user without the extension, schemas alone adds nothing.
        let mut u = stored_user();
        if let Some(m) = u.as_object_mut() {
            m.remove(ENT);
        }
        let out = ok(
            &u,
            json!([{"op": "add", "path": ENT, "value": {"schemas": [ENT]}}]),
        );
        assert!(out.get(ENT).is_none(), "{out}");
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn entra_remove_title() {
        let out = ok(&stored_user(), json!([{"op": "Remove", "path": "title"}]));
        assert!(out.get("title").is_none());
        // Idempotent: removing what is not there succeeds.
        let again = ok(
            &out,
            json!([{"op": "Remove", "path": "title"}, {"op": "remove", "path": "nickName"}]),
        );
        assert_eq!(again, out);
        let none = ok(
            &out,
            json!([{"op": "remove", "path": format!("{CUS}:postalCode")}]),
        );
        assert!(none.get(CUS).is_none());
    }

    #[test]
    fn entra_deactivation_and_reactivation_forms() {
        for (v, want) in [
            (json!("False"), false),
            (json!("false"), false),
            (json!(false), false),
            (json!("True"), true),
            (json!("true"), true),
            (json!(true), true),
        ] {
            let out = ok(
                &stored_user(),
                json!([{"op": "Replace", "path": "active", "value": v}]),
            );
            assert_eq!(out["active"], json!(want), "{v}");
            let out = ok(
                &stored_user(),
                json!([{"op": "replace", "value": {"active": v}}]),
            );
            assert_eq!(out["active"], json!(want), "{v}");
        }
        let e = fails(
            &stored_user(),
            json!([{"op": "Replace", "path": "active", "value": "maybe"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "attribute \"active\" must be a boolean, got \"maybe\""
        );
    }

    #[test]
    fn empty_or_null_values_remove() {
        let out = ok(
            &stored_user(),
            json!([
                {"op": "replace", "path": "title", "value": ""},
                {"op": "add", "path": "displayName", "value": null},
                {"op": "replace", "path": "name", "value": ""},
            ]),
        );
        assert!(
            out.get("title").is_none()
                && out.get("displayName").is_none()
                && out.get("name").is_none()
        );
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "name.givenName", "value": ""}]),
        );
        assert_eq!(
            out["name"],
            json!({"formatted": "Alice Martin", "familyName": "Martin"})
        );
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "emails", "value": []}]),
        );
        assert!(out.get("emails").is_none());
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "path": "emails", "value": []}]),
        );
        assert_eq!(out["emails"], stored_user()["emails"]);
    }

    // ---- RFC 7644 §3.5.2 rules --------------------------------------------------

    #[test]
    fn add_to_multi_valued_appends_without_duplicates_and_moves_primary() {
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "path": "emails", "value": [
                {"primary": true, "type": "work", "value": "alice@contoso.com"},
                {"type": "home", "value": "a@home.org"},
            ]}]),
        );
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "path": "emails", "value": {"type": "home", "value": "a@home.org", "primary": true}}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"primary": false, "type": "work", "value": "alice@contoso.com"}, {"type": "home", "value": "a@home.org", "primary": true}])
        );
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "value": {"emails": [{"value": "b@x.org", "type": "other"}]}}]),
        );
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
        // Setting primary through a filter demotes the others too.
        let mut u = stored_user();
        u["emails"] = json!([{"value": "a@x", "type": "work", "primary": true}, {"value": "b@x", "type": "home"}]);
        let out = ok(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@x", "type": "work", "primary": false}, {"value": "b@x", "type": "home", "primary": true}])
        );
    }

    #[test]
    fn multi_valued_size_is_bounded_except_members() {
        let emails: Vec<Value> = (0..=crate::scim::schema::MAX_VALUES)
            .map(|i| json!({"value": format!("{i}@x")}))
            .collect();
        let e = fails(
            &stored_user(),
            json!([{"op": "add", "path": "emails", "value": emails}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("at most 1000"), "{}", e.detail);
        let members: Vec<Value> = (0..5000)
            .map(|i| json!({"value": format!("u{}", i % 4000)}))
            .collect();
        let (_, ch) =
            patch_group(json!([{"op": "add", "path": "members", "value": members}])).expect("ok");
        assert!(matches!(ch.as_slice(), [MemberChange::Add(refs)] if refs.len() == 4000));
    }

    #[test]
    fn replace_multi_valued_replaces_the_array() {
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "z@z", "type": "work"}]}]),
        );
        assert_eq!(out["emails"], json!([{"value": "z@z", "type": "work"}]));
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn replace_complex_keeps_unlisted_sub_attributes() {
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Al", "middleName": "J"}}]),
        );
        assert_eq!(
            out["name"],
            json!({"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Al", "middleName": "J"})
        );
        let out = ok(
            &stored_user(),
            json!([{"op": "add", "value": {"name": {"FAMILYNAME": "Doe", "formatted": ""}}}]),
        );
        assert_eq!(
            out["name"],
            json!({"familyName": "Doe", "givenName": "Alice"})
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "name", "value": {"nick": "x"}}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.starts_with(
                "unknown attribute \"name.nick\": the sub-attributes of \"name\" are formatted, familyName"
            ),
            "{}",
            e.detail
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "name", "value": 3}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn entra_single_app_role_replaces_the_primary_role() {
        // SingleAppRoleAssignment: roles[primary eq "True"].value, the boolean quoted.
        let mut u = stored_user();
        u["roles"] = json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Reader"}]);
        let replace = json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]);
        let out = ok(&u, replace.clone());
        let admin =
            json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]);
        assert_eq!(out["roles"], admin);
        assert_eq!(
            ok(&out, replace)["roles"],
            admin,
            "the next cycle changes nothing"
        );
        // Any case, and "False" finds the other roles; a role is made when none matches.
        let out = ok(
            &u,
            json!([{"op": "add", "path": "roles[primary eq \"false\"].display", "value": "Other"}]),
        );
        assert_eq!(
            out["roles"].as_array().map(Vec::len),
            Some(2),
            "{}",
            out["roles"]
        );
        let out = ok(
            &u,
            json!([{"op": "remove", "path": "roles[primary eq \"TRUE\" and value eq \"Reader\"]"}]),
        );
        assert!(out.get("roles").is_none(), "{out}");
        // Text that is no boolean is still compared as text: nothing matches.
        let out = ok(
            &u,
            json!([{"op": "remove", "path": "roles[primary eq \"yes\"]"}]),
        );
        assert_eq!(out["roles"], u["roles"]);
    }

    #[test]
    fn filter_paths_replace_and_remove_elements() {
        let mut u = stored_user();
        u["emails"] = json!([{"value": "a@x", "type": "work", "primary": true}, {"value": "b@x", "type": "home"}]);
        let out = ok(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "c@x", "type": "other"}}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@x", "type": "work", "primary": true}, {"value": "c@x", "type": "other"}])
        );
        let out = ok(
            &u,
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
        );
        assert_eq!(
            out["emails"][1],
            json!({"value": "b@x", "type": "home", "display": "Home"})
        );
        let out = ok(
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x"}}]),
        );
        assert_eq!(out["emails"][2], json!({"type": "other", "value": "o@x"}));
        let out = ok(
            &u,
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        );
        assert_eq!(out["emails"], json!([{"value": "b@x", "type": "home"}]));
        let out = ok(
            &u,
            json!([{"op": "remove", "path": "emails[type eq \"home\"].value"}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@x", "type": "work", "primary": true}, {"type": "home"}])
        );
        // ...and validation then drops the value-less email.
        let stored = schemas().validate_user(out, &custom()).expect("valid");
        assert_eq!(
            stored["emails"],
            json!([{"value": "a@x", "type": "work", "primary": true}])
        );
        let out = ok(
            &u,
            json!([{"op": "remove", "path": "emails[type eq \"none\"]"}]),
        );
        assert_eq!(out["emails"], u["emails"]);
        let out = ok(&u, json!([{"op": "remove", "path": "emails[value pr]"}]));
        assert!(out.get("emails").is_none());
    }

    #[test]
    fn remove_with_value_removes_only_listed_values() {
        let mut u = stored_user();
        u["emails"] = json!([{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}, {"value": "c@x"}]);
        let out = ok(
            &u,
            json!([{"op": "Remove", "path": "emails", "value": [{"value": "B@X"}, {"value": "zz"}]}]),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@x", "type": "work"}, {"value": "c@x"}])
        );
        let out = ok(
            &u,
            json!([{"op": "Remove", "path": "emails", "value": {"type": "work"}}]),
        );
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
        // emails is required (mail identifies a user): removing all of them is refused.
        let e = fails(&u, json!([{"op": "Remove", "path": "emails"}]));
        assert!(e.detail.contains("emails"), "{}", e.detail);
    }

    #[test]
    fn sub_attribute_of_multi_valued_without_filter() {
        let mut u = stored_user();
        u["emails"] = json!([{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}]);
        let out = ok(
            &u,
            json!([{"op": "replace", "path": "emails.display", "value": "E"}]),
        );
        assert_eq!(out["emails"][0]["display"], json!("E"));
        assert_eq!(out["emails"][1]["display"], json!("E"));
        let out = ok(&u, json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(out["emails"], json!([{"value": "a@x"}, {"value": "b@x"}]));
        let mut none = stored_user();
        none.as_object_mut().map(|m| m.remove("emails"));
        let out = ok(
            &none,
            json!([{"op": "add", "path": "emails.value", "value": "n@x"}]),
        );
        assert_eq!(out["emails"], json!([{"value": "n@x"}]));
    }

    #[test]
    fn errors_name_the_operation_when_there_are_several() {
        let mut ops: Vec<Value> = (0..5)
            .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("n{i}")}))
            .collect();
        ops[3] = json!({"op": "replace", "path": "shoeSize", "value": 42});
        let e = fails(&stored_user(), json!(ops.clone()));
        assert!(
            e.detail
                .starts_with("Operations[3]: unknown attribute \"shoeSize\""),
            "{}",
            e.detail
        );
        ops[3] = json!({"op": "replace", "path": "emails[type eq", "value": 42});
        let e = fails(&stored_user(), json!(ops));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(
            e.detail.starts_with("Operations[3]: invalid path"),
            "{}",
            e.detail
        );
    }

    #[test]
    /// The interop profile: an attribute the schemas do not define, named by a path (or by a
    /// key of a path-less value), is 400 invalidSyntax naming it and saying what to do.
    fn unknown_paths_are_invalid_syntax() {
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "shoeSize", "value": 42}]),
        );
        assert_eq!(
            (e.status.as_u16(), e.scim_type),
            (400, Some(ScimType::InvalidSyntax))
        );
        assert_eq!(
            e.detail,
            format!(
                "unknown attribute \"shoeSize\" of {USER_SCHEMA}: leave it out (/Schemas lists the \
                 attributes of a User), or define it as a custom attribute with \
                 `scimd field add <tenant> shoeSize --type string` and send it under {CUS}"
            )
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "name.nick", "value": "x"}]),
        );
        assert!(
            e.detail
                .starts_with("unknown attribute \"name.nick\": the sub-attributes"),
            "{}",
            e.detail
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "add", "path": format!("{ENT}:floor"), "value": "3"}]),
        );
        assert!(
            e.detail.starts_with(&format!(
                "unknown attribute \"floor\" of {ENT}: leave it out"
            )),
            "{}",
            e.detail
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "value": {format!("{CUS}:shirtSize"): "L"}}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(
            e.detail,
            "unknown attribute \"shirtSize\" of urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User: \
             define it first with `scimd field add <tenant> shirtSize --type string` or on the admin page"
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "remove", "path": "title.value"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.contains("\"title\" has no sub-attributes"),
            "{}",
            e.detail
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "add", "path": "members", "value": [{"value": "x"}]}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = fails(
            &stored_user(),
            json!([{"op": "add", "path": "urn:acme:ext:1.0:User:x", "value": "1"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail
                .contains("urn:acme:ext:1.0:User is not a schema of a User")
                && e.detail.contains("External namespace"),
            "{}",
            e.detail
        );
        // A value filter naming what the attribute does not have, and a sub-attribute after it.
        for (path, named) in [
            ("emails[kind eq \"work\"].value", "emails.kind"),
            (
                "emails[type eq \"work\" and not (label pr)].value",
                "emails.label",
            ),
            ("emails[type eq \"work\"].address", "emails.address"),
            ("addresses[type eq \"work\"].city", "addresses.city"),
        ] {
            let e = fails(
                &stored_user(),
                json!([{"op": "replace", "path": path, "value": "x"}]),
            );
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{path}");
            assert!(e.detail.contains(named), "{path}: {}", e.detail);
        }
    }

    #[test]
    fn filter_on_single_valued_attribute_is_invalid_path() {
        for path in [
            "title[value eq \"x\"]",
            "active[value eq true]",
            "name[givenName eq \"Alice\"].familyName",
        ] {
            let e = fails(
                &stored_user(),
                json!([{"op": "replace", "path": path, "value": "y"}]),
            );
            assert_eq!(
                e.scim_type,
                Some(ScimType::InvalidPath),
                "{path}: {}",
                e.detail
            );
        }
        let e = fails(
            &stored_user(),
            json!([{"op": "remove", "path": "title[value eq \"x\"]"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn read_only_attributes_are_mutability_errors() {
        let manager_name = format!("{ENT}:manager.displayName");
        for (op, path) in [
            ("replace", "id"),
            ("remove", "id"),
            ("replace", "meta"),
            ("add", "meta.lastModified"),
            ("add", "groups"),
            ("remove", "groups[value eq \"g\"]"),
            ("replace", manager_name.as_str()),
        ] {
            let e = fails(
                &stored_user(),
                json!([{"op": op, "path": path, "value": "x"}]),
            );
            assert_eq!(
                e.scim_type,
                Some(ScimType::Mutability),
                "{op} {path}: {}",
                e.detail
            );
        }
    }

    #[test]
    fn user_name_rules() {
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "userName", "value": 5}]),
        );
        assert_eq!(
            (e.scim_type, e.detail.as_str()),
            (
                Some(ScimType::InvalidValue),
                "attribute \"userName\" must be a string, got 5"
            )
        );
        let e = fails(
            &stored_user(),
            json!([{"op": "remove", "path": "userName"}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = fails(
            &stored_user(),
            json!([{"op": "replace", "path": "userName", "value": ""}]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let out = ok(
            &stored_user(),
            json!([{"op": "replace", "path": "USERNAME", "value": "bob@contoso.com"}]),
        );
        assert_eq!(out["userName"], json!("bob@contoso.com"));
    }

    #[test]
    fn reapplying_entra_updates_changes_nothing() {
        // The service skips writes when validate(patch(stored)) == stored.
        let s = schemas();
        let c = custom();
        let stored = s.validate_user(stored_user(), &c).expect("valid");
        let ops = json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alice@contoso.com"},
            {"op": "Replace", "path": "active", "value": "True"},
            {"op": "Add", "path": format!("{ENT}:manager"), "value": "m-1"},
            {"op": "replace", "value": {"displayName": "Alice Martin", "name.givenName": "Alice", "id": "u-1"}},
            {"op": "Add", "path": "addresses[type eq \"work\"].country", "value": "FR"},
        ]);
        let once = s
            .validate_user(patch_user(&stored, ops.clone()).expect("ok"), &c)
            .expect("valid");
        let twice = s
            .validate_user(patch_user(&once, ops).expect("ok"), &c)
            .expect("valid");
        assert_eq!(once, twice);
        assert_eq!(
            once["addresses"],
            json!([{"type": "work", "country": "FR"}])
        );
    }

    #[test]
    fn all_or_nothing() {
        let u = stored_user();
        let e = fails(
            &u,
            json!([
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "nope", "value": 1},
            ]),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(u, stored_user());
    }

    #[test]
    fn names_are_canonicalised() {
        let out = ok(
            &stored_user(),
            json!([
                {"op": "replace", "path": "DISPLAYNAME", "value": "X"},
                {"op": "add", "path": "Emails[Type eq \"home\"].Value", "value": "h@x"},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User:Department", "value": "D"},
            ]),
        );
        assert_eq!(out["displayName"], json!("X"));
        assert_eq!(out["emails"][1], json!({"type": "home", "value": "h@x"}));
        assert_eq!(out[ENT]["department"], json!("D"));
        assert!(out.get("DISPLAYNAME").is_none());
    }

    // ---- the work budget ----------------------------------------------------------

    /// The stored user with `n` emails: the work one, then `e0001@x.example`… of type "other".
    fn user_with_emails(n: usize) -> Value {
        let mut u = stored_user();
        u["emails"] = (0..n)
            .map(|i| match i {
                0 => json!({"value": "alice@contoso.com", "type": "work", "primary": true}),
                _ => json!({"value": format!("e{i:04}@x.example"), "type": "other"}),
            })
            .collect();
        u
    }

    /// Apply `ops` to `user` within `budget`: the outcome and the units spent.
    fn within(user: &Value, ops: Value, budget: u64) -> (Result<Value, ScimError>, u64) {
        let parsed = parse_patch_request(&body(ops)).expect("parses");
        let work = Work::new(budget);
        let out = apply_user_patch(user, &parsed, &schemas(), &custom(), &work);
        (out, work.spent())
    }

    fn assert_too_costly(out: Result<Value, ScimError>, at: &str) {
        let e = out.expect_err("past the budget");
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::TooMany));
        assert!(
            e.detail
                .contains("fewer operations or simpler value filters")
                && e.detail.contains("nothing was changed")
                && e.detail.contains(at),
            "{}",
            e.detail
        );
    }

    #[test]
    fn the_costliest_patch_stops_at_its_budget() {
        // 1,000 operations, each a 41-term value filter over 1,000 emails: 41 million
        // comparisons if it ran (issue 23); it stops once the budget is spent.
        let mut ops = vec![json!({"op": "replace", "path": "displayName", "value": "Renamed"})];
        ops.extend((1..1000).map(|i| {
            let terms: Vec<String> = (0..41)
                .map(|t| format!("value eq \"n{i:03}-{t:02}\""))
                .collect();
            json!({"op": "remove", "path": format!("emails[{}]", terms.join(" or "))})
        }));
        let user = user_with_emails(1000);
        let (out, spent) = within(&user, json!(ops.clone()), PATCH_WORK);
        assert_too_costly(out, "of 1000)");
        assert!(
            spent > PATCH_WORK && spent < PATCH_WORK + 100,
            "stopped right past the budget: {spent}"
        );
        // One operation of that kind is bounded work, and applies.
        let (out, spent) = within(&user, json!(ops[1..2]), PATCH_WORK);
        assert_eq!(
            out.expect("applies")["emails"].as_array().map(Vec::len),
            Some(1000)
        );
        assert!(spent < PATCH_WORK / 10, "{spent}");
        // Parsing counts too, before parsing anything: a megabyte of filters is not parsed
        // within a small budget.
        let work = Work::new(10_000);
        let e = super::super::parse_patch_request_within(&body(json!(ops)), &work)
            .expect_err("too costly to parse here");
        assert_eq!(e.scim_type, Some(ScimType::TooMany), "{}", e.detail);
        assert!(work.spent() < 11_000, "{}", work.spent());
    }

    #[test]
    fn real_patches_spend_a_sliver_of_the_budget() {
        // Entra's usual PATCH.
        let (out, spent) = within(
            &stored_user(),
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Add", "path": format!("{ENT}:department"), "value": "Sales"},
                {"op": "replace", "value": {"displayName": "A B", "title": "Lead", "active": "False"}},
            ]),
            PATCH_WORK,
        );
        out.expect("applies");
        assert!(spent < 50, "{spent}");
        // The same over the most emails a user may have.
        let (out, spent) = within(
            &user_with_emails(1000),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]),
            PATCH_WORK,
        );
        out.expect("applies");
        assert!(spent < 10_000, "{spent}");
        // A thousand plain operations; a thousand emails replaced at once.
        let ops: Vec<Value> = (0..1000)
            .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("n{i}")}))
            .collect();
        let (out, spent) = within(&stored_user(), json!(ops), PATCH_WORK);
        out.expect("applies");
        assert!(spent < 10_000, "{spent}");
        let emails = user_with_emails(1000)["emails"].clone();
        let (out, spent) = within(
            &stored_user(),
            json!([{"op": "replace", "path": "emails", "value": emails}]),
            PATCH_WORK,
        );
        out.expect("applies");
        assert!(spent < 10_000, "{spent}");
    }

    #[test]
    fn every_costly_shape_is_counted() {
        let user = user_with_emails(1000);
        // Removing listed values compares each with every stored value.
        let listed: Vec<Value> = (0..1000)
            .map(|i| json!({"value": format!("x{i}@x.example")}))
            .collect();
        let ops: Vec<Value> = (0..30)
            .map(|_| json!({"op": "remove", "path": "emails", "value": listed}))
            .collect();
        assert_too_costly(within(&user, json!(ops), PATCH_WORK).0, "Operations[1]");
        // A long value written into every value is refused before it is copied.
        let long = "x".repeat(100_000);
        for path in ["emails.display", "emails[type eq \"other\"].display"] {
            let (out, spent) = within(
                &user,
                json!([{"op": "replace", "path": path, "value": long}]),
                PATCH_WORK,
            );
            assert_too_costly(out, "Operations");
            assert!(spent > PATCH_WORK, "{path}: {spent}");
        }
        // Adding to a full attribute re-reads it each time.
        let ops: Vec<Value> = (0..1000)
            .map(|_| json!({"op": "add", "path": "emails", "value": [{"value": "e0001@x.example", "type": "other"}]}))
            .collect();
        assert_too_costly(within(&user, json!(ops), PATCH_WORK).0, "of 1000)");
        // Long literals cost by their length.
        let terms: Vec<String> = (0..4)
            .map(|t| format!("value co \"{t}{}\"", "y".repeat(3000)))
            .collect();
        let op = json!({"op": "remove", "path": format!("emails[{}]", terms.join(" or "))});
        let (out, spent) = within(&user, json!([op]), PATCH_WORK);
        out.expect("one such operation applies");
        assert!(spent > 4 * 1000 * 90, "{spent}");
    }

    #[test]
    fn filtered_removal_drops_exactly_the_matches() {
        let (out, _) = within(
            &user_with_emails(6),
            json!([{"op": "remove", "path": "emails[value eq \"e0001@x.example\" or value eq \"e0003@x.example\" or value eq \"e0005@x.example\"]"}]),
            PATCH_WORK,
        );
        let values: Vec<Value> = out.expect("applies")["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .map(|e| e["value"].clone())
            .collect();
        assert_eq!(
            values,
            [
                json!("alice@contoso.com"),
                json!("e0002@x.example"),
                json!("e0004@x.example")
            ]
        );
    }

    // ---- robustness -------------------------------------------------------------

    use crate::scim::test_rng::Rng;

    const PATHS: &[&str] = &[
        "title",
        "active",
        "userName",
        "name",
        "name.givenName",
        "name.nope",
        "emails",
        "emails.value",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "emails[type eq \"work\" and primary eq true].primary",
        "emails[value co \"@\"].type",
        "addresses[type eq \"work\"].country",
        "addresses[type eq \"home\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-1\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode",
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:vip",
        "members",
        "members[value eq \"u1\"]",
        "members[type eq \"User\"]",
        "displayName",
        "externalId",
        "id",
        "meta",
        "groups",
        "roles",
        "x509Certificates[value pr]",
        "title[value eq \"x\"]",
        "",
        "[",
        "a..b",
        "emails[",
        "emails[type eq]",
        "urn:",
        "phoneNumbers[type eq \"mobile\"].value",
        "password",
    ];

    fn random_value(rng: &mut Rng, depth: usize) -> Value {
        let keys = [
            "value",
            "type",
            "primary",
            "display",
            "givenName",
            "Value",
            "TYPE",
            "country",
            "members",
            "title",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "$ref",
            "id",
            "active",
        ];
        match rng.below(if depth > 2 { 7 } else { 9 }) {
            0 => Value::Null,
            1 => json!(rng.below(2) == 0),
            2 => json!(rng.below(1000) as i64 - 500),
            3 => json!(
                [
                    "",
                    "True",
                    "False",
                    "work",
                    "m-1",
                    "u1",
                    "x@y",
                    "2024-01-01T00:00:00Z"
                ][rng.below(8)]
            ),
            4 => json!(1.5),
            5 => json!(""),
            6 => json!("False"),
            7 => Value::Array(
                (0..rng.below(4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let mut m = Map::new();
                for _ in 0..rng.below(4) {
                    let k = keys.get(rng.below(keys.len())).copied().unwrap_or("value");
                    m.insert(k.to_string(), random_value(rng, depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    #[test]
    fn random_operations_never_panic() {
        let s = schemas();
        let c = custom();
        let group = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G"});
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut applied = 0;
        for _ in 0..4000 {
            let mut ops = Vec::new();
            for _ in 0..=rng.below(5) {
                let mut op = Map::new();
                if rng.below(12) != 0 {
                    let name = rng.pick(&[
                        "add", "remove", "replace", "Add", "REPLACE", "Remove", "move", "",
                    ]);
                    op.insert("op".into(), json!(name));
                }
                if rng.below(5) != 0 {
                    op.insert("path".into(), json!(rng.pick(PATHS)));
                }
                if rng.below(4) != 0 {
                    op.insert("value".into(), random_value(&mut rng, 0));
                }
                ops.push(if rng.below(40) == 0 {
                    random_value(&mut rng, 0)
                } else {
                    Value::Object(op)
                });
            }
            let b = if rng.below(50) == 0 {
                random_value(&mut rng, 0)
            } else {
                body(Value::Array(ops))
            };
            let Ok(parsed) = parse_patch_request(&b) else {
                continue;
            };
            if let Ok(out) =
                apply_user_patch(&stored_user(), &parsed, &s, &c, &Work::new(PATCH_WORK))
            {
                applied += 1;
                let _ = s.validate_user(out, &c);
            }
            if let Ok((out, _)) = apply_group_patch(&group, &parsed, &s, &Work::new(PATCH_WORK)) {
                let _ = s.validate_group(out);
            }
        }
        assert!(
            applied > 100,
            "the generator must reach the apply paths ({applied})"
        );
        // Random bodies through validation.
        for _ in 0..2000 {
            let mut b = random_value(&mut rng, 0);
            if let Some(m) = b.as_object_mut() {
                m.insert("schemas".into(), json!([USER_SCHEMA, ENT]));
            }
            let _ = s.validate_user(b.clone(), &c);
            let _ = s.validate_group(b);
        }
    }
}
