//! Network quality levels (0–5, as twilio-video.js shows them) from what a client reports (loss,
//! round-trip time, jitter), the loss the SFU sees on what it sends, and what the SFU knows of its
//! downstream (how much of the video it asked for
//! fits the bandwidth it has). The level is the worst of the figures present; with nothing known it
//! is 5. Sans-IO and pure.

use crate::msp::ClientNetwork;

/// Thresholds: a figure at or better than `THRESHOLDS[k]` earns level 5 - k.
const LOSS: [f64; 4] = [0.01, 0.03, 0.06, 0.12];
const RTT_SECONDS: [f64; 4] = [0.2, 0.3, 0.5, 1.0];
const JITTER_SECONDS: [f64; 4] = [0.05, 0.1, 0.2, 0.4];
/// Share of the wanted video bitrate that fits the subscriber's bandwidth.
const FIT: [f64; 4] = [0.95, 0.7, 0.45, 0.25];

fn below(value: f64, thresholds: [f64; 4]) -> u8 {
    match thresholds.iter().position(|t| value <= *t) {
        // At most 4.
        Some(k) => 5 - u8::try_from(k).unwrap_or(4),
        None => 1,
    }
}

fn above(value: f64, thresholds: [f64; 4]) -> u8 {
    match thresholds.iter().position(|t| value >= *t) {
        Some(k) => 5 - u8::try_from(k).unwrap_or(4),
        None => 1,
    }
}

/// The level of a participant: from its last report, the loss the SFU sees on what it sends, and
/// the share of its wanted video that fits its bandwidth (`allocated / wanted`).
pub(crate) fn level(
    network: Option<&ClientNetwork>,
    server_loss: Option<f64>,
    fit: Option<f64>,
) -> u8 {
    let mut level = 5;
    let loss = network
        .and_then(|n| n.fraction_lost)
        .into_iter()
        .chain(server_loss)
        .filter(|l| l.is_finite())
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
    if let Some(loss) = loss {
        level = level.min(below(loss, LOSS));
    }
    if let Some(rtt) = network.and_then(|n| n.rtt).filter(|r| r.is_finite()) {
        // Browsers give seconds; a value this large can only be milliseconds.
        let rtt = if rtt > 20.0 { rtt / 1000.0 } else { rtt };
        level = level.min(below(rtt, RTT_SECONDS));
    }
    if let Some(jitter) = network.and_then(|n| n.jitter).filter(|j| j.is_finite()) {
        level = level.min(below(jitter, JITTER_SECONDS));
    }
    if let Some(fit) = fit.filter(|f| f.is_finite()) {
        level = level.min(above(fit, FIT));
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_fall_with_loss_delay_and_bandwidth() {
        assert_eq!(level(None, None, None), 5);
        let n = |loss: f64, rtt: f64| ClientNetwork {
            fraction_lost: Some(loss),
            rtt: Some(rtt),
            ..ClientNetwork::default()
        };
        assert_eq!(level(Some(&n(0.0, 0.05)), None, Some(1.0)), 5);
        assert_eq!(level(Some(&n(0.05, 0.05)), None, Some(1.0)), 3);
        assert_eq!(level(Some(&n(0.0, 0.6)), None, None), 2);
        assert_eq!(level(Some(&n(0.0, 600.0)), None, None), 2, "milliseconds");
        assert_eq!(level(None, Some(0.5), None), 1);
        assert_eq!(level(None, None, Some(0.5)), 3);
        assert_eq!(level(None, None, Some(0.1)), 1);
        let jittery = ClientNetwork {
            jitter: Some(0.15),
            ..ClientNetwork::default()
        };
        assert_eq!(level(Some(&jittery), None, None), 3);
    }
}
