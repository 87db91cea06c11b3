//! Switchyard plugin SDK (work in progress).
