//! The parts of `vroom-bench` (see its binary): a str0m WebRTC endpoint sending synthetic or real
//! media ([`peer`], [`clip`]), and the drivers that join it to vroom ([`vroom`]) or to Janus's
//! VideoRoom ([`janus`]), what it measures of recording ([`recording`]) and of UDP drops ([`udp`]). vroom's integration tests use them too, as a publisher of real Opus and
//! VP8 over RTP.

pub mod clip;
pub mod janus;
pub mod peer;
pub mod recording;
pub mod udp;
pub mod vroom;

use std::time::Duration;

use anyhow::{Context, bail};

/// A free TCP port on 127.0.0.1 (for the server under test to listen on).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits (up to 10 s) until something listens on TCP `port` of 127.0.0.1.
///
/// # Errors
/// When nothing does by then.
pub async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not start listening on {port}")
}

/// CPU time (user + system) of a process so far, from /proc (clock ticks of 10 ms).
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
