//! The workflow of an export request: its states, and which party may make which step.
//!
//! Both the local writers (to explain a refusal before anything is signed) and the rules
//! every node runs use the same table and the same messages, so that a step refused here
//! is refused there for the same reason.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::field_error;
use crate::card::{check_multiline_text, check_text};
use crate::error::ExportError;
use crate::ids::PlatformId;
use crate::limits::{MAX_EXPORT_REFERENCE_BYTES, MAX_EXPORT_TEXT_BYTES};

/// Where an export request stands.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    /// Written by the requester, not sent yet.
    #[default]
    Draft,
    /// Sent to the provider, which has to answer.
    Submitted,
    /// The provider asked the requester for more information.
    InformationRequested,
    /// The provider agreed to deliver.
    Approved,
    /// The provider agreed to deliver under conditions.
    ApprovedWithConditions,
    /// The provider refused, giving a reason.
    Rejected,
    /// The provider is preparing the data.
    InPreparation,
    /// The provider delivered the data, giving a reference.
    Delivered,
    /// The requester acknowledged the delivery; the request is over.
    Closed,
    /// The requester withdrew the request before delivery.
    Cancelled,
    /// The provider withdrew its approval.
    Revoked,
}

impl ExportState {
    /// Every state, in workflow order.
    pub const ALL: [ExportState; 11] = [
        ExportState::Draft,
        ExportState::Submitted,
        ExportState::InformationRequested,
        ExportState::Approved,
        ExportState::ApprovedWithConditions,
        ExportState::Rejected,
        ExportState::InPreparation,
        ExportState::Delivered,
        ExportState::Closed,
        ExportState::Cancelled,
        ExportState::Revoked,
    ];

    /// The state as written in the document.
    pub fn name(self) -> &'static str {
        match self {
            ExportState::Draft => "draft",
            ExportState::Submitted => "submitted",
            ExportState::InformationRequested => "information_requested",
            ExportState::Approved => "approved",
            ExportState::ApprovedWithConditions => "approved_with_conditions",
            ExportState::Rejected => "rejected",
            ExportState::InPreparation => "in_preparation",
            ExportState::Delivered => "delivered",
            ExportState::Closed => "closed",
            ExportState::Cancelled => "cancelled",
            ExportState::Revoked => "revoked",
        }
    }

    /// The state written `name`, if any.
    pub fn parse(name: &str) -> Option<ExportState> {
        ExportState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this state stops the request (cancelled, rejected, revoked). A stopping
    /// step made concurrently with another step still counts (see the fold): when one
    /// party stops a request while the other moves it on, the stop wins.
    pub fn is_stopping(self) -> bool {
        matches!(
            self,
            ExportState::Cancelled | ExportState::Rejected | ExportState::Revoked
        )
    }

    /// What the party that may move a request to this state does, for messages.
    fn verb(self) -> &'static str {
        match self {
            ExportState::Draft => "drafts",
            ExportState::Submitted => "submits",
            ExportState::InformationRequested => "asks for more information",
            ExportState::Approved => "approves",
            ExportState::ApprovedWithConditions => "approves with conditions",
            ExportState::Rejected => "rejects",
            ExportState::InPreparation => "prepares the data",
            ExportState::Delivered => "delivers",
            ExportState::Closed => "closes",
            ExportState::Cancelled => "cancels",
            ExportState::Revoked => "revokes",
        }
    }
}

impl fmt::Display for ExportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A platform's part in an export request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The platform asking for the data.
    Requester,
    /// The platform holding the data.
    Provider,
}

impl Party {
    /// The party's name (`requester`, `provider`).
    pub fn name(self) -> &'static str {
        match self {
            Party::Requester => "requester",
            Party::Provider => "provider",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which party may move a request from `from` to `to`; `None` if nobody may.
///
/// The requester submits, answers a request for information, cancels before delivery
/// and closes after it; the provider asks for information, approves (with or without
/// conditions), rejects, prepares, delivers, and revokes an approval.
pub fn who_may(from: ExportState, to: ExportState) -> Option<Party> {
    use ExportState::{
        Approved, ApprovedWithConditions, Cancelled, Closed, Delivered, Draft, InPreparation,
        InformationRequested, Rejected, Revoked, Submitted,
    };
    match (from, to) {
        (Draft | InformationRequested, Submitted)
        | (
            Draft
            | Submitted
            | InformationRequested
            | Approved
            | ApprovedWithConditions
            | InPreparation,
            Cancelled,
        )
        | (Delivered, Closed) => Some(Party::Requester),
        (Submitted, InformationRequested | Approved | ApprovedWithConditions)
        | (Submitted | InformationRequested, Rejected)
        | (Approved | ApprovedWithConditions, InPreparation)
        | (InPreparation, Delivered)
        | (Approved | ApprovedWithConditions | InPreparation | Delivered, Revoked) => {
            Some(Party::Provider)
        }
        _ => None,
    }
}

/// Why `author` (of part `party`, `None` if neither) may not move a request from `from`
/// to `to`, or `None` if it may.
pub(crate) fn transition_problem(
    from: ExportState,
    to: ExportState,
    party: Option<Party>,
    author: &PlatformId,
) -> Option<String> {
    let Some(party) = party else {
        return Some(format!(
            "{author} is neither the requester nor the provider of this export request"
        ));
    };
    match who_may(from, to) {
        Some(p) if p == party => None,
        Some(p) => Some(format!(
            "the {party} may not make {from} → {to}; only the {p} {}",
            to.verb()
        )),
        None => {
            let next: Vec<&str> = ExportState::ALL
                .into_iter()
                .filter(|s| who_may(from, *s) == Some(party))
                .map(ExportState::name)
                .collect();
            Some(if next.is_empty() {
                format!("nobody may make {from} → {to}; from {from} the {party} may make no step")
            } else {
                format!(
                    "nobody may make {from} → {to}; from {from} the {party} may move to: {}",
                    next.join(", ")
                )
            })
        }
    }
}

/// Checks the texts of a step moving to `to`: within their limits, and present or absent
/// as the step needs (see [`check_entry_needs`]).
pub(crate) fn check_entry_texts(
    to: ExportState,
    comment: &str,
    conditions: &str,
    reference: &str,
) -> Result<(), ExportError> {
    check_entry_limits(comment, conditions, reference)?;
    check_entry_needs(to, comment, conditions, reference)
}

/// Checks the texts of a history entry against their limits.
pub(crate) fn check_entry_limits(
    comment: &str,
    conditions: &str,
    reference: &str,
) -> Result<(), ExportError> {
    check_multiline_text(comment, MAX_EXPORT_TEXT_BYTES).map_err(|p| field_error("comment", p))?;
    check_multiline_text(conditions, MAX_EXPORT_TEXT_BYTES)
        .map_err(|p| field_error("conditions", p))?;
    check_text(reference, MAX_EXPORT_REFERENCE_BYTES, true).map_err(|p| field_error("reference", p))
}

/// Checks that a step moving to `to` carries the texts it needs: a rejection gives its
/// reason in `comment`, an approval with conditions states them, a delivery gives its
/// reference; the conditions and the reference stay empty on every other step, so that no
/// step carries a meaning its state does not have.
pub(crate) fn check_entry_needs(
    to: ExportState,
    comment: &str,
    conditions: &str,
    reference: &str,
) -> Result<(), ExportError> {
    if to == ExportState::Rejected && comment.trim().is_empty() {
        return Err(field_error(
            "comment",
            "must give the reason of a rejection",
        ));
    }
    match (
        to == ExportState::ApprovedWithConditions,
        conditions.trim().is_empty(),
    ) {
        (true, true) => {
            return Err(field_error(
                "conditions",
                "must state the conditions of an approval with conditions",
            ))
        }
        (false, false) => {
            return Err(field_error(
                "conditions",
                format!("belong to an approval with conditions only; leave them empty for {to}"),
            ))
        }
        _ => {}
    }
    match (to == ExportState::Delivered, reference.trim().is_empty()) {
        (true, true) => Err(field_error(
            "reference",
            "must give the delivery reference of a delivery",
        )),
        (false, false) => Err(field_error(
            "reference",
            format!("belongs to a delivery only; leave it empty for {to}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_serde() {
        for state in ExportState::ALL {
            assert_eq!(ExportState::parse(state.name()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
        }
        assert_eq!(ExportState::parse("Draft"), None);
        assert_eq!(ExportState::parse(""), None);
        assert_eq!(
            serde_json::to_string(&Party::Provider).unwrap(),
            "\"provider\""
        );
    }

    #[test]
    fn the_table_is_the_workflow() {
        use ExportState::*;
        let requester = [
            (Draft, Submitted),
            (InformationRequested, Submitted),
            (Draft, Cancelled),
            (Submitted, Cancelled),
            (InformationRequested, Cancelled),
            (Approved, Cancelled),
            (ApprovedWithConditions, Cancelled),
            (InPreparation, Cancelled),
            (Delivered, Closed),
        ];
        let provider = [
            (Submitted, InformationRequested),
            (Submitted, Approved),
            (Submitted, ApprovedWithConditions),
            (Submitted, Rejected),
            (InformationRequested, Rejected),
            (Approved, InPreparation),
            (ApprovedWithConditions, InPreparation),
            (InPreparation, Delivered),
            (Approved, Revoked),
            (ApprovedWithConditions, Revoked),
            (InPreparation, Revoked),
            (Delivered, Revoked),
        ];
        for from in ExportState::ALL {
            for to in ExportState::ALL {
                let expected = if requester.contains(&(from, to)) {
                    Some(Party::Requester)
                } else if provider.contains(&(from, to)) {
                    Some(Party::Provider)
                } else {
                    None
                };
                assert_eq!(who_may(from, to), expected, "{from} → {to}");
            }
        }
        for terminal in [Closed, Cancelled, Rejected, Revoked] {
            assert!(ExportState::ALL
                .into_iter()
                .all(|to| who_may(terminal, to).is_none()));
        }
    }

    #[test]
    fn problems_say_who_may() {
        let someone = PlatformId([0; 32]);
        let p = transition_problem(
            ExportState::Submitted,
            ExportState::Approved,
            Some(Party::Requester),
            &someone,
        )
        .unwrap();
        assert_eq!(
            p,
            "the requester may not make submitted → approved; only the provider approves"
        );
        let p = transition_problem(
            ExportState::Draft,
            ExportState::Approved,
            Some(Party::Requester),
            &someone,
        )
        .unwrap();
        assert!(p.contains("may move to: submitted, cancelled"), "{p}");
        assert!(transition_problem(
            ExportState::Draft,
            ExportState::Submitted,
            Some(Party::Requester),
            &someone
        )
        .is_none());
        assert!(
            transition_problem(ExportState::Draft, ExportState::Submitted, None, &someone)
                .unwrap()
                .contains("neither the requester nor the provider")
        );
    }
}
