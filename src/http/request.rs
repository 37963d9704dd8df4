//! Reading SCIM requests: JSON bodies under a size limit, query parameters, If-Match.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use crate::scim::error::ScimError;
use crate::service::ListParams;

/// Read a JSON body of at most `limit` bytes: 413 past it, 415 for a non-JSON type,
/// 400 invalidSyntax for malformed JSON.
pub async fn json_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Value, ScimError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.is_empty() && !essence.ends_with("/json") && !essence.ends_with("+json") {
            return Err(ScimError::status(
                415,
                format!("unsupported Content-Type {essence:?}: send application/scim+json or application/json"),
            ));
        }
    }
    let too_large = || ScimError::status(413, format!("request body exceeds the limit of {limit} bytes"));
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok()) {
        if len > limit {
            return Err(too_large());
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::invalid_syntax(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimError::invalid_syntax("the request body is empty; send a JSON object"));
    }
    serde_json::from_slice(&body).map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

/// The query string as name/value pairs (form-decoded: `+` is a space).
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map_err(|e| ScimError::invalid_syntax(format!("the query string cannot be decoded: {e}")))
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn integer(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim().parse::<i64>().map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got {v:?}")))
}

fn sort_descending(v: Option<&str>) -> Result<bool, ScimError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") | Some("") => Ok(false),
        Some("descending") => Ok(true),
        Some(other) => Err(ScimError::invalid_value(format!("sortOrder must be ascending or descending, got {other:?}"))),
    }
}

/// List parameters from the query string; unknown parameters (such as `aadOptscim062020`) are ignored.
pub fn list_params(req: &HttpRequest, default_count: i64) -> Result<ListParams, ScimError> {
    let pairs = query_pairs(req)?;
    Ok(ListParams {
        filter: find(&pairs, "filter").map(str::to_string),
        start_index: find(&pairs, "startIndex").map(|v| integer("startIndex", v)).transpose()?.unwrap_or(1),
        count: find(&pairs, "count").map(|v| integer("count", v)).transpose()?.unwrap_or(default_count),
        sort_by: find(&pairs, "sortBy").filter(|s| !s.is_empty()).map(str::to_string),
        descending: sort_descending(find(&pairs, "sortOrder"))?,
        attributes: find(&pairs, "attributes").filter(|s| !s.is_empty()).map(str::to_string),
        excluded_attributes: find(&pairs, "excludedAttributes").filter(|s| !s.is_empty()).map(str::to_string),
    })
}

/// List parameters from a SearchRequest body (RFC 7644 §3.4.3).
pub fn search_params(body: &Value, default_count: i64) -> Result<ListParams, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let text = |k: &str| -> Result<Option<String>, ScimError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) => Ok(Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string"))),
        }
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer"))),
        }
    };
    Ok(ListParams {
        filter: text("filter")?,
        start_index: number("startIndex")?.unwrap_or(1),
        count: number("count")?.unwrap_or(default_count),
        sort_by: text("sortBy")?,
        descending: sort_descending(text("sortOrder")?.as_deref())?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
    })
}

/// `attributes` and `excludedAttributes` of a single-resource GET.
pub fn projection(req: &HttpRequest) -> Result<(Option<String>, Option<String>), ScimError> {
    let pairs = query_pairs(req)?;
    Ok((
        find(&pairs, "attributes").filter(|s| !s.is_empty()).map(str::to_string),
        find(&pairs, "excludedAttributes").filter(|s| !s.is_empty()).map(str::to_string),
    ))
}

/// The If-Match header, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string)
}
