//! The text forms of export requests: the listing's table, and one request in full.

use fed_crdt::registry::exports::{ExportState, Party};
use fednode::engine::exports::ExportEntry;

use crate::cmd::answer::{fit, joined, or_dash as dash};

/// The listing: one line per request, with the platform on the other side.
pub fn table(exports: &[ExportEntry]) -> String {
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
            e.id.to_string(),
            e.role.name(),
            e.state.name(),
            fit(&project_label(e), 16),
            fit(other_party(e), 20),
            e.request.title,
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The project's code when this platform can read the project, its id otherwise.
fn project_label(e: &ExportEntry) -> String {
    e.project_code
        .clone()
        .unwrap_or_else(|| e.project.to_string())
}

/// The name of the platform on the other side of the request.
fn other_party(e: &ExportEntry) -> &str {
    match e.role {
        Party::Requester => &e.provider_name,
        Party::Provider => &e.requester_name,
    }
}

/// `at_ms` as a UTC time to the second, or the raw number if it is out of range.
fn time_of(at_ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| at_ms.to_string())
}

/// Every detail of a request: what is asked, where it stands, and its history.
pub fn details(e: &ExportEntry) -> String {
    let r = &e.request;
    let mut out = format!("{}\n", r.title);
    let next = if e.next.is_empty() {
        "- (no step this platform may take now)".to_string()
    } else {
        joined(&e.next)
    };
    let mut rows = vec![
        ("id", e.id.to_string()),
        ("state", e.state.name().to_string()),
        ("next", next),
        ("role here", e.role.name().to_string()),
        (
            "requester",
            format!("{} ({})", e.requester_name, e.requester),
        ),
        ("provider", format!("{} ({})", e.provider_name, e.provider)),
        (
            "project",
            format!("{} ({})", dash(e.project_code.as_deref()), e.project),
        ),
    ];
    if let Some(c) = &e.conditions {
        rows.push(("conditions", c.clone()));
    }
    if let Some(d) = &e.delivery_reference {
        rows.push(("delivered at", d.clone()));
    }
    for (label, value) in rows {
        out.push_str(&format!("  {label:<13} {value}\n"));
    }
    let period = match (
        dash(r.period_start.as_deref()),
        dash(r.period_end.as_deref()),
    ) {
        ("-", "-") => "-".to_string(),
        (start, end) => format!("{start} to {end}"),
    };
    let request = [
        ("dataset", dash(Some(&r.dataset)).to_string()),
        ("variables", joined(&r.variables)),
        ("period", period),
        ("population", dash(Some(&r.population)).to_string()),
        ("purpose", dash(Some(&r.purpose)).to_string()),
        ("legal basis", dash(Some(&r.legal_basis)).to_string()),
        (
            "pseudonymised",
            if r.pseudonymised { "yes" } else { "no" }.to_string(),
        ),
        ("delivery mode", dash(Some(&r.delivery_mode)).to_string()),
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
fn history(e: &ExportEntry) -> String {
    let mut out = format!(
        "history ({})\n  {:<20}  {:<24}  {:<24}  {:<20}  {:<10}  NOTE\n",
        e.history.len(),
        "AT",
        "FROM",
        "TO",
        "BY",
        "APPLIED"
    );
    let author = |id: &fed_crdt::ids::PlatformId| {
        if *id == e.requester {
            e.requester_name.clone()
        } else if *id == e.provider {
            e.provider_name.clone()
        } else {
            id.to_string()
        }
    };
    for h in &e.history {
        let note: Vec<String> = [
            ("", &h.comment),
            ("conditions: ", &h.conditions),
            ("reference: ", &h.reference),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(label, v)| format!("{label}{}", v.replace('\n', " ")))
        .collect();
        let line = format!(
            "  {:<20}  {:<24}  {:<24}  {:<20}  {:<10}  {}",
            time_of(h.at_ms),
            h.from.map_or("-", ExportState::name),
            h.to.name(),
            fit(&author(&h.author), 20),
            if h.applied { "yes" } else { "superseded" },
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
    use fed_crdt::ids::{DocId, DocKind, PlatformId};
    use fed_crdt::registry::exports::ExportRequest;
    use fednode::engine::exports::HistoryItem;

    fn platform(seed: u8) -> PlatformId {
        PlatformId::from(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    /// A request as the node would answer it, read back the way fedctl reads answers.
    fn entry(role: Party) -> ExportEntry {
        let entry = ExportEntry {
            id: DocId::derive(DocKind::Export, &platform(1), [1; 16]),
            role,
            requester: platform(1),
            requester_name: "aphp".into(),
            provider: platform(2),
            provider_name: "hcl".into(),
            project: DocId::derive(DocKind::Project, &platform(1), [2; 16]),
            project_code: None,
            request: ExportRequest {
                title: "Cohort".into(),
                variables: vec!["age".into(), "sex".into()],
                pseudonymised: true,
                ..ExportRequest::default()
            },
            state: ExportState::Submitted,
            conditions: None,
            delivery_reference: None,
            next: vec![],
            history: vec![HistoryItem {
                from: None,
                to: ExportState::Submitted,
                author: platform(1),
                at_ms: 0,
                comment: "Please".into(),
                conditions: String::new(),
                reference: String::new(),
                applied: false,
            }],
            heads: vec![],
        };
        let wire = serde_json::to_value(&entry).expect("serialises");
        serde_json::from_value(wire).expect("the node's answer reads back")
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(time_of(0), "1970-01-01 00:00:00Z");
        assert_eq!(time_of(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn the_table_names_the_other_platform() {
        let e = entry(Party::Provider);
        let table = table(std::slice::from_ref(&e));
        let line = table.lines().nth(2).unwrap_or_default();
        assert!(line.starts_with(&e.id.to_string()), "{table}");
        assert!(line.contains("  aphp  "), "{table}");
        let project = e.project.to_string();
        assert!(
            line.contains(&project[..15]) && line.ends_with("Cohort"),
            "{table}"
        );
    }

    #[test]
    fn details_show_the_request_and_its_history() {
        let text = details(&entry(Party::Requester));
        for expected in [
            "next          - (no step this platform may take now)",
            "variables       age, sex",
            "pseudonymised   yes",
            "superseded  Please",
        ] {
            assert!(text.contains(expected), "{expected:?} in:\n{text}");
        }
    }
}
