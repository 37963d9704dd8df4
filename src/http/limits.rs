//! Abuse limits, answered with 429 and `Retry-After`: failed authentications per second per
//! client address, authenticated SCIM requests per second per tenant, and authenticated
//! `/api/v1` requests per second per API key and per tenant. The tenant's default
//! sits far above what Entra sends (gallery apps must take 25 requests/s per tenant; Entra
//! itself does no client-side throttling), so it only stops abuse. 0 disables a limit.

use actix_web::http::StatusCode;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::scim::error::ScimError;

/// The keyed limiters.
pub struct RateLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_tenant: Option<DefaultKeyedRateLimiter<String>>,
    per_api_key: Option<DefaultKeyedRateLimiter<String>>,
    per_api_tenant: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    checks: std::sync::atomic::AtomicU64,
}

fn quota(per_second: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_second)?;
    // A burst of two seconds' worth absorbs Entra's bursty cycles.
    let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

impl RateLimits {
    /// Limits of `per_address` failed authentications, `per_tenant` SCIM requests and `api`
    /// `/api/v1` requests (per key and per tenant) per second (0: no limit).
    pub fn new(per_address: u32, per_tenant: u32, api: u32) -> Self {
        RateLimits {
            per_address: quota(per_address).map(RateLimiter::keyed),
            per_tenant: quota(per_tenant).map(RateLimiter::keyed),
            per_api_key: quota(api).map(RateLimiter::keyed),
            per_api_tenant: quota(api).map(RateLimiter::keyed),
            clock: DefaultClock::default(),
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn too_many(
        &self,
        not_until: governor::NotUntil<governor::clock::QuantaInstant>,
        what: &str,
    ) -> ScimError {
        let wait = not_until.wait_time_from(self.clock.now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        ScimError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            secs,
            format!("{what}; retry after {secs} s"),
        )
    }

    /// Count a failed authentication from an address.
    pub fn check_failed_address(&self, addr: IpAddr) -> Result<(), ScimError> {
        if self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 65_536
            == 65_535
        {
            self.shrink();
        }
        match &self.per_address {
            Some(l) => l
                .check_key(&addr)
                .map_err(|n| self.too_many(n, "too many failed authentications from this address")),
            None => Ok(()),
        }
    }

    /// Count a request to a tenant.
    pub fn check_tenant(&self, slug: &str) -> Result<(), ScimError> {
        match &self.per_tenant {
            Some(l) => l
                .check_key(&slug.to_string())
                .map_err(|n| self.too_many(n, "too many requests to this tenant")),
            None => Ok(()),
        }
    }

    /// Count an authenticated `/api/v1` request of an API key, acting on a tenant (its id) if
    /// it names one: the key and the tenant each have their budget, so one key
    /// cannot starve another's tenant, nor many keys overrun one tenant.
    pub fn check_api(&self, key_id: &str, tenant: Option<&str>) -> Result<(), ScimError> {
        if let Some(l) = &self.per_api_key {
            l.check_key(&key_id.to_string())
                .map_err(|n| self.too_many(n, "too many requests with this API key"))?;
        }
        if let (Some(l), Some(tenant)) = (&self.per_api_tenant, tenant) {
            l.check_key(&tenant.to_string())
                .map_err(|n| self.too_many(n, "too many API requests for this tenant"))?;
        }
        Ok(())
    }

    /// Forget idle keys (called now and then so memory stays bounded).
    pub fn shrink(&self) {
        if let Some(l) = &self.per_api_key {
            l.retain_recent();
        }
        if let Some(l) = &self.per_api_tenant {
            l.retain_recent();
        }
        if let Some(l) = &self.per_address {
            l.retain_recent();
        }
        if let Some(l) = &self.per_tenant {
            l.retain_recent();
        }
    }
}

/// Longest request target (path and query) answered; longer ones get 414 with a SCIM error.
/// Below actix's own limit on a request's head (past that it answers a bare 400 before any
/// of scimd runs), so that a long filter learns what to do instead.
pub const MAX_URI_BYTES: usize = 16 * 1024;
