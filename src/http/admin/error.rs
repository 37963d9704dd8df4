//! [`PageError`]: every way a page request is refused or fails, as one `ResponseError`, so
//! that handlers return `Result<HttpResponse, PageError>` and use `?`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::respond::{html, html_page, redirect};
use crate::scim::error::ScimError;
use crate::web::pages;

/// Why a page answers with something other than what was asked for.
#[derive(Debug)]
pub enum PageError {
    /// No live session: 303 to the login form (`/admin`).
    Login,
    /// 404 page: there is no such page, or it is not this session's (another tenant's page,
    /// an operator's page for a tenant admin, a token or key that is not there).
    NotFound,
    /// 403 page: the form's CSRF token is missing or is not the session's.
    Csrf,
    /// 403 page: a setup link's session while its tenant is disabled.
    TenantDisabled,
    /// The error page, with the error's status (and `Retry-After` for 429 and 503); never a
    /// panic or a leak.
    Failed(ScimError),
    /// The request was refused before the page looked at it (e.g. a body over the limit):
    /// answered as actix answers it.
    Request(actix_web::Error),
}

impl PageError {
    /// A service's refusal of a lookup: its 404 is the page's 404, anything else a failure.
    pub fn not_found_or(e: ScimError) -> PageError {
        if e.status == StatusCode::NOT_FOUND {
            PageError::NotFound
        } else {
            PageError::Failed(e)
        }
    }
}

impl From<ScimError> for PageError {
    fn from(e: ScimError) -> Self {
        PageError::Failed(e)
    }
}

/// A service's result split for a page: the admin's mistake (a 4xx, whose detail the page
/// shows above the form it came from) apart from a failure (the error page).
pub fn shown_on_page<T>(result: Result<T, ScimError>) -> Result<Result<T, String>, PageError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) if e.status.is_client_error() => Ok(Err(e.detail)),
        Err(e) => Err(PageError::Failed(e)),
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Login => f.write_str("no page session"),
            PageError::NotFound => f.write_str("no such page for this session"),
            PageError::Csrf => f.write_str("CSRF check failed"),
            PageError::TenantDisabled => f.write_str("the setup link's tenant is disabled"),
            PageError::Failed(e) => write!(f, "{e}"),
            PageError::Request(e) => write!(f, "{e}"),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login => StatusCode::SEE_OTHER,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Csrf | PageError::TenantDisabled => StatusCode::FORBIDDEN,
            PageError::Failed(e) => e.status,
            PageError::Request(e) => e.as_response_error().status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login => redirect("/admin"),
            PageError::NotFound => html(
                StatusCode::NOT_FOUND,
                pages::error_page("Not found", "There is no such page, or it is not yours."),
            ),
            PageError::Csrf => html(
                StatusCode::FORBIDDEN,
                pages::error_page(
                    "Form expired",
                    "This form is no longer valid (CSRF check failed). Go back, reload the page and try again.",
                ),
            ),
            PageError::TenantDisabled => {
                html(StatusCode::FORBIDDEN, pages::setup_link_tenant_disabled())
            }
            PageError::Failed(e) => html_page(
                crate::http::error_head(e),
                pages::error_page("Something went wrong", &e.detail),
            ),
            PageError::Request(e) => e.error_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header;

    fn header_of(resp: &HttpResponse, name: header::HeaderName) -> Option<&str> {
        resp.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn each_refusal_answers_with_its_status_and_page() {
        let login = PageError::Login.error_response();
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        assert_eq!(header_of(&login, header::LOCATION), Some("/admin"));
        for (e, status) in [
            (PageError::NotFound, StatusCode::NOT_FOUND),
            (PageError::Csrf, StatusCode::FORBIDDEN),
            (PageError::TenantDisabled, StatusCode::FORBIDDEN),
        ] {
            let resp = e.error_response();
            assert_eq!(resp.status(), status, "{e}");
            assert_eq!(e.status_code(), status, "{e}");
            // Every page, refusals included, is HTML that is never cached or framed.
            assert_eq!(
                header_of(&resp, header::CONTENT_TYPE),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(header_of(&resp, header::CACHE_CONTROL), Some("no-store"));
            assert_eq!(header_of(&resp, header::X_FRAME_OPTIONS), Some("DENY"));
        }
    }

    #[test]
    fn a_failure_keeps_its_status_and_retry_after() {
        let busy = PageError::from(ScimError::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            7,
            "the database is busy",
        ));
        let resp = busy.error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header_of(&resp, header::RETRY_AFTER), Some("7"));
        assert_eq!(header_of(&resp, header::CACHE_CONTROL), Some("no-store"));
    }

    #[test]
    fn a_lookups_404_is_the_pages_404_and_a_mistake_is_shown_on_the_page() {
        assert!(matches!(
            PageError::not_found_or(ScimError::not_found("no token")),
            PageError::NotFound
        ));
        assert!(matches!(
            PageError::not_found_or(ScimError::internal("broken")),
            PageError::Failed(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR
        ));
        let mistake: Result<(), ScimError> = Err(ScimError::invalid_value("bad days"));
        assert!(matches!(shown_on_page(mistake), Ok(Err(m)) if m == "bad days"));
        let broken: Result<(), ScimError> = Err(ScimError::internal("broken"));
        assert!(matches!(shown_on_page(broken), Err(PageError::Failed(_))));
    }
}
