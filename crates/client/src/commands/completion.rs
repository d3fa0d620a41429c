//! `berth completion bash|zsh|fish|powershell`: the shell completion script, generated from
//! the clap definitions by `clap_complete` (docker has the same command). The Debian package
//! installs the bash, zsh and fish scripts made by the same function.

use clap::CommandFactory;
pub use clap_complete::Shell;

/// The completion script of `berth` for `shell`.
pub fn script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "berth", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_know_the_commands() {
        let bash = String::from_utf8(script(clap_complete::Shell::Bash)).unwrap();
        assert!(bash.contains("complete -F _berth"), "{bash}");
        for shell in [clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let s = String::from_utf8(script(shell)).unwrap();
            assert!(s.contains("context") && s.contains("run"), "{s}");
        }
    }
}
