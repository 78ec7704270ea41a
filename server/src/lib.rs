//! The eidos HTTP API (built in its own issue).
