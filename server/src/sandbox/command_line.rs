//! Splitting a command the user configured in crashloom.toml into an argument vector, without a
//! shell.
//!
//! Configured commands are trusted input written by the user; crash data never becomes part of a
//! command. Even so, commands never go through a shell implicitly: words are split with POSIX-style
//! quoting (`'single'`, `"double"`, `\` escapes) and unquoted shell syntax (`&&`, `|`, `;`, `>`,
//! `<`, `$(`, backticks) is an error, because it would silently become literal arguments. A user who
//! wants a shell writes it out: `sh -c 'cargo build && cargo test'`.

use std::fmt;

/// Why a configured command could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLineError {
    pub command: String,
    pub problem: CommandLineProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLineProblem {
    UnterminatedQuote,
    TrailingBackslash,
    ShellSyntax(char),
}

impl fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = &self.command;
        match self.problem {
            CommandLineProblem::UnterminatedQuote => {
                write!(f, "the command `{command}` has a quote that is never closed")
            }
            CommandLineProblem::TrailingBackslash => {
                write!(f, "the command `{command}` ends with a lone backslash")
            }
            CommandLineProblem::ShellSyntax(symbol) => write!(
                f,
                "the command `{command}` uses shell syntax (`{symbol}`) but commands run without a \
                 shell; quote it, or write the command as `sh -c '...'`"
            ),
        }
    }
}

impl std::error::Error for CommandLineError {}

/// Splits `command` into words the way a POSIX shell would, without expanding anything.
pub fn split_command_line(command: &str) -> Result<Vec<String>, CommandLineError> {
    let fail = |problem| Err(CommandLineError { command: command.to_string(), problem });
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return fail(CommandLineProblem::UnterminatedQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => word.push(escaped),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return fail(CommandLineProblem::UnterminatedQuote),
                        },
                        Some(c) => word.push(c),
                        None => return fail(CommandLineProblem::UnterminatedQuote),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(escaped) => {
                    in_word = true;
                    word.push(escaped);
                }
                None => return fail(CommandLineProblem::TrailingBackslash),
            },
            '|' | '&' | ';' | '<' | '>' | '`' => return fail(CommandLineProblem::ShellSyntax(c)),
            '$' if chars.peek() == Some(&'(') => return fail(CommandLineProblem::ShellSyntax(c)),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(command: &str) -> Result<Vec<String>, CommandLineProblem> {
        split_command_line(command).map_err(|error| error.problem)
    }

    fn words(words: &[&str]) -> Result<Vec<String>, CommandLineProblem> {
        Ok(words.iter().map(|word| word.to_string()).collect())
    }

    #[test]
    fn words_are_split_on_whitespace_and_quotes_group_them() {
        assert_eq!(split("cargo test  --lib"), words(&["cargo", "test", "--lib"]));
        assert_eq!(split("pytest -k 'not slow and fast'"), words(&["pytest", "-k", "not slow and fast"]));
        assert_eq!(split(r#"echo "a \"quoted\" $HOME" it\'s"#), words(&["echo", r#"a "quoted" $HOME"#, "it's"]));
        assert_eq!(split("run ''"), words(&["run", ""]));
        assert_eq!(split("   "), words(&[]));
        assert_eq!(split("sh -c 'cargo build && cargo test'"), words(&["sh", "-c", "cargo build && cargo test"]));
    }

    #[test]
    fn unquoted_shell_syntax_and_broken_quotes_are_errors() {
        assert_eq!(split("cargo build && cargo test"), Err(CommandLineProblem::ShellSyntax('&')));
        assert_eq!(split("pytest | tee log"), Err(CommandLineProblem::ShellSyntax('|')));
        assert_eq!(split("echo $(id)"), Err(CommandLineProblem::ShellSyntax('$')));
        assert_eq!(split("echo 'open"), Err(CommandLineProblem::UnterminatedQuote));
        assert_eq!(split("echo \\"), Err(CommandLineProblem::TrailingBackslash));
        let message = split_command_line("make > log").err().map(|error| error.to_string());
        assert!(message.is_some_and(|message| message.contains("sh -c")));
    }
}
