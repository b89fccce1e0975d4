//! Secrets read from files (never from the command line or the environment itself), wrapped
//! so that printing one shows `[redacted]`.

use std::path::Path;

/// A secret value. `Debug` and `Display` never show it; [`Secret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret file, trimming surrounding whitespace (a trailing newline, typically).
    /// The error names the file and why, never its content.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(Secret(value.to_string()))
    }

    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("s3cr3t-value");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn a_missing_or_empty_file_is_named_without_content() {
        let dir = std::env::temp_dir().join(format!("pl_secret_{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(Secret::from_file(&empty).unwrap_err().contains("is empty"));
        assert!(Secret::from_file(&dir.join("absent"))
            .unwrap_err()
            .contains("cannot read"));
        let full = dir.join("full");
        std::fs::write(&full, "abc\n").unwrap();
        assert_eq!(Secret::from_file(&full).unwrap().expose(), "abc");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
