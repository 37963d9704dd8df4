//! SCIM schemas (RFC 7643 §7, §8.7): the schema, resource type and service provider
//! documents embedded from `scim-schemas/*.json`, the tenant's custom extension fields,
//! and the validation that turns an incoming User or Group body (including Entra's
//! dialect: `"True"` strings, bare manager ids, extension objects missing from
//! `schemas`) into the canonical JSON that scimd stores.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use crate::scim::error::ScimError;
use crate::scim::path::{key_ci, split_urn, AttrPath};

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The extension Entra uses for custom attribute mappings; its attributes are the
/// tenant's custom fields.
pub const CUSTOM_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
/// PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// List response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// `POST …/.search` request message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Bulk request message (RFC 7644 §3.7); scimd does not support bulk.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Schema resource (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// ResourceType resource (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// ServiceProviderConfig resource (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// A URN some Entra versions put in a Group's `schemas`; accepted and dropped.
pub const ENTRA_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

const USER_JSON: &str = include_str!("../../scim-schemas/User.json");
const GROUP_JSON: &str = include_str!("../../scim-schemas/Group.json");
const ENTERPRISE_USER_JSON: &str = include_str!("../../scim-schemas/EnterpriseUser.json");
const RESOURCE_TYPES_JSON: &str = include_str!("../../scim-schemas/ResourceTypes.json");
const SERVICE_PROVIDER_CONFIG_JSON: &str =
    include_str!("../../scim-schemas/ServiceProviderConfig.json");

/// Longest JSON excerpt of a rejected value quoted in an error detail, so a huge
/// value does not end up in Entra's provisioning log.
const MAX_QUOTED: usize = 80;

/// Most values a multi-valued User attribute may hold. Real users have a handful of
/// emails or roles; the bound keeps the quadratic work of PATCH (duplicate and
/// value matching) small. Group `members` are exempt: they are stored as rows.
pub const MAX_VALUES: usize = 1000;

/// The type of a tenant-defined custom field (a subset of RFC 7643 §2.3 types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    Reference,
}

impl FieldType {
    /// Every field type, in the order the admin page lists them.
    pub const ALL: [FieldType; 6] = [
        FieldType::String,
        FieldType::Boolean,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::DateTime,
        FieldType::Reference,
    ];

    /// Parse a type name as written in schemas and on the command line
    /// (`string`, `boolean`, `integer`, `decimal`, `dateTime`, `reference`; any case).
    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 7643 spelling, e.g. `dateTime`.
    pub fn as_str(self) -> &'static str {
        self.attr_type().as_str()
    }

    /// The schema attribute type of this field type.
    pub fn attr_type(self) -> AttrType {
        match self {
            FieldType::String => AttrType::String,
            FieldType::Boolean => AttrType::Boolean,
            FieldType::Integer => AttrType::Integer,
            FieldType::Decimal => AttrType::Decimal,
            FieldType::DateTime => AttrType::DateTime,
            FieldType::Reference => AttrType::Reference,
        }
    }
}

impl FromStr for FieldType {
    type Err = String;
    /// Like [`FieldType::parse`], with an error that lists the accepted names (for clap).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldType::parse(s).ok_or_else(|| {
            let names: Vec<&str> = FieldType::ALL.iter().map(|t| t.as_str()).collect();
            format!(
                "unknown field type \"{s}\"; expected one of {}",
                names.join(", ")
            )
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant-defined attribute of the custom extension ([`CUSTOM_USER_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    /// Attribute name inside the extension, e.g. `postalCode`.
    pub name: String,
    /// Value type, checked on every write.
    pub field_type: FieldType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
}

impl CustomField {
    /// The schema definition of this field: readWrite, optional, case-insensitive.
    pub fn attr_def(&self) -> AttrDef {
        AttrDef {
            name: self.name.clone(),
            description: format!("Custom attribute \"{}\" defined by the tenant.", self.name),
            attr_type: self.field_type.attr_type(),
            multi_valued: self.multi_valued,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            sub_attributes: Vec::new(),
            canonical_values: Vec::new(),
            reference_types: if self.field_type == FieldType::Reference {
                vec!["external".to_string()]
            } else {
                Vec::new()
            },
        }
    }
}

/// Attribute data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// Parse the `type` characteristic.
    pub fn parse(s: &str) -> Option<AttrType> {
        Some(match s {
            "string" => AttrType::String,
            "boolean" => AttrType::Boolean,
            "decimal" => AttrType::Decimal,
            "integer" => AttrType::Integer,
            "dateTime" => AttrType::DateTime,
            "binary" => AttrType::Binary,
            "reference" => AttrType::Reference,
            "complex" => AttrType::Complex,
            _ => return None,
        })
    }
    /// The `type` characteristic as written in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// The `mutability` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    /// Parse the `mutability` characteristic.
    pub fn parse(s: &str) -> Option<Mutability> {
        Some(match s {
            "readOnly" => Mutability::ReadOnly,
            "readWrite" => Mutability::ReadWrite,
            "immutable" => Mutability::Immutable,
            "writeOnly" => Mutability::WriteOnly,
            _ => return None,
        })
    }
    /// As written in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// The `returned` characteristic (RFC 7643 §7); drives projection in resource.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    /// Parse the `returned` characteristic.
    pub fn parse(s: &str) -> Option<Returned> {
        Some(match s {
            "always" => Returned::Always,
            "never" => Returned::Never,
            "default" => Returned::Default,
            "request" => Returned::Request,
            _ => return None,
        })
    }
    /// As written in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// The `uniqueness` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// Parse the `uniqueness` characteristic.
    pub fn parse(s: &str) -> Option<Uniqueness> {
        Some(match s {
            "none" => Uniqueness::None,
            "server" => Uniqueness::Server,
            "global" => Uniqueness::Global,
            _ => return None,
        })
    }
    /// As written in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// Attribute definition, parsed from a schema's `attributes` (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrDef {
    /// Canonical spelling of the name (inputs are matched case-insensitively).
    pub name: String,
    /// Human-readable description, served at `/Schemas`.
    pub description: String,
    /// Data type.
    pub attr_type: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Whether a resource must carry it (userName, displayName, members.value).
    pub required: bool,
    /// Whether string comparisons (filters) respect case.
    pub case_exact: bool,
    /// Who may write it; readOnly values are the server's.
    pub mutability: Mutability,
    /// When responses include it.
    pub returned: Returned,
    /// Uniqueness scope.
    pub uniqueness: Uniqueness,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: Vec<AttrDef>,
    /// Suggested values (e.g. `work`, `home`); informative, never enforced.
    pub canonical_values: Vec<String>,
    /// For references: what they may point to (`User`, `Group`, `external`, `uri`).
    pub reference_types: Vec<String>,
}

impl AttrDef {
    /// Parse one attribute definition; the error names the attribute and the problem.
    pub fn from_json(v: &Value) -> Result<AttrDef, String> {
        let obj = v
            .as_object()
            .ok_or("an attribute definition must be an object")?;
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or("an attribute definition needs a name")?
            .to_string();
        let text = |key: &str| obj.get(key).and_then(Value::as_str);
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
        let strings = |key: &str| -> Vec<String> {
            obj.get(key)
                .and_then(Value::as_array)
                .map(|xs| {
                    xs.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let attr_type = text("type")
            .and_then(AttrType::parse)
            .ok_or_else(|| format!("attribute \"{name}\": missing or unknown type"))?;
        let mutability = match text("mutability") {
            None => Mutability::ReadWrite,
            Some(m) => Mutability::parse(m)
                .ok_or_else(|| format!("attribute \"{name}\": unknown mutability \"{m}\""))?,
        };
        let returned = match text("returned") {
            None => Returned::Default,
            Some(r) => Returned::parse(r)
                .ok_or_else(|| format!("attribute \"{name}\": unknown returned \"{r}\""))?,
        };
        let uniqueness = match text("uniqueness") {
            None => Uniqueness::None,
            Some(u) => Uniqueness::parse(u)
                .ok_or_else(|| format!("attribute \"{name}\": unknown uniqueness \"{u}\""))?,
        };
        let sub_attributes = match obj.get("subAttributes") {
            None => Vec::new(),
            Some(Value::Array(xs)) => xs
                .iter()
                .map(AttrDef::from_json)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("attribute \"{name}\": {e}"))?,
            Some(_) => {
                return Err(format!(
                    "attribute \"{name}\": subAttributes must be an array"
                ))
            }
        };
        if attr_type == AttrType::Complex && sub_attributes.is_empty() {
            return Err(format!(
                "attribute \"{name}\": a complex attribute needs subAttributes"
            ));
        }
        Ok(AttrDef {
            description: text("description").unwrap_or_default().to_string(),
            attr_type,
            multi_valued: flag("multiValued"),
            required: flag("required"),
            case_exact: flag("caseExact"),
            mutability,
            returned,
            uniqueness,
            sub_attributes,
            canonical_values: strings("canonicalValues"),
            reference_types: strings("referenceTypes"),
            name,
        })
    }

    /// The definition as a schema resource attribute (RFC 7643 §7), for `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.attr_type.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        m.insert("caseExact".into(), json!(self.case_exact));
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(AttrDef::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        Value::Object(m)
    }

    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        self.sub_attributes
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Whether this is a complex attribute that has a `value` sub-attribute (emails,
    /// members, manager…): such a value means nothing without its `value`.
    pub fn has_value_sub(&self) -> bool {
        self.attr_type == AttrType::Complex && self.sub("value").is_some()
    }

    /// Type-check and normalise a value for this attribute; `label` names the attribute
    /// in error details. `Ok(None)` means "unassigned": null, `""`, an empty array or
    /// an empty complex value, which the caller removes (RFC 7643 §2.5).
    ///
    /// Normalisation: canonical sub-attribute names; `"True"`/`"false"` strings become
    /// booleans and numeric strings numbers (Entra sends strings); a single value of a
    /// multi-valued attribute is wrapped into an array; a bare string for a complex
    /// attribute with a `value` sub-attribute becomes `{"value": …}` (Entra's manager);
    /// readOnly sub-attributes are dropped (the server owns them); elements without
    /// their `value` are dropped, or rejected when `value` is required (members).
    pub fn normalize(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        if !self.multi_valued {
            return self.normalize_single(value, label);
        }
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        // Exact duplicates carry no information and would trip uniqueness checks; the
        // compact JSON text is a canonical key (maps serialise in key order).
        let mut seen = HashSet::new();
        for item in items {
            if let Some(v) = self.normalize_single(item, label)? {
                if seen.insert(v.to_string()) {
                    out.push(v);
                }
            }
        }
        if out.len() > MAX_VALUES && self.name != "members" {
            return Err(ScimError::invalid_value(format!(
                "attribute \"{label}\" has {} values; at most {MAX_VALUES} are accepted",
                out.len()
            )));
        }
        if out.is_empty() {
            return Ok(None);
        }
        if self.attr_type == AttrType::Complex && count_primaries(&out) > 1 {
            return Err(ScimError::invalid_value(format!(
                "at most one value of \"{label}\" may have \"primary\": true"
            )));
        }
        Ok(Some(Value::Array(out)))
    }

    /// One value (an element, for a multi-valued attribute).
    fn normalize_single(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        if value.is_null() {
            return Ok(None);
        }
        match self.attr_type {
            AttrType::Complex => self.normalize_complex(value, label),
            AttrType::Boolean => match value {
                Value::Bool(b) => Ok(Some(Value::Bool(b))),
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
                other => Err(type_error(label, "a boolean", &other)),
            },
            AttrType::String | AttrType::Reference | AttrType::Binary => match value {
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) => Ok(Some(Value::String(s))),
                other => Err(type_error(label, "a string", &other)),
            },
            AttrType::DateTime => match value {
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) if is_date_time(&s) => Ok(Some(Value::String(s))),
                other => Err(type_error(
                    label,
                    "a dateTime (e.g. \"2024-01-31T09:30:00Z\")",
                    &other,
                )),
            },
            AttrType::Integer => match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(Value::Number(n))),
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) => match s.trim().parse::<i64>() {
                    Ok(i) => Ok(Some(Value::from(i))),
                    Err(_) => Err(type_error(label, "an integer", &Value::String(s))),
                },
                other => Err(type_error(label, "an integer", &other)),
            },
            AttrType::Decimal => match value {
                Value::Number(n) => Ok(Some(Value::Number(n))),
                Value::String(s) if s.is_empty() => Ok(None),
                Value::String(s) => match s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) => Ok(Some(Value::Number(n))),
                    None => Err(type_error(label, "a decimal number", &Value::String(s))),
                },
                other => Err(type_error(label, "a decimal number", &other)),
            },
        }
    }

    fn normalize_complex(&self, value: Value, label: &str) -> Result<Option<Value>, ScimError> {
        let input = match value {
            Value::Object(m) => m,
            Value::String(s) if self.has_value_sub() => {
                if s.is_empty() {
                    return Ok(None);
                }
                let mut m = Map::new();
                m.insert("value".into(), Value::String(s));
                m
            }
            other => return Err(type_error(label, "a complex value (a JSON object)", &other)),
        };
        let mut out = Map::new();
        for (key, v) in input {
            let Some(sub) = self.sub(&key) else {
                return Err(ScimError::invalid_value(format!(
                    "unknown attribute \"{label}.{key}\""
                )));
            };
            if sub.mutability == Mutability::ReadOnly {
                continue;
            }
            let sub_label = format!("{label}.{}", sub.name);
            if let Some(v) = sub.normalize(v, &sub_label)? {
                if out.insert(sub.name.clone(), v).is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "attribute \"{sub_label}\" is given twice"
                    )));
                }
            }
        }
        if let Some(value_def) = self.sub("value") {
            if !out.contains_key(&value_def.name) {
                // A member without a value is a client error; an email whose value Entra
                // removed (`remove emails[type eq "other"].value`) simply goes away.
                if value_def.required && self.name == "members" {
                    return Err(ScimError::invalid_value(format!(
                        "\"{label}.value\" is required"
                    )));
                }
                return Ok(None);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::Object(out)))
    }
}

/// How many elements of a multi-valued complex attribute say `"primary": true`.
pub fn count_primaries(items: &[Value]) -> usize {
    items
        .iter()
        .filter(|v| {
            v.as_object()
                .and_then(|o| o.get("primary"))
                .and_then(Value::as_bool)
                == Some(true)
        })
        .count()
}

/// A 400 invalidValue saying what type `label` needs and quoting (a bounded excerpt of)
/// what came.
pub fn type_error(label: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute \"{label}\" must be {expected}, got {}",
        quote_value(got)
    ))
}

/// A value as compact JSON, cut at a bounded length for error details.
pub fn quote_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_QUOTED {
        return s;
    }
    let cut: String = s.chars().take(MAX_QUOTED).collect();
    format!("{cut}…")
}

/// Whether `s` is an xsd:dateTime as RFC 7643 §2.3.5 requires:
/// `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0, 4),
        digits(5, 2),
        digits(8, 2),
        digits(11, 2),
        digits(14, 2),
        digits(17, 2),
    ) else {
        return false;
    };
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let ok = digits(i + 1, 2).is_some_and(|h| h <= 23)
                && sep(i + 3, b':')
                && digits(i + 4, 2).is_some_and(|m| m <= 59);
            ok && i + 6 == b.len()
        }
        Some(_) => false,
    }
}

/// Which kind of resource a body or a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The core schema URN of this kind.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }
    /// `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// The extension URNs a resource of this kind may carry, in the order they are
    /// listed in `schemas`.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            ResourceKind::User => &[ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA],
            ResourceKind::Group => &[],
        }
    }
    /// The canonical spelling of `key` when it is (case-insensitively) the URN of an
    /// extension of this kind.
    pub fn extension_urn(self, key: &str) -> Option<&'static str> {
        self.extensions()
            .iter()
            .copied()
            .find(|u| u.eq_ignore_ascii_case(key))
    }
}

/// One schema resource: its JSON as served and its parsed attributes.
#[derive(Debug, Clone)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: String,
    /// Short name, e.g. `User`.
    pub name: String,
    /// Parsed top-level attributes.
    pub attributes: Vec<AttrDef>,
    /// The schema resource as served at `/Schemas`.
    pub json: Value,
}

impl SchemaDef {
    fn parse(text: &str, expected_id: &str) -> Result<SchemaDef, String> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| format!("schema {expected_id}: {e}"))?;
        let id = json
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if id != expected_id {
            return Err(format!("schema {expected_id}: the file has id \"{id}\""));
        }
        let name = json
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let attributes = json
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("schema {id}: attributes must be an array"))?
            .iter()
            .map(AttrDef::from_json)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("schema {id}: {e}"))?;
        Ok(SchemaDef {
            id,
            name,
            attributes,
            json,
        })
    }

    /// The top-level attribute called `name` (case-insensitive).
    pub fn attr(&self, name: &str) -> Option<&AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A top-level attribute of a resource and where it lives.
#[derive(Debug, Clone)]
pub struct TopAttr<'a> {
    /// `None` for core attributes (top level of the resource), else the extension URN
    /// whose object holds the attribute.
    pub ext: Option<&'static str>,
    /// Its definition (owned for custom fields, which are built per tenant).
    pub def: Cow<'a, AttrDef>,
}

impl TopAttr<'_> {
    /// The name used in error details: `title`, or the URN-qualified name of an
    /// extension attribute.
    pub fn label(&self) -> String {
        match self.ext {
            Some(urn) => format!("{urn}:{}", self.def.name),
            None => self.def.name.clone(),
        }
    }
}

/// All schemas, loaded once at start from the embedded `scim-schemas/*.json`.
#[derive(Debug, Clone)]
pub struct Schemas {
    user: SchemaDef,
    group: SchemaDef,
    enterprise: SchemaDef,
    /// `meta` (RFC 7643 §3.1) is common to all resources and belongs to no schema.
    meta: AttrDef,
    service_provider_config: Value,
    resource_types: Vec<Value>,
}

impl Schemas {
    /// Parse the embedded JSON. An error names the file and the problem; it can only
    /// come from a broken build, and the server refuses to start.
    pub fn load() -> Result<Schemas, String> {
        let user = SchemaDef::parse(USER_JSON, USER_SCHEMA)?;
        let group = SchemaDef::parse(GROUP_JSON, GROUP_SCHEMA)?;
        let enterprise = SchemaDef::parse(ENTERPRISE_USER_JSON, ENTERPRISE_USER_SCHEMA)?;
        let service_provider_config: Value = serde_json::from_str(SERVICE_PROVIDER_CONFIG_JSON)
            .map_err(|e| format!("ServiceProviderConfig.json: {e}"))?;
        if !service_provider_config.is_object() {
            return Err("ServiceProviderConfig.json: must be an object".into());
        }
        let resource_types: Vec<Value> = serde_json::from_str(RESOURCE_TYPES_JSON)
            .map_err(|e| format!("ResourceTypes.json: {e}"))?;
        let meta = AttrDef::from_json(&json!({
            "name": "meta", "type": "complex", "multiValued": false, "required": false,
            "caseExact": false, "mutability": "readOnly", "returned": "default",
            "description": "Resource metadata, maintained by the service provider.",
            "subAttributes": [
                {"name": "resourceType", "type": "string", "caseExact": true, "mutability": "readOnly"},
                {"name": "created", "type": "dateTime", "mutability": "readOnly"},
                {"name": "lastModified", "type": "dateTime", "mutability": "readOnly"},
                {"name": "location", "type": "reference", "referenceTypes": ["uri"], "caseExact": true, "mutability": "readOnly"},
                {"name": "version", "type": "string", "caseExact": true, "mutability": "readOnly"}
            ]
        }))?;
        Ok(Schemas {
            user,
            group,
            enterprise,
            meta,
            service_provider_config,
            resource_types,
        })
    }

    /// The ServiceProviderConfig resource (without `meta.location`).
    pub fn service_provider_config(&self) -> &Value {
        &self.service_provider_config
    }

    /// The User and Group ResourceType resources (without `meta.location`).
    pub fn resource_types(&self) -> &[Value] {
        &self.resource_types
    }

    /// The ResourceType resources for a tenant: as [`Schemas::resource_types`], and when
    /// the tenant has custom fields the User type also lists [`CUSTOM_USER_SCHEMA`] as
    /// an optional extension.
    pub fn resource_types_for(&self, custom: &[CustomField]) -> Vec<Value> {
        let mut types = self.resource_types.clone();
        if custom.is_empty() {
            return types;
        }
        for rt in &mut types {
            if rt.get("id").and_then(Value::as_str) != Some("User") {
                continue;
            }
            if let Some(obj) = rt.as_object_mut() {
                let exts = obj
                    .entry("schemaExtensions")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(list) = exts.as_array_mut() {
                    list.push(json!({"schema": CUSTOM_USER_SCHEMA, "required": false}));
                }
            }
        }
        types
    }

    /// The schema resources to serve at `/Schemas` for a tenant: User, Group,
    /// EnterpriseUser and, when the tenant has custom fields, a generated schema
    /// resource for [`CUSTOM_USER_SCHEMA`] listing them.
    pub fn schema_resources(&self, custom: &[CustomField]) -> Vec<Value> {
        let mut out = vec![
            self.user.json.clone(),
            self.group.json.clone(),
            self.enterprise.json.clone(),
        ];
        if !custom.is_empty() {
            let attributes: Vec<Value> = custom.iter().map(|f| f.attr_def().to_json()).collect();
            out.push(json!({
                "schemas": [SCHEMA_SCHEMA],
                "id": CUSTOM_USER_SCHEMA,
                "name": "CustomExtensionName",
                "description": "Custom attributes defined by the tenant",
                "attributes": attributes,
                "meta": {"resourceType": "Schema"},
            }));
        }
        out
    }

    /// The parsed core User schema.
    pub fn user_schema(&self) -> &SchemaDef {
        &self.user
    }
    /// The parsed core Group schema.
    pub fn group_schema(&self) -> &SchemaDef {
        &self.group
    }
    /// The parsed Enterprise User extension schema.
    pub fn enterprise_schema(&self) -> &SchemaDef {
        &self.enterprise
    }

    /// The top-level attribute `name` of a `kind` resource, where `urn` is the schema
    /// prefix of the path (none, the core URN, or an extension URN; case-insensitive).
    /// Custom fields come back owned. `None` when no such attribute exists.
    pub fn top_attr<'a>(
        &'a self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        custom: &[CustomField],
    ) -> Option<TopAttr<'a>> {
        let core = match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        };
        let is_core = urn.is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()));
        if is_core {
            let def = core
                .attr(name)
                .or_else(|| name.eq_ignore_ascii_case("meta").then_some(&self.meta))?;
            return Some(TopAttr {
                ext: None,
                def: Cow::Borrowed(def),
            });
        }
        let ext = kind.extension_urn(urn?)?;
        if ext == ENTERPRISE_USER_SCHEMA {
            let def = self.enterprise.attr(name)?;
            return Some(TopAttr {
                ext: Some(ext),
                def: Cow::Borrowed(def),
            });
        }
        let field = custom.iter().find(|f| f.name.eq_ignore_ascii_case(name))?;
        Some(TopAttr {
            ext: Some(ext),
            def: Cow::Owned(field.attr_def()),
        })
    }

    /// The detail of a 400 for an unknown attribute. For the custom extension it says
    /// how to define the field; `value` (when known) suggests its type. The tenant slug
    /// is not known at this layer, so the command shows a literal `<tenant>`.
    pub fn unknown_attr_detail(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        value: Option<&Value>,
    ) -> String {
        match urn {
            // A bare URN key (`urn:…:2.0:User`) names a schema, not an attribute.
            Some(u) if name.is_empty() => {
                format!("{u} is not a schema extension of a {}", kind.name())
            }
            Some(u) if u.eq_ignore_ascii_case(CUSTOM_USER_SCHEMA) && kind == ResourceKind::User => {
                let field_type = value.map_or(FieldType::String, guess_field_type);
                let multi = if value.is_some_and(Value::is_array) {
                    " --multi-valued"
                } else {
                    ""
                };
                format!(
                    "unknown attribute \"{name}\" of {CUSTOM_USER_SCHEMA}: define it first with \
                     `scimd field add <tenant> {name} --type {field_type}{multi}` or on the admin page"
                )
            }
            Some(u)
                if u.eq_ignore_ascii_case(kind.core_schema())
                    || kind.extension_urn(u).is_some() =>
            {
                format!("unknown attribute \"{name}\" of {u}")
            }
            Some(u) => format!(
                "unknown attribute \"{u}:{name}\": {u} is not a schema of a {}",
                kind.name()
            ),
            None => format!("unknown attribute \"{name}\" of {}", kind.core_schema()),
        }
    }

    /// Attribute definition for a path on a User (URN-qualified or not,
    /// case-insensitive), including the tenant's custom fields; `path.sub` selects a
    /// sub-attribute.
    pub fn user_attr<'a>(
        &'a self,
        path: &AttrPath,
        custom: &[CustomField],
    ) -> Option<Cow<'a, AttrDef>> {
        let top = self.top_attr(ResourceKind::User, path.urn.as_deref(), &path.name, custom)?;
        match (&path.sub, top.def) {
            (None, def) => Some(def),
            (Some(sub), Cow::Borrowed(def)) => def.sub(sub).map(Cow::Borrowed),
            (Some(sub), Cow::Owned(def)) => def.sub(sub).cloned().map(Cow::Owned),
        }
    }

    /// Attribute definition for a path on a Group.
    pub fn group_attr(&self, path: &AttrPath) -> Option<&AttrDef> {
        let top = self.top_attr(ResourceKind::Group, path.urn.as_deref(), &path.name, &[])?;
        let Cow::Borrowed(def) = top.def else {
            return None;
        };
        match &path.sub {
            None => Some(def),
            Some(sub) => def.sub(sub),
        }
    }

    /// Whether string comparison on this User attribute is case-exact (for filter
    /// evaluation). Unknown attributes and custom fields compare case-insensitively.
    pub fn user_case_exact(&self, path: &AttrPath) -> bool {
        self.user_attr(path, &[]).is_some_and(|d| d.case_exact)
    }

    /// Whether string comparison on this Group attribute is case-exact.
    pub fn group_case_exact(&self, path: &AttrPath) -> bool {
        self.group_attr(path).is_some_and(|d| d.case_exact)
    }

    /// Validate and normalise an incoming User body (POST, PUT, and the result of a
    /// PATCH). Returns the body ready to store: canonical attribute names, values
    /// normalised as [`AttrDef::normalize`] describes, `schemas` listing the core URN
    /// and the extensions that hold data; without `id`, `meta`, `groups` and `password`
    /// (server-set or never stored). Errors are 400 with a detail naming the attribute.
    pub fn validate_user(&self, body: Value, custom: &[CustomField]) -> Result<Value, ScimError> {
        self.validate(ResourceKind::User, body, custom)
    }

    /// Validate and normalise an incoming Group body, as [`Schemas::validate_user`]
    /// does; `members` elements are type-checked only (each needs a `value`).
    pub fn validate_group(&self, body: Value) -> Result<Value, ScimError> {
        self.validate(ResourceKind::Group, body, &[])
    }

    fn validate(
        &self,
        kind: ResourceKind,
        body: Value,
        custom: &[CustomField],
    ) -> Result<Value, ScimError> {
        let Value::Object(mut input) = body else {
            return Err(ScimError::invalid_syntax(format!(
                "a {} must be a JSON object",
                kind.name()
            )));
        };
        let schemas_key = key_ci(&input, "schemas");
        check_schemas(kind, schemas_key.and_then(|k| input.remove(&k)).as_ref())?;
        let mut out = Map::new();
        for (key, value) in input {
            if let Some(urn) = kind.extension_urn(&key) {
                match value {
                    Value::Null => {}
                    Value::Object(attrs) => {
                        for (name, v) in attrs {
                            // Clients serialise extension objects with their own
                            // `schemas`; the resource's `schemas` already says it.
                            if name.eq_ignore_ascii_case("schemas") {
                                continue;
                            }
                            self.put_attr(kind, Some(urn), &name, v, custom, &mut out)?;
                        }
                    }
                    other => return Err(type_error(urn, "an object", &other)),
                }
            } else {
                let (urn, name) = split_urn(&key);
                self.put_attr(kind, urn, name, value, custom, &mut out)?;
            }
        }
        let core = match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        };
        // `emails` is advertised as required (scimd identifies users by mail), but the
        // service enforces it when it derives the identity mail, with the detail an Entra
        // admin needs; here it would only duplicate that rule.
        for def in core
            .attributes
            .iter()
            .filter(|d| d.required && d.name != "emails")
        {
            if !out.contains_key(&def.name) {
                return Err(ScimError::invalid_value(format!(
                    "{} is required",
                    def.name
                )));
            }
        }
        // `schemas` follows the data: Entra sends extension objects whose URN it left out.
        let mut schemas = vec![Value::String(kind.core_schema().to_string())];
        for urn in kind.extensions() {
            if out.contains_key(*urn) {
                schemas.push(Value::String((*urn).to_string()));
            }
        }
        out.insert("schemas".into(), Value::Array(schemas));
        Ok(Value::Object(out))
    }

    /// Check, normalise and place one top-level attribute of a body into `out`.
    fn put_attr(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        value: Value,
        custom: &[CustomField],
        out: &mut Map<String, Value>,
    ) -> Result<(), ScimError> {
        let Some(top) = self.top_attr(kind, urn, name, custom) else {
            return Err(ScimError::invalid_value(self.unknown_attr_detail(
                kind,
                urn,
                name,
                Some(&value),
            )));
        };
        // Server-set attributes (id, meta, groups) are echoed by clients: ignore them.
        // Passwords are never stored.
        if matches!(
            top.def.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ) {
            return Ok(());
        }
        let label = top.label();
        let Some(v) = top.def.normalize(value, &label)? else {
            return Ok(());
        };
        let container = match top.ext {
            None => out,
            Some(ext) => match out.entry(ext).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => m,
                // Unreachable in practice (only this function writes there); fail safe.
                _ => return Err(ScimError::invalid_value(format!("{ext} must be an object"))),
            },
        };
        if container.insert(top.def.name.clone(), v).is_some() {
            return Err(ScimError::invalid_value(format!(
                "attribute \"{label}\" is given twice"
            )));
        }
        Ok(())
    }
}

/// `schemas` of a body must list the core URN and only URNs this kind accepts.
fn check_schemas(kind: ResourceKind, given: Option<&Value>) -> Result<(), ScimError> {
    let core = kind.core_schema();
    let Some(given) = given else {
        return Err(ScimError::invalid_value(format!(
            "schemas is required and must contain \"{core}\""
        )));
    };
    let Some(list) = given.as_array() else {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must be an array of schema URNs, got {}",
            quote_value(given)
        )));
    };
    let mut has_core = false;
    for item in list {
        let Some(urn) = item.as_str() else {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be an array of schema URNs, got {}",
                quote_value(item)
            )));
        };
        if urn.eq_ignore_ascii_case(core) {
            has_core = true;
        } else if kind.extension_urn(urn).is_some()
            || (kind == ResourceKind::Group && urn.eq_ignore_ascii_case(ENTRA_GROUP_SCHEMA))
        {
            // Accepted; the stored list is rebuilt from the data.
        } else {
            let mut accepted = vec![core];
            accepted.extend_from_slice(kind.extensions());
            return Err(ScimError::invalid_value(format!(
                "unknown schema \"{urn}\" in schemas; a {} accepts {}",
                kind.name(),
                accepted.join(", ")
            )));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!(
            "schemas must contain \"{core}\""
        )));
    }
    Ok(())
}

/// The custom field type a value suggests, for the "define it first" hint.
fn guess_field_type(v: &Value) -> FieldType {
    match v {
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Integer,
        Value::Number(_) => FieldType::Decimal,
        Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            FieldType::Boolean
        }
        Value::String(s) if is_date_time(s) => FieldType::DateTime,
        Value::Array(items) => items.first().map_or(FieldType::String, guess_field_type),
        _ => FieldType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

    fn schemas() -> Schemas {
        Schemas::load().expect("embedded schemas load")
    }

    fn custom() -> Vec<CustomField> {
        vec![
            CustomField {
                name: "postalCode".into(),
                field_type: FieldType::String,
                multi_valued: false,
            },
            CustomField {
                name: "seats".into(),
                field_type: FieldType::Integer,
                multi_valued: false,
            },
            CustomField {
                name: "onboarded".into(),
                field_type: FieldType::DateTime,
                multi_valued: false,
            },
            CustomField {
                name: "tags".into(),
                field_type: FieldType::String,
                multi_valued: true,
            },
        ]
    }

    /// Entra's POST /Users body, as its provisioning service sends it.
    fn entra_post() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "externalId": "alice",
            "userName": "alice@contoso.com",
            "active": "True",
            "displayName": "Alice Martin",
            "title": "Engineer",
            "name": {"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Alice"},
            "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
            "addresses": [{"type": "work", "country": "FR", "primary": false}],
            "meta": {"resourceType": "User"},
            "roles": [],
            ENTERPRISE_USER_SCHEMA: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "m-1"}},
            CUSTOM_USER_SCHEMA: {"postalCode": "75001"}
        })
    }

    fn err(r: Result<Value, ScimError>) -> ScimError {
        r.expect_err("must fail")
    }

    #[test]
    fn every_json_file_parses_and_schemas_load() {
        for (name, text) in [
            ("User.json", USER_JSON),
            ("Group.json", GROUP_JSON),
            ("EnterpriseUser.json", ENTERPRISE_USER_JSON),
            ("ResourceTypes.json", RESOURCE_TYPES_JSON),
            ("ServiceProviderConfig.json", SERVICE_PROVIDER_CONFIG_JSON),
        ] {
            let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !text.contains("\"location\""),
                "{name} must leave meta.location to the server"
            );
            assert!(v.is_object() || v.is_array(), "{name}");
        }
        let s = schemas();
        assert_eq!(s.user_schema().id, USER_SCHEMA);
        assert_eq!(s.group_schema().id, GROUP_SCHEMA);
        assert_eq!(s.enterprise_schema().id, ENTERPRISE_USER_SCHEMA);
        for schema in s.schema_resources(&[]) {
            assert_eq!(schema["schemas"], json!([SCHEMA_SCHEMA]));
            assert!(schema["name"].is_string() && schema["description"].is_string());
        }
    }

    /// Every attribute carries every characteristic of RFC 7643 §7.
    #[test]
    fn schema_attributes_have_full_characteristics() {
        fn check(attr: &Value, at: &str) {
            let name = attr["name"].as_str().unwrap_or_default();
            for key in [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
            ] {
                assert!(attr.get(key).is_some(), "{at}.{name} lacks {key}");
            }
            let t = attr["type"].as_str().unwrap_or_default();
            if t == "complex" {
                let subs = attr["subAttributes"]
                    .as_array()
                    .expect("complex has subAttributes");
                for sub in subs {
                    check(sub, &format!("{at}.{name}"));
                }
            }
            if t == "reference" {
                assert!(
                    attr["referenceTypes"].is_array(),
                    "{at}.{name} lacks referenceTypes"
                );
            }
        }
        for schema in schemas().schema_resources(&[]) {
            let id = schema["id"].as_str().unwrap_or_default().to_string();
            for attr in schema["attributes"].as_array().expect("attributes") {
                check(attr, &id);
            }
        }
    }

    #[test]
    fn user_group_and_enterprise_list_the_expected_attributes() {
        let s = schemas();
        let names = |d: &SchemaDef| {
            d.attributes
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(s.user_schema()),
            [
                "id",
                "externalId",
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates"
            ]
        );
        assert_eq!(
            names(s.group_schema()),
            ["id", "externalId", "displayName", "members"]
        );
        assert_eq!(
            names(s.enterprise_schema()),
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
        let user_name = s.user_schema().attr("userName").expect("userName");
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let password = s.user_schema().attr("password").expect("password");
        assert_eq!(
            (password.mutability, password.returned),
            (Mutability::WriteOnly, Returned::Never)
        );
        assert_eq!(
            s.user_schema().attr("groups").map(|g| g.mutability),
            Some(Mutability::ReadOnly)
        );
        assert_eq!(
            s.user_schema().attr("active").map(|g| g.attr_type),
            Some(AttrType::Boolean)
        );
        let addr: Vec<&str> = s
            .user_schema()
            .attr("addresses")
            .expect("addresses")
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            addr,
            [
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary"
            ]
        );
        for mv in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let subs: Vec<&str> = s
                .user_schema()
                .attr(mv)
                .expect(mv)
                .sub_attributes
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            assert_eq!(subs, ["value", "display", "type", "primary"], "{mv}");
        }
        let members = s.group_schema().attr("members").expect("members");
        let subs: Vec<&str> = members
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(subs, ["value", "$ref", "type", "display"]);
        assert_eq!(
            members.sub("type").map(|t| t.canonical_values.clone()),
            Some(vec!["User".to_string(), "Group".to_string()])
        );
        assert!(s
            .group_schema()
            .attr("displayName")
            .is_some_and(|d| d.required));
        let manager = s.enterprise_schema().attr("manager").expect("manager");
        let subs: Vec<&str> = manager
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(subs, ["value", "$ref", "displayName"]);
    }

    #[test]
    fn service_provider_config_and_resource_types() {
        let s = schemas();
        let spc = s.service_provider_config();
        assert_eq!(spc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(spc["patch"]["supported"], json!(true));
        assert_eq!(
            spc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 1048576})
        );
        assert_eq!(
            spc["filter"],
            json!({"supported": true, "maxResults": 1000})
        );
        assert_eq!(spc["changePassword"]["supported"], json!(false));
        assert_eq!(spc["sort"]["supported"], json!(true));
        assert_eq!(spc["etag"]["supported"], json!(true));
        let auth = &spc["authenticationSchemes"][0];
        assert_eq!(auth["type"], json!("oauthbearertoken"));
        assert_eq!(auth["name"], json!("OAuth Bearer Token"));
        assert_eq!(auth["primary"], json!(true));
        assert!(auth["description"].is_string());

        let rts = s.resource_types();
        assert_eq!(rts.len(), 2);
        assert_eq!(rts[0]["id"], json!("User"));
        assert_eq!(rts[0]["endpoint"], json!("/Users"));
        assert_eq!(rts[0]["schema"], json!(USER_SCHEMA));
        assert_eq!(
            rts[0]["schemaExtensions"],
            json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}])
        );
        assert_eq!(rts[1]["id"], json!("Group"));
        assert_eq!(rts[1]["schema"], json!(GROUP_SCHEMA));
        assert_eq!(rts[0]["schemas"], json!([RESOURCE_TYPE_SCHEMA]));

        assert_eq!(s.resource_types_for(&[]), rts.to_vec());
        let with_custom = s.resource_types_for(&custom());
        assert_eq!(
            with_custom[0]["schemaExtensions"],
            json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}, {"schema": CUSTOM_USER_SCHEMA, "required": false}])
        );
        assert_eq!(with_custom[1], rts[1]);
    }

    #[test]
    fn schema_resources_add_the_custom_extension_only_when_defined() {
        let s = schemas();
        assert_eq!(s.schema_resources(&[]).len(), 3);
        let all = s.schema_resources(&custom());
        assert_eq!(all.len(), 4);
        let c = &all[3];
        assert_eq!(c["id"], json!(CUSTOM_USER_SCHEMA));
        assert_eq!(c["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(c["attributes"][0]["name"], json!("postalCode"));
        assert_eq!(c["attributes"][0]["type"], json!("string"));
        assert_eq!(c["attributes"][2]["type"], json!("dateTime"));
        assert_eq!(c["attributes"][3]["multiValued"], json!(true));
        // The generated attributes parse back as definitions.
        for a in c["attributes"].as_array().expect("attributes") {
            let def = AttrDef::from_json(a).expect("parses");
            assert_eq!(def.mutability, Mutability::ReadWrite);
        }
    }

    #[test]
    fn field_type_parse_and_as_str() {
        for t in FieldType::ALL {
            assert_eq!(FieldType::parse(t.as_str()), Some(t));
            assert_eq!(t.as_str().parse::<FieldType>(), Ok(t));
        }
        assert_eq!(FieldType::parse("DATETIME"), Some(FieldType::DateTime));
        assert_eq!(FieldType::parse("boolean"), Some(FieldType::Boolean));
        assert_eq!(FieldType::parse("complex"), None);
        let e = "blob".parse::<FieldType>().expect_err("unknown");
        assert!(e.contains("blob") && e.contains("dateTime"), "{e}");
    }

    #[test]
    fn attribute_lookup_is_case_insensitive_and_urn_aware() {
        let s = schemas();
        let c = custom();
        let p = |t: &str| AttrPath::parse(t).expect("path");
        assert_eq!(
            s.user_attr(&p("USERNAME"), &c).map(|d| d.name.clone()),
            Some("userName".into())
        );
        assert_eq!(
            s.user_attr(&p("name.GIVENNAME"), &c)
                .map(|d| d.name.clone()),
            Some("givenName".into())
        );
        assert_eq!(
            s.user_attr(
                &p("urn:ietf:params:scim:schemas:core:2.0:User:emails.value"),
                &c
            )
            .map(|d| d.name.clone()),
            Some("value".into())
        );
        let dept = format!("{ENTERPRISE_USER_SCHEMA}:department");
        assert_eq!(
            s.user_attr(&p(&dept), &c).map(|d| d.name.clone()),
            Some("department".into())
        );
        let mgr = format!("{ENTERPRISE_USER_SCHEMA}:manager.value");
        assert!(s.user_attr(&p(&mgr), &c).is_some_and(|d| d.case_exact));
        let seats = format!("{CUSTOM_USER_SCHEMA}:seats");
        assert_eq!(
            s.user_attr(&p(&seats), &c).map(|d| d.attr_type),
            Some(AttrType::Integer)
        );
        assert!(s.user_attr(&p(&seats), &[]).is_none());
        assert!(
            s.user_attr(&p("department"), &c).is_none(),
            "extension attributes need their URN"
        );
        assert!(s.user_attr(&p("members"), &c).is_none());
        assert!(s
            .user_attr(&p("meta.lastModified"), &c)
            .is_some_and(|d| d.attr_type == AttrType::DateTime));
        assert!(s.group_attr(&p("members.value")).is_some());
        assert!(s.group_attr(&p("displayName")).is_some_and(|d| d.required));
        assert!(s.group_attr(&p("userName")).is_none());
        assert!(s.user_case_exact(&p("id")));
        assert!(s.user_case_exact(&p("externalId")));
        assert!(!s.user_case_exact(&p("userName")));
        assert!(!s.user_case_exact(&p("emails.value")));
        assert!(!s.user_case_exact(&p("nosuch")));
        assert!(s.group_case_exact(&p("externalId")));
        assert!(!s.group_case_exact(&p("displayName")));
    }

    #[test]
    fn validate_user_accepts_entra_post() {
        let s = schemas();
        let out = s.validate_user(entra_post(), &custom()).expect("valid");
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA],
                "externalId": "alice",
                "userName": "alice@contoso.com",
                "active": true,
                "displayName": "Alice Martin",
                "title": "Engineer",
                "name": {"formatted": "Alice Martin", "familyName": "Martin", "givenName": "Alice"},
                "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
                "addresses": [{"type": "work", "country": "FR", "primary": false}],
                ENTERPRISE_USER_SCHEMA: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "m-1"}},
                CUSTOM_USER_SCHEMA: {"postalCode": "75001"}
            })
        );
        // Validation is idempotent: the stored form validates to itself.
        assert_eq!(s.validate_user(out.clone(), &custom()), Ok(out));
    }

    #[test]
    fn validate_user_ignores_schemas_inside_extension_objects() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                    "userName": "u",
                    ENTERPRISE_USER_SCHEMA: {"schemas": [ENTERPRISE_USER_SCHEMA], "employeeNumber": "7"}
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        // An extension object holding only its schemas carries no data.
        let out = s
            .validate_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"schemas": []}}),
                &[],
            )
            .expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
    }

    #[test]
    fn validate_user_normalises_names_booleans_and_single_values() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "SCHEMAS": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
                    "username": "bob",
                    "ACTIVE": "false",
                    "Emails": {"Value": "bob@x.com", "Type": "work", "Primary": "True"},
                    "NAME": {"GivenName": "Bob"},
                    "phoneNumbers": [{"value": "+33"}, {"value": "+33"}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Manager": "boss-id"},
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bob",
                "active": false,
                "emails": [{"value": "bob@x.com", "type": "work", "primary": true}],
                "name": {"givenName": "Bob"},
                "phoneNumbers": [{"value": "+33"}],
                ENTERPRISE_USER_SCHEMA: {"manager": {"value": "boss-id"}}
            })
        );
    }

    #[test]
    fn validate_user_drops_server_set_unassigned_and_empty_values() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                    "id": "client-chosen", "meta": {"resourceType": "User", "created": "x"},
                    "groups": [{"value": "g1"}], "password": "hunter2",
                    "userName": "carol", "title": null, "nickName": "", "roles": [], "emails": [null],
                    "name": {}, "addresses": [{}],
                    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "", "displayName": "Boss"}, "department": null},
                }),
                &[],
            )
            .expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "carol"}));
    }

    #[test]
    fn validate_user_manager_forms() {
        let s = schemas();
        let body = |m: Value| json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": m}});
        let mgr = |out: Value| out[ENTERPRISE_USER_SCHEMA]["manager"].clone();
        assert_eq!(
            mgr(s.validate_user(body(json!("m-9")), &[]).expect("ok")),
            json!({"value": "m-9"})
        );
        assert_eq!(
            mgr(s
                .validate_user(
                    body(json!({"value": "m-9", "displayName": "ro", "$ref": "../Users/m-9"})),
                    &[]
                )
                .expect("ok")),
            json!({"value": "m-9", "$ref": "../Users/m-9"})
        );
        assert_eq!(
            s.validate_user(body(json!("")), &[]).expect("ok"),
            json!({"schemas": [USER_SCHEMA], "userName": "u"})
        );
        assert_eq!(
            s.validate_user(body(json!({"value": ""})), &[])
                .expect("ok")["schemas"],
            json!([USER_SCHEMA])
        );
        let e = err(s.validate_user(body(json!(7)), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("manager"), "{}", e.detail);
    }

    #[test]
    fn validate_user_type_errors() {
        let s = schemas();
        let c = custom();
        let with = |k: &str, v: Value| {
            let mut b = json!({"schemas": [USER_SCHEMA], "userName": "u"});
            b[k] = v;
            b
        };
        let e = err(s.validate_user(with("active", json!("maybe")), &c));
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            "attribute \"active\" must be a boolean, got \"maybe\""
        );
        let e = err(s.validate_user(with("title", json!(5)), &c));
        assert_eq!(e.detail, "attribute \"title\" must be a string, got 5");
        let e = err(s.validate_user(
            with("emails", json!([{"value": "a", "primary": "yes"}])),
            &c,
        ));
        assert_eq!(
            e.detail,
            "attribute \"emails.primary\" must be a boolean, got \"yes\""
        );
        let e = err(s.validate_user(with("name", json!("Bob")), &c));
        assert!(
            e.detail.contains("\"name\" must be a complex value"),
            "{}",
            e.detail
        );
        let e = err(s.validate_user(with("emails", json!([{"value": "a", "kind": "x"}])), &c));
        assert_eq!(e.detail, "unknown attribute \"emails.kind\"");
        let long = "x".repeat(500);
        let e = err(s.validate_user(with("active", json!(long)), &c));
        assert!(
            e.detail.len() < 200,
            "quoted values are bounded: {}",
            e.detail
        );

        let ext = |k: &str, v: Value| json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {k: v}});
        let out = s
            .validate_user(ext("seats", json!("12")), &c)
            .expect("numeric string");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["seats"], json!(12));
        let e = err(s.validate_user(ext("seats", json!("twelve")), &c));
        assert_eq!(
            e.detail,
            format!("attribute \"{CUSTOM_USER_SCHEMA}:seats\" must be an integer, got \"twelve\"")
        );
        assert!(s
            .validate_user(ext("onboarded", json!("2024-02-29T10:00:00.5+01:00")), &c)
            .is_ok());
        let e = err(s.validate_user(ext("onboarded", json!("2023-02-29T10:00:00Z")), &c));
        assert!(e.detail.contains("dateTime"), "{}", e.detail);
        let out = s
            .validate_user(ext("tags", json!("solo")), &c)
            .expect("wrapped");
        assert_eq!(out[CUSTOM_USER_SCHEMA]["tags"], json!(["solo"]));
    }

    #[test]
    fn validate_user_rejects_two_primaries() {
        let s = schemas();
        let b = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}]});
        let e = err(s.validate_user(b, &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "at most one value of \"emails\" may have \"primary\": true"
        );
        let b = json!({"schemas": [USER_SCHEMA], "userName": "u",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]});
        assert!(s.validate_user(b, &[]).is_ok());
    }

    #[test]
    fn validate_user_unknown_attributes() {
        let s = schemas();
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "shoeSize": 42}),
            &[],
        ));
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            format!("unknown attribute \"shoeSize\" of {USER_SCHEMA}")
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"floor": "3"}}),
            &[],
        ));
        assert_eq!(
            e.detail,
            format!("unknown attribute \"floor\" of {ENTERPRISE_USER_SCHEMA}")
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"postalCode": "75001"}}),
            &[],
        ));
        assert_eq!(
            e.detail,
            "unknown attribute \"postalCode\" of urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User: \
             define it first with `scimd field add <tenant> postalCode --type string` or on the admin page"
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"isVip": "True"}}),
            &[],
        ));
        assert!(e.detail.contains("--type boolean` or"), "{}", e.detail);
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"skills": ["a", "b"]}}),
            &[],
        ));
        assert!(
            e.detail
                .contains("`scimd field add <tenant> skills --type string --multi-valued`"),
            "{}",
            e.detail
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"hired": "2024-01-01T00:00:00Z"}}),
            &[],
        ));
        assert!(e.detail.contains("--type dateTime"), "{}", e.detail);
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "urn:acme:v1:User:x": 1}),
            &[],
        ));
        assert!(e.detail.contains("urn:acme:v1:User"), "{}", e.detail);
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "urn:acme:ext:2.0:User": {"x": 1}}),
            &[],
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("urn:acme:ext:2.0:User"), "{}", e.detail);
    }

    #[test]
    fn validate_user_schemas_rules() {
        let s = schemas();
        let e = err(s.validate_user(json!({"userName": "u"}), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains(USER_SCHEMA), "{}", e.detail);
        let e = err(s.validate_user(json!({"schemas": [GROUP_SCHEMA], "userName": "u"}), &[]));
        assert!(
            e.detail.contains(GROUP_SCHEMA),
            "unknown URN named: {}",
            e.detail
        );
        let e = err(s.validate_user(
            json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "u"}),
            &[],
        ));
        assert_eq!(e.detail, format!("schemas must contain \"{USER_SCHEMA}\""));
        let e = err(s.validate_user(json!({"schemas": USER_SCHEMA, "userName": "u"}), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = err(s.validate_user(json!([1, 2]), &[]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        // The ADSCIM group URN is for groups only.
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA, ENTRA_GROUP_SCHEMA], "userName": "u"}),
            &[],
        ));
        assert!(e.detail.contains(ENTRA_GROUP_SCHEMA), "{}", e.detail);
        // Extension listed without data: dropped from the stored list.
        let out = s
            .validate_user(json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM_USER_SCHEMA], "userName": "u"}), &[])
            .expect("ok");
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        // Custom data whose URN is missing from schemas: accepted, URN added.
        let out = s
            .validate_user(json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"postalCode": "1"}}), &custom())
            .expect("ok");
        assert_eq!(out["schemas"], json!([USER_SCHEMA, CUSTOM_USER_SCHEMA]));
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: "Sales"}),
            &[],
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn validate_user_requires_user_name() {
        let s = schemas();
        for b in [
            json!({"schemas": [USER_SCHEMA]}),
            json!({"schemas": [USER_SCHEMA], "userName": ""}),
            json!({"schemas": [USER_SCHEMA], "userName": null}),
        ] {
            let e = err(s.validate_user(b, &[]));
            assert_eq!(
                (e.scim_type, e.detail.as_str()),
                (Some(ScimType::InvalidValue), "userName is required")
            );
        }
        let e = err(s.validate_user(json!({"schemas": [USER_SCHEMA], "userName": 12}), &[]));
        assert_eq!(e.detail, "attribute \"userName\" must be a string, got 12");
    }

    #[test]
    fn validate_user_qualified_keys_and_duplicates() {
        let s = schemas();
        let out = s
            .validate_user(
                json!({
                    "schemas": [USER_SCHEMA],
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName": "u",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
                }),
                &[],
            )
            .expect("ok");
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"department": "Ops"}})
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "USERNAME": "v"}),
            &[],
        ));
        assert_eq!(e.detail, "attribute \"userName\" is given twice");
    }

    #[test]
    fn validate_group_rules() {
        let s = schemas();
        let out = s
            .validate_group(json!({
                "schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA],
                "externalId": "g-ext", "displayName": "Sales", "id": "x", "meta": {"resourceType": "Group"},
                "members": [{"value": "u1"}, {"Value": "u2", "type": "User", "display": "Two", "$ref": "../Users/u2"}],
            }))
            .expect("ok");
        assert_eq!(
            out,
            json!({
                "schemas": [GROUP_SCHEMA], "externalId": "g-ext", "displayName": "Sales",
                "members": [{"value": "u1"}, {"value": "u2", "type": "User", "display": "Two", "$ref": "../Users/u2"}],
            })
        );
        let e = err(s.validate_group(json!({"schemas": [GROUP_SCHEMA]})));
        assert_eq!(e.detail, "displayName is required");
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"type": "User"}]}),
        ));
        assert_eq!(e.detail, "\"members.value\" is required");
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": 3}]}),
        ));
        assert_eq!(
            e.detail,
            "attribute \"members.value\" must be a string, got 3"
        );
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA], "displayName": "G"}),
        ));
        assert!(e.detail.contains(ENTERPRISE_USER_SCHEMA), "{}", e.detail);
        let e = err(s.validate_group(json!({"schemas": [USER_SCHEMA], "displayName": "G"})));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "userName": "x"}),
        ));
        assert_eq!(
            e.detail,
            format!("unknown attribute \"userName\" of {GROUP_SCHEMA}")
        );
    }

    #[test]
    fn date_times() {
        for ok in [
            "2008-01-23T04:56:22Z",
            "2008-01-23T04:56:22.123Z",
            "2024-02-29t00:00:00+05:30",
            "2008-01-23T04:56:22",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "",
            "2008-01-23",
            "2008-13-01T00:00:00Z",
            "2008-01-32T00:00:00Z",
            "2008-01-23T24:00:00Z",
            "2008-01-23T04:56:22.Z",
            "2008-01-23T04:56:22+0100",
            "2008-01-23T04:56:22Zjunk",
            "２００８-01-23T04:56:22Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
