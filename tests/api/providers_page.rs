//! The identity provider guides (issue 25, item 1): the tenant's page asks which identity
//! provider the customer uses (a CSRF-checked form, also through a setup link), keeps the
//! choice, and shows that product's guide with the tenant's values; `/api/v1` shows and sets
//! `identityProvider`.

use serde_json::{json, Value};

use crate::helpers::{Backend, CookieClient, Page, Reply, TestApp};

const CUSTOM_ATTRIBUTE: &str =
    "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:costCenter";

/// The page's text as a reader sees it (maud escapes quotes and ampersands).
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with this id, unescaped; the test fails without it.
fn shown(page: &Page, id: &str) -> String {
    unescape(
        &page
            .text_of(id)
            .unwrap_or_else(|| panic!("no #{id} on the page: {}", page.body)),
    )
}

/// A value with its copy button: the element and a button that copies it.
fn assert_copyable(page: &Page, id: &str, value: &str) {
    assert_eq!(shown(page, id), value, "#{id}");
    assert!(
        page.body.contains(&format!("data-copy=\"{id}\"")),
        "#{id} has no copy button"
    );
}

/// The guides on the page, by their ids.
fn guides_shown(page: &Page) -> Vec<&'static str> {
    [
        "guide-entra",
        "guide-okta",
        "guide-onelogin",
        "guide-jumpcloud",
        "guide-pingone",
        "guide-other",
    ]
    .into_iter()
    .filter(|id| page.body.contains(&format!("id=\"{id}\"")))
    .collect()
}

/// A provider, its guide's id, the (id, value) pairs it shows with copy buttons, and words
/// of the product it must use.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [&'a str]);

async fn choose(b: &mut CookieClient, csrf: &str, provider: &str) -> Page {
    b.post(
        "/admin/t/acme/identity-provider",
        &[("csrf", csrf), ("provider", provider)],
    )
    .await
}

/// The provider stored for acme, as the service reads it.
async fn stored(app: &TestApp) -> Option<String> {
    scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .expect("acme")
        .identity_provider
}

async fn api(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, Some(key), body.as_ref()).await
}

async fn api_key(app: &TestApp, tenant: Option<&str>) -> String {
    scimd::service::api_keys::create_api_key(&app.state.service, tenant, "test app")
        .await
        .expect("api key")
        .0
}

/// Before a choice the page asks for one and shows Entra's guide, saying so; choosing each
/// provider through the form saves it and shows that provider's guide alone, with the Tenant
/// URL (and the OAuth endpoints where the product takes them) under the product's own field
/// names, each with a copy button; the choice stays on the next visit.
async fn choosing_each_provider_shows_its_guide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let acme = scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .expect("acme");
    scimd::service::tenants::add_custom_field(
        &app.state.service,
        &acme,
        "costCenter",
        "string",
        false,
    )
    .await
    .expect("custom field");
    let tenant_url = app.tenant_url("acme");
    let token_url = format!("{}/oauth/token", app.base);
    let authorize_url = format!("{}/oauth/authorize", app.base);
    let mut b = app.cookies();
    assert_eq!(b.login("alice", "correct horse battery").await.status, 303);

    let page = b.get("/admin/t/acme").await;
    assert_eq!(page.status, 200);
    assert!(
        shown(&page, "provider-prompt")
            .contains("Until you do, the guide below is Microsoft Entra ID's"),
        "{}",
        page.body
    );
    assert_eq!(guides_shown(&page), ["guide-entra"]);
    let csrf = page.csrf();

    let cases: [Case<'_>; 6] = [
        (
            "okta",
            "guide-okta",
            vec![
                ("okta-base-url", tenant_url.as_str()),
                ("okta-unique-id", "userName"),
                ("okta-token-endpoint", token_url.as_str()),
                ("okta-authorize-endpoint", authorize_url.as_str()),
                ("okta-custom-costCenter", "costCenter"),
            ],
            &[
                "SCIM connector base URL",
                "Unique identifier field for users",
                "Push New Users",
                "Push Profile Updates",
                "Push Groups",
                "HTTP Header",
                "Deactivate Users",
                "Test Connector Configuration",
                "never deletes users",
            ],
        ),
        (
            "onelogin",
            "guide-onelogin",
            vec![("onelogin-base-url", tenant_url.as_str())],
            &[
                "SCIM Provisioner with SAML (SCIM v2 Enterprise)",
                "SCIM Base URL",
                "SCIM Bearer Token",
                "SCIM JSON Template",
                "Enable provisioning",
                "no OAuth client credentials setting",
            ],
        ),
        (
            "jumpcloud",
            "guide-jumpcloud",
            vec![("jumpcloud-base-url", tenant_url.as_str())],
            &[
                "Identity Management",
                "Token Key",
                "Test User Email",
                "Activate",
                "no OAuth",
            ],
        ),
        (
            "pingone",
            "guide-pingone",
            vec![
                ("pingone-base-url", tenant_url.as_str()),
                ("pingone-users", "/Users"),
                ("pingone-token-endpoint", token_url.as_str()),
                ("pingfederate-base-url", tenant_url.as_str()),
            ],
            &[
                "SCIM Outbound",
                "OAuth 2 Bearer Token",
                "OAuth 2 Client Credentials",
                "OAuth Token Request",
                "Remove User Action",
            ],
        ),
        (
            "other",
            "guide-other",
            vec![
                ("other-base-url", tenant_url.as_str()),
                ("other-token-endpoint", token_url.as_str()),
                ("other-custom-costCenter", CUSTOM_ATTRIBUTE),
            ],
            &["Authorization: Bearer <token>", "/ServiceProviderConfig"],
        ),
        (
            "entra",
            "guide-entra",
            vec![
                ("entra-tenant-url", tenant_url.as_str()),
                ("entra-token-endpoint", token_url.as_str()),
            ],
            &[
                "Provisioning Mode",
                "Automatic",
                "Secret Token",
                "OAuth2 Client Credentials Grant",
                "Client Identifier",
                "Test Connection",
                "Provision on demand",
                "Provisioning logs",
            ],
        ),
    ];
    for (provider, guide, values, words) in cases {
        let page = choose(&mut b, &csrf, provider).await;
        assert_eq!(page.status, 200, "{provider}: {}", page.body);
        assert!(
            page.body.contains("Saved: this tenant provisions from"),
            "{provider}"
        );
        assert_eq!(
            guides_shown(&page),
            [guide],
            "{provider}: one guide, its own"
        );
        assert!(
            page.text_of("provider-prompt").is_none(),
            "{provider}: chosen, no prompt"
        );
        for (id, value) in values {
            assert_copyable(&page, id, value);
        }
        let text = unescape(&page.body);
        for word in words {
            assert!(
                text.contains(word),
                "{provider}'s guide should say {word:?}"
            );
        }
        assert_eq!(stored(&app).await.as_deref(), Some(provider));
        // The choice stays: the next visit shows the same guide, the option selected.
        let again = b.get("/admin/t/acme").await;
        assert_eq!(guides_shown(&again), [guide], "{provider} after a reload");
        assert!(
            again
                .body
                .contains(&format!("<option value=\"{provider}\" selected>")),
            "{provider} is selected in the picker"
        );
    }

    // Entra's guide: the whole mapping table, mail the only matching attribute, and the
    // tenant's custom field's target attribute.
    let page = b.get("/admin/t/acme").await;
    let mappings = [
        ("userPrincipalName", "userName"),
        (
            "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")",
            "active",
        ),
        ("mail", "emails[type eq \"work\"].value"),
        ("jobTitle", "title"),
        (
            "department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ),
        ("country", "addresses[type eq \"work\"].country"),
    ];
    for (i, (source, target)) in mappings.iter().enumerate() {
        assert_copyable(&page, &format!("entra-source-{i}"), source);
        assert_copyable(&page, &format!("entra-target-{i}"), target);
    }
    assert!(unescape(&page.body).contains("matching attribute, precedence 1"));
    assert_copyable(&page, "entra-custom-costCenter", CUSTOM_ATTRIBUTE);

    // OneLogin's template carries the work mail and the custom field.
    let page = choose(&mut b, &csrf, "onelogin").await;
    let template: Value =
        serde_json::from_str(&shown(&page, "onelogin-template")).expect("JSON template");
    assert_eq!(template["emails"][0]["type"], "work");
    assert_eq!(template["emails"][0]["value"], "{$user.email}");
    assert_eq!(
        template["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"]
            ["costCenter"],
        "{$parameters.costCenter}"
    );
    // Filled in as OneLogin fills it, scimd takes it as a user, custom attribute and all.
    let filled = shown(&page, "onelogin-template")
        .replace("{$parameters.scimusername}", "jdoe")
        .replace("{$user.firstname}", "Jane")
        .replace("{$user.lastname}", "Doe")
        .replace("{$user.email}", "Jane.Doe@example.com")
        .replace("{$parameters.title}", "Engineer")
        .replace("{$parameters.department}", "R&D")
        .replace("{$parameters.costCenter}", "CC-42");
    let created = app
        .scim(
            "POST",
            "/Users",
            Some(serde_json::from_str(&filled).expect("filled template")),
        )
        .await
        .expect(201);
    assert_eq!(
        created.body["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"]
            ["costCenter"],
        "CC-42"
    );
    let found = app
        .filter_users("emails[type eq \"work\"].value eq \"jane.doe@example.com\"")
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);

    // A choice outside the list is refused with the list, and changes nothing.
    for bad in ["azure", "", "OKTA"] {
        let page = choose(&mut b, &csrf, bad).await;
        assert_eq!(page.status, 400, "{bad:?}");
        assert!(
            unescape(&page.body).contains("Choose your identity provider in the list (Microsoft Entra ID, Okta, OneLogin, JumpCloud, PingOne / PingFederate, Another SCIM 2.0 client)"),
            "{bad:?}: {}",
            page.body
        );
        assert_eq!(stored(&app).await.as_deref(), Some("onelogin"));
    }
    // A forged CSRF token is refused and saves nothing.
    let forged = choose(&mut b, "forged", "okta").await;
    assert_eq!(forged.status, 403);
    assert_eq!(stored(&app).await.as_deref(), Some("onelogin"));
}

/// `identityProvider` is in the tenant JSON (null before a choice), settable when a tenant is
/// made and by PATCH (a tenant key for its own tenant only); a bad value is a 400 that lists
/// the allowed ones and changes nothing; the page shows what the API set.
async fn api_shows_and_sets_identity_provider(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let operator = api_key(&app, None).await;
    let allowed = "entra, okta, onelogin, jumpcloud, pingone, other";

    let acme = api(&app, "GET", "/tenants/acme", &operator, None)
        .await
        .expect(200);
    assert_eq!(acme.body["identityProvider"], Value::Null, "{}", acme.body);

    let made = api(
        &app,
        "POST",
        "/tenants",
        &operator,
        Some(json!({"slug": "globex", "identityProvider": "jumpcloud"})),
    )
    .await
    .expect(201);
    assert_eq!(made.body["identityProvider"], "jumpcloud");
    // A bad value on creation makes no tenant.
    let refused = api(
        &app,
        "POST",
        "/tenants",
        &operator,
        Some(json!({"slug": "initech", "identityProvider": "azure"})),
    )
    .await
    .expect(400);
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains(allowed), "{}", refused.body);
    api(&app, "GET", "/tenants/initech", &operator, None)
        .await
        .expect(404);

    let patched = api(
        &app,
        "PATCH",
        "/tenants/acme",
        &operator,
        Some(json!({"identityProvider": "okta"})),
    )
    .await
    .expect(200);
    assert_eq!(patched.body["identityProvider"], "okta");
    assert_eq!(patched.body["slug"], "acme");
    let listed = api(&app, "GET", "/tenants", &operator, None)
        .await
        .expect(200);
    let providers: Vec<(&str, &Value)> = listed.body["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| {
            (
                t["slug"].as_str().unwrap_or_default(),
                &t["identityProvider"],
            )
        })
        .collect();
    assert_eq!(
        providers,
        [("acme", &json!("okta")), ("globex", &json!("jumpcloud"))]
    );

    // Bad PATCHes: 400 with a message saying what to send; nothing changes.
    for (body, needle) in [
        (json!({"identityProvider": "azure"}), allowed),
        (json!({"identityProvider": 5}), allowed),
        (json!({"identityProvider": "Okta"}), allowed),
        (json!({}), "nothing to change"),
        (json!({"name": "Acme 2"}), "takes identityProvider"),
        (json!(["okta"]), "JSON object"),
    ] {
        let r = api(
            &app,
            "PATCH",
            "/tenants/acme",
            &operator,
            Some(body.clone()),
        )
        .await
        .expect(400);
        assert_eq!(r.body["error"]["status"], 400, "{}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {}", r.body);
    }
    assert_eq!(stored(&app).await.as_deref(), Some("okta"));

    // The page shows the guide the API chose.
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut b = app.cookies();
    assert_eq!(b.login("alice", "correct horse battery").await.status, 303);
    assert_eq!(guides_shown(&b.get("/admin/t/acme").await), ["guide-okta"]);

    // A tenant's key sets its own tenant's provider, and learns nothing of another's.
    let globex_key = api_key(&app, Some("globex")).await;
    let own = api(
        &app,
        "PATCH",
        "/tenants/globex",
        &globex_key,
        Some(json!({"identityProvider": "pingone"})),
    )
    .await
    .expect(200);
    assert_eq!(own.body["identityProvider"], "pingone");
    api(
        &app,
        "PATCH",
        "/tenants/acme",
        &globex_key,
        Some(json!({"identityProvider": "other"})),
    )
    .await
    .expect(404);
    assert_eq!(stored(&app).await.as_deref(), Some("okta"));

    // null clears the choice: the page asks again.
    let cleared = api(
        &app,
        "PATCH",
        "/tenants/acme",
        &operator,
        Some(json!({"identityProvider": null})),
    )
    .await
    .expect(200);
    assert_eq!(cleared.body["identityProvider"], Value::Null);
    let page = b.get("/admin/t/acme").await;
    assert!(page.text_of("provider-prompt").is_some());
    assert_eq!(guides_shown(&page), ["guide-entra"]);
}

/// A page opened with a setup link chooses the provider too (the same form and CSRF check).
async fn a_setup_link_session_chooses_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .expect("acme");
    let (secret, _) =
        scimd::service::setup_links::create_setup_link(&app.state.service, &acme, 2, "mail")
            .await
            .expect("setup link");
    let mut b = app.cookies();
    assert_eq!(b.get(&format!("/setup/{secret}")).await.status, 200);
    let page = b.get("/admin/t/acme").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.text_of("provider-prompt").is_some());
    let csrf = page.csrf();
    assert_eq!(choose(&mut b, "forged", "pingone").await.status, 403);
    assert_eq!(stored(&app).await, None);
    let chosen = choose(&mut b, &csrf, "pingone").await;
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    assert_eq!(guides_shown(&chosen), ["guide-pingone"]);
    assert_copyable(&chosen, "pingone-base-url", &app.tenant_url("acme"));
    assert_eq!(stored(&app).await.as_deref(), Some("pingone"));
}

crate::helpers::backend_tests!(
    choosing_each_provider_shows_its_guide,
    api_shows_and_sets_identity_provider,
    a_setup_link_session_chooses_too
);
