//! The sandbox's keys and its mirror file `sandbox-payments.json` (written to a temporary
//! file, then renamed over the old one).

use super::error::SandboxError;
use super::state::Ledger;
use crate::payments::wechat::ApiV3Key;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "sandbox-payments.json";
const FORMAT: u32 = 1;
const KEY_BITS: usize = 2048;

/// The platform key, its serial and the API v3 key.
pub(super) struct KeyMaterial {
    pub private_key: RsaPrivateKey,
    pub serial: String,
    pub api_v3_key: ApiV3Key,
}

impl KeyMaterial {
    /// Fresh keys: RSA-2048, a 40-hex-digit serial, a random API v3 key.
    pub fn generate() -> Result<Self, SandboxError> {
        let private_key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
            .map_err(|e| SandboxError::Setup(format!("generating the platform key: {e}")))?;
        Ok(KeyMaterial {
            private_key,
            serial: hex::encode_upper(rand::random::<[u8; 20]>()),
            api_v3_key: ApiV3Key::random(),
        })
    }

    fn to_stored(&self) -> Result<StoredKeys, SandboxError> {
        let pem = self
            .private_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SandboxError::Setup(format!("encoding the platform key: {e}")))?;
        Ok(StoredKeys {
            platform_private_key_pem: pem.to_string(),
            platform_serial: self.serial.clone(),
            api_v3_key_base64: BASE64.encode(self.api_v3_key.as_bytes()),
        })
    }

    fn from_stored(keys: &StoredKeys) -> Result<Self, String> {
        let private_key = RsaPrivateKey::from_pkcs8_pem(&keys.platform_private_key_pem)
            .map_err(|_| "the platform key is not a PKCS#8 PEM RSA key".to_owned())?;
        if private_key.size() * 8 < KEY_BITS {
            return Err("the platform key is shorter than 2048 bits".into());
        }
        let api_key = BASE64
            .decode(&keys.api_v3_key_base64)
            .map_err(|_| "the API v3 key is not base64".to_owned())?;
        let api_v3_key = ApiV3Key::try_from(api_key.as_slice()).map_err(|e| e.to_string())?;
        Ok(KeyMaterial {
            private_key,
            serial: keys.platform_serial.clone(),
            api_v3_key,
        })
    }
}

/// Keys as written in the file. (No `Debug`: it holds the private key.)
#[derive(Clone, Serialize, Deserialize)]
struct StoredKeys {
    platform_private_key_pem: String,
    platform_serial: String,
    api_v3_key_base64: String,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: u32,
    keys: &'a StoredKeys,
    ledger: &'a Ledger,
}

#[derive(Deserialize)]
struct FileIn {
    format: u32,
    keys: StoredKeys,
    ledger: Ledger,
}

/// Writes the sandbox's state to its file, newest version wins.
pub(super) struct Mirror {
    path: PathBuf,
    keys: StoredKeys,
    written: tokio::sync::Mutex<u64>,
}

impl Mirror {
    /// Opens `state_dir/sandbox-payments.json`: its keys and ledger if it exists, else fresh
    /// keys and an empty ledger, written at once so the keys outlive this process.
    pub fn open(state_dir: &Path) -> Result<(Mirror, KeyMaterial, Ledger), SandboxError> {
        std::fs::create_dir_all(state_dir).map_err(|source| SandboxError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(FILE_NAME);
        let (keys, stored, ledger) = match std::fs::read(&path) {
            Ok(bytes) => {
                let corrupt = |reason: String| SandboxError::CorruptState {
                    path: path.clone(),
                    reason,
                };
                let file: FileIn =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if file.format != FORMAT {
                    return Err(corrupt(format!("unknown format {}", file.format)));
                }
                let keys = KeyMaterial::from_stored(&file.keys).map_err(corrupt)?;
                (keys, file.keys, file.ledger)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = KeyMaterial::generate()?;
                let stored = keys.to_stored()?;
                (keys, stored, Ledger::default())
            }
            Err(source) => return Err(SandboxError::Io { path, source }),
        };
        let mirror = Mirror {
            path,
            keys: stored,
            written: tokio::sync::Mutex::new(0),
        };
        let bytes = mirror.encode(&ledger)?;
        write_atomic(&mirror.path, &bytes)?;
        Ok((mirror, keys, ledger))
    }

    /// The file's bytes for this ledger.
    pub fn encode(&self, ledger: &Ledger) -> Result<Vec<u8>, SandboxError> {
        let file = FileOut {
            format: FORMAT,
            keys: &self.keys,
            ledger,
        };
        serde_json::to_vec_pretty(&file).map_err(|e| SandboxError::CorruptState {
            path: self.path.clone(),
            reason: format!("cannot encode: {e}"),
        })
    }

    /// Writes `bytes` (the ledger at `version`) unless a newer version is already written.
    pub async fn write(&self, version: u64, bytes: Vec<u8>) -> Result<(), SandboxError> {
        let mut written = self.written.lock().await;
        if *written >= version {
            return Ok(());
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| SandboxError::Setup(format!("state writer task failed: {e}")))??;
        *written = version;
        Ok(())
    }
}

/// Writes a temporary file beside `path` (owner-only on Unix: it holds keys), syncs it, and
/// renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let temp = path.with_extension("json.tmp");
    let io = |source| SandboxError::Io {
        path: temp.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|source| SandboxError::Io {
        path: path.to_owned(),
        source,
    })
}
