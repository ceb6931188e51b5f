//! Run reports: JSON, JUnit and HTML.

mod svg;

pub use svg::{Marker, Series, Window, escape, timeline_svg};
