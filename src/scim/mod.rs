//! The SCIM protocol, pure and I/O-free: filters, paths, PATCH, schemas, rendering, errors,
//! and Entra ID's dialect of it (`entra`).

pub mod entra;
pub mod error;
pub mod filter;
pub mod mail;
pub mod normalize;
pub mod patch;
pub mod path;
pub mod render;
pub mod resource;
pub mod role_mapping;
pub mod schema;
pub mod scope;
#[cfg(test)]
mod test_rng;
pub mod work;
