//! Sessions scripted on a fake clock.
