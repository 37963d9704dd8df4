//! The token page (`/admin`): log in, see the Tenant URL, generate and revoke tokens, define
//! custom attributes, read the sync history; operators also manage API keys and setup links.
//! A setup link (`/setup/{secret}`) opens one tenant's page without a password. Sessions live
//! in the database; cookies are HttpOnly and SameSite=Strict; every form carries a CSRF
//! token; an admin of another tenant gets 404.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use maud::Markup;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::throttle::username_fingerprint;
use crate::auth::tokens::DEFAULT_EXPIRY_DAYS;
use crate::http::request::client_address;
use crate::scim::error::ScimError;
use crate::service::admins::AdminRow;
use crate::service::admins::{
    check_password, close_session, may_manage, open_session, random_secret, same_secret,
    session_of, PasswordCheck,
};
use crate::service::api_keys;
use crate::service::now_millis;
use crate::service::setup_links::{self as links, Opened, SetupLinkRow};
use crate::service::tenants as svc;
use crate::service::tenants::Tenant;
use crate::web::pages::{self, TenantView, TenantsView, Viewer};

const SESSION_COOKIE: &str = "scimd_session";
const LOGIN_CSRF_COOKIE: &str = "scimd_login_csrf";
const HISTORY_PAGE: i64 = 50;

/// Routes of the token page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(home))
        .route("/admin/", web::get().to(home))
        .route("/admin/login", web::post().to(login))
        .route("/admin/logout", web::post().to(logout))
        .route("/admin/tenants", web::post().to(create_tenant))
        .route("/admin/api-keys", web::post().to(create_api_key))
        .route(
            "/admin/api-keys/{id}/revoke",
            web::post().to(revoke_api_key),
        )
        .route(
            "/admin/webhooks/{id}/enable",
            web::post().to(enable_webhook),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/replay",
            web::post().to(replay_webhook_delivery),
        )
        .route("/admin/t/{slug}", web::get().to(tenant_page))
        .route("/admin/t/{slug}/tokens", web::post().to(generate_token))
        .route(
            "/admin/t/{slug}/tokens/{jti}/revoke",
            web::post().to(revoke_token),
        )
        .route("/admin/t/{slug}/fields", web::post().to(add_field))
        .route("/admin/t/{slug}/history", web::get().to(history))
        .route(
            "/admin/t/{slug}/setup-links",
            web::post().to(create_setup_link),
        )
        .route(
            "/admin/t/{slug}/setup-links/{id}/revoke",
            web::post().to(revoke_setup_link),
        )
        // The path holds the link's secret: the request log records only this route's
        // template (see http::logging), never the path itself.
        .route("/setup/{secret}", web::get().to(open_setup_link));
}

fn html(status: StatusCode, page: Markup) -> HttpResponse {
    html_page(HttpResponse::build(status), page)
}

fn html_page(mut head: HttpResponseBuilder, page: Markup) -> HttpResponse {
    head.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(page.into_string())
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        pages::error_page("Not found", "There is no such page, or it is not yours."),
    )
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.public_url().starts_with("https://"))
        .finish()
}

/// Admin errors: internal failures become a 503/500 page, never a panic or a leak.
fn failure(e: ScimError) -> HttpResponse {
    html_page(
        super::error_head(&e),
        pages::error_page("Something went wrong", &e.detail),
    )
}

/// Who a page session speaks for.
enum Holder {
    /// An admin who logged in with a password.
    Admin(AdminRow),
    /// Whoever opened this setup link: its one tenant's page, never an operator's.
    SetupLink(SetupLinkRow),
}

/// A live page session: its CSRF token and who it speaks for.
struct PageSession {
    csrf: String,
    holder: Holder,
}

impl PageSession {
    fn is_operator(&self) -> bool {
        matches!(&self.holder, Holder::Admin(admin) if admin.is_operator)
    }

    /// Whether the session may see and change this tenant's page.
    fn may_manage(&self, tenant: &Tenant) -> bool {
        match &self.holder {
            Holder::Admin(admin) => may_manage(admin, tenant),
            Holder::SetupLink(link) => link.tenant_id == tenant.id,
        }
    }

    /// The one tenant of a tenant admin or a setup link; `None` for an operator.
    fn own_tenant_id(&self) -> Option<&str> {
        match &self.holder {
            Holder::Admin(admin) => admin.tenant_id.as_deref(),
            Holder::SetupLink(link) => Some(&link.tenant_id),
        }
    }

    /// Who acted, for logs: the admin's username fingerprint (the one the login's log line
    /// gives, so the two can be matched; never the username as typed, as login logs it) or
    /// the link's id (never its secret).
    fn actor(&self) -> String {
        match &self.holder {
            Holder::Admin(admin) => username_fingerprint(&admin.username),
            Holder::SetupLink(link) => format!("setup link {}", link.id),
        }
    }

    fn viewer(&self) -> Viewer<'_> {
        match &self.holder {
            Holder::Admin(admin) => Viewer {
                username: &admin.username,
                csrf: &self.csrf,
                is_operator: admin.is_operator,
                setup_link_expires: None,
            },
            Holder::SetupLink(link) => Viewer {
                username: "setup link",
                csrf: &self.csrf,
                is_operator: false,
                setup_link_expires: Some(link.expires_at),
            },
        }
    }
}

/// The session the cookie names, if it is live: an admin's, or a setup link's (its cookie
/// secret carries the prefix; that session ends as soon as its link expires or is revoked).
async fn session(req: &HttpRequest, state: &AppState) -> Result<Option<PageSession>, ScimError> {
    let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    if secret.starts_with(links::SESSION_PREFIX) {
        let found = links::setup_session_of(&state.service, &secret).await?;
        return Ok(found.map(|(session, link)| PageSession {
            csrf: session.csrf_token,
            holder: Holder::SetupLink(link),
        }));
    }
    let found = session_of(&state.service, &secret).await?;
    Ok(found.map(|(session, admin)| PageSession {
        csrf: session.csrf_token,
        holder: Holder::Admin(admin),
    }))
}

/// The tenant of a URL if this session may manage it.
async fn managed_tenant(
    state: &AppState,
    session: &PageSession,
    slug: &str,
) -> Result<Option<Tenant>, ScimError> {
    let tenant = svc::find_tenant(&state.service, slug).await?;
    Ok(tenant.filter(|t| session.may_manage(t)))
}

fn form<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(body).ok()
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

/// A form of the page: its fields, and the CSRF token every form carries.
trait PageForm: for<'de> Deserialize<'de> {
    fn csrf(&self) -> &str;
}

macro_rules! page_forms {
    ($($form:ty),+) => {
        $(impl PageForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}

page_forms!(
    CsrfOnly,
    TenantForm,
    ApiKeyForm,
    TokenForm,
    FieldForm,
    SetupLinkForm
);

/// The form a session posted, if it parses and carries the session's CSRF token (else the
/// caller answers [`csrf_rejected`]).
fn checked_form<T: PageForm>(session: &PageSession, body: &[u8]) -> Option<T> {
    form::<T>(body).filter(|f| csrf_ok(session, f.csrf()))
}

fn csrf_ok(session: &PageSession, given: &str) -> bool {
    same_secret(&session.csrf, given)
}

fn csrf_rejected() -> HttpResponse {
    html(StatusCode::FORBIDDEN, pages::error_page("Form expired", "This form is no longer valid (CSRF check failed). Go back, reload the page and try again."))
}

/// GET /admin: the login form, the operator's tenant list, or the admin's tenant.
async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match session(&req, &state).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    match current {
        None => login_form(&state, None, StatusCode::OK),
        Some(session) if session.is_operator() => {
            render_tenants(&state, &session, StatusCode::OK, TenantsMessages::default()).await
        }
        Some(session) => {
            let tenant_id = session.own_tenant_id().unwrap_or_default();
            match svc::find_tenant_by_id(&state.service, tenant_id).await {
                Ok(Some(t)) => redirect(&format!("/admin/t/{}", t.slug)),
                Ok(None) => not_found(),
                Err(e) => failure(e),
            }
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

fn login_form(state: &AppState, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let nonce = random_secret();
    let Some(csrf) = login_csrf(state, &nonce) else {
        return failure(ScimError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the signing keys are not loaded yet; retry",
        ));
    };
    let mut resp = html(status, pages::login(error, &csrf));
    let _ = resp.add_cookie(&cookie(state, LOGIN_CSRF_COOKIE, nonce));
    resp
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

/// POST /admin/login.
async fn login(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let Some(f) = form::<LoginForm>(&body) else {
        return login_form(
            &state,
            Some("Enter a username and a password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|nonce| !nonce.is_empty())
        .and_then(|nonce| login_csrf(&state, &nonce));
    if !expected.is_some_and(|expected| same_secret(&expected, &f.csrf)) {
        return csrf_rejected();
    }
    let Some(address) = client_address(&req, &state.settings.trusted_proxies) else {
        return failure(ScimError::status(
            StatusCode::BAD_REQUEST,
            "the client address is unknown",
        ));
    };
    let admin = match check_password(&state.service, &f.username, &f.password, address).await {
        Ok(PasswordCheck::Admin(admin)) => admin,
        Ok(PasswordCheck::Wrong) => {
            return login_form(
                &state,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Ok(PasswordCheck::Wait(secs)) => {
            let mut resp = login_form(
                &state,
                Some(&format!(
                    "Too many failed attempts. Try again in {secs} seconds."
                )),
                StatusCode::TOO_MANY_REQUESTS,
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return resp;
        }
        Err(e) => return failure(e),
    };
    let fingerprint = username_fingerprint(&admin.username);
    match open_session(&state.service, &admin).await {
        Ok(secret) => {
            tracing::info!(username_fingerprint = %fingerprint, "admin logged in");
            let mut resp = redirect("/admin");
            let _ = resp.add_cookie(&cookie(&state, SESSION_COOKIE, secret));
            resp
        }
        Err(e) => failure(e),
    }
}

/// POST /admin/logout.
async fn logout(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    if let Ok(Some(session)) = session(&req, &state).await {
        if checked_form::<CsrfOnly>(&session, &body).is_none() {
            return csrf_rejected();
        }
        if let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) {
            let closed = match session.holder {
                Holder::Admin(_) => close_session(&state.service, &secret).await,
                Holder::SetupLink(_) => links::close_setup_session(&state.service, &secret).await,
            };
            if let Err(e) = closed {
                return failure(e);
            }
        }
    }
    let mut resp = redirect("/admin");
    let mut gone = cookie(&state, SESSION_COOKIE, String::new());
    gone.make_removal();
    let _ = resp.add_cookie(&gone);
    resp
}

#[derive(Deserialize)]
struct TenantForm {
    csrf: String,
    slug: String,
    #[serde(default)]
    name: String,
}

/// POST /admin/tenants (operators).
async fn create_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = match operator_session(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Some(f) = checked_form::<TenantForm>(&session, &body) else {
        return csrf_rejected();
    };
    let slug = f.slug.trim().to_string();
    let name = f.name.trim().to_string();
    let created = svc::create_tenant(
        &state.service,
        &slug,
        (!name.is_empty()).then_some(name.as_str()),
    )
    .await;
    match created {
        Ok(t) => redirect(&format!("/admin/t/{}", t.slug)),
        Err(e) if e.status.is_client_error() => {
            let msgs = TenantsMessages {
                error: Some(e.detail),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::BAD_REQUEST, msgs).await
        }
        Err(e) => failure(e),
    }
}

/// The operator's session, or the response to give instead: the login page for none, 404 for
/// anyone else (a tenant admin or a setup link learns nothing of operator pages).
async fn operator_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<PageSession, HttpResponse> {
    match session(req, state).await {
        Ok(Some(s)) if s.is_operator() => Ok(s),
        Ok(Some(_)) => Err(not_found()),
        Ok(None) => Err(redirect("/admin")),
        Err(e) => Err(failure(e)),
    }
}

/// Messages of an operator's tenants page render.
#[derive(Default)]
struct TenantsMessages {
    new_api_key: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// Every webhook endpoint with its latest deliveries, for the operator's page.
async fn webhook_views(
    state: &AppState,
    tenants: &[crate::store::tenants::Tenant],
) -> Result<Vec<pages::WebhookView>, crate::scim::error::ScimError> {
    let mut views = Vec::new();
    for endpoint in crate::webhooks::list_endpoints(&state.service).await? {
        let deliveries =
            crate::webhooks::list_deliveries(&state.service, &endpoint.id, None, 10).await?;
        let tenant_slug = svc::slug_of(tenants, endpoint.tenant_id.as_deref()).map(str::to_string);
        views.push(pages::WebhookView {
            endpoint,
            tenant_slug,
            deliveries,
        });
    }
    Ok(views)
}

async fn render_tenants(
    state: &AppState,
    session: &PageSession,
    status: StatusCode,
    msgs: TenantsMessages,
) -> HttpResponse {
    let all = match svc::list_tenants(&state.service).await {
        Ok(all) => all,
        Err(e) => return failure(e),
    };
    let keys = match api_keys::list_api_keys(&state.service).await {
        Ok(keys) => keys,
        Err(e) => return failure(e),
    };
    let webhooks = match webhook_views(state, &all).await {
        Ok(w) => w,
        Err(e) => return failure(e),
    };
    let view = TenantsView {
        tenants: &all,
        public_url: state.settings.public_url(),
        api_keys: &keys,
        webhooks: &webhooks,
        new_api_key: msgs.new_api_key.as_deref(),
        error: msgs.error.as_deref(),
        notice: msgs.notice.as_deref(),
    };
    html(status, pages::tenants(&session.viewer(), &view))
}

#[derive(Deserialize)]
struct ApiKeyForm {
    csrf: String,
    #[serde(default)]
    label: String,
    /// A tenant's slug, or empty for an operator-wide key.
    #[serde(default)]
    tenant: String,
}

/// POST /admin/api-keys (operators): make a key and show it once.
async fn create_api_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = match operator_session(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Some(f) = checked_form::<ApiKeyForm>(&session, &body) else {
        return csrf_rejected();
    };
    let tenant = f.tenant.trim();
    let scope = (!tenant.is_empty()).then_some(tenant);
    match api_keys::create_api_key(&state.service, scope, &f.label).await {
        Ok((key, view)) => {
            tracing::info!(api_key = %view.row.id, tenant = ?view.tenant_slug, admin = %session.actor(), "API key made on the page");
            let msgs = TenantsMessages {
                new_api_key: Some(key),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::OK, msgs).await
        }
        Err(e) if e.status.is_client_error() => {
            let msgs = TenantsMessages {
                error: Some(e.detail),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::BAD_REQUEST, msgs).await
        }
        Err(e) => failure(e),
    }
}

/// POST /admin/api-keys/{id}/revoke (operators).
async fn revoke_api_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let session = match operator_session(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if checked_form::<CsrfOnly>(&session, &body).is_none() {
        return csrf_rejected();
    }
    match api_keys::revoke_api_key(&state.service, &id).await {
        Ok(()) => {
            let msgs = TenantsMessages {
                notice: Some("API key revoked: its next request is refused.".into()),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::OK, msgs).await
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => failure(e),
    }
}

/// POST /admin/webhooks/{id}/enable (operators): send to a disabled endpoint again.
async fn enable_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let session = match operator_session(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if checked_form::<CsrfOnly>(&session, &body).is_none() {
        return csrf_rejected();
    }
    match crate::webhooks::enable_endpoint(&state.service, &id).await {
        Ok(true) => {
            tracing::info!(endpoint = %id, admin = %session.actor(), "webhook endpoint enabled on the page");
            let msgs = TenantsMessages {
                notice: Some(
                    "Endpoint enabled: what waited for it is being sent, in order.".into(),
                ),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::OK, msgs).await
        }
        Ok(false) => not_found(),
        Err(e) => failure(e),
    }
}

/// POST /admin/webhooks/{id}/deliveries/{delivery}/replay (operators): send a delivery's
/// message again, with the same webhook-id.
async fn replay_webhook_delivery(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let session = match operator_session(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if checked_form::<CsrfOnly>(&session, &body).is_none() {
        return csrf_rejected();
    }
    let (id, raw) = path.into_inner();
    let Ok(delivery) = raw.parse::<i64>() else {
        return not_found();
    };
    match crate::webhooks::replay_delivery(&state.service, &id, delivery).await {
        Ok(Some(new_id)) => {
            let msgs = TenantsMessages {
                notice: Some(format!(
                    "Delivery {delivery} is being sent again (as delivery {new_id})."
                )),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::OK, msgs).await
        }
        Ok(None) => not_found(),
        Err(e) => failure(e),
    }
}

/// Messages of a tenant page render.
#[derive(Default)]
struct PageMessages {
    new_token: Option<String>,
    /// The address of a setup link just made: shown once.
    new_setup_link: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

async fn render_tenant(
    state: &AppState,
    session: &PageSession,
    tenant: Tenant,
    status: StatusCode,
    msgs: PageMessages,
) -> HttpResponse {
    let overview = match svc::tenant_overview(&state.service, &tenant).await {
        Ok(o) => o,
        Err(e) => return failure(e),
    };
    // Only operators make and revoke setup links; a tenant's own page does not list them.
    let setup_links = if session.is_operator() {
        match links::list_setup_links(&state.service, &tenant).await {
            Ok(list) => Some(list),
            Err(e) => return failure(e),
        }
    } else {
        None
    };
    let view = TenantView {
        tenant: &tenant,
        tenant_url: state.settings.tenant_url(&tenant.slug),
        tokens: &overview.tokens,
        fields: &overview.fields,
        users_active: overview.users_active,
        users_inactive: overview.users_inactive,
        groups: overview.groups,
        now: now_millis(),
        new_token: msgs.new_token.as_deref(),
        setup_links: setup_links.as_deref(),
        new_setup_link: msgs.new_setup_link.as_deref(),
        error: msgs.error.as_deref(),
        notice: msgs.notice.as_deref(),
    };
    html(status, pages::tenant(&session.viewer(), &view))
}

/// A disabled tenant's setup link, and the pages of the sessions it opened: 403.
fn setup_link_tenant_disabled() -> HttpResponse {
    html(StatusCode::FORBIDDEN, pages::setup_link_tenant_disabled())
}

/// Resolve session and tenant for a tenant page, or the response to give instead (a setup
/// link's session of a disabled tenant gets 403: it neither sees the page nor mints tokens).
async fn tenant_context(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
) -> Result<(PageSession, Tenant), HttpResponse> {
    let session = match session(req, state).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(redirect("/admin")),
        Err(e) => return Err(failure(e)),
    };
    match managed_tenant(state, &session, slug).await {
        Ok(Some(t))
            if matches!(session.holder, Holder::SetupLink(_)) && !links::may_use_page(&t) =>
        {
            Err(setup_link_tenant_disabled())
        }
        Ok(Some(t)) => Ok((session, t)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failure(e)),
    }
}

/// GET /admin/t/{slug}.
async fn tenant_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> HttpResponse {
    match tenant_context(&req, &state, &slug).await {
        Ok((session, tenant)) => {
            render_tenant(
                &state,
                &session,
                tenant,
                StatusCode::OK,
                PageMessages::default(),
            )
            .await
        }
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    days: Option<String>,
    #[serde(default)]
    label: String,
}

/// POST /admin/t/{slug}/tokens: generate a token and show it once.
async fn generate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (session, tenant) = match tenant_context(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(f) = checked_form::<TokenForm>(&session, &body) else {
        return csrf_rejected();
    };
    let days = match f.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => DEFAULT_EXPIRY_DAYS,
        Some(d) => match d.parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                let msgs = PageMessages {
                    error: Some(format!(
                        "Expiry must be a number of days between 1 and 365, got {d:?}."
                    )),
                    ..Default::default()
                };
                return render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs)
                    .await;
            }
        },
    };
    // A setup link is a mailed bearer secret: what it mints is capped at the default expiry
    // (90 days), not the 365 a logged-in admin may choose. Not at the link's own expiry: the
    // token is what Entra provisions with, and one that died with a 15-day link would stop
    // the customer's provisioning two weeks after setup. Revoking the link does not revoke
    // the tokens it made (Entra keeps provisioning); the tenant's page does.
    let not_after = match &session.holder {
        Holder::SetupLink(_) => {
            Some(crate::store::now_millis() + crate::auth::tokens::DEFAULT_EXPIRY_DAYS * 86_400_000)
        }
        Holder::Admin(_) => None,
    };
    let issued =
        svc::issue_token_capped(&state.service, &tenant, days, not_after, f.label.trim()).await;
    match issued {
        Ok((jwt, record)) => {
            tracing::info!(tenant = %tenant.slug, token_id = %record.jti, admin = %session.actor(), "token generated on the page");
            let capped = not_after.is_some_and(|cap| record.expires_at >= cap - 60_000);
            let msgs = PageMessages {
                new_token: Some(jwt),
                notice: capped.then(|| {
                    format!(
                        "This token expires on {}: a token made on a page opened with a setup link \
                         lasts at most {} days.",
                        crate::scim::render::timestamp(record.expires_at),
                        crate::auth::tokens::DEFAULT_EXPIRY_DAYS
                    )
                }),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(e) if e.status.is_client_error() => {
            let msgs = PageMessages {
                error: Some(e.detail),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
        Err(e) => failure(e),
    }
}

/// POST /admin/t/{slug}/tokens/{jti}/revoke.
async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, jti) = path.into_inner();
    let (session, tenant) = match tenant_context(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if checked_form::<CsrfOnly>(&session, &body).is_none() {
        return csrf_rejected();
    }
    match svc::revoke_token(&state.service, &jti, Some(&tenant)).await {
        Ok(()) => {
            render_tenant(
                &state,
                &session,
                tenant,
                StatusCode::OK,
                PageMessages {
                    notice: Some("Token revoked: it no longer works.".into()),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct FieldForm {
    csrf: String,
    name: String,
    field_type: String,
    multi_valued: Option<String>,
}

/// POST /admin/t/{slug}/fields.
async fn add_field(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (session, tenant) = match tenant_context(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(f) = checked_form::<FieldForm>(&session, &body) else {
        return csrf_rejected();
    };
    let added = svc::add_custom_field(
        &state.service,
        &tenant,
        f.name.trim(),
        &f.field_type,
        f.multi_valued.is_some(),
    )
    .await;
    match added {
        Ok(field) => {
            let notice = format!(
                "Added {}. In Entra, add the target attribute {}:{}.",
                field.name,
                crate::scim::schema::CUSTOM_USER_SCHEMA,
                field.name
            );
            render_tenant(
                &state,
                &session,
                tenant,
                StatusCode::OK,
                PageMessages {
                    notice: Some(notice),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) if e.status.is_client_error() => {
            render_tenant(
                &state,
                &session,
                tenant,
                StatusCode::BAD_REQUEST,
                PageMessages {
                    error: Some(e.detail),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct HistoryQuery {
    action: Option<String>,
    page: Option<i64>,
}

/// GET /admin/t/{slug}/history?action=&page=.
async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> HttpResponse {
    let (session, tenant) = match tenant_context(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let q: HistoryQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or(HistoryQuery {
        action: None,
        page: None,
    });
    const ACTIONS: [&str; 6] = [
        "created",
        "updated",
        "deactivated",
        "reactivated",
        "deleted",
        "rejected",
    ];
    let action = q.action.filter(|a| ACTIONS.contains(&a.as_str()));
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let events = svc::events_page(
        &state.service,
        &tenant,
        action.as_deref(),
        (page - 1) * HISTORY_PAGE,
        HISTORY_PAGE + 1,
    )
    .await;
    match events {
        Ok(mut events) => {
            let has_more = events.len() as i64 > HISTORY_PAGE;
            events.truncate(usize::try_from(HISTORY_PAGE).unwrap_or(50));
            html(
                StatusCode::OK,
                pages::history(
                    &session.viewer(),
                    &tenant,
                    &events,
                    action.as_deref(),
                    page,
                    has_more,
                ),
            )
        }
        Err(e) => failure(e),
    }
}

/// The tenant page for an operator's form, or the response to give instead (a tenant admin
/// or a setup link gets 404: only operators hand out setup links).
async fn operator_tenant(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
) -> Result<(PageSession, Tenant), HttpResponse> {
    let session = operator_session(req, state).await?;
    match managed_tenant(state, &session, slug).await {
        Ok(Some(t)) => Ok((session, t)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failure(e)),
    }
}

#[derive(Deserialize)]
struct SetupLinkForm {
    csrf: String,
    days: Option<String>,
    #[serde(default)]
    label: String,
}

/// POST /admin/t/{slug}/setup-links (operators): make a setup link and show it once.
async fn create_setup_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (session, tenant) = match operator_tenant(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(f) = checked_form::<SetupLinkForm>(&session, &body) else {
        return csrf_rejected();
    };
    let days = match f.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(links::DEFAULT_LINK_DAYS),
        Some(d) => d.parse::<i64>().map_err(|_| {
            format!(
                "A setup link lasts a number of days between 1 and {}, got {d:?}.",
                links::MAX_LINK_DAYS
            )
        }),
    };
    let made = match days {
        Ok(days) => links::create_setup_link(&state.service, &tenant, days, &f.label)
            .await
            .map_err(|e| {
                if e.status.is_client_error() {
                    Ok(e.detail)
                } else {
                    Err(e)
                }
            }),
        Err(message) => Err(Ok(message)),
    };
    match made {
        Ok((secret, link)) => {
            tracing::info!(tenant = %tenant.slug, setup_link = %link.id, admin = %session.actor(), "setup link made on the page");
            let msgs = PageMessages {
                new_setup_link: Some(state.settings.setup_link_url(&secret)),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(Ok(message)) => {
            let msgs = PageMessages {
                error: Some(message),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
        Err(Err(e)) => failure(e),
    }
}

/// POST /admin/t/{slug}/setup-links/{id}/revoke (operators).
async fn revoke_setup_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (session, tenant) = match operator_tenant(&req, &state, &slug).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if checked_form::<CsrfOnly>(&session, &body).is_none() {
        return csrf_rejected();
    }
    match links::revoke_setup_link(&state.service, &tenant, &id).await {
        Ok(()) => {
            let msgs = PageMessages {
                notice: Some(
                    "Setup link revoked: it no longer opens the page, and pages opened with it are closed."
                        .into(),
                ),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => failure(e),
    }
}

/// GET /setup/{secret}: open a setup link. A live link starts a page session bound to its
/// tenant and sends the browser on to that tenant's page, so the secret leaves the address
/// bar (and, with `Referrer-Policy: no-referrer`, is never a Referer). A dead link gets a page
/// saying to ask for a new one: 404 when unknown, 410 when expired or revoked, 403 while its
/// tenant is disabled; 429 with `Retry-After` when the client's address opened too many
/// unknown links (see `service::setup_links::open_setup_link`).
async fn open_setup_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    secret: web::Path<String>,
) -> HttpResponse {
    let Some(address) = client_address(&req, &state.settings.trusted_proxies) else {
        return failure(ScimError::status(
            StatusCode::BAD_REQUEST,
            "the client address is unknown",
        ));
    };
    let (secret, link) = match links::open_setup_link(&state.service, &secret, address).await {
        Ok(Opened::Session { secret, link }) => (secret, link),
        Ok(Opened::Wait(secs)) => {
            let mut resp = html(
                StatusCode::TOO_MANY_REQUESTS,
                pages::error_page(
                    "Too many attempts",
                    &format!(
                        "Too many setup links that do not exist were opened from your address. \
                         Try again in {secs} seconds."
                    ),
                ),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return resp;
        }
        Ok(Opened::Unknown) => {
            return html(
                StatusCode::NOT_FOUND,
                pages::setup_link_refused("This setup link is not valid"),
            )
        }
        Ok(Opened::Expired) => {
            return html(
                StatusCode::GONE,
                pages::setup_link_refused("This setup link has expired"),
            )
        }
        Ok(Opened::Revoked) => {
            return html(
                StatusCode::GONE,
                pages::setup_link_refused("This setup link was revoked"),
            )
        }
        Ok(Opened::TenantDisabled) => return setup_link_tenant_disabled(),
        Err(e) => return failure(e),
    };
    let tenant = match svc::find_tenant_by_id(&state.service, &link.tenant_id).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let Some(tenant) = tenant else {
        return not_found();
    };
    tracing::info!(tenant = %tenant.slug, setup_link = %link.id, "setup link opened");
    // Not a 303: the cookie is SameSite=Strict, and a browser withholds it from a redirect
    // that a cross-site click (the link in a mail) started, so the tenant page would ask for a
    // password. A page of this site that moves on by itself makes a same-site request.
    let mut resp = html(
        StatusCode::OK,
        pages::setup_link_opened(&format!("/admin/t/{}", tenant.slug)),
    );
    let _ = resp.add_cookie(&cookie(&state, SESSION_COOKIE, secret));
    resp
}
