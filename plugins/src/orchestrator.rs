//! Orchestrator plugins.

use crate::Orchestrator;

pub(crate) static PLUGINS: &[&'static dyn Orchestrator] = &[];
