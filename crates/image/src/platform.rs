//! Platform normalisation and matching (containerd's `platforms` rules, in short).

use std::fmt;

use berth_content::{Descriptor, Platform};

use crate::error::{ImageError, Result};
use crate::manifest::Index;

/// A wanted platform, normalised: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformSpec {
    /// GOOS form (`linux`).
    pub os: String,
    /// GOARCH form (`amd64`, `arm64`, `arm`, ...).
    pub architecture: String,
    /// Variant (`v7`, `v8`); arm64 defaults to `v8`, arm to `v7`, others to none.
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// The platform this process runs on (linux/amd64 on x86-64 hosts).
    pub fn host() -> Self {
        Self::new("linux", berth_units::arch::go_arch(), None)
    }

    /// A normalised platform from its parts.
    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> Self {
        let (architecture, variant) = normalize_arch(arch, variant.unwrap_or(""));
        PlatformSpec {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        }
    }

    /// Parses `os[/arch[/variant]]` (as in `--platform`); a lone arch means linux.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || ImageError::Invalid {
            what: "platform".into(),
            reason: format!("{s:?}: expected os/arch[/variant]"),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [one] if *one == "linux" || *one == "windows" || *one == "darwin" => {
                let host = Self::host();
                Ok(Self::new(one, &host.architecture, host.variant.as_deref()))
            }
            [arch] => Ok(Self::new("linux", arch, None)),
            [os, arch] => Ok(Self::new(os, arch, None)),
            [os, arch, variant] => Ok(Self::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }

    /// Normalised copy of a descriptor/config platform.
    pub fn from_platform(p: &Platform) -> Self {
        Self::new(&p.os, &p.architecture, p.variant.as_deref())
    }

    /// How well `candidate` serves this platform: `Some(0)` is an exact match, larger is a
    /// compatible older variant (arm v6 for v7), `None` does not run here.
    pub fn rank(&self, candidate: &Platform) -> Option<u32> {
        let c = Self::from_platform(candidate);
        if c.os != self.os || c.architecture != self.architecture {
            return None;
        }
        if c.variant == self.variant {
            return Some(0);
        }
        let level = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| v.strip_prefix('v'))
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u32>().ok())
        };
        match (level(&self.variant), level(&c.variant)) {
            (Some(w), Some(h)) if h < w => Some(w - h),
            (_, None) if self.architecture == "amd64" => Some(10),
            _ => None,
        }
    }

    /// Converts back into a [`Platform`].
    pub fn to_platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            ..Platform::default()
        }
    }
}

impl Default for PlatformSpec {
    fn default() -> Self {
        Self::host()
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let v = |s: &str| Some(s.to_string());
    let with_v = |s: &str| {
        if s.starts_with('v') {
            s.to_string()
        } else {
            format!("v{s}")
        }
    };
    match arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => match variant.as_str() {
            "" | "v1" => ("amd64".into(), None),
            other => ("amd64".into(), v(other)),
        },
        "i386" | "i686" | "386" => ("386".into(), None),
        "aarch64" | "arm64" => match variant.as_str() {
            "" | "8" | "v8" | "v8.0" => ("arm64".into(), v("v8")),
            other => ("arm64".into(), Some(with_v(other))),
        },
        "armhf" => ("arm".into(), v("v7")),
        "armel" => ("arm".into(), v("v6")),
        "arm" => match variant.as_str() {
            "" => ("arm".into(), v("v7")),
            other => ("arm".into(), Some(with_v(other))),
        },
        other => (other.to_string(), (!variant.is_empty()).then_some(variant)),
    }
}

/// Picks the manifest of `index` that best serves `wanted` (entries without a platform are
/// skipped, as are attestation manifests).
pub fn select_manifest<'a>(index: &'a Index, wanted: &PlatformSpec) -> Result<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter_map(|d| {
            let p = d.platform.as_ref()?;
            wanted.rank(p).map(|r| (r, d))
        })
        .min_by_key(|(r, _)| *r)
        .map(|(_, d)| d)
        .ok_or_else(|| ImageError::NoMatchingPlatform {
            wanted: wanted.to_string(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| PlatformSpec::from_platform(p).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
            ..Platform::default()
        }
    }

    #[test]
    fn normalises_like_containerd() {
        assert_eq!(
            PlatformSpec::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            PlatformSpec::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            PlatformSpec::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            PlatformSpec::parse("arm64").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert!(PlatformSpec::parse("linux//x").is_err());
    }

    #[test]
    fn ranks_variants() {
        let arm64 = PlatformSpec::parse("linux/arm64").unwrap();
        assert_eq!(arm64.rank(&p("arm64", None)), Some(0));
        assert_eq!(arm64.rank(&p("arm64", Some("v8"))), Some(0));
        assert_eq!(arm64.rank(&p("amd64", None)), None);
        let armv7 = PlatformSpec::parse("linux/arm/v7").unwrap();
        assert_eq!(armv7.rank(&p("arm", Some("v6"))), Some(1));
        assert_eq!(armv7.rank(&p("arm", Some("v8"))), None);
    }

    #[test]
    fn selects_best_manifest() {
        use berth_content::Digest;
        let d = |arch: &str, variant: Option<&str>, n: u8| {
            let mut desc = Descriptor::new("m", Digest::of(&[n]), 1);
            desc.platform = Some(p(arch, variant));
            desc
        };
        let idx = Index::oci(vec![
            d("arm", Some("v6"), 0),
            d("arm", Some("v7"), 1),
            d("amd64", None, 2),
        ]);
        let want = PlatformSpec::parse("linux/arm/v7").unwrap();
        assert_eq!(
            select_manifest(&idx, &want).unwrap().digest,
            Digest::of(&[1])
        );
        let amd = PlatformSpec::parse("linux/amd64").unwrap();
        assert_eq!(
            select_manifest(&idx, &amd).unwrap().digest,
            Digest::of(&[2])
        );
        let err = select_manifest(&idx, &PlatformSpec::parse("linux/s390x").unwrap());
        assert!(err.unwrap_err().to_string().contains("linux/arm/v7"));
    }
}
