//! The lexer: source text to tokens.
//!
//! It never fails as a whole: a character that starts no token becomes a diagnostic and
//! is skipped, so the parser always sees a token stream ending in [`Tok::Eof`].

use crate::diag::{Diag, Phase};
use crate::span::Span;

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A decimal integer literal's magnitude (at most 2^63, which only `~` may precede).
    Int(u64),
    /// A hexadecimal integer literal: a 64-bit pattern.
    HexInt(u64),
    /// A string literal's bytes.
    Str(Vec<u8>),
    /// A character literal (`'a'` or `#"a"`).
    Char(u8),
    /// An IPv4 host literal such as `131.254.60.81`.
    Host(u32),
    /// An identifier.
    Ident(String),
    /// A keyword.
    Kw(Kw),
    /// `#n`: tuple projection.
    Hash(u32),
    /// Punctuation or an operator.
    Sym(Sym),
    /// A malformed literal; its diagnostic is already reported, and the parser takes it
    /// as an expression of unknown type so that it causes no further errors.
    Error,
    /// End of input.
    Eof,
}

macro_rules! keywords {
    ($($variant:ident = $text:literal),* $(,)?) => {
        /// Reserved words.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kw { $(#[doc = concat!("`", $text, "`")] $variant),* }
        impl Kw {
            /// The keyword spelled `s`.
            pub fn from_text(s: &str) -> Option<Kw> {
                match s { $($text => Some(Kw::$variant),)* _ => None }
            }
            /// How the keyword is written.
            pub fn text(self) -> &'static str {
                match self { $(Kw::$variant => $text),* }
            }
            /// Every keyword.
            pub const ALL: &'static [Kw] = &[$(Kw::$variant),*];
        }
    };
}

keywords! {
    Val = "val", Fun = "fun", Exception = "exception", Channel = "channel",
    Initstate = "initstate", Is = "is", Let = "let", In = "in", End = "end",
    If = "if", Then = "then", Else = "else", Raise = "raise", Try = "try",
    Handle = "handle", Andalso = "andalso", Orelse = "orelse", And = "and", Or = "or",
    Not = "not", True = "true", False = "false", Div = "div", Mod = "mod",
    Hd = "hd", Tl = "tl", Fst = "fst", Snd = "snd", Ord = "ord", Chr = "chr",
    Explode = "explode", Implode = "implode",
    Foldl = "foldl", Foldr = "foldr", OnRemote = "OnRemote", OnNeighbor = "OnNeighbor",
    Andi = "andi", Ori = "ori", Xori = "xori", Noti = "noti",
}

macro_rules! symbols {
    ($($variant:ident = $text:literal),* $(,)?) => {
        /// Punctuation and operators.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Sym { $(#[doc = concat!("`", $text, "`")] $variant),* }
        impl Sym {
            /// How the symbol is written.
            pub fn text(self) -> &'static str {
                match self { $(Sym::$variant => $text),* }
            }
        }
    };
}

symbols! {
    LParen = "(", RParen = ")", LBracket = "[", RBracket = "]", Comma = ",", Semi = ";",
    Colon = ":", ColonColon = "::", Eq = "=", Ne = "<>", Lt = "<", Le = "<=", Gt = ">", Ge = ">=",
    Plus = "+", Minus = "-", Star = "*", Slash = "/", Percent = "%", Tilde = "~", Caret = "^",
    Arrow = "=>", Bar = "|", Underscore = "_", Dot = ".", At = "@", Shl = "<<", Shr = ">>",
}

impl Tok {
    /// How the token is described in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(_) | Tok::HexInt(_) => "an integer".into(),
            Tok::Str(_) => "a string".into(),
            Tok::Char(_) => "a character".into(),
            Tok::Host(_) => "a host address".into(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Kw(k) => format!("`{}`", k.text()),
            Tok::Hash(n) => format!("`#{n}`"),
            Tok::Sym(s) => format!("`{}`", s.text()),
            Tok::Error => "a malformed literal".into(),
            Tok::Eof => "the end of the file".into(),
        }
    }
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its span.
    pub span: Span,
    /// Is it the first token on its line and in column 1? (Top-level declarations
    /// usually are; the parser resynchronises on them after an error.)
    pub at_line_start: bool,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// How far `line_start` has been brought up to date.
    scanned: usize,
    /// Where the line of the last token pushed starts.
    line_start: usize,
    out: Vec<Token>,
    diags: Vec<Diag>,
}

/// Split `src` into tokens, with spans counted from `base` (for text that is a part of a
/// larger source map, such as one input of a REPL session).
pub fn lex_at(src: &str, base: u32) -> (Vec<Token>, Vec<Diag>) {
    let (mut toks, mut diags) = lex(src);
    if base != 0 {
        let shift = |s: &mut Span| {
            s.start += base;
            s.end += base;
        };
        toks.iter_mut().for_each(|t| shift(&mut t.span));
        diags.iter_mut().flat_map(|d| d.labels.iter_mut()).for_each(|l| shift(&mut l.span));
    }
    (toks, diags)
}

/// Split `src` into tokens, with the problems found on the way.
pub fn lex(src: &str) -> (Vec<Token>, Vec<Diag>) {
    // A UTF-8 byte-order mark is not part of the program.
    let pos = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lx = Lexer { src: src.as_bytes(), pos, scanned: 0, line_start: 0, out: Vec::new(), diags: Vec::new() };
    lx.run();
    (lx.out, lx.diags)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'\''
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> u8 {
        self.src.get(self.pos + k).copied().unwrap_or(0)
    }

    fn error(&mut self, name: &'static str, msg: impl Into<String>, span: Span, label: impl Into<String>) -> &mut Diag {
        self.diags.push(Diag::new(Phase::Lex, name, msg, span, label));
        self.diags.last_mut().unwrap()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        // Track the start of the current line incrementally (linear in the input).
        if let Some(p) = self.src[self.scanned..start].iter().rposition(|&c| c == b'\n') {
            self.line_start = self.scanned + p + 1;
        }
        self.scanned = start;
        let at_line_start = start == self.line_start;
        self.out.push(Token { tok, span: Span::new(start, self.pos), at_line_start });
    }

    fn run(&mut self) {
        loop {
            self.skip_trivia();
            let start = self.pos;
            if self.pos >= self.src.len() {
                self.out.push(Token { tok: Tok::Eof, span: Span::new(start, start), at_line_start: false });
                return;
            }
            let c = self.peek(0);
            if c.is_ascii_digit() {
                self.number();
            } else if is_ident_start(c) {
                while is_ident_char(self.peek(0)) {
                    self.pos += 1;
                }
                // The slice is ASCII by construction.
                let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or_default();
                let tok = if text == "_" {
                    Tok::Sym(Sym::Underscore)
                } else if let Some(k) = Kw::from_text(text) {
                    Tok::Kw(k)
                } else {
                    Tok::Ident(text.to_owned())
                };
                self.push(tok, start);
            } else if c == b'"' {
                self.pos += 1;
                match self.string_body(start, b'"', "string") {
                    Some(s) => {
                        // A string that runs over a line end usually lacks its closing quote.
                        if let Some(nl) = self.src[start..self.pos].iter().position(|&c| c == b'\n') {
                            let sp = Span::new(start, start + nl);
                            self.diags.push(
                                Diag::new(
                                    Phase::Lex,
                                    "multiline-string",
                                    "this string runs over the end of its line",
                                    sp,
                                    "the string starts here",
                                )
                                .help("is its closing `\"` missing? (write `\\n` for a newline inside a string)")
                                .warning(),
                            );
                        }
                        self.push(Tok::Str(s), start)
                    }
                    None => self.push(Tok::Error, start),
                }
            } else if c == b'\'' {
                self.char_lit(start, 1);
            } else if c == b'#' {
                self.hash(start);
            } else {
                self.symbol(start);
            }
        }
    }

    /// `#n` (projection), `#"c"` (character), or a mistake.
    fn hash(&mut self, start: usize) {
        if self.peek(1) == b'"' {
            self.char_lit(start, 2);
            return;
        }
        self.pos += 1;
        let mut gap = 0;
        while self.peek(gap) == b' ' {
            gap += 1;
        }
        if !self.peek(gap).is_ascii_digit() {
            let sp = Span::new(start, self.pos);
            self.error("stray-hash", "`#` must be followed by a component number", sp, "here").help =
                Some("`#2 p` is the second component of the tuple `p`; `#\"a\"` is a character".into());
            return;
        }
        self.pos += gap;
        let ds = self.pos;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        let sp = Span::new(start, self.pos);
        let n = std::str::from_utf8(&self.src[ds..self.pos]).ok().and_then(|t| t.parse::<u32>().ok());
        if gap > 0 {
            self.error("stray-hash", "`#` and its component number are written together", sp, "remove the space")
                .help = Some(format!("write `#{}`", n.unwrap_or(1)));
        }
        match n {
            Some(0) => {
                self.error("bad-projection", "tuple components are numbered from 1", sp, "no component 0").help =
                    Some("write `#1 e` for the first component of `e`".into());
            }
            None => {
                self.error("bad-projection", "this component number is too large", sp, "no such component").help =
                    Some(format!("tuples have at most {} components", crate::typeck::MAX_TUPLE));
            }
            _ => {}
        }
        // A bad number still makes a projection, so the parser goes on as the user meant;
        // `#0` tells it that the error is already reported.
        self.push(Tok::Hash(n.unwrap_or(0)), start);
    }

    fn skip_trivia(&mut self) {
        loop {
            let c = self.peek(0);
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' || c == 0x0c {
                self.pos += 1;
            } else if c == b'-' && self.peek(1) == b'-' {
                // `x--1` reads as `x` followed by a comment; an ML programmer may mean
                // `x - ~1`. Warn when the dashes are glued to operands on both sides.
                let before = self.pos.checked_sub(1).map(|i| self.src[i]);
                let after = self.peek(2);
                if before.is_some_and(|b| is_ident_char(b) || b == b')') && (is_ident_char(after) || after == b'(') {
                    let sp = Span::new(self.pos, self.pos + 2);
                    self.diags.push(
                        Diag::new(
                            Phase::Lex,
                            "dash-comment",
                            "`--` starts a comment that runs to the end of the line",
                            sp,
                            "comment starts here",
                        )
                        .help("to subtract a negative number write `x - ~1`; in a comment, put a space after `--`")
                        .warning(),
                    );
                }
                while self.pos < self.src.len() && self.peek(0) != b'\n' {
                    self.pos += 1;
                }
            } else if c == b'(' && self.peek(1) == b'*' {
                self.block_comment();
            } else {
                return;
            }
        }
    }

    /// `(* ... *)`, nested.
    fn block_comment(&mut self) {
        let mut opens = vec![self.pos];
        self.pos += 2;
        while !opens.is_empty() {
            if self.pos >= self.src.len() {
                let at = opens[0];
                self.error(
                    "unterminated-comment",
                    "this comment is never closed",
                    Span::new(at, at + 2),
                    "opened here",
                )
                .help = Some("close it with `*)` (comments nest: every `(*` needs its own `*)`)".into());
                return;
            }
            if self.peek(0) == b'(' && self.peek(1) == b'*' {
                opens.push(self.pos);
                self.pos += 2;
            } else if self.peek(0) == b'*' && self.peek(1) == b')' {
                opens.pop();
                self.pos += 2;
            } else {
                self.pos += 1;
            }
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        if self.peek(0) == b'0' && (self.peek(1) == b'x' || self.peek(1) == b'X') {
            self.pos += 2;
            let ds = self.pos;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            let text = std::str::from_utf8(&self.src[ds..self.pos]).unwrap_or_default();
            match u64::from_str_radix(text, 16) {
                Ok(v) => self.push(Tok::HexInt(v), start),
                Err(_) => {
                    let sp = Span::new(start, self.pos);
                    let (msg, help) = if text.is_empty() {
                        ("`0x` must be followed by hexadecimal digits", "write a hexadecimal number as in `0xff`")
                    } else {
                        ("this integer does not fit in 64 bits", "a hexadecimal literal has at most 16 digits")
                    };
                    self.error("bad-integer", msg, sp, "here").help = Some(help.into());
                    self.push(Tok::Error, start);
                }
            }
            self.reject_ident_suffix(start);
            return;
        }
        let mut parts = vec![self.digits()];
        // A host literal: four dot-separated decimal parts.
        while self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            parts.push(self.digits());
        }
        let sp = Span::new(start, self.pos);
        match parts.len() {
            1 => match parts[0] {
                Some(v) if v <= 1 << 63 => self.push(Tok::Int(v), start),
                _ => {
                    self.error("bad-integer", "this integer does not fit in 64 bits", sp, "too large").help =
                        Some("integers are 64-bit: at most 9223372036854775807".into());
                    self.push(Tok::Error, start);
                }
            },
            4 => {
                let mut addr = 0u32;
                let mut ok = true;
                for p in &parts {
                    match p {
                        Some(v) if *v <= 255 => addr = addr << 8 | *v as u32,
                        _ => ok = false,
                    }
                }
                if ok {
                    self.push(Tok::Host(addr), start);
                } else {
                    self.error(
                        "bad-host",
                        "each part of a host address must be between 0 and 255",
                        sp,
                        "not an IPv4 address",
                    );
                    self.push(Tok::Error, start);
                }
            }
            2 => {
                self.error(
                    "fraction",
                    "PLAN-P has only integers: there are no fractional numbers",
                    sp,
                    "not an integer",
                )
                .help = Some("scale the value to an integer (for example, count in milliseconds or per mille)".into());
                self.push(Tok::Error, start);
            }
            n => {
                self.error(
                    "bad-host",
                    format!("a host address has four parts, this one has {n}"),
                    sp,
                    "not an IPv4 address",
                )
                .help = Some("write host addresses as four numbers, like 131.254.60.81".into());
                self.push(Tok::Error, start);
            }
        }
        self.reject_ident_suffix(start);
    }

    fn digits(&mut self) -> Option<u64> {
        let ds = self.pos;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        std::str::from_utf8(&self.src[ds..self.pos]).ok()?.parse().ok()
    }

    /// `123abc` is one mistake, not a number followed by a name.
    fn reject_ident_suffix(&mut self, start: usize) {
        if is_ident_char(self.peek(0)) {
            let s = self.pos;
            while is_ident_char(self.peek(0)) {
                self.pos += 1;
            }
            let sp = Span::new(s, self.pos);
            let d = self.error(
                "bad-number-suffix",
                "a number cannot be followed directly by letters",
                sp,
                "unexpected suffix",
            );
            d.labels.push(crate::diag::Label { span: Span::new(start, s), text: "this number".into() });
            d.help = Some("numbers have no units or type suffixes; put a space between a number and a name".into());
        }
    }

    /// The body of a literal (after the opening quote) up to `quote`, with escapes;
    /// `None` (and a diagnostic) when it is not closed. Character literals end at the end
    /// of their line.
    fn string_body(&mut self, start: usize, quote: u8, what: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let one_line = what == "character";
        loop {
            if self.pos >= self.src.len() || (one_line && self.peek(0) == b'\n') {
                let q = if quote == b'"' { "\"" } else { "'" };
                self.error(
                    "unterminated-literal",
                    format!("this {what} literal is never closed"),
                    Span::new(start, (start + 1).min(self.src.len())),
                    "starts here",
                )
                .help = Some(format!("close it with `{q}`"));
                return None;
            }
            let c = self.peek(0);
            if c == quote {
                self.pos += 1;
                return Some(out);
            }
            if c == b'\\' {
                let es = self.pos;
                self.pos += 1;
                let e = self.peek(0);
                // Step over the whole character, so that spans stay on character boundaries.
                self.pos += utf8_len(e);
                let v = match e {
                    b'n' => Some(b'\n'),
                    b't' => Some(b'\t'),
                    b'r' => Some(b'\r'),
                    b'0' if !self.peek(0).is_ascii_digit() => Some(0),
                    b'\\' => Some(b'\\'),
                    b'"' => Some(b'"'),
                    b'\'' => Some(b'\''),
                    b'x' => {
                        let h = [self.peek(0), self.peek(1)];
                        let v = std::str::from_utf8(&h).ok().and_then(|t| u8::from_str_radix(t, 16).ok());
                        if v.is_some() {
                            self.pos += 2;
                        }
                        v
                    }
                    d if d.is_ascii_digit() => {
                        let h = [d, self.peek(0), self.peek(1)];
                        let v = std::str::from_utf8(&h).ok().and_then(|t| t.parse::<u8>().ok());
                        if v.is_some() {
                            self.pos += 2;
                        }
                        v
                    }
                    _ => None,
                };
                match v {
                    Some(b) => out.push(b),
                    None => {
                        if self.pos > self.src.len() {
                            self.pos = self.src.len();
                        }
                        let end = self.pos.min(self.src.len()).max(es + 1);
                        self.error("bad-escape", "unknown escape sequence", Span::new(es, end), "here")
                            .help = Some(r#"escapes are \n \t \r \\ \" \' \0, \xHH (two hex digits) and \DDD (three decimal digits, at most 255)"#.into());
                    }
                }
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
    }

    /// `'a'` (skip = 1) or `#"a"` (skip = 2).
    fn char_lit(&mut self, start: usize, skip: usize) {
        self.pos += skip;
        let quote = if skip == 1 { b'\'' } else { b'"' };
        // `'a` with no closing quote on its line looks like an ML type variable.
        if skip == 1 && is_ident_start(self.peek(0)) && self.peek(1) != b'\'' {
            let line_end =
                self.src[self.pos..].iter().position(|&c| c == b'\n').map_or(self.src.len(), |p| self.pos + p);
            // After `:` or `*` we are in a type: `'a` there is a type variable even if a
            // quote follows later on the line.
            let in_type = matches!(self.out.last().map(|t| &t.tok), Some(Tok::Sym(Sym::Colon | Sym::Star)));
            if in_type || !self.src[self.pos..line_end].contains(&b'\'') {
                while is_ident_char(self.peek(0)) {
                    self.pos += 1;
                }
                self.error(
                    "type-variable",
                    "type variables are not part of PLAN-P",
                    Span::new(start, self.pos),
                    "here",
                )
                .help =
                    Some("write the type out (`int`, `host list`, ...); for a character literal write `'a'`".into());
                self.push(Tok::Error, start);
                return;
            }
        }
        let Some(body) = self.string_body(start, quote, "character") else {
            self.push(Tok::Error, start);
            return;
        };
        let sp = Span::new(start, self.pos);
        if body.len() == 1 {
            self.push(Tok::Char(body[0]), start);
            return;
        }
        let text = String::from_utf8_lossy(&body).escape_debug().to_string();
        if let Ok(one) = std::str::from_utf8(&body)
            && one.chars().count() == 1
        {
            let d = self.error(
                "bad-char",
                format!("a character is one byte, and `{one}` takes {} bytes in UTF-8", body.len()),
                sp,
                "not one byte",
            );
            d.help = Some(format!("use a string, \"{one}\", or the code of one byte, as in '\\233'"));
            self.push(Tok::Error, start);
            return;
        }
        let d = self.error(
            "bad-char",
            format!("a character literal holds exactly one character, this one holds {}", body.len()),
            sp,
            "not one character",
        );
        d.help = Some(if body.is_empty() {
            "write the character between the quotes, as in 'a'; for the NUL character write '\\0'".into()
        } else {
            format!("for text, use a string literal: \"{text}\"")
        });
        self.push(Tok::Error, start);
    }

    fn symbol(&mut self, start: usize) {
        // Operators of other languages: one diagnostic, then go on as the user meant.
        let misspelt: Option<(&str, Tok, &str)> = match (self.peek(0), self.peek(1)) {
            (b'!', b'=') => Some(("!=", Tok::Sym(Sym::Ne), "not-equal is written `<>`")),
            (b'=', b'=') => Some(("==", Tok::Sym(Sym::Eq), "equality is written with a single `=`")),
            (b'&', b'&') => Some(("&&", Tok::Kw(Kw::Andalso), "boolean conjunction is written `andalso` (or `and`)")),
            (b'|', b'|') => Some(("||", Tok::Kw(Kw::Orelse), "boolean disjunction is written `orelse` (or `or`)")),
            (b'-', b'>') => Some(("->", Tok::Sym(Sym::Arrow), "a handler is written `E => e`")),
            (b':', b'=') => Some((
                ":=",
                Tok::Sym(Sym::Eq),
                "PLAN-P has no assignment: values that change live in the channel states and in hash tables",
            )),
            (b'!', _) => Some(("!", Tok::Kw(Kw::Not), "boolean negation is written `not e`")),
            _ => None,
        };
        if let Some((text, tok, help)) = misspelt {
            self.pos += text.len();
            let sp = Span::new(start, self.pos);
            self.error("foreign-operator", format!("`{text}` is not a PLAN-P operator"), sp, "here").help =
                Some(help.into());
            self.push(tok, start);
            return;
        }
        let (sym, n) = match (self.peek(0), self.peek(1)) {
            (b':', b':') => (Sym::ColonColon, 2),
            (b'<', b'>') => (Sym::Ne, 2),
            (b'<', b'=') => (Sym::Le, 2),
            (b'>', b'=') => (Sym::Ge, 2),
            (b'<', b'<') => (Sym::Shl, 2),
            (b'>', b'>') => (Sym::Shr, 2),
            (b'=', b'>') => (Sym::Arrow, 2),
            (b'(', _) => (Sym::LParen, 1),
            (b')', _) => (Sym::RParen, 1),
            (b'[', _) => (Sym::LBracket, 1),
            (b']', _) => (Sym::RBracket, 1),
            (b',', _) => (Sym::Comma, 1),
            (b';', _) => (Sym::Semi, 1),
            (b':', _) => (Sym::Colon, 1),
            (b'=', _) => (Sym::Eq, 1),
            (b'<', _) => (Sym::Lt, 1),
            (b'>', _) => (Sym::Gt, 1),
            (b'+', _) => (Sym::Plus, 1),
            (b'-', _) => (Sym::Minus, 1),
            (b'*', _) => (Sym::Star, 1),
            (b'/', _) => (Sym::Slash, 1),
            (b'%', _) => (Sym::Percent, 1),
            (b'~', _) => (Sym::Tilde, 1),
            (b'^', _) => (Sym::Caret, 1),
            (b'|', _) => (Sym::Bar, 1),
            (b'.', _) => (Sym::Dot, 1),
            (b'@', _) => (Sym::At, 1),
            _ => {
                // Skip one whole UTF-8 character so spans stay on character boundaries.
                let len = utf8_len(self.peek(0));
                let end = (self.pos + len).min(self.src.len());
                let shown = String::from_utf8_lossy(&self.src[self.pos..end]).into_owned();
                self.pos = end;
                let d = self.error(
                    "bad-character",
                    format!("unexpected character `{}`", shown.escape_debug()),
                    Span::new(start, end),
                    "not part of PLAN-P",
                );
                if shown == "&" {
                    d.help = Some("boolean conjunction is `andalso` (or `and`)".into());
                } else if shown.chars().next().is_some_and(char::is_alphabetic) {
                    d.help = Some("names are made of ASCII letters, digits, `_` and `'`".into());
                } else if shown == "{" || shown == "}" {
                    d.help = Some("PLAN-P groups expressions with `( ... )` and `let ... in ... end`".into());
                }
                return;
            }
        };
        self.pos += n;
        self.push(Tok::Sym(sym), start);
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let (t, d) = lex(s);
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn hosts_ints_chars_and_comments() {
        assert_eq!(
            toks("131.254.60.81 42 0xff 'a' #\"b\" -- comment\n (* a (* nested *) one *) #3"),
            vec![
                Tok::Host(0x83fe3c51),
                Tok::Int(42),
                Tok::HexInt(255),
                Tok::Char(b'a'),
                Tok::Char(b'b'),
                Tok::Hash(3),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(toks(r#""a\n\x41\065\"""#), vec![Tok::Str(b"a\nAA\"".to_vec()), Tok::Eof]);
    }

    #[test]
    fn errors_are_reported_and_lexing_continues() {
        let (t, d) = lex("val x = 1.2 ! \"open");
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(t.last().unwrap().tok, Tok::Eof);
    }
}
