//! str0m instances made ahead of time.
//!
//! Creating an `Rtc` costs about a millisecond of CPU, almost all of it the DTLS
//! certificate and the key-exchange keys. A background thread keeps a few ready for the
//! default data-channel limits, so `Peer::new` returns at once. Each instance is handed out
//! once and gets fresh ICE credentials from the secure generator when taken, so every peer
//! still has its own certificate, keys and credentials. The thread sleeps while the pool is
//! full; when it is empty (a burst of peers), `Peer::new` builds its own.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use str0m::{Rtc, RtcConfig};
use tracing::debug;
use unipeer_core::{DataChannelLimits, MediaConfig, PeerConfig};

use crate::session::SCTP_HARD_CAP;

/// Instances kept ready: enough for a burst of connections at little memory.
const READY: usize = 4;

/// What a peer's str0m instance is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Recipe {
    pub limits: DataChannelLimits,
    pub stats_interval: Option<Duration>,
    pub rtp_mode: bool,
}

impl Recipe {
    pub(crate) fn of(config: &PeerConfig) -> Self {
        Self {
            limits: config.data_channel,
            stats_interval: config.media.stats_interval,
            rtp_mode: config.media.rtp_mode,
        }
    }

    fn default_recipe() -> Self {
        Self {
            limits: DataChannelLimits::default(),
            stats_interval: MediaConfig::default().stats_interval,
            rtp_mode: false,
        }
    }
}

/// The str0m configuration for a recipe (the one recipe, pooled or not).
pub(crate) fn config(recipe: &Recipe) -> RtcConfig {
    let limits = &recipe.limits;
    let max_message_size = u32::try_from(limits.max_message_size).unwrap_or(u32::MAX);
    RtcConfig::new()
        // Codecs the unipeer API names (H.265 is not one: few browsers have it).
        .enable_h265(false)
        .set_crypto_provider(crate::dtls::provider())
        .set_sctp_max_message_size(max_message_size)
        // The hard cap on a single message; the in-flight amount is kept lower.
        .set_sctp_max_buffered_amount(SCTP_HARD_CAP.max(limits.max_message_size))
        // RTCP statistics for tracks; each refresh wakes the peer (see MediaConfig).
        .set_stats_interval(recipe.stats_interval)
        .set_rtp_mode(recipe.rtp_mode)
}

struct Pool {
    ready: Mutex<Vec<Rtc>>,
    wanted: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("unipeer-prebuild".into())
            .spawn(fill);
        if let Err(e) = started {
            debug!(error = %e, "no prebuild thread; peers build their own");
        }
        Pool {
            ready: Mutex::new(Vec::new()),
            wanted: Condvar::new(),
        }
    })
}

/// Starts filling the pool (the driver calls this when it starts).
pub(crate) fn warm_up() {
    let _ = pool();
}

/// A ready instance for this recipe, if there is one.
pub(crate) fn take(recipe: &Recipe) -> Option<Rtc> {
    if *recipe != Recipe::default_recipe() {
        return None;
    }
    let p = pool();
    let rtc = p.ready.lock().ok()?.pop();
    p.wanted.notify_one();
    rtc
}

/// Linux: the builder runs only on a core nothing else wants, so refilling the pool never
/// delays a connection in progress (it competed with the driver's handshakes for the two
/// cores of the benchmark machine, adding up to 0.2 ms to a connect).
#[cfg(target_os = "linux")]
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system call on the calling thread with a valid parameter.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if r != 0 {
        debug!("SCHED_IDLE refused; the prebuild thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

fn fill() {
    lower_priority();
    let p = pool();
    loop {
        // Build outside the lock: takers never wait for the builder.
        let rtc = config(&Recipe::default_recipe()).build(Instant::now());
        let Ok(mut ready) = p.ready.lock() else {
            return;
        };
        ready.push(rtc);
        while ready.len() >= READY {
            ready = match p.wanted.wait(ready) {
                Ok(r) => r,
                Err(_) => return,
            };
        }
    }
}
