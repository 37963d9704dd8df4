//! Request targets before routing: resource endpoints answer whatever the case of their
//! names and with a trailing slash, as Microsoft's SCIM validator expects (`/users`,
//! `/Users/`, `/groups?filter=…`, `/schemas`), and an over-long target gets a SCIM 414.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use super::limits::MAX_URI_BYTES;
use crate::scim::error::ScimError;

const TENANTS: &str = "/scim/v2/tenants/";

/// The canonical spelling of a SCIM endpoint segment.
fn canonical_segment(segment: &str) -> Option<&'static str> {
    [
        "Users",
        "Groups",
        "Schemas",
        "ResourceTypes",
        "ServiceProviderConfig",
        ".search",
    ]
    .into_iter()
    .find(|c| c.eq_ignore_ascii_case(segment))
}

/// The canonical form of a path under `/scim/v2/tenants/{slug}/`, if it differs.
pub fn canonical_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(TENANTS)?;
    let (slug, tail) = rest.split_once('/')?;
    let tail = tail.strip_suffix('/').unwrap_or(tail);
    let mut segments: Vec<String> = tail.split('/').map(str::to_string).collect();
    // The endpoint, and `.search` after `Users` or `Groups`; ids and schema URNs stay as sent.
    if let Some(first) = segments.first_mut() {
        if let Some(c) = canonical_segment(first) {
            *first = c.to_string();
        }
    }
    if let Some(second) = segments.get_mut(1) {
        if second.eq_ignore_ascii_case(".search") {
            *second = ".search".to_string();
        }
    }
    let canonical = format!("{TENANTS}{slug}/{}", segments.join("/"));
    (canonical != path).then_some(canonical)
}

/// Middleware (`middleware::from_fn`) shaping a request before routing: a target over
/// [`MAX_URI_BYTES`](super::limits::MAX_URI_BYTES) gets a SCIM 414, and endpoint names take
/// their canonical spelling ([`canonical_path`]).
pub async fn shape_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        let error = ScimError::status(
            StatusCode::URI_TOO_LONG,
            format!(
                "the request URI is {len} bytes long; at most {MAX_URI_BYTES} are accepted: send a long filter in the body of POST .../Users/.search or .../Groups/.search"
            ),
        );
        return Ok(req
            .into_response(error.error_response())
            .map_into_right_body());
    }
    if let Some(path) = canonical_path(req.path()) {
        let target = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(uri) = target.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn endpoint_names_are_canonical() {
        let t = |p: &str| canonical_path(p).unwrap_or_else(|| p.to_string());
        assert_eq!(
            t("/scim/v2/tenants/acme/users"),
            "/scim/v2/tenants/acme/Users"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/Users/"),
            "/scim/v2/tenants/acme/Users"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/GROUPS/abc/"),
            "/scim/v2/tenants/acme/Groups/abc"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/users/.SEARCH"),
            "/scim/v2/tenants/acme/Users/.search"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/schemas"),
            "/scim/v2/tenants/acme/Schemas"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/serviceproviderconfig"),
            "/scim/v2/tenants/acme/ServiceProviderConfig"
        );
        assert_eq!(
            t("/scim/v2/tenants/acme/Users/AbC"),
            "/scim/v2/tenants/acme/Users/AbC"
        );
        assert_eq!(canonical_path("/scim/v2/tenants/acme/Users"), None);
        assert_eq!(canonical_path("/admin/"), None);
    }
}
