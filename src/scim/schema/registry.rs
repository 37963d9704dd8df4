//! The registry: the schemas embedded from `scim-schemas/*.json` (served at `/Schemas`,
//! `/ResourceTypes` and `/ServiceProviderConfig`), the tenant's custom extension fields, and
//! the lookups by path that PATCH, validation and filters use (definitions and
//! case-exactness).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use super::value::guess_field_type;
use super::{
    AttrDef, AttrType, Mutability, ResourceKind, Returned, Uniqueness, CUSTOM_USER_SCHEMA,
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA,
};
use crate::scim::path::AttrPath;

const USER_JSON: &str = include_str!("../../../scim-schemas/User.json");
const GROUP_JSON: &str = include_str!("../../../scim-schemas/Group.json");
const ENTERPRISE_USER_JSON: &str = include_str!("../../../scim-schemas/EnterpriseUser.json");
const RESOURCE_TYPES_JSON: &str = include_str!("../../../scim-schemas/ResourceTypes.json");
const SERVICE_PROVIDER_CONFIG_JSON: &str =
    include_str!("../../../scim-schemas/ServiceProviderConfig.json");

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
    pub(super) user: SchemaDef,
    pub(super) group: SchemaDef,
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

    /// The detail of a 400 for an unknown attribute: it names the attribute and says what to
    /// do. For the custom extension it says how to define the field; `value` (when known)
    /// suggests its type. The tenant slug is not known at this layer, so the command shows a
    /// literal `<tenant>`.
    pub fn unknown_attr_detail(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        value: Option<&Value>,
    ) -> String {
        let define = |name: &str| -> String {
            let field_type = value.map_or(FieldType::String, guess_field_type);
            let multi = if value.is_some_and(Value::is_array) {
                " --multi-valued"
            } else {
                ""
            };
            format!("`scimd field add <tenant> {name} --type {field_type}{multi}`")
        };
        // What a client can do about an attribute that is not there.
        let instead = |name: &str| -> String {
            match kind {
                ResourceKind::User => format!(
                    "leave it out (/Schemas lists the attributes of a User), or define it as a \
                     custom attribute with {} and send it under {CUSTOM_USER_SCHEMA}",
                    define(name)
                ),
                ResourceKind::Group => {
                    "leave it out (/Schemas lists the attributes of a Group)".to_string()
                }
            }
        };
        // What a client can do about a schema URN that is not there.
        let other_urn = |u: &str| -> String {
            match kind {
                ResourceKind::User => format!(
                    "{u} is not a schema of a User: send custom attributes under \
                     {CUSTOM_USER_SCHEMA} (define each with `scimd field add <tenant> NAME --type TYPE`; \
                     in Okta, make it the attribute's External namespace) or leave them out"
                ),
                ResourceKind::Group => format!(
                    "{u} is not a schema of a Group, which has no extensions: leave it out"
                ),
            }
        };
        match urn {
            // A bare URN key (`urn:…:2.0:User`) names a schema, not an attribute.
            Some(u) if name.is_empty() => other_urn(u),
            Some(u) if u.eq_ignore_ascii_case(CUSTOM_USER_SCHEMA) && kind == ResourceKind::User => {
                format!(
                    "unknown attribute \"{name}\" of {CUSTOM_USER_SCHEMA}: define it first with \
                     {} or on the admin page",
                    define(name)
                )
            }
            Some(u)
                if u.eq_ignore_ascii_case(kind.core_schema())
                    || kind.extension_urn(u).is_some() =>
            {
                format!("unknown attribute \"{name}\" of {u}: {}", instead(name))
            }
            Some(u) => format!("unknown attribute \"{u}:{name}\": {}", other_urn(u)),
            None => format!(
                "unknown attribute \"{name}\" of {}: {}",
                kind.core_schema(),
                instead(name)
            ),
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
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

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

    /// The interop profile: every `type` sub-attribute declares its canonical values at
    /// /Schemas, as RFC 7643 gives them (an empty list where it gives none).
    #[test]
    fn every_type_sub_attribute_declares_canonical_values() {
        let mut seen = Vec::new();
        for schema in schemas().schema_resources(&custom()) {
            for attr in schema["attributes"].as_array().expect("attributes") {
                for sub in attr["subAttributes"].as_array().into_iter().flatten() {
                    if sub["name"] == "type" {
                        let name = attr["name"].as_str().unwrap_or_default().to_string();
                        assert!(sub["canonicalValues"].is_array(), "{name}.type");
                        seen.push(name);
                    }
                }
            }
        }
        assert_eq!(
            seen,
            [
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
                "members"
            ]
        );
        let s = schemas();
        let values = |attr: &str| {
            s.user_schema()
                .attr(attr)
                .and_then(|a| a.sub("type"))
                .map(|t| t.canonical_values.clone())
                .unwrap_or_default()
        };
        assert_eq!(values("emails"), ["work", "home", "other"]);
        assert_eq!(values("addresses"), ["work", "home", "other"]);
        assert_eq!(
            values("phoneNumbers"),
            ["work", "home", "mobile", "fax", "pager", "other"]
        );
        assert_eq!(values("photos"), ["photo", "thumbnail"]);
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
    fn validate_user_unknown_attributes() {
        let s = schemas();
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", "shoeSize": 42}),
            &[],
        ));
        assert_eq!(
            (e.status.as_u16(), e.scim_type),
            (400, Some(ScimType::InvalidSyntax))
        );
        assert_eq!(
            e.detail,
            format!(
                "unknown attribute \"shoeSize\" of {USER_SCHEMA}: leave it out (/Schemas lists the \
                 attributes of a User), or define it as a custom attribute with \
                 `scimd field add <tenant> shoeSize --type integer` and send it under {CUSTOM_USER_SCHEMA}"
            )
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"floor": "3"}}),
            &[],
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.starts_with(&format!(
                "unknown attribute \"floor\" of {ENTERPRISE_USER_SCHEMA}: leave it out"
            )),
            "{}",
            e.detail
        );
        let e = err(s.validate_user(
            json!({"schemas": [USER_SCHEMA], "userName": "u", CUSTOM_USER_SCHEMA: {"postalCode": "75001"}}),
            &[],
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
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
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.starts_with("urn:acme:ext:2.0:User is not a schema of a User: send custom \
                 attributes under urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"),
            "{}",
            e.detail
        );
        // A URN-qualified complex attribute is an attribute, not a schema.
        let out = s
            .validate_user(
                json!({"schemas": [USER_SCHEMA], "userName": "u",
                    format!("{ENTERPRISE_USER_SCHEMA}:manager"): {"value": "m-1"}}),
                &[],
            )
            .expect("qualified manager");
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m-1"})
        );
        let e = err(s.validate_group(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "urn:acme:ext:2.0:Group": {"x": 1}}),
        ));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(
            e.detail,
            "urn:acme:ext:2.0:Group is not a schema of a Group, which has no extensions: leave it out"
        );
    }
}
