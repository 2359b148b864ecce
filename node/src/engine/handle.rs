//! [`EngineHandle`]: how the API asks the engine, one typed method per command.

use fed_crdt::chain::file::ChainFile;
use fed_crdt::chain::state::Catalog;
use fed_crdt::envelope::Refusal;
use fed_crdt::ids::{ChangeHash, FederationId};
use fed_crdt::registry::exports::{ExportState, Party};
use fed_crdt::registry::platforms::PlatformProfile;
use fed_engine::{Answer, Command, EngineError, NodeStatus, PlatformEntry};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::documents::ChangeEvent;
use super::exports::{ExportEntry, ExportOp};
use super::federations::ReceiveOutcome;
use super::projects::{ProjectEntry, ProjectOp};

/// Where the engine's answer to one command goes.
pub(super) type Reply = Box<dyn FnOnce(Result<Answer, EngineError>) + Send>;

/// A command with its reply.
pub(super) type Call = (Command, Reply);

/// A cloneable handle to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    pub(super) sender: mpsc::Sender<Call>,
    pub(super) feed: broadcast::Sender<ChangeEvent>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle").finish_non_exhaustive()
    }
}

/// The answer of the kind a command expects; any other is the engine breaking its own
/// contract, said as such rather than as a panic.
fn expect<T>(answer: Answer, pick: fn(Answer) -> Option<T>) -> Result<T, EngineError> {
    pick(answer).ok_or_else(|| {
        EngineError::Invalid("internal error: the engine answered another kind of command".into())
    })
}

impl EngineHandle {
    async fn ask<T: Send + 'static>(
        &self,
        command: Command,
        pick: fn(Answer) -> Option<T>,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        let reply: Reply = Box::new(move |result| {
            let _ = reply.send(result.and_then(|a| expect(a, pick)));
        });
        self.sender
            .send((command, reply))
            .await
            .map_err(|_| EngineError::Shutdown)?;
        answer.await.map_err(|_| EngineError::Shutdown)?
    }

    /// Joins a federation from its chain file.
    ///
    /// # Errors
    ///
    /// See [`EngineError`].
    pub async fn join(
        &self,
        file: ChainFile,
    ) -> Result<(FederationId, ReceiveOutcome), EngineError> {
        self.ask(Command::Join(Box::new(file)), |a| match a {
            Answer::Chain(f, o) => Some((f, o)),
            _ => None,
        })
        .await
    }

    /// Publishes newer records of a federation we are in.
    ///
    /// # Errors
    ///
    /// See [`EngineError`].
    pub async fn publish(
        &self,
        file: ChainFile,
    ) -> Result<(FederationId, ReceiveOutcome), EngineError> {
        self.ask(Command::Publish(Box::new(file)), |a| match a {
            Answer::Chain(f, o) => Some((f, o)),
            _ => None,
        })
        .await
    }

    /// The node's status.
    ///
    /// # Errors
    ///
    /// [`EngineError::Shutdown`] if the engine has stopped.
    pub async fn status(&self) -> Result<NodeStatus, EngineError> {
        self.ask(Command::Status, |a| match a {
            Answer::Status(s) => Some(*s),
            _ => None,
        })
        .await
    }

    /// Sets this platform's profile in a federation's platforms registry.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidProfile`] for a profile over its limits, and the others.
    pub async fn set_profile(
        &self,
        federation: FederationId,
        profile: PlatformProfile,
    ) -> Result<Option<ChangeHash>, EngineError> {
        self.ask(
            Command::SetProfile {
                federation,
                profile,
            },
            |a| match a {
                Answer::Profile(p) => Some(p),
                _ => None,
            },
        )
        .await
    }

    /// A federation's platforms registry.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn platforms(
        &self,
        federation: FederationId,
    ) -> Result<Vec<PlatformEntry>, EngineError> {
        self.ask(Command::Platforms(federation), |a| match a {
            Answer::Platforms(p) => Some(p),
            _ => None,
        })
        .await
    }

    /// Recorded refusals.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if they cannot be read.
    pub async fn refusals(
        &self,
        federation: Option<FederationId>,
    ) -> Result<Vec<Refusal>, EngineError> {
        self.ask(Command::Refusals(federation), |a| match a {
            Answer::Refusals(r) => Some(r),
            _ => None,
        })
        .await
    }

    /// A subscription to the live feed of accepted changes.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.feed.subscribe()
    }

    /// Runs an operation on a federation's projects.
    ///
    /// # Errors
    ///
    /// [`EngineError::NotFound`], [`EngineError::Forbidden`], [`EngineError::Invalid`],
    /// [`EngineError::Conflict`], and the others.
    pub async fn projects(
        &self,
        federation: FederationId,
        op: ProjectOp,
    ) -> Result<Box<ProjectEntry>, EngineError> {
        self.ask(Command::Projects { federation, op }, |a| match a {
            Answer::Project(p) => Some(p),
            _ => None,
        })
        .await
    }

    /// The projects of a federation this platform owns or that are shared with it.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`], and the others.
    pub async fn list_projects(
        &self,
        federation: FederationId,
    ) -> Result<Vec<ProjectEntry>, EngineError> {
        self.ask(Command::ListProjects(federation), |a| match a {
            Answer::Projects(list) => Some(list),
            _ => None,
        })
        .await
    }

    /// Runs an operation on a federation's export requests.
    ///
    /// # Errors
    ///
    /// As [`EngineHandle::projects`].
    pub async fn exports(
        &self,
        federation: FederationId,
        op: ExportOp,
    ) -> Result<Box<ExportEntry>, EngineError> {
        self.ask(Command::Exports { federation, op }, |a| match a {
            Answer::Export(e) => Some(e),
            _ => None,
        })
        .await
    }

    /// The export requests of a federation this platform makes or serves, optionally
    /// only in one state or one role.
    ///
    /// # Errors
    ///
    /// As [`EngineHandle::list_projects`].
    pub async fn list_exports(
        &self,
        federation: FederationId,
        state: Option<ExportState>,
        role: Option<Party>,
    ) -> Result<Vec<ExportEntry>, EngineError> {
        let command = Command::ListExports {
            federation,
            state,
            role,
        };
        self.ask(command, |a| match a {
            Answer::Exports(list) => Some(list),
            _ => None,
        })
        .await
    }

    /// A federation's catalog.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn catalog(&self, federation: FederationId) -> Result<Catalog, EngineError> {
        self.ask(Command::Catalog(federation), |a| match a {
            Answer::Catalog(c) => Some(*c),
            _ => None,
        })
        .await
    }

    /// A federation's chain.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn chain(&self, federation: FederationId) -> Result<ChainFile, EngineError> {
        self.ask(Command::Chain(federation), |a| match a {
            Answer::ChainFile(c) => Some(*c),
            _ => None,
        })
        .await
    }
}
