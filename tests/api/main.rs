//! scimd's integration tests, one binary: black-box tests of the real server on a random
//! port with a fresh database (SQLite, and PostgreSQL when `SCIMD_TEST_POSTGRES_URL` is set),
//! over real HTTP; the command line; and property tests of the pure core. One module a topic;
//! what they share is in `helpers/`. `cargo test --test api users::` runs one module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic: that is how they fail

mod helpers;

mod admin_page;
mod auth;
mod bench;
mod browser;
mod cli;
mod connection;
mod connection_health;
mod crash;
mod directory_view;
mod entra_cycle;
mod fidelity;
mod groups;
mod hardening;
mod host_api;
mod isolation;
mod oauth;
mod openapi;
mod operations;
mod page_guards;
mod pg_restart;
mod profile;
mod properties;
mod providers;
mod providers_page;
mod role_mappings;
mod scale_out;
mod schema;
mod scope;
mod setup_links;
mod shutdown;
mod tls;
mod users;
mod wal;
mod webhook_isolation;
mod webhooks;
