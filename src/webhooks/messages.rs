//! What a change tells the host app: the message of each event type, and its signature.

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::service::Caller;
use crate::store::now_millis;
use crate::store::webhooks::OutboxMessage;

/// The event type a logged change is delivered as, if it is one that is delivered.
fn event_type(resource_type: &str, action: &str) -> Option<&'static str> {
    Some(match (resource_type, action) {
        ("User", "created") => "user.created",
        ("User", "updated") => "user.updated",
        ("User", "deactivated") => "user.deactivated",
        ("User", "reactivated") => "user.reactivated",
        ("User", "deleted") => "user.deleted",
        ("User", "entered_scope") => "user.entered_scope",
        ("User", "left_scope") => "user.left_scope",
        ("Group", "created") => "group.created",
        ("Group", "updated") => "group.updated",
        ("Group", "deleted") => "group.deleted",
        ("Group", "member_added") => "group.member_added",
        ("Group", "member_removed") => "group.member_removed",
        _ => return None,
    })
}

fn message(
    caller: &Caller,
    event_type: &'static str,
    resource_type: &str,
    id: &str,
    data: &str,
) -> OutboxMessage {
    let at = now_millis();
    let timestamp = crate::scim::render::timestamp(at);
    OutboxMessage {
        tenant_id: caller.tenant.id.clone(),
        message_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
        event_type,
        resource_key: format!("{resource_type}/{id}"),
        payload: format!(r#"{{"type":"{event_type}","timestamp":"{timestamp}","data":{data}}}"#),
        at,
    }
}

/// The message of a tenant's event (its connection's state, an expiring credential): `data`
/// is the event's `data`; messages of one tenant go out in order.
pub fn tenant_message(tenant_id: &str, event_type: &'static str, data: Value) -> OutboxMessage {
    let at = now_millis();
    let timestamp = crate::scim::render::timestamp(at);
    OutboxMessage {
        tenant_id: tenant_id.to_string(),
        message_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
        event_type,
        resource_key: format!("Tenant/{tenant_id}"),
        payload: json!({"type": event_type, "timestamp": timestamp, "data": data}).to_string(),
        at,
    }
}

/// `head` as JSON text with `"resource"` added: the resource's text goes in as it is (it was
/// rendered already), never parsed again.
pub fn with_resource(head: Map<String, Value>, resource: &str) -> String {
    let mut text = Value::Object(head).to_string();
    // An object's text ends with its closing brace.
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str("\"resource\":");
    text.push_str(resource);
    text.push('}');
    text
}

/// The message of a change to a user or group: `view`, the host app's fields of the resource
/// (a user's, from [`crate::service::directory::user_view`]; none for groups), and the
/// resource as it is after the change, as JSON text (`None` for a deletion). Nothing for an
/// action that is not delivered. Its size is bounded by the resource's: the view is made of
/// the resource's own values, each at most once.
pub fn change_message(
    caller: &Caller,
    resource_type: &str,
    action: &str,
    id: &str,
    view: Option<Map<String, Value>>,
    resource: Option<&str>,
) -> Vec<OutboxMessage> {
    let Some(kind) = event_type(resource_type, action) else {
        return Vec::new();
    };
    let mut head = view.unwrap_or_default();
    head.insert("tenant".into(), Value::from(caller.tenant.slug.as_str()));
    head.insert("resourceType".into(), Value::from(resource_type));
    head.insert("id".into(), Value::from(id));
    if resource.is_none() && resource_type == "User" {
        head.insert("state".into(), Value::from("deleted"));
    }
    let data = with_resource(head, resource.unwrap_or("null"));
    vec![message(caller, kind, resource_type, id, &data)]
}

/// The messages of members added to and removed from a group (`{"value", "type"}` each).
pub fn membership_messages(
    caller: &Caller,
    group_id: &str,
    added: Vec<Value>,
    removed: Vec<Value>,
) -> Vec<OutboxMessage> {
    let mut out = Vec::new();
    for (action, members) in [("member_added", added), ("member_removed", removed)] {
        if members.is_empty() {
            continue;
        }
        if let Some(kind) = event_type("Group", action) {
            let data = json!({
                "tenant": caller.tenant.slug,
                "resourceType": "Group",
                "id": group_id,
                "members": members,
            });
            out.push(message(caller, kind, "Group", group_id, &data.to_string()));
        }
    }
    out
}

/// The `webhook-signature` of a message: `v1,` and the base64 HMAC-SHA256, keyed with the
/// secret's bytes, of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &str, message_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let signed = format!("{message_id}.{timestamp}.{body}");
    let tag = ring::hmac::sign(&key, signed.as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    ))
}

/// How a signing secret begins (the Standard Webhooks convention).
pub const SECRET_PREFIX: &str = "whsec_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (its "Signature scheme").
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn the_resource_text_goes_in_as_it_is() {
        let mut head = Map::new();
        head.insert("id".into(), Value::from("u1"));
        let text = with_resource(head, r#"{"b": 1,  "a": 2}"#);
        assert_eq!(text, r#"{"id":"u1","resource":{"b": 1,  "a": 2}}"#);
        assert_eq!(with_resource(Map::new(), "null"), r#"{"resource":null}"#);
    }
}
