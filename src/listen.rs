//! The main listener's accept loop: HTTP/1.1 (REST, pages, the signaling upgrade) with a cap on
//! connections, in total and per client address, and a deadline for a request's headers.
//!
//! axum's own `serve` offers neither, so a client could hold any number of connections open by
//! sending a header a byte at a time (slowloris). Here every accepted socket is counted while it
//! lives (an upgraded WebSocket included: the count travels inside the socket), one over a cap is
//! answered with a Twilio-style error and closed, and hyper drops a connection whose request
//! headers have not all arrived within the deadline.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The listener's limits; 0 turns a cap off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at once, WebSockets included.
    pub max_connections: usize,
    /// Open connections at once from one client address.
    pub max_connections_per_address: usize,
    /// How long a client has to send a request's headers (also the longest a kept-alive
    /// connection waits idle for its next request).
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_address: 0,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Connections closed since the start (the memory trim counts departures).
    closed: u64,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection, counted until dropped.
struct Admitted {
    counts: Arc<Mutex<Counts>>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // A poisoned lock means a panic elsewhere mid-update; the numbers are still usable.
        let mut c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        c.total = c.total.saturating_sub(1);
        c.closed += 1;
        if let Some(n) = c.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                c.by_address.remove(&self.address);
            }
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Total,
    Address,
}

fn admit(
    counts: &Arc<Mutex<Counts>>,
    limits: &ConnectionLimits,
    address: IpAddr,
) -> Result<Admitted, Refused> {
    let mut c = counts.lock().unwrap_or_else(PoisonError::into_inner);
    if limits.max_connections > 0 && c.total >= limits.max_connections {
        return Err(Refused::Total);
    }
    let mine = c.by_address.get(&address).copied().unwrap_or(0);
    if limits.max_connections_per_address > 0 && mine >= limits.max_connections_per_address {
        return Err(Refused::Address);
    }
    c.total += 1;
    c.by_address.insert(address, mine + 1);
    Ok(Admitted {
        counts: Arc::clone(counts),
        address,
    })
}

/// A socket that carries its place in the counts.
struct Counted {
    tcp: TcpStream,
    _admitted: Admitted,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// The answer to a connection over a cap: Twilio's error body, then the connection closes.
fn refusal(why: Refused) -> Vec<u8> {
    let (status, code, message) = match why {
        Refused::Total => (
            "503 Service Unavailable",
            20503,
            "Service Unavailable: the server has as many connections as it accepts",
        ),
        Refused::Address => (
            "429 Too Many Requests",
            20429,
            "Too Many Requests: too many connections from this address",
        ),
    };
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status[..3].parse::<u16>().unwrap_or(503),
    })
    .to_string();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `stop`; then stops accepting, lets each connection finish its
/// request in flight, and returns once all have closed (upgraded WebSockets are their owners'
/// business).
///
/// `release` is called with the allocator's trim once the counts settle after a wave of
/// departures, for what else can be given back then (the store's page caches).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    release: Release,
    stop: CancellationToken,
) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let tracker = TaskTracker::new();
    tracker.spawn(trim_after_departures(
        Arc::clone(&counts),
        release,
        stop.clone(),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (tcp, peer): (TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Signaling answers in several small frames (`welcome`, then `connected`): with Nagle's
        // algorithm the second waits for the client's delayed ACK (≈ 40 ms per join), and REST
        // responses written in two parts pay the same. Every accepted socket sends at once.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
        let admitted = match admit(&counts, &limits, peer.ip()) {
            Ok(a) => a,
            Err(why) => {
                metrics::counter!("vroom_connections_refused_total", "reason" => match why {
                    Refused::Total => "total",
                    Refused::Address => "address",
                })
                .increment(1);
                tracker.spawn(async move {
                    let mut tcp = tcp;
                    let answer = async {
                        tcp.write_all(&refusal(why)).await?;
                        tcp.shutdown().await
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
                });
                continue;
            }
        };
        let io = TokioIo::new(Counted {
            tcp,
            _admitted: admitted,
        });
        let connection = http
            .serve_connection(io, TowerToHyperService::new(app.clone()))
            .with_upgrades();
        let stop = stop.clone();
        tracker.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = stop.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    // Closed now, not when the last connection ends: a client connecting during the drain is
    // refused at once (and tries another node) instead of waiting in the kernel's backlog for a
    // node that will never serve it.
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// What else gives memory back at the trim's quiet moment (see [`serve`]).
pub type Release =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Once a second, asks the allocator to give back what departed connections freed when the counts
/// have settled after a wave of them (see [`crate::memory`]), after `release` gave back what it
/// can.
async fn trim_after_departures(
    counts: Arc<Mutex<Counts>>,
    release: Release,
    stop: CancellationToken,
) {
    let mut policy = crate::memory::TrimPolicy::new(crate::memory::TRIM_AFTER_CLOSED);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let (open, closed) = {
            let c = counts.lock().unwrap_or_else(PoisonError::into_inner);
            (c.total, c.closed)
        };
        if policy.observe(open, closed) {
            // First what the store frees, so that the trim returns its pages too.
            release().await;
            // Then what the workers' allocator caches pin: each empties its cache at its next
            // park, which comes at once on a server this quiet (this task's own worker parks
            // during the wait).
            crate::memory::ask_workers_to_compact();
            tokio::time::sleep(Duration::from_millis(100)).await;
            // It holds the allocator's locks for milliseconds: off the async workers.
            let released = tokio::task::spawn_blocking(crate::memory::release_free_memory)
                .await
                .unwrap_or(false);
            metrics::counter!("vroom_memory_trims_total").increment(1);
            tracing::debug!(open, released, "returned freed memory to the system");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_in_total_and_per_address_and_free_on_drop() {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let limits = ConnectionLimits {
            max_connections: 3,
            max_connections_per_address: 2,
            header_read_timeout: Duration::from_secs(1),
        };
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let a1 = admit(&counts, &limits, a).unwrap();
        let _a2 = admit(&counts, &limits, a).unwrap();
        assert_eq!(admit(&counts, &limits, a).err(), Some(Refused::Address));
        let _b1 = admit(&counts, &limits, b).unwrap();
        assert_eq!(admit(&counts, &limits, b).err(), Some(Refused::Total));
        drop(a1);
        assert!(admit(&counts, &limits, b).is_ok());
        let body = String::from_utf8(refusal(Refused::Address)).unwrap();
        assert!(body.starts_with("HTTP/1.1 429") && body.contains("\"code\":20429"));
    }
}
