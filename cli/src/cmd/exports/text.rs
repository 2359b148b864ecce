//! The text forms of export requests: the listing's table, and one request in full.

use serde_json::Value;

use crate::cmd::answer::{fit, joined, or_dash, text};

/// The listing: one line per request, with the platform on the other side.
pub fn table(exports: &[Value]) -> String {
    let mut out = format!(
        "{} export requests\n{:<39}  {:<9}  {:<24}  {:<16}  {:<20}  TITLE\n",
        exports.len(),
        "ID",
        "ROLE",
        "STATE",
        "PROJECT",
        "OTHER PLATFORM"
    );
    for e in exports {
        let line = format!(
            "{:<39}  {:<9}  {:<24}  {:<16}  {:<20}  {}",
            text(&e["id"]),
            text(&e["role"]),
            text(&e["state"]),
            fit(project_label(e), 16),
            fit(other_party(e), 20),
            text(&e["request"]["title"]),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The project's code when this platform can read the project, its id otherwise.
fn project_label(e: &Value) -> &str {
    e["project_code"]
        .as_str()
        .unwrap_or_else(|| text(&e["project"]))
}

/// The name of the platform on the other side of the request.
fn other_party(e: &Value) -> &str {
    match text(&e["role"]) {
        "requester" => text(&e["provider_name"]),
        _ => text(&e["requester_name"]),
    }
}

/// `at_ms` as a UTC time to the second, or the raw number if it is out of range.
fn time_of(at_ms: &Value) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    at_ms
        .as_i64()
        .and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| at_ms.to_string())
}

/// Every detail of a request: what is asked, where it stands, and its history.
pub fn details(e: &Value) -> String {
    let r = &e["request"];
    let mut out = format!("{}\n", text(&r["title"]));
    let next = joined(&e["next"]);
    let next = if next == "-" {
        "- (no step this platform may take now)".to_string()
    } else {
        next
    };
    let named = |name: &str, id: &str| format!("{} ({})", text(&e[name]), text(&e[id]));
    let mut rows = vec![
        ("id", text(&e["id"]).to_string()),
        ("state", text(&e["state"]).to_string()),
        ("next", next),
        ("role here", text(&e["role"]).to_string()),
        ("requester", named("requester_name", "requester")),
        ("provider", named("provider_name", "provider")),
        (
            "project",
            format!("{} ({})", or_dash(&e["project_code"]), text(&e["project"])),
        ),
    ];
    if let Some(c) = e["conditions"].as_str() {
        rows.push(("conditions", c.to_string()));
    }
    if let Some(d) = e["delivery_reference"].as_str() {
        rows.push(("delivered at", d.to_string()));
    }
    for (label, value) in rows {
        out.push_str(&format!("  {label:<13} {value}\n"));
    }
    let period = match (or_dash(&r["period_start"]), or_dash(&r["period_end"])) {
        ("-", "-") => "-".to_string(),
        (start, end) => format!("{start} to {end}"),
    };
    let request = [
        ("dataset", or_dash(&r["dataset"]).to_string()),
        ("variables", joined(&r["variables"])),
        ("period", period),
        ("population", or_dash(&r["population"]).to_string()),
        ("purpose", or_dash(&r["purpose"]).to_string()),
        ("legal basis", or_dash(&r["legal_basis"]).to_string()),
        (
            "pseudonymised",
            if r["pseudonymised"] == true {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ),
        ("delivery mode", or_dash(&r["delivery_mode"]).to_string()),
    ];
    out.push_str("request\n");
    for (label, value) in request {
        let value = value.replace('\n', "\n                  ");
        out.push_str(&format!("  {label:<14}  {value}\n"));
    }
    out.push_str(&history(e));
    out
}

/// The history table; a step superseded by a concurrent one is kept and marked.
fn history(e: &Value) -> String {
    let steps = e["history"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = format!(
        "history ({})\n  {:<20}  {:<24}  {:<24}  {:<20}  {:<10}  NOTE\n",
        steps.len(),
        "AT",
        "FROM",
        "TO",
        "BY",
        "APPLIED"
    );
    let author = |id: &str| {
        if id == text(&e["requester"]) {
            text(&e["requester_name"]).to_string()
        } else if id == text(&e["provider"]) {
            text(&e["provider_name"]).to_string()
        } else {
            id.to_string()
        }
    };
    for h in steps {
        let note: Vec<String> = [
            ("", &h["comment"]),
            ("conditions: ", &h["conditions"]),
            ("reference: ", &h["reference"]),
        ]
        .into_iter()
        .filter(|(_, v)| !text(v).is_empty())
        .map(|(label, v)| format!("{label}{}", text(v).replace('\n', " ")))
        .collect();
        let line = format!(
            "  {:<20}  {:<24}  {:<24}  {:<20}  {:<10}  {}",
            time_of(&h["at_ms"]),
            or_dash(&h["from"]),
            text(&h["to"]),
            fit(&author(text(&h["author"])), 20),
            if h["applied"] == false {
                "superseded"
            } else {
                "yes"
            },
            note.join("; "),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(time_of(&json!(0)), "1970-01-01 00:00:00Z");
        assert_eq!(time_of(&json!("x")), "\"x\"");
    }

    #[test]
    fn the_table_names_the_other_platform() {
        let e = json!({
            "id": "export:01", "role": "provider", "state": "submitted",
            "requester_name": "aphp", "provider_name": "hcl", "project": "project:01",
            "project_code": null, "request": {"title": "Cohort"},
        });
        let table = table(&[e]);
        let line = table.lines().nth(2).unwrap_or_default();
        assert!(line.starts_with("export:01"), "{table}");
        assert!(line.contains("  aphp  "), "{table}");
        assert!(
            line.contains("project:01") && line.ends_with("Cohort"),
            "{table}"
        );
    }
}
