//! Entra's Test Connection and the discovery endpoints.

use crate::helpers::{Backend, TestApp};

/// Test Connection: a filter on a random GUID answers 200 with an empty ListResponse,
/// with or without `?aadOptscim062020`, with no Content-Type or Accept.
async fn test_connection_returns_empty_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for suffix in ["", "&aadOptscim062020"] {
        let url = format!(
            "{}/Users?filter=userName+eq+%22{}%22{suffix}",
            app.tenant_url("acme"),
            uuid::Uuid::new_v4()
        );
        let r = app
            .send("GET", &url, Some(&app.token), None)
            .await
            .expect(200);
        assert_eq!(r.content_type.as_deref(), Some("application/scim+json"));
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["Resources"], serde_json::json!([]));
        assert_eq!(r.body["startIndex"], 1);
        assert_eq!(r.body["itemsPerPage"], 0);
    }
    // The mail-matching probe puts a GUID where a mail goes: a normal query, not a 400.
    let r = app
        .filter_users(&format!(
            "emails[type eq \"work\"].value eq \"{}\"",
            uuid::Uuid::new_v4()
        ))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
}

/// /ServiceProviderConfig, /Schemas and /ResourceTypes are served from scim-schemas/.
async fn discovery_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spc = app
        .scim("GET", "/ServiceProviderConfig", None)
        .await
        .expect(200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let schemas = app.scim("GET", "/Schemas", None).await.expect(200);
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let user = app
        .scim(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await
        .expect(200);
    let attrs: Vec<&str> = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        attrs.contains(&"userName") && attrs.contains(&"emails"),
        "{attrs:?}"
    );

    let types = app.scim("GET", "/ResourceTypes", None).await.expect(200);
    let names: Vec<&str> = types.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"User") && names.contains(&"Group"),
        "{names:?}"
    );
    app.scim("GET", "/ResourceTypes/User", None)
        .await
        .expect(200);
    app.scim("GET", "/Schemas/urn:nope", None)
        .await
        .expect_error(404, None, "no schema");
}

/// Unknown endpoints answer a SCIM 404, not an HTML page.
async fn unknown_endpoint_is_scim_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.scim("GET", "/Nope", None)
        .await
        .expect_error(404, None, "no such endpoint");
    let r = app
        .send("GET", &format!("{}/healthz", app.base), None, None)
        .await
        .expect(200);
    assert_eq!(r.body, serde_json::json!("ok"));
    app.send("GET", &format!("{}/readyz", app.base), None, None)
        .await
        .expect(200);
}

crate::helpers::backend_tests!(
    test_connection_returns_empty_list,
    discovery_endpoints,
    unknown_endpoint_is_scim_404
);
