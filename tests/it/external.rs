//! Running an outside program (a Node or Python suite) to the end, and failing the test with
//! everything it printed when it does not pass.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Runs `command` until it exits or `limit` passes, and returns what it printed on stdout. Panics,
/// with its stdout and stderr, when it cannot start, fails, or runs out of time; `what` names it in
/// those messages.
pub async fn run_to_end(command: &mut Command, what: &str, limit: Duration) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => Some(status.unwrap_or_else(|e| panic!("waiting for {what}: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let (stdout, stderr) = (
        stdout.await.unwrap_or_default(),
        stderr.await.unwrap_or_default(),
    );
    match status {
        Some(s) if s.success() => stdout,
        Some(s) => panic!("{what} failed ({s})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
        None => panic!(
            "{what} did not finish within {} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            limit.as_secs()
        ),
    }
}

/// Reads a child's pipe to the end in the background, so a chatty child never blocks on a full pipe.
fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    pipe: Option<R>,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes).await;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Fails, naming what is missing, when a test's outside dependencies were not installed: these tests
/// fail rather than skip, so that a run without them cannot pass. `needs` says what the test needs.
pub fn require_installed(needs: &str, paths: &[PathBuf]) {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "{needs}, and these are missing: {}. Run scripts/setup-test-deps (scripts/test does).",
        missing.join(", ")
    );
}
