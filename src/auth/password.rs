//! Admin passwords: argon2id hashes in PHC string format.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Hash a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verify a password against a stored hash (constant-time inside argon2). Private: only the
/// [`PasswordPool`]'s threads run it, so no request thread ever waits out an argon2 check.
fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the username is unknown, so that the response time does
/// not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("scimd-dummy-password").unwrap_or_default())
}

type Job = Box<dyn FnOnce() + Send>;

/// The password pool is full: too many checks are queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are under way")]
pub struct PoolBusy;

/// Where argon2 runs: a few threads of their own, at a low CPU priority, behind a bounded
/// queue. argon2 is slow on purpose; on the HTTP workers, the blocking pool or the store's
/// writer it would make every other request wait behind a flood of logins.
pub struct PasswordPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
    checks: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl PasswordPool {
    /// `threads` verifying threads (at least one) and room for `queue` waiting checks.
    pub fn new(threads: usize, queue: usize) -> PasswordPool {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = std::sync::Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("scimd-argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password thread");
            }
        }
        PasswordPool {
            jobs,
            checks: Default::default(),
        }
    }

    /// Password checks the pool's threads have run, since start.
    pub fn checks_done(&self) -> u64 {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Threads by default: half the cores, at least one.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1)
    }

    /// Verify a password against a stored hash, or against a dummy hash when there is none
    /// (an unknown username takes as long as a known one and never matches).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, PoolBusy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let checks = std::sync::Arc::clone(&self.checks);
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let ok = match hash {
                Some(h) => verify_password(&password, &h),
                None => {
                    verify_password(&password, dummy_hash());
                    false
                }
            };
            let _ = tx.send(ok);
        });
        self.jobs.try_send(job).map_err(|_| PoolBusy)?;
        rx.await.map_err(|_| PoolBusy)
    }
}

/// Run this thread at nice 19 (the lowest priority): argon2 then takes the CPU that SCIM requests leave.
fn lower_priority() {
    // On Linux, PRIO_PROCESS with id 0 sets the calling thread's nice value only.
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if rc != 0 {
        tracing::debug!("cannot lower the password thread's priority");
    }
}
