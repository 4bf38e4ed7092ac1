//! One WebRTC endpoint of the bench: a str0m `Rtc` on its own UDP socket that sends the synthetic
//! tracks (if it publishes) and counts what it receives. The server it talks to only changes the
//! signaling side channel ([`Side`]): vroom's WebSocket or Janus's HTTP API.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::clip::Clip;

/// What the receivers got, across all of them.
#[derive(Default)]
pub struct Received {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    /// Frames publishers handed to their WebRTC stack, so delivery can be checked against them.
    pub sent: AtomicU64,
}

/// What publishers send.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Bytes per VP8 frame (30 per second).
    pub video_bytes: usize,
    /// Bytes per Opus frame (50 per second).
    pub audio_bytes: usize,
    /// Video goes out in three simulcast layers.
    pub simulcast: bool,
    /// Real VP8 (or H.264) and Opus frames, sent in a loop instead of the synthetic payloads (their
    /// sizes are the clip's).
    pub clip: Option<Arc<Clip>>,
}

/// The rids of the simulcast layers, lowest first, and the share of the video bytes each carries.
pub const LAYERS: [&str; 3] = ["q", "h", "f"];
const LAYER_DIVISORS: [usize; 3] = [4, 2, 1];

/// The signaling a peer keeps up while media flows (heartbeats, renegotiations, keepalives).
pub trait Side: Send {
    /// Something the side channel has to act on.
    type Event: Send;
    /// Waits for the next event. Must be cancel-safe: it races the media loop.
    fn next(&mut self) -> impl Future<Output = anyhow::Result<Self::Event>> + Send;
    /// Acts on an event (not raced, so it may write to the server).
    fn handle(
        &mut self,
        event: Self::Event,
        rtc: &mut Rtc,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A str0m endpoint with its socket, before or after negotiation.
pub struct Peer {
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    /// The audio and video m-lines this peer sends on, if it publishes.
    pub media: Option<(Mid, Mid)>,
    received: Arc<Received>,
    /// Distinct m-lines media arrived on.
    streams_seen: HashSet<Mid>,
}

impl Peer {
    /// A new endpoint on `ip` with a host candidate.
    pub async fn bind(ip: IpAddr, received: Arc<Received>) -> anyhow::Result<Self> {
        let socket = client_socket(SocketAddr::new(ip, 0))?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp")?);
        Ok(Self {
            rtc,
            socket,
            local,
            media: None,
            received,
            streams_seen: HashSet::new(),
        })
    }

    /// An offer that sends an audio and a video track (stream ids named after `identity`), or that
    /// receives one of each when `publish` is false.
    pub fn offer(
        &mut self,
        identity: &str,
        publish: bool,
        simulcast: bool,
    ) -> anyhow::Result<(SdpOffer, SdpPendingOffer)> {
        let mut change = self.rtc.sdp_api();
        if publish {
            let a = change.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some("-".into()),
                Some(format!("{identity}-mic")),
                None,
            );
            let layers = simulcast.then(|| {
                let mut s = str0m::media::Simulcast::new();
                for rid in LAYERS {
                    s.add_send_layer(str0m::media::SimulcastLayer::new(rid));
                }
                s
            });
            let v = change.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some("-".into()),
                Some(format!("{identity}-cam")),
                layers,
            );
            self.media = Some((a, v));
        } else {
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
            change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        }
        change
            .apply()
            .ok_or_else(|| anyhow::anyhow!("str0m made no offer"))
    }

    /// Polls str0m until it wants a timeout; returns when.
    async fn drain(&mut self) -> anyhow::Result<Instant> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    self.socket.send_to(&t.contents, t.destination).await?;
                }
                Output::Event(Event::MediaData(d)) => {
                    self.streams_seen.insert(d.mid);
                    self.received.frames.fetch_add(1, Ordering::Relaxed);
                    self.received
                        .bytes
                        .fetch_add(d.data.len() as u64, Ordering::Relaxed);
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Runs media until an error: sends the synthetic tracks if this peer publishes, and bumps
    /// `ready` once media arrives on `expected_streams` distinct m-lines.
    pub async fn run<S: Side>(
        mut self,
        mut side: S,
        synthetic: Synthetic,
        ready: Arc<AtomicU64>,
        expected_streams: usize,
    ) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 2000];
        let start = Instant::now();
        let (mut next_audio, mut next_video) = (start, start);
        let (mut n_audio, mut n_video) = (0u64, 0u64);
        let mut counted = false;
        let payload_video = vec![0x10u8; synthetic.video_bytes];
        let payload_audio = vec![0xfcu8; synthetic.audio_bytes];
        loop {
            let timeout = self.drain().await?;
            if !counted && self.streams_seen.len() >= expected_streams {
                counted = true;
                ready.fetch_add(1, Ordering::Relaxed);
            }
            let mut deadline = timeout;
            if self.media.is_some() {
                deadline = deadline.min(next_audio).min(next_video);
            }
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, source) = r?;
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: self.local, contents });
                        self.rtc.handle_input(input)?;
                    }
                }
                event = side.next() => side.handle(event?, &mut self.rtc).await?,
                () = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    if let Some((audio, video)) = self.media {
                        if now >= next_audio {
                            n_audio += 1;
                            next_audio += Duration::from_millis(20);
                            let time = MediaTime::new(n_audio * 960, Frequency::FORTY_EIGHT_KHZ);
                            let payload = match &synthetic.clip {
                                Some(clip) => &clip.audio[(n_audio as usize - 1) % clip.audio.len()],
                                None => &payload_audio,
                            };
                            self.write(audio, now, time, payload, false)?;
                        } else if now >= next_video {
                            n_video += 1;
                            next_video += Duration::from_millis(33);
                            let time = MediaTime::from_90khz(n_video * 3000);
                            let payload = match &synthetic.clip {
                                Some(clip) => &clip.video[(n_video as usize - 1) % clip.video.len()].0,
                                None => &payload_video,
                            };
                            self.write(video, now, time, payload, synthetic.simulcast)?;
                        }
                    }
                    self.rtc.handle_input(Input::Timeout(Instant::now()))?;
                }
            }
        }
    }

    /// Writes one frame on `mid` (in each simulcast layer when `layered`), counted once as sent: a
    /// receiver gets one layer.
    fn write(
        &mut self,
        mid: Mid,
        now: Instant,
        time: MediaTime,
        data: &[u8],
        layered: bool,
    ) -> anyhow::Result<()> {
        let mut wrote = false;
        if layered {
            for (rid, divisor) in LAYERS.iter().zip(LAYER_DIVISORS) {
                let frame = &data[..(data.len() / divisor).max(1)];
                wrote |= write_frame(&mut self.rtc, mid, Some(rid), now, time, frame)?;
            }
        } else {
            wrote = write_frame(&mut self.rtc, mid, None, now, time, data)?;
        }
        if wrote {
            self.received.sent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Writes one frame on `mid` (in layer `rid`, if given) with its first negotiated payload type;
/// false before negotiation.
fn write_frame(
    rtc: &mut Rtc,
    mid: Mid,
    rid: Option<&str>,
    now: Instant,
    time: MediaTime,
    data: &[u8],
) -> anyhow::Result<bool> {
    let Some(writer) = rtc.writer(mid) else {
        return Ok(false);
    };
    // H.264 goes on a packetization-mode 1 payload type (its frames need FU-A); any other codec
    // on the first one.
    let pt = writer
        .payload_params()
        .find(|p| {
            let spec = p.spec();
            spec.codec != str0m::format::Codec::H264 || spec.format.packetization_mode == Some(1)
        })
        .map(str0m::format::PayloadParams::pt);
    let Some(pt) = pt else {
        return Ok(false);
    };
    let writer = match rid {
        Some(rid) => writer.rid(rid.into()),
        None => writer,
    };
    writer.write(pt, now, time, data.to_vec())?;
    Ok(true)
}

/// A client's UDP socket on `bind`, asking for [`crate::udp::CLIENT_RECV_BUFFER`] of receive buffer
/// (the kernel may grant less).
fn client_socket(bind: SocketAddr) -> anyhow::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(bind),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: without it the bench still runs, and its drops say what it cost.
    let _ = socket.set_recv_buffer_size(crate::udp::CLIENT_RECV_BUFFER);
    socket.bind(&bind.into())?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket.into())?)
}
