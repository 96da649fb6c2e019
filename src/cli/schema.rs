//! `tenet schema`: prints the JSON Schema of config files, exactly as shipped
//! in `schema/tenet.schema.json`.

use super::{CommandError, Outcome};
use crate::config::schema::SCHEMA_TEXT;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<Outcome, CommandError> {
    super::out::print(SCHEMA_TEXT)?;
    Ok(Outcome::Clean)
}
