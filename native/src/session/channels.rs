//! A peer's data channels: the queue between `send` and SCTP, buffered-amount accounting
//! that wakes senders (str0m's own low-water event can miss a refused write), open and
//! close on both sides.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

use str0m::change::SdpApi;
use str0m::channel::{ChannelConfig, ChannelData, ChannelId, Reliability as SctpReliability};
use str0m::Rtc;
use tracing::debug;
use unipeer_core::{
    ChannelCore, ChannelSettings, DataChannelLimits, DataChannelState, Error, Message,
    ReceiveQueue, Reliability, Result,
};

use super::PeerShared;
use crate::command::{ChannelKey, NewChannel, PeerId};
use crate::driver::DriverHandle;
use crate::DataChannel;

struct Slot {
    core: Arc<ChannelCore>,
    queue: ReceiveQueue,
    config: ChannelConfig,
    /// str0m's id, once the channel was handed to str0m.
    id: Option<ChannelId>,
    /// Messages `send` accepted that SCTP had no room for yet.
    pending: VecDeque<Message>,
    pending_bytes: usize,
    /// The buffered amount the sender was last told about (pending + SCTP's).
    known: usize,
    close_requested: bool,
    close_sent: bool,
}

/// How much unacknowledged data we let into SCTP before waiting for acks. sctp-proto walks
/// every in-flight chunk on each poll, so more in flight is slower, not faster. Measured on
/// loopback with 16 KiB messages: 16 KiB 64 MB/s, 32 KiB 68 MB/s, 64 KiB 51 MB/s, 256 KiB
/// 16 MB/s. One message may overshoot it, up to str0m's hard cap [`SCTP_HARD_CAP`].
const SCTP_SOFT_CAP: usize = 32 * 1024;

/// str0m's own send cap: the largest message we can send at all.
pub(crate) const SCTP_HARD_CAP: usize = 1024 * 1024;

pub(super) struct Channels {
    limits: DataChannelLimits,
    slots: HashMap<ChannelKey, Slot>,
    by_id: HashMap<ChannelId, ChannelKey>,
    /// Created before an `m=application` was agreed: they go into the next offer.
    unnegotiated: Vec<ChannelKey>,
    remote_max_message_size: usize,
}

impl Channels {
    pub(super) fn new(limits: DataChannelLimits) -> Self {
        Self {
            limits,
            slots: HashMap::new(),
            by_id: HashMap::new(),
            unnegotiated: Vec::new(),
            remote_max_message_size: 65_536,
        }
    }

    pub(super) fn create(
        &mut self,
        rtc: &mut Rtc,
        new: NewChannel,
        negotiated: bool,
    ) -> Result<()> {
        if let Some(sid) = new.config.negotiated {
            let taken = self
                .slots
                .values()
                .any(|s| s.config.negotiated == Some(sid) || s.core.id() == Some(sid))
                || rtc.direct_api().channel_id_by_sctp_stream_id(sid).is_some();
            if taken {
                return Err(Error::DuplicateChannelId(sid));
            }
        }
        let slot = Slot {
            core: new.core,
            queue: new.queue,
            config: new.config,
            id: None,
            pending: VecDeque::new(),
            pending_bytes: 0,
            known: 0,
            close_requested: false,
            close_sent: false,
        };
        self.slots.insert(new.key, slot);
        self.unnegotiated.push(new.key);
        if negotiated {
            let mut api = rtc.sdp_api();
            if self.add_unnegotiated(&mut api) {
                // With the application section agreed, str0m applies this directly.
                let _ = api.apply();
            }
        }
        Ok(())
    }

    /// Hands channels created before negotiation to str0m; true if there were any.
    pub(super) fn add_unnegotiated(&mut self, api: &mut SdpApi) -> bool {
        !self.hand_over(api).is_empty()
    }

    /// Like `add_unnegotiated`, returning the channels handed over (for `take_back`).
    pub(super) fn hand_over(&mut self, api: &mut SdpApi) -> Vec<ChannelKey> {
        let keys = std::mem::take(&mut self.unnegotiated);
        for key in &keys {
            if let Some(slot) = self.slots.get_mut(key) {
                let id = api.add_channel_with_config(slot.config.clone());
                slot.id = Some(id);
                self.by_id.insert(id, *key);
            }
        }
        keys
    }

    /// str0m dropped the offer these channels were handed over in (our offer was rolled
    /// back to accept the remote's): they wait for the next agreement again.
    pub(super) fn take_back(&mut self, keys: Vec<ChannelKey>) {
        for key in keys {
            if let Some(slot) = self.slots.get_mut(&key) {
                if let Some(id) = slot.id.take() {
                    self.by_id.remove(&id);
                }
                self.unnegotiated.push(key);
            }
        }
    }

    pub(super) fn set_remote_max_message_size(&mut self, max: usize) {
        // A message str0m cannot buffer whole could never be sent: cap the promise.
        let max = max.min(SCTP_HARD_CAP.max(self.limits.max_message_size));
        self.remote_max_message_size = max;
        for s in self.slots.values() {
            s.core.set_max_message_size(max);
        }
    }

    /// str0m opened a channel: one of ours, or a new one the remote announced.
    pub(super) fn opened(
        &mut self,
        rtc: &mut Rtc,
        id: ChannelId,
        peer: PeerId,
        driver: &Weak<DriverHandle>,
        shared: &PeerShared,
    ) -> Option<DataChannel> {
        let sid = rtc.direct_api().sctp_stream_id_by_channel_id(id);
        if let Some(key) = self.by_id.get(&id) {
            let slot = self.slots.get(key)?;
            if let Some(sid) = sid {
                slot.core.set_id(sid);
            }
            slot.core.set_max_message_size(self.remote_max_message_size);
            if !slot.close_requested {
                slot.core.set_state(DataChannelState::Open);
            }
            return None;
        }
        let config = rtc.channel(id)?.config()?.clone();
        let driver = driver.upgrade()?;
        let key = shared.next_channel_key();
        let (core, queue) =
            ChannelCore::new(settings_of(&config), sid, self.limits.high_water_mark);
        core.set_max_message_size(self.remote_max_message_size);
        core.set_state(DataChannelState::Open);
        let handle = DataChannel::new(core.clone(), key, peer, driver);
        self.slots.insert(
            key,
            Slot {
                core,
                queue,
                config,
                id: Some(id),
                pending: VecDeque::new(),
                pending_bytes: 0,
                known: 0,
                close_requested: false,
                close_sent: false,
            },
        );
        self.by_id.insert(id, key);
        Some(handle)
    }

    pub(super) fn data(&mut self, d: ChannelData) {
        let Some(slot) = self.by_id.get(&d.id).and_then(|k| self.slots.get(k)) else {
            debug!("data for an unknown channel dropped");
            return;
        };
        let msg = if d.binary {
            Message::Binary(d.data)
        } else {
            Message::Text(match String::from_utf8(d.data) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })
        };
        slot.queue.push(msg);
    }

    pub(super) fn closed(&mut self, id: ChannelId) {
        if let Some(key) = self.by_id.remove(&id) {
            if let Some(slot) = self.slots.remove(&key) {
                slot.core.set_state(DataChannelState::Closed);
                slot.queue.close();
            }
        }
    }

    pub(super) fn enqueue(&mut self, key: ChannelKey, msg: Message) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return; // closed meanwhile: a closed core already reports nothing buffered
        };
        let len = msg.len();
        slot.pending_bytes += len;
        slot.known += len;
        slot.pending.push_back(msg);
    }

    pub(super) fn request_close(&mut self, key: ChannelKey) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        slot.close_requested = true;
        slot.core.set_state(DataChannelState::Closing);
        if slot.id.is_none() {
            // Never reached str0m: nothing to tell the remote.
            self.unnegotiated.retain(|k| *k != key);
            if let Some(slot) = self.slots.remove(&key) {
                slot.core.set_state(DataChannelState::Closed);
                slot.queue.close();
            }
        }
    }

    /// Moves queued messages into SCTP while it has room, and sends closes whose data has
    /// all been delivered. True if anything was written.
    pub(super) fn flush(&mut self, rtc: &mut Rtc) -> bool {
        let mut wrote = false;
        let mut in_sctp: usize = self
            .slots
            .values()
            .filter_map(|s| s.id)
            .filter_map(|id| rtc.channel(id).map(|mut c| c.buffered_amount()))
            .sum();
        for slot in self.slots.values_mut() {
            let Some(id) = slot.id else { continue };
            while let Some(front) = slot.pending.front() {
                if in_sctp >= SCTP_SOFT_CAP {
                    break;
                }
                let Some(mut ch) = rtc.channel(id) else { break };
                let (binary, bytes) = match front {
                    Message::Binary(b) => (true, b.as_slice()),
                    Message::Text(s) => (false, s.as_bytes()),
                };
                match ch.write(binary, bytes) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        // Only a message str0m cannot take at all gets here (the size was
                        // checked by `send`); drop it so the channel keeps going.
                        debug!(error = %e, "str0m refused a message; dropped");
                    }
                }
                let len = front.len();
                in_sctp += len;
                slot.pending_bytes -= len;
                slot.pending.pop_front();
                wrote = true;
            }
            if slot.close_requested && !slot.close_sent && slot.pending.is_empty() {
                let sctp_empty = rtc
                    .channel(id)
                    .map(|mut c| c.buffered_amount() == 0)
                    .unwrap_or(true);
                if sctp_empty {
                    slot.close_sent = true;
                    rtc.direct_api().close_data_channel(id);
                    wrote = true;
                }
            }
        }
        wrote
    }

    /// Tells senders about bytes SCTP got acknowledged.
    pub(super) fn update_buffered(&mut self, rtc: &mut Rtc) {
        for slot in self.slots.values_mut() {
            if slot.known == 0 {
                continue;
            }
            let sctp = slot
                .id
                .and_then(|id| rtc.channel(id))
                .map(|mut c| c.buffered_amount())
                .unwrap_or(0);
            let now = slot.pending_bytes + sctp;
            if now < slot.known {
                slot.core.release(slot.known - now);
                slot.known = now;
            }
        }
    }

    pub(super) fn close_all(&mut self) {
        for (_, slot) in self.slots.drain() {
            slot.core.set_state(DataChannelState::Closed);
            slot.queue.close();
        }
        self.by_id.clear();
        self.unnegotiated.clear();
    }
}

/// str0m's channel options for unipeer's.
pub(crate) fn config_of(label: &str, init: &unipeer_core::DataChannelInit) -> ChannelConfig {
    ChannelConfig {
        label: label.to_string(),
        ordered: init.ordered,
        reliability: match init.reliability() {
            Reliability::Reliable => SctpReliability::Reliable,
            Reliability::MaxRetransmits(n) => SctpReliability::MaxRetransmits { retransmits: n },
            Reliability::MaxPacketLifeTime(ms) => {
                SctpReliability::MaxPacketLifetime { lifetime: ms }
            }
        },
        negotiated: init.negotiated,
        protocol: init.protocol.clone(),
    }
}

/// unipeer's view of str0m's channel options.
pub(crate) fn settings_of(c: &ChannelConfig) -> ChannelSettings {
    ChannelSettings {
        label: c.label.clone(),
        protocol: c.protocol.clone(),
        ordered: c.ordered,
        reliability: match c.reliability {
            SctpReliability::Reliable => Reliability::Reliable,
            SctpReliability::MaxRetransmits { retransmits } => {
                Reliability::MaxRetransmits(retransmits)
            }
            SctpReliability::MaxPacketLifetime { lifetime } => {
                Reliability::MaxPacketLifeTime(lifetime)
            }
        },
        negotiated: c.negotiated.is_some(),
    }
}
