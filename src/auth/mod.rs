//! Authentication: per-tenant bearer tokens (JWT, HS256) and admin passwords (argon2id).

pub mod client_assertion;
pub mod password;
pub mod throttle;
pub mod tokens;
