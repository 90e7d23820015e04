//! jail.conf(5): parser, printer and resolver (pure).
//!
//! The parser keeps the file's structure — global parameters, jail blocks (nested blocks give
//! hierarchical names), the `*` wildcard block, `.include`, and comments in all three styles —
//! so that printing loses nothing. [`FlatConf`] is the parse itself (spans of the text in one
//! flat array, resolved one jail at a time: for large files); [`JailConf`] is the owned tree built
//! from it, for editing. Values keep their `$var` / `${var}` references; [`JailConf::resolve`]
//! applies globals, then the wildcard block, then the jail's own block (`=` replaces, `+=`
//! appends) and expands variables (`$name` is the jail's name). Errors carry `file:line:column`.
//!
//! # References
//! [jail.conf(5)](https://man.freebsd.org/cgi/man.cgi?query=jail.conf&sektion=5),
//! [jail(8)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=8)

mod ast;
mod flat;
mod include;
#[cfg(test)]
mod legacy;
mod lex;
mod parse;
mod print;
mod resolve;

use crate::error::{Error, Op, Result};
pub use ast::{AssignOp, Item, JailConf, Param, Part, Pos, Value};
pub use flat::FlatConf;
pub use include::{ConfFs, StdConfFs};
use parse::Parser;
pub use resolve::{quote_value, Jail8Params, Resolved, JAIL8_PARAMS};
use sysabi::ErrorKind;

/// The deepest nesting of jail blocks [`JailConf::parse`] accepts (`a { b { c { } } }` is 3).
/// jail(8)'s own grammar has no such limit; ours keeps the recursive parser, resolver and
/// printer far from the stack's end (a 15 KB file of 5,000 nested blocks used to abort).
pub const MAX_NESTING: usize = 64;
/// The largest jail.conf text [`JailConf::parse`] accepts: 256 MiB (a 40,000-jail file is 6.6 MB).
pub const MAX_CONF_BYTES: usize = 256 << 20;

fn too_big(text: &str, file: &str) -> Result<()> {
    if text.len() > MAX_CONF_BYTES {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!(
                "{file}: {} bytes, more than the {MAX_CONF_BYTES} a jail.conf may have here",
                text.len()
            ),
        ));
    }
    Ok(())
}

impl JailConf {
    /// Parses jail.conf text into the owned tree; `file` names it in errors. (To resolve or
    /// print a large file without the tree, use [`FlatConf::parse`].)
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] with `file:line:column: message`.
    pub fn parse(text: &str, file: &str) -> Result<JailConf> {
        Ok(FlatConf::parse(text, file)?.to_conf())
    }
}

impl<'t> FlatConf<'t> {
    /// Parses jail.conf text in place; `file` names it in errors.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] with `file:line:column: message`.
    pub fn parse(text: &'t str, file: &str) -> Result<FlatConf<'t>> {
        too_big(text, file)?;
        Parser::new(text, file).run()
    }
}

#[cfg(test)]
mod tests;
