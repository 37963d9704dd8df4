//! What to enter in each identity provider, in that product's own words and field names, one
//! function a provider. Facts come from each vendor's public documentation: Microsoft's
//! "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID", Okta's
//! "Add SCIM provisioning to app integrations", OneLogin's SCIM Provisioner with SAML (SCIM v2
//! Enterprise), JumpCloud's "Identity Management using a Custom SCIM Integration", PingOne's
//! SCIM outbound provisioning and PingFederate's SCIM Provisioner (see docs/providers.md).
//! `pages::tenant` only places the guide the tenant's admin chose.
//!
//! Every value to enter has a copy button (`button[data-copy]`, handled by the page's script).

use maud::{html, Markup};

use crate::scim::schema::{CustomField, CUSTOM_USER_SCHEMA};
use crate::service::providers::IdentityProvider;

const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const WORK_EMAIL: &str = "emails[type eq \"work\"].value";

/// What a guide needs to know of the tenant and the server.
pub struct GuideContext<'a> {
    /// The tenant's SCIM base URL.
    pub tenant_url: &'a str,
    /// `{public-url}/oauth/token`: the OAuth 2.0 token endpoint.
    pub token_url: String,
    /// `{public-url}/oauth/authorize`: the authorization endpoint (authorization-code grant).
    pub authorize_url: String,
    /// `{public-url}/.well-known/oauth-authorization-server`: RFC 8414 metadata.
    pub metadata_url: String,
    /// The tenant's custom fields (attributes of [`CUSTOM_USER_SCHEMA`]).
    pub fields: &'a [CustomField],
}

impl<'a> GuideContext<'a> {
    /// The context of a tenant whose SCIM base URL is `tenant_url`, on a server reached at
    /// `public_url` (no trailing slash).
    pub fn new(public_url: &str, tenant_url: &'a str, fields: &'a [CustomField]) -> Self {
        GuideContext {
            tenant_url,
            token_url: format!("{public_url}/oauth/token"),
            authorize_url: format!("{public_url}/oauth/authorize"),
            metadata_url: format!("{public_url}/.well-known/oauth-authorization-server"),
            fields,
        }
    }

    /// Each custom field's name and full attribute path.
    fn custom_attributes(&self) -> impl Iterator<Item = (&str, String)> {
        self.fields
            .iter()
            .map(|f| (f.name.as_str(), format!("{CUSTOM_USER_SCHEMA}:{}", f.name)))
    }
}

/// The guide of this provider.
pub fn guide(provider: IdentityProvider, ctx: &GuideContext<'_>) -> Markup {
    match provider {
        IdentityProvider::Entra => entra(ctx),
        IdentityProvider::Okta => okta(ctx),
        IdentityProvider::OneLogin => onelogin(ctx),
        IdentityProvider::JumpCloud => jumpcloud(ctx),
        IdentityProvider::PingOne => pingone(ctx),
        IdentityProvider::Other => other(ctx),
    }
}

/// Where a Secret Token goes in this provider, in its words.
pub fn token_field(provider: IdentityProvider) -> Markup {
    let (product, field) = match provider {
        IdentityProvider::Entra => ("Microsoft Entra ID", "Secret Token"),
        IdentityProvider::Okta => ("Okta", "Authorization (HTTP Header)"),
        IdentityProvider::OneLogin => ("OneLogin", "SCIM Bearer Token"),
        IdentityProvider::JumpCloud => ("JumpCloud", "Token Key"),
        IdentityProvider::PingOne => ("PingOne", "OAuth Access Token"),
        IdentityProvider::Other => ("your SCIM client", "bearer token"),
    };
    html! { (product) "'s " strong { (field) } " field" }
}

/// A value to enter, in an element of its own (`id`) with its copy button.
fn copy(id: &str, text: &str) -> Markup {
    html! {
        code id=(id) { (text) }
        " "
        button type="button" class="copy" data-copy=(id) aria-label={ "Copy " (text) } { "Copy" }
    }
}

/// A table of fields to fill in: the field's name in the product, and what to enter.
fn fields_table(id: &str, rows: Markup) -> Markup {
    html! {
        table.enter id=(id) {
            tr { th { "Field" } th { "Enter" } }
            (rows)
        }
    }
}

/// One row of [`fields_table`] whose value is copied.
fn field_row(field: &str, id: &str, value: &str) -> Markup {
    html! { tr { td { strong { (field) } } td { (copy(id, value)) } } }
}

/// One row of [`fields_table`] whose value is described, not copied.
fn field_note(field: &str, note: Markup) -> Markup {
    html! { tr { td { strong { (field) } } td { (note) } } }
}

/// Where the Secret Token comes from.
fn secret_token() -> Markup {
    html! {
        "a Secret Token from " a href="#generate-token" { "Generate a Secret Token" }
        " below (shown once)"
    }
}

/// Where an OAuth client's id and secret come from.
fn oauth_client(what: &str) -> Markup {
    html! {
        "the " (what) " of a client made in " a href="#oauth-clients" { "OAuth clients" }
        " on this page (the secret is shown once)"
    }
}

/// The last step of every guide: what scimd shows of it.
fn check_in_scimd() -> Markup {
    html! {
        li {
            "Here, " strong { "Provisioned" } " counts the users that arrived and "
            a href="#history-link" { "Sync history" } " lists each change and each rejected request with its reason."
        }
    }
}

fn entra(ctx: &GuideContext<'_>) -> Markup {
    let mappings: [(&str, &str, &str); 6] = [
        ("userPrincipalName", "userName", "Direct"),
        (
            "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")",
            "active",
            "Expression",
        ),
        (
            "mail",
            WORK_EMAIL,
            "Direct — matching attribute, precedence 1",
        ),
        ("jobTitle", "title", "Direct"),
        (
            "department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "Direct",
        ),
        ("country", "addresses[type eq \"work\"].country", "Direct"),
    ];
    html! {
        div.guide #guide-entra {
            h2 { "Connect Microsoft Entra ID" }
            ol {
                li { "In the Microsoft Entra admin center, open " em { "Enterprise applications" } ", then " em { "New application" } " → " em { "Create your own application" } " → " em { "Integrate any other application you don't find in the gallery (Non-gallery)" } " (or open your existing app)." }
                li { "Open " em { "Provisioning" } " and set " strong { "Provisioning Mode" } " to " strong { "Automatic" } "." }
                li {
                    "Under " em { "Admin Credentials" } ", with " strong { "Authentication Method" } " " em { "Bearer Authentication" } ":"
                    (fields_table("entra-bearer", html! {
                        (field_row("Tenant URL", "entra-tenant-url", ctx.tenant_url))
                        (field_note("Secret Token", secret_token()))
                    }))
                    "Or, with " em { "OAuth2 Client Credentials Grant" } ":"
                    (fields_table("entra-oauth", html! {
                        (field_row("Tenant URL", "entra-oauth-tenant-url", ctx.tenant_url))
                        (field_row("Token Endpoint", "entra-token-endpoint", &ctx.token_url))
                        (field_note("Client Identifier", oauth_client("Client ID")))
                        (field_note("Client Secret", oauth_client("Client secret")))
                    }))
                }
                li { "Press " strong { "Test Connection" } ": it must succeed. You may append " code { "?aadOptscim062020" } " to the Tenant URL for Entra's more standard behaviour; scimd accepts both." }
                li {
                    "Open " em { "Mappings" } " → " em { "Provision Microsoft Entra ID Users" } " and set the mappings to these (edit a row to set its " strong { "Matching precedence" } "; " code { "mail" } " must be the only row with " strong { "Match objects using this attribute" } " set to Yes):"
                    table.enter #entra-mappings {
                        tr { th { "Mapping type" } th { "Source attribute (Microsoft Entra ID)" } th { "Target attribute (scimd)" } }
                        @for (i, (source, target, kind)) in mappings.iter().enumerate() {
                            tr {
                                td { (kind) }
                                td { (copy(&format!("entra-source-{i}"), source)) }
                                td { (copy(&format!("entra-target-{i}"), target)) }
                            }
                        }
                        @for (name, attribute) in ctx.custom_attributes() {
                            tr {
                                td { "Direct (custom attribute " (name) ")" }
                                td { "the Entra attribute that holds it" }
                                td { (copy(&format!("entra-custom-{name}"), &attribute)) }
                            }
                        }
                    }
                    p.muted {
                        "scimd matches users on their work mail: a user whose mail another live user already has is refused (409), and every user needs a mail. "
                        @if ctx.fields.is_empty() {
                            "This tenant has no custom attributes; those added below appear in this table."
                        } @else {
                            "Add each custom target under " em { "Show advanced options" } " → " em { "Edit attribute list for …" } " before mapping it."
                        }
                    }
                }
                li { "Keep " em { "Provision Microsoft Entra ID Groups" } " enabled to push groups and their members (scimd stores both)." }
                li { "Under " em { "Settings" } ", set " strong { "Scope" } " to " em { "Sync only assigned users and groups" } ", assign them under " em { "Users and groups" } ", then set " strong { "Provisioning Status" } " to " strong { "On" } " and " strong { "Save" } "." }
            }
            h3 { "Check that it works" }
            ol {
                li { "Use " strong { "Provision on demand" } " with one assigned user: each step must succeed and the user appears here." }
                li { "Then read the " em { "Provisioning logs" } ": the first cycle provisions everyone in scope, later cycles only changes." }
                (check_in_scimd())
            }
            h3 { "What Entra does" }
            ul {
                li { "Unassigning a user, or soft-deleting it in Entra, sends " code { "active" } " false: scimd deactivates it and keeps it. A hard-deleted user is deleted." }
                li { "Assigning groups to the app (rather than users one by one) needs Microsoft Entra ID P1 or P2." }
            }
        }
    }
}

fn okta(ctx: &GuideContext<'_>) -> Markup {
    html! {
        div.guide #guide-okta {
            h2 { "Connect Okta" }
            ol {
                li { "In the Okta Admin Console, create a SAML 2.0 or SWA app integration (" em { "Applications" } " → " em { "Applications" } " → " em { "Create App Integration" } "), or open yours. Okta cannot add SCIM to an OpenID Connect (OIDC) integration." }
                li { "On its " em { "General" } " tab, under " em { "App Settings" } " press " strong { "Edit" } ", select " strong { "SCIM" } " in " strong { "Provisioning" } " and " strong { "Save" } "." }
                li {
                    "On the " em { "Provisioning" } " tab, under " em { "Settings" } " → " em { "Integration" } ", press " strong { "Edit" } ":"
                    (fields_table("okta-fields", html! {
                        (field_row("SCIM connector base URL", "okta-base-url", ctx.tenant_url))
                        (field_row("Unique identifier field for users", "okta-unique-id", "userName"))
                        (field_note("Supported provisioning actions", html! {
                            strong { "Push New Users" } ", " strong { "Push Profile Updates" } " and " strong { "Push Groups" }
                            " (" em { "Import New Users and Profile Updates" } " and " em { "Import Groups" } " work too)"
                        }))
                        (field_note("Authentication Mode", html! { strong { "HTTP Header" } }))
                        (field_note("Authorization", secret_token()))
                    }))
                    "Or, with " strong { "Authentication Mode" } " " em { "OAuth 2" } " (the authorization-code grant):"
                    (fields_table("okta-oauth", html! {
                        (field_row("Access token endpoint URI", "okta-token-endpoint", &ctx.token_url))
                        (field_row("Authorization endpoint URI", "okta-authorize-endpoint", &ctx.authorize_url))
                        (field_note("Client ID", oauth_client("Client ID")))
                        (field_note("Client Secret", oauth_client("Client secret")))
                    }))
                }
                li { "Press " strong { "Test Connector Configuration" } " (with OAuth 2, first authenticate as Okta asks), then " strong { "Save" } "." }
                li { "Under " em { "Settings" } " → " em { "To App" } ", press " strong { "Edit" } " and enable " strong { "Create Users" } ", " strong { "Update User Attributes" } " and " strong { "Deactivate Users" } ", then " strong { "Save" } ". scimd keeps no passwords: leave " em { "Sync Password" } " off." }
                li {
                    "In the " em { "To App" } " attribute mappings, keep the user's " strong { "Primary email" } " (Okta sends it as the work email, " (copy("okta-work-email", WORK_EMAIL)) "): scimd matches users on it, and a user needs one."
                    @if !ctx.fields.is_empty() {
                        " For each custom attribute, add it in the app's " em { "Profile Editor" } " (" strong { "Add Attribute" } ") with:"
                        table.enter #okta-custom {
                            tr { th { "External name" } th { "External namespace" } }
                            @for (name, _) in ctx.custom_attributes() {
                                tr {
                                    td { (copy(&format!("okta-custom-{name}"), name)) }
                                    td { (copy(&format!("okta-custom-ns-{name}"), CUSTOM_USER_SCHEMA)) }
                                }
                            }
                        }
                    }
                }
                li { "Assign people or groups on the " em { "Assignments" } " tab; choose the groups to push on the " em { "Push Groups" } " tab." }
            }
            h3 { "Check that it works" }
            ol {
                li { "Assign one test user: it appears here within a minute. A failed push shows in the Okta Admin Console under " em { "Dashboard" } " → " em { "Tasks" } "." }
                (check_in_scimd())
            }
            h3 { "What Okta does and does not do" }
            ul {
                li { "Okta never deletes users over SCIM: unassigning or deactivating one sends " code { "active" } " false, and scimd keeps it deactivated." }
                li { "Okta's OAuth 2 mode uses the authorization-code grant, not client credentials." }
            }
        }
    }
}

/// The SCIM JSON Template OneLogin sends users with: the work mail scimd matches on, the
/// enterprise department and the tenant's custom attributes.
fn onelogin_template(ctx: &GuideContext<'_>) -> String {
    let mut schemas = vec![
        "urn:ietf:params:scim:schemas:core:2.0:User".to_string(),
        ENTERPRISE_USER.to_string(),
    ];
    let mut custom = serde_json::Map::new();
    for (name, _) in ctx.custom_attributes() {
        custom.insert(
            name.to_string(),
            serde_json::Value::String(format!("{{$parameters.{name}}}")),
        );
    }
    if !custom.is_empty() {
        schemas.push(CUSTOM_USER_SCHEMA.to_string());
    }
    let mut template = serde_json::json!({
        "schemas": schemas,
        "userName": "{$parameters.scimusername}",
        "name": {"givenName": "{$user.firstname}", "familyName": "{$user.lastname}"},
        "emails": [{"value": "{$user.email}", "type": "work", "primary": true}],
        "title": "{$parameters.title}",
    });
    if let Some(object) = template.as_object_mut() {
        object.insert(
            ENTERPRISE_USER.to_string(),
            serde_json::json!({"department": "{$parameters.department}"}),
        );
        if !custom.is_empty() {
            object.insert(
                CUSTOM_USER_SCHEMA.to_string(),
                serde_json::Value::Object(custom),
            );
        }
    }
    serde_json::to_string_pretty(&template).unwrap_or_default()
}

fn onelogin(ctx: &GuideContext<'_>) -> Markup {
    html! {
        div.guide #guide-onelogin {
            h2 { "Connect OneLogin" }
            ol {
                li { "In OneLogin's administration, open " em { "Applications" } " → " strong { "Add App" } ", search for " strong { "SCIM Provisioner with SAML (SCIM v2 Enterprise)" } ", give it a display name and " strong { "Save" } "." }
                li {
                    "On its " em { "Configuration" } " tab:"
                    (fields_table("onelogin-fields", html! {
                        (field_row("SCIM Base URL", "onelogin-base-url", ctx.tenant_url))
                        (field_note("SCIM Bearer Token", secret_token()))
                        tr {
                            td { strong { "SCIM JSON Template" } }
                            td { pre { code #onelogin-template { (onelogin_template(ctx)) } } button type="button" class="copy" data-copy="onelogin-template" { "Copy" } }
                        }
                        (field_note("API Connection", html! { "press " strong { "Enable" } ", then " strong { "Save" } }))
                    }))
                    p.muted { "The template sends the user's email as the work email (scimd matches users on it; a user needs one). Leave groups out of the template." }
                }
                @if !ctx.fields.is_empty() {
                    li { "On the " em { "Parameters" } " tab, add a parameter for each custom attribute, named as in the template (" @for (i, (name, _)) in ctx.custom_attributes().enumerate() { @if i > 0 { ", " } code { (name) } } "), and choose the OneLogin field it takes." }
                }
                li { "On the " em { "Parameters" } " tab, " strong { "scimusername" } " is the userName scimd receives (OneLogin's Username by default; Email works too)." }
                li {
                    "On the " em { "Provisioning" } " tab, check " strong { "Enable provisioning" } "; under " em { "Require admin approval before this action is performed" } " uncheck " strong { "Create user" } ", " strong { "Delete user" } " and " strong { "Update user" } " (or approve each change yourself); "
                    "for " em { "When users are deleted in OneLogin, or the user's app access is removed" } " choose " strong { "Suspend" } " (scimd deactivates the user and keeps it) or " strong { "Delete" } "; for suspended users choose " strong { "Suspend" } ". " strong { "Save" } "."
                }
                li { "Give users the app (" em { "Users" } " → a user → " em { "Applications" } ", or a role on the app's " em { "Access" } " tab)." }
            }
            h3 { "Check that it works" }
            ol {
                li { "After giving one test user the app, OneLogin's " em { "Users" } " → " em { "Provisioning" } " lists its change as provisioned (or pending approval, or failed with the reason)." }
                (check_in_scimd())
            }
            h3 { "What OneLogin does not do" }
            ul {
                li { "The SCIM Provisioner authenticates with its SCIM Bearer Token only: it has no OAuth client credentials setting, so use a Secret Token." }
                li { "It sends groups only through its " strong { "Groups" } " parameter and rules, not through the template." }
            }
        }
    }
}

fn jumpcloud(ctx: &GuideContext<'_>) -> Markup {
    html! {
        div.guide #guide-jumpcloud {
            h2 { "Connect JumpCloud" }
            ol {
                li { "In the JumpCloud Admin Portal, open " em { "SSO Applications" } " and your custom SAML application (or add one). JumpCloud configures SCIM within an application." }
                li {
                    "On its " em { "Identity Management" } " tab, under " em { "Configuration" } ":"
                    (fields_table("jumpcloud-fields", html! {
                        (field_note("API Type", html! { strong { "SCIM API" } }))
                        (field_note("SCIM Version", html! { strong { "SCIM 2.0" } }))
                        (field_row("Base URL", "jumpcloud-base-url", ctx.tenant_url))
                        (field_note("Token Key", secret_token()))
                        (field_note("HTTP Header", html! { strong { "Authorization: Bearer" } }))
                        (field_note("Test User Email", html! { "an address of your domain: JumpCloud creates a test user and a test group and then deletes them (scimd allows it; they show in the sync history)" }))
                        (field_note("Group Management", html! { "enable management of user groups and group membership, to push groups" }))
                    }))
                }
                li { "Press " strong { "Test Connection" } ", then " strong { "Activate" } ", then " strong { "Save" } "." }
                li { "On the application's " em { "User Groups" } " tab, select the groups whose users scimd receives, and " strong { "Save" } "." }
                li { "Each user needs an email: JumpCloud sends it, and scimd matches users on it." }
            }
            h3 { "Check that it works" }
            ol {
                li { "Add a test user to a selected group: it appears here within a minute." }
                (check_in_scimd())
            }
            h3 { "What JumpCloud does not do" }
            ul {
                li { "Its custom SCIM integration authenticates with an API key or bearer token only: no OAuth. Use a Secret Token." }
                li {
                    "It has no special attribute mappings or extension schemas"
                    @if ctx.fields.is_empty() { "." } @else { ": this tenant's custom attributes stay empty for users from JumpCloud." }
                }
            }
        }
    }
}

fn pingone(ctx: &GuideContext<'_>) -> Markup {
    html! {
        div.guide #guide-pingone {
            h2 { "Connect PingOne" }
            ol {
                li { "In PingOne, open " em { "Integrations" } " → " em { "Provisioning" } ", press " strong { "+" } " → " strong { "New connection" } ", select " strong { "Identity Store" } " → " strong { "SCIM Outbound" } ", name it." }
                li {
                    "On " em { "Configure authentication" } ", with " strong { "Authentication method" } " " em { "OAuth 2 Bearer Token" } ":"
                    (fields_table("pingone-fields", html! {
                        (field_row("SCIM base URL", "pingone-base-url", ctx.tenant_url))
                        (field_row("Users resource", "pingone-users", "/Users"))
                        (field_note("SCIM version", html! { strong { "2.0" } }))
                        (field_note("OAuth Access Token", secret_token()))
                        (field_note("Auth Type Header", html! { strong { "Bearer" } }))
                    }))
                    "Or, with " em { "OAuth 2 Client Credentials" } ":"
                    (fields_table("pingone-oauth", html! {
                        (field_row("OAuth Token Request", "pingone-token-endpoint", &ctx.token_url))
                        (field_note("OAuth Client ID", oauth_client("Client ID")))
                        (field_note("OAuth Client Secret", oauth_client("Client secret")))
                        (field_note("Auth Type Header", html! { strong { "Bearer" } }))
                    }))
                }
                li { "Press " strong { "Test Connection" } ": it must succeed. Keep the user identifier " code { "userName" } "; for deprovisioning choose " strong { "Disable" } " (scimd deactivates the user and keeps it) or " strong { "Delete" } "; enable group provisioning to push groups. Turn the connection on." }
                li { "Add a provisioning rule for the users to send, and map at least the username to " (copy("pingone-username", "userName")) " and the user's email to the work email (" (copy("pingone-work-email", WORK_EMAIL)) "): scimd matches users on it, and a user needs one." }
            }
            h2 { "Connect PingFederate" }
            p { "PingFederate's " strong { "SCIM Provisioner" } ", in the SP connection's outbound provisioning:" }
            (fields_table("pingfederate-fields", html! {
                (field_row("SCIM URL", "pingfederate-base-url", ctx.tenant_url))
                (field_note("SCIM Version", html! { strong { "2.0" } }))
                (field_note("Authentication Methods", html! { strong { "OAuth 2 Bearer Token" } " (" strong { "Access Token" } ": " (secret_token()) ") or " strong { "OAuth 2 Client Credentials" } }))
                (field_row("Token Request Endpoint", "pingfederate-token-endpoint", &ctx.token_url))
                (field_note("Client ID / Client Secret", oauth_client("Client ID and Client secret")))
                (field_note("Unique User Identifier", html! { code { "userName" } " (or " code { "workEmail" } ", which scimd also finds)" }))
                (field_note("Provisioning options", html! { strong { "User Create" } ", " strong { "User Update" } ", " strong { "User Disable / Delete" } ", with " strong { "Remove User Action" } " " em { "Disable" } " or " em { "Delete" } }))
            }))
            p.muted { "Map the user's work email (" code { "workEmail" } "): scimd matches users on it. PingFederate sends users whole (PUT), which scimd accepts." }
            h3 { "Check that it works" }
            ol {
                li { "In PingOne, the connection's status and the provisioning rule's sync show each user; in PingFederate, " code { "provisioner.log" } " does." }
                (check_in_scimd())
            }
            h3 { "Good to know" }
            ul {
                li { "Both offer Basic authentication too; scimd does not (use a token or client credentials)." }
                @if !ctx.fields.is_empty() {
                    li { "Custom attributes go to " (copy("pingone-custom-ns", CUSTOM_USER_SCHEMA)) " with the field names below." }
                }
            }
        }
    }
}

fn other(ctx: &GuideContext<'_>) -> Markup {
    html! {
        div.guide #guide-other {
            h2 { "Connect another SCIM 2.0 client" }
            (fields_table("other-fields", html! {
                (field_row("SCIM base URL", "other-base-url", ctx.tenant_url))
                (field_note("Bearer token", html! { "send " code { "Authorization: Bearer <token>" } " with " (secret_token()) }))
                (field_row("OAuth 2.0 token endpoint (client credentials)", "other-token-endpoint", &ctx.token_url))
                (field_row("OAuth 2.0 authorization endpoint (authorization code)", "other-authorize-endpoint", &ctx.authorize_url))
                (field_row("OAuth 2.0 server metadata (RFC 8414)", "other-metadata", &ctx.metadata_url))
                (field_note("Client ID / secret", oauth_client("Client ID and Client secret")))
            }))
            ul {
                li { "Resources: " code { "/Users" } " and " code { "/Groups" } "; discovery at " code { "/ServiceProviderConfig" } ", " code { "/Schemas" } " and " code { "/ResourceTypes" } "." }
                li { "Every user needs an email; scimd matches users on the work email (" (copy("other-work-email", WORK_EMAIL)) "), else the primary one, else the first: a new user whose mail a live user already has is 409 " code { "uniqueness" } "." }
                li { "Look users up with " code { "userName eq" } ", " code { "externalId eq" } " or " code { "emails[type eq \"work\"].value eq" } " filters." }
                li { "Deactivate with " code { "active" } " false (scimd keeps the user); DELETE removes it." }
                li { "The enterprise extension (" code { (ENTERPRISE_USER) } ") is accepted"
                    @if ctx.fields.is_empty() { "." } @else {
                        ", and so are this tenant's custom attributes:"
                        @for (name, attribute) in ctx.custom_attributes() { " " (copy(&format!("other-custom-{name}"), &attribute)) }
                    }
                }
            }
            h3 { "Check that it works" }
            ol {
                li { "A GET of " code { "/Users?filter=userName eq \"nobody\"" } " with the token answers 200 with no results." }
                (check_in_scimd())
            }
        }
    }
}
