//! The `/quickstart` page, used in headless Chromium as a person would (tests/browser/quickstart.js),
//! with twilio-video.js from each place it can come from: the pinned release on a CDN (here a local
//! stand-in serving the npm package's file, so the integrity hash is checked against the real
//! release), and a copy in the data folder with no CDN reachable (offline).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use vroom::quickstart::{SDK_FILE_NAME, SDK_VERSION, SdkSource};

use crate::common::{Options, TestServer, free_port, spawn_vroom_with, test_credentials};
use crate::external::{require_installed, run_to_end};

fn sdk_file() -> PathBuf {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/twilio-video/dist/twilio-video.min.js");
    require_installed(
        "the quickstart test needs tests/browser's npm packages",
        std::slice::from_ref(&sdk),
    );
    sdk
}

/// Runs quickstart.js against the server at `base`; `sdk_url` is where the page must load the SDK.
async fn run_quickstart(base: &str, creds: &vroom_store::StoredCredentials, sdk_url: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let _one_browser_at_a_time = crate::browser::ONE_BROWSER_AT_A_TIME.lock().await;
    let stdout = run_to_end(
        tokio::process::Command::new("node")
            .arg(root.join("tests/browser/quickstart.js"))
            .env("VROOM_BASE_URL", base)
            .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
            .env("VROOM_EXPECT_SDK_URL", sdk_url),
        "quickstart.js",
        Duration::from_secs(120),
    )
    .await;
    assert!(stdout.contains("quickstart passed"), "{stdout}");
}

/// A stand-in for the CDN on 127.0.0.1: serves the npm package's file at the release's path and
/// counts the requests. Returns its origin.
async fn local_cdn(sdk: PathBuf, hits: Arc<AtomicUsize>) -> String {
    let path = format!("/twilio-video@{SDK_VERSION}/dist/twilio-video.min.js");
    let app = axum::Router::new().route(
        &path,
        get(move || {
            let sdk = sdk.clone();
            let hits = Arc::clone(&hits);
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                (
                    [
                        ("content-type", "text/javascript"),
                        // A CDN answers cross-origin requests; the integrity check needs CORS.
                        ("access-control-allow-origin", "*"),
                    ],
                    tokio::fs::read(&sdk).await.expect("the SDK file"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_page_works_with_the_pinned_sdk_from_the_cdn() {
    let hits = Arc::new(AtomicUsize::new(0));
    let cdn = local_cdn(sdk_file(), Arc::clone(&hits)).await;
    let source = SdkSource::Cdn(cdn);
    let s = TestServer::with(Options {
        quickstart: source.clone(),
        ..Options::default()
    })
    .await;
    run_quickstart(&s.base, &s.creds, &source.cdn_url().unwrap()).await;
    assert!(
        hits.load(Ordering::SeqCst) >= 2,
        "both pages loaded the SDK from the CDN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_page_works_offline_with_the_sdk_in_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sdk_file(), dir.path().join(SDK_FILE_NAME)).unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let port = free_port();
    // The CDN is a closed port: the page works only if it does not need it.
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let data_dir = dir.path().to_str().unwrap();
    let _vroom = spawn_vroom_with(
        port,
        &db,
        &creds,
        &["--data-dir", data_dir, "--quickstart-cdn", &unreachable],
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    run_quickstart(&base, &creds, &format!("{base}/quickstart/{SDK_FILE_NAME}")).await;
}
