//! How the token page answers: HTML with its security headers, redirects and its cookies.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};
use maud::Markup;

use crate::http::state::AppState;

/// The page session's cookie (an admin's, or a setup link's with its prefix).
pub(super) const SESSION_COOKIE: &str = "scimd_session";
/// The login form's nonce (see `login::login_csrf`).
pub(super) const LOGIN_CSRF_COOKIE: &str = "scimd_login_csrf";

/// A page with this status.
pub(super) fn html(status: StatusCode, page: Markup) -> HttpResponse {
    html_page(HttpResponse::build(status), page)
}

/// A page on a response head already built (an error's status and its `Retry-After`).
pub(super) fn html_page(head: HttpResponseBuilder, page: Markup) -> HttpResponse {
    html_with_form_target(head, page, None)
}

/// A page whose forms may also end at `origin` (the authorization page: its form's answer
/// sends the browser on to the client's redirect URI, and browsers hold redirects after a
/// form to `form-action`).
pub(super) fn html_with_form_target(
    mut head: HttpResponseBuilder,
    page: Markup,
    origin: Option<&str>,
) -> HttpResponse {
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'{}; frame-ancestors 'none'",
        origin.map(|o| format!(" {o}")).unwrap_or_default()
    );
    head.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", policy))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(page.into_string())
}

/// 303 See Other to `to`: after a form, or to the login form.
pub(super) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// A cookie of the page: HttpOnly, SameSite=Strict, Secure behind an https public URL.
pub(super) fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.public_url().starts_with("https://"))
        .finish()
}

/// The response with `Retry-After: secs` (a throttled login or setup link).
pub(super) fn retry_after(mut resp: HttpResponse, secs: u64) -> HttpResponse {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    resp
}
