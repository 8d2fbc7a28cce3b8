//! LineageBackend plugins.

use crate::LineageBackend;

pub(crate) static PLUGINS: &[&'static dyn LineageBackend] = &[];
