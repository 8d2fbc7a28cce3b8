//! Identity plugins.

use crate::Identity;

pub(crate) static PLUGINS: &[&'static dyn Identity] = &[];
