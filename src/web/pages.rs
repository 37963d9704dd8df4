//! Pages of `/admin`.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::scim::render::timestamp;
use crate::scim::schema::{CustomField, CUSTOM_USER_SCHEMA};
use crate::service::api_keys::ApiKeyView;
use crate::service::connection::{Connection, State as ConnectionState};
use crate::service::providers::IdentityProvider;
use crate::service::setup_links::{SetupLinkRow, MAX_LINK_DAYS};
use crate::service::tenants::{Event, Tenant, TokenRecord};
use crate::web::guides;

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:.8rem 1.5rem;display:flex;justify-content:space-between;align-items:center}
header a{color:#fff}
header button{background:transparent;border:1px solid #8a93a3;color:#fff;border-radius:4px}
main{max-width:60rem;margin:1.5rem auto;padding:0 1rem}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem 1.25rem;margin-bottom:1.25rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:0}
code,.secret{font-family:ui-monospace,Menlo,Consolas,monospace;background:#eef1f5;padding:.15rem .35rem;border-radius:4px;word-break:break-all}
.secret{display:block;padding:.6rem;margin:.5rem 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eef1f5;font-size:.92rem}
.warn{color:#a15c00;font-weight:600}.bad{color:#b3261e;font-weight:600}.ok{color:#1e7d32}
.error{background:#fde8e7;border:1px solid #f3b4b0;padding:.6rem;border-radius:6px}
.notice{background:#e8f4ea;border:1px solid #b6dcbc;padding:.6rem;border-radius:6px}
label{display:inline-block;margin:.25rem .75rem .25rem 0}
input,select,button{font:inherit;padding:.3rem .5rem}
button{cursor:pointer}
form.inline{display:inline}
ol li{margin:.3rem 0}
table.enter{margin:.4rem 0 .6rem}table.enter td:first-child{width:32%}
button.copy{font-size:.8rem;padding:.1rem .45rem;margin-left:.2rem}
.guide pre{margin:.3rem 0;white-space:pre-wrap}
.muted{color:#5b6473;font-size:.9rem}
"#;

const COPY_JS: &str = r#"
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.addEventListener('click',function(){
    var t=document.getElementById(b.getAttribute('data-copy')).textContent.trim();
    navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';},function(){b.textContent='Select and copy';});
  });
});
"#;

/// Who is looking at the page (for the header).
pub struct Viewer<'a> {
    pub username: &'a str,
    pub csrf: &'a str,
    pub is_operator: bool,
    /// When the setup link this page was opened with expires (`None`: an admin's login).
    pub setup_link_expires: Option<i64>,
}

pub(super) fn layout(title: &str, viewer: Option<&Viewer<'_>>, body: Markup) -> Markup {
    document(title, viewer, None, body)
}

/// A whole page; `next`, when given, is where the browser goes on to at once.
fn document(title: &str, viewer: Option<&Viewer<'_>>, next: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(next) = next { meta http-equiv="refresh" content={ "0;url=" (next) }; }
                title { (title) " · scimd" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    strong { "scimd · SCIM provisioning from your identity provider" }
                    @if let Some(v) = viewer {
                        div {
                            span.muted style="color:#c9cfd8" { (v.username) }
                            " "
                            form.inline method="post" action="/admin/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button type="submit" id="logout" { "Log out" }
                            }
                        }
                    }
                }
                main {
                    @if let Some(expires) = viewer.and_then(|v| v.setup_link_expires) {
                        p.notice #setup-link-expiry role="status" {
                            "You opened this page with a setup link: this setup link expires on "
                            (timestamp(expires)) ". After that, ask your provider for a new link."
                        }
                    }
                    (body)
                }
                script { (PreEscaped(COPY_JS)) }
            }
        }
    }
}

/// The login form; `csrf` is the login form's double-submit token; `next` is the page a
/// successful login goes on to (an authorization request's).
pub fn login(error: Option<&str>, csrf: &str, next: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            section {
                h1 { "Log in" }
                p.muted { "Log in to get the Tenant URL, a Secret Token and the setup guide of your identity provider (Microsoft Entra ID, Okta, OneLogin, JumpCloud, PingOne…)." }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    @if let Some(next) = next { input type="hidden" name="next" value=(next); }
                    label { "Username " input type="text" name="username" id="username" autocomplete="username" required; }
                    label { "Password " input type="password" name="password" id="password" autocomplete="current-password" required; }
                    button type="submit" id="login" { "Log in" }
                }
            }
        },
    )
}

/// What the operator's tenants page shows.
pub struct TenantsView<'a> {
    pub tenants: &'a [Tenant],
    /// Each tenant's connection health, by tenant id.
    pub connections: &'a std::collections::HashMap<String, Connection>,
    pub now: i64,
    pub public_url: String,
    pub api_keys: &'a [ApiKeyView],
    /// The webhook endpoints, each with its tenant's slug and its latest deliveries.
    pub webhooks: &'a [WebhookView],
    /// An API key just made: shown once.
    pub new_api_key: Option<&'a str>,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

/// The operator's list of tenants, with a form to create one, and the host app's API keys.
pub fn tenants(viewer: &Viewer<'_>, v: &TenantsView<'_>) -> Markup {
    let public_url = &v.public_url;
    layout(
        "Tenants",
        Some(viewer),
        html! {
            h1 { "Tenants" }
            @if let Some(m) = v.error { p.error role="alert" { (m) } }
            @if let Some(n) = v.notice { p.notice role="status" { (n) } }
            section {
                table {
                    tr { th { "Tenant" } th { "Name" } th { "Connection" } th { "Tenant URL" } }
                    @for t in v.tenants {
                        tr {
                            td { a href={ "/admin/t/" (t.slug) } { (t.slug) } @if t.disabled_at.is_some() { " " span.bad { "disabled" } } }
                            td { (t.name) }
                            td.connection data-tenant=(t.slug) {
                                @if let Some(c) = v.connections.get(&t.id) {
                                    (connection_state(c))
                                    @if let Some(left) = c.expiring_soon(v.now) { " " span.warn { "token expires in " (days_text(left)) } }
                                }
                            }
                            td { code { (public_url) "/scim/v2/tenants/" (t.slug) } }
                        }
                    }
                }
            }
            section {
                h2 { "Create a tenant" }
                form method="post" action="/admin/tenants" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label { "Slug " input type="text" name="slug" id="slug" pattern="[a-z0-9-]{1,63}" required placeholder="acme"; }
                    label { "Name " input type="text" name="name" placeholder="Acme Corp"; }
                    button type="submit" id="create-tenant" { "Create" }
                }
            }
            @if let Some(key) = v.new_api_key {
                section #new-api-key-section {
                    h2 { "Your new API key" }
                    p { strong { "Copy it now: it is shown only once." } " Send it as " code { "Authorization: Bearer …" } " to " code { (public_url) "/api/v1" } "." }
                    code.secret #new-api-key { (key) }
                    button type="button" data-copy="new-api-key" id="copy-api-key" { "Copy key" }
                }
            }
            section {
                h2 { "API keys of the host app" }
                p.muted { "An operator-wide key manages every tenant and makes tenants; a tenant's key manages that tenant only." }
                table #api-keys {
                    tr { th { "Label" } th { "Tenant" } th { "Created" } th { "Last used" } th { "Status" } th {} }
                    @for k in v.api_keys {
                        tr {
                            td { (k.row.label) }
                            td { @match &k.tenant_slug { Some(slug) => (slug), None => "every tenant" } }
                            td { (timestamp(k.row.created_at)) }
                            td { @match k.row.last_used_at { Some(at) => (timestamp(at)), None => "never" } }
                            td {
                                @match k.row.revoked_at {
                                    Some(at) => span.bad { "revoked " (timestamp(at)) },
                                    None => span.ok { "valid" },
                                }
                            }
                            td {
                                @if k.row.revoked_at.is_none() {
                                    form.inline method="post" action={ "/admin/api-keys/" (k.row.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button type="submit" class="revoke-api-key" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
                form method="post" action="/admin/api-keys" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label { "Label " input type="text" name="label" id="api-key-label" maxlength="200" required placeholder="billing app"; }
                    label { "Tenant "
                        select name="tenant" id="api-key-tenant" {
                            option value="" { "every tenant (operator)" }
                            @for t in v.tenants { option value=(t.slug) { (t.slug) } }
                        }
                    }
                    button type="submit" id="create-api-key" { "Create API key" }
                }
            }
            (webhooks_section(viewer, v.webhooks))
        },
    )
}

/// A webhook endpoint as the operator's page shows it.
pub struct WebhookView {
    pub endpoint: crate::store::webhooks::EndpointRow,
    /// `None`: operator-wide.
    pub tenant_slug: Option<String>,
    /// Its latest deliveries, newest first.
    pub deliveries: Vec<crate::store::webhooks::DeliveryRow>,
}

fn webhooks_section(viewer: &Viewer<'_>, webhooks: &[WebhookView]) -> Markup {
    html! {
        section #webhooks {
            h2 { "Webhooks" }
            p.muted { "Endpoints are added through " code { "/api/v1/webhooks" } "; each change is delivered signed, retried for about 26 hours." }
            @if webhooks.is_empty() { p { "No endpoints." } }
            @for w in webhooks {
                h3 { code { (w.endpoint.url) } " — " @match &w.tenant_slug { Some(slug) => (slug), None => "every tenant" } }
                p {
                    @match (w.endpoint.disabled_at, &w.endpoint.disabled_reason) {
                        (Some(at), reason) => {
                            span.bad { "disabled " (timestamp(at)) ": " (reason.as_deref().unwrap_or("")) }
                            form.inline method="post" action={ "/admin/webhooks/" (w.endpoint.id) "/enable" } {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button type="submit" class="enable-webhook" { "Enable" }
                            }
                        },
                        (None, _) => @match w.endpoint.failing_since {
                            Some(since) => span.warn { "failing since " (timestamp(since)) },
                            None => span.ok { "delivering" },
                        },
                    }
                }
                table.deliveries {
                    tr { th { "Delivery" } th { "Event" } th { "Resource" } th { "State" } th { "Attempts" } th { "Last status" } th { "Latency" } th { "Next retry" } th {} }
                    @for d in &w.deliveries {
                        tr {
                            td { (d.id) }
                            td { (d.event_type) }
                            td { code { (d.resource_key) } }
                            td { @if d.unfinished() { "pending" } @else { (d.state) } }
                            td { (d.attempts) }
                            td { @match (d.last_status, &d.last_error) { (Some(s), _) => (s), (None, Some(e)) => (e), (None, None) => "—" } }
                            td { @match d.last_latency_ms { Some(ms) => { (ms) " ms" }, None => "—" } }
                            td { @if d.state == "pending" { (timestamp(d.next_attempt_at)) } @else { "—" } }
                            td {
                                @if !d.unfinished() {
                                    form.inline method="post" action={ "/admin/webhooks/" (w.endpoint.id) "/deliveries/" (d.id) "/replay" } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button type="submit" class="replay-delivery" { "Replay" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What the tenant page shows.
pub struct TenantView<'a> {
    pub tenant: &'a Tenant,
    /// The tenant's connection health (state, last requests, refusals, soonest expiry).
    pub connection: Option<&'a Connection>,
    pub tenant_url: String,
    /// The server's public URL (the guides show its OAuth endpoints).
    pub public_url: String,
    /// The identity provider the tenant chose, if any: the page shows its guide.
    pub identity_provider: Option<IdentityProvider>,
    pub tokens: &'a [TokenRecord],
    /// The tenant's OAuth clients, and a secret just made (shown once).
    pub oauth_clients: &'a [crate::service::oauth::ClientView],
    pub new_oauth_secret: Option<super::oauth::NewSecret<'a>>,
    pub oauth_token_url: String,
    pub oauth_authorize_url: String,
    pub fields: &'a [CustomField],
    pub users_active: i64,
    pub users_inactive: i64,
    pub groups: i64,
    /// The scope section (counts, slept users and groups).
    pub scope: super::scope::ScopeSection<'a>,
    pub now: i64,
    /// A token just generated: shown once.
    pub new_token: Option<&'a str>,
    /// The tenant's setup links, for an operator (`None`: the page does not show them).
    pub setup_links: Option<&'a [SetupLinkRow]>,
    /// The address of a setup link just made: shown once.
    pub new_setup_link: Option<&'a str>,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// The tenant's role mapping.
    pub role_mapping: &'a crate::scim::role_mapping::RoleMapping,
}

const DAY: i64 = 24 * 60 * 60 * 1000;

/// A connection state, coloured.
fn connection_state(c: &Connection) -> Markup {
    let state = c.state.as_str();
    html! {
        @match c.state {
            ConnectionState::Connected => span.ok.connection-state { (state) },
            ConnectionState::Failing | ConnectionState::Disabled => span.bad.connection-state { (state) },
            ConnectionState::Silent => span.warn.connection-state { (state) },
            ConnectionState::Waiting => span.muted.connection-state { (state) },
        }
    }
}

/// "3 days", "5 hours": how long until an expiry, rounded up.
fn days_text(left: i64) -> String {
    const HOUR: i64 = 60 * 60 * 1000;
    if left > DAY {
        let days = (left + DAY - 1) / DAY;
        format!("{days} days")
    } else {
        let hours = ((left + HOUR - 1) / HOUR).max(1);
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    }
}

/// The tenant page's connection: its state and figures, and a banner saying what to do
/// when it is failing, silent, or a Secret Token expires soon (Entra quarantines an app
/// whose token expired or whose requests keep failing).
fn connection_section(c: &Connection, now: i64) -> Markup {
    let when = |at: Option<i64>| at.map_or_else(|| "never".to_string(), timestamp);
    html! {
        @match c.state {
            ConnectionState::Failing => p.error #connection-failing role="alert" {
                strong { "Provisioning is failing. " }
                "The identity provider's " (c.reason.as_deref().unwrap_or("latest requests were refused"))
                ". Entra quarantines an app whose requests keep failing."
            },
            ConnectionState::Silent => p.error #connection-silent role="alert" {
                strong { "No request from the identity provider. " }
                (c.reason.as_deref().unwrap_or("provisioning may be stopped or quarantined"))
                "."
            },
            _ => {}
        }
        @if let (Some(left), Some(s)) = (c.expiring_soon(now), c.soonest.as_ref()) {
            p.error #credential-expiring role="alert" {
                strong { "The Secret Token “" (s.label) "” expires in " (days_text(left)) " (" (timestamp(s.expires_at)) "). " }
                "Generate a new token below, paste it into the app's Provisioning blade (Admin Credentials), press Test Connection, then revoke the old one: an expired token makes Entra quarantine the app."
            }
        }
        section #connection {
            h2 { "Connection" }
            p {
                "State: " (connection_state(c))
                " · Last request: " span #last-request { (when(c.last_request_at)) }
                " · Last Test Connection: " span #last-test-connection { (when(c.last_test_connection_at)) }
            }
            p {
                "Refused requests in the last 24 hours: " span #refusals-24h { (c.refusals_24h) }
                @if let Some(r) = &c.most_common_reason { " (mostly " code { (r) } ")" }
                @if let Some(s) = &c.soonest { " · Soonest token expiry: " (timestamp(s.expires_at)) " (“" (s.label) "”)" }
            }
        }
    }
}

fn token_status(t: &TokenRecord, now: i64) -> Markup {
    if t.revoked_at.is_some() {
        html! { span.bad { "revoked" } }
    } else if t.expires_at <= now {
        html! { span.bad { "expired" } }
    } else if t.expires_at - now < 14 * DAY {
        html! { span.warn { "expires in " ((t.expires_at - now) / DAY) " days — issue a new one" } }
    } else {
        html! { span.ok { "valid" } }
    }
}

/// Which identity provider the tenant uses: a form (it works without JavaScript), and, before
/// a choice, a prompt to make one.
fn provider_picker(viewer: &Viewer<'_>, v: &TenantView<'_>) -> Markup {
    html! {
        section #identity-provider {
            h2 { "Your identity provider" }
            form method="post" action={ "/admin/t/" (v.tenant.slug) "/identity-provider" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Which product sends your users? "
                    select name="provider" id="provider" required {
                        option value="" disabled selected[v.identity_provider.is_none()] { "Choose…" }
                        @for p in IdentityProvider::ALL {
                            option value=(p.as_str()) selected[v.identity_provider == Some(p)] { (p.label()) }
                        }
                    }
                }
                button type="submit" id="choose-provider" { "Show its guide" }
            }
            @match v.identity_provider {
                Some(p) => p.muted #provider-chosen { "The guide below is for " strong { (p.label()) } ": what to enter there, field by field." },
                None => p.notice #provider-prompt role="status" { "Choose your identity provider to see exactly what to enter in it. Until you do, the guide below is Microsoft Entra ID's." },
            }
        }
    }
}

/// The tenant page: Tenant URL, the chosen provider's guide, tokens, custom fields, counts.
pub fn tenant(viewer: &Viewer<'_>, v: &TenantView<'_>) -> Markup {
    let slug = &v.tenant.slug;
    layout(
        &v.tenant.name,
        Some(viewer),
        html! {
            @if viewer.is_operator { p { a href="/admin" { "← All tenants" } } }
            h1 { (v.tenant.name) }
            @if let Some(at) = v.tenant.disabled_at {
                p.error #tenant-disabled role="alert" { "This tenant was disabled by its operator on " (timestamp(at)) ": its SCIM endpoint answers 403 to Entra until it is enabled again. Its users, groups and tokens are kept." }
            }
            @if let Some(c) = v.connection { (connection_section(c, v.now)) }
            @if let Some(e) = v.error { p.error role="alert" { (e) } }
            @if let Some(n) = v.notice { p.notice role="status" { (n) } }
            @if let Some(token) = v.new_token {
                section #new-token-section {
                    h2 { "Your new Secret Token" }
                    p { strong { "Copy it now: it is shown only once." } " Paste it into " (guides::token_field(v.identity_provider.unwrap_or(IdentityProvider::Entra))) "." }
                    code.secret #new-token { (token) }
                    button type="button" data-copy="new-token" id="copy-token" { "Copy token" }
                }
            }
            section {
                h2 { "Tenant URL" }
                code.secret #tenant-url { (v.tenant_url) }
                button type="button" data-copy="tenant-url" id="copy-url" { "Copy Tenant URL" }
            }
            (provider_picker(viewer, v))
            section #guide {
                (guides::guide(v.identity_provider.unwrap_or(IdentityProvider::Entra), &guides::GuideContext::new(&v.public_url, &v.tenant_url, v.fields)))
            }
            section #generate-token {
                h2 { "Generate a Secret Token" }
                form method="post" action={ "/admin/t/" (slug) "/tokens" } {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label { "Expires in (days) " input type="number" name="days" id="days" min="1" max="365" value="90" required; }
                    @if viewer.setup_link_expires.is_some() {
                        p.muted #token-expiry-cap { "A token generated on a page opened with a setup link lasts at most " (crate::auth::tokens::DEFAULT_EXPIRY_DAYS) " days. Generate the next one before it expires (the page shows each token's expiry), or ask your provider." }
                    }
                    label { "Label " input type="text" name="label" id="label" maxlength="200" placeholder="Entra production"; }
                    button type="submit" id="generate" { "Generate token" }
                }
                p.muted { "Several tokens can be valid at once: generate a new one, update your identity provider, then revoke the old one — no downtime." }
                table #tokens {
                    tr { th { "Label" } th { "Created" } th { "Expires" } th { "Last used" } th { "Status" } th {} }
                    @for t in v.tokens {
                        tr {
                            td { (t.label) }
                            td { (timestamp(t.created_at)) }
                            td { (timestamp(t.expires_at)) }
                            td { @match t.last_used_at { Some(at) => (timestamp(at)), None => "never" } }
                            td { (token_status(t, v.now)) }
                            td {
                                @if t.revoked_at.is_none() {
                                    form.inline method="post" action={ "/admin/t/" (slug) "/tokens/" (t.jti) "/revoke" } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button type="submit" class="revoke" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (super::roles::section(viewer, slug, v.role_mapping))
            (super::oauth::clients_section(viewer, slug, v.oauth_clients, v.new_oauth_secret.as_ref(), &v.oauth_token_url, &v.oauth_authorize_url))
            section {
                h2 { "Custom attributes" }
                p.muted { "Attributes of " code { (CUSTOM_USER_SCHEMA) } ": map each to the target attribute shown, as the guide above says." }
                table #fields {
                    tr { th { "Name" } th { "Type" } th { "Multi-valued" } th { "Target attribute" } }
                    @for f in v.fields {
                        tr {
                            td { (f.name) }
                            td { (f.field_type.as_str()) }
                            td { @if f.multi_valued { "yes" } @else { "no" } }
                            td { code { (CUSTOM_USER_SCHEMA) ":" (f.name) } }
                        }
                    }
                }
                form method="post" action={ "/admin/t/" (slug) "/fields" } {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label { "Name " input type="text" name="name" id="field-name" required placeholder="postalCode"; }
                    label { "Type "
                        select name="field_type" id="field-type" {
                            @for t in ["string", "boolean", "integer", "decimal", "dateTime", "reference"] { option value=(t) { (t) } }
                        }
                    }
                    label { input type="checkbox" name="multi_valued" value="true"; " multi-valued" }
                    button type="submit" id="add-field" { "Add attribute" }
                }
            }
            @if let Some(url) = v.new_setup_link {
                section #new-setup-link-section {
                    h2 { "Your new setup link" }
                    p { strong { "Copy it now: it is shown only once." } " Send it to the tenant's Microsoft Entra admin: it opens this page, without a password, until it expires or you revoke it." }
                    code.secret #new-setup-link { (url) }
                    button type="button" data-copy="new-setup-link" id="copy-setup-link" { "Copy link" }
                }
            }
            @if let Some(setup_links) = v.setup_links {
                section {
                    h2 { "Setup links" }
                    p.muted { "A setup link opens this tenant's page (Tenant URL, tokens, custom attributes, sync history) without a password, and nothing else." }
                    form method="post" action={ "/admin/t/" (slug) "/setup-links" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        label { "Valid for (days) " input type="number" name="days" id="setup-link-days" min="1" max=(MAX_LINK_DAYS) value="15" required; }
                        label { "Label " input type="text" name="label" id="setup-link-label" maxlength="200" placeholder="Contoso IT"; }
                        button type="submit" id="create-setup-link" { "Create setup link" }
                    }
                    table #setup-links {
                        tr { th { "Label" } th { "Created" } th { "Expires" } th { "Last opened" } th { "Status" } th {} }
                        @for l in setup_links {
                            tr {
                                td { (l.label) }
                                td { (timestamp(l.created_at)) }
                                td { (timestamp(l.expires_at)) }
                                td { @match l.last_used_at { Some(at) => (timestamp(at)), None => "never" } }
                                td {
                                    @if l.revoked_at.is_some() { span.bad { "revoked" } }
                                    @else if l.expires_at <= v.now { span.bad { "expired" } }
                                    @else { span.ok { "valid" } }
                                }
                                td {
                                    @if l.revoked_at.is_none() && l.expires_at > v.now {
                                        form.inline method="post" action={ "/admin/t/" (slug) "/setup-links/" (l.id) "/revoke" } {
                                            input type="hidden" name="csrf" value=(viewer.csrf);
                                            button type="submit" class="revoke-setup-link" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (super::scope::section(viewer, slug, &v.scope))
            section {
                h2 { "Provisioned" }
                p #counts { (v.users_active) " active users · " (v.users_inactive) " deactivated users · " (v.groups) " groups" }
                p { a href={ "/admin/t/" (slug) "/history" } id="history-link" { "Sync history →" } }
            }
        },
    )
}

/// The provisioning log, newest first, one page.
pub fn history(
    viewer: &Viewer<'_>,
    tenant: &Tenant,
    events: &[Event],
    action: Option<&str>,
    page: i64,
    has_more: bool,
) -> Markup {
    let slug = &tenant.slug;
    let filter = action.unwrap_or("");
    layout(
        "Sync history",
        Some(viewer),
        html! {
            p { a href={ "/admin/t/" (slug) } { "← " (tenant.name) } }
            h1 { "Sync history" }
            section {
                form method="get" action={ "/admin/t/" (slug) "/history" } {
                    label { "Action "
                        select name="action" id="action" {
                            option value="" selected[filter.is_empty()] { "all" }
                            @for a in ["created", "updated", "deactivated", "reactivated", "deleted", "rejected", "entered_scope", "left_scope"] {
                                option value=(a) selected[filter == a] { (a) }
                            }
                        }
                    }
                    button type="submit" { "Filter" }
                }
                table #events {
                    tr { th { "When" } th { "Action" } th { "Type" } th { "Resource" } th { "Detail" } }
                    @for e in events {
                        tr {
                            td { (timestamp(e.at)) }
                            td class=(if e.action == "rejected" { "bad" } else { "" }) { (e.action) }
                            td { (e.resource_type) }
                            td { code { (e.resource_id.as_deref().unwrap_or("-")) } }
                            td { (e.detail) }
                        }
                    }
                }
                @if events.is_empty() { p.muted { "Nothing yet." } }
                p {
                    @if page > 1 { a href={ "?action=" (filter) "&page=" (page - 1) } { "← Newer" } " " }
                    @if has_more { a href={ "?action=" (filter) "&page=" (page + 1) } { "Older →" } }
                }
            }
        },
    )
}

/// A plain error page (404, 403, 429…).
pub fn error_page(title: &str, message: &str) -> Markup {
    layout(
        title,
        None,
        html! { section { h1 { (title) } p { (message) } p { a href="/admin" { "Back" } } } },
    )
}

/// The page a live setup link answers: the browser goes on to `next` (the tenant's page) by
/// itself, and the link is there for a browser that does not.
pub fn setup_link_opened(next: &str) -> Markup {
    document(
        "Opening your page",
        None,
        Some(next),
        html! { section { h1 { "Opening your page…" } p { a href=(next) id="continue" { "Continue to your token page" } } } },
    )
}

/// A page that sends the browser on to `next` (one of scimd's own pages) at once, with a link
/// for a browser that does not go by itself.
pub fn continue_to(next: &str, link_text: &str) -> Markup {
    document(
        "Continue",
        None,
        Some(next),
        html! { section { h1 { "Continuing…" } p { a href=(next) id="continue" { (link_text) } } } },
    )
}

/// The page a setup link of a disabled tenant answers (and its sessions' pages meanwhile).
pub fn setup_link_tenant_disabled() -> Markup {
    layout(
        "This account is disabled",
        None,
        html! {
            section {
                h1 { "This account is disabled" }
                p #tenant-disabled { "Your provider (the company that sent you the link) has disabled this account, so its setup link opens nothing for now. Ask them to enable it again; the link then works until it expires." }
            }
        },
    )
}

/// The page a dead setup link answers: what happened, and what to do.
pub fn setup_link_refused(title: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            section {
                h1 { (title) }
                p { "A setup link works only until it expires or is revoked. Ask your provider (the company that sent you the link) for a new link." }
            }
        },
    )
}
