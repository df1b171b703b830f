//! Diagnostics: every error a user can cause in the front end (lexical, syntax, scope,
//! type) or at load time is a [`Diag`] with a labelled span, rendered by miette.

use crate::span::{Span, line_col};
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use std::fmt;
use std::sync::Arc;

/// The phase that found a problem; it is part of the diagnostic's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Characters that do not form a token.
    Lex,
    /// Tokens that do not form a program.
    Parse,
    /// Names: undefined, duplicated, misused, recursion, initialisation order.
    Scope,
    /// Types.
    Type,
    /// Running a program's initialisers when it is loaded.
    Load,
    /// The safety verifier (`docs/safety.md`).
    Verify,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Lex => "lex",
            Phase::Parse => "parse",
            Phase::Scope => "scope",
            Phase::Type => "type",
            Phase::Load => "load",
            Phase::Verify => "verify",
        }
    }
}

/// A label: a span and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What (may be empty).
    pub text: String,
}

/// One problem in a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    /// Which phase found it.
    pub phase: Phase,
    /// A short stable name, e.g. `undefined-name`; the full code is
    /// `planp::<phase>::<name>`.
    pub name: &'static str,
    /// The message.
    pub message: String,
    /// Labelled spans; the first is the primary location.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// An error stops the program from loading; a warning does not.
    pub severity: Severity,
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The program is rejected.
    Error,
    /// The program loads, but probably does not do what was meant.
    Warning,
}

impl Diag {
    /// A diagnostic with its primary label.
    pub fn new(
        phase: Phase,
        name: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diag {
            phase,
            name,
            message: message.into(),
            labels: vec![Label { span, text: label.into() }],
            help: None,
            severity: Severity::Error,
        }
    }

    /// Make this diagnostic a warning.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Is this an error (as opposed to a warning)?
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Add a secondary label.
    pub fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into() });
        self
    }

    /// Add a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels.first().map_or_else(Span::default, |l| l.span)
    }

    /// The full code, `planp::<phase>::<name>`.
    pub fn code(&self) -> String {
        format!("planp::{}::{}", self.phase.name(), self.name)
    }
}

/// A diagnostic together with the source it refers to, ready for miette.
#[derive(Clone, Debug)]
pub struct Report {
    /// The problem.
    pub diag: Diag,
    /// The program text and its name.
    pub source: NamedSource<Arc<str>>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report {}

impl Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.diag.labels.iter().enumerate().map(|(i, l)| {
            let text = if l.text.is_empty() { None } else { Some(l.text.clone()) };
            if i == 0 {
                LabeledSpan::new_primary_with_span(text, l.span)
            } else {
                LabeledSpan::new_with_span(text, l.span)
            }
        })))
    }
}

/// All the problems found in one program, in source order.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    /// The program's name (usually its path).
    pub name: String,
    /// The program's text.
    pub text: Arc<str>,
    /// The problems.
    pub diags: Vec<Diag>,
}

impl Diagnostics {
    /// Reports ready to render with miette.
    pub fn reports(&self) -> Vec<Report> {
        self.diags
            .iter()
            .map(|d| Report { diag: d.clone(), source: NamedSource::new(self.name.clone(), self.text.clone()) })
            .collect()
    }

    /// Render every diagnostic as text without colours (stable, for tests and pipes).
    pub fn render_plain(&self) -> String {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        for r in self.reports() {
            let _ = handler.render_report(&mut out, &r);
        }
        out
    }

    /// One line per diagnostic: `file:line:col: code: message`, the form editors parse.
    pub fn render_short(&self) -> String {
        let mut out = String::new();
        for d in &self.diags {
            let (l, c) = line_col(&self.text, d.span().start as usize);
            let sev = if d.is_error() { "" } else { "warning: " };
            out.push_str(&format!("{}:{l}:{c}: {sev}{}: {}\n", self.name, d.code(), d.message));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_short())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to `name` by edit distance, for "did you mean" help.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit && d < name.chars().count())
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of adjacent
/// characters as one edit each (optimal string alignment), so `Dorp` is one edit from
/// `Drop`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = (a[i - 1] != b[j - 1]) as usize;
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_count_swaps_as_one_edit() {
        assert_eq!(suggest("Dorp", ["Drop", "NotFound"]), Some("Drop"));
        assert_eq!(suggest("audti", ["audit", "auth"]), Some("audit"));
        assert_eq!(suggest("z", ["f", "x"]), None, "one-letter names are not guessed");
        assert_eq!(suggest("lenght", ["length", "print"]), Some("length"));
    }
}
