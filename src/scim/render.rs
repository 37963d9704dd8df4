//! Rendering of stored resources: `id`, `meta` (RFC 7643 §3.1), ETags and ListResponse.

use serde_json::{json, Map, Value};

use super::error::ScimError;
use super::schema::LIST_RESPONSE_SCHEMA;

/// A resource's JSON: the text made from a stored row (sent as it is, never parsed), or a
/// parsed value once a projection, a filter or a member list needed one.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Text(String),
    Value(Value),
}

impl Json {
    /// The parsed value; text is parsed once, in place.
    pub fn value_mut(&mut self) -> Result<&mut Value, ScimError> {
        if let Json::Text(text) = self {
            let parsed = serde_json::from_str(text)
                .map_err(|e| ScimError::internal(format!("a stored resource is corrupt: {e}")))?;
            *self = Json::Value(parsed);
        }
        match self {
            Json::Value(v) => Ok(v),
            Json::Text(_) => Err(ScimError::internal("a stored resource could not be read")),
        }
    }

    /// The parsed value.
    pub fn into_value(mut self) -> Result<Value, ScimError> {
        self.value_mut()?;
        match self {
            Json::Value(v) => Ok(v),
            Json::Text(_) => Err(ScimError::internal("a stored resource could not be read")),
        }
    }

    /// The JSON text, without consuming it.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Json::Text(t) => std::borrow::Cow::Borrowed(t),
            Json::Value(v) => std::borrow::Cow::Owned(v.to_string()),
        }
    }

    /// The JSON text.
    pub fn into_text(self) -> String {
        match self {
            Json::Text(t) => t,
            Json::Value(v) => v.to_string(),
        }
    }

    /// Apply `attributes` / `excludedAttributes`; without either the text stays unparsed.
    pub fn project(
        &mut self,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<(), ScimError> {
        if attributes.is_none() && excluded.is_none() {
            return Ok(());
        }
        super::resource::project(self.value_mut()?, attributes, excluded)
    }
}

fn push_json_str(out: &mut String, s: &str) {
    // Serialising a string cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The JSON text of a stored resource (an object without `id` and `meta`) with `id` and
/// `meta` added, spliced as text: a read answers without parsing and re-serialising the
/// resource. None when the stored text is not an object.
pub fn resource_text(stored: &str, meta: &Meta<'_>) -> Option<String> {
    let inner = stored.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out = String::with_capacity(stored.len() + 256 + meta.location.len());
    out.push_str("{\"id\":");
    push_json_str(&mut out, meta.id);
    out.push_str(",\"meta\":{\"resourceType\":");
    push_json_str(&mut out, meta.resource_type);
    out.push_str(",\"created\":\"");
    out.push_str(&timestamp(meta.created_millis));
    out.push_str("\",\"lastModified\":\"");
    out.push_str(&timestamp(meta.modified_millis));
    out.push_str("\",\"location\":");
    push_json_str(&mut out, &meta.location);
    out.push_str(",\"version\":\"W/\\\"");
    out.push_str(&meta.version.to_string());
    out.push_str("\\\"\"}");
    if !inner.trim().is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    out.push('}');
    Some(out)
}

/// A ListResponse as JSON text, from the page's resources.
pub fn list_response_text(total: i64, start_index: i64, resources: Vec<Json>) -> String {
    let texts: Vec<String> = resources.into_iter().map(Json::into_text).collect();
    let mut out = String::with_capacity(texts.iter().map(|t| t.len() + 1).sum::<usize>() + 160);
    out.push_str("{\"schemas\":[");
    push_json_str(&mut out, LIST_RESPONSE_SCHEMA);
    out.push_str(&format!("],\"totalResults\":{total},\"startIndex\":{start_index},\"itemsPerPage\":{},\"Resources\":[", texts.len()));
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(t);
    }
    out.push_str("]}");
    out
}

/// The server-set parts of a resource.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    pub resource_type: &'a str,
    pub id: &'a str,
    pub created_millis: i64,
    pub modified_millis: i64,
    pub version: i64,
    /// Absolute URL of the resource.
    pub location: String,
}

/// A weak ETag for a resource version: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Parse an `If-Match` header into the versions it names (`*` is `None`: anything matches).
pub fn if_match_versions(header: &str) -> Option<Vec<i64>> {
    let header = header.trim();
    if header == "*" {
        return None;
    }
    Some(
        header
            .split(',')
            .filter_map(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag.trim_matches('"').parse::<i64>().ok()
            })
            .collect(),
    )
}

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Add `id` and `meta` to a stored resource object.
pub fn with_meta(mut resource: Map<String, Value>, meta: &Meta<'_>) -> Value {
    resource.insert("id".into(), Value::String(meta.id.to_string()));
    resource.insert(
        "meta".into(),
        json!({
            "resourceType": meta.resource_type,
            "created": timestamp(meta.created_millis),
            "lastModified": timestamp(meta.modified_millis),
            "location": meta.location,
            "version": etag(meta.version),
        }),
    );
    Value::Object(resource)
}

/// A ListResponse (RFC 7644 §3.4.2). `Resources` is always an array, never null.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod text_tests {
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            resource_type: "User",
            id: "u-1",
            created_millis: 0,
            modified_millis: 1_000,
            version: 3,
            location: "http://h/x \"q\"/Users/u-1".into(),
        }
    }

    #[test]
    fn spliced_text_equals_the_value_rendering() {
        let stored =
            serde_json::json!({"userName": "a", "emails": [{"value": "a@b.c"}], "schemas": ["s"]});
        let text = resource_text(&stored.to_string(), &meta()).expect("an object");
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        let Value::Object(map) = stored else {
            unreachable!()
        };
        assert_eq!(parsed, with_meta(map, &meta()));
    }

    #[test]
    fn empty_object_and_non_objects() {
        let parsed: Value = serde_json::from_str(&resource_text("{}", &meta()).expect("object"))
            .expect("valid JSON");
        assert_eq!(parsed["meta"]["version"], "W/\"3\"");
        assert_eq!(parsed.as_object().map(|o| o.len()), Some(2));
        assert!(resource_text("[1]", &meta()).is_none());
    }

    #[test]
    fn list_text_equals_the_value_rendering() {
        let items = vec![
            Json::Value(serde_json::json!({"a": 1})),
            Json::Text("{\"b\":2}".into()),
        ];
        let parsed: Value =
            serde_json::from_str(&list_response_text(7, 2, items)).expect("valid JSON");
        assert_eq!(
            parsed,
            list_response(
                7,
                2,
                vec![serde_json::json!({"a": 1}), serde_json::json!({"b": 2})]
            )
        );
    }
}
