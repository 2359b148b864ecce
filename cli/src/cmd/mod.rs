//! One module per command group; each command returns a [`crate::report::Report`].

pub mod answer;
pub mod catalog;
pub mod events;
pub mod exports;
pub mod federation;
pub mod issue;
pub mod key;
pub mod membership;
pub mod node;
pub mod projects;
pub mod show;
