//! Authentication: per-tenant bearer tokens (JWT, HS256) and admin passwords (argon2id).

pub mod password;
pub mod throttle;
pub mod tokens;
