//! The recordings' writer: one thread that owns every open recording file, so disk writes never
//! hold up a media worker. Workers send it [`RecordIo`]s; it reports each finished recording on a
//! channel the server reads to complete (or fail) the recording's record.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use vroom_domain::sid::RecordingSid;

use crate::recordings::RecordIo;

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingOutcome {
    /// The file is final: `size` bytes, `media_ms` of media.
    Completed {
        /// Bytes.
        size: u64,
        /// Milliseconds of media.
        media_ms: u64,
    },
    /// Nothing usable was written (why).
    Failed(String),
}

/// A recording the media server finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingDone {
    /// The recording.
    pub recording: RecordingSid,
    /// How it ended.
    pub outcome: RecordingOutcome,
}

struct Open {
    file: Option<File>,
    path: PathBuf,
    error: Option<String>,
}

/// Starts the writer thread for files in `dir`; it ends when every sender is dropped.
pub(crate) fn spawn(
    dir: PathBuf,
    done: mpsc::UnboundedSender<RecordingDone>,
) -> std::io::Result<std::sync::mpsc::Sender<RecordIo>> {
    let (tx, rx) = std::sync::mpsc::channel::<RecordIo>();
    std::thread::Builder::new()
        .name("vroom-recorder".into())
        .spawn(move || {
            let mut open: HashMap<RecordingSid, Open> = HashMap::new();
            while let Ok(io) = rx.recv() {
                match io {
                    RecordIo::Open {
                        recording,
                        file_name,
                    } => {
                        let path = dir.join(&file_name);
                        let created = std::fs::create_dir_all(&dir).and_then(|()| File::create(&path));
                        let (file, error) = match created {
                            Ok(f) => (Some(f), None),
                            Err(e) => {
                                tracing::warn!(error = %e, path = %path.display(), "cannot create a recording file");
                                (None, Some(format!("cannot create the file: {e}")))
                            }
                        };
                        open.insert(recording, Open { file, path, error });
                    }
                    RecordIo::Append { recording, bytes } => {
                        if let Some(o) = open.get_mut(&recording) {
                            write(o, &bytes);
                        }
                    }
                    RecordIo::Close {
                        recording,
                        bytes,
                        patch,
                        media_ms,
                        frames,
                    } => {
                        let Some(mut o) = open.remove(&recording) else {
                            continue;
                        };
                        write(&mut o, &bytes);
                        let outcome = close(&mut o, patch.as_ref(), media_ms, frames);
                        let _ = done.send(RecordingDone { recording, outcome });
                    }
                }
            }
        })?;
    Ok(tx)
}

fn write(o: &mut Open, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(f) = &mut o.file
        && let Err(e) = f.write_all(bytes)
    {
        tracing::warn!(error = %e, path = %o.path.display(), "a recording write failed");
        o.error = Some(format!("write failed: {e}"));
        o.file = None;
    }
}

fn close(
    o: &mut Open,
    patch: Option<&(u64, Vec<u8>)>,
    media_ms: u64,
    frames: u64,
) -> RecordingOutcome {
    let result = (|| -> std::io::Result<u64> {
        let Some(f) = &mut o.file else {
            return Err(std::io::Error::other(
                o.error.clone().unwrap_or_else(|| "no file".into()),
            ));
        };
        if let Some((at, b)) = patch {
            f.seek(SeekFrom::Start(*at))?;
            f.write_all(b)?;
        }
        f.sync_all()?;
        Ok(f.metadata()?.len())
    })();
    o.file = None;
    match result {
        Ok(size) if frames > 0 => RecordingOutcome::Completed { size, media_ms },
        Ok(_) => {
            let _ = std::fs::remove_file(&o.path);
            RecordingOutcome::Failed("no media was received".into())
        }
        Err(e) => RecordingOutcome::Failed(e.to_string()),
    }
}

/// Makes a recording file left by a crash final: cuts a partly written last cluster, writes the
/// Duration, syncs. `None` when it holds no media (or is not a recording file).
///
/// # Errors
/// When the file cannot be read or written.
pub fn recover_recording(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let Ok(found) = crate::mkv::recover(&mut f) else {
        return Ok(None);
    };
    if found.frames == 0 {
        return Ok(None);
    }
    f.set_len(found.valid_len)?;
    if let Some((at, b)) = found.patch {
        f.seek(SeekFrom::Start(at))?;
        f.write_all(&b)?;
    }
    f.sync_all()?;
    Ok(Some((found.valid_len, found.media_ms)))
}
