//! Rendering of stored resources: `id`, `meta` (RFC 7643 §3.1), ETags and ListResponse.

use serde_json::{json, Map, Value};

use super::schema::LIST_RESPONSE_SCHEMA;

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
