//! Parse errors: every one names the line it comes from (1-based, as Docker counts).

/// A Dockerfile that cannot be parsed. `Display` is Docker's wording:
/// `dockerfile parse error on line 3: unknown instruction: FORM (did you mean FROM?)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// First line of the instruction (or the directive) at fault, 1-based.
    pub line: usize,
    /// What is wrong, without the location.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// A variable substitution that failed (`${X:?must be set}`, `${`, bad modifiers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);
