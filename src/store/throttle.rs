//! The password-guessing counters (`login_throttle`), shared by every instance. The rules
//! are in `auth::throttle`; here an attempt is reserved atomically: read, decide, and write
//! back only if nobody changed the counter meanwhile.

use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConn, StoreError};
use crate::auth::throttle::{wait_for, Counter, ThrottleKeys, WINDOW_MILLIS};

/// How often a reservation retries after losing a race for a counter.
const RACE_RETRIES: usize = 8;

fn counter(conn: &mut DbConn, key: &str) -> Result<Option<Counter>, StoreError> {
    Ok(login_throttle::table
        .filter(login_throttle::key.eq(key))
        .select((
            login_throttle::failures,
            login_throttle::last_failure,
            login_throttle::blocked_until,
        ))
        .first::<(i64, i64, i64)>(conn)
        .optional()?
        .map(|(failures, last_failure, blocked_until)| Counter {
            failures,
            last_failure,
            blocked_until,
        }))
}

/// The username's and the address's counters (a read; no attempt is counted).
pub fn counters(conn: &mut DbConn, keys: &ThrottleKeys) -> Result<(Counter, Counter), StoreError> {
    let user = counter(conn, &keys.user)?.unwrap_or_default();
    let address = counter(conn, &keys.address)?.unwrap_or_default();
    Ok((user, address))
}

/// Write `next` over `seen` (None: no row yet) unless another attempt changed it first.
fn swap(
    conn: &mut DbConn,
    key: &str,
    seen: Option<Counter>,
    next: Counter,
) -> Result<bool, StoreError> {
    match seen {
        Some(old) => {
            let n = diesel::update(
                login_throttle::table
                    .filter(login_throttle::key.eq(key))
                    .filter(login_throttle::failures.eq(old.failures))
                    .filter(login_throttle::last_failure.eq(old.last_failure))
                    .filter(login_throttle::blocked_until.eq(old.blocked_until)),
            )
            .set((
                login_throttle::failures.eq(next.failures),
                login_throttle::last_failure.eq(next.last_failure),
                login_throttle::blocked_until.eq(next.blocked_until),
            ))
            .execute(conn)?;
            Ok(n == 1)
        }
        // A savepoint: on PostgreSQL a refused insert would otherwise abort the transaction.
        None => match conn.transaction(|c| {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::key.eq(key),
                    login_throttle::failures.eq(next.failures),
                    login_throttle::last_failure.eq(next.last_failure),
                    login_throttle::blocked_until.eq(next.blocked_until),
                ))
                .execute(c)
        }) {
            Ok(_) => Ok(true),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(e) => Err(e.into()),
        },
    }
}

/// Count an attempt with these keys as a failure before its password is checked: `Ok(0)`
/// when it may go ahead, else the milliseconds it must wait (nothing is counted then).
/// Run inside a write transaction.
pub fn reserve_attempt(
    conn: &mut DbConn,
    keys: &ThrottleKeys,
    now: i64,
) -> Result<i64, StoreError> {
    if rand::random::<u8>() == 0 {
        // Now and then, forget counters nobody has touched for a window.
        diesel::delete(
            login_throttle::table.filter(login_throttle::last_failure.lt(now - WINDOW_MILLIS)),
        )
        .execute(conn)?;
    }
    for _ in 0..RACE_RETRIES {
        let user = counter(conn, &keys.user)?;
        let address = counter(conn, &keys.address)?;
        let wait = wait_for(user.unwrap_or_default(), address.unwrap_or_default(), now);
        if wait > 0 {
            return Ok(wait);
        }
        let user_next = user.unwrap_or_default().failed(now);
        let address_next = address.unwrap_or_default().failed(now);
        // The address first: the key a guessing client cannot vary.
        if !swap(conn, &keys.address, address, address_next)? {
            continue;
        }
        if !swap(conn, &keys.user, user, user_next)? {
            // Undo the address's count, then look again.
            swap(
                conn,
                &keys.address,
                Some(address_next),
                address.unwrap_or_default(),
            )?;
            continue;
        }
        return Ok(0);
    }
    // Lost every race: other attempts with these keys are under way; wait a second.
    Ok(1000)
}

/// Count an attempt with one key (a client address's setup-link attempts) as a failure before
/// it is checked: `Ok(0)` when it may go ahead, else the milliseconds it must wait (nothing
/// is counted then). Run inside a write transaction.
pub fn reserve_key_attempt(conn: &mut DbConn, key: &str, now: i64) -> Result<i64, StoreError> {
    for _ in 0..RACE_RETRIES {
        let seen = counter(conn, key)?;
        let wait = seen.unwrap_or_default().wait(now);
        if wait > 0 {
            return Ok(wait);
        }
        if swap(conn, key, seen, seen.unwrap_or_default().failed(now))? {
            return Ok(0);
        }
    }
    Ok(1000)
}

/// Forgive one attempt of a key that [`reserve_key_attempt`] counted and that turned out
/// right; the failures of other attempts stay.
pub fn forgive_key_attempt(conn: &mut DbConn, key: &str, now: i64) -> Result<(), StoreError> {
    for _ in 0..RACE_RETRIES {
        let Some(seen) = counter(conn, key)? else {
            return Ok(());
        };
        if swap(conn, key, Some(seen), seen.forgiven_once(now))? {
            return Ok(());
        }
    }
    Ok(())
}

/// A counter lost in a crash costs nothing worth a WAL flush: on PostgreSQL the
/// transaction commits without waiting for one, so a flood of logins does not queue
/// behind (or ahead of) SCIM writes' flushes.
fn commit_without_flush(conn: &mut DbConn) -> Result<(), StoreError> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(pg)?;
    }
    Ok(())
}

/// Forget the failures of both keys after a correct password.
pub fn forgive(conn: &mut DbConn, keys: &ThrottleKeys) -> Result<(), StoreError> {
    commit_without_flush(conn)?;
    diesel::delete(
        login_throttle::table
            .filter(login_throttle::key.eq_any([keys.user.as_str(), keys.address.as_str()])),
    )
    .execute(conn)?;
    Ok(())
}
