//! The terminal console: state (`app`), actions and effects, the keymap, themes and the views.
//! Everything here renders from a snapshot; the live layer fills `App` through actions.
//!
//! Wiring for the live layer: build `App::new(context, namespace, now)` (set `readonly`, `keymap` and
//! `theme_name` from the CLI and [`config::Config`]); feed it `Action::Snapshot` whenever the reflectors
//! change, `Action::Tick` for the clock, `Action::Connection` for the banner; pass key presses to
//! `App::on_key` (press events only); carry out each returned [`action::Effect`] off the UI task and report back
//! with `WriteDone`, `DryRun`, `EditLoaded` or `EditorDone`; draw with `views::draw(&app, &theme, frame)`.

pub mod action;
pub mod app;
pub mod command;
pub mod config;
pub mod demo_servers;
pub mod edit;
pub mod engine_life;
pub mod escape;
pub mod filter;
pub mod form;
pub mod keymap;
pub mod run;
pub mod seed;
pub mod theme;
pub mod views;
pub mod wizard;
