//! What a command prints: one JSON object with `--json`, text otherwise (the live feed,
//! which prints as it goes, one JSON object per line); and the one error type whose exit
//! code differs (a refusal by the chain's rules or by the node).

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;
use serde_json::Value;

/// A command's result, ready to print either way.
pub struct Report {
    json: Value,
    text: String,
    /// Set when the command already printed its output as it went (the live feed).
    printed: bool,
}

impl Report {
    /// Captures an output's JSON and text forms.
    pub fn new<T: Serialize + Display>(output: &T) -> Report {
        Report {
            json: serde_json::to_value(output).unwrap_or(Value::Null),
            text: output.to_string(),
            printed: false,
        }
    }

    /// The result of a command that printed its output line by line as it came.
    pub fn printed() -> Report {
        Report {
            json: Value::Null,
            text: String::new(),
            printed: true,
        }
    }

    /// Prints to stdout in the chosen form. A closed pipe is not an error.
    pub fn print(&self, json: bool) -> std::io::Result<()> {
        if self.printed {
            return Ok(());
        }
        let out = if json {
            format!("{}\n", self.json)
        } else {
            let mut t = self.text.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t
        };
        match std::io::stdout().write_all(out.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// The chain's rules refuse something: an invalid chain, or a record that would be
/// invalid. Exit code 1, unlike usage and file errors (2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// One line saying what is refused and why.
    pub message: String,
    /// Structured details for `--json` (e.g. the first bad record's seq).
    pub detail: Value,
}

impl Refused {
    /// A refusal with no structured details.
    pub fn new(message: impl Into<String>) -> Refused {
        Refused {
            message: message.into(),
            detail: Value::Null,
        }
    }
}
