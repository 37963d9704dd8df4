//! The host app's endpoints and their deliveries, as `/api/v1/webhooks` and the operator's
//! page show and change them.

use base64::Engine;
use serde_json::{json, Value};

use super::target;
use super::SECRET_PREFIX;
use crate::scim::error::{ScimError, StatusCode};
use crate::service::Service;
use crate::store::now_millis;
use crate::store::tenants::Tenant;
use crate::store::webhooks::{self as store, AttemptRow, DeliveryDetail, DeliveryRow, EndpointRow};

/// Most endpoints a tenant may have.
pub const MAX_ENDPOINTS_PER_TENANT: i64 = 10;
/// Most operator-wide endpoints.
pub const MAX_OPERATOR_ENDPOINTS: i64 = 20;

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The URL an endpoint is created with: absolute http or https, with no credentials in it,
/// and a host that is public, unless the caller is an `operator` and the server allows
/// private receivers (`allow_private`); a refused host's detail says who could register it.
fn check_url(url: &str, operator: bool, allow_private: bool) -> Result<(), ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "url must be an absolute http:// or https:// URL with a host, e.g. https://app.example.com/hooks/scim; got {url:?}"
        ))
    };
    let uri: awc::http::Uri = url.parse().map_err(|_| bad())?;
    let (Some("http" | "https"), Some(host), Some(authority)) =
        (uri.scheme_str(), uri.host(), uri.authority())
    else {
        return Err(bad());
    };
    if host.is_empty() || url.len() > 2048 {
        return Err(bad());
    }
    if authority.as_str().contains('@') {
        return Err(ScimError::invalid_value(
            "url must not carry a user name or password (user:pass@): scimd never sends credentials \
             in a URL; a receiver checks each message's webhook-signature instead",
        ));
    }
    target::check_host(host, operator && allow_private)
        .map(|_| ())
        .map_err(|refused| {
            let hint = match (operator, allow_private) {
                (true, false) => "; an operator whose receivers are on a private network starts scimd with --webhook-allow-private (SCIMD_WEBHOOK_ALLOW_PRIVATE=true)",
                (false, true) => "; only an operator key may register a receiver on a private network",
                _ => "",
            };
            ScimError::invalid_value(format!("{refused}{hint}"))
        })
}

/// Add an endpoint for a tenant's changes (`None`: every tenant's). `operator` says the
/// caller is an operator, who may reach private addresses when the server allows it
/// (`allow_private`). The answer holds the signing secret.
pub async fn create_endpoint(
    svc: &Service,
    tenant: Option<&Tenant>,
    url: &str,
    label: &str,
    operator: bool,
    allow_private: bool,
) -> Result<EndpointRow, ScimError> {
    check_url(url, operator, allow_private)?;
    if label.chars().count() > 200 {
        return Err(ScimError::invalid_value("label is at most 200 characters"));
    }
    let row = EndpointRow {
        id: format!("ep_{}", uuid::Uuid::now_v7().simple()),
        tenant_id: tenant.map(|t| t.id.clone()),
        url: url.to_string(),
        label: label.to_string(),
        secret: new_secret(),
        created_at: now_millis(),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        private_ok: operator && allow_private,
    };
    let stored = row.clone();
    let max = match tenant {
        Some(_) => MAX_ENDPOINTS_PER_TENANT,
        None => MAX_OPERATOR_ENDPOINTS,
    };
    let added = svc
        .store
        .write(move |conn| store::insert_endpoint_within(conn, &stored, max))
        .await?;
    if !added {
        let whose = match tenant {
            Some(t) => format!("tenant {:?} has", t.slug),
            None => "there are".to_string(),
        };
        let what = if tenant.is_some() {
            "a tenant"
        } else {
            "operator-wide"
        };
        return Err(ScimError::status(
            StatusCode::CONFLICT,
            format!(
                "{whose} {max} webhook endpoints, the most {what} may have; remove one (DELETE /api/v1/webhooks/{{id}}) before adding another"
            ),
        ));
    }
    Ok(row)
}

/// Every endpoint.
pub async fn list_endpoints(svc: &Service) -> Result<Vec<EndpointRow>, ScimError> {
    Ok(svc.store.read(store::list_endpoints).await?)
}

/// The endpoint with this id.
pub async fn find_endpoint(svc: &Service, id: &str) -> Result<Option<EndpointRow>, ScimError> {
    let id = id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::find_endpoint(conn, &id))
        .await?)
}

/// Remove an endpoint and what it was sent.
pub async fn delete_endpoint(svc: &Service, id: &str) -> Result<bool, ScimError> {
    let id = id.to_string();
    Ok(svc
        .store
        .write(move |conn| store::delete_endpoint(conn, &id))
        .await?)
}

/// Send to a disabled endpoint again; what waited is due at once.
pub async fn enable_endpoint(svc: &Service, id: &str) -> Result<bool, ScimError> {
    let id = id.to_string();
    let enabled = svc
        .store
        .write(move |conn| store::enable_endpoint(conn, &id, now_millis()))
        .await?;
    svc.changed();
    Ok(enabled)
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    svc: &Service,
    endpoint_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ScimError> {
    let id = endpoint_id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::list_deliveries(conn, &id, before, limit))
        .await?)
}

/// A delivery with its attempts and body.
pub async fn find_delivery(
    svc: &Service,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<DeliveryDetail>, ScimError> {
    let endpoint_id = endpoint_id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::find_delivery(conn, &endpoint_id, id))
        .await?)
}

/// Send a delivery's message again (same id and body), now; the delivery that will send it
/// (while one is still to be sent, that one: replays do not pile up).
pub async fn replay_delivery(
    svc: &Service,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<i64>, ScimError> {
    let endpoint_id = endpoint_id.to_string();
    let replayed = svc
        .store
        .write(move |conn| store::replay_delivery(conn, &endpoint_id, id, now_millis()))
        .await?;
    svc.changed();
    Ok(replayed)
}

/// An endpoint as the API shows it (the secret only when it is made).
pub fn endpoint_json(e: &EndpointRow, tenant_slug: Option<&str>, with_secret: bool) -> Value {
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let mut v = json!({
        "id": e.id,
        "url": e.url,
        "label": e.label,
        "tenant": tenant_slug,
        "createdAt": crate::scim::render::timestamp(e.created_at),
        "disabled": e.disabled_at.is_some(),
        "disabledAt": when(e.disabled_at),
        "disabledReason": e.disabled_reason,
        "failingSince": when(e.failing_since),
    });
    if with_secret {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("secret".into(), Value::String(e.secret.clone()));
        }
    }
    v
}

/// A delivery as the API shows it.
pub fn delivery_json(
    d: &DeliveryRow,
    attempts: Option<&[AttemptRow]>,
    payload: Option<&str>,
) -> Value {
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let mut v = json!({
        "id": d.id,
        "messageId": d.message_id,
        "type": d.event_type,
        "resource": d.resource_key,
        "createdAt": crate::scim::render::timestamp(d.created_at),
        "attempts": d.attempts,
        "state": if d.unfinished() { "pending" } else { d.state.as_str() },
        "waiting": d.state == "queued",
        "nextAttemptAt": (d.state == "pending").then(|| crate::scim::render::timestamp(d.next_attempt_at)),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "lastLatencyMs": d.last_latency_ms,
        "deliveredAt": when(d.delivered_at),
    });
    if let (Some(list), Some(obj)) = (attempts, v.as_object_mut()) {
        let list: Vec<Value> = list
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "at": crate::scim::render::timestamp(a.at),
                    "status": a.status,
                    "latencyMs": a.latency_ms,
                    "error": a.error,
                })
            })
            .collect();
        obj.insert("attemptLog".into(), Value::Array(list));
        if let Some(Ok(payload)) = payload.map(serde_json::from_str::<Value>) {
            obj.insert("payload".into(), payload);
        }
    }
    v
}

/// A 404 for an endpoint the caller may not see or that does not exist.
pub fn no_endpoint(id: &str) -> ScimError {
    ScimError::status(StatusCode::NOT_FOUND, format!("no webhook endpoint {id:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(check_url("https://app.example.com/hooks", false, false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", true, true).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", true, false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", false, true).is_err());
        assert!(check_url("https://user:pass@app.example.com/x", true, true).is_err());
        for bad in [
            "ftp://x/y",
            "/relative",
            "https://",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad, true, true).is_err(), "{bad}");
        }
    }
}
