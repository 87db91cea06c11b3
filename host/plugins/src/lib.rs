//! Plugin runtime (work in progress).
