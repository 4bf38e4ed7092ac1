//! The Tokio side of the media server: media *workers*, each a task owning one UDP socket and one
//! [`SfuCore`], feeding it datagrams, commands and timeouts, and carrying out what it asks (send
//! datagrams, signal sessions). Rooms are spread over the workers (one per core by default) by their
//! SID, and every peer connection of a room lives on its room's worker, so forwarding never crosses
//! workers. Each worker has its own UDP port: with a fixed `--rtc-udp-port P`, workers take
//! P, P+1, …

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vroom_domain::live::{MediaCommand, Subscription};
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};

use crate::core::{CoreConfig, CoreOutput, ResumeState, SfuCore, Signal};
use crate::tcp::{TcpEvent, TcpPeers};
use crate::{MediaError, Offer};

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
    /// The embedded TURN server, relaying to this media server only; `None`: no TURN.
    pub turn: Option<crate::TurnConfig>,
    /// Media workers (each a task with its own UDP socket and port); 0: one per core.
    pub workers: usize,
    /// Bytes of kernel buffer asked for each worker's UDP socket, each way
    /// ([`DEFAULT_SOCKET_BUFFER`]); see [`media_socket`] for what the kernel grants.
    pub socket_buffer: usize,
    /// The media store's folder, where recordings are written; `None`: recordings fail.
    pub media_dir: Option<std::path::PathBuf>,
    /// How long a recorded track may bring no media before its publisher, if it asked, is warned
    /// ([`crate::RECORDING_MEDIA_TIMEOUT`], Twilio's 30 s; not a setting: only tests shorten it).
    pub recording_media_timeout: Duration,
}

impl MediaConfig {
    /// How many workers run: as set, or one per available core.
    #[must_use]
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }
}

enum Command {
    Attach(ParticipantSid, mpsc::UnboundedSender<Signal>),
    Detach(ParticipantSid, mpsc::UnboundedSender<Signal>),
    Offer {
        offer: Offer,
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
    Record(vroom_domain::recording::RecordTrack),
    StopRecording(vroom_domain::sid::RecordingSid),
}

/// Where a worker's recording output goes.
#[derive(Clone)]
struct RecordSink {
    /// The writer thread, when there is a media store.
    writer: Option<std::sync::mpsc::Sender<crate::RecordIo>>,
    /// Recordings that could not even start are reported here.
    done: mpsc::UnboundedSender<crate::RecordingDone>,
}

impl RecordSink {
    fn send(&self, io: crate::RecordIo) {
        match &self.writer {
            Some(w) => {
                let _ = w.send(io);
            }
            None => {
                if let crate::RecordIo::Close { recording, .. } = io {
                    let _ = self.done.send(crate::RecordingDone {
                        recording,
                        outcome: crate::RecordingOutcome::Failed("no media store".into()),
                    });
                }
            }
        }
    }
}

/// One media worker: its task's command queue and the address clients send it media to.
#[derive(Clone)]
struct Worker {
    tx: mpsc::UnboundedSender<Command>,
    public_addr: SocketAddr,
    tcp_addr: Option<SocketAddr>,
    /// The bound UDP address (how this host reaches the worker).
    local_addr: SocketAddr,
}

/// A handle on the running media server. Cheap to clone.
#[derive(Clone)]
pub struct Media {
    workers: Arc<[Worker]>,
    /// The worker of each participant with media, from its room.
    placement: Arc<std::sync::Mutex<HashMap<ParticipantSid, usize>>>,
    /// The embedded TURN server, relaying to the workers only.
    turn: Option<crate::Turn>,
    /// Finished recordings, until the server takes the receiver.
    finished: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<crate::RecordingDone>>>>,
}

impl Media {
    /// Binds the workers' UDP sockets and starts their tasks; they run until `stop` is cancelled.
    ///
    /// # Errors
    /// When a socket cannot be bound.
    pub async fn start(
        config: MediaConfig,
        stop: CancellationToken,
    ) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        let count = config.worker_count();
        let mut workers = Vec::with_capacity(count);
        let mut tasks = Vec::with_capacity(count);
        let (done, finished) = mpsc::unbounded_channel();
        let sink = RecordSink {
            writer: config
                .media_dir
                .clone()
                .map(|dir| crate::recorder::spawn(dir, done.clone()))
                .transpose()?,
            done,
        };
        for i in 0..count {
            let udp = nth_port(config.bind, i)?;
            let tcp = config.tcp_bind.map(|b| nth_port(b, i)).transpose()?;
            let (worker, task) =
                Self::start_worker(&config, udp, tcp, sink.clone(), stop.clone()).await?;
            workers.push(worker);
            tasks.push(task);
        }
        let turn = match &config.turn {
            Some(t) => {
                let media: Vec<(SocketAddr, SocketAddr)> = workers
                    .iter()
                    .map(|w: &Worker| (w.public_addr, w.local_addr))
                    .collect();
                Some(crate::Turn::start(t, &media, stop.clone()).await?)
            }
            None => None,
        };
        let task = tokio::spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        Ok((
            Self {
                workers: workers.into(),
                placement: Arc::default(),
                turn,
                finished: Arc::new(std::sync::Mutex::new(Some(finished))),
            },
            task,
        ))
    }

    async fn start_worker(
        config: &MediaConfig,
        bind: SocketAddr,
        tcp_bind: Option<SocketAddr>,
        sink: RecordSink,
        stop: CancellationToken,
    ) -> std::io::Result<(Worker, tokio::task::JoinHandle<()>)> {
        let socket = media_socket(bind, config.socket_buffer)?;
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
        let tcp_addr = match tcp_bind {
            Some(bind) => {
                let listener = TcpListener::bind(bind).await?;
                let local = listener.local_addr()?;
                let tcp_addr = SocketAddr::new(ip, local.port());
                tracing::info!(%local, %tcp_addr, "media worker listening (ICE over TCP)");
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
            recording_media_timeout: config.recording_media_timeout,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tracing::info!(%local, %public_addr, "media worker listening (UDP)");
        let task = tokio::spawn(run(socket, tcp_rx, core, rx, sink, stop));
        Ok((
            Worker {
                tx,
                public_addr,
                tcp_addr,
                local_addr: local,
            },
            task,
        ))
    }

    /// The worker of `room`: a hash of its SID.
    fn worker_of_room(&self, room: RoomSid) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        room.hash(&mut h);
        // The remainder of a division by the worker count fits a usize.
        #[allow(clippy::cast_possible_truncation)]
        let i = (h.finish() % self.workers.len() as u64) as usize;
        i
    }

    /// Records `participant` as in `room`; returns its worker.
    fn place(&self, participant: ParticipantSid, room: RoomSid) -> usize {
        let w = self.worker_of_room(room);
        if let Ok(mut p) = self.placement.lock() {
            p.insert(participant, w);
        }
        w
    }

    /// The worker of `participant` (the first one if it has none yet).
    fn worker_of(&self, participant: ParticipantSid) -> &Worker {
        let w = self
            .placement
            .lock()
            .ok()
            .and_then(|p| p.get(&participant).copied())
            .unwrap_or(0);
        &self.workers[w]
    }

    /// The recordings the media server finishes, as they finish (once: later calls get `None`).
    #[must_use]
    pub fn take_finished_recordings(
        &self,
    ) -> Option<mpsc::UnboundedReceiver<crate::RecordingDone>> {
        self.finished.lock().ok()?.take()
    }

    /// The address clients send media to, of the first worker.
    #[must_use]
    pub fn public_addr(&self) -> SocketAddr {
        self.workers[0].public_addr
    }

    /// The address clients reach the first worker's TCP listener at (ICE over TCP), when it is on.
    #[must_use]
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.workers[0].tcp_addr
    }

    /// The embedded TURN server, when it is on.
    #[must_use]
    pub fn turn(&self) -> Option<&crate::Turn> {
        self.turn.as_ref()
    }

    /// Every worker's media address.
    #[must_use]
    pub fn public_addrs(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.public_addr).collect()
    }

    /// Whether every media task still runs (they end when stopped, or if one failed).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.workers.iter().all(|w| !w.tx.is_closed())
    }

    /// What the media server carries now and carried since it started, summed over its workers;
    /// `None` once a worker stopped.
    pub async fn stats(&self) -> Option<crate::MediaStats> {
        let mut total = crate::MediaStats::default();
        for w in self.workers.iter() {
            let (reply, rx) = oneshot::channel();
            let _ = w.tx.send(Command::Stats(reply));
            total.add(&rx.await.ok()?);
        }
        Some(total)
    }

    fn send(&self, participant: ParticipantSid, c: Command) {
        // A stopped media server has nobody to tell.
        let _ = self.worker_of(participant).tx.send(c);
    }

    fn send_all(&self, c: impl Fn() -> Command) {
        for w in self.workers.iter() {
            let _ = w.tx.send(c());
        }
    }

    /// Routes `participant`'s signals (server offers, subscriptions) to `tx`.
    pub fn attach(&self, participant: ParticipantSid, tx: mpsc::UnboundedSender<Signal>) {
        self.send_all(|| Command::Attach(participant, tx.clone()));
    }

    /// Stops routing signals to `tx` (if it is still the participant's).
    pub fn detach(&self, participant: ParticipantSid, tx: mpsc::UnboundedSender<Signal>) {
        self.send_all(|| Command::Detach(participant, tx.clone()));
    }

    /// The client's offer; the answer, or `None` when it is ignored.
    ///
    /// # Errors
    /// When the offer cannot be applied or the media server is gone.
    pub async fn offer(&self, offer: Offer) -> Result<Option<String>, MediaError> {
        let (reply, rx) = oneshot::channel();
        let w = self.place(offer.participant, offer.room);
        self.workers[w]
            .tx
            .send(Command::Offer { offer, reply })
            .map_err(|_| MediaError::Unavailable)?;
        rx.await.map_err(|_| MediaError::Unavailable)?
    }

    /// The client's answer to a server offer.
    pub fn answer(&self, participant: ParticipantSid, pc: String, revision: u64, sdp: String) {
        self.send(
            participant,
            Command::Answer {
                participant,
                pc,
                revision,
                sdp,
            },
        );
    }

    /// A trickled ICE candidate.
    pub fn candidate(&self, participant: ParticipantSid, pc: String, candidate: String) {
        self.send(
            participant,
            Command::Candidate {
                participant,
                pc,
                candidate,
            },
        );
    }

    /// What the participant's client in `room` asked for in `connect` (media signaling channels,
    /// bandwidth profile). Send before its first offer.
    pub fn options(
        &self,
        participant: ParticipantSid,
        room: RoomSid,
        options: crate::MediaOptions,
    ) {
        let w = self.place(participant, room);
        let _ = self.workers[w]
            .tx
            .send(Command::Options(participant, options));
    }

    /// The tracks the participant publishes now: (client track id, SID).
    pub fn published(&self, participant: ParticipantSid, tracks: Vec<(String, TrackSid)>) {
        self.send(participant, Command::Published(participant, tracks));
    }

    /// The client closed a peer connection.
    pub fn close(&self, participant: ParticipantSid, pc: String) {
        self.send(participant, Command::Close { participant, pc });
    }

    /// Peer connections, subscriptions and media warnings of a participant, for a session that
    /// resumes.
    pub async fn state(&self, participant: ParticipantSid) -> ResumeState {
        let (reply, rx) = oneshot::channel();
        if self
            .worker_of(participant)
            .tx
            .send(Command::State { participant, reply })
            .is_err()
        {
            return ResumeState::default();
        }
        rx.await.unwrap_or_default()
    }
}

impl vroom_rooms::MediaHooks for Media {
    fn apply(&self, room: RoomSid, commands: Vec<MediaCommand>) {
        let worker = &self.workers[self.worker_of_room(room)];
        for c in commands {
            match c {
                MediaCommand::Subscriptions {
                    participant,
                    subscriptions,
                } => {
                    let _ = worker.tx.send(Command::Subscriptions {
                        participant,
                        subs: subscriptions,
                    });
                }
                MediaCommand::Gone { participant } => {
                    let _ = worker.tx.send(Command::Gone(participant));
                    if let Ok(mut p) = self.placement.lock() {
                        p.remove(&participant);
                        crate::shrink::shrink_map(&mut p);
                    }
                }
                MediaCommand::Record(t) => {
                    let _ = worker.tx.send(Command::Record(t));
                }
                MediaCommand::StopRecording { recording } => {
                    let _ = worker.tx.send(Command::StopRecording(recording));
                }
            }
        }
    }
}

/// Worker `i`'s address: port `p + i` of `bind`, or any free port (0) for each.
fn nth_port(bind: SocketAddr, i: usize) -> std::io::Result<SocketAddr> {
    let port = match bind.port() {
        0 => 0,
        p => u16::try_from(usize::from(p) + i).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("port {p} + {i} (media worker {i}) is beyond 65535"),
            )
        })?,
    };
    Ok(SocketAddr::new(bind.ip(), port))
}

async fn run(
    socket: UdpSocket,
    mut tcp_rx: mpsc::Receiver<TcpEvent>,
    mut core: SfuCore,
    mut rx: mpsc::UnboundedReceiver<Command>,
    sink: RecordSink,
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
                CoreOutput::Record(io) => sink.send(io),
            }
        }
        let deadline = core
            .next_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    core.receive(Instant::now(), source, &buf[..n]);
                    // Datagrams already waiting are read before the subscribers they were
                    // forwarded to are served (at the next timeout, `timers.rs`), so that one
                    // serving sends the batch.
                    for _ in 1..RECV_BATCH {
                        let Ok((n, source)) = socket.try_recv_from(&mut buf) else { break };
                        core.receive(Instant::now(), source, &buf[..n]);
                    }
                }
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
                            crate::shrink::shrink_map(&mut sessions);
                        }
                    }
                    Command::Offer { offer, reply } => {
                        let _ = reply.send(core.offer(now, &offer));
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
                        crate::shrink::shrink_map(&mut sessions);
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
                    Command::Record(t) => core.start_recording(now, &t),
                    Command::StopRecording(recording) => core.stop_recording(recording),
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => core.handle_timeout(Instant::now()),
            () = stop.cancelled() => break,
        }
    }
    // Stopping: every recording still running gets a finished, playable file.
    core.stop_all_recordings();
    while let Some(out) = core.poll_output() {
        if let CoreOutput::Record(io) = out {
            sink.send(io);
        }
    }
}

/// Most datagrams a worker reads at once from its socket before it serves what is due.
const RECV_BATCH: usize = 64;

/// Kernel buffer asked for a media worker's UDP socket by default, each way: 16 MiB. Every peer of
/// a worker shares the one socket, so the kernel's default (≈ 208 KiB) overflows, and drops packets,
/// when the worker is descheduled for a few milliseconds at tens of thousands of packets per second
/// (a room of 500 subscribers sends the worker their RTCP and the publisher's media at once).
pub const DEFAULT_SOCKET_BUFFER: usize = 16 << 20;

/// A worker's UDP socket with `buffer` bytes of kernel buffer asked for each way.
///
/// The kernel caps `SO_RCVBUF`/`SO_SNDBUF` at `net.core.rmem_max`/`wmem_max` (often 208 KiB, here
/// 4 MiB); a process with `CAP_NET_ADMIN` may go beyond them with `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE`,
/// which is tried first. Without it the capped size is taken, and what was granted is logged.
fn media_socket(bind: SocketAddr, buffer: usize) -> std::io::Result<UdpSocket> {
    use nix::sys::socket::{setsockopt, sockopt};
    use std::os::fd::AsRawFd;

    let socket = socket2::Socket::new(
        socket2::Domain::for_address(bind),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    let fd = socket.as_raw_fd();
    if setsockopt(fd, sockopt::RcvBufForce, &buffer).is_err()
        && let Err(e) = socket.set_recv_buffer_size(buffer)
    {
        tracing::warn!(error = %e, "cannot enlarge the media socket's receive buffer");
    }
    if setsockopt(fd, sockopt::SndBufForce, &buffer).is_err()
        && let Err(e) = socket.set_send_buffer_size(buffer)
    {
        tracing::warn!(error = %e, "cannot enlarge the media socket's send buffer");
    }
    // Linux reports twice what it grants (the other half is its own bookkeeping).
    let granted = socket.recv_buffer_size().unwrap_or(0) / 2;
    if granted < buffer {
        tracing::info!(
            asked = buffer,
            granted,
            "the media socket's receive buffer is smaller than asked: raise net.core.rmem_max, \
             or give vroom CAP_NET_ADMIN"
        );
    }
    socket.bind(&bind.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}
