//! Flags of `fedctl projects ...` and `fedctl events`: projects and the live feed of a
//! running node.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::FederationArg;
use crate::cmd::projects::{parse_member, Member};

/// `fedctl projects ...`
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// The projects this platform owns or that are shared with it, marking codes in
    /// conflict.
    List(FederationArg),
    /// One project: details, members, shares and code conflicts.
    Show(ProjectArg),
    /// Create a project owned by this platform.
    Create(ProjectCreateArgs),
    /// Change a project's details; only the flags given change.
    Update(ProjectUpdateArgs),
    /// Share a project with another platform, or change that platform's access.
    Share(ShareArgs),
    /// Stop sharing a project with a platform.
    Unshare(UnshareArgs),
    /// Delete a project (owner only); it disappears from every listing.
    Delete(ProjectArg),
    /// The platforms a project can be shared with.
    Recipients(FederationArg),
    /// The regulatory frameworks a project can name with --framework (the node's copy of
    /// the catalog; `fedctl catalog show` reads a chain file).
    Frameworks(FederationArg),
    /// The entity types of the catalog (the node's copy).
    EntityTypes(FederationArg),
    /// The entities a project can name with --entity (the node's copy of the catalog).
    Entities(FederationArg),
}

/// A federation and one of its projects.
#[derive(Debug, Args)]
pub struct ProjectArg {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// The project id (project:<32 hex>; see `fedctl projects list`).
    #[arg(long, value_name = "ID")]
    pub project: String,
}

/// The details flags shared by `projects create` and `projects update`.
#[derive(Debug, Args)]
pub struct ProjectDetailArgs {
    /// Free text about the project.
    #[arg(long)]
    pub description: Option<String>,
    /// First day of the project, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start_date: Option<String>,
    /// Last day of the project, YYYY-MM-DD, not before the first.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end_date: Option<String>,
    /// A regulatory framework id of the catalog (see `fedctl projects frameworks`); repeat
    /// for several (replaces the list).
    #[arg(long = "framework", value_name = "ID")]
    pub frameworks: Vec<String>,
    /// An entity id of the catalog (see `fedctl projects entities`); repeat for several
    /// (replaces the list).
    #[arg(long = "entity", value_name = "ID")]
    pub entities: Vec<String>,
    /// A person working on the project, as "Name <email>" or "Name <email> role"; repeat
    /// for several (replaces the list).
    #[arg(long = "member", value_name = "MEMBER", value_parser = parse_member)]
    pub members: Vec<Member>,
}

/// Arguments of `fedctl projects create`.
#[derive(Debug, Args)]
pub struct ProjectCreateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// Short code, unique among the projects this platform sees (letters, digits, '.',
    /// '_', '-').
    #[arg(long, required_unless_present = "from_file")]
    pub code: Option<String>,
    /// Display name.
    #[arg(long, required_unless_present = "from_file")]
    pub name: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub details: ProjectDetailArgs,
    /// A JSON file holding the whole project instead of the flags: {"code", "name",
    /// "description", "start_date", "end_date", "regulatory_frameworks", "entities",
    /// "members": [{"name", "email", "role"}]}.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["code", "name", "ProjectDetailArgs"]
    )]
    pub from_file: Option<PathBuf>,
}

/// Arguments of `fedctl projects update`.
#[derive(Debug, Args)]
pub struct ProjectUpdateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub project: ProjectArg,
    /// New code.
    #[arg(long)]
    pub code: Option<String>,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub details: ProjectDetailArgs,
    /// Remove the first day.
    #[arg(long, conflicts_with = "start_date")]
    pub clear_start_date: bool,
    /// Remove the last day.
    #[arg(long, conflicts_with = "end_date")]
    pub clear_end_date: bool,
    /// Remove every regulatory framework.
    #[arg(long, conflicts_with = "frameworks")]
    pub clear_frameworks: bool,
    /// Remove every entity.
    #[arg(long, conflicts_with = "entities")]
    pub clear_entities: bool,
    /// Remove every member.
    #[arg(long, conflicts_with = "members")]
    pub clear_members: bool,
}

/// What a platform a project is shared with may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Access {
    /// Read the project.
    Read,
    /// Read and edit the project's details.
    Write,
}

/// Arguments of `fedctl projects share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub project: ProjectArg,
    /// The platform to share with (12D3KooW...; see `fedctl projects recipients`).
    #[arg(long, value_name = "PLATFORM_ID")]
    pub platform: String,
    /// What it may do.
    #[arg(long, value_enum)]
    pub access: Access,
}

/// Arguments of `fedctl projects unshare`.
#[derive(Debug, Args)]
pub struct UnshareArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub project: ProjectArg,
    /// The platform that loses access.
    #[arg(long, value_name = "PLATFORM_ID")]
    pub platform: String,
}

/// Arguments of `fedctl events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this federation's changes.
    #[arg(long, value_name = "ID")]
    pub federation: Option<String>,
    /// Stop after this many changes (default: run until interrupted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}
