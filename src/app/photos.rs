//! Campus-card photos: JPEG or PNG by content (not by name), within the size limit, EXIF and
//! other metadata segments (JPEG) or chunks (PNG, [`png`]) removed, stored content-addressed by
//! SHA-256.

mod png;

pub use png::strip_png_metadata;

use crate::error::AppError;
use crate::store::{Db, StoreError};
use aggregates::permit::PhotoRef;
use sha2::{Digest, Sha256};

/// An uploaded image, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    /// The bytes as stored (metadata removed).
    pub bytes: Vec<u8>,
}

/// What the bytes are, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&png::SIGNATURE) {
        Some("image/png")
    } else {
        None
    }
}

/// Checks an upload: 413 over `max_bytes`, 415 unless JPEG or PNG.
pub fn check(bytes: Vec<u8>, max_bytes: usize) -> Result<Photo, AppError> {
    if bytes.len() > max_bytes {
        return Err(AppError::TooLarge(format!(
            "the photo is over {} bytes",
            max_bytes
        )));
    }
    let content_type = sniff(&bytes).ok_or(AppError::UnsupportedMedia {
        code: "unsupported_media",
        message: "the photo must be a JPEG or PNG image".into(),
    })?;
    let bytes = if content_type == "image/jpeg" {
        strip_jpeg_metadata(&bytes)
    } else {
        strip_png_metadata(&bytes)
    };
    Ok(Photo {
        content_type,
        bytes,
    })
}

/// Removes APPn (1–15, e.g. EXIF with GPS position, XMP) and COM segments from a JPEG, keeping
/// APP0 (JFIF) and everything from the start of scan on. Malformed input is returned as is.
pub fn strip_jpeg_metadata(jpeg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..2]);
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return jpeg.to_vec();
        }
        let marker = jpeg[i + 1];
        if marker == 0xDA {
            out.extend_from_slice(&jpeg[i..]);
            return out;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if len < 2 || i + 2 + len > jpeg.len() {
            return jpeg.to_vec();
        }
        let metadata = (0xE1..=0xEF).contains(&marker) || marker == 0xFE;
        if !metadata {
            out.extend_from_slice(&jpeg[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    jpeg.to_vec()
}

/// Stores the photo (once per content) and returns its reference for the event.
/// Stores `photo` (again, if it is there: its time becomes `now`, on the business clock).
pub async fn store(
    db: &Db,
    photo: &Photo,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PhotoRef, StoreError> {
    let sha256 = hex::encode(Sha256::digest(&photo.bytes));
    sqlx::query(
        "INSERT INTO photos (sha256, content_type, size, bytes, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at",
    )
    .bind(&sha256)
    .bind(photo.content_type)
    .bind(photo.bytes.len() as i64)
    .bind(photo.bytes.clone())
    .bind(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    .execute(&db.write)
    .await?;
    Ok(PhotoRef {
        sha256,
        size: photo.bytes.len() as u64,
        content_type: photo.content_type.to_string(),
    })
}

/// How many photos one retention sweep looks at, at most.
const SWEEP: i64 = 500;

/// Deletes the photos stored before `cutoff` that no renewal needs any more (open, or decided
/// at or after `cutoff`: [`projections::cards::query::photo_needed`]); returns how many. A
/// photo uploaded again is stored again with a new time, so a renewal submitted during the
/// sweep keeps it. The caller makes sure the `cards` view has caught up first.
pub async fn purge(db: &Db, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
    let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT sha256 FROM photos WHERE created_at < $1 ORDER BY created_at LIMIT $2",
    )
    .bind(&cutoff)
    .bind(SWEEP)
    .fetch_all(&db.read)
    .await?;
    let mut deleted = 0;
    for sha256 in old {
        if projections::cards::query::photo_needed(&db.read, &sha256, &cutoff).await? {
            continue;
        }
        deleted += sqlx::query("DELETE FROM photos WHERE sha256 = $1 AND created_at < $2")
            .bind(&sha256)
            .bind(&cutoff)
            .execute(&db.write)
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

/// A stored photo's type and bytes.
pub async fn fetch(db: &Db, sha256: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT content_type, bytes FROM photos WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&db.read)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    fn jpeg_with_exif() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend(segment(0xE0, b"JFIF\0\x01\x01"));
        j.extend(segment(0xE1, b"Exif\0\0GPS 39.9N 116.4E"));
        j.extend(segment(0xFE, b"a comment"));
        j.extend(segment(0xDB, &[0u8; 65]));
        j.extend([0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn exif_and_comments_are_removed_from_a_jpeg() {
        let stripped = strip_jpeg_metadata(&jpeg_with_exif());
        assert!(!stripped.windows(4).any(|w| w == b"Exif"));
        assert!(!stripped.windows(7).any(|w| w == b"comment"));
        assert!(stripped.windows(4).any(|w| w == b"JFIF"));
        assert!(stripped.ends_with(&[0xFF, 0xD9]));
    }

    #[test]
    fn images_are_recognised_by_content_not_by_name() {
        assert_eq!(sniff(&jpeg_with_exif()), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"%PDF-1.4"), None);
        assert!(matches!(
            check(b"GIF89a".to_vec(), 100),
            Err(AppError::UnsupportedMedia { .. })
        ));
        assert!(matches!(
            check(jpeg_with_exif(), 10),
            Err(AppError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn stripping_never_panics_and_keeps_the_start_marker(
            tail in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let mut bytes = vec![0xFF, 0xD8, 0xFF];
            bytes.extend(tail);
            let out = strip_jpeg_metadata(&bytes);
            prop_assert!(out.starts_with(&[0xFF, 0xD8]));
            prop_assert!(out.len() <= bytes.len());
        }
    }
}
