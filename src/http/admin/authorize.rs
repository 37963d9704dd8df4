//! The authorization page (`/admin/authorize`): where `/oauth/authorize` sends the tenant's
//! admin. It shows which client asks for which tenant, to a session that may manage that
//! tenant (an admin who logs in here, or a setup link's session), and on Approve sends the
//! browser back to the client with a one-use code; on Deny, with `access_denied`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::PageError;
use super::login::login_form;
use super::respond::{html, html_with_form_target, redirect};
use super::session::{page_forms, LiveSession, MaybeSession, PageSession, Posted};
use crate::http::state::AppState;
use crate::service::oauth::authorize::{
    approve, check_request, deny, AuthorizationRequest, Refusal, PARAMETERS,
};
use crate::web::oauth as pages;

/// The request's parameters; a repeated one is refused (RFC 6749 §3.1).
fn query_params(query: &str) -> Result<HashMap<String, String>, Refusal> {
    crate::http::request::single_params(query.as_bytes())
        .map_err(|why| Refusal::Show(format!("the request is not valid: {why}")))
}

/// A refused request: the refusal page, or back to the client with the error.
fn refused(refusal: Refusal) -> HttpResponse {
    match refusal.location() {
        Some(location) => redirect(&location),
        None => match refusal {
            Refusal::Show(message) => {
                html(StatusCode::BAD_REQUEST, pages::authorize_refused(&message))
            }
            Refusal::Redirect { .. } => html(
                StatusCode::BAD_REQUEST,
                pages::authorize_refused("the request is not valid"),
            ),
        },
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let uri: actix_web::http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// The checked request, if the session may approve it; otherwise the answer to give.
async fn approvable(
    state: &AppState,
    session: &PageSession,
    params: &HashMap<String, String>,
) -> Result<AuthorizationRequest, HttpResponse> {
    let request = check_request(&state.service, params)
        .await
        .map_err(refused)?;
    if !session.may_manage(&request.tenant) {
        return Err(html(
            StatusCode::FORBIDDEN,
            pages::authorize_not_yours(&session.viewer()),
        ));
    }
    Ok(request)
}

/// GET /oauth/authorize: the authorization endpoint. The page that asks the tenant's admin
/// is under `/admin`, where the page's cookies go; the browser comes here from the identity
/// provider's site, a cross-site navigation that carries no SameSite=Strict cookie, so this
/// page of scimd's own sends it on, and that navigation does carry them.
pub(super) async fn authorize_door(req: HttpRequest) -> HttpResponse {
    let next = format!("/admin/authorize?{}", req.query_string());
    html(
        StatusCode::OK,
        crate::web::pages::continue_to(&next, "Continue to scimd to approve the request"),
    )
}

/// GET /admin/authorize?…: the approval page (or the login form that comes back here).
pub(super) async fn authorize_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeSession(current): MaybeSession,
) -> Result<HttpResponse, PageError> {
    let params = match query_params(req.query_string()) {
        Ok(p) => p,
        Err(refusal) => return Ok(refused(refusal)),
    };
    let Some(session) = current else {
        // Check the request before asking for a password: a bad client gets no login form.
        if let Err(refusal) = check_request(&state.service, &params).await {
            return Ok(refused(refusal));
        }
        let here = format!("/admin/authorize?{}", req.query_string());
        return Ok(login_form(&state, None, StatusCode::OK, Some(&here)));
    };
    let request = match approvable(&state, &session, &params).await {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    let carried: Vec<(String, String)> = PARAMETERS
        .iter()
        .filter_map(|name| params.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
    let view = pages::AuthorizeView {
        client_label: &request.client.label,
        client_id: &request.client.client_id,
        tenant_name: &request.tenant.name,
        tenant_slug: &request.tenant.slug,
        redirect_uri: &request.redirect_uri,
        params: &carried,
    };
    Ok(html_with_form_target(
        HttpResponse::build(StatusCode::OK),
        pages::authorize(&session.viewer(), &view),
        origin_of(&request.redirect_uri).as_deref(),
    ))
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(flatten)]
    params: HashMap<String, String>,
}

page_forms!(DecisionForm);

/// POST /admin/authorize: the admin's decision.
pub(super) async fn decide(
    state: web::Data<AppState>,
    posted: Posted<LiveSession, DecisionForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: LiveSession(session),
        form,
    } = posted;
    let params: HashMap<String, String> = form
        .params
        .into_iter()
        .filter(|(name, _)| PARAMETERS.contains(&name.as_str()))
        .collect();
    let request = match approvable(&state, &session, &params).await {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    match form.decision.as_str() {
        "approve" => {
            let approver = session.viewer().username.to_string();
            let location = approve(
                &state.service,
                &request,
                &approver,
                &state.settings.oauth_issuer(),
            )
            .await?;
            tracing::info!(tenant = %request.tenant.slug, client = %request.client.id, admin = %session.actor(), "OAuth client approved on the page");
            Ok(redirect(&location))
        }
        "deny" => Ok(redirect(&deny(&request))),
        _ => Ok(html(
            StatusCode::BAD_REQUEST,
            pages::authorize_refused("press Approve or Deny"),
        )),
    }
}
