//! ICE over TCP, the passive side (RFC 6544): one listener; each accepted connection carries one
//! client's STUN, DTLS, RTP and RTCP as RFC 4571 frames (a 16-bit big-endian length, then the
//! packet).
//!
//! The media task owns the core, so connections do no ICE themselves: each has a reader task that
//! turns frames into [`TcpEvent::Frame`]s for the media task and a writer task that frames what the
//! media task hands it. A connection is known by its remote address, which is also what the core
//! sees as the packet's source, so the core's `Transmit`s find their way back to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Connections open at once; more are refused (closed at once) so a flood of idle connections
/// cannot exhaust file descriptors.
const MAX_CONNECTIONS: usize = 1024;
/// A connection that sends nothing for this long is closed. Browsers check connectivity every few
/// seconds (ICE consent freshness, RFC 7675), so only dead or idle connections reach it.
const IDLE: Duration = Duration::from_secs(30);
/// Frames waiting to be written to one connection; past that, frames are dropped as UDP would
/// drop them (the congestion control above copes with loss, not with unbounded queues).
const WRITE_QUEUE: usize = 512;

/// What the connections tell the media task.
pub(crate) enum TcpEvent {
    /// A client connected; frames for it go to the sender.
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
    /// A packet arrived from `SocketAddr`.
    Frame(SocketAddr, Vec<u8>),
    /// The connection from `SocketAddr` ended.
    Closed(SocketAddr),
}

/// The media task's side: the writers of the open connections.
#[derive(Default)]
pub(crate) struct TcpPeers {
    writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

impl TcpPeers {
    /// Applies an event; returns the packet of a frame, with its source.
    pub(crate) fn on_event(&mut self, event: TcpEvent) -> Option<(SocketAddr, Vec<u8>)> {
        match event {
            TcpEvent::Opened(addr, tx) => {
                self.writers.insert(addr, tx);
                None
            }
            TcpEvent::Frame(addr, data) => Some((addr, data)),
            TcpEvent::Closed(addr) => {
                self.writers.remove(&addr);
                None
            }
        }
    }

    /// Queues `data` for the connection from `destination` (dropped when it is gone or full).
    pub(crate) fn send(&self, destination: SocketAddr, data: Vec<u8>) {
        match self.writers.get(&destination) {
            Some(tx) => {
                if tx.try_send(data).is_err() {
                    tracing::trace!(%destination, "media over TCP: frame dropped (queue full)");
                }
            }
            None => tracing::trace!(%destination, "media over TCP: no connection"),
        }
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.writers.len()
    }
}

/// Accepts connections until `stop`, each reporting to `events`.
pub(crate) async fn accept(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => return,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::debug!(error = %e, "media over TCP: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!("media over TCP: too many connections, one refused");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        if events.send(TcpEvent::Opened(remote, tx)).await.is_err() {
            return;
        }
        let events = events.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve(stream, remote, rx, &events, &stop).await;
            let _ = events.send(TcpEvent::Closed(remote)).await;
            drop(permit);
        });
    }
}

/// One connection: frames in become events, packets queued for it go out framed.
async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
    events: &mpsc::Sender<TcpEvent>,
    stop: &CancellationToken,
) {
    let (mut read, write) = stream.into_split();
    let writer = async move {
        let mut write = BufWriter::new(write);
        while let Some(data) = rx.recv().await {
            // The core never hands out more than a datagram's worth, far below 64 KiB.
            let Ok(len) = u16::try_from(data.len()) else {
                continue;
            };
            if write.write_all(&len.to_be_bytes()).await.is_err()
                || write.write_all(&data).await.is_err()
            {
                return;
            }
            // Write out what is queued together, then flush once.
            if rx.is_empty() && write.flush().await.is_err() {
                return;
            }
        }
    };
    let reader = async move {
        loop {
            let mut len = [0u8; 2];
            match tokio::time::timeout(IDLE, read.read_exact(&mut len)).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::debug!(%remote, "media over TCP: idle connection closed");
                    return;
                }
            }
            let mut data = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if !matches!(
                tokio::time::timeout(IDLE, read.read_exact(&mut data)).await,
                Ok(Ok(_))
            ) {
                return;
            }
            if events.send(TcpEvent::Frame(remote, data)).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
        () = stop.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames split across reads and several frames in one read come out whole, in order, and what
    /// the media task sends comes back framed.
    #[tokio::test]
    async fn frames_in_and_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, tx, stop.clone()));
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut peers = TcpPeers::default();
        let remote = match rx.recv().await.unwrap() {
            TcpEvent::Opened(a, t) => {
                peers.on_event(TcpEvent::Opened(a, t));
                a
            }
            _ => panic!("the first event is the connection"),
        };
        assert_eq!(remote, client.local_addr().unwrap());

        client.write_all(&[0, 3, b'a']).await.unwrap();
        client.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(b"bc\x00\x01d").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            if let Some(frame) = peers.on_event(rx.recv().await.unwrap()) {
                got.push(frame);
            }
        }
        assert_eq!(
            got,
            vec![(remote, b"abc".to_vec()), (remote, b"d".to_vec())]
        );

        peers.send(remote, b"xyz".to_vec());
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"\x00\x03xyz");

        drop(client);
        loop {
            let e = rx.recv().await.unwrap();
            let closed = matches!(e, TcpEvent::Closed(a) if a == remote);
            peers.on_event(e);
            if closed {
                break;
            }
        }
        assert_eq!(peers.len(), 0);
        stop.cancel();
    }
}
