//! The Tokio side of the media server: one task owns the UDP socket and the [`SfuCore`], feeding it
//! datagrams, commands and timeouts, and carrying out what it asks (send datagrams, signal sessions).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vroom_domain::live::{MediaCommand, Subscription};
use vroom_domain::room::VideoCodec;
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};

use crate::MediaError;
use crate::core::{CoreConfig, CoreOutput, PcState, SfuCore, Signal};
use crate::tcp::{TcpEvent, TcpPeers};

/// Where the media server listens and what it announces.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// UDP address to bind (port 0: any free port).
    pub bind: SocketAddr,
    /// TCP address to listen on for ICE over TCP (port 0: any free port); `None`: UDP only.
    pub tcp_bind: Option<SocketAddr>,
    /// The address put in ICE candidates, for hosts behind NAT or bound to an unspecified address.
    /// Default: the bound address, or 127.0.0.1 when that is unspecified.
    pub announce_ip: Option<IpAddr>,
    /// Most bits per second of video sent to any one subscriber (`None`: no limit).
    pub max_subscriber_bitrate: Option<u64>,
}

/// A participant's peer connections and subscriptions, for a session that resumes.
type ResumeState = (Vec<PcState>, Vec<(TrackSid, String)>);

enum Command {
    Attach(ParticipantSid, mpsc::UnboundedSender<Signal>),
    Detach(ParticipantSid, mpsc::UnboundedSender<Signal>),
    Offer {
        participant: ParticipantSid,
        room: RoomSid,
        codecs: Vec<VideoCodec>,
        pc: String,
        revision: u64,
        sdp: String,
        reply: oneshot::Sender<Result<Option<String>, MediaError>>,
    },
    Answer {
        participant: ParticipantSid,
        pc: String,
        revision: u64,
        sdp: String,
    },
    Candidate {
        participant: ParticipantSid,
        pc: String,
        candidate: String,
    },
    Close {
        participant: ParticipantSid,
        pc: String,
    },
    Subscriptions {
        participant: ParticipantSid,
        subs: Vec<Subscription>,
    },
    Gone(ParticipantSid),
    Options(ParticipantSid, crate::MediaOptions),
    Published(ParticipantSid, Vec<(String, TrackSid)>),
    State {
        participant: ParticipantSid,
        reply: oneshot::Sender<ResumeState>,
    },
    Stats(oneshot::Sender<crate::MediaStats>),
}

/// A handle on the running media server. Cheap to clone.
#[derive(Clone)]
pub struct Media {
    tx: mpsc::UnboundedSender<Command>,
    public_addr: SocketAddr,
    tcp_addr: Option<SocketAddr>,
}

impl Media {
    /// Binds the UDP socket (and the TCP listener, if configured) and starts the media task; it
    /// runs until `stop` is cancelled.
    ///
    /// # Errors
    /// When a socket cannot be bound.
    pub async fn start(
        config: MediaConfig,
        stop: CancellationToken,
    ) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        let socket = UdpSocket::bind(config.bind).await?;
        let local = socket.local_addr()?;
        let ip = config.announce_ip.unwrap_or_else(|| {
            if local.ip().is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                local.ip()
            }
        });
        let public_addr = SocketAddr::new(ip, local.port());
        let (tcp_tx, tcp_rx) = mpsc::channel(1024);
        let tcp_addr = match config.tcp_bind {
            Some(bind) => {
                let listener = TcpListener::bind(bind).await?;
                let local = listener.local_addr()?;
                let tcp_addr = SocketAddr::new(ip, local.port());
                tracing::info!(%local, %tcp_addr, "media server listening (ICE over TCP)");
                tokio::spawn(crate::tcp::accept(listener, tcp_tx, stop.clone()));
                Some(tcp_addr)
            }
            None => None,
        };
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let core = SfuCore::new(CoreConfig {
            public_addr,
            tcp_addr,
            crypto,
            max_subscriber_bitrate: config.max_subscriber_bitrate,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tracing::info!(%local, %public_addr, "media server listening (UDP)");
        let task = tokio::spawn(run(socket, tcp_rx, core, rx, stop));
        Ok((
            Self {
                tx,
                public_addr,
                tcp_addr,
            },
            task,
        ))
    }

    /// The address clients send media to.
    #[must_use]
    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    /// The address clients reach the TCP listener at (ICE over TCP), when it is on.
    #[must_use]
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// Whether the media task still runs (it ends when stopped, or if it failed).
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// What the media server carries now and carried since it started; `None` once it stopped.
    pub async fn stats(&self) -> Option<crate::MediaStats> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Stats(reply));
        rx.await.ok()
    }

    fn send(&self, c: Command) {
        // A stopped media server has nobody to tell.
        let _ = self.tx.send(c);
    }

    /// Routes `participant`'s signals (server offers, subscriptions) to `tx`.
    pub fn attach(&self, participant: ParticipantSid, tx: mpsc::UnboundedSender<Signal>) {
        self.send(Command::Attach(participant, tx));
    }

    /// Stops routing signals to `tx` (if it is still the participant's).
    pub fn detach(&self, participant: ParticipantSid, tx: mpsc::UnboundedSender<Signal>) {
        self.send(Command::Detach(participant, tx));
    }

    /// The client's offer; the answer, or `None` when it is ignored.
    ///
    /// # Errors
    /// When the offer cannot be applied or the media server is gone.
    #[allow(clippy::too_many_arguments)]
    pub async fn offer(
        &self,
        participant: ParticipantSid,
        room: RoomSid,
        codecs: Vec<VideoCodec>,
        pc: String,
        revision: u64,
        sdp: String,
    ) -> Result<Option<String>, MediaError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Offer {
                participant,
                room,
                codecs,
                pc,
                revision,
                sdp,
                reply,
            })
            .map_err(|_| MediaError::Unavailable)?;
        rx.await.map_err(|_| MediaError::Unavailable)?
    }

    /// The client's answer to a server offer.
    pub fn answer(&self, participant: ParticipantSid, pc: String, revision: u64, sdp: String) {
        self.send(Command::Answer {
            participant,
            pc,
            revision,
            sdp,
        });
    }

    /// A trickled ICE candidate.
    pub fn candidate(&self, participant: ParticipantSid, pc: String, candidate: String) {
        self.send(Command::Candidate {
            participant,
            pc,
            candidate,
        });
    }

    /// What the participant's client asked for in `connect` (media signaling channels, bandwidth
    /// profile). Send before its first offer.
    pub fn options(&self, participant: ParticipantSid, options: crate::MediaOptions) {
        self.send(Command::Options(participant, options));
    }

    /// The tracks the participant publishes now: (client track id, SID).
    pub fn published(&self, participant: ParticipantSid, tracks: Vec<(String, TrackSid)>) {
        self.send(Command::Published(participant, tracks));
    }

    /// The client closed a peer connection.
    pub fn close(&self, participant: ParticipantSid, pc: String) {
        self.send(Command::Close { participant, pc });
    }

    /// Peer connections and subscriptions of a participant, for a session that resumes.
    pub async fn state(
        &self,
        participant: ParticipantSid,
    ) -> (Vec<PcState>, Vec<(TrackSid, String)>) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::State { participant, reply }).is_err() {
            return (Vec::new(), Vec::new());
        }
        rx.await.unwrap_or_default()
    }
}

impl vroom_rooms::MediaHooks for Media {
    fn apply(&self, _room: RoomSid, commands: Vec<MediaCommand>) {
        for c in commands {
            match c {
                MediaCommand::Subscriptions {
                    participant,
                    subscriptions,
                } => {
                    self.send(Command::Subscriptions {
                        participant,
                        subs: subscriptions,
                    });
                }
                MediaCommand::Gone { participant } => self.send(Command::Gone(participant)),
            }
        }
    }
}

async fn run(
    socket: UdpSocket,
    mut tcp_rx: mpsc::Receiver<TcpEvent>,
    mut core: SfuCore,
    mut rx: mpsc::UnboundedReceiver<Command>,
    stop: CancellationToken,
) {
    let mut sessions: HashMap<ParticipantSid, mpsc::UnboundedSender<Signal>> = HashMap::new();
    let mut tcp = TcpPeers::default();
    let mut buf = vec![0u8; 2000];
    loop {
        while let Some(out) = core.poll_output() {
            match out {
                CoreOutput::Transmit {
                    proto: Protocol::Tcp,
                    destination,
                    data,
                } => tcp.send(destination, data),
                CoreOutput::Transmit {
                    destination, data, ..
                } => {
                    if let Err(e) = socket.send_to(&data, destination).await {
                        tracing::debug!(error = %e, %destination, "media send failed");
                    }
                }
                CoreOutput::Signal(participant, signal) => {
                    if let Some(tx) = sessions.get(&participant) {
                        let _ = tx.send(signal);
                    }
                }
            }
        }
        let deadline = core
            .next_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => core.receive(Instant::now(), source, &buf[..n]),
                Err(e) => tracing::debug!(error = %e, "media receive failed"),
            },
            // The sender lives in the accept task, which ends only with `stop`.
            Some(event) = tcp_rx.recv() => {
                if let Some((source, data)) = tcp.on_event(event) {
                    core.receive_tcp(Instant::now(), source, &data);
                }
            }
            command = rx.recv() => {
                let Some(command) = command else { break };
                let now = Instant::now();
                match command {
                    Command::Attach(p, tx) => {
                        sessions.insert(p, tx);
                    }
                    Command::Detach(p, tx) => {
                        if sessions.get(&p).is_some_and(|t| t.same_channel(&tx)) {
                            sessions.remove(&p);
                        }
                    }
                    Command::Offer { participant, room, codecs, pc, revision, sdp, reply } => {
                        let _ = reply.send(core.offer(now, participant, room, &codecs, &pc, revision, &sdp));
                    }
                    Command::Answer { participant, pc, revision, sdp } => {
                        if let Err(e) = core.answer(now, participant, &pc, revision, &sdp) {
                            tracing::info!(error = %e, %participant, "a client's answer could not be applied");
                        }
                    }
                    Command::Candidate { participant, pc, candidate } => core.add_candidate(participant, &pc, &candidate),
                    Command::Close { participant, pc } => core.close(participant, &pc),
                    Command::Subscriptions { participant, subs } => core.set_subscriptions(now, participant, &subs),
                    Command::Gone(participant) => {
                        core.remove_participant(participant);
                        sessions.remove(&participant);
                    }
                    Command::Options(participant, options) => core.set_options(participant, options),
                    Command::Published(participant, tracks) => core.set_published(participant, &tracks),
                    Command::State { participant, reply } => {
                        let _ = reply.send(core.state(participant));
                    }
                    Command::Stats(reply) => {
                        let mut stats = core.stats(now);
                        stats.tcp_connections = u64::try_from(tcp.len()).unwrap_or(u64::MAX);
                        let _ = reply.send(stats);
                    }
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => core.handle_timeout(Instant::now()),
            () = stop.cancelled() => break,
        }
    }
}
