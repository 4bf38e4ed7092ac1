//! TURN over TCP and over TLS (RFC 8656 §3.1): the `turn` crate's server reads and writes through
//! a datagram [`Conn`], so a listener of stream connections is adapted into one. Each accepted
//! connection is known by its remote address (as a UDP client is); a reader task cuts its byte
//! stream into STUN messages and ChannelData messages (their own lengths say where they end, and
//! ChannelData is padded to four bytes over streams, §12.5) and queues them for the server; a writer
//! task writes what the server sends to that address. TLS is rustls terminating the stream before
//! the same framing (with the certificate as its files are now, `tls`).
//!
//! A relay belongs to the connection it was allocated over: when that connection closes, its
//! relays close too (RFC 8656 §3.1: a TCP client's allocation ends with its connection) rather than
//! lingering until their lifetime lapses. The crate's relay generator is not told which client it
//! allocates for, but the server's read loop handles one message at a time, to its end, before it
//! reads the next: so the sender of the message being handled ([`StreamConn::current_client`]) is
//! the client an allocation is being made for.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use webrtc_util::Conn;

/// Connections open at once per listener; more are closed at once, so idle connections cannot
/// exhaust file descriptors.
const MAX_CONNECTIONS: usize = 1024;
/// A new connection must send its first message (after the TLS handshake, if any) this soon.
const FIRST_MESSAGE: Duration = Duration::from_secs(10);
/// A connection silent this long is closed. Clients refresh their allocation (10 minutes by
/// default) and permissions (5 minutes) before they lapse, so only dead connections reach it.
const IDLE: Duration = Duration::from_secs(15 * 60);
/// Messages waiting to be written to one connection; past that they are dropped, as UDP would.
const WRITE_QUEUE: usize = 512;
/// Messages from every connection waiting for the server's read loop.
const READ_QUEUE: usize = 1024;

/// What a connection starts as: plain TCP, or TLS to terminate first.
#[derive(Clone)]
pub(crate) enum Security {
    Plain,
    Tls(Arc<super::tls::Certificate>),
}

/// An open connection, as the server's side of the adapter sees it.
struct Peer {
    /// What to write to it.
    tx: mpsc::Sender<Vec<u8>>,
    /// Cancelled when it closes.
    gone: CancellationToken,
}

type Peers = Arc<Mutex<HashMap<SocketAddr, Peer>>>;

/// A listener of stream connections seen by the TURN server as one datagram socket.
pub(crate) struct StreamConn {
    local: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    writers: Peers,
    /// The sender of the message the server's read loop is handling.
    handling: Mutex<Option<SocketAddr>>,
}

impl StreamConn {
    /// Starts accepting on `listener` until `stop`.
    pub(crate) fn start(
        listener: TcpListener,
        security: Security,
        label: &'static str,
        stop: CancellationToken,
    ) -> io::Result<Arc<Self>> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(READ_QUEUE);
        let conn = Arc::new(Self {
            local,
            inbound: tokio::sync::Mutex::new(rx),
            writers: Arc::default(),
            handling: Mutex::new(None),
        });
        tokio::spawn(accept(
            listener,
            security,
            label,
            tx,
            Arc::clone(&conn.writers),
            stop,
        ));
        Ok(conn)
    }

    /// The client whose message the server is handling (and so whose allocation is being made),
    /// with a token cancelled when its connection closes; `None` if it is already closed.
    pub(crate) fn current_client(&self) -> Option<(SocketAddr, CancellationToken)> {
        let client = (*lock(&self.handling))?;
        let gone = lock(&self.writers).get(&client)?.gone.clone();
        Some((client, gone))
    }
}

async fn accept(
    listener: TcpListener,
    security: Security,
    label: &'static str,
    inbound: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    writers: Peers,
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
                tracing::debug!(error = %e, transport = label, "TURN: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(transport = label, "TURN: too many connections, one refused");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let security = security.clone();
        let inbound = inbound.clone();
        let writers = Arc::clone(&writers);
        let stop = stop.clone();
        tokio::spawn(async move {
            match security {
                Security::Plain => serve(stream, remote, &inbound, &writers, &stop).await,
                Security::Tls(certificate) => {
                    let acceptor = certificate.acceptor().await;
                    match tokio::time::timeout(FIRST_MESSAGE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve(tls, remote, &inbound, &writers, &stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TURN: TLS handshake failed"),
                        Err(_) => tracing::debug!("TURN: TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Reads one STUN or ChannelData message, or `None` when the stream ends or is not TURN.
async fn read_message<R: AsyncRead + Unpin>(read: &mut R) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    read.read_exact(&mut head).await.ok()?;
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let rest = match head[0] >> 6 {
        // STUN: a 20-byte header (4 read), then `length` bytes of attributes.
        0b00 => 16 + length,
        // ChannelData (channel numbers 0x4000–0x7FFF): the data, padded to four bytes.
        0b01 => length.div_ceil(4) * 4,
        _ => return None,
    };
    let mut message = vec![0u8; 4 + rest];
    message[..4].copy_from_slice(&head);
    read.read_exact(&mut message[4..]).await.ok()?;
    Some(message)
}

/// One connection: messages in are queued for the server, what the server sends it goes out.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    remote: SocketAddr,
    inbound: &mpsc::Sender<(Vec<u8>, SocketAddr)>,
    writers: &Mutex<HashMap<SocketAddr, Peer>>,
    stop: &CancellationToken,
) {
    let (mut read, write) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let gone = CancellationToken::new();
    lock(writers).insert(
        remote,
        Peer {
            tx,
            gone: gone.clone(),
        },
    );
    let writer = async move {
        let mut write = BufWriter::new(write);
        while let Some(data) = rx.recv().await {
            if write.write_all(&data).await.is_err() {
                return;
            }
            // Write out what is queued together, then flush once.
            if rx.is_empty() && write.flush().await.is_err() {
                return;
            }
        }
    };
    let reader = async move {
        let mut limit = FIRST_MESSAGE;
        loop {
            let Ok(Some(message)) = tokio::time::timeout(limit, read_message(&mut read)).await
            else {
                return;
            };
            limit = IDLE;
            if inbound.send((message, remote)).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
        () = stop.cancelled() => {}
    }
    lock(writers).remove(&remote);
    // Its relays close (MediaOnly watches this).
    gone.cancel();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these locks (inserts and removes only).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn gone() -> webrtc_util::Error {
    webrtc_util::Error::Other("the TURN client's connection is closed".into())
}

#[async_trait]
impl Conn for StreamConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "a listener does not connect".into(),
        ))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        // Only the server's read loop receives, so the lock is never contended.
        let mut inbound = self.inbound.lock().await;
        loop {
            let (message, from) = inbound.recv().await.ok_or_else(gone)?;
            // The server reads into a datagram-sized buffer; a longer message could not have come
            // over UDP either.
            if message.len() <= buf.len() {
                buf[..message.len()].copy_from_slice(&message);
                *lock(&self.handling) = Some(from);
                return Ok((message.len(), from));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(gone())
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let tx = lock(&self.writers)
            .get(&target)
            .map(|p| p.tx.clone())
            .ok_or_else(gone)?;
        if tx.try_send(buf.to_vec()).is_err() {
            tracing::trace!("TURN: a message dropped (the connection's queue is full)");
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN message and a padded ChannelData message split across writes come out whole; a
    /// stream that is neither ends the connection.
    #[tokio::test]
    async fn messages_are_cut_by_their_own_lengths() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let mut stun = vec![0x00, 0x01, 0x00, 0x04];
        stun.extend_from_slice(&[7u8; 16]);
        stun.extend_from_slice(&[1, 2, 3, 4]);
        let channel = [0x40, 0x00, 0x00, 0x03, b'a', b'b', b'c', 0];
        let mut bytes = stun.clone();
        bytes.extend_from_slice(&channel);
        let second = bytes.split_off(10);
        client.write_all(&bytes).await.unwrap();
        let writing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.write_all(&second).await.unwrap();
            client.write_all(&[0xC0, 0, 0, 0]).await.unwrap();
            client
        });
        assert_eq!(read_message(&mut server).await.unwrap(), stun);
        assert_eq!(read_message(&mut server).await.unwrap(), channel);
        assert_eq!(read_message(&mut server).await, None);
        drop(writing.await.unwrap());
    }
}
