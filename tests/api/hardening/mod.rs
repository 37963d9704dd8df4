//! Hostile input over real HTTP: oversized and malformed bodies, pathological filters and
//! PATCH requests, odd query strings, forged tokens — each a clear 4xx SCIM error (or a
//! correct 2xx where the RFC says to clamp or ignore), never a 5xx, a hang or a panic; and
//! secrets (tokens, passwords, mail addresses in filters) never reach the logs.
//!
//! One module a theme, one test a behaviour; what the modules share is here, and the
//! byte-level client they use is `helpers::raw`.

mod auth;
mod bodies;
mod filters;
mod limits;
mod logs;
mod params;
mod patch;

use serde_json::{json, Value};

use crate::helpers::{user_body, Backend, TestApp};

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MIB: usize = 1024 * 1024;

/// A server with one user, `target@contoso.com`; returns the app and the user's id.
async fn app_with_target(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("target@contoso.com", "target@contoso.com")
        .await;
    (app, id)
}

/// The server is alive and answering.
async fn assert_healthy(app: &TestApp) {
    let r = app
        .send("GET", &format!("{}/healthz", app.base), None, None)
        .await;
    assert_eq!(
        r.status.as_u16(),
        200,
        "/healthz after hostile input: {}",
        r.body
    );
}

/// The user `id` is as created: nothing half-written by the refused requests.
async fn assert_untouched(app: &TestApp, id: &str) {
    let r = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
}

/// Not a server error: any 5xx is a bug.
fn assert_not_5xx(status: u16, what: &str) {
    assert!(status < 500, "{what}: server error {status}");
}

/// A valid user body whose title makes it `total` bytes long.
fn user_of_size(user_name: &str, total: usize) -> Vec<u8> {
    let mut body = user_body(user_name, user_name);
    body["title"] = json!("");
    let base = body.to_string().len();
    body["title"] = json!("t".repeat(total.saturating_sub(base)));
    let bytes = body.to_string().into_bytes();
    assert_eq!(bytes.len(), total);
    bytes
}

fn search_body(filter: &str) -> Value {
    json!({"schemas": [SEARCH_SCHEMA], "filter": filter})
}

/// A group body with this display name.
fn group_body(display_name: &str) -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": display_name})
}
