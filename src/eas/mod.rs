//! The EAS layer: element trees ⇄ typed requests and responses, one module per
//! command. Nothing here talks to a backend or the store; `commands/` does that.

mod command;
pub mod compose_mail;
pub mod folder_ops;
pub mod folder_sync;
pub mod item_estimate;
pub mod item_operations;
pub mod meeting_response;
pub mod move_items;
pub mod ping;
pub mod provision;
pub mod search;
pub mod settings;
pub mod status;
pub mod sync;

pub use command::{Command, ProtocolVersion};

use crate::wbxml::{Element, Tag};

/// A request body that does not say what the command needs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EasError {
    #[error("expected a {expected} document, got {got}")]
    WrongRoot { expected: &'static str, got: String },
    #[error("request is missing {0}")]
    Missing(&'static str),
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Checks that a request document is the one the command expects.
pub fn require_root(root: &Element, tag: Tag) -> Result<(), EasError> {
    if root.tag == tag {
        Ok(())
    } else {
        Err(EasError::WrongRoot {
            expected: tag.name().unwrap_or("?"),
            got: root
                .tag
                .name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:?}", root.tag)),
        })
    }
}
