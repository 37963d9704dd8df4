//! SCIM schemas (RFC 7643 §7, §8.7): the schema, resource type and service provider
//! documents embedded from `scim-schemas/*.json`, the tenant's custom extension fields,
//! and the validation that turns an incoming User or Group body (including Entra's
//! dialect, whose rules are in [`crate::scim::entra`]: `"True"` strings, bare manager ids,
//! extension objects missing from `schemas`) into the canonical JSON that scimd stores.
//!
//! This file holds the attribute definitions every part shares ([`AttrDef`] and its
//! characteristics); the rest is one concern a file:
//!
//! - `urn.rs`: schema URNs, the extensions of each [`ResourceKind`], a body's `schemas`;
//! - `value.rs`: value coercion: one value against its definition
//!   ([`AttrDef::normalize`]), a whole body against the registry
//!   ([`Schemas::validate_user`], [`Schemas::validate_group`]);
//! - `filters.rs`: filters against the schemas (unknown attributes are refused);
//! - `registry.rs`: the registry: the embedded schemas, the tenant's custom fields
//!   ([`CustomField`]), attribute lookups by path and their case-exactness.

use serde_json::{json, Map, Value};

mod filters;
mod registry;
#[cfg(test)]
mod test_util;
mod urn;
mod value;

pub use crate::scim::entra::ENTRA_GROUP_SCHEMA;
pub use filters::unknown_in_value_filter;
pub use registry::{CustomField, FieldType, SchemaDef, Schemas, TopAttr};
pub use urn::{
    ResourceKind, BULK_REQUEST_SCHEMA, CUSTOM_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ERROR_SCHEMA,
    GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, PATCH_OP_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA,
    SEARCH_REQUEST_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA,
};
pub use value::{count_primaries, is_date_time, quote_value, type_error, MAX_VALUES};

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

    /// The detail of a 400 for `label.key`, a sub-attribute this attribute does not have:
    /// it names it and lists the sub-attributes there are.
    pub fn unknown_sub_detail(&self, label: &str, key: &str) -> String {
        if self.sub_attributes.is_empty() {
            return format!(
                "unknown attribute \"{label}.{key}\": \"{label}\" has no sub-attributes"
            );
        }
        let names: Vec<&str> = self
            .sub_attributes
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        format!(
            "unknown attribute \"{label}.{key}\": the sub-attributes of \"{label}\" are {}",
            names.join(", ")
        )
    }

    /// Whether this is a complex attribute that has a `value` sub-attribute (emails,
    /// members, manager…): such a value means nothing without its `value`.
    pub fn has_value_sub(&self) -> bool {
        self.attr_type == AttrType::Complex && self.sub("value").is_some()
    }
}
