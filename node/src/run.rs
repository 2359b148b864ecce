//! `fednode run`: wires identity, store, network, engine and API together, and shuts them
//! down in order on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use libp2p::Multiaddr;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, Instrument};

use crate::api::{self, AppState};
use crate::engine::{self, EngineConfig};
use crate::identity::PlatformIdentity;
use crate::keyfile;
use crate::net::{self, NetConfig};
use crate::store::{SledStore, Store, StoreConfig};

/// The bearer token file, in the data directory.
pub const TOKEN_FILE: &str = "api.token";
/// The file where the node writes its API URL once it listens.
pub const API_ADDR_FILE: &str = "api.addr";
/// The store's directory, inside the data directory.
pub const STORE_DIR: &str = "store";

/// What `fednode run` needs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The data directory (made by `fednode init`).
    pub data_dir: PathBuf,
    /// libp2p listen addresses.
    pub listen: Vec<Multiaddr>,
    /// The API's address (loopback).
    pub api: SocketAddr,
    /// Peers to dial at start.
    pub bootstrap: Vec<Multiaddr>,
    /// Store cache bound.
    pub store: StoreConfig,
    /// Engine tunables.
    pub engine: EngineConfig,
    /// Most API connections at once (default: derived from the open-file limit).
    pub max_api_connections: Option<usize>,
}

/// Reads the API token, creating it (random, mode 0600) on first start.
///
/// # Errors
///
/// If the file cannot be read or created.
pub fn api_token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(TOKEN_FILE);
    if !path.exists() {
        let token = hex::encode(keyfile::random_secret());
        keyfile::write_new_private(&path, format!("{token}\n").as_bytes())?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let token = text.trim().to_string();
    anyhow::ensure!(!token.is_empty(), "{} is empty", path.display());
    Ok(token)
}

/// Runs the node until SIGINT/SIGTERM or until `shutdown` is cancelled.
///
/// # Errors
///
/// Anything that prevents the node from starting; once started, it stops cleanly.
pub async fn run(options: RunOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    api::check_loopback(&options.api).map_err(anyhow::Error::msg)?;
    let dir = &options.data_dir;
    let identity = PlatformIdentity::load(dir)?;
    let me = identity.platform_id();
    let token = api_token(dir)?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.join(STORE_DIR), options.store)?);

    let mut secret = identity.signing.to_bytes();
    let key = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
        .context("the platform key is not a valid ed25519 key")?;
    let (net_client, net_events, event_loop) =
        net::new(key, NetConfig::default(), shutdown.clone())?;
    let span = info_span!("node", me = %me.fmt_short());
    let net_task = tokio::spawn(event_loop.run().instrument(span.clone()));
    for address in &options.listen {
        let bound = net_client
            .listen(address.clone())
            .await
            .with_context(|| format!("--listen {address}"))?;
        info!(parent: &span, %bound, "listening for peers");
    }

    let mut engine_config = options.engine.clone();
    engine_config.bootstrap = options.bootstrap.clone();
    let (engine, engine_task) = engine::new(
        identity.signing.clone(),
        (
            identity.encryption.to_bytes(),
            identity
                .retired
                .iter()
                .map(|(path, secret)| (path.clone(), secret.to_bytes()))
                .collect(),
        ),
        store.clone(),
        net_client.clone(),
        engine_config,
    )?;
    let engine_join = tokio::spawn(
        engine_task
            .run(net_events, shutdown.clone())
            .instrument(span.clone()),
    );

    let listener = TcpListener::bind(options.api)
        .await
        .with_context(|| format!("cannot listen on --api {}", options.api))?;
    let api_url = format!("http://{}", listener.local_addr()?);
    crate::fsutil::replace_file(&dir.join(API_ADDR_FILE), format!("{api_url}\n").as_bytes())?;
    info!(parent: &span, api = %api_url, platform = %me, "node running");
    let open_files = api::serve::raise_file_limit();
    let limits = api::serve::ServeLimits {
        max_connections: options
            .max_api_connections
            .unwrap_or_else(|| api::serve::connections_for_file_limit(open_files)),
        ..api::serve::ServeLimits::default()
    };
    info!(parent: &span, open_files, max_api_connections = limits.max_connections, "API limits");
    let state = AppState::new(engine, net_client, &token, shutdown.clone());
    let api_task =
        tokio::spawn(api::serve(listener, state, limits, shutdown.clone()).instrument(span));

    let signals = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signals.cancel();
    });
    shutdown.cancelled().await;
    info!("shutting down");
    // The API ends its own connections within its grace period; the engine and the
    // network stop on the same token. Each gets a bound, so that the final flush always
    // runs and the process always exits.
    await_stop("API", api_task).await;
    await_stop("engine", engine_join).await;
    await_stop("network", net_task).await;
    store.flush()?;
    let _ = std::fs::remove_file(dir.join(API_ADDR_FILE));
    Ok(())
}

/// Longest wait for one part of the node to stop once shutdown has begun.
pub const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits for a task to end, at most [`STOP_TIMEOUT`], then aborts it.
async fn await_stop<T>(what: &str, task: tokio::task::JoinHandle<T>) {
    let abort = task.abort_handle();
    if tokio::time::timeout(STOP_TIMEOUT, task).await.is_err() {
        tracing::warn!(part = what, timeout = ?STOP_TIMEOUT, "did not stop in time; aborted");
        abort.abort();
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
