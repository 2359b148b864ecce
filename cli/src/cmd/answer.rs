//! What the operator commands share: the node's answer as a report, and the small text
//! helpers their tables use.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::api_client::segment;
use crate::args::FederationArg;

/// Any JSON answer of the node, printed as-is with `--json` and summarised otherwise.
#[derive(Serialize)]
#[serde(transparent)]
pub struct NodeAnswer {
    /// The answer, or the object wrapping a listing (`--json` prints one object).
    pub value: Value,
    /// The text form.
    #[serde(skip)]
    pub text: String,
}

impl fmt::Display for NodeAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `/v1/federations/{id}`, the prefix of every path about one federation.
pub fn federation_path(federation: &FederationArg) -> String {
    format!("/v1/federations/{}", segment(&federation.federation))
}

/// A string field of an answer, or `""` when the node left it out.
pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// A text, or `-` when absent or empty, so that table columns stay aligned.
pub fn or_dash(text: Option<&str>) -> &str {
    text.filter(|t| !t.is_empty()).unwrap_or("-")
}

/// `items` joined with `, `, or `-` when there are none.
pub fn joined<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `text` cut to `width` characters (ending in `…` when cut), so that one long name does
/// not push a table's later columns out of line.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The JSON body of a file given with `--from-file`, checked to be JSON here so that a
/// typo is reported against the file rather than as the node's refusal.
pub fn json_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--from-file {}: cannot read it: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--from-file {}: not JSON: {e}", path.display()))
}

/// The node's answer read as `T` (one of the node's own reply types), or an error saying
/// what it was expected to be.
pub fn typed<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .map_err(|e| anyhow::anyhow!("fednode's answer does not read as {what}: {e}"))
}

/// One entry as the node answered it (a project, an export request), with `done` saying
/// what just happened to it, and `details` its text form.
pub fn one_entry(
    value: Value,
    done: Option<&str>,
    details: impl Fn(&Value) -> String,
) -> anyhow::Result<crate::report::Report> {
    let mut out = String::new();
    if let Some(done) = done {
        out.push_str(&format!("{done} {}\n", text(&value["id"])));
    }
    out.push_str(&details(&value));
    Ok(crate::report::Report::new(&NodeAnswer { value, text: out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_long_text_only() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("a much longer name", 8), "a much …");
    }

    #[test]
    fn missing_fields_read_as_dashes() {
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some("")), "-");
        assert_eq!(or_dash(Some("x")), "x");
        assert_eq!(joined::<String>(&[]), "-");
        assert_eq!(joined(&["a", "b"]), "a, b");
    }
}
