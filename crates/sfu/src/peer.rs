//! One participant's peer connection: its str0m `Rtc`, the offer/answer state shared with
//! twilio-video.js (one description revision per connection), the client's tracks arriving on it, and
//! the tracks of others it sends (its subscriptions).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::rtp::Ssrc;
use vroom_domain::live::Subscription;
use vroom_domain::sid::{ParticipantSid, RoomSid};
use vroom_domain::track::TrackKind;

use crate::MediaError;
use crate::forward::Forwarder;
use crate::sdp;

/// A layer counts as sent while its last packet is at most this old.
const ACTIVE_WINDOW: Duration = Duration::from_secs(1);

/// One stream of a track the client sends: its only stream, or one simulcast layer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// Its SSRC, when the SDP announced it or a packet showed it.
    pub ssrc: Option<Ssrc>,
    /// Its rid (RID-based simulcast).
    pub rid: Option<String>,
    /// When its last packet arrived.
    pub last_packet: Option<Instant>,
    /// When a keyframe was last asked of it.
    pub keyframe_asked: Option<Instant>,
    /// Payload bytes received since the last adaptation tick.
    pub bytes: u64,
    /// Bits per second it carries (smoothed over ticks).
    pub bitrate: u64,
    /// Its frame height, from its last keyframe.
    pub height: Option<u32>,
}

impl Layer {
    /// Whether it is being sent (a packet arrived recently).
    pub fn active(&self, now: Instant) -> bool {
        self.last_packet
            .is_some_and(|t| now.saturating_duration_since(t) <= ACTIVE_WINDOW)
    }

    fn new(ssrc: Option<Ssrc>, rid: Option<String>) -> Self {
        Self {
            ssrc,
            rid,
            last_packet: None,
            keyframe_asked: None,
            bytes: 0,
            bitrate: 0,
            height: None,
        }
    }
}

/// A track the client sends on one of its m-lines.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    /// The client's id for it (the msid track-id).
    pub track_id: String,
    /// Whether it is video.
    pub video: bool,
    /// Its streams, lowest layer first.
    pub layers: Vec<Layer>,
}

impl Incoming {
    /// The layer a packet of `ssrc` (with `rid`) belongs to; a stream the SDP did not announce
    /// becomes a layer of its own (or, for a track of one stream, replaces it).
    pub fn layer_of(&mut self, ssrc: Ssrc, rid: Option<&str>) -> usize {
        if let Some(i) = self.layers.iter().position(|l| l.ssrc == Some(ssrc)) {
            return i;
        }
        if let Some(rid) = rid
            && let Some(i) = self
                .layers
                .iter()
                .position(|l| l.rid.as_deref() == Some(rid))
        {
            self.layers[i].ssrc = Some(ssrc);
            return i;
        }
        if self.layers.len() <= 1 && rid.is_none() {
            self.layers = vec![Layer::new(Some(ssrc), None)];
            return 0;
        }
        self.layers
            .push(Layer::new(Some(ssrc), rid.map(str::to_owned)));
        self.layers.len() - 1
    }

    /// The layer subscribers get by default: the highest one being sent, else the lowest.
    pub fn best_layer(&self, now: Instant) -> usize {
        self.layers.iter().rposition(|l| l.active(now)).unwrap_or(0)
    }

    /// The layers being sent now, as a bit mask (bit 0: layer 0).
    pub fn active_mask(&self, now: Instant) -> u8 {
        self.layers
            .iter()
            .take(8)
            .enumerate()
            .filter(|(_, l)| l.active(now))
            .fold(0, |m, (i, _)| m | (1 << i))
    }

    /// The streams an m-section announces, keeping what was learnt of the ones it still has.
    fn from_section(section: &sdp::Section, track_id: String, old: Option<&Incoming>) -> Self {
        let known = |ssrc: Option<Ssrc>, rid: Option<&str>| {
            old.and_then(|o| {
                o.layers
                    .iter()
                    .find(|l| {
                        (ssrc.is_some() && l.ssrc == ssrc)
                            || (rid.is_some() && l.rid.as_deref() == rid)
                    })
                    .cloned()
            })
        };
        let ssrcs = section.layer_ssrcs();
        let layers: Vec<Layer> = if !section.simulcast_rids.is_empty() {
            section
                .simulcast_rids
                .iter()
                .map(|r| known(None, Some(r)).unwrap_or_else(|| Layer::new(None, Some(r.clone()))))
                .collect()
        } else {
            ssrcs
                .iter()
                .map(|s| {
                    let ssrc = Some(Ssrc::from(*s));
                    known(ssrc, None).unwrap_or_else(|| Layer::new(ssrc, None))
                })
                .collect()
        };
        Self {
            track_id,
            video: section.media == "video",
            layers,
        }
    }
}

/// Where an outgoing track is in its negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    /// Wanted; not yet in an offer.
    ToOpen,
    /// In the offer awaiting the client's answer.
    Negotiating,
    /// Negotiated: media (or data) flows.
    Open,
    /// No longer wanted; its m-line is to be stopped.
    ToStop,
    /// Its stop is in the offer awaiting the answer.
    Stopping,
}

/// A track of another participant this peer sends to its client.
#[derive(Debug, Clone)]
pub(crate) struct TrackOut {
    pub sub: Subscription,
    pub state: OutState,
    /// The m-line carrying it (audio/video).
    pub mid: Option<Mid>,
    /// The data channel carrying it (data tracks).
    pub channel: Option<ChannelId>,
    /// Whether that channel is open (the client acknowledged it).
    pub channel_open: bool,
    /// Messages that arrived before the channel opened, sent when it does.
    pub held: Vec<(bool, Vec<u8>)>,
    /// Layer choice and rewriting towards the subscriber (audio/video).
    pub fwd: Forwarder,
    /// Publisher payload type → ours, as learnt.
    pub pts: Vec<(Pt, Option<Pt>)>,
    /// Whether the track can be offered: a data track only once its publisher's own channel is
    /// open at the server, so a message the publisher sends the moment a subscriber sees the track
    /// cannot meet a channel the browser has not opened yet (it would drop it).
    pub ready: bool,
    /// How the subscriber wants it (`setPriority`, render hints) and what the allocator gave it.
    pub adapt: crate::adapt::TrackAdapt,
}

/// Messages kept per data track while its channel to a subscriber opens.
pub(crate) const MAX_HELD_MESSAGES: usize = 256;

impl TrackOut {
    /// The id the client finds the track under: the msid track-id of its m-line, or the label of its
    /// data channel. It is the track's SID, unique in the room.
    pub fn client_id(&self) -> String {
        self.sub.track.to_string()
    }

    pub fn listed(&self) -> bool {
        matches!(
            self.state,
            OutState::ToOpen | OutState::Negotiating | OutState::Open
        )
    }
}

/// A peer connection.
pub(crate) struct Peer {
    pub participant: ParticipantSid,
    pub room: RoomSid,
    /// The client's id for this connection.
    pub pc: String,
    pub rtc: Rtc,
    /// The last description revision both sides agree on.
    pub revision: u64,
    /// Our offer awaiting the client's answer: the pending changes, its revision and its SDP.
    pub pending: Option<(SdpPendingOffer, u64, String)>,
    /// The client's offer that set `revision`, and our answer to it, while nothing newer was
    /// negotiated: a client whose signaling connection broke before the answer reached it offers
    /// the same again when it resumes, and gets the same answer.
    pub answered: Option<(String, String)>,
    /// Mids of m-lines this server offered (it sends on those).
    pub server_mids: Vec<Mid>,
    /// The track (SDP msid track-id) and streams carried by each m-line the client sends on.
    pub incoming: HashMap<Mid, Incoming>,
    /// Data channels the client opened: their label is the client's data track id.
    pub channels_in: HashMap<ChannelId, String>,
    /// Tracks sent to this client.
    pub outgoing: Vec<TrackOut>,
    /// The media signaling channels served on this connection (the participant's first).
    pub msp: Vec<crate::adapt::MspOut>,
    /// Adaptation state of the participant on this connection (network quality, hints sent).
    pub link: crate::adapt::LinkState,
    /// When `rtc` next needs a timeout input.
    pub timeout: Instant,
    /// When the core serves it next: on the timers' grid, at or before `timeout` (`timers.rs`).
    pub due: Option<Instant>,
    /// Packets written to it since it was last served.
    pub written: usize,
    /// Bandwidth estimation is on: str0m paces what it sends.
    pub paced: bool,
}

fn media_kind(kind: TrackKind) -> MediaKind {
    if kind == TrackKind::Video {
        MediaKind::Video
    } else {
        MediaKind::Audio
    }
}

impl Peer {
    pub fn new(
        participant: ParticipantSid,
        room: RoomSid,
        pc: String,
        rtc: Rtc,
        now: Instant,
    ) -> Self {
        Self {
            participant,
            room,
            pc,
            rtc,
            revision: 0,
            pending: None,
            answered: None,
            server_mids: Vec::new(),
            incoming: HashMap::new(),
            channels_in: HashMap::new(),
            outgoing: Vec::new(),
            msp: Vec::new(),
            link: crate::adapt::LinkState::default(),
            timeout: now,
            due: None,
            written: 0,
            paced: false,
        }
    }

    /// Answers the client's offer at `revision`. Returns `None` when the offer is stale (an older
    /// revision) or crosses an offer of ours (glare: twilio-video.js then rolls its own back, answers
    /// ours and offers again). The offer that set the current revision, repeated word for word, gets
    /// its answer again.
    pub fn accept_offer(
        &mut self,
        revision: u64,
        offer_sdp: &str,
    ) -> Result<Option<String>, MediaError> {
        if self.pending.is_some() {
            return Ok(None);
        }
        if revision == self.revision
            && let Some((offer, answer)) = &self.answered
            && offer == offer_sdp
        {
            return Ok(Some(answer.clone()));
        }
        if revision <= self.revision {
            return Ok(None);
        }
        let server_mids: Vec<String> = self.server_mids.iter().map(ToString::to_string).collect();
        let mut narrowed = sdp::narrow_client_directions(offer_sdp, &server_mids);
        if !self.paced {
            // A client offering again may name the extension on our m-lines; our answer then
            // leaves it out there, as our offers did (`negotiate`).
            narrowed = sdp::without_transport_cc(&narrowed, &server_mids);
        }
        let offer = SdpOffer::from_sdp_string(&narrowed)
            .map_err(|e| MediaError::RemoteDescription(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::RemoteDescription(e.to_string()))?;
        self.revision = revision;
        let old = std::mem::take(&mut self.incoming);
        self.incoming = sdp::sections(offer_sdp)
            .into_iter()
            .filter(|s| matches!(s.direction.as_str(), "sendrecv" | "sendonly"))
            .filter_map(|s| {
                let mid: Mid = s.mid.as_str().into();
                let track = s.track_id.clone()?;
                // The same track on the same m-line keeps what was learnt of its streams.
                let before = old.get(&mid).filter(|o| o.track_id == track);
                Some((mid, Incoming::from_section(&s, track, before)))
            })
            .collect();
        let answer = sdp::crlf(&answer.to_sdp_string());
        self.answered = Some((offer_sdp.to_owned(), answer.clone()));
        Ok(Some(answer))
    }

    /// Applies the client's answer to our pending offer, if the revision matches it.
    pub fn accept_answer(&mut self, revision: u64, answer_sdp: &str) -> Result<bool, MediaError> {
        match &self.pending {
            Some((_, pending_revision, _)) if *pending_revision == revision => {}
            _ => return Ok(false),
        }
        let Some((pending, _, _)) = self.pending.take() else {
            return Ok(false);
        };
        let answer = SdpAnswer::from_sdp_string(answer_sdp)
            .map_err(|e| MediaError::RemoteDescription(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| MediaError::RemoteDescription(e.to_string()))?;
        self.revision = revision;
        self.answered = None;
        for t in &mut self.outgoing {
            if t.state == OutState::Negotiating {
                t.state = OutState::Open;
            }
        }
        self.outgoing.retain(|t| t.state != OutState::Stopping);
        Ok(true)
    }

    /// Replaces the subscriptions: new ones are to be opened, dropped ones stopped.
    pub fn set_subscriptions(&mut self, subs: &[Subscription]) {
        let wanted = |t: &TrackOut| subs.iter().any(|s| s.track == t.sub.track);
        // Never offered: just forget it.
        self.outgoing
            .retain(|t| t.state != OutState::ToOpen || wanted(t));
        for t in &mut self.outgoing {
            if t.listed() && !wanted(t) {
                t.state = OutState::ToStop;
            }
        }
        for s in subs {
            match self
                .outgoing
                .iter_mut()
                .find(|t| t.sub.track == s.track && t.listed())
            {
                Some(t) => t.sub = s.clone(),
                None => self.outgoing.push(TrackOut {
                    fwd: Forwarder::new(s.kind == TrackKind::Video),
                    pts: Vec::new(),
                    ready: s.kind != TrackKind::Data,
                    sub: s.clone(),
                    state: OutState::ToOpen,
                    mid: None,
                    channel: None,
                    channel_open: false,
                    held: Vec::new(),
                    adapt: crate::adapt::TrackAdapt::default(),
                }),
            }
        }
    }

    /// The tracks the client should consider subscribed, with the id each arrives under.
    pub fn subscribed(&self) -> Vec<(vroom_domain::sid::TrackSid, String)> {
        self.outgoing
            .iter()
            .filter(|t| t.listed() && t.ready)
            .map(|t| (t.sub.track, t.client_id()))
            .collect()
    }

    /// Starts a negotiation for outgoing changes, if any and if none is under way. Returns our offer
    /// (revision, SDP) when one is needed; changes that need none (a new data channel on an existing
    /// association) are applied at once.
    pub fn negotiate(&mut self) -> Option<(u64, String)> {
        if self.pending.is_some() || self.revision == 0 {
            return None;
        }
        // Data channels that are no longer wanted close directly.
        for t in &mut self.outgoing {
            if t.state == OutState::ToStop && t.sub.kind == TrackKind::Data {
                if let Some(cid) = t.channel {
                    self.rtc.direct_api().close_data_channel(cid);
                }
                t.state = OutState::Stopping;
                t.channel = None;
            }
        }
        self.outgoing
            .retain(|t| !(t.state == OutState::Stopping && t.mid.is_none()));
        let mut change = self.rtc.sdp_api();
        for m in &mut self.msp {
            if m.id.is_none() {
                m.id = Some(change.add_channel(m.channel.name().to_owned()));
            }
        }
        for t in &mut self.outgoing {
            match t.state {
                OutState::ToOpen if !t.ready => {}
                OutState::ToOpen if t.sub.kind == TrackKind::Data => {
                    t.channel = Some(change.add_channel(t.sub.track.to_string()));
                    t.state = OutState::Negotiating;
                }
                OutState::ToOpen => {
                    let mid = change.add_media(
                        media_kind(t.sub.kind),
                        Direction::SendOnly,
                        Some(t.sub.publisher.to_string()),
                        Some(t.sub.track.to_string()),
                        None,
                    );
                    self.server_mids.push(mid);
                    t.mid = Some(mid);
                    t.state = OutState::Negotiating;
                }
                OutState::ToStop => {
                    if let Some(mid) = t.mid {
                        change.stop_media(mid);
                    }
                    t.state = OutState::Stopping;
                }
                _ => {}
            }
        }
        match change.apply() {
            Some((offer, pending)) => {
                let revision = self.revision + 1;
                let mut sdp = sdp::crlf(&offer.to_sdp_string());
                if !self.paced {
                    // Nothing estimates this client's downstream, so it is not asked for
                    // transport-wide feedback on what we send it (`sdp::without_transport_cc`).
                    let ours: Vec<String> =
                        self.server_mids.iter().map(ToString::to_string).collect();
                    sdp = sdp::without_transport_cc(&sdp, &ours);
                }
                self.pending = Some((pending, revision, sdp.clone()));
                Some((revision, sdp))
            }
            None => {
                // Applied without a negotiation (or nothing to do).
                for t in &mut self.outgoing {
                    if t.state == OutState::Negotiating {
                        t.state = OutState::Open;
                    }
                }
                None
            }
        }
    }
}
