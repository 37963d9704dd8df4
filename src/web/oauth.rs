//! The OAuth parts of the pages: a tenant's OAuth clients (made, given a second secret,
//! revoked; the grants admins approved), and the authorization page where the tenant's admin
//! approves an identity provider's request (the authorization-code grant).

use maud::{html, Markup};

use super::pages::{layout, Viewer};
use crate::scim::render::timestamp;
use crate::service::oauth::ClientView;

/// A client or secret just made: shown once.
pub struct NewSecret<'a> {
    pub client_id: &'a str,
    pub secret: &'a str,
}

/// The "OAuth clients" section of a tenant's page.
pub fn clients_section(
    viewer: &Viewer<'_>,
    slug: &str,
    clients: &[ClientView],
    new_secret: Option<&NewSecret<'_>>,
    token_url: &str,
    authorize_url: &str,
) -> Markup {
    html! {
        section #oauth-clients {
            h2 { "OAuth clients" }
            p.muted { "For identity providers that sign in with a client ID and secret instead of a Secret Token: Microsoft Entra ID's " em { "OAuth2 Client Credentials Grant" } ", Okta's " em { "OAuth 2" } " mode, and SCIM clients that follow the IPSIE or interop profiles. Each access token lasts an hour; revoking a client ends its tokens within a second." }
            p { "Token endpoint " code #oauth-token-url { (token_url) } " "
                button type="button" data-copy="oauth-token-url" { "Copy" } }
            p { "Authorization endpoint " code #oauth-authorize-url { (authorize_url) } " "
                button type="button" data-copy="oauth-authorize-url" { "Copy" } }
            @if let Some(made) = new_secret {
                div.notice #new-oauth-client {
                    p { strong { "Copy the secret now: it is shown only once." } }
                    p { "Client ID " code #new-client-id { (made.client_id) } " "
                        button type="button" data-copy="new-client-id" { "Copy" } }
                    p { "Client secret " code.secret #new-client-secret { (made.secret) }
                        button type="button" data-copy="new-client-secret" id="copy-client-secret" { "Copy secret" } }
                }
            }
            form method="post" action={ "/admin/t/" (slug) "/oauth-clients" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Label " input type="text" name="label" id="oauth-label" maxlength="200" required placeholder="Okta production"; }
                label { "Redirect URI (Okta's OAuth 2 mode only) " input type="url" name="redirect_uri" id="oauth-redirect-uri" maxlength="2000" placeholder="https://system-admin.okta.com/admin/app/cpc/…/oauth/callback"; }
                button type="submit" id="create-oauth-client" { "Create OAuth client" }
            }
            @if !clients.is_empty() {
                table #oauth-client-list {
                    tr { th { "Label" } th { "Client ID" } th { "Created" } th { "Secrets" } th { "Status" } th {} }
                    @for c in clients {
                        tr {
                            td { (c.row.label) }
                            td { code { (c.row.client_id) } }
                            td { (timestamp(c.row.created_at)) }
                            td {
                                @for s in &c.secrets {
                                    div {
                                        "made " (timestamp(s.created_at))
                                        @if c.row.revoked_at.is_none() && c.secrets.len() > 1 {
                                            " "
                                            form.inline method="post" action={ "/admin/t/" (slug) "/oauth-clients/" (c.row.id) "/secrets/" (s.id) "/revoke" } {
                                                input type="hidden" name="csrf" value=(viewer.csrf);
                                                button type="submit" class="remove-secret" { "Remove" }
                                            }
                                        }
                                    }
                                }
                            }
                            td {
                                @if c.row.revoked_at.is_some() { span.bad { "revoked" } } @else { span.ok { "active" } }
                            }
                            td {
                                @if c.row.revoked_at.is_none() {
                                    @if c.secrets.len() < crate::service::oauth::MAX_SECRETS_PER_CLIENT {
                                        form.inline method="post" action={ "/admin/t/" (slug) "/oauth-clients/" (c.row.id) "/secrets" } {
                                            input type="hidden" name="csrf" value=(viewer.csrf);
                                            button type="submit" class="add-secret" { "New secret" }
                                        }
                                        " "
                                    }
                                    form.inline method="post" action={ "/admin/t/" (slug) "/oauth-clients/" (c.row.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button type="submit" class="revoke-oauth-client" { "Revoke" }
                                    }
                                }
                            }
                        }
                        @for g in c.grants.iter().filter(|g| g.revoked_at.is_none()) {
                            tr.grant {
                                td colspan="5" { "↳ approved by " (g.approved_by) " on " (timestamp(g.created_at)) }
                                td {
                                    form.inline method="post" action={ "/admin/t/" (slug) "/oauth-grants/" (g.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button type="submit" class="revoke-grant" { "Revoke approval" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "Rotate a secret without downtime: press " em { "New secret" } ", paste it into the identity provider, then remove the old one." }
        }
    }
}

/// What the authorization page shows and carries on to its form.
pub struct AuthorizeView<'a> {
    pub client_label: &'a str,
    pub client_id: &'a str,
    pub tenant_name: &'a str,
    pub tenant_slug: &'a str,
    pub redirect_uri: &'a str,
    /// The request's parameters, carried on as hidden fields.
    pub params: &'a [(String, String)],
}

/// The page that asks the tenant's admin to approve an identity provider's access.
pub fn authorize(viewer: &Viewer<'_>, v: &AuthorizeView<'_>) -> Markup {
    let host = v
        .redirect_uri
        .parse::<actix_web::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .unwrap_or_default();
    layout(
        "Approve access",
        Some(viewer),
        html! {
            section #authorize {
                h1 { "Approve provisioning access" }
                p { "The OAuth client " strong #client-label { (v.client_label) } " (" code { (v.client_id) } ") asks to provision users and groups into " strong #tenant-name { (v.tenant_name) } " (" code { (v.tenant_slug) } ")." }
                p { "If you approve, your browser goes back to " strong #redirect-host { (host) } ", which gets a token for this tenant only. You can revoke the approval on the tenant's page at any time." }
                form method="post" action="/admin/authorize" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    @for (name, value) in v.params {
                        input type="hidden" name=(name) value=(value);
                    }
                    button type="submit" name="decision" value="approve" id="approve" { "Approve" }
                    " "
                    button type="submit" name="decision" value="deny" id="deny" { "Deny" }
                }
            }
        },
    )
}

/// An authorization request that cannot go back to its client: what is wrong.
pub fn authorize_refused(message: &str) -> Markup {
    layout(
        "Cannot approve this request",
        None,
        html! {
            section {
                h1 { "Cannot approve this request" }
                p #authorize-error { (message) }
                p.muted { "Check the client ID and redirect URI entered in the identity provider against the tenant's OAuth clients on its scimd page." }
            }
        },
    )
}

/// A session that may not manage the client's tenant.
pub fn authorize_not_yours(viewer: &Viewer<'_>) -> Markup {
    layout(
        "Not your tenant",
        Some(viewer),
        html! {
            section {
                h1 { "This request is for another tenant" }
                p #authorize-error { "You are logged in as " (viewer.username) ", who cannot manage the tenant this client belongs to. Log out and log in as that tenant's admin, or open its setup link, then start again from the identity provider." }
            }
        },
    )
}
