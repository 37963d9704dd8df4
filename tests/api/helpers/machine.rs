//! Turns on the machine. The tests are one binary, run on a few threads at once; most can
//! share the machine, but some must have it alone: those that time requests (a neighbour's
//! load would be in their figures) and the one that stops and starts PostgreSQL (a
//! neighbour's database would vanish under it). Every test takes a [`Turn`] first: shared
//! (a read guard) or alone (the write guard) of one lock.
//!
//! The lock is tokio's `RwLock`, which is fair: once a test waits to be alone, no shared
//! test starts before it, so it runs as soon as those already running have ended, and
//! nothing runs beside it until it ends.

use std::cell::Cell;
use std::future::Future;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::const_new(());

thread_local! {
    /// Whether this thread's test holds its turn (the helpers that start servers and
    /// databases check it, so that no test can forget to take one).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// How a test uses the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// Beside the other shared tests.
    Shared,
    /// With nothing else running.
    Alone,
}

/// A test's turn on the machine, until dropped.
pub struct Turn {
    _guard: Guard,
}

enum Guard {
    Shared {
        _read: RwLockReadGuard<'static, ()>,
    },
    Alone {
        _write: RwLockWriteGuard<'static, ()>,
    },
}

impl Turn {
    /// Wait for a turn (on a test's own thread, outside any runtime).
    pub fn take(machine: Machine) -> Turn {
        assert!(
            !HOLDING.with(Cell::get),
            "this thread already holds a turn: a test takes one"
        );
        let guard = match machine {
            Machine::Shared => Guard::Shared {
                _read: MACHINE.blocking_read(),
            },
            Machine::Alone => Guard::Alone {
                _write: MACHINE.blocking_write(),
            },
        };
        HOLDING.with(|h| h.set(true));
        Turn { _guard: guard }
    }

    /// Panic unless this thread's test holds its turn.
    pub fn assert_held() {
        assert!(
            HOLDING.with(Cell::get),
            "a test that starts servers or databases must hold a turn: write it with \
             backend_tests! or postgres_tests!, or run it with helpers::run"
        );
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        HOLDING.with(|h| h.set(false));
    }
}

/// Run an async test in its turn on a runtime of its own (what `#[actix_web::test]` does).
/// The runtime, with the servers the test started on it, is shut down before the turn ends.
pub fn run(machine: Machine, test: impl Future<Output = ()>) {
    let _turn = Turn::take(machine);
    actix_web::rt::System::new().block_on(test);
}
