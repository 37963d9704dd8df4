//! Reading SCIM requests: JSON bodies under a size limit, query parameters, If-Match, each
//! as an extractor a handler names in its arguments. Behind [`super::auth::authenticate`],
//! so they run only for an authenticated caller.

use actix_web::http::StatusCode;
use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::scim::render::Json;
use crate::service::ListParams;

/// What a middleware put in the request's extensions (the caller, the API key's caller), for
/// an extractor; a 500 naming `missing` when the route is not behind that middleware.
pub fn from_extensions<T: Clone + 'static>(
    req: &HttpRequest,
    missing: &'static str,
) -> Ready<Result<T, ScimError>> {
    ready(
        req.extensions()
            .get::<T>()
            .cloned()
            .ok_or_else(|| ScimError::internal(missing)),
    )
}

/// Page size when the client gives no `count`.
pub const DEFAULT_COUNT: i64 = 100;

/// The JSON body of a write: at most `--max-body-bytes`, JSON, no NUL (see [`json_body`]).
pub struct ScimJson(pub Value);

impl FromRequest for ScimJson {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimJson, ScimError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let limit = req
                .app_data::<web::Data<AppState>>()
                .map_or(0, |state| state.settings.max_body_bytes);
            json_body(&req, payload, limit).await.map(ScimJson)
        })
    }
}

/// `attributes` and `excludedAttributes` of a single-resource request, checked when
/// extracted: a write has them before it writes anything, so a bad list is a 400 with
/// nothing stored.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl Projection {
    /// Whether the client named either list (a group PATCH then answers with the group).
    pub fn is_asked(&self) -> bool {
        self.attributes.is_some() || self.excluded.is_some()
    }

    /// Cut a rendered resource down to what was asked for.
    pub fn apply(&self, body: &mut Json) -> Result<(), ScimError> {
        body.project(self.attributes.as_deref(), self.excluded.as_deref())
    }
}

impl FromRequest for Projection {
    type Error = ScimError;
    type Future = Ready<Result<Projection, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(projection(req))
    }
}

/// The `If-Match` header, if any.
pub struct IfMatch(pub Option<String>);

impl FromRequest for IfMatch {
    type Error = ScimError;
    type Future = Ready<Result<IfMatch, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(IfMatch(if_match(req))))
    }
}

/// The list parameters of `GET /Users` or `GET /Groups`, from the query string.
pub struct ListQuery(pub ListParams);

impl FromRequest for ListQuery {
    type Error = ScimError;
    type Future = Ready<Result<ListQuery, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(list_params(req, DEFAULT_COUNT).map(ListQuery))
    }
}

/// The list parameters of a `POST …/.search`, from its SearchRequest body.
pub struct SearchQuery(pub ListParams);

impl FromRequest for SearchQuery {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<SearchQuery, ScimError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = ScimJson::from_request(req, payload);
        Box::pin(async move { search_params(&body.await?.0, DEFAULT_COUNT).map(SearchQuery) })
    }
}

/// Read a JSON body of at most `limit` bytes: 413 past it, 415 for a non-JSON type,
/// 400 invalidSyntax for malformed JSON.
async fn json_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Value, ScimError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.is_empty() && !essence.ends_with("/json") && !essence.ends_with("+json") {
            return Err(ScimError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {essence:?}: send application/scim+json or application/json"),
            ));
        }
    }
    let too_large = || {
        ScimError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ScimError::invalid_syntax(format!("could not read the request body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; send a JSON object",
        ));
    }
    let size = body.len();
    let parse = move || {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))
        })?;
        refuse_nul(&value)?;
        Ok(value)
    };
    if size <= PARSE_HERE_BYTES {
        return parse();
    }
    // A large body takes milliseconds to parse: on the blocking pool, the HTTP worker goes on
    // serving `/healthz` and other tenants meanwhile.
    web::block(parse).await.map_err(|e| {
        ScimError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("could not parse the request body: {e}"),
        )
    })?
}

/// Bodies up to this size are parsed on the HTTP worker (every request Entra sends: a
/// hop to the blocking pool would cost them more than the parse); larger ones are not.
const PARSE_HERE_BYTES: usize = 64 * 1024;

/// JSON allows NUL (`\u0000`) in strings, but no stored attribute may hold one (PostgreSQL
/// text cannot): refuse it up front, naming where it is. serde_json caps nesting at 128
/// levels, so the walk is shallow.
fn refuse_nul(value: &Value) -> Result<(), ScimError> {
    fn find(value: &Value, at: &mut Vec<String>) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                at.push(format!("[{i}]"));
                let found = find(v, at);
                if !found {
                    at.pop();
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, v)| {
                at.push(format!(".{}", k.replace('\0', "\\u0000")));
                let found = k.contains('\0') || find(v, at);
                if !found {
                    at.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut at = Vec::new();
    if find(value, &mut at) {
        let path = at.concat();
        let path = path.trim_start_matches('.');
        let path = if path.is_empty() { "the body" } else { path };
        let detail = format!(
            "{path} contains a NUL character (\\u0000); strings and names must not contain NUL"
        );
        // The filter of a SearchRequest is a filter problem like any other.
        return Err(if path == "filter" {
            ScimError::invalid_filter(detail)
        } else {
            ScimError::invalid_value(detail)
        });
    }
    Ok(())
}

/// The query string as name/value pairs (form-decoded: `+` is a space).
/// Bytes that are not UTF-8 once percent-decoded are refused, not replaced: a filter must
/// compare what the client meant, and `%FF` means nothing.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimError> {
    fn decode(s: &str) -> Option<String> {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    }
    let mut pairs = Vec::new();
    for part in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let name = decode(raw_name).ok_or_else(|| {
            ScimError::invalid_value(
                "a query parameter name is not UTF-8 once percent-decoded; encode text as UTF-8",
            )
        })?;
        let value = decode(raw_value).ok_or_else(|| {
            let detail = format!("the query parameter {name:?} is not UTF-8 once percent-decoded; encode text as UTF-8");
            if name.eq_ignore_ascii_case("filter") { ScimError::invalid_filter(detail) } else { ScimError::invalid_value(detail) }
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// The value of a query parameter; an empty one (`count=`) counts as absent.
fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn integer(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got {v:?}")))
}

fn sort_descending(v: Option<&str>) -> Result<bool, ScimError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") | Some("") => Ok(false),
        Some("descending") => Ok(true),
        Some(other) => Err(ScimError::invalid_value(format!(
            "sortOrder must be ascending or descending, got {other:?}"
        ))),
    }
}

/// List parameters from the query string; unknown parameters (such as `aadOptscim062020`) are ignored.
fn list_params(req: &HttpRequest, default_count: i64) -> Result<ListParams, ScimError> {
    let pairs = query_pairs(req)?;
    Ok(ListParams {
        filter: find(&pairs, "filter").map(str::to_string),
        start_index: find(&pairs, "startIndex")
            .map(|v| integer("startIndex", v))
            .transpose()?
            .unwrap_or(1),
        count: find(&pairs, "count")
            .map(|v| integer("count", v))
            .transpose()?
            .unwrap_or(default_count),
        sort_by: find(&pairs, "sortBy").map(str::to_string),
        descending: sort_descending(find(&pairs, "sortOrder"))?,
        attributes: find(&pairs, "attributes").map(str::to_string),
        excluded_attributes: find(&pairs, "excludedAttributes").map(str::to_string),
    })
}

/// List parameters from a SearchRequest body (RFC 7644 §3.4.3).
fn search_params(body: &Value, default_count: i64) -> Result<ListParams, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let text = |k: &str| -> Result<Option<String>, ScimError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) => Ok(Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string"))),
        }
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer"))),
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

fn projection(req: &HttpRequest) -> Result<Projection, ScimError> {
    let pairs = query_pairs(req)?;
    let attributes = find(&pairs, "attributes").map(str::to_string);
    let excluded = find(&pairs, "excludedAttributes").map(str::to_string);
    crate::scim::resource::check_projection(attributes.as_deref(), excluded.as_deref())?;
    Ok(Projection {
        attributes,
        excluded,
    })
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The client's address: the peer, or, when the peer is one of the `--trusted-proxy`
/// networks, the last address in `X-Forwarded-For` that is not itself a trusted proxy.
/// Anyone can write the header, so it counts only when a trusted proxy wrote it.
pub fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Proxies append: read from the right, past the trusted hops.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev().flat_map(|v| v.rsplit(',')) {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop that is not an address ends what can be believed.
            Err(_) => break,
        }
    }
    Some(client)
}

/// The value of a query parameter (the first, if repeated).
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// An integer query parameter, if given; 400 with `refusal` if it is not one.
pub fn int_param(
    pairs: &[(String, String)],
    name: &str,
    refusal: &str,
) -> Result<Option<i64>, ScimError> {
    param(pairs, name)
        .map(str::parse::<i64>)
        .transpose()
        .map_err(|_| ScimError::invalid_value(refusal))
}

/// A string field of a JSON body, if present; 400 if it is not a string.
pub fn text_field(body: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// URL-encoded parameters (a form body or a query), each at most once, as OAuth 2.0 asks
/// (RFC 6749 §3.1, §3.2). The error says what is wrong, for the caller's refusal.
pub fn single_params(encoded: &[u8]) -> Result<std::collections::HashMap<String, String>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(encoded)
        .map_err(|_| "the parameters are not URL-encoded".to_string())?;
    let mut params = std::collections::HashMap::new();
    for (name, value) in pairs {
        if params.insert(name.clone(), value).is_some() {
            return Err(format!("parameter {name:?} is sent more than once"));
        }
    }
    Ok(params)
}
