//! The token page (`/admin`): log in, see the Tenant URL, generate and revoke tokens, define
//! custom attributes, read the sync history; operators also manage API keys and setup links.
//! A setup link (`/setup/{secret}`) opens one tenant's page without a password. Sessions live
//! in the database; cookies are HttpOnly and SameSite=Strict; every form carries a CSRF
//! token; an admin of another tenant gets 404.
//!
//! - [`session`]: the page session and the extractors that check it, the tenant it may
//!   manage and a posted form's CSRF token before a handler runs;
//! - [`error`]: [`PageError`], every refusal and failure of a page as one response;
//! - [`login`], [`operator`] (tenants, API keys, webhooks), [`tenant`] (a tenant's page),
//!   [`oauth_clients`] (its OAuth clients), [`authorize`] (approving an identity provider's
//!   authorization request), [`setup_links`]: the handlers, by concern; [`respond`]: HTML,
//!   redirects, cookies.

mod authorize;
mod error;
mod login;
mod oauth_clients;
mod operator;
mod respond;
mod scope;
mod session;
mod setup_links;
mod tenant;

pub use error::PageError;

use actix_web::web;

/// Routes of the token page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(login::home))
        .route("/admin/", web::get().to(login::home))
        .route("/admin/login", web::post().to(login::login))
        .route("/admin/logout", web::post().to(login::logout))
        .route("/admin/tenants", web::post().to(operator::create_tenant))
        .route("/admin/api-keys", web::post().to(operator::create_api_key))
        .route(
            "/admin/api-keys/{id}/revoke",
            web::post().to(operator::revoke_api_key),
        )
        .route(
            "/admin/webhooks/{id}/enable",
            web::post().to(operator::enable_webhook),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/replay",
            web::post().to(operator::replay_webhook_delivery),
        )
        .route("/admin/t/{slug}", web::get().to(tenant::tenant_page))
        .route(
            "/admin/t/{slug}/tokens",
            web::post().to(tenant::generate_token),
        )
        .route(
            "/admin/t/{slug}/tokens/{jti}/revoke",
            web::post().to(tenant::revoke_token),
        )
        .route("/admin/t/{slug}/fields", web::post().to(tenant::add_field))
        .route(
            "/admin/t/{slug}/exclusions",
            web::post().to(scope::save_exclusions),
        )
        .route(
            "/admin/t/{slug}/oauth-clients",
            web::post().to(oauth_clients::create_client),
        )
        .route(
            "/admin/t/{slug}/oauth-clients/{id}/secrets",
            web::post().to(oauth_clients::add_secret),
        )
        .route(
            "/admin/t/{slug}/oauth-clients/{id}/secrets/{secret}/revoke",
            web::post().to(oauth_clients::remove_secret),
        )
        .route(
            "/admin/t/{slug}/oauth-clients/{id}/revoke",
            web::post().to(oauth_clients::revoke_client),
        )
        .route(
            "/admin/t/{slug}/oauth-grants/{id}/revoke",
            web::post().to(oauth_clients::revoke_grant),
        )
        .route("/oauth/authorize", web::get().to(authorize::authorize_door))
        .route("/admin/authorize", web::get().to(authorize::authorize_page))
        .route("/admin/authorize", web::post().to(authorize::decide))
        .route(
            "/admin/t/{slug}/identity-provider",
            web::post().to(tenant::choose_provider),
        )
        .route(
            "/admin/t/{slug}/role-mappings/rules",
            web::post().to(tenant::add_role_rule),
        )
        .route(
            "/admin/t/{slug}/role-mappings/rules/remove",
            web::post().to(tenant::remove_role_rule),
        )
        .route(
            "/admin/t/{slug}/role-mappings/default",
            web::post().to(tenant::set_default_role),
        )
        .route("/admin/t/{slug}/history", web::get().to(tenant::history))
        .route(
            "/admin/t/{slug}/setup-links",
            web::post().to(setup_links::create_setup_link),
        )
        .route(
            "/admin/t/{slug}/setup-links/{id}/revoke",
            web::post().to(setup_links::revoke_setup_link),
        )
        // The path holds the link's secret: the request log records only this route's
        // template (see http::logging), never the path itself.
        .route(
            "/setup/{secret}",
            web::get().to(setup_links::open_setup_link),
        );
}
