//! The core's recordings: starting and stopping a published track's recording, and what the
//! recordings' writer thread (`recorder.rs`) is told to do with the files ([`RecordIo`]). The
//! per-track work (the layer recorded, the frames, Matroska) is in `record.rs` and `mkv.rs`; the
//! media warnings a recording raises are in `warnings.rs`.

use std::collections::HashMap;
use std::time::Instant;

use str0m::media::KeyframeRequestKind;
use vroom_domain::recording::RecordTrack;
use vroom_domain::sid::RecordingSid;

use crate::core::{CoreOutput, SfuCore};

/// What the recordings' writer must do with their files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordIo {
    /// Create the file of a recording that starts.
    Open {
        /// The recording.
        recording: RecordingSid,
        /// Its file's name in the media store.
        file_name: String,
    },
    /// Append to the file.
    Append {
        /// The recording.
        recording: RecordingSid,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The recording stopped: write the last bytes, then `patch` at its offset, and close.
    Close {
        /// The recording.
        recording: RecordingSid,
        /// The last bytes.
        bytes: Vec<u8>,
        /// The Duration over the header's slot, when anything was written.
        patch: Option<(u64, Vec<u8>)>,
        /// Milliseconds of media written.
        media_ms: u64,
        /// Frames written (none: the recording failed).
        frames: u64,
    },
}

impl SfuCore {
    /// Starts recording a published track (a recording of the same track still running stops).
    pub fn start_recording(&mut self, now: Instant, t: &RecordTrack) {
        let video = t.kind == vroom_domain::track::TrackKind::Video;
        let old = self.recorders.entry(t.publisher).or_default().insert(
            t.publisher_track_id.clone(),
            crate::record::TrackRecorder::new(t.recording, t.track, t.codec, now),
        );
        if let Some(mut old) = old {
            self.finish_recorder(&mut old);
        }
        self.out.push_back(CoreOutput::Record(RecordIo::Open {
            recording: t.recording,
            file_name: t.file_name.clone(),
        }));
        if video {
            self.ask_keyframe(
                t.publisher,
                &t.publisher_track_id,
                None,
                KeyframeRequestKind::Pli,
                now,
            );
        }
    }

    /// Stops a recording: its file is finished.
    pub fn stop_recording(&mut self, recording: RecordingSid) {
        let mut found = None;
        let mut ended = None;
        for (publisher, tracks) in &mut self.recorders {
            if let Some(track) = tracks
                .iter()
                .find(|(_, r)| r.recording == recording)
                .map(|(k, _)| k.clone())
            {
                found = tracks.remove(&track);
                ended = Some(*publisher);
                break;
            }
        }
        if let Some(publisher) = ended
            && self
                .recorders
                .get(&publisher)
                .is_some_and(HashMap::is_empty)
        {
            self.recorders.remove(&publisher);
        }
        if let (Some(mut rec), Some(publisher)) = (found, ended) {
            self.finish_recorder(&mut rec);
            self.recording_media_ended(publisher, rec.track);
        }
    }

    /// Stops every recording (the server is stopping).
    pub fn stop_all_recordings(&mut self) {
        let all: Vec<RecordingSid> = self
            .recorders
            .values()
            .flat_map(|m| m.values().map(|r| r.recording))
            .collect();
        for r in all {
            self.stop_recording(r);
        }
    }

    fn finish_recorder(&mut self, rec: &mut crate::record::TrackRecorder) {
        let (bytes, fin) = rec.finish();
        self.out.push_back(CoreOutput::Record(RecordIo::Close {
            recording: rec.recording,
            bytes,
            patch: fin.patch.map(|(at, b)| (at, b.to_vec())),
            media_ms: fin.media_ms,
            frames: fin.frames,
        }));
    }
}
