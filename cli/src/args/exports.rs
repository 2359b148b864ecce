//! Flags of `fedctl exports ...`: export requests on a running node.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};
pub use fed_crdt::registry::exports::ExportState;

use super::FederationArg;

/// `fedctl exports ...`
#[derive(Debug, Subcommand)]
pub enum ExportsCommand {
    /// The export requests this platform made or received.
    List(ExportListArgs),
    /// One request: what is asked, its state, the next steps allowed here, its history.
    Show(ExportArg),
    /// Ask a platform for a dataset, for a project both can read (the request starts as a
    /// draft: `submit` sends it).
    Create(ExportCreateArgs),
    /// Change what a request asks for, while the provider has not taken it up; only the
    /// flags given change.
    Amend(ExportAmendArgs),
    /// Move a request to any state; the verbs below are shortcuts for the usual steps.
    Transition(TransitionArgs),
    /// Requester: send a draft, or the information asked for, to the provider (to
    /// `submitted`).
    Submit(StepArgs),
    /// Requester: withdraw the request (to `cancelled`).
    Cancel(StepArgs),
    /// Requester: close a delivered request (to `closed`).
    Close(StepArgs),
    /// Provider: approve (to `approved`, or `approved_with_conditions` with --conditions).
    Approve(ApproveArgs),
    /// Provider: reject, with the reason (to `rejected`).
    Reject(RejectArgs),
    /// Provider: ask the requester for more information (to `information_requested`).
    RequestInfo(StepArgs),
    /// Provider: start preparing the data (to `in_preparation`).
    Prepare(StepArgs),
    /// Provider: record the delivery and where to fetch it (to `delivered`).
    Deliver(DeliverArgs),
    /// Provider: withdraw an approval, even after delivery (to `revoked`).
    Revoke(StepArgs),
}

/// Parses an export request's state as the API spells it (the workflow's own type);
/// the help and the error list the states.
fn export_state() -> impl TypedValueParser<Value = ExportState> {
    PossibleValuesParser::new(ExportState::ALL.map(ExportState::name))
        .try_map(|name| ExportState::parse(&name).ok_or("not a state of an export request"))
}

/// This platform's side of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Party {
    /// Requests this platform made.
    Requester,
    /// Requests this platform received.
    Provider,
}

/// The name clap parses for a value, which is also the API's spelling.
pub fn value_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Arguments of `fedctl exports list`.
#[derive(Debug, Args)]
pub struct ExportListArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// Only requests in this state.
    #[arg(long, value_parser = export_state())]
    pub state: Option<ExportState>,
    /// Only requests this platform made (requester) or received (provider).
    #[arg(long, value_enum)]
    pub role: Option<Party>,
}

/// A federation and one of its export requests.
#[derive(Debug, Args)]
pub struct ExportArg {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// The request id (export:<32 hex>; see `fedctl exports list`).
    #[arg(long, value_name = "ID")]
    pub export: String,
}

/// The request fields shared by `exports create` and `exports amend`.
#[derive(Debug, Args)]
pub struct ExportRequestArgs {
    /// The dataset asked for.
    #[arg(long)]
    pub dataset: Option<String>,
    /// A variable asked for; repeat for several (replaces the list).
    #[arg(long = "variable", value_name = "NAME")]
    pub variables: Vec<String>,
    /// First day of the period covered, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub period_start: Option<String>,
    /// Last day of the period covered, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub period_end: Option<String>,
    /// The population concerned.
    #[arg(long)]
    pub population: Option<String>,
    /// Why the data is needed.
    #[arg(long)]
    pub purpose: Option<String>,
    /// The legal basis of the processing.
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// Whether the data is to be pseudonymised before delivery (`--pseudonymised` alone
    /// means true; default for a new request: false).
    #[arg(
        long,
        value_name = "true|false",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub pseudonymised: Option<bool>,
    /// How the data is to be delivered (e.g. sftp).
    #[arg(long, value_name = "MODE")]
    pub delivery_mode: Option<String>,
}

/// Arguments of `fedctl exports create`.
#[derive(Debug, Args)]
pub struct ExportCreateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// The platform holding the data (12D3KooW...).
    #[arg(long, value_name = "PLATFORM_ID")]
    pub provider: String,
    /// The project the data is for (project:<32 hex>); the provider must be able to read
    /// it (share it first).
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// Short title of the request.
    #[arg(long, required_unless_present = "from_file")]
    pub title: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: ExportRequestArgs,
    /// A JSON file holding the whole request instead of the flags: {"title", "dataset",
    /// "variables", "period_start", "period_end", "population", "purpose",
    /// "legal_basis", "pseudonymised", "delivery_mode"}.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["title", "ExportRequestArgs"]
    )]
    pub from_file: Option<PathBuf>,
}

/// Arguments of `fedctl exports amend`.
#[derive(Debug, Args)]
pub struct ExportAmendArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub export: ExportArg,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: ExportRequestArgs,
    /// Remove every variable.
    #[arg(long, conflicts_with = "variables")]
    pub clear_variables: bool,
    /// Remove the first day of the period.
    #[arg(long, conflicts_with = "period_start")]
    pub clear_period_start: bool,
    /// Remove the last day of the period.
    #[arg(long, conflicts_with = "period_end")]
    pub clear_period_end: bool,
    /// A JSON file holding the whole new request (as for `create --from-file`) instead of
    /// the flags.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "title",
            "ExportRequestArgs",
            "clear_variables",
            "clear_period_start",
            "clear_period_end",
        ]
    )]
    pub from_file: Option<PathBuf>,
}

/// Arguments of `fedctl exports transition`.
#[derive(Debug, Args)]
pub struct TransitionArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub export: ExportArg,
    /// The state to move to (`fedctl exports show` lists those allowed now).
    #[arg(long, value_parser = export_state(), value_name = "STATE")]
    pub to: ExportState,
    /// A comment for the history (the reason, for `rejected`).
    #[arg(long)]
    pub comment: Option<String>,
    /// The conditions (for `approved_with_conditions`).
    #[arg(long)]
    pub conditions: Option<String>,
    /// Where the data can be fetched (for `delivered`).
    #[arg(long)]
    pub reference: Option<String>,
}

/// Arguments of a workflow step with nothing but an optional comment.
#[derive(Debug, Args)]
pub struct StepArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub export: ExportArg,
    /// A comment for the history.
    #[arg(long)]
    pub comment: Option<String>,
}

/// Arguments of `fedctl exports approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub step: StepArgs,
    /// Approve on these conditions (the request moves to `approved_with_conditions`).
    #[arg(long)]
    pub conditions: Option<String>,
}

/// Arguments of `fedctl exports reject`.
#[derive(Debug, Args)]
pub struct RejectArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub export: ExportArg,
    /// Why the request is rejected; the requester reads it.
    #[arg(long, value_name = "REASON")]
    pub comment: String,
}

/// Arguments of `fedctl exports deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub step: StepArgs,
    /// Where the requester can fetch the data (e.g. sftp://host/path).
    #[arg(long)]
    pub reference: String,
}
