//! `tenet schema`: prints the JSON Schema of config files, exactly as shipped
//! in `schema/tenet.schema.json`.

use std::io::Write;

use super::{CommandError, Outcome};
use crate::config::schema::SCHEMA_TEXT;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<Outcome, CommandError> {
    std::io::stdout().write_all(SCHEMA_TEXT.as_bytes())?;
    Ok(Outcome::Clean)
}
