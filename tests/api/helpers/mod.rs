//! What the tests share: the database a test runs on ([`Backend`], [`fresh_database`]), the
//! real server in this process ([`TestApp`]) or as a process of its own ([`ServeCommand`]),
//! the guard that kills a test's child processes ([`Process`]), a cookie-keeping client for
//! the token page ([`CookieClient`]), the `scimd` command line ([`Cli`]), requests made byte
//! by byte ([`raw`], [`send_bytes`]), and the turns that keep the tests which need the
//! machine alone from running beside the others ([`run`]).

mod app;
mod backend;
mod cli;
mod cookies;
mod machine;
mod process;
mod raw;
mod receiver;

pub use app::{
    costliest_patch, patch, seed_tenant, start_server, user_body, user_with_emails, Reply, TestApp,
};
pub use backend::{fresh_database, Backend, DbGuard};
pub use cli::Cli;
pub use cookies::{CookieClient, Page};
pub use machine::{run, Machine, Turn};
pub use process::{free_port, CreateBurst, Process, ServeCommand, Served};
pub use raw::{chunked, raw, raw_head, send_bytes};
pub use receiver::{Received, Receiver, Trickler};

/// For each `async fn name(backend: Backend)` of the module: tests `name::sqlite` and
/// `name::postgres`, each in a shared turn on the machine; with `alone:` before the names,
/// each has the machine alone.
///
/// Built without `SCIMD_TEST_POSTGRES_URL` (or `CI`), the PostgreSQL variant is listed as
/// ignored ("skipped"), never as passing; see build.rs.
macro_rules! backend_tests {
    (@ $machine:ident $($name:ident),+) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::helpers::run(
                        $crate::helpers::Machine::$machine,
                        super::$name($crate::helpers::Backend::Sqlite),
                    );
                }

                $crate::helpers::postgres_variant!($machine $name);
            }
        )+
    };
    (alone: $($name:ident),+ $(,)?) => {
        $crate::helpers::backend_tests!(@ Alone $($name),+);
    };
    ($($name:ident),+ $(,)?) => {
        $crate::helpers::backend_tests!(@ Shared $($name),+);
    };
}

/// For each `async fn name(backend: Backend)` that only SQLite can run: `name::sqlite`.
macro_rules! sqlite_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::helpers::run(
                        $crate::helpers::Machine::Shared,
                        super::$name($crate::helpers::Backend::Sqlite),
                    );
                }
            }
        )+
    };
}

/// For each `async fn name(backend: Backend)` that only PostgreSQL can run: `name::postgres`.
macro_rules! postgres_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                $crate::helpers::postgres_variant!(Shared $name);
            }
        )+
    };
}

/// The test `postgres` of the module `name`, which calls `super::name` on PostgreSQL.
macro_rules! postgres_variant {
    ($machine:ident $name:ident) => {
        #[test]
        #[cfg_attr(
            not(scimd_test_postgres),
            ignore = "skipped: SCIMD_TEST_POSTGRES_URL is not set"
        )]
        fn postgres() {
            $crate::helpers::run(
                $crate::helpers::Machine::$machine,
                super::$name($crate::helpers::Backend::postgres()),
            );
        }
    };
}

pub(crate) use {backend_tests, postgres_tests, postgres_variant, sqlite_tests};
