//! Identity providers other than Entra (which `entra_cycle.rs` replays), each replaying the
//! requests as that provider documents them and asserting every answer as the provider reads
//! it: one realistic lifecycle a provider, plus the edge behaviours its documentation insists
//! on. Each file says at its top which document each request shape comes from, and where the
//! documentation shows no body, which form the test sends instead and why.
//!
//! These tests are a guard rail: they send only what the providers document, so a stricter
//! scimd must keep every one of them passing.

use serde_json::Value;

use crate::helpers::{Reply, TestApp};

mod jumpcloud;
mod okta;
mod onelogin;
mod pingone;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `GET {path}?{query}` where `query` is built from `params`, URL-encoded as the providers do.
pub async fn get_with(app: &TestApp, path: &str, params: &[(&str, &str)]) -> Reply {
    let q = serde_urlencoded::to_string(params).expect("encode");
    app.scim("GET", &format!("{path}?{q}"), None).await
}

/// Assert a ListResponse as the providers read it: its schema, `totalResults`, `startIndex`
/// and `itemsPerPage` as integers (Okta: "need to be exchanged as integers, not as strings"),
/// `Resources` an array of `itemsPerPage` elements. Returns the resources.
pub fn list(reply: &Reply, total: u64, start_index: u64) -> Vec<Value> {
    let body = &reply.body;
    assert_eq!(body["schemas"], serde_json::json!([LIST]), "{body}");
    assert_eq!(body["totalResults"].as_u64(), Some(total), "{body}");
    assert_eq!(body["startIndex"].as_u64(), Some(start_index), "{body}");
    let resources = body["Resources"]
        .as_array()
        .expect("Resources array")
        .clone();
    assert_eq!(
        body["itemsPerPage"].as_u64(),
        Some(resources.len() as u64),
        "{body}"
    );
    resources
}

/// The `value`s of a group's members, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// `ids`, sorted.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The `id` of a created resource.
pub fn id_of(reply: &Reply) -> String {
    reply.body["id"].as_str().expect("id").to_string()
}

/// A request with a raw `Authorization` header (or none), as a misconfigured client sends it.
pub async fn with_authorization(app: &TestApp, path: &str, authorization: Option<&str>) -> Reply {
    let url = format!("{}{path}", app.tenant_url("acme"));
    let mut req = app.client.get(url);
    if let Some(a) = authorization {
        req = req.insert_header(("Authorization", a));
    }
    let mut resp = req.send().await.expect("request");
    let bytes = resp.body().await.expect("body");
    Reply::of(resp.status().as_u16(), resp.headers(), &bytes)
}

/// The actions of the tenant's provisioning log (`scimd events acme`), oldest first.
pub fn log_actions(app: &TestApp) -> Vec<String> {
    let log = app.cli().ok(&["events", "acme"]);
    log.lines()
        .filter_map(|l| l.split('\t').nth(2).map(str::to_string))
        .collect()
}
