//! Catalog plugins.

use crate::Catalog;

pub(crate) static PLUGINS: &[&'static dyn Catalog] = &[];
