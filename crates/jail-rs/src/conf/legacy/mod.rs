//! The tree parser and resolver this module had before [`super::FlatConf`], kept unchanged
//! (test builds only) as an oracle: the property tests check that the new parser and
//! resolver give the same items, values, resolved jails and error messages on any text.

mod lex;
mod parse;
pub(super) mod resolve;

use super::ast::JailConf;
use crate::error::Result;

/// The old `JailConf::parse`.
pub(super) fn parse(text: &str, file: &str) -> Result<JailConf> {
    let lx = lex::Lexer {
        text,
        i: 0,
        line: 1,
        col: 1,
        shared: file.into(),
    };
    let end = lx.pos();
    let mut p = parse::Parser {
        lx,
        look: None,
        done: false,
        end,
    };
    Ok(JailConf { items: p.items(0)? })
}
