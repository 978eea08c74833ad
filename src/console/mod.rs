//! The terminal console: state (`app`), actions and effects, the keymap, themes and the views.
//! Everything here renders from a snapshot; the live layer fills `App` through actions.

pub mod action;
pub mod app;
pub mod command;
pub mod config;
pub mod edit;
pub mod filter;
pub mod form;
pub mod keymap;
pub mod theme;
pub mod views;
pub mod wizard;
