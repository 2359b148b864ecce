//! The text forms of projects: the listing's table, one project in full, and the catalog
//! entries and share recipients a project names.

use serde_json::Value;

use crate::cmd::answer::{fit, joined, or_dash, text};

/// The listing: one line per project, marking those whose code another project has.
pub fn table(projects: &[Value]) -> String {
    let mut out = format!(
        "{} projects\n{:<40}  {:<16}  {:<28}  {:<20}  {:<6}\n",
        projects.len(),
        "ID",
        "CODE",
        "NAME",
        "OWNER",
        "ACCESS"
    );
    for p in projects {
        let line = format!(
            "{:<40}  {:<16}  {:<28}  {:<20}  {:<6}{}",
            text(&p["id"]),
            fit(text(&p["code"]), 16),
            fit(text(&p["name"]), 28),
            fit(text(&p["owner_name"]), 20),
            text(&p["access"]),
            if has_conflicts(p) { "  CONFLICT" } else { "" },
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if projects.iter().any(has_conflicts) {
        out.push_str(
            "CONFLICT: another project seen here has the same code; rename or delete one \
             (see `fedctl projects show`)\n",
        );
    }
    out
}

/// Whether other projects seen here have the same code.
pub fn has_conflicts(project: &Value) -> bool {
    project["conflicts"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
}

/// Every detail of a project, one labelled line each.
pub fn details(p: &Value) -> String {
    let mut out = format!(
        "{}  {}{}\n",
        text(&p["code"]),
        text(&p["name"]),
        if p["deleted"] == true {
            "  (DELETED)"
        } else {
            ""
        }
    );
    let period = match (or_dash(&p["start_date"]), or_dash(&p["end_date"])) {
        ("-", "-") => "-".to_string(),
        (start, end) => format!("{start} to {end}"),
    };
    let rows = [
        ("id", text(&p["id"]).to_string()),
        (
            "owner",
            format!("{} ({})", text(&p["owner_name"]), text(&p["owner"])),
        ),
        ("access here", text(&p["access"]).to_string()),
        ("period", period),
        ("frameworks", joined(&p["regulatory_frameworks"])),
        ("entities", joined(&p["entities"])),
        (
            "description",
            or_dash(&p["description"]).replace('\n', "\n               "),
        ),
    ];
    for (label, value) in rows {
        out.push_str(&format!("  {label:<12} {value}\n"));
    }
    let members = p["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    out.push_str(&format!("members ({})\n", members.len()));
    for m in members {
        let line = format!(
            "  {} <{}> {}",
            text(&m["name"]),
            text(&m["email"]),
            text(&m["role"])
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let shares = p["shares"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    out.push_str(&format!("shared with ({})\n", shares.len()));
    for s in shares {
        out.push_str(&format!(
            "  {:<52}  {:<20}  {}\n",
            text(&s["platform_id"]),
            fit(text(&s["name"]), 20),
            text(&s["access"])
        ));
    }
    if has_conflicts(p) {
        out.push_str(&format!(
            "CONFLICT: the same code as {}; rename or delete one\n",
            joined(&p["conflicts"])
        ));
    }
    out
}

/// Catalog entries or share recipients, under `title`: id and name, and an entity's type
/// or a framework's URL.
pub fn catalog(items: &[Value], title: &str) -> String {
    let id = |item: &Value| {
        item["id"]
            .as_str()
            .or(item["platform_id"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let width = |f: &dyn Fn(&Value) -> String| {
        items
            .iter()
            .map(|i| f(i).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (id_width, name_width) = (width(&id), width(&|i| text(&i["name"]).to_string()));
    let mut out = format!("{} {}\n", items.len(), title.replace('_', " "));
    for item in items {
        let extra = item["entity_type"]
            .as_str()
            .map(|t| format!("type {t}"))
            .or(item["description_url"].as_str().map(str::to_string))
            .unwrap_or_default();
        let line = format!(
            "  {:<id_width$}  {:<name_width$}  {extra}",
            id(item),
            text(&item["name"])
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
    fn only_projects_in_conflict_are_marked() {
        let p = |id: &str, conflicts: Value| {
            json!({"id": id, "code": "C", "name": "N", "owner_name": "o", "access": "read",
                   "conflicts": conflicts})
        };
        let table = table(&[
            p("project:01", json!(["project:02"])),
            p("project:03", json!([])),
        ]);
        let marked: Vec<&str> = table
            .lines()
            .filter(|l| l.ends_with("  CONFLICT"))
            .collect();
        assert_eq!(marked.len(), 1, "{table}");
        assert!(marked[0].starts_with("project:01"), "{table}");
        assert!(table.contains("rename or delete one"), "{table}");
    }

    #[test]
    fn catalog_columns_fit_the_longest_entry() {
        let items = [
            json!({"id": "gdpr", "name": "GDPR", "description_url": "https://gdpr.eu"}),
            json!({"id": "hds", "name": "Health data hosting", "description_url": null}),
        ];
        assert_eq!(
            catalog(&items, "regulatory_frameworks"),
            "2 regulatory frameworks\n  gdpr  GDPR                 https://gdpr.eu\n  hds   Health data hosting\n"
        );
    }

    #[test]
    fn details_show_members_shares_and_conflicts() {
        let p = json!({
            "id": "project:01", "code": "DIAB", "name": "Diabetes", "owner": "12D3KooWo",
            "owner_name": "aphp", "access": "owner", "description": "Line one\nline two",
            "start_date": "2024-01-01", "end_date": null, "regulatory_frameworks": ["gdpr"],
            "entities": [], "members": [{"name": "Ada", "email": "ada@x", "role": ""}],
            "shares": [{"platform_id": "12D3KooWs", "name": "hcl", "access": "write"}],
            "deleted": true, "conflicts": ["project:02"],
        });
        let text = details(&p);
        for expected in [
            "DIAB  Diabetes  (DELETED)",
            "period       2024-01-01 to -",
            "frameworks   gdpr",
            "entities     -",
            "Line one\n               line two",
            "members (1)\n  Ada <ada@x>\n",
            "hcl                   write",
            "CONFLICT: the same code as project:02",
        ] {
            assert!(text.contains(expected), "{expected:?} in:\n{text}");
        }
    }
}
