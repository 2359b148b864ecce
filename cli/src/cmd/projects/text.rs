//! The text forms of projects: the listing's table, one project in full, and the catalog
//! entries and share recipients a project names.

use fed_crdt::chain::body::{Entity, EntityType, RegulatoryFramework};
use fednode::api::ShareRecipient;
use fednode::engine::projects::ProjectEntry;

use crate::cmd::answer::{fit, joined, or_dash as dash};

/// The listing: one line per project, marking those whose code another project has.
pub fn table(projects: &[ProjectEntry]) -> String {
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
            p.id.to_string(),
            fit(&p.project.code, 16),
            fit(&p.project.name, 28),
            fit(&p.owner_name, 20),
            p.access.name(),
            if p.conflicts.is_empty() {
                ""
            } else {
                "  CONFLICT"
            },
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if projects.iter().any(|p| !p.conflicts.is_empty()) {
        out.push_str(
            "CONFLICT: another project seen here has the same code; rename or delete one \
             (see `fedctl projects show`)\n",
        );
    }
    out
}

/// Every detail of a project, one labelled line each.
pub fn details(p: &ProjectEntry) -> String {
    let d = &p.project;
    let mut out = format!(
        "{}  {}{}\n",
        d.code,
        d.name,
        if p.deleted { "  (DELETED)" } else { "" }
    );
    let period = match (dash(d.start_date.as_deref()), dash(d.end_date.as_deref())) {
        ("-", "-") => "-".to_string(),
        (start, end) => format!("{start} to {end}"),
    };
    let rows = [
        ("id", p.id.to_string()),
        ("owner", format!("{} ({})", p.owner_name, p.owner)),
        ("access here", p.access.name().to_string()),
        ("period", period),
        ("frameworks", joined(&d.regulatory_frameworks)),
        ("entities", joined(&d.entities)),
        (
            "description",
            dash(Some(&d.description)).replace('\n', "\n               "),
        ),
    ];
    for (label, value) in rows {
        out.push_str(&format!("  {label:<12} {value}\n"));
    }
    out.push_str(&format!("members ({})\n", d.members.len()));
    for m in &d.members {
        let line = format!("  {} <{}> {}", m.name, m.email, m.role);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("shared with ({})\n", p.shares.len()));
    for s in &p.shares {
        out.push_str(&format!(
            "  {:<52}  {:<20}  {}\n",
            s.platform_id.to_string(),
            fit(&s.name, 20),
            s.access.name()
        ));
    }
    if !p.conflicts.is_empty() {
        out.push_str(&format!(
            "CONFLICT: the same code as {}; rename or delete one\n",
            joined(&p.conflicts)
        ));
    }
    out
}

/// One line of a catalog listing: an entry's id, its name, and what else identifies it
/// (an entity's type, a framework's URL).
pub trait CatalogItem {
    /// The id, the name and the rest.
    fn columns(&self) -> (String, String, String);
}

impl CatalogItem for RegulatoryFramework {
    fn columns(&self) -> (String, String, String) {
        let url = self.description_url.clone().unwrap_or_default();
        (self.id.clone(), self.name.clone(), url)
    }
}

impl CatalogItem for EntityType {
    fn columns(&self) -> (String, String, String) {
        (self.id.clone(), self.name.clone(), String::new())
    }
}

impl CatalogItem for Entity {
    fn columns(&self) -> (String, String, String) {
        let kind = format!("type {}", self.entity_type);
        (self.id.clone(), self.name.clone(), kind)
    }
}

impl CatalogItem for ShareRecipient {
    fn columns(&self) -> (String, String, String) {
        (
            self.platform_id.to_string(),
            self.name.clone(),
            String::new(),
        )
    }
}

/// Catalog entries or share recipients, under `title`, in columns as wide as their
/// longest entry.
pub fn catalog<T: CatalogItem>(items: &[T], title: &str) -> String {
    let rows: Vec<_> = items.iter().map(CatalogItem::columns).collect();
    let width = |f: fn(&(String, String, String)) -> &String| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0)
    };
    let (id_width, name_width) = (width(|r| &r.0), width(|r| &r.1));
    let mut out = format!("{} {}\n", rows.len(), title.replace('_', " "));
    for (id, name, extra) in &rows {
        let line = format!("  {id:<id_width$}  {name:<name_width$}  {extra}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_crdt::ids::{DocId, DocKind, PlatformId};
    use fed_crdt::registry::projects::{Access, Project, ProjectMember};
    use fednode::engine::projects::{ProjectAccess, ShareEntry};
    use serde_json::json;

    fn platform(seed: u8) -> PlatformId {
        PlatformId::from(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    fn doc(seed: u8) -> DocId {
        DocId::derive(DocKind::Project, &platform(1), [seed; 16])
    }

    /// A project as the node would answer it, read back the way fedctl reads answers.
    fn entry(id: DocId, conflicts: Vec<DocId>) -> ProjectEntry {
        let entry = ProjectEntry {
            id,
            owner: platform(1),
            owner_name: "aphp".into(),
            access: ProjectAccess::Owner,
            project: Project {
                code: "DIAB".into(),
                name: "Diabetes".into(),
                description: "Line one\nline two".into(),
                start_date: Some("2024-01-01".into()),
                end_date: None,
                regulatory_frameworks: vec!["gdpr".into()],
                entities: vec![],
                members: vec![ProjectMember {
                    name: "Ada".into(),
                    email: "ada@x".into(),
                    role: String::new(),
                }],
            },
            shares: vec![ShareEntry {
                platform_id: platform(2),
                name: "hcl".into(),
                access: Access::Write,
            }],
            deleted: true,
            conflicts,
            heads: vec![],
        };
        let wire = serde_json::to_value(&entry).expect("serialises");
        serde_json::from_value(wire).expect("the node's answer reads back")
    }

    #[test]
    fn only_projects_in_conflict_are_marked() {
        let table = table(&[entry(doc(1), vec![doc(2)]), entry(doc(3), vec![])]);
        let marked: Vec<&str> = table
            .lines()
            .filter(|l| l.ends_with("  CONFLICT"))
            .collect();
        assert_eq!(marked.len(), 1, "{table}");
        assert!(marked[0].starts_with(&doc(1).to_string()), "{table}");
        assert!(table.contains("rename or delete one"), "{table}");
    }

    #[test]
    fn catalog_columns_fit_the_longest_entry() {
        let framework = |id: &str, name: &str, url: Option<&str>| RegulatoryFramework {
            id: id.into(),
            name: name.into(),
            description_url: url.map(str::to_string),
        };
        let items = [
            framework("gdpr", "GDPR", Some("https://gdpr.eu")),
            framework("hds", "Health data hosting", None),
        ];
        assert_eq!(
            catalog(&items, "regulatory_frameworks"),
            "2 regulatory frameworks\n  gdpr  GDPR                 https://gdpr.eu\n  hds   Health data hosting\n"
        );
    }

    #[test]
    fn details_show_members_shares_and_conflicts() {
        let text = details(&entry(doc(1), vec![doc(2)]));
        for expected in [
            "DIAB  Diabetes  (DELETED)".to_string(),
            "period       2024-01-01 to -".into(),
            "frameworks   gdpr".into(),
            "entities     -".into(),
            "access here  owner".into(),
            "Line one\n               line two".into(),
            "members (1)\n  Ada <ada@x>\n".into(),
            "hcl                   write".into(),
            format!("CONFLICT: the same code as {}", doc(2)),
        ] {
            assert!(text.contains(&expected), "{expected:?} in:\n{text}");
        }
    }

    #[test]
    fn an_answer_that_is_not_a_project_is_named_as_such() {
        let e = crate::cmd::answer::typed::<ProjectEntry>(json!({"id": "x"}), "a project")
            .expect_err("not a project");
        assert!(e.to_string().contains("does not read as a project"), "{e}");
    }
}
