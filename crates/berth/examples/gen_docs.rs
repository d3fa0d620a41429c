//! Writes berth's man pages and shell completions, generated from the clap definitions, for
//! the Debian package (scripts/build-deb.sh):
//! `cargo run --release -p berth --example gen_docs -- <out>` makes
//! `<out>/man/berth.1`, `berth-<command>….1` (clap_mangen), `berth-daemon.8`, and
//! `<out>/completion/{berth.bash,_berth,berth.fish}` (the same scripts as `berth completion`).

use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: gen_docs <out dir>"),
    );
    generate(&out)
}

/// Writes the man pages and completions under `out` (also used by the package test, which
/// cannot count on examples being built).
pub fn generate(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completion = out.join("completion");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completion)?;
    clap_mangen::generate_to(berth_client::cli::Cli::command(), &man)?;
    let daemon = berth_engine::daemon::config::Flags::command().name("berth-daemon");
    let mut page = Vec::new();
    clap_mangen::Man::new(daemon)
        .section("8")
        .render(&mut page)?;
    std::fs::write(man.join("berth-daemon.8"), page)?;
    use berth_client::commands::completion::Shell;
    for (shell, file) in [
        (Shell::Bash, "berth.bash"),
        (Shell::Zsh, "_berth"),
        (Shell::Fish, "berth.fish"),
    ] {
        std::fs::write(
            completion.join(file),
            berth_client::commands::completion::script(shell),
        )?;
    }
    Ok(())
}
