//! Rbac plugins.

use crate::Rbac;

pub(crate) static PLUGINS: &[&'static dyn Rbac] = &[];
