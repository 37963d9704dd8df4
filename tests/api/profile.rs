//! The SCIM interop profile (draft-zollner-scim-interop-profile-02), where it costs Entra and
//! Okta nothing: unknown attributes and schema URIs in a body, a PATCH path or a PATCH value are
//! 400 invalidSyntax naming them, nothing written; a filter naming an attribute its resource type
//! does not define is 400 invalidFilter; /Schemas declares the canonical values of every `type`;
//! case sensitivity is the same for filters and uniqueness. And what Entra and Okta really send,
//! which the profile would refuse, is still accepted (README, "SCIM interop profile").

use crate::helpers::{patch, user_body, Backend, TestApp};
use serde_json::json;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// The detail of an error reply.
fn detail(r: &crate::helpers::Reply) -> String {
    r.body["detail"].as_str().unwrap_or_default().to_string()
}

/// Live users of tenant acme.
async fn user_count(app: &TestApp) -> u64 {
    app.scim("GET", "/Users?count=0", None)
        .await
        .expect(200)
        .body["totalResults"]
        .as_u64()
        .unwrap()
}

/// POST and PUT bodies: an attribute, a sub-attribute, a schema URN or an extension object
/// that the User or Group schemas do not define is 400 invalidSyntax naming it and saying
/// what to do; nothing is written.
async fn unknown_attributes_in_bodies_are_invalid_syntax(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut shoe = user_body("a@contoso.com", "a@contoso.com");
    shoe["shoeSize"] = json!(42);
    let r = app.scim("POST", "/Users", Some(shoe)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "unknown attribute \"shoeSize\"",
    );
    let d = detail(&r);
    assert!(
        d.contains("/Schemas lists the attributes of a User")
            && d.contains("scimd field add <tenant> shoeSize --type integer")
            && d.contains(CUSTOM),
        "{d}"
    );

    let mut nick = user_body("a@contoso.com", "a@contoso.com");
    nick["name"]["nick"] = json!("Al");
    let r = app.scim("POST", "/Users", Some(nick)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "unknown attribute \"name.nick\"",
    );
    assert!(detail(&r).contains("givenName"), "{}", r.body);

    let mut floor = user_body("a@contoso.com", "a@contoso.com");
    floor[ENTERPRISE]["floor"] = json!("3");
    app.scim("POST", "/Users", Some(floor)).await.expect_error(
        400,
        Some("invalidSyntax"),
        &format!("unknown attribute \"floor\" of {ENTERPRISE}"),
    );

    let mut listed = user_body("a@contoso.com", "a@contoso.com");
    listed["schemas"] = json!([USER, "urn:example:nope"]);
    app.scim("POST", "/Users", Some(listed)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "unknown schema \"urn:example:nope\"",
    );

    // An extension the tenant's IdP made up (Okta: an attribute's External namespace): the
    // detail says which URN to use instead.
    let mut okta_ext = user_body("a@contoso.com", "a@contoso.com");
    okta_ext["urn:okta:acme:1.0:profile:User"] = json!({"badge": "K-7"});
    let r = app
        .scim("POST", "/Users", Some(okta_ext))
        .await
        .expect_error(
            400,
            Some("invalidSyntax"),
            "urn:okta:acme:1.0:profile:User is not a schema of a User",
        );
    let d = detail(&r);
    assert!(
        d.contains(CUSTOM) && d.contains("External namespace"),
        "{d}"
    );

    // An undefined custom attribute keeps the detail that says how to define it.
    let mut custom = user_body("a@contoso.com", "a@contoso.com");
    custom[CUSTOM] = json!({"badge": "K-7"});
    app.scim("POST", "/Users", Some(custom)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "define it first with `scimd field add <tenant> badge --type string` or on the admin page",
    );
    assert_eq!(user_count(&app).await, 0, "nothing was written");

    // PUT: refused, the stored user unchanged.
    let id = app.create_user("a@contoso.com", "a@contoso.com").await;
    let before = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    let mut put = user_body("a@contoso.com", "a@contoso.com");
    put["displayName"] = json!("Changed");
    put["favouriteColour"] = json!("blue");
    app.scim("PUT", &format!("/Users/{id}"), Some(put))
        .await
        .expect_error(400, Some("invalidSyntax"), "favouriteColour");
    let after = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(after.body, before.body);

    // Groups: no extensions, and no User attributes.
    let group = json!({"schemas": [GROUP], "displayName": "Sales", "userName": "x"});
    let r = app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "unknown attribute \"userName\"",
    );
    assert!(
        detail(&r).contains("/Schemas lists the attributes of a Group"),
        "{}",
        r.body
    );
    let group = json!({"schemas": [GROUP, ENTERPRISE], "displayName": "Sales"});
    app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidSyntax"),
        ENTERPRISE,
    );
    let group = json!({"schemas": [GROUP], "displayName": "Sales", "members": [{"value": id, "weight": 2}]});
    app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "members.weight",
    );
    assert_eq!(
        app.filter_groups("displayName eq \"Sales\"")
            .await
            .expect(200)
            .body["totalResults"],
        0
    );
}

/// PATCH: a path, a value filter in a path, a key of a path-less value or a sub-attribute
/// of a value naming what the schemas do not define is 400 invalidSyntax naming it; the
/// resource is unchanged (all or nothing).
async fn unknown_attributes_in_patches_are_invalid_syntax(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("a@contoso.com", "a@contoso.com").await;
    let url = format!("/Users/{id}");
    let before = app.scim("GET", &url, None).await.expect(200);
    for (op, named) in [
        (
            json!({"op": "replace", "path": "shoeSize", "value": 42}),
            "unknown attribute \"shoeSize\"",
        ),
        (
            json!({"op": "replace", "path": "name.nick", "value": "Al"}),
            "unknown attribute \"name.nick\"",
        ),
        (
            json!({"op": "replace", "path": "emails[kind eq \"work\"].value", "value": "b@contoso.com"}),
            "emails.kind",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq \"work\"].address", "value": "b@contoso.com"}),
            "emails.address",
        ),
        (
            json!({"op": "add", "path": format!("{ENTERPRISE}:floor"), "value": "3"}),
            "unknown attribute \"floor\"",
        ),
        (
            json!({"op": "add", "path": "urn:okta:acme:1.0:profile:User:badge", "value": "K-7"}),
            "is not a schema of a User",
        ),
        (
            json!({"op": "replace", "value": {"displayName": "B", "shoeSize": 42}}),
            "unknown attribute \"shoeSize\"",
        ),
        (
            json!({"op": "add", "path": "name", "value": {"givenName": "B", "nick": "Al"}}),
            "unknown attribute \"name.nick\"",
        ),
        (
            json!({"op": "add", "path": format!("{CUSTOM}:badge"), "value": "K-7"}),
            "scimd field add <tenant> badge",
        ),
    ] {
        // A good operation first: all or nothing.
        let ops = json!([{"op": "replace", "path": "title", "value": "Changed"}, op]);
        app.scim("PATCH", &url, Some(patch(ops)))
            .await
            .expect_error(400, Some("invalidSyntax"), named);
    }
    let after = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(after.body, before.body);

    let g = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Sales"})),
        )
        .await
        .expect(201);
    let gurl = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    for (op, named) in [
        (
            json!({"op": "replace", "path": "userName", "value": "x"}),
            "unknown attribute \"userName\"",
        ),
        (
            json!({"op": "remove", "path": "members[kind eq \"User\"]"}),
            "members.kind",
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"value": id, "weight": 2}]}),
            "members.weight",
        ),
    ] {
        app.scim("PATCH", &gurl, Some(patch(json!([op]))))
            .await
            .expect_error(400, Some("invalidSyntax"), named);
    }
    let group = app.scim("GET", &gurl, None).await.expect(200);
    assert_eq!(group.body["meta"]["version"], g.body["meta"]["version"]);
}

/// A filter on `/Users` or `/Groups` that names an attribute the resource type does not
/// define is 400 invalidFilter naming it (GET and POST .search); Entra's and Okta's filters
/// run as before; a custom attribute is there once defined; the root search, over both
/// types, is not held to one type's attributes.
async fn filters_on_undefined_attributes_are_invalid_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.cli()
        .ok(&["field", "add", "acme", "postalCode", "--type", "string"]);
    let mut body = user_body("a@contoso.com", "a@contoso.com");
    body[CUSTOM] = json!({"postalCode": "75001"});
    app.scim("POST", "/Users", Some(body)).await.expect(201);

    for (filter, named) in [
        ("shoeSize eq 42", "shoeSize"),
        (
            "userName eq \"a@contoso.com\" and nickNames pr",
            "nickNames",
        ),
        ("name.nick eq \"Al\"", "name.nick"),
        ("emails[kind eq \"work\"]", "emails.kind"),
        (
            "emails[type eq \"work\"].address eq \"a@contoso.com\"",
            "emails.address",
        ),
        ("department eq \"Sales\"", "department"),
        ("members.value eq \"x\"", "members.value"),
    ] {
        let r = app
            .filter_users(filter)
            .await
            .expect_error(400, Some("invalidFilter"), named);
        assert!(detail(&r).contains("/Schemas lists"), "{}", r.body);
    }
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "shoeSize eq 42"});
    app.scim("POST", "/Users/.search", Some(search))
        .await
        .expect_error(400, Some("invalidFilter"), "shoeSize");
    app.filter_users(&format!("{CUSTOM}:badge eq \"K-7\""))
        .await
        .expect_error(400, Some("invalidFilter"), "scimd field add");
    app.filter_groups("userName eq \"a@contoso.com\"")
        .await
        .expect_error(400, Some("invalidFilter"), "userName");
    app.filter_groups("members[display eq \"A\" or weight gt 1]")
        .await
        .expect_error(400, Some("invalidFilter"), "members.weight");

    // What Entra and Okta filter on, and attribute names in any case.
    for filter in [
        "emails[type eq \"work\"].value eq \"a@contoso.com\"",
        "userName eq \"A@CONTOSO.COM\"",
        "USERNAME eq \"a@contoso.com\" and active eq true",
        "externalId eq \"ext-a@contoso.com\"",
        "emails.value eq \"a@contoso.com\"",
        &format!("{ENTERPRISE}:department eq \"Engineering\""),
        &format!("{CUSTOM}:postalCode eq \"75001\""),
        "meta.lastModified gt \"2001-01-01T00:00:00Z\"",
    ] {
        let r = app.filter_users(filter).await.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{filter}: {}", r.body);
    }
    app.filter_groups("displayName eq \"Sales\"")
        .await
        .expect(200);

    // The root search lists Users then Groups: a User attribute is no error for Groups.
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"a@contoso.com\""});
    let r = app.scim("POST", "/.search", Some(search)).await.expect(200);
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

/// /Schemas declares `canonicalValues` for every `type` sub-attribute, as RFC 7643 gives
/// them (an empty list where it gives none: any type is accepted there).
async fn schemas_declare_canonical_values_of_every_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.scim("GET", "/Schemas", None).await.expect(200);
    let mut declared = Vec::new();
    for schema in r.body["Resources"].as_array().unwrap() {
        for attr in schema["attributes"].as_array().unwrap() {
            for sub in attr["subAttributes"].as_array().into_iter().flatten() {
                if sub["name"] == "type" {
                    let values = sub["canonicalValues"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{}.type lacks canonicalValues", attr["name"]));
                    declared.push((attr["name"].as_str().unwrap().to_string(), values.clone()));
                }
            }
        }
    }
    let of = |name: &str| {
        declared
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| json!(v))
            .unwrap_or_else(|| panic!("{name}.type not declared"))
    };
    assert_eq!(of("emails"), json!(["work", "home", "other"]));
    assert_eq!(of("addresses"), json!(["work", "home", "other"]));
    assert_eq!(
        of("phoneNumbers"),
        json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
    assert_eq!(of("photos"), json!(["photo", "thumbnail"]));
    assert_eq!(of("members"), json!(["User", "Group"]));
    for name in ["ims", "groups", "entitlements", "roles", "x509Certificates"] {
        of(name);
    }
}

/// What Entra and Okta really send, which the profile would refuse, is accepted: Okta's
/// POST (password, locale, groups, honorificPrefix…), operations without `path` (Okta's
/// deactivation, its group rename echoing the id, Entra's dotted keys), `"op":"Replace"` and
/// `"False"`, Entra's ADSCIM group URN, `meta` and `roles: []` in a POST.
async fn what_entra_and_okta_send_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let okta = json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "okta.user@example.com",
        "name": {"givenName": "Okta", "familyName": "User", "honorificPrefix": "Dr."},
        "emails": [{"primary": true, "value": "okta.user@example.com", "type": "work"}],
        "displayName": "Okta User",
        "locale": "en-US",
        "preferredLanguage": "en",
        "timezone": "Europe/Paris",
        "title": "Engineer",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
        ENTERPRISE: {"employeeNumber": "42"}
    });
    let r = app.scim("POST", "/Users", Some(okta)).await.expect(201);
    assert!(r.body.get("password").is_none(), "{}", r.body);
    assert_eq!(r.body["name"]["honorificPrefix"], "Dr.");
    assert_eq!(r.body["timezone"], "Europe/Paris");
    let url = format!("/Users/{}", r.body["id"].as_str().unwrap());

    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(json!([
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "replace", "value": {"name.givenName": "Okay", format!("{ENTERPRISE}:department"): "Ops"}}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["givenName"], "Okay");
    assert_eq!(r.body[ENTERPRISE]["department"], "Ops");

    let adscim = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
    let g = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP, adscim], "displayName": "Sales", "members": []})),
        )
        .await
        .expect(201);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let r = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Sales EU"}}]),
            )),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 200 | 204), "{}", r.body);
    let r = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Sales EU");
}

/// Case sensitivity as RFC 7643 defines it, the same for filters and for uniqueness: `id`
/// and `externalId` case-exact, `userName` not.
async fn case_sensitivity_is_the_same_for_filters_and_uniqueness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = user_body("JSmith@contoso.com", "jsmith@contoso.com");
    body["externalId"] = json!("ABC-123");
    let r = app.scim("POST", "/Users", Some(body)).await.expect(201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let count = |r: crate::helpers::Reply| r.expect(200).body["totalResults"].clone();
    assert_eq!(
        count(app.filter_users("externalId eq \"ABC-123\"").await),
        1
    );
    assert_eq!(
        count(app.filter_users("externalId eq \"abc-123\"").await),
        0
    );
    assert_eq!(count(app.filter_users(&format!("id eq \"{id}\"")).await), 1);
    assert_eq!(
        count(
            app.filter_users(&format!("id eq \"{}\"", id.to_uppercase()))
                .await
        ),
        0
    );
    assert_eq!(
        count(app.filter_users("userName eq \"jsmith@CONTOSO.com\"").await),
        1
    );
    // userName: jsmith and JSmith are one name for uniqueness too.
    app.scim(
        "POST",
        "/Users",
        Some(user_body("jsmith@contoso.com", "other@contoso.com")),
    )
    .await
    .expect_error(409, Some("uniqueness"), "userName");
    // externalId: another case is another value.
    let mut other = user_body("other@contoso.com", "other@contoso.com");
    other["externalId"] = json!("abc-123");
    app.scim("POST", "/Users", Some(other)).await.expect(201);
}

/// The PATCH semantics the profile names, as RFC 7644 already has them: `add` and `replace`
/// of a single-valued simple attribute are one; `add` of a multi-valued attribute without a
/// filter appends and `replace` replaces the collection; a PATCH that takes a live user's
/// userName is 409 uniqueness; a PATCH never deletes.
async fn patch_semantics_of_the_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("a@contoso.com", "a@contoso.com").await;
    app.create_user("b@contoso.com", "b@contoso.com").await;
    let url = format!("/Users/{id}");
    let send = |ops: serde_json::Value| app.scim("PATCH", &url, Some(patch(ops)));
    let r = send(json!([{"op": "add", "path": "title", "value": "One"}]))
        .await
        .expect(200);
    assert_eq!(r.body["title"], "One");
    let r = send(json!([{"op": "add", "path": "title", "value": "Two"}]))
        .await
        .expect(200);
    assert_eq!(r.body["title"], "Two", "add replaces a single value");
    let r = send(json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+331", "type": "work"}]}]))
        .await
        .expect(200);
    let r2 = send(json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+332", "type": "mobile"}]}]))
        .await
        .expect(200);
    assert_eq!(r.body["phoneNumbers"].as_array().unwrap().len(), 1);
    assert_eq!(
        r2.body["phoneNumbers"],
        json!([{"value": "+331", "type": "work"}, {"value": "+332", "type": "mobile"}])
    );
    let r = send(json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "+333", "type": "home"}]}]))
        .await
        .expect(200);
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"value": "+333", "type": "home"}])
    );
    send(json!([{"op": "replace", "path": "userName", "value": "B@contoso.com"}]))
        .await
        .expect_error(409, Some("uniqueness"), "userName");
    send(json!([{"op": "replace", "path": "active", "value": false}]))
        .await
        .expect(200);
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["active"], false, "a deactivated user is still there");
}

crate::helpers::backend_tests!(
    unknown_attributes_in_bodies_are_invalid_syntax,
    unknown_attributes_in_patches_are_invalid_syntax,
    filters_on_undefined_attributes_are_invalid_filter,
    schemas_declare_canonical_values_of_every_type,
    what_entra_and_okta_send_is_accepted,
    case_sensitivity_is_the_same_for_filters_and_uniqueness,
    patch_semantics_of_the_profile,
);
