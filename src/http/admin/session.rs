//! The page session and the extractors built on it. A handler names what it needs and gets
//! it checked before it runs, in the order the page has always checked it:
//!
//! - [`TenantPage`]: a live session (else 303 to the login form) and the tenant of the URL's
//!   `{slug}` if the session may manage it (else 404; a setup link's disabled tenant: 403);
//! - [`Operator`]: an operator's session (none: the login form; anyone else: 404);
//! - [`OperatorTenant`]: both — the tenant pages only operators use (setup links);
//! - [`Posted`]: one of those with a posted form whose CSRF token is the session's (else 403).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

use super::error::PageError;
use super::respond::SESSION_COOKIE;
use crate::auth::throttle::username_fingerprint;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::admins::{may_manage, same_secret, session_of, AdminRow};
use crate::service::setup_links::{self as links, SetupLinkRow};
use crate::service::tenants::{self as svc, Tenant};
use crate::web::pages::Viewer;

/// Who a page session speaks for.
pub(super) enum Holder {
    /// An admin who logged in with a password.
    Admin(AdminRow),
    /// Whoever opened this setup link: its one tenant's page, never an operator's.
    SetupLink(SetupLinkRow),
}

/// A live page session: its CSRF token and who it speaks for.
pub(super) struct PageSession {
    pub csrf: String,
    pub holder: Holder,
}

impl PageSession {
    pub fn is_operator(&self) -> bool {
        matches!(&self.holder, Holder::Admin(admin) if admin.is_operator)
    }

    pub fn is_setup_link(&self) -> bool {
        matches!(&self.holder, Holder::SetupLink(_))
    }

    /// Whether the session may see and change this tenant's page.
    pub fn may_manage(&self, tenant: &Tenant) -> bool {
        match &self.holder {
            Holder::Admin(admin) => may_manage(admin, tenant),
            Holder::SetupLink(link) => link.tenant_id == tenant.id,
        }
    }

    /// The one tenant of a tenant admin or a setup link; `None` for an operator.
    pub fn own_tenant_id(&self) -> Option<&str> {
        match &self.holder {
            Holder::Admin(admin) => admin.tenant_id.as_deref(),
            Holder::SetupLink(link) => Some(&link.tenant_id),
        }
    }

    /// Who acted, for logs: the admin's username fingerprint (the one the login's log line
    /// gives, so the two can be matched; never the username as typed, as login logs it) or
    /// the link's id (never its secret).
    pub fn actor(&self) -> String {
        match &self.holder {
            Holder::Admin(admin) => username_fingerprint(&admin.username),
            Holder::SetupLink(link) => format!("setup link {}", link.id),
        }
    }

    pub fn viewer(&self) -> Viewer<'_> {
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

    /// The session the cookie names, if it is live: an admin's, or a setup link's (its
    /// cookie secret carries the prefix; that session ends as soon as its link expires or is
    /// revoked).
    pub async fn of_request(
        req: &HttpRequest,
        state: &AppState,
    ) -> Result<Option<PageSession>, ScimError> {
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

    /// The live session, or the login form.
    async fn required(req: &HttpRequest, state: &AppState) -> Result<PageSession, PageError> {
        PageSession::of_request(req, state)
            .await?
            .ok_or(PageError::Login)
    }

    /// The operator's session: the login form for none, 404 for anyone else (a tenant admin
    /// or a setup link learns nothing of operator pages).
    async fn operator(req: &HttpRequest, state: &AppState) -> Result<PageSession, PageError> {
        let session = PageSession::required(req, state).await?;
        if session.is_operator() {
            Ok(session)
        } else {
            Err(PageError::NotFound)
        }
    }

    /// The tenant of the URL's `{slug}` (decoded as `web::Path` decodes it) if this session
    /// may manage it, else 404.
    async fn managed_tenant(
        &self,
        req: &HttpRequest,
        state: &AppState,
    ) -> Result<Tenant, PageError> {
        let SlugOfPath { slug } = req.match_info().load().map_err(|_| PageError::NotFound)?;
        svc::find_tenant(&state.service, &slug)
            .await?
            .filter(|t| self.may_manage(t))
            .ok_or(PageError::NotFound)
    }
}

#[derive(Deserialize)]
struct SlugOfPath {
    slug: String,
}

/// What a page request is made with, resolved from the request before the handler runs.
pub(super) trait Resolve: Sized + 'static {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>>;
}

/// A [`Resolve`] that holds a live session: what a form may be posted in ([`Posted`]).
pub(super) trait Scope: Resolve {
    fn session(&self) -> &PageSession;
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::Failed(ScimError::internal("the server has no state")))
}

/// GET /admin's view of the request: the session if there is a live one.
pub(super) struct MaybeSession(pub Option<PageSession>);

impl Resolve for MaybeSession {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>> {
        Box::pin(async move {
            let state = app_state(&req)?;
            Ok(MaybeSession(PageSession::of_request(&req, &state).await?))
        })
    }
}

/// Any live session (the authorization page: which tenant it may approve for is checked
/// against the client's).
pub(super) struct LiveSession(pub PageSession);

impl Resolve for LiveSession {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>> {
        Box::pin(async move {
            let state = app_state(&req)?;
            Ok(LiveSession(PageSession::required(&req, &state).await?))
        })
    }
}

impl Scope for LiveSession {
    fn session(&self) -> &PageSession {
        &self.0
    }
}

/// An operator's session.
pub(super) struct Operator(pub PageSession);

impl Resolve for Operator {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>> {
        Box::pin(async move {
            let state = app_state(&req)?;
            Ok(Operator(PageSession::operator(&req, &state).await?))
        })
    }
}

impl Scope for Operator {
    fn session(&self) -> &PageSession {
        &self.0
    }
}

/// A tenant's page and the session that may manage it.
pub(super) struct TenantPage {
    pub session: PageSession,
    pub tenant: Tenant,
}

impl Resolve for TenantPage {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>> {
        Box::pin(async move {
            let state = app_state(&req)?;
            let session = PageSession::required(&req, &state).await?;
            let tenant = session.managed_tenant(&req, &state).await?;
            // A setup link's session of a disabled tenant neither sees the page nor mints
            // tokens.
            if session.is_setup_link() && !links::may_use_page(&tenant) {
                return Err(PageError::TenantDisabled);
            }
            Ok(TenantPage { session, tenant })
        })
    }
}

impl Scope for TenantPage {
    fn session(&self) -> &PageSession {
        &self.session
    }
}

/// A tenant's page as an operator sees it (a tenant admin or a setup link gets 404: only
/// operators hand out setup links).
pub(super) struct OperatorTenant {
    pub session: PageSession,
    pub tenant: Tenant,
}

impl Resolve for OperatorTenant {
    fn resolve(req: HttpRequest) -> LocalBoxFuture<'static, Result<Self, PageError>> {
        Box::pin(async move {
            let state = app_state(&req)?;
            let session = PageSession::operator(&req, &state).await?;
            let tenant = session.managed_tenant(&req, &state).await?;
            Ok(OperatorTenant { session, tenant })
        })
    }
}

impl Scope for OperatorTenant {
    fn session(&self) -> &PageSession {
        &self.session
    }
}

macro_rules! scope_extractors {
    ($($scope:ty),+) => {
        $(impl FromRequest for $scope {
            type Error = PageError;
            type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                <$scope as Resolve>::resolve(req.clone())
            }
        })+
    };
}

scope_extractors!(
    MaybeSession,
    LiveSession,
    Operator,
    TenantPage,
    OperatorTenant
);

/// A form of the page: its fields, and the CSRF token every form carries.
pub(super) trait PageForm: for<'de> Deserialize<'de> + 'static {
    fn csrf(&self) -> &str;
}

/// `impl PageForm` for forms whose token is their `csrf` field.
macro_rules! page_forms {
    ($($form:ty),+) => {
        $(impl $crate::http::admin::session::PageForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(super) use page_forms;

/// A form with nothing but its CSRF token (a revoke, an enable, a logout).
#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    csrf: String,
}

page_forms!(CsrfOnly);

/// A form posted within a scope (`S`), checked: it parses and carries the session's CSRF
/// token. The body is read first, then the scope resolved (the login form, 404 or 403 come
/// before the form is looked at), then the token compared: a missing or forged one is 403.
pub(super) struct Posted<S, F = CsrfOnly> {
    pub scope: S,
    pub form: F,
}

impl<S: Scope, F: PageForm> FromRequest for Posted<S, F> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = body.await.map_err(PageError::Request)?;
            let scope = S::resolve(req).await?;
            let form = serde_urlencoded::from_bytes::<F>(&body)
                .ok()
                .filter(|f| csrf_ok(scope.session(), f.csrf()))
                .ok_or(PageError::Csrf)?;
            Ok(Posted { scope, form })
        })
    }
}

/// Whether `given` is the session's CSRF token (compared in constant time).
pub(super) fn csrf_ok(session: &PageSession, given: &str) -> bool {
    same_secret(&session.csrf, given)
}
