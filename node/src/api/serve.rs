//! Serving the API over loopback TCP, protected from slow, lying or too many clients.
//!
//! `axum::serve` reads headers and bodies for as long as a client cares to send them, and
//! accepts connections until the process runs out of file descriptors: a thousand
//! clients holding half a header make the node unreachable. This loop bounds each of
//! those:
//!
//! - at most [`ServeLimits::max_connections`] connections at once (derived from the
//!   process's file limit, which the node raises to its hard limit at start); one more is
//!   closed at once, and that is logged;
//! - the request head must arrive within [`API_HEADER_READ_TIMEOUT`], each piece of the
//!   body within [`API_BODY_READ_TIMEOUT`], and the whole request be handled within
//!   [`API_REQUEST_TIMEOUT`] (the live feed's stream is not bounded: only its start);
//! - a declared `Content-Length` over the body limit is answered 413 before the body is
//!   read (in the router);
//! - on shutdown, no new connection is taken, open ones are asked to finish, and after
//!   [`SHUTDOWN_GRACE`] the rest are dropped, so a client never holds the node up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Longest wait for a request's head (request line and headers).
pub const API_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next piece of a request's body.
pub const API_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time from a request's head to its answer's head.
pub const API_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long open connections may take to finish once the node stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Most API connections at once, whatever the file limit allows.
pub const MAX_API_CONNECTIONS: usize = 512;
/// Least time between two log lines about refused connections.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The bounds the server enforces.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// Connections served at once; one more is closed on arrival.
    pub max_connections: usize,
    /// See [`API_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: MAX_API_CONNECTIONS,
            header_read_timeout: API_HEADER_READ_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// The connection bound for a process that may open `open_files` files: a quarter of
/// them (the rest are for peers, the store and logs), at most [`MAX_API_CONNECTIONS`],
/// at least 8.
pub fn connections_for_file_limit(open_files: u64) -> usize {
    let quarter = usize::try_from(open_files / 4).unwrap_or(usize::MAX);
    quarter.clamp(8, MAX_API_CONNECTIONS)
}

/// Raises the soft limit on open files to the hard limit and returns the new soft
/// limit (the old one if it cannot be raised).
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then lets open connections
/// finish for at most the grace period.
///
/// # Errors
///
/// None today: accept errors (out of descriptors, say) are logged and retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut refused: u64 = 0;
    let mut last_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors most often: wait for some to close.
                warn!(error = %e, "cannot accept an API connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            if last_log.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL) {
                warn!(
                    limit = limits.max_connections,
                    refused, "API connection refused: too many open connections"
                );
                last_log = Some(Instant::now());
            }
            drop(stream);
            continue;
        };
        debug!(%peer, "API connection");
        let service = TowerToHyperService::new(router.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!(%peer, error = %e, "API connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            info!(grace = ?limits.shutdown_grace, "API connections still open at shutdown are dropped");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_bound_stays_below_the_file_limit() {
        assert_eq!(connections_for_file_limit(1024), 256);
        assert_eq!(connections_for_file_limit(16), 8);
        assert_eq!(connections_for_file_limit(1 << 20), MAX_API_CONNECTIONS);
        for limit in [64u64, 256, 1024, 4096] {
            assert!((connections_for_file_limit(limit) as u64) < limit);
        }
    }
}
