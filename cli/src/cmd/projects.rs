//! Operator commands on projects, and on the node's copy of the catalog that projects name.

mod text;

use serde_json::{json, Map, Value};

use fed_crdt::chain::body::{Entity, EntityType, RegulatoryFramework};
use fednode::api::ShareRecipient;
use fednode::engine::projects::ProjectEntry;

use super::answer::{federation_path, json_file, one_entry, typed, NodeAnswer};
use crate::api_client::{segment, ApiClient};
use crate::args::{
    FederationArg, ProjectArg, ProjectCreateArgs, ProjectUpdateArgs, ProjectsCommand, ShareArgs,
    UnshareArgs,
};
use crate::report::Report;

/// A person working on a project, as given with `--member "Name <email> role"`: the
/// node's own type.
pub use fed_crdt::registry::projects::ProjectMember as Member;

const MEMBER_FORM: &str =
    "expected \"Name <email>\" or \"Name <email> role\", e.g. \"Ada Lovelace <ada@example.org> PI\"";

/// Parses a `--member` value. Only the shape is checked here; the node says what is wrong
/// with a name or an address that has the right shape.
pub fn parse_member(value: &str) -> Result<Member, String> {
    let (Some(open), Some(close)) = (value.find('<'), value.find('>')) else {
        return Err(format!("no <email> in it; {MEMBER_FORM}"));
    };
    if close < open {
        return Err(format!("`>` comes before `<`; {MEMBER_FORM}"));
    }
    let name = value[..open].trim();
    let email = value[open + 1..close].trim();
    let role = value[close + 1..].trim();
    if name.is_empty() {
        return Err(format!("no name before <email>; {MEMBER_FORM}"));
    }
    if email.is_empty() {
        return Err(format!("nothing between < and >; {MEMBER_FORM}"));
    }
    if email.contains('<') || role.contains(['<', '>']) {
        return Err(format!("more than one <email>; {MEMBER_FORM}"));
    }
    Ok(Member {
        name: name.to_string(),
        email: email.to_string(),
        role: role.to_string(),
    })
}

fn project_path(project: &ProjectArg) -> String {
    format!(
        "{}/projects/{}",
        federation_path(&project.federation),
        segment(&project.project)
    )
}

/// Runs one `fedctl projects ...` command.
pub fn run(api: &ApiClient, command: &ProjectsCommand) -> anyhow::Result<Report> {
    match command {
        ProjectsCommand::List(a) => list(api, a),
        ProjectsCommand::Show(a) => one(api.get(&project_path(a))?, None),
        ProjectsCommand::Create(a) => {
            let body = create_body(a)?;
            let path = format!("{}/projects", federation_path(&a.federation));
            one(api.post(&path, &body.to_string())?, Some("created"))
        }
        ProjectsCommand::Update(a) => {
            let body = patch_body(a)?;
            let path = project_path(&a.project);
            one(api.patch(&path, &body.to_string())?, Some("updated"))
        }
        ProjectsCommand::Share(a) => share(api, a),
        ProjectsCommand::Unshare(a) => unshare(api, a),
        ProjectsCommand::Delete(a) => one(api.delete(&project_path(a))?, Some("deleted")),
        ProjectsCommand::Recipients(a) => {
            catalog::<ShareRecipient>(api, a, "share-recipients", "recipients")
        }
        ProjectsCommand::Frameworks(a) => {
            catalog::<RegulatoryFramework>(api, a, "regulatory-frameworks", "regulatory_frameworks")
        }
        ProjectsCommand::EntityTypes(a) => {
            catalog::<EntityType>(api, a, "entity-types", "entity_types")
        }
        ProjectsCommand::Entities(a) => catalog::<Entity>(api, a, "entities", "entities"),
    }
}

/// The body of `POST .../projects`: every field, as the API requires them all.
fn create_body(args: &ProjectCreateArgs) -> anyhow::Result<Value> {
    if let Some(file) = &args.from_file {
        return json_file(file);
    }
    let d = &args.details;
    Ok(json!({
        "code": args.code.as_deref().unwrap_or_default(),
        "name": args.name.as_deref().unwrap_or_default(),
        "description": d.description.as_deref().unwrap_or_default(),
        "start_date": d.start_date,
        "end_date": d.end_date,
        "regulatory_frameworks": d.frameworks,
        "entities": d.entities,
        "members": d.members,
    }))
}

/// The body of `PATCH .../projects/{project}`: only what the flags change, so that a
/// concurrent edit of another field on another platform is kept.
fn patch_body(args: &ProjectUpdateArgs) -> anyhow::Result<Value> {
    let d = &args.details;
    let mut body = Map::new();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            body.insert(key.to_string(), v);
        }
    };
    let clear = |flag: bool| flag.then(|| Value::from(""));
    let list = |given: &[String], cleared: bool| {
        (!given.is_empty() || cleared).then(|| Value::from(given.to_vec()))
    };
    set("code", args.code.as_deref().map(Value::from));
    set("name", args.name.as_deref().map(Value::from));
    set("description", d.description.as_deref().map(Value::from));
    set(
        "start_date",
        d.start_date
            .as_deref()
            .map(Value::from)
            .or(clear(args.clear_start_date)),
    );
    set(
        "end_date",
        d.end_date
            .as_deref()
            .map(Value::from)
            .or(clear(args.clear_end_date)),
    );
    set(
        "regulatory_frameworks",
        list(&d.frameworks, args.clear_frameworks),
    );
    set("entities", list(&d.entities, args.clear_entities));
    if !d.members.is_empty() || args.clear_members {
        set("members", Some(serde_json::to_value(&d.members)?));
    }
    if body.is_empty() {
        anyhow::bail!(
            "nothing to change: give at least one of --code, --name, --description, \
             --start-date, --end-date, --framework, --entity, --member, or a --clear-... flag"
        );
    }
    Ok(Value::Object(body))
}

fn share(api: &ApiClient, args: &ShareArgs) -> anyhow::Result<Report> {
    let body = json!({"recipients": [{
        "platform_id": args.platform.trim(),
        "access": crate::args::value_name(&args.access),
    }]});
    let path = format!("{}/share", project_path(&args.project));
    one(api.post(&path, &body.to_string())?, Some("shared"))
}

fn unshare(api: &ApiClient, args: &UnshareArgs) -> anyhow::Result<Report> {
    let path = format!(
        "{}/shares/{}",
        project_path(&args.project),
        segment(&args.platform)
    );
    one(api.delete(&path)?, Some("unshared"))
}

/// `fedctl projects list`
fn list(api: &ApiClient, args: &FederationArg) -> anyhow::Result<Report> {
    let value = api.get(&format!("{}/projects", federation_path(args)))?;
    let projects: Vec<ProjectEntry> = typed(value.clone(), "a list of projects")?;
    let out = text::table(&projects);
    Ok(Report::new(&NodeAnswer {
        value: json!({ "projects": value }),
        text: out,
    }))
}

/// One project as the node answered it, with `done` saying what just happened to it.
fn one(value: Value, done: Option<&str>) -> anyhow::Result<Report> {
    let project: ProjectEntry = typed(value.clone(), "a project")?;
    one_entry(value, done, |_| text::details(&project))
}

/// A listing of `/v1/federations/{id}/{what}`: share recipients or catalog entries, with
/// their id and name (and an entity's type, a framework's URL).
fn catalog<T>(
    api: &ApiClient,
    args: &FederationArg,
    what: &str,
    key: &str,
) -> anyhow::Result<Report>
where
    T: text::CatalogItem + serde::de::DeserializeOwned,
{
    let value = api.get(&format!("{}/{what}", federation_path(args)))?;
    let items: Vec<T> = typed(
        value.clone(),
        &format!("a list of {}", key.replace('_', " ")),
    )?;
    Ok(Report::new(&NodeAnswer {
        value: json!({ key: value }),
        text: text::catalog(&items, key),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    #[test]
    fn members_parse_with_and_without_role() {
        assert_eq!(
            parse_member("Ada Lovelace <ada@example.org> Principal investigator"),
            Ok(Member {
                name: "Ada Lovelace".into(),
                email: "ada@example.org".into(),
                role: "Principal investigator".into(),
            })
        );
        let m = parse_member("  Bob <bob@example.org>  ").unwrap();
        assert_eq!((m.name.as_str(), m.role.as_str()), ("Bob", ""));
    }

    #[test]
    fn malformed_members_say_what_is_expected() {
        for bad in [
            "Ada ada@example.org",
            "<ada@example.org>",
            "Ada <>",
            "Ada >x< ",
            "Ada <a@b> <c@d>",
        ] {
            let err = parse_member(bad).unwrap_err();
            assert!(err.contains("expected \"Name <email>\""), "{bad}: {err}");
        }
    }

    fn command(args: &[&str]) -> ProjectsCommand {
        let all = ["fedctl", "projects"].iter().chain(args).copied();
        match Cli::try_parse_from(all).map(|c| c.command) {
            Ok(Command::Projects(c)) => c,
            other => panic!("expected a projects command: {other:?}"),
        }
    }

    const FED: [&str; 2] = ["--federation", "ab"];

    fn update(args: &[&str]) -> anyhow::Result<Value> {
        let all: Vec<&str> = ["update", "--project", "project:1"]
            .iter()
            .chain(&FED)
            .chain(args)
            .copied()
            .collect();
        match command(&all) {
            ProjectsCommand::Update(a) => patch_body(&a),
            other => panic!("expected update: {other:?}"),
        }
    }

    #[test]
    fn patches_carry_only_the_flags_given() {
        assert_eq!(update(&["--name", "New"]).unwrap(), json!({"name": "New"}));
        assert_eq!(
            update(&[
                "--clear-end-date",
                "--framework",
                "gdpr",
                "--framework",
                "hds"
            ])
            .unwrap(),
            json!({"end_date": "", "regulatory_frameworks": ["gdpr", "hds"]})
        );
        assert_eq!(
            update(&["--clear-members", "--clear-entities"]).unwrap(),
            json!({"members": [], "entities": []})
        );
        assert_eq!(
            update(&["--member", "A <a@x> PI"]).unwrap(),
            json!({"members": [{"name": "A", "email": "a@x", "role": "PI"}]})
        );
    }

    #[test]
    fn an_empty_patch_is_refused_here() {
        let err = update(&[]).unwrap_err().to_string();
        assert!(err.contains("nothing to change"), "{err}");
    }

    #[test]
    fn create_sends_every_field() {
        let all: Vec<&str> = ["create", "--code", "DIAB", "--name", "Diabetes"]
            .iter()
            .chain(&FED)
            .chain(&["--start-date", "2024-01-01", "--entity", "chu"])
            .copied()
            .collect();
        let ProjectsCommand::Create(a) = command(&all) else {
            panic!("expected create");
        };
        assert_eq!(
            create_body(&a).unwrap(),
            json!({
                "code": "DIAB", "name": "Diabetes", "description": "",
                "start_date": "2024-01-01", "end_date": null,
                "regulatory_frameworks": [], "entities": ["chu"], "members": [],
            })
        );
    }

    #[test]
    fn create_needs_code_and_name_or_a_file() {
        let parse = |args: &[&str]| {
            let all = ["fedctl", "projects", "create", "--federation", "ab"];
            Cli::try_parse_from(all.iter().chain(args))
        };
        assert!(parse(&["--code", "C"]).is_err());
        assert!(parse(&["--from-file", "p.json"]).is_ok());
        assert!(parse(&["--from-file", "p.json", "--code", "C"]).is_err());
        assert!(parse(&["--from-file", "p.json", "--entity", "e"]).is_err());
    }
}
