//! `fedctl events`: the node's live feed, one line per accepted change as it happens, so
//! that an operator or a script learns of a new export request without polling.

use std::io::{BufRead, Write};

use anyhow::Context;
use fednode::engine::documents::ChangeEvent;
use serde_json::json;

use crate::api_client::{segment, ApiClient};
use crate::args::EventsArgs;
use crate::report::Report;

/// One server-sent event.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    /// Its `event:` name (`message` when none was given).
    name: String,
    /// Its `data:` lines, joined with line breaks.
    data: String,
}

/// Reads server-sent events line by line: `event:` and `data:` fields, an empty line ends
/// an event, lines starting with `:` are comments (the node's keep-alives).
#[derive(Default)]
struct EventParser {
    name: String,
    data: Vec<String>,
}

impl EventParser {
    /// Takes one line; returns the event it completes, if any.
    fn line(&mut self, line: &str) -> Option<Event> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            if self.data.is_empty() {
                self.name.clear();
                return None;
            }
            let name = std::mem::take(&mut self.name);
            return Some(Event {
                name: if name.is_empty() {
                    "message".to_string()
                } else {
                    name
                },
                data: std::mem::take(&mut self.data).join("\n"),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = value.to_string(),
            "data" => self.data.push(value.to_string()),
            _ => {}
        }
        None
    }
}

/// What an event prints, and whether it is a change (what `--count` counts).
fn render(event: &Event, json: bool) -> anyhow::Result<Option<(String, bool)>> {
    match event.name.as_str() {
        "change" => {
            let change: ChangeEvent = serde_json::from_str(&event.data).with_context(|| {
                format!("fednode sent a change that does not read: {}", event.data)
            })?;
            let line = if json {
                serde_json::to_string(&change)?
            } else {
                format!(
                    "{:<9}  {}  by {}  change {}  federation {}",
                    change.kind.name(),
                    change.document,
                    change.author,
                    change.change,
                    change.federation,
                )
            };
            Ok(Some((line, true)))
        }
        "lagged" => {
            let missed: u64 = event.data.trim().parse().unwrap_or(0);
            let line = if json {
                json!({ "lagged": missed }).to_string()
            } else {
                format!("lagged: {missed} changes missed; re-read the listings")
            };
            Ok(Some((line, false)))
        }
        _ => Ok(None),
    }
}

/// `fedctl events [--federation ID] [--count N]`
pub fn run(api: &ApiClient, args: &EventsArgs, json: bool) -> anyhow::Result<Report> {
    let path = match &args.federation {
        Some(f) => format!("/v1/events?federation={}", segment(f)),
        None => "/v1/events".to_string(),
    };
    let mut feed = api.stream(&path)?;
    let mut parser = EventParser::default();
    let mut changes = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let read = feed
            .read_line(&mut line)
            .with_context(|| format!("the event stream broke after {changes} changes"))?;
        if read == 0 {
            anyhow::bail!("fednode closed the event stream after {changes} changes");
        }
        let Some(event) = parser.line(&line) else {
            continue;
        };
        let Some((out, is_change)) = render(&event, json)? else {
            continue;
        };
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{out}").and_then(|()| stdout.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Report::printed()),
            other => other?,
        }
        if is_change {
            changes += 1;
            if args.count == Some(changes) {
                return Ok(Report::printed());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId};

    use super::*;

    fn events(stream: &str) -> Vec<Event> {
        let mut parser = EventParser::default();
        stream
            .split_inclusive('\n')
            .filter_map(|l| parser.line(l))
            .collect()
    }

    #[test]
    fn events_end_at_blank_lines_and_skip_keep_alives() {
        let got = events(
            ": keep-alive\r\n\r\nevent: change\r\ndata: {\"kind\":\"project\"}\r\n\r\n\
             event:lagged\ndata:3\n\ndata: a\ndata: b\n\n",
        );
        assert_eq!(
            got,
            [
                Event {
                    name: "change".into(),
                    data: "{\"kind\":\"project\"}".into()
                },
                Event {
                    name: "lagged".into(),
                    data: "3".into()
                },
                Event {
                    name: "message".into(),
                    data: "a\nb".into()
                },
            ]
        );
    }

    #[test]
    fn changes_print_as_json_lines_or_text() {
        let event = ChangeEvent {
            federation: FederationId([7; 32]),
            document: DocId::random(DocKind::Export, [1; 16]),
            kind: DocKind::Export,
            change: ChangeHash([9; 32]),
            author: PlatformId::from(&SigningKey::from_bytes(&[3; 32])),
        };
        let change = Event {
            name: "change".into(),
            data: serde_json::to_string(&event).unwrap(),
        };
        let (line, counted) = render(&change, true).unwrap().unwrap();
        assert!(counted);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap()["kind"],
            "export"
        );
        let (line, _) = render(&change, false).unwrap().unwrap();
        let start = format!("export     {}  by {}", event.document, event.author);
        assert!(line.starts_with(&start), "{line}");
        let lagged = Event {
            name: "lagged".into(),
            data: "7".into(),
        };
        let (line, counted) = render(&lagged, true).unwrap().unwrap();
        assert_eq!((line.as_str(), counted), (r#"{"lagged":7}"#, false));
        let bad = Event {
            name: "change".into(),
            data: "not json".into(),
        };
        assert!(render(&bad, true).is_err());
    }
}
