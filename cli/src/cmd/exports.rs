//! Operator commands on export requests: create and amend what is asked, and move a
//! request along its workflow.

mod text;

use fed_crdt::registry::exports::Transition;
use fednode::engine::exports::ExportEntry;
use serde_json::{json, Map, Value};

use super::answer::{federation_path, json_file, one_entry, typed, NodeAnswer};
use crate::api_client::{segment, ApiClient};
use crate::args::{
    value_name, ExportAmendArgs, ExportArg, ExportCreateArgs, ExportListArgs, ExportRequestArgs,
    ExportState, ExportsCommand,
};
use crate::report::Report;

fn export_path(export: &ExportArg) -> String {
    format!(
        "{}/exports/{}",
        federation_path(&export.federation),
        segment(&export.export)
    )
}

/// A move along the workflow, whichever command asked for it.
struct Step<'a> {
    export: &'a ExportArg,
    to: ExportState,
    comment: Option<&'a str>,
    conditions: Option<&'a str>,
    reference: Option<&'a str>,
}

impl<'a> Step<'a> {
    fn new(export: &'a ExportArg, to: ExportState, comment: Option<&'a str>) -> Step<'a> {
        Step {
            export,
            to,
            comment,
            conditions: None,
            reference: None,
        }
    }

    /// The body of `POST .../transitions`, the node's own type: the texts not given
    /// stay empty, and the node says which one a step needs.
    fn transition(&self) -> Transition {
        let text = |t: Option<&str>| t.unwrap_or_default().to_string();
        Transition {
            to: self.to,
            comment: text(self.comment),
            conditions: text(self.conditions),
            reference: text(self.reference),
        }
    }
}

/// Runs one `fedctl exports ...` command.
pub fn run(api: &ApiClient, command: &ExportsCommand) -> anyhow::Result<Report> {
    let step = match command {
        ExportsCommand::List(a) => return list(api, a),
        ExportsCommand::Show(a) => return one(api.get(&export_path(a))?, None),
        ExportsCommand::Create(a) => return create(api, a),
        ExportsCommand::Amend(a) => return amend(api, a),
        _ => step_of(command),
    };
    let Some(step) = step else {
        anyhow::bail!("internal error: `exports` command without a workflow step");
    };
    let path = format!("{}/transitions", export_path(step.export));
    let value = api.post(&path, &serde_json::to_string(&step.transition())?)?;
    let done = format!("moved to {}", step.to.name());
    one(value, Some(&done))
}

/// The workflow step a command asks for; `None` for the commands that are not steps.
fn step_of(command: &ExportsCommand) -> Option<Step<'_>> {
    use ExportState as S;
    use ExportsCommand as C;
    Some(match command {
        C::List(_) | C::Show(_) | C::Create(_) | C::Amend(_) => return None,
        C::Transition(a) => Step {
            conditions: a.conditions.as_deref(),
            reference: a.reference.as_deref(),
            ..Step::new(&a.export, a.to, a.comment.as_deref())
        },
        C::Submit(a) => Step::new(&a.export, S::Submitted, a.comment.as_deref()),
        C::Cancel(a) => Step::new(&a.export, S::Cancelled, a.comment.as_deref()),
        C::Close(a) => Step::new(&a.export, S::Closed, a.comment.as_deref()),
        C::RequestInfo(a) => Step::new(&a.export, S::InformationRequested, a.comment.as_deref()),
        C::Prepare(a) => Step::new(&a.export, S::InPreparation, a.comment.as_deref()),
        C::Revoke(a) => Step::new(&a.export, S::Revoked, a.comment.as_deref()),
        C::Reject(a) => Step::new(&a.export, S::Rejected, Some(&a.comment)),
        C::Approve(a) => {
            let to = match a.conditions {
                Some(_) => S::ApprovedWithConditions,
                None => S::Approved,
            };
            Step {
                conditions: a.conditions.as_deref(),
                ..Step::new(&a.step.export, to, a.step.comment.as_deref())
            }
        }
        C::Deliver(a) => Step {
            reference: Some(&a.reference),
            ..Step::new(&a.step.export, S::Delivered, a.step.comment.as_deref())
        },
    })
}

/// A request with every field at its empty value: what `create` fills from the flags.
fn empty_request() -> Map<String, Value> {
    let value = json!({
        "title": "", "dataset": "", "variables": [], "period_start": null,
        "period_end": null, "population": "", "purpose": "", "legal_basis": "",
        "pseudonymised": false, "delivery_mode": "",
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Writes the fields given on the command line over `request`; returns whether any was.
fn apply(request: &mut Map<String, Value>, title: Option<&str>, r: &ExportRequestArgs) -> bool {
    let texts = [
        ("title", title),
        ("dataset", r.dataset.as_deref()),
        ("period_start", r.period_start.as_deref()),
        ("period_end", r.period_end.as_deref()),
        ("population", r.population.as_deref()),
        ("purpose", r.purpose.as_deref()),
        ("legal_basis", r.legal_basis.as_deref()),
        ("delivery_mode", r.delivery_mode.as_deref()),
    ];
    let mut given = false;
    for (key, value) in texts {
        if let Some(v) = value {
            request.insert(key.to_string(), Value::from(v));
            given = true;
        }
    }
    if !r.variables.is_empty() {
        request.insert("variables".into(), Value::from(r.variables.clone()));
        given = true;
    }
    if let Some(p) = r.pseudonymised {
        request.insert("pseudonymised".into(), Value::from(p));
        given = true;
    }
    given
}

/// The body of `POST .../exports`.
fn create_body(args: &ExportCreateArgs) -> anyhow::Result<Value> {
    let request = match &args.from_file {
        Some(file) => json_file(file)?,
        None => {
            let mut request = empty_request();
            apply(&mut request, args.title.as_deref(), &args.request);
            Value::Object(request)
        }
    };
    Ok(json!({
        "provider": args.provider.trim(),
        "project": args.project.trim(),
        "request": request,
    }))
}

fn create(api: &ApiClient, args: &ExportCreateArgs) -> anyhow::Result<Report> {
    let body = create_body(args)?;
    let path = format!("{}/exports", federation_path(&args.federation));
    one(api.post(&path, &body.to_string())?, Some("created"))
}

/// The whole new request of `amend`: `current` with the fields given replaced, since the
/// API takes the request whole.
fn amended(current: &Value, args: &ExportAmendArgs) -> anyhow::Result<Value> {
    let Some(current) = current.as_object() else {
        anyhow::bail!("fednode answered the export request without its `request` object");
    };
    let mut request = current.clone();
    let mut given = apply(&mut request, args.title.as_deref(), &args.request);
    for (flag, key, empty) in [
        (args.clear_variables, "variables", json!([])),
        (args.clear_period_start, "period_start", Value::Null),
        (args.clear_period_end, "period_end", Value::Null),
    ] {
        if flag {
            request.insert(key.to_string(), empty);
            given = true;
        }
    }
    if !given {
        anyhow::bail!(
            "nothing to change: give at least one of --title, --dataset, --variable, \
             --period-start, --period-end, --population, --purpose, --legal-basis, \
             --pseudonymised, --delivery-mode, a --clear-... flag, or --from-file"
        );
    }
    Ok(Value::Object(request))
}

fn amend(api: &ApiClient, args: &ExportAmendArgs) -> anyhow::Result<Report> {
    let request = match &args.from_file {
        Some(file) => json_file(file)?,
        None => {
            // Tried on an empty request first, so that a command with nothing to change
            // is told so without reaching the node.
            amended(&json!({}), args)?;
            amended(&api.get(&export_path(&args.export))?["request"], args)?
        }
    };
    let path = format!("{}/request", export_path(&args.export));
    one(api.put(&path, &request.to_string())?, Some("amended"))
}

/// `fedctl exports list`
fn list(api: &ApiClient, args: &ExportListArgs) -> anyhow::Result<Report> {
    let mut query = Vec::new();
    if let Some(state) = &args.state {
        query.push(format!("state={}", state.name()));
    }
    if let Some(role) = &args.role {
        query.push(format!("role={}", value_name(role)));
    }
    let mut path = format!("{}/exports", federation_path(&args.federation));
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let value = api.get(&path)?;
    let exports: Vec<ExportEntry> = typed(value.clone(), "a list of export requests")?;
    let out = text::table(&exports);
    Ok(Report::new(&NodeAnswer {
        value: json!({ "exports": value }),
        text: out,
    }))
}

/// One request as the node answered it, with `done` saying what just happened to it.
fn one(value: Value, done: Option<&str>) -> anyhow::Result<Report> {
    let export: ExportEntry = typed(value.clone(), "an export request")?;
    one_entry(value, done, |_| text::details(&export))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn command(args: &[&str]) -> ExportsCommand {
        let all = ["fedctl", "exports"].iter().chain(args).copied();
        match Cli::try_parse_from(all).map(|c| c.command) {
            Ok(Command::Exports(c)) => c,
            other => panic!("expected an exports command: {other:?}"),
        }
    }

    const EXPORT: [&str; 4] = ["--federation", "ab", "--export", "export:1"];

    fn with_export<'a>(verb: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        std::iter::once(verb)
            .chain(EXPORT)
            .chain(args.iter().copied())
            .collect()
    }

    #[test]
    fn create_fills_every_field_from_the_flags() {
        let ExportsCommand::Create(a) = command(&[
            "create",
            "--federation",
            "ab",
            "--provider",
            "12D3KooWx",
            "--project",
            "project:1",
            "--title",
            "Cohort",
            "--variable",
            "age",
            "--variable",
            "sex",
            "--pseudonymised",
        ]) else {
            panic!("expected create");
        };
        let body = create_body(&a).unwrap();
        assert_eq!(body["provider"], "12D3KooWx");
        assert_eq!(body["request"]["title"], "Cohort");
        assert_eq!(body["request"]["variables"], json!(["age", "sex"]));
        assert_eq!(body["request"]["pseudonymised"], true);
        assert_eq!(body["request"]["period_start"], Value::Null);
        assert_eq!(
            body["request"].as_object().map(Map::len),
            Some(10),
            "{body}"
        );
    }

    fn amend(args: &[&str]) -> anyhow::Result<Value> {
        let current = json!({
            "title": "Old", "dataset": "d", "variables": ["a"], "period_start": "2020-01-01",
            "period_end": null, "population": "p", "purpose": "u", "legal_basis": "l",
            "pseudonymised": true, "delivery_mode": "sftp",
        });
        match command(&with_export("amend", args)) {
            ExportsCommand::Amend(a) => amended(&current, &a),
            other => panic!("expected amend: {other:?}"),
        }
    }

    #[test]
    fn amend_replaces_only_the_fields_given() {
        let new = amend(&["--title", "New", "--pseudonymised=false"]).unwrap();
        assert_eq!(new["title"], "New");
        assert_eq!(new["pseudonymised"], false);
        assert_eq!(new["dataset"], "d");
        assert_eq!(new["period_start"], "2020-01-01");
        let new = amend(&["--clear-period-start", "--clear-variables"]).unwrap();
        assert_eq!(new["period_start"], Value::Null);
        assert_eq!(new["variables"], json!([]));
        assert_eq!(new["title"], "Old");
        assert!(amend(&[]).is_err(), "nothing to change");
    }

    fn transition_of(args: &[&str]) -> Transition {
        let c = command(args);
        match step_of(&c) {
            Some(step) => step.transition(),
            None => panic!("not a step: {c:?}"),
        }
    }

    fn step(to: ExportState, text: impl FnOnce(&mut Transition)) -> Transition {
        let mut t = Transition {
            to,
            ..Transition::default()
        };
        text(&mut t);
        t
    }

    #[test]
    fn transitions_send_the_texts_given() {
        use ExportState as S;
        assert_eq!(
            transition_of(&with_export(
                "transition",
                &["--to", "information_requested"]
            )),
            step(S::InformationRequested, |_| {})
        );
        assert_eq!(
            transition_of(&with_export(
                "transition",
                &["--to", "rejected", "--comment", "No basis"]
            )),
            step(S::Rejected, |t| t.comment = "No basis".into())
        );
        assert_eq!(
            transition_of(&with_export("deliver", &["--reference", "sftp://x"])),
            step(S::Delivered, |t| t.reference = "sftp://x".into())
        );
        assert_eq!(
            transition_of(&with_export("approve", &[])),
            step(S::Approved, |_| {})
        );
        assert_eq!(
            transition_of(&with_export(
                "approve",
                &["--conditions", "Aggregates only"]
            )),
            step(S::ApprovedWithConditions, |t| t.conditions =
                "Aggregates only".into())
        );
        assert_eq!(
            transition_of(&with_export("request-info", &["--comment", "Which years?"])),
            step(S::InformationRequested, |t| t.comment =
                "Which years?".into())
        );
        // What the node parses: the same type, field for field.
        let sent =
            serde_json::to_string(&step(S::Rejected, |t| t.comment = "x".into())).expect("json");
        let parsed: Transition = serde_json::from_str(&sent).expect("the node's type");
        assert_eq!(parsed, step(S::Rejected, |t| t.comment = "x".into()));
    }

    #[test]
    fn verbs_need_what_their_step_needs() {
        let parse = |args: Vec<&str>| {
            let all = ["fedctl", "exports"].into_iter().chain(args);
            Cli::try_parse_from(all)
        };
        assert!(parse(with_export("deliver", &[])).is_err());
        assert!(parse(with_export("reject", &[])).is_err());
        assert!(parse(with_export("submit", &[])).is_ok());
        assert!(parse(with_export("approve", &["--conditions", "c"])).is_ok());
    }
}
