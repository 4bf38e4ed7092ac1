//! Video layouts of compositions (Twilio's "Specifying Video Layouts") and the plan of one
//! composition: which recordings appear where, and when, on the composed timeline.
//!
//! A layout is a set of regions, each a rectangle of the video with a z order, the video sources
//! it shows (track names with `*` wildcards, or track, recording or participant SIDs, minus the
//! excluded ones) and a grid of cells those sources fill. A region shows at most `max_columns` ×
//! `max_rows` sources at a time, less `cells_excluded`; `reuse` says what a source that finds
//! every cell taken does: `none`, it is not shown; `show_oldest`, it waits for the first cell to
//! free and is then shown live; `show_newest`, it takes the cell of the oldest source shown.
//!
//! As Twilio does, the grid is laid out again whenever the set of sources shown changes: the
//! region's time is cut into segments in which that set is constant, and each segment has its
//! own grid, sized for the sources it shows (one alone fills the region, two are side by side,
//! three or four share a 2×2 grid, …). A source gets one placement per segment, merged with the
//! next when its cell does not move.

use crate::composition::{CompositionSpec, Resolution, SpecError};
use crate::sid::{ParticipantSid, RecordingSid, TrackSid};
use crate::track::TrackKind;

/// Cells a region may have at most (Twilio's 16 columns by 16 rows).
const MAX_SIDE: u32 = 16;

/// What a region does with a source that finds every cell taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reuse {
    /// The source is not shown.
    None,
    /// It waits for the first cell to free (the default).
    ShowOldest,
    /// It takes the cell of the oldest source shown.
    ShowNewest,
}

impl Reuse {
    /// Twilio's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ShowOldest => "show_oldest",
            Self::ShowNewest => "show_newest",
        }
    }

    /// Parses Twilio's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::ShowOldest, Self::ShowNewest]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One region of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Its name in the layout (`grid`, `main`, `pip`, …).
    pub name: String,
    /// Video sources it shows.
    pub video_sources: Vec<String>,
    /// Video sources it leaves out.
    pub video_sources_excluded: Vec<String>,
    /// What a source that finds every cell taken does.
    pub reuse: Reuse,
    /// Left edge.
    pub x_pos: u32,
    /// Top edge.
    pub y_pos: u32,
    /// Drawing order: higher is drawn over lower.
    pub z_pos: i32,
    /// Width; 0 reaches the right edge of the video.
    pub width: u32,
    /// Height; 0 reaches the bottom edge.
    pub height: u32,
    /// Most columns of its grid; 0 is Twilio's 16.
    pub max_columns: u32,
    /// Most rows; 0 is 16.
    pub max_rows: u32,
    /// Cells (numbered from 0, row by row) left empty.
    pub cells_excluded: Vec<u32>,
}

impl Region {
    /// A region covering the whole video showing `sources` in a grid, every other field its
    /// default.
    #[must_use]
    pub fn grid(name: &str, sources: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            video_sources: sources,
            video_sources_excluded: Vec::new(),
            reuse: Reuse::ShowOldest,
            x_pos: 0,
            y_pos: 0,
            z_pos: 0,
            width: 0,
            height: 0,
            max_columns: 0,
            max_rows: 0,
            cells_excluded: Vec::new(),
        }
    }

    /// Its rectangle in a video of `res`: (x, y, width, height).
    fn rect(&self, res: Resolution) -> (u32, u32, u32, u32) {
        let w = if self.width == 0 {
            res.width.saturating_sub(self.x_pos)
        } else {
            self.width
        };
        let h = if self.height == 0 {
            res.height.saturating_sub(self.y_pos)
        } else {
            self.height
        };
        (self.x_pos, self.y_pos, w, h)
    }

    fn capacity(&self) -> usize {
        let side = |n: u32| if n == 0 { MAX_SIDE } else { n } as usize;
        (side(self.max_columns) * side(self.max_rows)).saturating_sub(self.excluded_count())
    }

    fn excluded_count(&self) -> usize {
        let mut cells = self.cells_excluded.clone();
        cells.sort_unstable();
        cells.dedup();
        cells.len()
    }
}

/// A composition's video layout: its regions, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoLayout {
    /// The regions.
    pub regions: Vec<Region>,
}

impl VideoLayout {
    /// Checks every region against Twilio's bounds in a video of `res`.
    ///
    /// # Errors
    /// `VideoLayout`, naming the region and what is wrong.
    pub fn validate(&self, res: Resolution) -> Result<(), SpecError> {
        if self.regions.len() > 32 {
            return Err(SpecError::new("VideoLayout", "at most 32 regions"));
        }
        for r in &self.regions {
            let bad =
                |why: &str| SpecError::new("VideoLayout", format!("region '{}': {why}", r.name));
            if r.name.is_empty()
                || r.name.len() > 64
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(SpecError::new(
                    "VideoLayout",
                    "a region name is 1 to 64 letters, digits, '_' or '-'",
                ));
            }
            if r.x_pos >= res.width || r.y_pos >= res.height {
                return Err(bad("x_pos and y_pos must lie inside the resolution"));
            }
            let (x, y, w, h) = r.rect(res);
            if x + w > res.width || y + h > res.height {
                return Err(bad("it must fit inside the resolution"));
            }
            if w < 2 || h < 2 {
                return Err(bad("width and height must be at least 2 pixels"));
            }
            if r.max_columns > MAX_SIDE || r.max_rows > MAX_SIDE {
                return Err(bad("max_columns and max_rows are at most 16"));
            }
            if !(-99..=99).contains(&r.z_pos) {
                return Err(bad("z_pos must be between -99 and 99"));
            }
            if r.cells_excluded.iter().any(|c| *c >= MAX_SIDE * MAX_SIDE) {
                return Err(bad("cells_excluded names cells 0 to 255"));
            }
            if r.video_sources
                .iter()
                .chain(&r.video_sources_excluded)
                .any(|s| s.is_empty() || s.len() > 128)
            {
                return Err(bad(
                    "a video source is a track name or SID of 1 to 128 characters",
                ));
            }
        }
        Ok(())
    }
}

/// One recording a composition may use, with its span in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The recording.
    pub recording: RecordingSid,
    /// Its track.
    pub track_sid: TrackSid,
    /// Its publisher.
    pub participant_sid: ParticipantSid,
    /// Its track's name.
    pub track_name: String,
    /// Audio or video.
    pub kind: TrackKind,
    /// When its media starts.
    pub start_ms: i64,
    /// When its media ends.
    pub end_ms: i64,
}

/// Whether `pattern` names `source`: its track name (with `*` matching any run of characters),
/// or exactly its recording, track or participant SID.
#[must_use]
pub fn names(pattern: &str, source: &Source) -> bool {
    glob(pattern, &source.track_name)
        || pattern == source.recording.to_string()
        || pattern == source.track_sid.to_string()
        || pattern == source.participant_sid.to_string()
}

fn selected(include: &[String], exclude: &[String], s: &Source) -> bool {
    include.iter().any(|p| names(p, s)) && !exclude.iter().any(|p| names(p, s))
}

/// `*` matches any run of characters (also none); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A video source drawn in a cell, for a span of the composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index of the source in the list given to [`plan`].
    pub source: usize,
    /// The cell: left, top, width, height (the video is scaled to fit, centred).
    pub cell: (u32, u32, u32, u32),
    /// Drawing order.
    pub z: i32,
    /// Shown from (milliseconds from the composition's start).
    pub from_ms: i64,
    /// Until.
    pub to_ms: i64,
    /// How far into its source's media the placement begins: 0 when it begins with the source,
    /// more for a later segment, or for a source that waited for a cell (`show_oldest`), which
    /// is shown live from then, not replayed from its start.
    pub media_ms: i64,
}

/// An audio source mixed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPart {
    /// Index of the source in the list given to [`plan`].
    pub source: usize,
    /// Where its media starts (milliseconds from the composition's start).
    pub from_ms: i64,
}

/// What one composition draws and mixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The composition's start, epoch milliseconds.
    pub start_ms: i64,
    /// Its length.
    pub duration_ms: i64,
    /// The video, in drawing order (lowest z first).
    pub video: Vec<Placement>,
    /// The audio.
    pub audio: Vec<AudioPart>,
    /// Whether the composition has a video stream.
    pub has_video: bool,
}

/// The plan of `spec` over `sources` (the room's completed recordings) in a room that lasted
/// `room` (epoch milliseconds, start and end). `None` when no source is selected: nothing to
/// compose.
#[must_use]
pub fn plan(spec: &CompositionSpec, sources: &[Source], room: (i64, i64)) -> Option<Plan> {
    let audio: Vec<usize> = (0..sources.len())
        .filter(|&i| {
            sources[i].kind == TrackKind::Audio
                && selected(
                    &spec.audio_sources,
                    &spec.audio_sources_excluded,
                    &sources[i],
                )
        })
        .collect();
    // Each video source goes to the first region that selects it.
    let mut taken = vec![false; sources.len()];
    let mut per_region: Vec<Vec<usize>> = Vec::new();
    for r in &spec.video_layout.regions {
        let mut mine: Vec<usize> = (0..sources.len())
            .filter(|&i| {
                !taken[i]
                    && sources[i].kind == TrackKind::Video
                    && selected(&r.video_sources, &r.video_sources_excluded, &sources[i])
            })
            .collect();
        mine.sort_by_key(|&i| (sources[i].start_ms, sources[i].recording.to_string()));
        for &i in &mine {
            taken[i] = true;
        }
        per_region.push(mine);
    }
    let used: Vec<usize> = audio
        .iter()
        .copied()
        .chain(per_region.iter().flatten().copied())
        .collect();
    if used.is_empty() {
        return None;
    }
    let timeline = if spec.trim {
        Timeline::of_media(
            used.iter()
                .map(|&i| (sources[i].start_ms, sources[i].end_ms)),
        )
    } else {
        Timeline::whole(room)
    };
    let mut video = Vec::new();
    for (r, mine) in spec.video_layout.regions.iter().zip(&per_region) {
        video.extend(region_placements(
            r,
            mine,
            sources,
            spec.resolution,
            &timeline,
        ));
    }
    video.retain(|p| p.to_ms > p.from_ms);
    video.sort_by_key(|p| p.z);
    Some(Plan {
        start_ms: timeline.start_ms(),
        duration_ms: timeline.duration_ms(),
        audio: audio
            .into_iter()
            .map(|i| AudioPart {
                source: i,
                from_ms: timeline.at(sources[i].start_ms),
            })
            .collect(),
        has_video: !spec.video_layout.regions.is_empty(),
        video,
    })
}

/// The spans of room time a composition shows, back to back: the whole room, or (trimmed) only
/// the spans where some selected media exists, so a gap where nobody published is cut out. Every
/// source lies within one span (a gap is a time no source covers), so within a source the
/// composition's clock runs with the room's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Timeline {
    /// Epoch milliseconds, start and end, in order, not touching.
    spans: Vec<(i64, i64)>,
}

impl Timeline {
    fn whole((start, end): (i64, i64)) -> Self {
        Self {
            spans: vec![(start, end.max(start))],
        }
    }

    /// The union of `media` intervals (at least one).
    fn of_media(media: impl Iterator<Item = (i64, i64)>) -> Self {
        let mut all: Vec<(i64, i64)> = media.map(|(a, b)| (a, b.max(a))).collect();
        all.sort_unstable();
        let mut spans: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match spans.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => spans.push((a, b)),
            }
        }
        Self { spans }
    }

    fn start_ms(&self) -> i64 {
        self.spans.first().map_or(0, |s| s.0)
    }

    fn duration_ms(&self) -> i64 {
        self.spans.iter().map(|(a, b)| b - a).sum()
    }

    /// Where room time `t` falls in the composition: the spans before it, then its offset in its
    /// own span (a time in a gap, which no source has, maps to the next span's start).
    fn at(&self, t: i64) -> i64 {
        let mut before = 0;
        for &(a, b) in &self.spans {
            if t <= b {
                return before + (t - a).max(0);
            }
            before += b - a;
        }
        before
    }
}

/// A cell: left, top, width, height.
type Cell = (u32, u32, u32, u32);

/// The placements of one region: who is shown when (by its reuse policy, over slots that stand
/// for its cells), then one grid per segment in which the set of shown sources is constant.
fn region_placements(
    r: &Region,
    mine: &[usize],
    sources: &[Source],
    res: Resolution,
    timeline: &Timeline,
) -> Vec<Placement> {
    let shown = shown_spans(r, mine, sources);
    // Segment boundaries: every time a source starts or stops being shown.
    let mut cuts: Vec<i64> = shown.iter().flat_map(|s| [s.1, s.2]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    // Placements in room time, each merged into its source's previous one when that ends where
    // it begins in the same cell.
    let mut out: Vec<(usize, Cell, i64, i64)> = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Shown throughout [a, b), in slot order: a source that takes over a freed slot is
        // drawn where the one it follows was, if the grid keeps its size.
        let mut here: Vec<&(usize, i64, i64, usize)> =
            shown.iter().filter(|s| s.1 <= a && s.2 >= b).collect();
        here.sort_by_key(|s| s.3);
        for (s, cell) in here.iter().zip(grid_cells(r, here.len(), res)) {
            match out
                .iter_mut()
                .rev()
                .find(|p| p.0 == s.0 && p.3 == a && p.1 == cell)
            {
                Some(p) => p.3 = b,
                None => out.push((s.0, cell, a, b)),
            }
        }
    }
    out.into_iter()
        .map(|(source, cell, from, to)| Placement {
            source,
            cell,
            z: r.z_pos,
            from_ms: timeline.at(from),
            to_ms: timeline.at(to),
            media_ms: from - sources[source].start_ms,
        })
        .collect()
}

/// When each of a region's sources is shown, by its reuse policy: (source, from, to, slot) in
/// room time. At most the region's capacity of them overlap at any time, each in a slot of its
/// own; a slot orders the sources of a segment's grid, it is not a fixed cell.
fn shown_spans(r: &Region, mine: &[usize], sources: &[Source]) -> Vec<(usize, i64, i64, usize)> {
    let capacity = r.capacity().max(1);
    // Per slot: the spans shown in it (source, from, to), in time order.
    let mut slots: Vec<Vec<(usize, i64, i64)>> = Vec::new();
    for &i in mine {
        let (start, end) = (sources[i].start_ms, sources[i].end_ms);
        let free_at = |slot: &Vec<(usize, i64, i64)>| slot.last().map_or(i64::MIN, |p| p.2);
        if slots.len() < capacity
            && !slots
                .iter()
                .any(|s| r.reuse != Reuse::None && free_at(s) <= start)
        {
            slots.push(vec![(i, start, end)]);
            continue;
        }
        match r.reuse {
            Reuse::None => {}
            Reuse::ShowOldest => {
                // The slot that frees first; the source is shown from then, if it still runs.
                if let Some(slot) = slots.iter_mut().min_by_key(|s| free_at(s)) {
                    let from = free_at(slot).max(start);
                    if from < end {
                        slot.push((i, from, end));
                    }
                }
            }
            Reuse::ShowNewest => {
                let free = slots.iter().position(|s| free_at(s) <= start);
                let slot = match free {
                    Some(f) => f,
                    // The oldest source still shown gives its slot up.
                    None => (0..slots.len())
                        .min_by_key(|&s| slots[s].last().map_or(i64::MIN, |p| p.1))
                        .unwrap_or(0),
                };
                if let Some(last) = slots[slot].last_mut() {
                    last.2 = last.2.min(start);
                }
                slots[slot].push((i, start, end));
            }
        }
    }
    slots
        .into_iter()
        .enumerate()
        .flat_map(|(n, slot)| slot.into_iter().map(move |(i, from, to)| (i, from, to, n)))
        .filter(|s| s.2 > s.1)
        .collect()
}

/// The rectangles of `n` cells of a region's grid, row by row, skipping the excluded ones. The
/// grid has as many columns as the square root of the cells needed (rounded up), as many rows as
/// then needed, within `max_columns` and `max_rows`.
fn grid_cells(r: &Region, n: usize, res: Resolution) -> Vec<(u32, u32, u32, u32)> {
    if n == 0 {
        return Vec::new();
    }
    let (x, y, w, h) = r.rect(res);
    let excluded: Vec<u32> = r.cells_excluded.clone();
    let mut needed = n;
    // Excluded cells that fall inside the grid need cells of their own.
    loop {
        let (cols, rows) = dims(r, needed);
        let inside = (0..cols * rows).filter(|c| excluded.contains(c)).count();
        if (cols * rows) as usize >= n + inside || needed >= (MAX_SIDE * MAX_SIDE) as usize {
            let (cw, ch) = ((w / cols) & !1, (h / rows) & !1);
            return (0..cols * rows)
                .filter(|c| !excluded.contains(c))
                .take(n)
                .map(|c| {
                    (
                        x + (c % cols) * (w / cols),
                        y + (c / cols) * (h / rows),
                        cw.max(2),
                        ch.max(2),
                    )
                })
                .collect();
        }
        needed += 1;
    }
}

fn dims(r: &Region, needed: usize) -> (u32, u32) {
    let max_c = if r.max_columns == 0 {
        MAX_SIDE
    } else {
        r.max_columns
    };
    let max_r = if r.max_rows == 0 {
        MAX_SIDE
    } else {
        r.max_rows
    };
    let n = u32::try_from(needed).unwrap_or(u32::MAX).max(1);
    let mut cols = 1;
    while cols * cols < n {
        cols += 1;
    }
    let cols = cols.min(max_c);
    let rows = n.div_ceil(cols).min(max_r);
    (cols, rows)
}

#[cfg(test)]
mod tests;
