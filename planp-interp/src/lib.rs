//! The PLAN-P front end and interpreter.
//!
//! Pipeline: [`lexer`] → [`parser`] ([`ast`]) → [`typeck`] ([`ir`]) → [`eval`], driven per
//! packet by a [`node::Node`]. [`load`] runs the front end on a source text.
//!
//! | file | job |
//! |---|---|
//! | `span.rs` | byte ranges and line/column |
//! | `diag.rs` | diagnostics (miette) |
//! | `lexer.rs` | text to tokens |
//! | `ast.rs`, `parser.rs` | tokens to syntax tree, with error recovery |
//! | `typeck.rs` | names, types, recursion and initialisation order; builds the IR |
//! | `ir.rs` | the resolved program the evaluator runs |
//! | `eval.rs` | the two-level evaluator (binding-time annotated); `#[specialize]` derives its generating extension |
//! | `jit.rs` | the JIT engine: runs the generating extension on a program's channels, enters the code |
//! | `packet/` | the packet layer (`docs/packets.md`): types, matching, marshalling, link types, checksums |
//! | `capture.rs` | reading pcap and pcapng, writing pcap |
//! | `node.rs` | channel semantics: dispatch, states, effects, exceptions, memory, the frames sent |
//! | `session.rs` | a program plus declarations typed after it (what the REPL drives) |

pub mod ast;
pub mod capture;
pub mod diag;
pub mod eval;
pub mod ir;
pub mod jit;
pub mod lexer;
pub mod node;
pub mod packet;
pub mod parser;
pub mod session;
pub mod span;
pub mod typeck;
pub mod verify;

pub use diag::{Diag, Diagnostics};
pub use ir::Program;
pub use node::{Engine, LoadError, Node, NodeConfig, Outcome};
pub use packet::link::LinkType;

use std::sync::Arc;

/// Parse and check a program. On failure, every problem found is returned (the parser
/// recovers after errors, and checking runs on what parsed, so one run reports many).
/// Warnings of a program that loads are in [`Program::warnings`].
pub fn load(name: &str, text: &str) -> Result<Arc<Program>, Diagnostics> {
    let text: Arc<str> = Arc::from(text);
    let (ast, all) = parser::parse(&text);
    let (mut diags, warnings): (Vec<Diag>, Vec<Diag>) = all.into_iter().partition(Diag::is_error);
    match typeck::check(name, text.clone(), &ast) {
        Ok(mut p) if diags.is_empty() => {
            p.warnings.extend(warnings);
            p.warnings.sort_by_key(|d| d.span().start);
            Ok(Arc::new(p))
        }
        result => {
            // Declarations that failed to parse are still declared (with unknown types), so
            // the checker's diagnostics are about code that parsed, not follow-ons.
            if let Err(mut d) = result {
                diags.append(&mut d);
            }
            diags.extend(warnings);
            diags.sort_by_key(|d| d.span().start);
            Err(Diagnostics { name: name.to_owned(), text, diags })
        }
    }
}
