//! AlertChannel plugins.

use crate::AlertChannel;

pub(crate) static PLUGINS: &[&'static dyn AlertChannel] = &[];
