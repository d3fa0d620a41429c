//! Parser of the Go text/template subset docker's `--format` uses.

use crate::template::TemplateError;

/// An argument of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.` followed by zero or more fields (`.`, `.A.B`).
    Dot(Vec<String>),
    /// `$` or `$name` followed by fields.
    Var(String, Vec<String>),
    /// A string literal.
    Str(String),
    /// A number literal.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// A function name.
    Func(String),
    /// `( pipeline )` followed by fields.
    Sub(Box<Pipeline>, Vec<String>),
}

/// A command: a function call with arguments, or a single operand.
pub type Command = Vec<Arg>;

/// `cmd | cmd | ...`, optionally declaring variables (`$k, $v :=`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// Variables declared by the pipeline.
    pub decl: Vec<String>,
    /// Commands; each result is passed as the last argument of the next.
    pub cmds: Vec<Command>,
}

/// A template node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{pipeline}}`.
    Action(Pipeline),
    /// `{{if}}`/`{{with}}`/`{{range}}` with optional else branch.
    Block {
        /// "if", "with" or "range".
        kind: &'static str,
        /// The condition/subject.
        pipe: Pipeline,
        /// Body.
        body: Vec<Node>,
        /// Else branch (an `else if` is a nested block here).
        els: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(f64),
    Ident(String),
    LParen,
    RParen(Vec<String>),
    Pipe,
    Comma,
    Declare,
}

fn fields_after(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut fields = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        let start = *i + 1;
        let mut j = start;
        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        if j == start {
            break;
        }
        fields.push(chars[start..j].iter().collect());
        *i = j;
    }
    fields
}

fn lex_action(src: &str) -> Result<Vec<Tok>, TemplateError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1
            }
            ')' => {
                i += 1;
                toks.push(Tok::RParen(fields_after(&chars, &mut i)));
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2
            }
            '=' => {
                toks.push(Tok::Declare);
                i += 1
            }
            '.' => {
                let mut j = i;
                let fields = fields_after(&chars, &mut j);
                if fields.is_empty() {
                    j = i + 1;
                }
                toks.push(Tok::Dot(fields));
                i = j;
            }
            '$' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                let fields = fields_after(&chars, &mut j);
                toks.push(Tok::Var(name, fields));
                i = j;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(TemplateError::Parse("unterminated quoted string".into()));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => s.push(c),
                    }
                }
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| TemplateError::Parse("unterminated raw string".into()))?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<f64>()
                    .map_err(|_| TemplateError::Parse(format!("bad number syntax: {text:?}")))?;
                toks.push(Tok::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(TemplateError::Parse(format!(
                    "unexpected {other:?} in command"
                )))
            }
        }
    }
    Ok(toks)
}

fn parse_pipeline(
    toks: &[Tok],
    pos: &mut usize,
    in_paren: bool,
) -> Result<Pipeline, TemplateError> {
    let mut p = Pipeline::default();
    // Declarations: `$x :=` or `$k, $v :=`.
    let mut look = *pos;
    let mut vars = Vec::new();
    while let Some(Tok::Var(name, f)) = toks.get(look) {
        if !f.is_empty() {
            break;
        }
        vars.push(name.clone());
        look += 1;
        match toks.get(look) {
            Some(Tok::Comma) => look += 1,
            Some(Tok::Declare) => {
                p.decl = vars.clone();
                *pos = look + 1;
                break;
            }
            _ => break,
        }
    }
    let mut cmd: Command = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t {
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err(TemplateError::Parse("missing command before |".into()));
                }
                p.cmds.push(std::mem::take(&mut cmd));
            }
            Tok::RParen(fields) => {
                if !in_paren {
                    return Err(TemplateError::Parse("unexpected )".into()));
                }
                *pos -= 1;
                let _ = fields;
                break;
            }
            Tok::LParen => {
                let inner = parse_pipeline(toks, pos, true)?;
                let Some(Tok::RParen(fields)) = toks.get(*pos) else {
                    return Err(TemplateError::Parse("unclosed left paren".into()));
                };
                *pos += 1;
                cmd.push(Arg::Sub(Box::new(inner), fields.clone()));
            }
            Tok::Dot(f) => cmd.push(Arg::Dot(f.clone())),
            Tok::Var(n, f) => cmd.push(Arg::Var(n.clone(), f.clone())),
            Tok::Str(s) => cmd.push(Arg::Str(s.clone())),
            Tok::Num(n) => cmd.push(Arg::Num(*n)),
            Tok::Ident(id) => cmd.push(match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => Arg::Func(id.clone()),
            }),
            Tok::Comma | Tok::Declare => {
                return Err(TemplateError::Parse("unexpected , or := in command".into()))
            }
        }
    }
    if !cmd.is_empty() {
        p.cmds.push(cmd);
    }
    if p.cmds.is_empty() {
        return Err(TemplateError::Parse("missing value for command".into()));
    }
    Ok(p)
}

enum Piece {
    Text(String),
    Action(String),
}

fn split_pieces(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Parse("unclosed action".into()))?;
        let mut inner = &after[..end];
        if inner.starts_with("- ") || inner == "-" {
            text = text.trim_end();
            inner = &inner[1..];
        }
        trim_next = inner.ends_with(" -");
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let inner = inner.trim();
        if !inner.starts_with("/*") {
            pieces.push(Piece::Action(inner.to_string()));
        }
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

/// Parses a template into nodes.
pub fn parse(src: &str) -> Result<Vec<Node>, TemplateError> {
    let pieces = split_pieces(src)?;
    let mut pos = 0;
    let (nodes, end) = parse_list(&pieces, &mut pos)?;
    match end {
        None => Ok(nodes),
        Some(e) => Err(TemplateError::Parse(format!("unexpected {{{{{e}}}}}"))),
    }
}

/// Parses nodes until `end`/`else` (returned) or the input's end (`None`).
fn parse_list(
    pieces: &[Piece],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(p) = pieces.get(*pos) {
        *pos += 1;
        match p {
            Piece::Text(t) => nodes.push(Node::Text(t.clone())),
            Piece::Action(a) => {
                let word = a.split_whitespace().next().unwrap_or("");
                match word {
                    "end" => return Ok((nodes, Some("end".into()))),
                    "else" => return Ok((nodes, Some(a.clone()))),
                    "if" | "range" | "with" => {
                        nodes.push(parse_block(pieces, pos, word, &a[word.len()..])?)
                    }
                    _ => {
                        let toks = lex_action(a)?;
                        let mut i = 0;
                        nodes.push(Node::Action(parse_pipeline(&toks, &mut i, false)?));
                    }
                }
            }
        }
    }
    Ok((nodes, None))
}

fn parse_block(
    pieces: &[Piece],
    pos: &mut usize,
    word: &str,
    rest: &str,
) -> Result<Node, TemplateError> {
    let kind: &'static str = match word {
        "if" => "if",
        "range" => "range",
        _ => "with",
    };
    let toks = lex_action(rest)?;
    let mut i = 0;
    let pipe = parse_pipeline(&toks, &mut i, false)?;
    let (body, end) = parse_list(pieces, pos)?;
    let end = end.ok_or_else(|| TemplateError::Parse(format!("unexpected EOF in {kind}")))?;
    let els = if end == "end" {
        Vec::new()
    } else {
        let after_else = end["else".len()..].trim();
        if after_else.is_empty() {
            let (els, end2) = parse_list(pieces, pos)?;
            if end2.as_deref() != Some("end") {
                return Err(TemplateError::Parse(
                    "expected {{end}} after {{else}}".into(),
                ));
            }
            els
        } else {
            // `else if ...` / `else with ...`: a nested block sharing our {{end}}.
            let w = after_else.split_whitespace().next().unwrap_or("");
            if w != "if" && w != "with" {
                return Err(TemplateError::Parse(format!("unexpected {{{{{end}}}}}")));
            }
            vec![parse_block(pieces, pos, w, &after_else[w.len()..])?]
        }
    };
    Ok(Node::Block {
        kind,
        pipe,
        body,
        els,
    })
}
