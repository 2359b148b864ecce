//! The live feed: every change this node accepts, as server-sent events, so that a
//! platform's tools learn of a new export request without polling.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use fed_crdt::ids::FederationId;
use futures::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::error::ApiError;
use crate::api::routes::parse_federation;
use crate::api::AppState;

/// Filter of the feed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this federation's changes.
    pub federation: Option<String>,
}

/// `GET /v1/events`: `event: change` with the change as JSON data; `event: lagged` with
/// the number of changes missed by a reader too slow to keep up.
pub async fn feed(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let only: Option<FederationId> = query
        .federation
        .as_deref()
        .map(parse_federation)
        .transpose()?;
    let receiver = state.engine.subscribe();
    let stopping = state.shutdown.clone();
    let events = stream::unfold(receiver, move |mut receiver| {
        let stopping = stopping.clone();
        async move {
            loop {
                let received = tokio::select! {
                    // The feed ends when the node stops.
                    () = stopping.cancelled() => return None,
                    received = receiver.recv() => received,
                };
                match received {
                    Ok(change) if only.is_none_or(|f| f == change.federation) => {
                        let data = serde_json::to_string(&change).unwrap_or_default();
                        return Some((Ok(Event::default().event("change").data(data)), receiver));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        let event = Event::default().event("lagged").data(missed.to_string());
                        return Some((Ok(event), receiver));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
