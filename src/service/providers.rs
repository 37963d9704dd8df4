//! The identity provider a tenant provisions from: its admin chooses it on the token page (or
//! the host app through `/api/v1`), and the page shows that product's setup guide.

use crate::scim::error::ScimError;
use crate::store::tenants::{self as tenant_store, Tenant};

use super::Service;

/// The identity providers the token page has a guide for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProvider {
    Entra,
    Okta,
    OneLogin,
    JumpCloud,
    /// PingOne (SCIM outbound provisioning) and PingFederate (its SCIM connector).
    PingOne,
    /// Any other SCIM 2.0 client.
    Other,
}

impl IdentityProvider {
    /// Every provider, in the order the page offers them.
    pub const ALL: [IdentityProvider; 6] = [
        IdentityProvider::Entra,
        IdentityProvider::Okta,
        IdentityProvider::OneLogin,
        IdentityProvider::JumpCloud,
        IdentityProvider::PingOne,
        IdentityProvider::Other,
    ];

    /// The stored and API form: `entra`, `okta`, `onelogin`, `jumpcloud`, `pingone`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::Entra => "entra",
            IdentityProvider::Okta => "okta",
            IdentityProvider::OneLogin => "onelogin",
            IdentityProvider::JumpCloud => "jumpcloud",
            IdentityProvider::PingOne => "pingone",
            IdentityProvider::Other => "other",
        }
    }

    /// The product's name, as people know it.
    pub fn label(self) -> &'static str {
        match self {
            IdentityProvider::Entra => "Microsoft Entra ID",
            IdentityProvider::Okta => "Okta",
            IdentityProvider::OneLogin => "OneLogin",
            IdentityProvider::JumpCloud => "JumpCloud",
            IdentityProvider::PingOne => "PingOne / PingFederate",
            IdentityProvider::Other => "Another SCIM 2.0 client",
        }
    }

    /// The provider of a stored or sent value (exact, lower-case).
    pub fn parse(value: &str) -> Option<IdentityProvider> {
        IdentityProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
    }

    /// The provider a tenant chose, if it chose one (a stored value this version does not
    /// know counts as none).
    pub fn of(tenant: &Tenant) -> Option<IdentityProvider> {
        tenant
            .identity_provider
            .as_deref()
            .and_then(IdentityProvider::parse)
    }

    /// The allowed values, for error messages: `entra, okta, …, other`.
    pub fn allowed() -> String {
        IdentityProvider::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Record (or, with `None`, forget) the tenant's identity provider; the tenant as it is now.
pub async fn set_identity_provider(
    svc: &Service,
    tenant: &Tenant,
    provider: Option<IdentityProvider>,
) -> Result<Tenant, ScimError> {
    let id = tenant.id.clone();
    let value = provider.map(IdentityProvider::as_str);
    let changed = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(tenant_store::set_identity_provider(conn, &id, value)?)
        })
        .await;
    // The cached row would show the old choice for up to a recheck interval.
    svc.tenants.forget(&tenant.slug);
    changed?.ok_or_else(|| ScimError::not_found(format!("no tenant {:?}", tenant.slug)))
}
