//! A budget of work for the protocol code whose cost a client's input multiplies (a PATCH's
//! value filters tested against every value of an attribute, over many operations). The
//! code counts what it does as it goes and stops once the budget is spent, so that no
//! request can make it run for seconds; the caller turns a spent budget into its answer.
//!
//! A unit is about one small step: one filter comparison, one value visited, or 32 bytes of a
//! string compared or serialised. Counting is deterministic (no clock), so a request either
//! fits a budget or does not, wherever and however often it runs.

use std::cell::Cell;

/// Bytes of a string that count as one unit: comparing a long string costs more than a
/// short one (case-insensitive comparisons lower-case both sides first).
const BYTES_PER_UNIT: usize = 32;

/// Work done so far against a limit; shared by reference with the code that spends it.
#[derive(Debug)]
pub struct Work {
    limit: u64,
    spent: Cell<u64>,
}

impl Work {
    /// A budget of `limit` units.
    pub fn new(limit: u64) -> Work {
        Work {
            limit,
            spent: Cell::new(0),
        }
    }

    /// No limit (for evaluations whose caller bounds them otherwise, such as scans).
    pub fn unlimited() -> Work {
        Work::new(u64::MAX)
    }

    /// Count `units` of work; false once the total is past the limit (and from then on).
    pub fn charge(&self, units: u64) -> bool {
        let spent = self.spent.get().saturating_add(units);
        self.spent.set(spent);
        spent <= self.limit
    }

    /// Count one step over strings of these lengths (see [`BYTES_PER_UNIT`]).
    pub fn charge_bytes(&self, bytes: usize) -> bool {
        self.charge(1 + (bytes / BYTES_PER_UNIT) as u64)
    }

    /// Count the length part alone of a step already counted (the bytes of a comparison
    /// that is counted once per pair elsewhere).
    pub fn charge_length(&self, bytes: usize) -> bool {
        self.charge((bytes / BYTES_PER_UNIT) as u64)
    }

    /// Whether more than the limit has been spent.
    pub fn is_spent(&self) -> bool {
        self.spent.get() > self.limit
    }

    /// The units spent so far.
    pub fn spent(&self) -> u64 {
        self.spent.get()
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_past_its_limit_and_stays_spent() {
        let w = Work::new(10);
        assert!(w.charge(4));
        assert!(w.charge(6), "exactly the limit still fits");
        assert!(!w.is_spent());
        assert!(!w.charge(1));
        assert!(w.is_spent());
        assert!(!w.charge(0), "spent stays spent");
        assert_eq!((w.spent(), w.limit()), (11, 10));
        assert!(!w.charge_bytes(31) && w.spent() == 12);
        let w = Work::new(100);
        assert!(w.charge_bytes(64));
        assert_eq!(w.spent(), 3);
        assert!(w.charge_length(31) && w.charge_length(64));
        assert_eq!(w.spent(), 5);
        let u = Work::unlimited();
        assert!(u.charge(u64::MAX) && u.charge(u64::MAX) && !u.is_spent());
    }
}
