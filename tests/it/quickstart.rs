//! The `/quickstart` page, used in headless Chromium as a person would (tests/browser/quickstart.js).

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{Options, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn two_people_join_see_and_hear_each_other_and_leave_from_the_quickstart_page() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sdk = root.join("tests/browser/node_modules/twilio-video/dist/twilio-video.min.js");
    assert!(
        sdk.is_file(),
        "{} is missing: run scripts/setup-test-deps (scripts/test does)",
        sdk.display()
    );
    let s = TestServer::with(Options {
        quickstart_sdk: Some(sdk),
        ..Options::default()
    })
    .await;
    let _one_browser_at_a_time = crate::browser::ONE_BROWSER_AT_A_TIME.lock().await;
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(root.join("tests/browser/quickstart.js"))
            .env("VROOM_BASE_URL", &s.base)
            .env("VROOM_ACCOUNT_SID", s.creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", s.creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &s.creds.api_key_secret)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the quickstart run finishes in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quickstart.js failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("quickstart passed"));
}
