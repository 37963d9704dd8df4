//! `openapi/scimd.yaml` describes exactly the routes the server serves: every served
//! (method, path) is documented, and every documented one is served.
//!
//! How the served routes are found, without a hand-kept list that could drift:
//!
//! 1. **Every path template the app registers.** The app is built in this process from the
//!    same [`scimd::app::configure`] the server uses (`app::run` adds middleware to it, no
//!    route), and actix's own resource map of it (the
//!    tree of every scope and resource it registered, `HttpRequest::resource_map`) is read.
//!    actix has no public way to list that tree, so it is read from its `Debug` form
//!    ([`registered_templates`]); the parse fails loudly (no templates, or a known route
//!    missing) rather than quietly finding fewer should a new actix print it otherwise.
//! 2. **Which methods each template serves.** A resource map knows paths, not methods (those
//!    are route guards), so every template is asked with each of the eight methods OpenAPI
//!    can document, its parameters filled in, with a valid token (SCIM) or operator API key
//!    (`/api/v1`) so that the authentication in front of routing lets it through. A method is
//!    served when actix's router itself says the request reached that template's resource
//!    ([`reached`]): the whole path was matched (a request that no resource took, answered by a
//!    scope's or the app's default service, or cut short by a middleware before routing,
//!    leaves part of it unmatched), the parameters captured are exactly the template's (so
//!    `GET …/Users/.search` is `…/Users/{id}`'s, not `…/Users/.search`'s), and the answer is
//!    not a 405 (the resource has no route for that method). A handler's own 404 for a
//!    missing user or tenant is still a served route.
//!
//! Then both ways: every served (method, template) not under [`NOT_IN_OPENAPI`] must be
//! under `paths:` of the YAML ([`documented`]), and every (method, path) there must be
//! served (a path the resource map does not hold, or a method its resource does not route,
//! is not). Paths compare as templates, so the parameter names must agree too.

use std::collections::BTreeSet;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use actix_web::{web, App};

use crate::helpers::{Backend, TestApp};

/// Served routes the OpenAPI description leaves out, and why: every route at or below
/// these paths. The token page's and the setup links' HTML pages and forms are for
/// browsers, not API clients.
const NOT_IN_OPENAPI: &[(&str, &str)] = &[
    ("/admin", "the token page: HTML pages and form posts"),
    ("/setup", "a setup link's page: HTML, opened in a browser"),
];

/// Whether a served route may be left out of the YAML ([`NOT_IN_OPENAPI`]).
fn not_in_openapi(path: &str) -> bool {
    NOT_IN_OPENAPI.iter().any(|(prefix, _)| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The methods an OpenAPI path item can describe.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Templates that exist for sure: if the parse of the resource map misses them, the parse
/// is broken, not the routing.
const KNOWN: &[&str] = &[
    "/healthz",
    "/scim/v2/tenants/{slug}/Users/{id}",
    "/api/v1/webhooks/{id}/deliveries/{delivery}/replay",
];

const OPENAPI: &str = include_str!("../../openapi/scimd.yaml");

/// (method in lower case, path template).
type Routes = BTreeSet<(String, String)>;

/// The (method, path) pairs under `paths:` of the YAML: paths are the keys at two spaces,
/// their operations the method keys at four (a file we own and keep in that shape).
fn documented(yaml: &str) -> Routes {
    let mut routes = Routes::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in yaml.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_paths = line.trim_end() == "paths:";
            path = None;
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(key) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            let key = key.trim_end().strip_suffix(':').unwrap_or_else(|| {
                panic!("a key under paths: should be a path alone on its line: {line:?}")
            });
            let key = key.trim_matches(|c| c == '"' || c == '\'');
            assert!(key.starts_with('/'), "{key:?} under paths: is not a path");
            path = Some(key.to_string());
        } else if let Some(key) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let name = key.split(':').next().unwrap_or_default().trim();
            if METHODS.contains(&name) {
                let path = path.clone().expect("a method outside any path");
                assert!(
                    routes.insert((name.to_string(), path.clone())),
                    "{name} {path} is described twice"
                );
            }
        }
    }
    assert!(!routes.is_empty(), "no paths found in openapi/scimd.yaml");
    routes
}

/// Every path template of the app's resource map (scope prefixes joined to their
/// resources), read from its pretty `Debug` form: each `ResourceMap {` node has a
/// `pattern: ResourceDef { … patterns: Single("…") … }` and `nodes: None` when it is a
/// resource (a leaf), `nodes: Some([ResourceMap { … }, …])` when it is a scope or the root.
fn registered_templates(map_debug: &str) -> BTreeSet<String> {
    let mut templates = BTreeSet::new();
    // The open nodes: (indent of their `ResourceMap {` line, their pattern).
    let mut stack: Vec<(usize, Option<String>)> = Vec::new();
    let mut lines = map_debug.lines();
    // Inside a `named: {…}` table (its entries repeat nodes of the tree): its indent.
    let mut skipping: Option<usize> = None;
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if let Some(at) = skipping {
            if indent == at && text.starts_with('}') {
                skipping = None;
            }
            continue;
        }
        if text == "named: {" {
            skipping = Some(indent);
        } else if text.ends_with("ResourceMap {") {
            while stack.last().is_some_and(|(at, _)| *at >= indent) {
                stack.pop();
            }
            stack.push((indent, None));
        } else if text.starts_with("patterns: ") {
            let top = stack.last_mut().expect("a pattern outside any ResourceMap");
            assert!(
                text == "patterns: Single(",
                "a resource with several patterns is not understood here: {text}"
            );
            if top.1.is_none() {
                let quoted = lines.next().expect("the pattern").trim();
                let pattern = quoted
                    .trim_end_matches(',')
                    .strip_prefix('"')
                    .and_then(|p| p.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("a pattern should be a string: {quoted}"));
                top.1 = Some(pattern.to_string());
            }
        } else if text.starts_with("nodes: None") {
            let path: String = stack
                .iter()
                .map(|(_, p)| p.clone().expect("a node without a pattern"))
                .collect();
            templates.insert(path);
        }
    }
    for known in KNOWN {
        assert!(
            templates.contains(*known),
            "{known} is not among the templates read from actix's resource map; has its Debug \
             form changed? Read: {templates:#?}"
        );
    }
    templates
}

/// The names of a template's parameters, in order.
fn parameters(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.split(':').next().unwrap_or(name).to_string())
        .collect()
}

/// A concrete path for a template, and the (name, value) of each parameter in it. SCIM
/// paths name the tenant the token is for (or the authentication in front of routing would
/// refuse them); elsewhere a tenant that does not exist, so that no probe changes anything
/// (its handler answers 404).
fn concrete(template: &str) -> (String, Vec<(String, String)>) {
    let mut path = template.to_string();
    let mut values = Vec::new();
    for name in parameters(template) {
        let value = if name == "slug" && template.starts_with("/scim/") {
            "acme".to_string()
        } else {
            format!("probe-{name}")
        };
        let start = path.find(&format!("{{{name}")).expect("the parameter");
        let end = start + path[start..].find('}').expect("its end");
        path.replace_range(start..=end, &value);
        values.push((name, value));
    }
    (path, values)
}

/// Whether the router took the request for a template to that template's own resource,
/// and that resource has a route for the method (see the module's documentation):
/// `parameters` are what [`concrete`] filled in.
fn reached(parameters: &[(String, String)], response: &ServiceResponse) -> bool {
    let info = response.request().match_info();
    let captured: Vec<(String, String)> = info
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    info.unprocessed().is_empty()
        && captured == parameters
        && response.status() != StatusCode::METHOD_NOT_ALLOWED
}

/// The served routes and the documented ones agree, both ways.
async fn openapi_describes_every_route(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_address = 0;
        s.rate_limit_tenant = 0;
        s.api_rate_limit = 0;
    })
    .await;
    let (api_key, _) =
        scimd::service::api_keys::create_api_key(&app.state.service, None, "openapi")
            .await
            .expect("an operator key");
    let service = actix_test::init_service(
        App::new()
            .app_data(web::Data::new(app.state.clone()))
            .configure(scimd::app::configure),
    )
    .await;

    let any_response = actix_test::call_service(
        &service,
        actix_test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    let map = format!("{:#?}", any_response.request().resource_map());
    let templates = registered_templates(&map);

    let mut served = Routes::new();
    for template in &templates {
        let (path, parameters) = concrete(template);
        let mut any = false;
        for method in METHODS {
            let token = if template.starts_with("/scim/") {
                &app.token
            } else {
                &api_key
            };
            let mut request = actix_test::TestRequest::default()
                .method(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method"))
                .uri(&path)
                .insert_header(("Authorization", format!("Bearer {token}")));
            if matches!(method, "post" | "put" | "patch") {
                request = request
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload("{}");
            }
            let response = service
                .call(request.to_request())
                .await
                .expect("a response");
            if reached(&parameters, &response) {
                served.insert((method.to_string(), template.clone()));
                any = true;
            }
        }
        assert!(
            any,
            "{template} is in actix's resource map but no method reaches it: the probe is \
             wrong, or the template was misread"
        );
    }

    let documented = documented(OPENAPI);
    let undocumented: Vec<String> = served
        .iter()
        .filter(|route| !not_in_openapi(&route.1) && !documented.contains(*route))
        .map(|(m, p)| format!("{} {p}", m.to_ascii_uppercase()))
        .collect();
    let unserved: Vec<String> = documented
        .difference(&served)
        .map(|(m, p)| format!("{} {p}", m.to_ascii_uppercase()))
        .collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "openapi/scimd.yaml and the routes disagree.\n\
         Served but not described (add them to the YAML, or to NOT_IN_OPENAPI with a reason):\n  {}\n\
         Described but not served:\n  {}",
        undocumented.join("\n  "),
        unserved.join("\n  ")
    );
}

crate::helpers::sqlite_tests!(openapi_describes_every_route);

#[test]
fn the_yaml_reader_finds_paths_and_methods() {
    let yaml = "openapi: 3.0.3\ncomponents:\n  schemas:\n    get: {}\npaths:\n  /a/{id}:\n    parameters: []\n    get:\n      responses: {}\n    delete:\n      x: 1\n  \"/b\":\n    post: {}\nsecurity: []\n";
    let found: Vec<(String, String)> = documented(yaml).into_iter().collect();
    assert_eq!(
        found,
        [("delete", "/a/{id}"), ("get", "/a/{id}"), ("post", "/b")]
            .map(|(m, p)| (m.to_string(), p.to_string()))
    );
}
