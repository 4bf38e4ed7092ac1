//! Dominant speaker detection from the audio levels publishers put in their packets (RFC 6464's
//! `ssrc-audio-level` header extension: 0 is the loudest, 127 silence, in -dBov).
//!
//! Each participant gets a loudness score: its loudest level over the last window. A participant speaks while its score is above a
//! threshold. The dominant speaker changes only when someone else speaks clearly louder for a while
//! (or the current one fell silent and another speaks), so it does not flap between people talking
//! over each other. When nobody speaks, the last dominant speaker stays. Sans-IO: levels and times
//! come in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use vroom_domain::sid::ParticipantSid;

/// Levels count for this long (longer than the gaps between a talker's bursts).
const WINDOW: Duration = Duration::from_millis(1200);
/// A score (0 silence … 127 loudest) at or above this speaks: about -90 dBov (anything but the
/// digital silence of a muted or disabled track).
const SPEAKING: f64 = 37.0;
/// A challenger must be this much louder than the dominant speaker …
const MARGIN: f64 = 6.0;
/// … for this long, before it takes over.
const HOLD: Duration = Duration::from_millis(1000);

#[derive(Debug, Default)]
struct Voice {
    /// (arrival, loudness 0–127) of the packets in the window.
    levels: Vec<(Instant, u8)>,
}

impl Voice {
    /// The loudest level in the window: speech comes in bursts (and the test devices' audio is a
    /// short beep a second), so a mean would call a talker with pauses silent.
    fn score(&self, now: Instant) -> f64 {
        self.levels
            .iter()
            .filter(|(t, _)| now.saturating_duration_since(*t) <= WINDOW)
            .map(|(_, l)| f64::from(*l))
            .fold(0.0, f64::max)
    }
}

/// The dominant speaker of one room.
#[derive(Debug, Default)]
pub(crate) struct SpeakerDetector {
    voices: HashMap<ParticipantSid, Voice>,
    dominant: Option<ParticipantSid>,
    /// Who is louder than the dominant speaker, since when.
    challenger: Option<(ParticipantSid, Instant)>,
}

impl SpeakerDetector {
    /// A packet of `participant`'s audio with RFC 6464's `level` (-dBov as str0m gives it: 0 loudest,
    /// -127 silence) arrived.
    pub fn level(&mut self, participant: ParticipantSid, level: i8, now: Instant) {
        let loudness = u8::try_from(127 - i16::from(level).unsigned_abs().min(127)).unwrap_or(0);
        let voice = self.voices.entry(participant).or_default();
        voice
            .levels
            .retain(|(t, _)| now.saturating_duration_since(*t) <= WINDOW);
        voice.levels.push((now, loudness));
    }

    /// The participant left: it can no longer be the dominant speaker.
    pub fn remove(&mut self, participant: ParticipantSid) {
        self.voices.remove(&participant);
        if self.dominant == Some(participant) {
            self.dominant = None;
        }
        if self.challenger.is_some_and(|(p, _)| p == participant) {
            self.challenger = None;
        }
    }

    /// The dominant speaker now, recomputed; `Some` when it changed.
    pub fn update(&mut self, now: Instant) -> Option<ParticipantSid> {
        let scores: Vec<(ParticipantSid, f64)> = self
            .voices
            .iter()
            .map(|(p, v)| (*p, v.score(now)))
            .collect();
        let loudest = scores
            .iter()
            .filter(|(_, s)| *s >= SPEAKING)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .copied();
        let Some((candidate, candidate_score)) = loudest else {
            self.challenger = None;
            return None;
        };
        let current_score = self
            .dominant
            .and_then(|d| scores.iter().find(|(p, _)| *p == d))
            .map_or(0.0, |(_, s)| *s);
        let takes_over = match self.dominant {
            None => true,
            Some(d) if d == candidate => {
                self.challenger = None;
                false
            }
            // The dominant speaker fell silent: whoever speaks now takes over.
            Some(_) if current_score < SPEAKING => true,
            Some(_) if candidate_score >= current_score + MARGIN => match self.challenger {
                Some((p, since)) if p == candidate => now.saturating_duration_since(since) >= HOLD,
                _ => {
                    self.challenger = Some((candidate, now));
                    false
                }
            },
            Some(_) => {
                self.challenger = None;
                false
            }
        };
        if takes_over {
            self.dominant = Some(candidate);
            self.challenger = None;
            return Some(candidate);
        }
        None
    }

    /// The dominant speaker, if anyone has spoken.
    pub fn dominant(&self) -> Option<ParticipantSid> {
        self.dominant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut SpeakerDetector, p: ParticipantSid, level: i8, from: Instant, ms: u64) {
        for k in 0..ms / 20 {
            d.level(p, level, from + Duration::from_millis(k * 20));
        }
    }

    #[test]
    fn the_one_who_speaks_becomes_dominant_and_a_louder_one_takes_over_after_a_while() {
        let t0 = Instant::now();
        let (a, b) = (
            ParticipantSid::from_bytes([1; 16]),
            ParticipantSid::from_bytes([2; 16]),
        );
        let mut d = SpeakerDetector::default();
        feed(&mut d, a, -30, t0, 500);
        feed(&mut d, b, -127, t0, 500);
        assert_eq!(d.update(t0 + Duration::from_millis(500)), Some(a));
        assert_eq!(d.update(t0 + Duration::from_millis(520)), None, "no change");
        // b speaks louder: not at once …
        let t1 = t0 + Duration::from_millis(500);
        feed(&mut d, a, -40, t1, 2000);
        feed(&mut d, b, -10, t1, 2000);
        assert_eq!(d.update(t1 + Duration::from_millis(1500)), None);
        // … but after the hold.
        assert_eq!(d.update(t1 + Duration::from_millis(2000)), None);
        assert_eq!(d.update(t1 + Duration::from_millis(2600)), Some(b));
        assert_eq!(d.dominant(), Some(b));
    }

    #[test]
    fn silence_keeps_the_last_speaker_and_a_new_voice_takes_over_a_silent_one() {
        let t0 = Instant::now();
        let (a, b) = (
            ParticipantSid::from_bytes([1; 16]),
            ParticipantSid::from_bytes([2; 16]),
        );
        let mut d = SpeakerDetector::default();
        feed(&mut d, a, -20, t0, 1000);
        assert_eq!(d.update(t0 + Duration::from_millis(1000)), Some(a));
        let t1 = t0 + Duration::from_millis(1000);
        feed(&mut d, a, -127, t1, 2000);
        feed(&mut d, b, -127, t1, 2000);
        assert_eq!(d.update(t1 + Duration::from_millis(2000)), None);
        assert_eq!(d.dominant(), Some(a), "nobody speaks: a stays");
        let t2 = t1 + Duration::from_millis(2000);
        feed(&mut d, b, -50, t2, 1500);
        feed(&mut d, a, -127, t2, 1500);
        assert_eq!(d.update(t2 + Duration::from_millis(1500)), Some(b));
        d.remove(b);
        assert_eq!(d.dominant(), None);
    }
}
