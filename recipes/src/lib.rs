//! The eidos recipe engine (built in its own issue).
