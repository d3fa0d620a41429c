//! This machine's architecture under the names docker uses for it: Go's `GOARCH`
//! (`amd64`, `arm64`: `version`, `info`, image platforms) and, for seccomp profiles,
//! libseccomp's native name (`x86`, `mipsel64`: what a profile's `includes.arches` and
//! `excludes.arches` list) with its `SCMP_ARCH_*` constant (what `archMap` and the OCI
//! spec's `linux.seccomp.architectures` list), as moby's `profiles/seccomp` maps them.

/// `GOARCH` of the machine this binary was built for (`amd64` on x86-64).
pub fn go_arch() -> &'static str {
    go_arch_of(std::env::consts::ARCH, cfg!(target_endian = "little"))
}

/// `GOARCH` for Rust's name of an architecture (`std::env::consts::ARCH`) and its byte
/// order; a name Go spells the same way (`riscv64`, `s390x`) is returned as it is.
pub fn go_arch_of(rust_arch: &str, little_endian: bool) -> &str {
    match (rust_arch, little_endian) {
        ("x86", _) => "386",
        ("x86_64", _) => "amd64",
        ("aarch64", _) => "arm64",
        ("loongarch64", _) => "loong64",
        ("mips", true) => "mipsle",
        ("mips64", true) => "mips64le",
        ("powerpc", _) => "ppc",
        ("powerpc64", true) => "ppc64le",
        ("powerpc64", false) => "ppc64",
        (other, _) => other,
    }
}

/// An architecture as seccomp profiles name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompArch {
    /// libseccomp's native name (`amd64`, `x86`, `arm64`, `ppc64le`), matched against a
    /// rule's `includes.arches` / `excludes.arches`.
    pub native: &'static str,
    /// The `SCMP_ARCH_*` constant (`SCMP_ARCH_X86_64`), matched against `archMap`.
    pub scmp: &'static str,
}

/// This machine's architecture for seccomp profiles; `None` where libseccomp has no name
/// for it (moby then leaves the architectures to libseccomp and no arch-specific rule
/// applies).
pub fn seccomp_arch() -> Option<SeccompArch> {
    seccomp_arch_of(go_arch())
}

/// The seccomp names of the architecture `GOARCH` calls `go_arch` (moby's `goToNative`
/// followed by `nativeToSeccomp`).
pub fn seccomp_arch_of(go_arch: &str) -> Option<SeccompArch> {
    let (native, scmp) = match go_arch {
        "386" => ("x86", "SCMP_ARCH_X86"),
        "amd64" => ("amd64", "SCMP_ARCH_X86_64"),
        "arm" => ("arm", "SCMP_ARCH_ARM"),
        "arm64" => ("arm64", "SCMP_ARCH_AARCH64"),
        "loong64" => ("loong64", "SCMP_ARCH_LOONGARCH64"),
        "mips" => ("mips", "SCMP_ARCH_MIPS"),
        "mipsle" => ("mipsel", "SCMP_ARCH_MIPSEL"),
        "mips64" => ("mips64", "SCMP_ARCH_MIPS64"),
        "mips64le" => ("mipsel64", "SCMP_ARCH_MIPSEL64"),
        "mips64p32" => ("mips64n32", "SCMP_ARCH_MIPS64N32"),
        "mips64p32le" => ("mips3l64n32", "SCMP_ARCH_MIPSEL64N32"),
        "ppc" => ("ppc", "SCMP_ARCH_PPC"),
        "ppc64" => ("ppc64", "SCMP_ARCH_PPC64"),
        "ppc64le" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
        "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
        "s390" => ("s390", "SCMP_ARCH_S390"),
        "s390x" => ("s390x", "SCMP_ARCH_S390X"),
        _ => return None,
    };
    Some(SeccompArch { native, scmp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_goarch() {
        assert_eq!(go_arch_of("x86_64", true), "amd64");
        assert_eq!(go_arch_of("aarch64", true), "arm64");
        assert_eq!(go_arch_of("x86", true), "386");
        assert_eq!(go_arch_of("powerpc64", true), "ppc64le");
        assert_eq!(go_arch_of("powerpc64", false), "ppc64");
        assert_eq!(go_arch_of("mips64", true), "mips64le");
        assert_eq!(go_arch_of("mips64", false), "mips64");
        assert_eq!(go_arch_of("loongarch64", true), "loong64");
        assert_eq!(go_arch_of("riscv64", true), "riscv64");
        assert_eq!(go_arch_of("s390x", false), "s390x");
        assert_eq!(go_arch_of("sparc64", false), "sparc64");
    }

    #[test]
    fn goarch_becomes_libseccomp_names() {
        let a = |g| seccomp_arch_of(g).map(|a| (a.native, a.scmp));
        assert_eq!(a("amd64"), Some(("amd64", "SCMP_ARCH_X86_64")));
        assert_eq!(a("arm64"), Some(("arm64", "SCMP_ARCH_AARCH64")));
        // Docker's default profile names 32-bit x86 "x86" in includes, not "386".
        assert_eq!(a("386"), Some(("x86", "SCMP_ARCH_X86")));
        assert_eq!(a("ppc64le"), Some(("ppc64le", "SCMP_ARCH_PPC64LE")));
        assert_eq!(a("ppc64"), Some(("ppc64", "SCMP_ARCH_PPC64")));
        assert_eq!(a("mips64le"), Some(("mipsel64", "SCMP_ARCH_MIPSEL64")));
        assert_eq!(a("riscv64"), Some(("riscv64", "SCMP_ARCH_RISCV64")));
        assert_eq!(a("s390x"), Some(("s390x", "SCMP_ARCH_S390X")));
        assert_eq!(a("sparc64"), None);
        assert_eq!(a("x86_64"), None, "takes GOARCH, not Rust's names");
    }

    #[test]
    fn this_machine_has_names() {
        let go = go_arch();
        assert!(!go.is_empty());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(go, "amd64");
            assert_eq!(
                seccomp_arch(),
                Some(SeccompArch {
                    native: "amd64",
                    scmp: "SCMP_ARCH_X86_64"
                })
            );
        }
    }
}
