//! The tenant page's slept users and groups (`POST /admin/t/{slug}/exclusions`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::{shown_on_page, PageError};
use super::session::{page_forms, Posted, TenantPage};
use super::tenant::{render_tenant, PageMessages};
use crate::http::state::AppState;
use crate::service::scope::{self, ScopeState};
use crate::service::tenants::Tenant;

#[derive(Deserialize)]
pub(super) struct ExclusionsForm {
    csrf: String,
    #[serde(default)]
    users: String,
    #[serde(default)]
    groups: String,
}

page_forms!(ExclusionsForm);

/// The tenant's scope for its page; a re-evaluation left unfinished starts again.
pub(super) async fn scope_state(
    state: &AppState,
    tenant: &Tenant,
) -> Result<ScopeState, PageError> {
    let s = scope::state(&state.service, tenant)
        .await
        .map_err(PageError::Failed)?;
    let caller = crate::http::api_scope::scope_caller(state, tenant);
    scope::resume_if_unfinished(&state.service, &caller, &s);
    Ok(s)
}

/// POST /admin/t/{slug}/exclusions: replace the slept users (mails or ids, one a line) and
/// groups (names or ids); every user is re-evaluated in the background.
pub(super) async fn save_exclusions(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, ExclusionsForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let saved = async {
        let ex = scope::exclusions_from_page(&state.service, &tenant, &f.users, &f.groups).await?;
        let caller = crate::http::api_scope::scope_caller(&state, &tenant);
        scope::put_exclusions(&state.service, &caller, ex).await
    }
    .await;
    match shown_on_page(saved)? {
        Ok(s) => {
            let notice = format!(
                "Saved: {} users and {} groups sleep. Every user's scope is being re-evaluated.",
                s.config.exclusions.users.len(),
                s.config.exclusions.groups.len()
            );
            render_tenant(
                &state,
                &session,
                tenant,
                StatusCode::OK,
                PageMessages::notice(notice),
            )
            .await
        }
        Err(message) => {
            let msgs = PageMessages::error(message);
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}
