//! Errors of the storage layer, and how a database's errors become them.

use diesel::r2d2;

use super::health;

/// The unique indexes (migrations/) whose refusal says which value is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueIndex {
    /// A live user's userName (case-insensitive), per tenant.
    UserName,
    /// A live user's identity mail, per tenant.
    IdentityMail,
    /// A live user's work email, per tenant.
    WorkEmail,
    /// A live group's displayName (case-insensitive), per tenant.
    GroupName,
    /// A tenant's slug.
    TenantSlug,
    /// A custom field's name, per tenant.
    CustomFieldName,
    /// An admin's username.
    AdminUsername,
    /// Any other index, as the database named it.
    Other(String),
}

impl UniqueIndex {
    /// The index a database error names: PostgreSQL gives the index's name, SQLite lists its
    /// columns in the message ("UNIQUE constraint failed: groups.tenant_id, …"). The one place
    /// that reads index names.
    pub fn named(name: &str) -> UniqueIndex {
        let has = |part: &str| name.contains(part);
        if has("user_emails") {
            UniqueIndex::WorkEmail
        } else if has("groups_display_name") || has("groups.display_name") {
            UniqueIndex::GroupName
        } else if has("identity_mail") {
            UniqueIndex::IdentityMail
        } else if has("user_name") {
            UniqueIndex::UserName
        } else if has("slug") {
            UniqueIndex::TenantSlug
        } else if has("custom_fields") {
            UniqueIndex::CustomFieldName
        } else if has("username") {
            UniqueIndex::AdminUsername
        } else {
            UniqueIndex::Other(name.to_string())
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write.
    #[error("unique index {0:?} refused the write")]
    Unique(UniqueIndex),
    /// The row changed since it was read (optimistic concurrency).
    #[error("concurrent modification")]
    Conflict,
    #[error("database error: {0}")]
    Diesel(diesel::result::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a write for want of storage (a full disk, a read-only file system
    /// or standby): wherever it surfaced, in a statement of the write (inside the SQLite
    /// writer's savepoint) or at its commit. The connection is fine; the write may be retried.
    #[error("database storage is failing: {0}")]
    Storage(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        if let Error::DatabaseError(_, info) = &e {
            health::note_error(info.message());
        }
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // PostgreSQL names the constraint; SQLite only lists the columns in its message.
                let name = info.constraint_name().unwrap_or_else(|| info.message());
                StoreError::Unique(UniqueIndex::named(name))
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_string())
            }
            // A connection the server dropped (restart, failover) surfaces as an unknown
            // database error; it is unavailability, not a bug: 503, and Entra retries.
            Error::DatabaseError(_, info)
                if [
                    "server closed the connection",
                    "terminating connection",
                    "connection to server",
                    "no connection to the server",
                ]
                .iter()
                .any(|m| info.message().contains(m)) =>
            {
                StoreError::Unavailable(info.message().to_string())
            }
            // Storage refused the write (SQLite's "database or disk is full", PostgreSQL's
            // "could not extend file … No space left on device"): the database's trouble, not
            // the request's, whichever statement met it.
            Error::DatabaseError(_, info) if health::is_storage_failure(info.message()) => {
                StoreError::Storage(info.message().to_string())
            }
            Error::BrokenTransactionManager => {
                StoreError::Unavailable("connection lost mid-transaction".into())
            }
            other => StoreError::Diesel(other),
        }
        .noting_connection_loss()
    }
}

impl StoreError {
    pub(super) fn noting_connection_loss(self) -> Self {
        if matches!(self, StoreError::Unavailable(_)) {
            super::connection::note_connection_loss();
        }
        self
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string()).noting_connection_loss()
    }
}
