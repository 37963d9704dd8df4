//! Webhooks: the host app's endpoints, the messages every change queues for them, and the
//! sender that delivers them, signed as the Standard Webhooks specification says.
//!
//! Delivery is at least once. A change and its deliveries are written in one transaction
//! (store/webhooks.rs); every instance runs a sender ([`sender::start_sender`]) that leases due
//! deliveries, posts them, and records each attempt. A failed delivery is retried after
//! [`RETRY_STEPS`] times the first retry's delay (5 s, 30 s, 2 min, … 10 h: about 26 hours
//! in all), then marked failed; an endpoint none of whose deliveries has succeeded for that
//! long is disabled, with the reason. Receivers tell repeats apart by `webhook-id`.

//!
//! - [`messages`]: what a change tells (the message of each event type) and its signature;
//! - [`endpoints`]: the host app's endpoints and their deliveries, as the API and the page
//!   show and change them;
//! - [`sender`]: the task every instance runs, which claims due deliveries and posts them;
//! - [`target`]: which receivers may be posted to (public addresses only, unless the
//!   operator allows private ones).

pub mod endpoints;
pub mod messages;
pub mod sender;
pub mod target;

pub use endpoints::*;
pub use messages::{change_message, membership_messages, signature, with_resource, SECRET_PREFIX};
pub use sender::start_sender;

/// The retry delays, in multiples of the first (5 s by default): 5 s, 30 s, 2 min, 10 min,
/// 30 min, 1 h, 2 h, 4 h, 8 h, 10 h. With the first try, eleven attempts over about 26 h.
pub const RETRY_STEPS: [i64; 10] = [1, 6, 24, 120, 360, 720, 1440, 2880, 5760, 7200];
/// Finished deliveries are kept this long, for the API and the page.
pub const KEEP_FINISHED_MILLIS: i64 = 7 * 24 * 3600 * 1000;
