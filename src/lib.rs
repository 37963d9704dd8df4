//! scimd: a SCIM 2.0 provisioning server for Microsoft Entra ID.
//!
//! Layers (data flows one way): `http` → `service` → `store`; `scim` is the pure protocol.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod scim;
pub mod service;
pub mod store;
pub mod web;
pub mod webhooks;
