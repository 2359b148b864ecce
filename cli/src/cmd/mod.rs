//! One module per command group; each command returns a [`crate::report::Report`].

pub mod catalog;
pub mod federation;
pub mod issue;
pub mod key;
pub mod membership;
pub mod node;
pub mod show;
