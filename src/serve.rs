//! `vroom serve`: resolve the settings, prepare the data folder, bind, start, and serve until
//! SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::Path;

use vroom::settings::Settings;

/// Resolves `host:port` (a name such as `localhost:8080` included) to the addresses to try.
/// `setting` names it in errors.
async fn resolve_listen(listen: &str, setting: &str) -> anyhow::Result<Vec<SocketAddr>> {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| anyhow::anyhow!("{setting} '{listen}': not an address: {e}"))?
        .collect();
    if found.is_empty() {
        anyhow::bail!("{setting} '{listen}' resolves to no address");
    }
    Ok(found)
}

/// Binds the first of `addrs` that can be bound.
async fn bind(listen: &str, addrs: Vec<SocketAddr>) -> anyhow::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.expect("at least one address was tried");
    anyhow::bail!("cannot listen on {listen} ({addr}): {e}")
}

/// Makes sure the data folder exists and can be written, naming it once when not. A folder vroom
/// creates is private to its user (it holds the credentials); one open to others is warned about.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    vroom_store::private::create_dir(dir).map_err(|e| {
        anyhow::anyhow!("the data folder {} cannot be created: {e}", shown.display())
    })?;
    tempfile::tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("the data folder {} is not writable: {e}", shown.display()))?;
    for warning in vroom_store::private::exposed(&[shown]) {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// Waits for SIGTERM (systemd, Docker, Kubernetes) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                let which = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                tracing::info!(signal = which, "stopping");
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen_or_default();
    // IPv4 first: browsers try `localhost` both ways, other clients often only the first.
    let mut addrs = resolve_listen(&listen, "listen (--listen, VROOM_LISTEN)").await?;
    addrs.sort_by_key(SocketAddr::is_ipv6);
    // Everything is checked and opened before binding, so a wrong setting is reported as such
    // rather than as a busy port.
    let resolved = settings.resolve(addrs[0].ip())?;
    if resolved.config.database_url.starts_with("sqlite://") && settings.database_url.is_none() {
        prepare_data_dir(&resolved.data_dir)?;
    }
    let public_url = resolved.config.public_url.clone();
    let metrics_listen = resolved.metrics_listen.clone();
    let deps = vroom::Deps {
        metrics: Some(vroom::observe::install_recorder()?),
        ..vroom::Deps::default()
    };
    let mut app = vroom::App::start(resolved.config, deps).await?;
    let listener = bind(&listen, addrs).await?;
    if let Some(metrics_listen) = metrics_listen {
        let addrs = resolve_listen(
            &metrics_listen,
            "metrics.listen (--metrics-listen, VROOM_METRICS_LISTEN)",
        )
        .await?;
        app = app.with_metrics_listener(bind(&metrics_listen, addrs).await?);
    }
    let local = listener.local_addr()?;
    let base = public_url.unwrap_or_else(|| vroom::config::derived_public_url(local));
    if app.generated_credentials() {
        println!(
            "vroom generated credentials for this server (stored in its database; `vroom credentials` shows them again):"
        );
        crate::print_credentials(app.credentials(), &base);
    } else {
        println!(
            "vroom: account {} / API key {} (`vroom credentials` shows the secrets)",
            app.credentials().account_sid,
            app.credentials().api_key_sid
        );
    }
    println!("vroom is listening on {base} (join a room from a browser at {base}/quickstart)");
    app.serve(listener, stop_signal()).await
}
