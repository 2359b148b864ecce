//! `fedctl`: administrator commands on membership chains, keys and identity cards, and
//! operator commands on a running node (platforms, projects, export requests, the feed).
//!
//! Exit codes: 0 success; 1 refused by the chain's rules or by the node; 2 usage, file,
//! key or connection error.

mod api_client;
mod args;
mod chainfile;
mod cmd;
mod report;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use args::{
    CatalogCommand, Cli, Command, FederationCommand, KeyCommand, MembershipCommand,
    PlatformsCommand,
};
use report::{Refused, Report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).and_then(|report| Ok(report.print(json)?)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let refused = err.downcast_ref::<Refused>();
            eprintln!("fedctl: {err:#}");
            if json {
                let mut error = json!({
                    "kind": if refused.is_some() { "refused" } else { "error" },
                    "message": format!("{err:#}"),
                });
                if let Some(detail) = refused.map(|r| &r.detail).filter(|d| d.is_object()) {
                    if let (Some(e), Some(d)) = (error.as_object_mut(), detail.as_object()) {
                        e.extend(d.clone());
                    }
                }
                println!("{}", json!({ "error": error }));
            }
            ExitCode::from(if refused.is_some() { 1 } else { 2 })
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Report> {
    use cmd::*;
    let api_with = |timeout| {
        api_client::ApiClient::resolve(
            cli.data_dir.as_deref(),
            cli.api.as_deref(),
            cli.token_file.as_deref(),
            timeout,
        )
    };
    let api = || api_with(Some(api_client::REQUEST_TIMEOUT));
    match &cli.command {
        Command::Status => node::status(&api()?),
        Command::Platforms(PlatformsCommand::List(a)) => node::platforms(&api()?, a),
        Command::Platforms(PlatformsCommand::SetProfile(a)) => node::set_profile(&api()?, a),
        Command::Refusals(a) => node::refusals(&api()?, a),
        Command::Peers => node::peers(&api()?),
        Command::Federation(FederationCommand::Join(a)) => node::join(&api()?, a),
        Command::Federation(FederationCommand::List) => node::list(&api()?),
        Command::Projects(c) => projects::run(&api()?, c),
        Command::Exports(c) => exports::run(&api()?, c),
        // The feed stays open as long as the node runs: no overall time limit.
        Command::Events(a) => events::run(&api_with(None)?, a, cli.json),

        Command::Key(KeyCommand::New(a)) => key::new(a),
        Command::Key(KeyCommand::Public(a)) => key::public(a),
        Command::Federation(FederationCommand::New(a)) => federation::new(a),
        Command::Membership(m) => match m {
            MembershipCommand::Add(a) => membership::add(a),
            MembershipCommand::Update(a) => membership::update(a),
            MembershipCommand::Revoke(a) => membership::revoke(a),
            MembershipCommand::RotateAdmin(a) => membership::rotate_admin(a),
            MembershipCommand::Cosign(a) => membership::cosign(a),
            MembershipCommand::Show(a) => show::show(a),
            MembershipCommand::Verify(a) => show::verify(a),
            MembershipCommand::Publish(a) => node::publish(&api()?, a),
        },
        Command::Catalog(c) => match c {
            CatalogCommand::AddFramework(a) => catalog::add_framework(a),
            CatalogCommand::AddEntityType(a) => catalog::add_entity_type(a),
            CatalogCommand::AddEntity(a) => catalog::add_entity(a),
            CatalogCommand::Show(a) => catalog::show(a),
        },
    }
}
