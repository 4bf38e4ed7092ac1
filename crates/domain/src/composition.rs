//! Compositions: one video (or audio) file made of a completed room's track recordings, laid out
//! and mixed by a job that runs after the request (`enqueued` → `processing` → `completed` or
//! `failed`; `deleted` once its media is removed). What to compose is a [`CompositionSpec`], the
//! same for a composition and for the composition hooks that create them when rooms end.

use crate::layout::VideoLayout;
use crate::room::{CallbackMethod, validate_callback_url};
use crate::sid::{AccountSid, CompositionHookSid, CompositionSid, RoomSid};
use crate::time::Timestamp;

/// How many times a job is started before it is failed: a run that died with its node (its claim
/// lapsed) is started again, up to this many starts in all.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where a composition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompositionStatus {
    /// Waiting for a worker (or for the room's recordings to be final).
    Enqueued,
    /// A worker is composing it.
    Processing,
    /// The file is final and can be downloaded.
    Completed,
    /// Its media was deleted; the record stays.
    Deleted,
    /// It could not be composed.
    Failed,
}

impl CompositionStatus {
    /// Twilio's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enqueued => "enqueued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
        }
    }

    /// Parses Twilio's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Enqueued,
            Self::Processing,
            Self::Completed,
            Self::Deleted,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The container (and with it the codecs) of a composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompositionFormat {
    /// MP4: H.264 video, AAC audio (Twilio's default).
    Mp4,
    /// WebM: VP8 video, Opus audio.
    Webm,
}

impl CompositionFormat {
    /// Twilio's name, also the file extension.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Webm => "webm",
        }
    }

    /// Parses Twilio's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Mp4, Self::Webm]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A parameter of a composition request that breaks Twilio's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct SpecError {
    /// The parameter (`VideoLayout`, `Resolution`, …).
    pub param: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl SpecError {
    /// `param` is wrong because of `problem`.
    pub fn new(param: &'static str, problem: impl Into<String>) -> Self {
        Self {
            param,
            problem: problem.into(),
        }
    }
}

/// Columns and rows of the composed video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resolution {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

impl Resolution {
    /// Twilio's default, `640x480`.
    pub const DEFAULT: Self = Self {
        width: 640,
        height: 480,
    };

    /// Parses `{width}x{height}` with Twilio's bounds: each side 16 to 1280, at most 921,600
    /// pixels. Sides are made even (the encoders' 4:2:0 sampling needs it) by rounding down.
    ///
    /// # Errors
    /// `Resolution` when malformed or out of bounds.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| SpecError::new("Resolution", format!("'{s}' {why}"));
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| bad("is not {width}x{height}"))?;
        let (Ok(width), Ok(height)) = (w.trim().parse::<u32>(), h.trim().parse::<u32>()) else {
            return Err(bad("is not {width}x{height}"));
        };
        if !(16..=1280).contains(&width) || !(16..=1280).contains(&height) {
            return Err(bad("must have sides between 16 and 1280"));
        }
        if u64::from(width) * u64::from(height) > 921_600 {
            return Err(bad("must have at most 921,600 pixels"));
        }
        Ok(Self {
            width: width & !1,
            height: height & !1,
        })
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// What to compose out of a room's recordings, and where to report progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionSpec {
    /// The video regions (empty: an audio-only composition).
    pub video_layout: VideoLayout,
    /// Audio tracks to mix, by name (with `*` wildcards) or SID.
    pub audio_sources: Vec<String>,
    /// Audio tracks left out even though `audio_sources` names them.
    pub audio_sources_excluded: Vec<String>,
    /// Size of the video.
    pub resolution: Resolution,
    /// Container.
    pub format: CompositionFormat,
    /// Whether the time before the first and after the last recorded media is left out.
    pub trim: bool,
    /// Where composition events go.
    pub status_callback: Option<String>,
    /// How they are sent.
    pub status_callback_method: CallbackMethod,
}

impl Default for CompositionSpec {
    fn default() -> Self {
        Self {
            video_layout: VideoLayout::default(),
            audio_sources: Vec::new(),
            audio_sources_excluded: Vec::new(),
            resolution: Resolution::DEFAULT,
            format: CompositionFormat::Mp4,
            trim: true,
            status_callback: None,
            status_callback_method: CallbackMethod::Post,
        }
    }
}

impl CompositionSpec {
    /// Checks Twilio's rules: something to compose (video sources in a region or audio sources),
    /// regions inside the resolution, a valid callback URL.
    ///
    /// # Errors
    /// The first rule broken, naming its parameter.
    pub fn validate(&self) -> Result<(), SpecError> {
        let has_video = self
            .video_layout
            .regions
            .iter()
            .any(|r| !r.video_sources.is_empty());
        if !has_video && self.audio_sources.is_empty() {
            return Err(SpecError::new(
                "VideoLayout",
                "either VideoLayout with video_sources or AudioSources must be given",
            ));
        }
        self.video_layout.validate(self.resolution)?;
        for s in self
            .audio_sources
            .iter()
            .chain(&self.audio_sources_excluded)
        {
            if s.is_empty() || s.len() > 128 {
                return Err(SpecError::new(
                    "AudioSources",
                    "a source must be a track name or SID of 1 to 128 characters",
                ));
            }
        }
        if let Some(url) = &self.status_callback {
            validate_callback_url(url)
                .map_err(|_| SpecError::new("StatusCallback", "must be an http(s) URL"))?;
        }
        Ok(())
    }
}

/// One composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    /// `CJ…`
    pub sid: CompositionSid,
    /// Owner.
    pub account_sid: AccountSid,
    /// The room whose recordings it composes.
    pub room_sid: RoomSid,
    /// What it composes.
    pub spec: CompositionSpec,
    /// Status.
    pub status: CompositionStatus,
    /// When it was requested.
    pub date_created: Timestamp,
    /// When composing finished (completed or failed).
    pub date_completed: Option<Timestamp>,
    /// When its media was deleted.
    pub date_deleted: Option<Timestamp>,
    /// Bytes of the file (0 until completed).
    pub size: u64,
    /// Seconds of media (0 until completed).
    pub duration: u32,
    /// Average bit rate in kbit/s (0 until completed).
    pub bitrate: u32,
    /// Percent done while processing (100 once completed).
    pub progress: u8,
    /// Times a worker started it.
    pub attempts: u32,
    /// Why it failed, when it did (for the log and the failed event, not shown by REST).
    pub error: Option<String>,
    /// The composition hook that made it, if one did.
    pub hook: Option<CompositionHookSid>,
}

impl Composition {
    /// A composition of `room` requested at `now`, waiting for a worker.
    #[must_use]
    pub fn enqueue(
        sid: CompositionSid,
        account_sid: AccountSid,
        room_sid: RoomSid,
        spec: CompositionSpec,
        now: Timestamp,
    ) -> Self {
        Self {
            sid,
            account_sid,
            room_sid,
            spec,
            status: CompositionStatus::Enqueued,
            date_created: now,
            date_completed: None,
            date_deleted: None,
            size: 0,
            duration: 0,
            bitrate: 0,
            progress: 0,
            attempts: 0,
            error: None,
            hook: None,
        }
    }

    /// The media file's name in the media store.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sid, self.spec.format.as_str())
    }

    /// A worker starts composing (again, if a run before it died).
    pub fn start(&mut self) {
        self.status = CompositionStatus::Processing;
        self.progress = 0;
    }

    /// Whether the job was started too many times already to be started again.
    #[must_use]
    pub const fn out_of_attempts(&self) -> bool {
        self.attempts > MAX_ATTEMPTS
    }

    /// The file is final: `size` bytes of `media_millis` of media.
    pub fn complete(&mut self, now: Timestamp, size: u64, media_millis: u64) {
        self.status = CompositionStatus::Completed;
        self.date_completed = Some(now);
        self.size = size;
        self.duration = crate::recording::whole_seconds(media_millis);
        let bits = u128::from(size) * 8;
        let kbps = bits / u128::from(media_millis.max(1));
        self.bitrate = u32::try_from(kbps).unwrap_or(u32::MAX);
        self.progress = 100;
        self.error = None;
    }

    /// It could not be composed, because of `why`.
    pub fn fail(&mut self, now: Timestamp, why: impl Into<String>) {
        self.status = CompositionStatus::Failed;
        self.date_completed = Some(now);
        self.error = Some(why.into());
    }

    /// Its media was deleted.
    pub fn delete_media(&mut self, now: Timestamp) {
        self.status = CompositionStatus::Deleted;
        self.date_deleted = Some(now);
    }
}

/// A composition hook: compose every room of the account that ends, with one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionHook {
    /// `HK…`
    pub sid: CompositionHookSid,
    /// Owner.
    pub account_sid: AccountSid,
    /// Unique within the account, up to 100 characters.
    pub friendly_name: String,
    /// Whether it composes ending rooms.
    pub enabled: bool,
    /// What each composition it creates composes.
    pub spec: CompositionSpec,
    /// When it was created.
    pub date_created: Timestamp,
    /// When it last changed.
    pub date_updated: Option<Timestamp>,
}

/// Checks a hook's `FriendlyName`: 1 to 100 characters.
///
/// # Errors
/// `FriendlyName` otherwise.
pub fn validate_friendly_name(name: &str) -> Result<(), SpecError> {
    let n = name.chars().count();
    if n == 0 || n > 100 {
        return Err(SpecError::new(
            "FriendlyName",
            "must be 1 to 100 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Region;

    #[test]
    fn resolutions_follow_twilio_bounds() {
        assert_eq!(Resolution::parse("640x480").unwrap(), Resolution::DEFAULT);
        assert_eq!(
            Resolution::parse("1280x720").unwrap().to_string(),
            "1280x720"
        );
        assert_eq!(Resolution::parse("321x241").unwrap().to_string(), "320x240");
        for bad in [
            "",
            "640",
            "x480",
            "640x",
            "axb",
            "8x480",
            "1281x100",
            "1280x1280",
            "-1x20",
        ] {
            let e = Resolution::parse(bad).unwrap_err();
            assert_eq!(e.param, "Resolution", "{bad}");
        }
    }

    #[test]
    fn a_spec_needs_something_to_compose() {
        let mut s = CompositionSpec::default();
        assert_eq!(s.validate().unwrap_err().param, "VideoLayout");
        s.audio_sources = vec!["*".into()];
        s.validate().unwrap();
        s.status_callback = Some("ftp://x".into());
        assert_eq!(s.validate().unwrap_err().param, "StatusCallback");
        s.status_callback = None;
        s.audio_sources.clear();
        s.video_layout
            .regions
            .push(Region::grid("grid", vec!["*".into()]));
        s.validate().unwrap();
    }

    #[test]
    fn completing_sets_duration_and_bitrate() {
        let mut c = Composition::enqueue(
            CompositionSid::from_bytes([1; 16]),
            AccountSid::from_bytes([2; 16]),
            RoomSid::from_bytes([3; 16]),
            CompositionSpec::default(),
            Timestamp::from_secs(1_800_000_000),
        );
        assert_eq!(c.file_name(), format!("{}.mp4", c.sid));
        c.attempts = 1;
        c.start();
        c.complete(Timestamp::from_secs(1_800_000_100), 1_250_000, 10_000);
        assert_eq!(
            (c.status, c.duration, c.bitrate, c.progress),
            (CompositionStatus::Completed, 10, 1000, 100)
        );
        for s in ["enqueued", "processing", "completed", "deleted", "failed"] {
            assert_eq!(CompositionStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(!c.out_of_attempts());
        c.attempts = MAX_ATTEMPTS + 1;
        assert!(c.out_of_attempts());
    }
}
