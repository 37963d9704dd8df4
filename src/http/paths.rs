//! Resource endpoints answer whatever the case of their names and with a trailing slash, as
//! Microsoft's SCIM validator expects (`/users`, `/Users/`, `/groups?filter=…`, `/schemas`):
//! the request's path is rewritten to the canonical one before routing.

use std::future::{ready, Ready};

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Uri;
use actix_web::Error;

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

/// Middleware applying [`canonical_path`] before routing.
pub struct CanonicalPaths;

impl<S, B> Transform<S, ServiceRequest> for CanonicalPaths
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = CanonicalPathsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CanonicalPathsMiddleware { service }))
    }
}

/// The per-request half of [`CanonicalPaths`].
pub struct CanonicalPathsMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CanonicalPathsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
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
        self.service.call(req)
    }
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
