//! A tenant's page (`/admin/t/{slug}`) as its admin, an operator or a setup link's session
//! sees it: the Tenant URL, tokens, custom attributes, counts and the sync history.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::{shown_on_page, PageError};
use super::respond::html;
use super::session::{page_forms, Holder, PageSession, Posted, TenantPage};
use crate::auth::tokens::DEFAULT_EXPIRY_DAYS;
use crate::http::state::AppState;
use crate::service::now_millis;
use crate::service::providers::{self as providers, IdentityProvider};
use crate::service::setup_links as links;
use crate::service::tenants::{self as svc, Tenant};
use crate::web::pages::{self, TenantView};

const HISTORY_PAGE: i64 = 50;

/// Messages of a tenant page render.
#[derive(Default)]
pub(super) struct PageMessages {
    pub new_token: Option<String>,
    /// An OAuth client's id and a secret just made for it: shown once.
    pub new_oauth_secret: Option<(String, String)>,
    /// The address of a setup link just made: shown once.
    pub new_setup_link: Option<String>,
    pub error: Option<String>,
    pub notice: Option<String>,
}

impl PageMessages {
    pub fn error(message: String) -> Self {
        PageMessages {
            error: Some(message),
            ..Default::default()
        }
    }

    pub fn notice(message: String) -> Self {
        PageMessages {
            notice: Some(message),
            ..Default::default()
        }
    }
}

/// The tenant's page, with what the last form made or said.
pub(super) async fn render_tenant(
    state: &AppState,
    session: &PageSession,
    tenant: Tenant,
    status: StatusCode,
    msgs: PageMessages,
) -> Result<HttpResponse, PageError> {
    let overview = svc::tenant_overview(&state.service, &tenant).await?;
    // Only operators make and revoke setup links; a tenant's own page does not list them.
    let setup_links = if session.is_operator() {
        Some(links::list_setup_links(&state.service, &tenant).await?)
    } else {
        None
    };
    let oauth_clients = crate::service::oauth::list_clients(&state.service, &tenant).await?;
    let connection = crate::service::connection::connection(&state.service, &tenant).await?;
    let role_mapping = crate::service::roles::mapping(&state.service, &tenant).await?;
    let scope = super::scope::scope_state(state, &tenant).await?;
    let (slept_users, slept_groups) =
        crate::service::scope::page_exclusions(&state.service, &tenant, &scope.config.exclusions)
            .await?;
    let view = TenantView {
        connection: Some(&connection),
        tenant: &tenant,
        tenant_url: state.settings.tenant_url(&tenant.slug),
        public_url: state.settings.public_url(),
        identity_provider: IdentityProvider::of(&tenant),
        tokens: &overview.tokens,
        oauth_clients: &oauth_clients,
        new_oauth_secret: msgs
            .new_oauth_secret
            .as_ref()
            .map(|(client_id, secret)| crate::web::oauth::NewSecret { client_id, secret }),
        oauth_token_url: state.settings.oauth_token_url(),
        oauth_authorize_url: state.settings.oauth_authorize_url(),
        fields: &overview.fields,
        users_active: overview.users_active,
        users_inactive: overview.users_inactive,
        groups: overview.groups,
        scope: crate::web::scope::ScopeSection {
            state: &scope,
            slept_users: &slept_users,
            slept_groups: &slept_groups,
        },
        now: now_millis(),
        new_token: msgs.new_token.as_deref(),
        setup_links: setup_links.as_deref(),
        new_setup_link: msgs.new_setup_link.as_deref(),
        error: msgs.error.as_deref(),
        notice: msgs.notice.as_deref(),
        role_mapping: &role_mapping,
    };
    Ok(html(status, pages::tenant(&session.viewer(), &view)))
}

/// GET /admin/t/{slug}.
pub(super) async fn tenant_page(
    state: web::Data<AppState>,
    TenantPage { session, tenant }: TenantPage,
) -> Result<HttpResponse, PageError> {
    render_tenant(
        &state,
        &session,
        tenant,
        StatusCode::OK,
        PageMessages::default(),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    csrf: String,
    days: Option<String>,
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
pub(super) struct FieldForm {
    csrf: String,
    name: String,
    field_type: String,
    multi_valued: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ProviderForm {
    csrf: String,
    #[serde(default)]
    provider: String,
}

#[derive(Deserialize)]
pub(super) struct RoleRuleForm {
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub(super) struct DefaultRoleForm {
    csrf: String,
    #[serde(default)]
    role: String,
}

page_forms!(
    TokenForm,
    FieldForm,
    ProviderForm,
    RoleRuleForm,
    DefaultRoleForm
);

/// The rule a form names, as the API would take it.
fn rule_of(f: &RoleRuleForm) -> serde_json::Value {
    let key = if f.kind == "idpRole" {
        "idpRole"
    } else {
        "group"
    };
    serde_json::json!({ key: f.value.trim(), "role": f.role.trim() })
}

/// Save `mapping` (as the API's body), then show the page with what came of it.
async fn save_roles(
    state: &AppState,
    session: &PageSession,
    tenant: Tenant,
    mapping: serde_json::Value,
    done: &str,
) -> Result<HttpResponse, PageError> {
    let saved = crate::service::roles::put_mapping(&state.service, &tenant, &mapping).await;
    match shown_on_page(saved)? {
        Ok(_) => {
            tracing::info!(tenant = %tenant.slug, admin = %session.actor(), "role mapping changed on the page");
            let msgs = PageMessages::notice(format!("{done} Users' roles are being updated."));
            render_tenant(state, session, tenant, StatusCode::OK, msgs).await
        }
        Err(detail) => {
            let msgs = PageMessages::error(detail);
            render_tenant(state, session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

/// POST /admin/t/{slug}/role-mappings/rules: add a rule.
pub(super) async fn add_role_rule(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, RoleRuleForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let mut mapping = crate::service::roles::mapping(&state.service, &tenant)
        .await?
        .to_json();
    if let Some(rules) = mapping.get_mut("rules").and_then(|r| r.as_array_mut()) {
        rules.push(rule_of(&f));
    }
    save_roles(&state, &session, tenant, mapping, "Rule added.").await
}

/// POST /admin/t/{slug}/role-mappings/rules/remove: remove the rules equal to the form's.
pub(super) async fn remove_role_rule(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, RoleRuleForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let mut mapping = crate::service::roles::mapping(&state.service, &tenant)
        .await?
        .to_json();
    let gone = rule_of(&f);
    if let Some(rules) = mapping.get_mut("rules").and_then(|r| r.as_array_mut()) {
        rules.retain(|r| *r != gone);
    }
    save_roles(&state, &session, tenant, mapping, "Rule removed.").await
}

/// POST /admin/t/{slug}/role-mappings/default: set the default role (empty: none).
pub(super) async fn set_default_role(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, DefaultRoleForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let mut mapping = crate::service::roles::mapping(&state.service, &tenant)
        .await?
        .to_json();
    let role = f.role.trim();
    if let Some(obj) = mapping.as_object_mut() {
        let role = Some(role).filter(|r| !r.is_empty());
        obj.insert("default".into(), role.into());
    }
    save_roles(&state, &session, tenant, mapping, "Default role saved.").await
}

/// POST /admin/t/{slug}/identity-provider: record which identity provider the tenant uses;
/// the page then shows that product's guide.
pub(super) async fn choose_provider(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, ProviderForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let Some(provider) = IdentityProvider::parse(f.provider.trim()) else {
        let msgs = PageMessages::error(format!(
            "Choose your identity provider in the list ({}).",
            IdentityProvider::ALL
                .map(IdentityProvider::label)
                .join(", ")
        ));
        return render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await;
    };
    let tenant = providers::set_identity_provider(&state.service, &tenant, Some(provider)).await?;
    tracing::info!(tenant = %tenant.slug, identity_provider = provider.as_str(), admin = %session.actor(), "identity provider chosen on the page");
    let msgs = PageMessages::notice(format!(
        "Saved: this tenant provisions from {}. Its guide is below.",
        provider.label()
    ));
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}

/// POST /admin/t/{slug}/tokens: generate a token and show it once.
pub(super) async fn generate_token(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, TokenForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let days = match f.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => DEFAULT_EXPIRY_DAYS,
        Some(d) => match d.parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                let msgs = PageMessages::error(format!(
                    "Expiry must be a number of days between 1 and 365, got {d:?}."
                ));
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
        Holder::SetupLink(_) => Some(crate::store::now_millis() + DEFAULT_EXPIRY_DAYS * 86_400_000),
        Holder::Admin(_) => None,
    };
    let issued =
        svc::issue_token_capped(&state.service, &tenant, days, not_after, f.label.trim()).await;
    match shown_on_page(issued)? {
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
                        DEFAULT_EXPIRY_DAYS
                    )
                }),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(message) => {
            let msgs = PageMessages::error(message);
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

/// POST /admin/t/{slug}/tokens/{jti}/revoke.
pub(super) async fn revoke_token(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<TenantPage>,
) -> Result<HttpResponse, PageError> {
    let TenantPage { session, tenant } = posted.scope;
    let (_, jti) = path.into_inner();
    svc::revoke_token(&state.service, &jti, Some(&tenant))
        .await
        .map_err(PageError::not_found_or)?;
    let msgs = PageMessages::notice("Token revoked: it no longer works.".into());
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}

/// POST /admin/t/{slug}/fields.
pub(super) async fn add_field(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, FieldForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let added = svc::add_custom_field(
        &state.service,
        &tenant,
        f.name.trim(),
        &f.field_type,
        f.multi_valued.is_some(),
    )
    .await;
    match shown_on_page(added)? {
        Ok(field) => {
            let notice = format!(
                "Added {}. In Entra, add the target attribute {}:{}.",
                field.name,
                crate::scim::schema::CUSTOM_USER_SCHEMA,
                field.name
            );
            let msgs = PageMessages::notice(notice);
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(message) => {
            let msgs = PageMessages::error(message);
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

#[derive(Deserialize)]
struct HistoryQuery {
    action: Option<String>,
    page: Option<i64>,
}

/// GET /admin/t/{slug}/history?action=&page=.
pub(super) async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    TenantPage { session, tenant }: TenantPage,
) -> Result<HttpResponse, PageError> {
    let q: HistoryQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or(HistoryQuery {
        action: None,
        page: None,
    });
    const ACTIONS: [&str; 8] = [
        "created",
        "updated",
        "deactivated",
        "reactivated",
        "deleted",
        "rejected",
        "entered_scope",
        "left_scope",
    ];
    let action = q.action.filter(|a| ACTIONS.contains(&a.as_str()));
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let mut events = svc::events_page(
        &state.service,
        &tenant,
        action.as_deref(),
        (page - 1) * HISTORY_PAGE,
        HISTORY_PAGE + 1,
    )
    .await?;
    let has_more = events.len() as i64 > HISTORY_PAGE;
    events.truncate(usize::try_from(HISTORY_PAGE).unwrap_or(50));
    Ok(html(
        StatusCode::OK,
        pages::history(
            &session.viewer(),
            &tenant,
            &events,
            action.as_deref(),
            page,
            has_more,
        ),
    ))
}
