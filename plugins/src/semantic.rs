//! SemanticLayer plugins.

use crate::SemanticLayer;

pub(crate) static PLUGINS: &[&'static dyn SemanticLayer] = &[];
