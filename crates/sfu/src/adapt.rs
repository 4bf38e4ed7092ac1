//! Adaptive media in the core: the media signaling channels (MSP) of each participant, and the
//! periodic tick that measures layer bitrates, follows the dominant speaker, shares each
//! subscriber's bandwidth among its video tracks (switching tracks off and on, choosing layers) and
//! tells publishers which simulcast layers anyone needs.
//!
//! Decisions asked for by the client (render hints, priorities) apply at once; a raise the
//! bandwidth allows waits for `RAISE_HOLD`, so a fluctuating estimate does not flip tracks on and
//! off. Lowering is immediate.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use vroom_domain::sid::{ParticipantSid, TrackSid};
use vroom_domain::track::{TrackKind, TrackPriority};

use crate::allocate::{LayerOffer, Raise, TrackWant, allocate};
use crate::core::SfuCore;
use crate::msp::{self, ClientMsp, ClientNetwork, MediaOptions, MspChannel, SwitchOffMode};

/// How often the core adapts.
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// A raise allowed by the bandwidth must hold this long before it is applied.
const RAISE_HOLD: Duration = Duration::from_secs(1);
/// Where a subscriber's downstream estimate starts.
pub(crate) const INITIAL_ESTIMATE: str0m::bwe::Bitrate = str0m::bwe::Bitrate::kbps(1000);
/// What is kept of the estimate for each audio track a subscriber receives.
const AUDIO_ALLOWANCE: u64 = 48_000;
/// The estimator probes up to this much above what the subscriber's tracks want.
const PROBE_HEADROOM: f64 = 1.15;

/// MSP messages kept for a channel that is not open yet.
const MAX_QUEUED: usize = 64;

/// The layers each published video track sends now, by (publisher, client track id).
type LayerOffers = HashMap<(ParticipantSid, String), Vec<LayerOffer>>;

/// One media signaling channel the server opens on a participant's connection.
#[derive(Debug, Clone)]
pub(crate) struct MspOut {
    pub channel: MspChannel,
    /// The data channel, once added to a negotiation.
    pub id: Option<ChannelId>,
    pub open: bool,
    /// Messages waiting for it to open.
    pub queue: Vec<String>,
}

/// How a subscriber wants one track and what it gets.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrackAdapt {
    /// The subscriber's priority (`setPriority`), over the publisher's.
    pub priority: Option<TrackPriority>,
    /// Switched off by the subscriber (render hint `enabled: false`).
    pub hinted_off: bool,
    /// The height the subscriber draws it at.
    pub render_height: Option<u32>,
    /// Switched off by the allocator: nothing is forwarded.
    pub off: bool,
    /// The highest layer allowed (`None`: the best sent).
    pub cap: Option<usize>,
    /// A raise waiting for its hold: (switched on, cap), since when.
    pub raise: Option<((bool, Option<usize>), Instant)>,
}

/// Per connection: what adaptation knows of the participant's link.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkState {
    /// The client's last network report.
    pub network: Option<ClientNetwork>,
    /// Its last network quality level.
    pub level: Option<u8>,
    /// Share of its wanted video that fits its bandwidth.
    pub fit: Option<f64>,
    /// Its downstream estimate (bits per second), when the SFU estimates it.
    pub estimate: Option<u64>,
    /// The loss the SFU sees on what the client sends (0–1, smoothed).
    pub uplink_loss: Option<f64>,
    /// Publisher hints last sent, per track SID.
    pub hints_sent: HashMap<String, Vec<bool>>,
}

impl SfuCore {
    /// What `participant`'s client asked for in `connect`. Call before its first offer.
    pub fn set_options(&mut self, participant: ParticipantSid, options: MediaOptions) {
        self.options.insert(participant, options);
    }

    /// The tracks `participant` publishes now, by client track id.
    pub fn set_published(&mut self, participant: ParticipantSid, tracks: &[(String, TrackSid)]) {
        self.track_sids.retain(|(p, _), _| *p != participant);
        for (id, sid) in tracks {
            self.track_sids.insert((participant, id.clone()), *sid);
        }
    }

    /// The MSP channels a new connection of `participant` serves: all on its first connection.
    pub(crate) fn msp_for_new_peer(&self, participant: ParticipantSid) -> Vec<MspOut> {
        if self.peers.iter().any(|p| p.participant == participant) {
            return Vec::new();
        }
        self.options
            .get(&participant)
            .map(|o| {
                o.channels
                    .iter()
                    .map(|c| MspOut {
                        channel: *c,
                        id: None,
                        open: false,
                        queue: Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends `text` on peer `i`'s `channel` (or keeps it until the channel opens).
    pub(crate) fn msp_send(&mut self, i: usize, channel: MspChannel, text: String, now: Instant) {
        let Some(peer) = self.peers.get_mut(i) else {
            return;
        };
        let Some(m) = peer.msp.iter_mut().find(|m| m.channel == channel) else {
            return;
        };
        match (m.open, m.id) {
            (true, Some(cid)) => {
                if let Some(mut c) = peer.rtc.channel(cid)
                    && let Err(e) = c.write(false, text.as_bytes())
                {
                    tracing::debug!(error = %e, "media signaling send failed");
                }
                self.drain(i, now);
            }
            _ => {
                if m.queue.len() == MAX_QUEUED {
                    m.queue.remove(0);
                }
                m.queue.push(text);
            }
        }
    }

    /// Peer `i`'s MSP channel `cid` opened: what waited for it goes out, and the channel gets the
    /// current state.
    pub(crate) fn msp_opened(&mut self, i: usize, cid: ChannelId, now: Instant) {
        let Some(m) = self.peers[i].msp.iter_mut().find(|m| m.id == Some(cid)) else {
            return;
        };
        m.open = true;
        let channel = m.channel;
        let queued = std::mem::take(&mut m.queue);
        for text in queued {
            self.msp_send(i, channel, text, now);
        }
        match channel {
            MspChannel::ActiveSpeaker => {
                let room = self.peers[i].room;
                if let Some(d) = self.speakers.get(&room).and_then(|s| s.dominant()) {
                    self.msp_send(i, channel, msp::active_speaker(&d.to_string()), now);
                }
            }
            MspChannel::PublisherHints => self.peers[i].link.hints_sent.clear(),
            _ => {}
        }
    }

    /// A message from peer `i`'s client on one of its MSP channels.
    pub(crate) fn on_msp(&mut self, i: usize, data: &[u8], now: Instant) {
        let Some(message) = ClientMsp::parse(data) else {
            tracing::debug!("a media signaling message that is not JSON");
            return;
        };
        match message {
            ClientMsp::NetworkQuality {
                network,
                local_level,
                remote_level,
            } => {
                let peer = &mut self.peers[i];
                peer.link.network = Some(network);
                let level =
                    crate::quality::level(Some(&network), peer.link.uplink_loss, peer.link.fit);
                peer.link.level = Some(level);
                let (room, me) = (peer.room, peer.participant);
                let remotes: Vec<(String, u8)> = if remote_level > 0 {
                    self.peers
                        .iter()
                        .filter(|p| p.room == room && p.participant != me && !p.msp.is_empty())
                        .filter_map(|p| p.link.level.map(|l| (p.participant.to_string(), l)))
                        .collect()
                } else {
                    Vec::new()
                };
                let local = if local_level > 0 { level } else { 0 };
                self.msp_send(
                    i,
                    MspChannel::NetworkQuality,
                    msp::network_quality(local, &remotes),
                    now,
                );
            }
            ClientMsp::TrackPriority { track, priority } => {
                if let Some(t) = self.peers[i]
                    .outgoing
                    .iter_mut()
                    .find(|t| t.sub.track.to_string() == track)
                {
                    t.adapt.priority = Some(priority);
                }
                self.allocate_peer(i, now);
            }
            ClientMsp::RenderHints { id, hints } => {
                let mut answered = Vec::new();
                for h in hints {
                    if let Some(t) = self.peers[i]
                        .outgoing
                        .iter_mut()
                        .find(|t| t.sub.track.to_string() == h.track)
                    {
                        if let Some(enabled) = h.enabled {
                            t.adapt.hinted_off = !enabled;
                        }
                        if let Some(d) = h.dimensions {
                            t.adapt.render_height = Some(d.height);
                        }
                    }
                    answered.push(h.track);
                }
                self.msp_send(
                    i,
                    MspChannel::RenderHints,
                    msp::render_hints_reply(id, &answered),
                    now,
                );
                self.allocate_peer(i, now);
            }
            ClientMsp::ClientReset { track } => {
                self.peers[i].link.hints_sent.remove(&track);
            }
            ClientMsp::Other => {}
        }
    }

    /// The periodic adaptation.
    pub(crate) fn tick(&mut self, now: Instant) {
        let secs = TICK.as_secs_f64();
        for peer in &mut self.peers {
            for incoming in peer.incoming.values_mut() {
                for l in &mut incoming.layers {
                    #[allow(clippy::cast_precision_loss)]
                    let rate = l.bytes as f64 * 8.0 / secs;
                    #[allow(clippy::cast_precision_loss)]
                    let old = l.bitrate as f64;
                    // Smoothed over about a second.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let smoothed = (old * 0.75 + rate * 0.25) as u64;
                    l.bitrate = if l.active(now) { smoothed } else { 0 };
                    l.bytes = 0;
                }
            }
        }
        let rooms: Vec<_> = self.speakers.keys().copied().collect();
        for room in rooms {
            let Some(changed) = self.speakers.get_mut(&room).and_then(|s| s.update(now)) else {
                continue;
            };
            let text = msp::active_speaker(&changed.to_string());
            for i in 0..self.peers.len() {
                if self.peers[i].room == room {
                    self.msp_send(i, MspChannel::ActiveSpeaker, text.clone(), now);
                }
            }
        }
        // What publishers send is the same for every subscriber: read it once per tick.
        let offers = self.offers(now);
        for i in 0..self.peers.len() {
            self.allocate_with(i, now, false, &offers);
        }
        for i in 0..self.peers.len() {
            self.publisher_hints(i, now);
        }
    }

    /// The layers each track's publisher sends now, by (publisher, client track id).
    fn offers(&self, now: Instant) -> LayerOffers {
        let mut offers = HashMap::new();
        for p in &self.peers {
            for t in p.incoming.values().filter(|t| t.video) {
                let layers = t
                    .layers
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.active(now))
                    .map(|(index, l)| LayerOffer {
                        index,
                        bitrate: l.bitrate,
                        height: l.height,
                    })
                    .collect();
                offers.insert((p.participant, t.track_id.clone()), layers);
            }
        }
        offers
    }

    /// Shares peer `i`'s bandwidth among its video tracks and applies the result at once (the
    /// client asked for a change).
    fn allocate_peer(&mut self, i: usize, now: Instant) {
        let offers = self.offers(now);
        self.allocate_with(i, now, true, &offers);
    }

    /// Shares peer `i`'s bandwidth among its video tracks given what publishers send (`offers`)
    /// and applies the result; `forced` applies raises at once.
    fn allocate_with(&mut self, i: usize, now: Instant, forced: bool, offers: &LayerOffers) {
        let Some(peer) = self.peers.get(i) else {
            return;
        };
        let options = self.options.get(&peer.participant);
        let profile = options.and_then(|o| o.profile.as_ref());
        let audio = peer
            .outgoing
            .iter()
            .filter(|t| t.sub.kind == TrackKind::Audio && t.listed())
            .count();
        let estimated = peer
            .link
            .estimate
            .map(|e| e.saturating_sub(AUDIO_ALLOWANCE * u64::try_from(audio).unwrap_or(u64::MAX)));
        let budget = [
            profile.and_then(|p| p.max_subscription_bitrate),
            self.config.max_subscriber_bitrate,
            estimated,
        ]
        .into_iter()
        .flatten()
        .min();
        let switch_off = profile.is_some_and(|p| p.switch_off != SwitchOffMode::Disabled);
        let dominant = self.speakers.get(&peer.room).and_then(|s| s.dominant());
        let video: Vec<usize> = (0..peer.outgoing.len())
            .filter(|k| {
                peer.outgoing[*k].sub.kind == TrackKind::Video && peer.outgoing[*k].listed()
            })
            .collect();
        if video.is_empty() {
            return;
        }
        let wants: Vec<TrackWant> = video
            .iter()
            .map(|k| {
                let t = &peer.outgoing[*k];
                let mut priority = t.adapt.priority.unwrap_or(t.sub.priority);
                if Some(t.sub.publisher) == dominant
                    && let Some(p) = profile.and_then(|p| p.dominant_speaker_priority)
                {
                    priority = priority.max(p);
                }
                let from_profile = profile.and_then(|p| {
                    p.render_dimensions
                        .iter()
                        .find(|(pr, _)| *pr == priority)
                        .map(|(_, d)| d.height)
                });
                TrackWant {
                    priority,
                    enabled: !t.adapt.hinted_off,
                    render_height: t.adapt.render_height.or(from_profile),
                    layers: offers
                        .get(&(t.sub.publisher, t.sub.publisher_track_id.clone()))
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect();
        let raise = match profile.map(|p| p.mode.as_str()) {
            Some("collaboration" | "presentation") => Raise::PriorityFirst,
            _ => Raise::RoundRobin,
        };
        let allocation = allocate(budget, switch_off || budget.is_none(), raise, &wants);
        let peer = &mut self.peers[i];
        if peer.link.estimate.is_some() {
            // Probe for what the tracks want (the estimator never goes far above what is sent).
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let desired = ((allocation.wanted + AUDIO_ALLOWANCE * u64::try_from(audio).unwrap_or(0))
                as f64
                * PROBE_HEADROOM) as u64;
            peer.rtc
                .bwe()
                .set_desired_bitrate(str0m::bwe::Bitrate::bps(desired.max(300_000)));
        }
        #[allow(clippy::cast_precision_loss)]
        let fit = if allocation.wanted == 0 {
            1.0
        } else {
            allocation.given as f64 / allocation.wanted as f64
        };
        peer.link.fit = Some(fit.min(1.0));
        let (mut went_off, mut came_on) = (Vec::new(), Vec::new());
        for (n, k) in video.iter().enumerate() {
            let t = &mut peer.outgoing[*k];
            let new = (allocation.layers[n].is_some(), allocation.layers[n]);
            let old = (!t.adapt.off, t.adapt.cap);
            if new == old {
                t.adapt.raise = None;
                continue;
            }
            let lower = !new.0 || (old.0 && old.1.is_some() && new.1 < old.1);
            let apply = forced
                || lower
                || old.1.is_none() && old.0
                || t.adapt.raise.is_some_and(|(r, since)| {
                    r == new && now.saturating_duration_since(since) >= RAISE_HOLD
                });
            if !apply {
                if t.adapt.raise.is_none_or(|(r, _)| r != new) {
                    t.adapt.raise = Some((new, now));
                }
                continue;
            }
            t.adapt.raise = None;
            if new.0 != old.0 {
                let sid = t.sub.track.to_string();
                if new.0 {
                    came_on.push(sid);
                } else {
                    // The next packet sent starts on a keyframe again.
                    t.fwd.restart();
                    went_off.push(sid);
                }
            }
            t.adapt.off = !new.0;
            t.adapt.cap = new.1;
        }
        if !went_off.is_empty() || !came_on.is_empty() {
            self.msp_send(
                i,
                MspChannel::TrackSwitchOff,
                msp::track_switch_off(&went_off, &came_on),
                now,
            );
        }
    }

    /// Tells peer `i`'s client which layers of each of its simulcast tracks anyone needs: those up to
    /// the highest a subscriber with the track on could use; none when nobody watches.
    fn publisher_hints(&mut self, i: usize, now: Instant) {
        let peer = &self.peers[i];
        if !peer
            .msp
            .iter()
            .any(|m| m.channel == MspChannel::PublisherHints)
        {
            return;
        }
        let me = peer.participant;
        let mut hints = Vec::new();
        for t in peer
            .incoming
            .values()
            .filter(|t| t.video && t.layers.len() > 1)
        {
            let watching: Vec<_> = self
                .peers
                .iter()
                .flat_map(|p| &p.outgoing)
                .filter(|o| o.sub.publisher == me && o.sub.publisher_track_id == t.track_id)
                .filter(|o| o.listed() && !o.adapt.hinted_off)
                .collect();
            let Some(sid) = watching
                .first()
                .map(|o| o.sub.track.to_string())
                .or_else(|| {
                    self.track_sids
                        .get(&(me, t.track_id.clone()))
                        .map(ToString::to_string)
                })
            else {
                continue;
            };
            // The highest layer anyone could use: the smallest one at least as tall as they draw
            // it, or the top one when the size is not known.
            let top = t.layers.len() - 1;
            let needed = watching
                .iter()
                .map(|o| {
                    o.adapt
                        .render_height
                        .and_then(|h| {
                            t.layers
                                .iter()
                                .position(|l| l.height.is_some_and(|lh| lh >= h))
                        })
                        .unwrap_or(top)
                })
                .max();
            let enabled: Vec<bool> = (0..t.layers.len())
                .map(|l| needed.is_some_and(|n| l <= n))
                .collect();
            if peer.link.hints_sent.get(&sid) != Some(&enabled) {
                hints.push((sid, enabled));
            }
        }
        for (sid, enabled) in hints {
            self.hint_id += 1;
            let text = msp::publisher_hints(self.hint_id, &sid, &enabled);
            self.peers[i].link.hints_sent.insert(sid, enabled);
            self.msp_send(i, MspChannel::PublisherHints, text, now);
        }
    }
}
