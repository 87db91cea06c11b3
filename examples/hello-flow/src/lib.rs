//! hello-flow (work in progress).
