//! Run reports: JSON, JUnit and HTML.
