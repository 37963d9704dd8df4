//! The way in and out: `GET /admin` (the login form, or where the session belongs),
//! `POST /admin/login` and `POST /admin/logout`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

use super::error::PageError;
use super::operator::{render_tenants, TenantsMessages};
use super::respond::{cookie, html, redirect, retry_after, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::session::{csrf_ok, CsrfOnly, Holder, MaybeSession, PageForm, PageSession};
use crate::auth::throttle::username_fingerprint;
use crate::http::request::client_address;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::admins::{
    check_password, close_session, open_session, random_secret, same_secret, PasswordCheck,
};
use crate::service::setup_links as links;
use crate::service::tenants as svc;
use crate::web::pages;

/// GET /admin: the login form, the operator's tenant list, or the admin's tenant.
pub(super) async fn home(
    state: web::Data<AppState>,
    MaybeSession(current): MaybeSession,
) -> Result<HttpResponse, PageError> {
    match current {
        None => Ok(login_form(&state, None, StatusCode::OK, None)),
        Some(session) if session.is_operator() => {
            render_tenants(&state, &session, StatusCode::OK, TenantsMessages::default()).await
        }
        Some(session) => {
            let tenant_id = session.own_tenant_id().unwrap_or_default();
            let tenant = svc::find_tenant_by_id(&state.service, tenant_id)
                .await?
                .ok_or(PageError::NotFound)?;
            Ok(redirect(&format!("/admin/t/{}", tenant.slug)))
        }
    }
}

/// What the login form's CSRF token binds to (see [`login_csrf`]).
const LOGIN_CSRF_PURPOSE: &str = "login-csrf";

/// The login form's CSRF token for the nonce of its cookie: the form has no session yet, so
/// the cookie carries a random nonce and the form the server's HMAC of it. A cookie and a
/// token that a client (or a sibling site that can set cookies) picked will not match.
fn login_csrf(state: &AppState, nonce: &str) -> Option<String> {
    state.service.keys.bind_to_server(LOGIN_CSRF_PURPOSE, nonce)
}

/// Where a login may send the browser on to, besides `/admin`: the authorization page it
/// came from (never another site, nor any other page).
fn after_login(next: &str) -> Option<&str> {
    next.starts_with("/admin/authorize?").then_some(next)
}

/// The login form with a fresh nonce cookie (or the error page while the keys are not
/// loaded: a response either way, so that a throttled login can add its `Retry-After`);
/// `next` is where a successful login goes on to.
pub(super) fn login_form(
    state: &AppState,
    error: Option<&str>,
    status: StatusCode,
    next: Option<&str>,
) -> HttpResponse {
    let nonce = random_secret();
    let Some(csrf) = login_csrf(state, &nonce) else {
        return PageError::Failed(ScimError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the signing keys are not loaded yet; retry",
        ))
        .error_response();
    };
    let mut resp = html(
        status,
        pages::login(error, &csrf, next.and_then(after_login)),
    );
    let _ = resp.add_cookie(&cookie(state, LOGIN_CSRF_COOKIE, nonce));
    resp
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// POST /admin/login.
pub(super) async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let Ok(f) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
        return Ok(login_form(
            &state,
            Some("Enter a username and a password."),
            StatusCode::BAD_REQUEST,
            None,
        ));
    };
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|nonce| !nonce.is_empty())
        .and_then(|nonce| login_csrf(&state, &nonce));
    if !expected.is_some_and(|expected| same_secret(&expected, &f.csrf)) {
        return Err(PageError::Csrf);
    }
    let address = client_address(&req, &state.settings.trusted_proxies).ok_or_else(|| {
        ScimError::status(StatusCode::BAD_REQUEST, "the client address is unknown")
    })?;
    let admin = match check_password(&state.service, &f.username, &f.password, address).await? {
        PasswordCheck::Admin(admin) => admin,
        PasswordCheck::Wrong => {
            return Ok(login_form(
                &state,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
                Some(&f.next),
            ));
        }
        PasswordCheck::Wait(secs) => {
            let message = format!("Too many failed attempts. Try again in {secs} seconds.");
            let form = login_form(
                &state,
                Some(&message),
                StatusCode::TOO_MANY_REQUESTS,
                Some(&f.next),
            );
            return Ok(retry_after(form, secs));
        }
    };
    let secret = open_session(&state.service, &admin).await?;
    tracing::info!(username_fingerprint = %username_fingerprint(&admin.username), "admin logged in");
    let mut resp = redirect(after_login(&f.next).unwrap_or("/admin"));
    let _ = resp.add_cookie(&cookie(&state, SESSION_COOKIE, secret));
    Ok(resp)
}

/// POST /admin/logout: ends a live session (its form's CSRF token checked) and clears the
/// cookie; without a live session it only clears the cookie.
pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    if let Ok(Some(session)) = PageSession::of_request(&req, &state).await {
        let form = serde_urlencoded::from_bytes::<CsrfOnly>(&body).ok();
        if !form.is_some_and(|f| csrf_ok(&session, f.csrf())) {
            return Err(PageError::Csrf);
        }
        if let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) {
            match session.holder {
                Holder::Admin(_) => close_session(&state.service, &secret).await?,
                Holder::SetupLink(_) => links::close_setup_session(&state.service, &secret).await?,
            }
        }
    }
    let mut resp = redirect("/admin");
    let mut gone = cookie(&state, SESSION_COOKIE, String::new());
    gone.make_removal();
    let _ = resp.add_cookie(&gone);
    Ok(resp)
}
