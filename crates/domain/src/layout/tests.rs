//! The layout plans: grids laid out again per segment, reuse, trims, exclusions, bounds.

use super::*;
use crate::composition::CompositionSpec;

fn source(n: u8, name: &str, kind: TrackKind, start: i64, end: i64) -> Source {
    Source {
        recording: RecordingSid::from_bytes([n; 16]),
        track_sid: TrackSid::from_bytes([n; 16]),
        participant_sid: ParticipantSid::from_bytes([n / 2; 16]),
        track_name: name.to_owned(),
        kind,
        start_ms: start,
        end_ms: end,
    }
}

fn grid_spec(region: Region) -> CompositionSpec {
    CompositionSpec {
        video_layout: VideoLayout {
            regions: vec![region],
        },
        audio_sources: vec!["*".into()],
        ..CompositionSpec::default()
    }
}

#[test]
fn wildcards_and_sids_name_sources() {
    let s = source(1, "studentTeam", TrackKind::Video, 0, 1);
    for yes in [
        "*",
        "student*",
        "*Team",
        "s*T*m",
        "studentTeam",
        &s.recording.to_string(),
        &s.participant_sid.to_string(),
    ] {
        assert!(names(yes, &s), "{yes}");
    }
    for no in ["student", "teacher*", "*x*", "studentTeam2"] {
        assert!(!names(no, &s), "{no}");
    }
}

#[test]
fn the_grid_is_laid_out_again_as_participants_come_and_go() {
    let sources = [
        source(1, "a-audio", TrackKind::Audio, 1_000, 11_000),
        source(2, "a-video", TrackKind::Video, 1_000, 11_000),
        source(3, "b-audio", TrackKind::Audio, 2_000, 11_500),
        source(4, "b-video", TrackKind::Video, 2_000, 11_500),
    ];
    let p = plan(
        &grid_spec(Region::grid("grid", vec!["*".into()])),
        &sources,
        (0, 20_000),
    )
    .unwrap();
    assert_eq!(
        (p.start_ms, p.duration_ms),
        (1_000, 10_500),
        "trimmed to the media"
    );
    assert_eq!(
        p.audio
            .iter()
            .map(|a| (a.source, a.from_ms))
            .collect::<Vec<_>>(),
        [(0, 0), (2, 1_000)]
    );
    let cells: Vec<_> = p
        .video
        .iter()
        .map(|v| (v.source, v.cell, v.from_ms, v.to_ms, v.media_ms))
        .collect();
    // Alice alone fills the region, then shares it with Bob side by side; Bob, left alone,
    // fills it again. Each is shown live: a later placement begins further into its media.
    assert_eq!(
        cells,
        [
            (1, (0, 0, 640, 480), 0, 1_000, 0),
            (1, (0, 0, 320, 480), 1_000, 10_000, 1_000),
            (3, (320, 0, 320, 480), 1_000, 10_000, 0),
            (3, (0, 0, 640, 480), 10_000, 10_500, 9_000),
        ]
    );
    let untrimmed = CompositionSpec {
        trim: false,
        ..grid_spec(Region::grid("grid", vec!["*".into()]))
    };
    let p = plan(&untrimmed, &sources, (0, 20_000)).unwrap();
    assert_eq!(
        (p.start_ms, p.duration_ms, p.video[0].from_ms),
        (0, 20_000, 1_000)
    );
}

#[test]
fn trim_cuts_out_the_gaps_where_nobody_published() {
    // Alice publishes 1–5 s, nobody 5–12 s, Bob 12–15 s and again 14–20 s.
    let sources = [
        source(1, "alice", TrackKind::Audio, 1_000, 5_000),
        source(2, "alice", TrackKind::Video, 1_000, 5_000),
        source(3, "bob", TrackKind::Video, 12_000, 15_000),
        source(4, "bob", TrackKind::Audio, 14_000, 20_000),
    ];
    let spec = grid_spec(Region::grid("grid", vec!["*".into()]));
    let p = plan(&spec, &sources, (0, 30_000)).unwrap();
    assert_eq!((p.start_ms, p.duration_ms), (1_000, 4_000 + 8_000));
    assert_eq!(
        p.audio
            .iter()
            .map(|a| (a.source, a.from_ms))
            .collect::<Vec<_>>(),
        [(0, 0), (3, 6_000)]
    );
    let shown: Vec<_> = p
        .video
        .iter()
        .map(|v| (v.source, v.from_ms, v.to_ms))
        .collect();
    assert_eq!(shown, [(1, 0, 4_000), (2, 4_000, 7_000)]);
    let untrimmed = CompositionSpec {
        trim: false,
        ..spec
    };
    let p = plan(&untrimmed, &sources, (0, 30_000)).unwrap();
    assert_eq!((p.start_ms, p.duration_ms), (0, 30_000));
    assert_eq!(p.video[1].from_ms, 12_000);
}

#[test]
fn excluded_sources_and_cells_and_empty_selections() {
    let sources = [
        source(1, "alice", TrackKind::Video, 0, 10),
        source(2, "bob", TrackKind::Video, 0, 10),
        source(3, "carol", TrackKind::Video, 0, 10),
    ];
    let mut r = Region::grid("grid", vec!["*".into()]);
    r.video_sources_excluded = vec!["bob".into()];
    r.cells_excluded = vec![0];
    let p = plan(&grid_spec(r), &sources, (0, 10)).unwrap();
    // Two sources and one excluded cell: a 2×2 grid, cells 1 and 2.
    let cells: Vec<_> = p.video.iter().map(|v| (v.source, v.cell)).collect();
    assert_eq!(cells, [(0, (320, 0, 320, 240)), (2, (0, 240, 320, 240))]);
    let none = CompositionSpec {
        audio_sources: vec!["nobody".into()],
        ..grid_spec(Region::grid("grid", vec!["nobody".into()]))
    };
    assert!(plan(&none, &sources, (0, 10)).is_none());
}

#[test]
fn reuse_decides_who_gets_a_full_grids_cell() {
    let sources = [
        source(1, "a", TrackKind::Video, 0, 5_000),
        source(2, "b", TrackKind::Video, 1_000, 10_000),
        source(3, "c", TrackKind::Video, 2_000, 9_000),
    ];
    let shown = |reuse| {
        let mut r = Region::grid("grid", vec!["*".into()]);
        (r.max_columns, r.max_rows, r.reuse) = (2, 1, reuse);
        plan(&grid_spec(r), &sources, (0, 10_000))
            .unwrap()
            .video
            .iter()
            .map(|v| (v.source, v.cell.0, v.cell.2, v.from_ms, v.to_ms, v.media_ms))
            .collect::<Vec<_>>()
    };
    // (source, left edge, width, from, to, how far into its media)
    assert_eq!(
        shown(Reuse::None),
        [
            (0, 0, 640, 0, 1_000, 0),
            (0, 0, 320, 1_000, 5_000, 1_000),
            (1, 320, 320, 1_000, 5_000, 0),
            (1, 0, 640, 5_000, 10_000, 4_000),
        ]
    );
    // c waits for a's cell and takes it at 5 s, live (3 s into its media); b keeps its cell
    // until c leaves, then fills the region.
    assert_eq!(
        shown(Reuse::ShowOldest),
        [
            (0, 0, 640, 0, 1_000, 0),
            (0, 0, 320, 1_000, 5_000, 1_000),
            (1, 320, 320, 1_000, 9_000, 0),
            (2, 0, 320, 5_000, 9_000, 3_000),
            (1, 0, 640, 9_000, 10_000, 8_000),
        ]
    );
    assert_eq!(
        shown(Reuse::ShowNewest),
        [
            (0, 0, 640, 0, 1_000, 0),
            (0, 0, 320, 1_000, 2_000, 1_000),
            (1, 320, 320, 1_000, 9_000, 0),
            (2, 0, 320, 2_000, 9_000, 0),
            (1, 0, 640, 9_000, 10_000, 8_000),
        ]
    );
}

#[test]
fn each_segment_has_a_grid_sized_for_the_sources_it_shows() {
    // One more participant every second, from 0 to 4 s; all stay until 10 s.
    let sources: Vec<Source> = (0..5u8)
        .map(|n| {
            let name = format!("v{n}");
            source(
                n * 2 + 1,
                &name,
                TrackKind::Video,
                i64::from(n) * 1_000,
                10_000,
            )
        })
        .collect();
    let p = plan(
        &grid_spec(Region::grid("grid", vec!["*".into()])),
        &sources,
        (0, 10_000),
    )
    .unwrap();
    let at = |t: i64| {
        let mut cells: Vec<_> = p
            .video
            .iter()
            .filter(|v| v.from_ms <= t && t < v.to_ms)
            .map(|v| (v.source, v.cell))
            .collect();
        cells.sort_unstable();
        cells
    };
    assert_eq!(at(500), [(0, (0, 0, 640, 480))], "alone: the whole region");
    assert_eq!(
        at(1_500),
        [(0, (0, 0, 320, 480)), (1, (320, 0, 320, 480))],
        "two: side by side"
    );
    assert_eq!(
        at(2_500),
        [
            (0, (0, 0, 320, 240)),
            (1, (320, 0, 320, 240)),
            (2, (0, 240, 320, 240))
        ],
        "three: a 2×2 grid, row by row"
    );
    // Four keep the 2×2 grid: nobody moves, so the third's placement runs on.
    assert_eq!(at(3_500).len(), 4);
    assert!(
        p.video
            .iter()
            .any(|v| v.source == 2 && (v.from_ms, v.to_ms) == (2_000, 4_000))
    );
    // Five: 3 columns, 2 rows.
    assert_eq!(at(4_500)[4], (4, (213, 240, 212, 240)));
    assert_eq!(p.video.len(), 1 + 2 + 3 + 1 + 5);
    // At most two columns: five sources make three rows of two.
    let mut r = Region::grid("grid", vec!["*".into()]);
    r.max_columns = 2;
    let p = plan(&grid_spec(r), &sources, (0, 10_000)).unwrap();
    let last: Vec<_> = p
        .video
        .iter()
        .filter(|v| v.from_ms == 4_000)
        .map(|v| v.cell)
        .collect();
    assert_eq!(last.len(), 5);
    assert_eq!(last[4], (0, 320, 320, 160));
}

#[test]
fn regions_must_fit_the_resolution() {
    let res = Resolution::DEFAULT;
    let mut r = Region::grid("main", vec!["*".into()]);
    r.x_pos = 600;
    r.width = 100;
    assert!(
        VideoLayout {
            regions: vec![r.clone()]
        }
        .validate(res)
        .is_err()
    );
    r.width = 40;
    VideoLayout {
        regions: vec![r.clone()],
    }
    .validate(res)
    .unwrap();
    r.name = "bad name".into();
    assert!(VideoLayout { regions: vec![r] }.validate(res).is_err());
}
