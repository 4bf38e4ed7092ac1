//! Sharing a subscriber's downstream bandwidth among the video tracks it receives.
//!
//! Each track has a priority (the subscriber's `setPriority`, else the publisher's, raised for the
//! dominant speaker when the profile says so), whether the subscriber wants it at all (render hints),
//! the size it is drawn at, and the layers its publisher sends now with their bitrates. The track's
//! *target* is the smallest layer at least as tall as it is drawn (the highest when no size is
//! known). With a budget, tracks are served in priority order: first each gets its lowest layer if
//! that fits (else it is switched off, unless switching off is disabled; the first track is never
//! switched off for bandwidth), then each is raised
//! towards its target while the budget lasts: in `grid` mode one layer per track per round, in
//! `collaboration` and `presentation` the higher priorities first all the way. Pure: the caller
//! applies the result.

use vroom_domain::track::TrackPriority;

/// One layer a publisher sends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerOffer {
    /// Its index among the track's layers (0 is the lowest).
    pub index: usize,
    /// Bits per second it carries.
    pub bitrate: u64,
    /// Its frame height, when a keyframe showed it.
    pub height: Option<u32>,
}

/// What one track asks of the allocator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackWant {
    pub priority: TrackPriority,
    /// False when the subscriber switched it off.
    pub enabled: bool,
    /// The height it is drawn at.
    pub render_height: Option<u32>,
    /// The layers sent now, lowest first; empty when none is known yet.
    pub layers: Vec<LayerOffer>,
}

/// What each track gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// Per track: the layer index it gets, or `None` when switched off.
    pub layers: Vec<Option<usize>>,
    /// Bits per second of every track at its target.
    pub wanted: u64,
    /// Bits per second of what was given.
    pub given: u64,
}

fn target(want: &TrackWant) -> Option<usize> {
    if want.layers.is_empty() {
        return None;
    }
    let tall_enough = want.render_height.and_then(|h| {
        want.layers
            .iter()
            .position(|l| l.height.is_some_and(|lh| lh >= h))
    });
    Some(tall_enough.unwrap_or(want.layers.len() - 1))
}

/// How what is left after every track's lowest layer is shared (the bandwidth profile's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raise {
    /// `grid`: every track goes up one layer per round, in priority order, so equal tiles stay
    /// alike.
    RoundRobin,
    /// `collaboration` and `presentation`: the highest-priority tracks go all the way to their
    /// target before the next one is raised.
    PriorityFirst,
}

/// Shares `budget` (bits per second; `None`: no limit) among `wants`.
pub(crate) fn allocate(
    budget: Option<u64>,
    switch_off: bool,
    raise: Raise,
    wants: &[TrackWant],
) -> Allocation {
    let targets: Vec<Option<usize>> = wants.iter().map(target).collect();
    let wanted = wants
        .iter()
        .zip(&targets)
        .filter(|(w, _)| w.enabled)
        .filter_map(|(w, t)| t.map(|t| w.layers[t].bitrate))
        .sum();
    // Positions into `layers` of each track.
    let mut at: Vec<Option<usize>> = vec![None; wants.len()];
    let Some(budget) = budget else {
        let layers: Vec<Option<usize>> = wants
            .iter()
            .zip(&targets)
            .map(|(w, t)| {
                if w.enabled {
                    t.map(|t| w.layers[t].index).or(Some(0))
                } else {
                    None
                }
            })
            .collect();
        return Allocation {
            layers,
            wanted,
            given: wanted,
        };
    };
    let mut order: Vec<usize> = (0..wants.len()).filter(|i| wants[*i].enabled).collect();
    // Highest priority first; ties keep the subscriber's order.
    order.sort_by(|a, b| wants[*b].priority.cmp(&wants[*a].priority));
    let mut left = budget;
    for (n, &i) in order.iter().enumerate() {
        let w = &wants[i];
        let Some(lowest) = w.layers.first() else {
            continue;
        };
        if lowest.bitrate <= left {
            left -= lowest.bitrate;
            at[i] = Some(0);
        } else if !switch_off || n == 0 {
            // Nothing is switched off to make room for nothing: the first track stays on even when
            // its lowest layer alone is over the budget.
            left = 0;
            at[i] = Some(0);
        }
    }
    // Raise tracks towards their targets: one layer per track per round (round robin), or each
    // track as far as it goes before the next (priority first).
    let mut raised = true;
    while raised {
        raised = false;
        for &i in &order {
            let (Some(pos), Some(t)) = (at[i], targets[i]) else {
                continue;
            };
            let layers = &wants[i].layers;
            let mut pos = pos;
            while pos < t {
                let extra = layers[pos + 1].bitrate.saturating_sub(layers[pos].bitrate);
                if extra > left {
                    break;
                }
                left -= extra;
                pos += 1;
                raised = true;
                if raise == Raise::RoundRobin {
                    break;
                }
            }
            at[i] = Some(pos);
        }
        if raise == Raise::PriorityFirst {
            break;
        }
    }
    let given = wants
        .iter()
        .zip(&at)
        .filter_map(|(w, p)| p.map(|p| w.layers[p].bitrate))
        .sum::<u64>()
        .min(budget);
    let layers = wants
        .iter()
        .zip(&at)
        .map(|(w, p)| {
            if !w.enabled {
                None
            } else if w.layers.is_empty() {
                // Nothing sent yet: nothing to share, keep it on.
                Some(0)
            } else {
                p.map(|p| w.layers[p].index)
            }
        })
        .collect();
    Allocation {
        layers,
        wanted,
        given,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(priority: TrackPriority) -> TrackWant {
        TrackWant {
            priority,
            enabled: true,
            render_height: None,
            layers: vec![
                LayerOffer {
                    index: 0,
                    bitrate: 100_000,
                    height: Some(180),
                },
                LayerOffer {
                    index: 1,
                    bitrate: 300_000,
                    height: Some(360),
                },
                LayerOffer {
                    index: 2,
                    bitrate: 1_000_000,
                    height: Some(720),
                },
            ],
        }
    }

    #[test]
    fn without_a_budget_every_track_gets_its_target() {
        let mut small = three(TrackPriority::Standard);
        small.render_height = Some(200);
        let a = allocate(
            None,
            true,
            Raise::PriorityFirst,
            &[three(TrackPriority::Low), small],
        );
        assert_eq!(a.layers, vec![Some(2), Some(1)]);
        assert_eq!(a.wanted, 1_300_000);
    }

    #[test]
    fn a_budget_serves_priorities_first_and_switches_off_what_does_not_fit() {
        let wants = [three(TrackPriority::Low), three(TrackPriority::High)];
        let a = allocate(Some(150_000), true, Raise::PriorityFirst, &wants);
        assert_eq!(a.layers, vec![None, Some(0)], "only the high one fits");
        let a = allocate(Some(50_000), true, Raise::PriorityFirst, &wants);
        assert_eq!(a.layers, vec![None, Some(0)], "the first one stays on");
        assert_eq!(a.given, 50_000, "what is given counts up to the budget");
        let a = allocate(Some(450_000), true, Raise::PriorityFirst, &wants);
        assert_eq!(a.layers, vec![Some(0), Some(1)]);
        assert_eq!(a.given, 400_000);
        let a = allocate(Some(150_000), false, Raise::PriorityFirst, &wants);
        assert_eq!(a.layers, vec![Some(0), Some(0)], "switch-off disabled");
    }

    #[test]
    fn grid_raises_tiles_alike_and_presentation_raises_the_first_all_the_way() {
        let wants = [
            three(TrackPriority::Standard),
            three(TrackPriority::Standard),
        ];
        // 200 kbit/s for the two lowest layers, 1 Mbit/s left: two middles (400) or one top (900).
        let grid = allocate(Some(1_200_000), true, Raise::RoundRobin, &wants);
        assert_eq!(grid.layers, vec![Some(1), Some(1)]);
        let presentation = allocate(Some(1_200_000), true, Raise::PriorityFirst, &wants);
        assert_eq!(presentation.layers, vec![Some(2), Some(0)]);
    }

    #[test]
    fn disabled_tracks_and_tracks_not_sent_yet() {
        let mut off = three(TrackPriority::High);
        off.enabled = false;
        let new = TrackWant {
            layers: Vec::new(),
            ..three(TrackPriority::Low)
        };
        let a = allocate(Some(10), true, Raise::PriorityFirst, &[off, new]);
        assert_eq!(a.layers, vec![None, Some(0)]);
    }
}
