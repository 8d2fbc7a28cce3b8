//! Storage plugins.

use crate::Storage;

pub(crate) static PLUGINS: &[&'static dyn Storage] = &[];
