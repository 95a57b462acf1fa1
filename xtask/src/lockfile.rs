//! Just enough of Cargo.lock: package names, versions and dependency names.

use std::path::Path;

use anyhow::{bail, Context, Result};

pub struct Package {
    pub name: String,
    pub version: String,
    /// `None` for the workspace's own packages (they have no `source` line).
    pub source: Option<String>,
    /// Dependency names, without the version or source suffix cargo adds
    /// when a name is ambiguous (`"wasm-bindgen 0.2.130"` becomes `wasm-bindgen`).
    pub dependencies: Vec<String>,
}

pub struct Lockfile {
    pub packages: Vec<Package>,
}

impl Lockfile {
    pub fn read(root: &Path) -> Result<Lockfile> {
        let path = root.join("Cargo.lock");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "could not read {} (run `cargo generate-lockfile`)",
                path.display()
            )
        })?;
        Ok(Lockfile::parse(&text))
    }

    pub fn parse(text: &str) -> Lockfile {
        let mut packages = Vec::new();
        for block in text.split("[[package]]").skip(1) {
            let mut package = Package {
                name: String::new(),
                version: String::new(),
                source: None,
                dependencies: Vec::new(),
            };
            let mut in_dependencies = false;
            for line in block.lines().map(str::trim) {
                if in_dependencies {
                    if line.starts_with(']') {
                        in_dependencies = false;
                    } else if let Some(dep) = unquote(line.trim_end_matches(',')) {
                        let name = dep.split(' ').next().unwrap_or(dep);
                        package.dependencies.push(name.to_string());
                    }
                } else if let Some(value) = line.strip_prefix("name = ") {
                    package.name = unquote(value).unwrap_or_default().to_string();
                } else if let Some(value) = line.strip_prefix("version = ") {
                    package.version = unquote(value).unwrap_or_default().to_string();
                } else if let Some(value) = line.strip_prefix("source = ") {
                    package.source = unquote(value).map(str::to_string);
                } else if line.starts_with("dependencies = [") {
                    in_dependencies = !line.ends_with(']');
                } else if line.starts_with('[') {
                    // A following table such as [metadata]: this package is over.
                    break;
                }
            }
            packages.push(package);
        }
        Lockfile { packages }
    }

    /// The one version of `name` in the lock file, if it is there.
    pub fn single_version(&self, name: &str) -> Result<Option<&str>> {
        let versions: Vec<&str> = self
            .packages
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.version.as_str())
            .collect();
        match versions.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => bail!(
                "Cargo.lock has several versions of {name} ({}): the wasm-bindgen CLI must \
                 match exactly one; unify them (e.g. `cargo update -p {name}`)",
                many.join(", ")
            ),
        }
    }

    /// The workspace's own packages that depend directly on `dependency`, sorted by name.
    pub fn local_dependents(&self, dependency: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .packages
            .iter()
            .filter(|p| p.source.is_none() && p.dependencies.iter().any(|d| d == dependency))
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        names
    }
}

fn unquote(value: &str) -> Option<&str> {
    value.strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "unipeer-tests"
version = "0.1.0"
dependencies = [
 "unipeer",
 "wasm-bindgen 0.2.130",
 "wasm-bindgen-test",
]

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "00"
dependencies = [
 "cfg-if",
]

[[package]]
name = "wasm-bindgen-test"
version = "0.3.80"
"#;

    #[test]
    fn parses_names_versions_and_dependencies() {
        let lock = Lockfile::parse(LOCK);
        assert_eq!(lock.packages.len(), 3);
        assert_eq!(
            lock.single_version("wasm-bindgen").unwrap(),
            Some("0.2.130")
        );
        assert_eq!(lock.single_version("js-sys").unwrap(), None);
        assert_eq!(
            lock.local_dependents("wasm-bindgen-test"),
            ["unipeer-tests"]
        );
        assert_eq!(lock.local_dependents("wasm-bindgen"), ["unipeer-tests"]);
        // wasm-bindgen comes from the registry: not one of ours.
        assert!(lock.local_dependents("cfg-if").is_empty());
    }

    #[test]
    fn several_versions_are_an_error() {
        let lock = Lockfile::parse(&format!(
            "{LOCK}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.100\"\n"
        ));
        assert!(lock.single_version("wasm-bindgen").is_err());
    }
}
