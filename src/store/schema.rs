//! Diesel table definitions, shared by SQLite and PostgreSQL (same logical schema).

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        identity_provider -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tokens (jti) {
        jti -> Text,
        tenant_id -> Text,
        label -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        oauth_client -> Nullable<Text>,
        oauth_grant -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        user_name -> Text,
        user_name_lower -> Text,
        external_id -> Nullable<Text>,
        identity_mail -> Text,
        display_name_lower -> Nullable<Text>,
        active -> Bool,
        resource -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        deactivated_at -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
        in_scope -> Bool,
    }
}

diesel::table! {
    user_emails (user_id, position) {
        user_id -> Text,
        position -> Integer,
        tenant_id -> Text,
        value_lower -> Text,
        email_type -> Nullable<Text>,
        is_primary -> Bool,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        tenant_id -> Text,
        display_name -> Text,
        display_name_lower -> Text,
        external_id -> Nullable<Text>,
        resource -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    group_members (group_id, member_id) {
        group_id -> Text,
        member_id -> Text,
        member_type -> Text,
        tenant_id -> Text,
        display -> Nullable<Text>,
    }
}

diesel::table! {
    custom_fields (tenant_id, name_lower) {
        tenant_id -> Text,
        name -> Text,
        name_lower -> Text,
        field_type -> Text,
        multi_valued -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    admins (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        username -> Text,
        password_hash -> Text,
        is_operator -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        tenant_id -> Text,
        at -> BigInt,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        token_jti -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::joinable!(user_emails -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    signing_keys,
    tokens,
    users,
    user_emails,
    groups,
    group_members,
    custom_fields,
    admins,
    events,
);

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        admin_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(admin_sessions, admins);

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> BigInt,
        last_failure -> BigInt,
        blocked_until -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        label -> Text,
        key_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(api_keys, tenants);

diesel::table! {
    setup_links (id) {
        id -> Text,
        tenant_id -> Text,
        label -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    setup_sessions (id_hash) {
        id_hash -> Text,
        link_id -> Text,
        tenant_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(setup_links, setup_sessions);

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        url -> Text,
        label -> Text,
        secret -> Text,
        created_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<BigInt>,
        private_ok -> Bool,
    }
}

diesel::table! {
    webhook_messages (id) {
        id -> Text,
        tenant_id -> Text,
        event_type -> Text,
        resource_key -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> Text,
        tenant_id -> Text,
        message_id -> Text,
        event_type -> Text,
        resource_key -> Text,
        created_at -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_latency_ms -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> BigInt,
        attempt -> Integer,
        at -> BigInt,
        status -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, webhook_endpoints);

diesel::table! {
    oauth_clients (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        label -> Text,
        redirect_uris -> Text,
        jwks -> Nullable<Text>,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_client_secrets (id) {
        id -> Text,
        client_ref -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_grants (id) {
        id -> Text,
        client_ref -> Text,
        tenant_id -> Text,
        approved_by -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        redirect_uri_sent -> Bool,
        code_challenge -> Nullable<Text>,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_assertions (client_ref, jti) {
        client_ref -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    scope_settings (tenant_id) {
        tenant_id -> Text,
        rules -> Text,
        exclusions -> Text,
        generation -> BigInt,
        evaluated_generation -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    oauth_clients,
    oauth_client_secrets,
    oauth_grants,
    tokens
);

diesel::table! {
    connection_health (tenant_id) {
        tenant_id -> Text,
        last_request_at -> Nullable<BigInt>,
        last_test_connection_at -> Nullable<BigInt>,
        last_refusal_at -> Nullable<BigInt>,
        last_refusal_reason -> Nullable<Text>,
        refusals_since_request -> BigInt,
        announced_state -> Nullable<Text>,
        announced_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    role_mappings (tenant_id) {
        tenant_id -> Text,
        rules -> Text,
        default_role -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    connection_refusals (tenant_id, hour, reason) {
        tenant_id -> Text,
        hour -> BigInt,
        reason -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    connection_notices (tenant_id, credential, days) {
        tenant_id -> Text,
        credential -> Text,
        days -> Integer,
        sent_at -> BigInt,
    }
}

diesel::table! {
    user_effective_roles (tenant_id, user_id) {
        tenant_id -> Text,
        user_id -> Text,
        roles -> Text,
    }
}
