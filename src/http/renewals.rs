//! Submitting a renewal: multipart with `consent_version` and the campus-card `photo`.

use super::auth::Owner;
use super::error::ApiResult;
use super::extract::{parse_uuid, RequestInfo};
use super::idempotency;
use super::AppState;
use crate::app::owner::{self as app};
use crate::app::photos::{self, Photo};
use crate::error::AppError;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json;

pub(super) fn routes(photo_max_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/permits/{permit_id}/renewals", post(submit))
        .layer(DefaultBodyLimit::max(photo_max_bytes + 64 * 1024))
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge("the upload is too large".into())
    } else {
        AppError::invalid("invalid_multipart", e.body_text())
    }
}

struct Upload {
    consent_version: Option<String>,
    photo: Option<Vec<u8>>,
}

async fn read_upload(mut multipart: Multipart, photo_max: usize) -> Result<Upload, AppError> {
    let mut upload = Upload {
        consent_version: None,
        photo: None,
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("consent_version") => {
                if upload.consent_version.is_some() {
                    return Err(AppError::invalid(
                        "duplicate_field",
                        "consent_version sent twice",
                    ));
                }
                let text = field.text().await.map_err(multipart_error)?;
                if text.len() > 200 {
                    return Err(AppError::invalid(
                        "invalid_input",
                        "consent_version is too long",
                    ));
                }
                upload.consent_version = Some(text);
            }
            Some("photo") => {
                if upload.photo.is_some() {
                    return Err(AppError::invalid("duplicate_field", "photo sent twice"));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > photo_max {
                        return Err(AppError::TooLarge(format!(
                            "the photo is over {photo_max} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                upload.photo = Some(bytes);
            }
            _ => {}
        }
    }
    Ok(upload)
}

async fn submit(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let multipart = multipart.map_err(|_| AppError::UnsupportedMedia {
        code: "unsupported_media",
        message: "send multipart/form-data with consent_version and photo".into(),
    })?;
    let photo_max = svc.settings.photo_max_bytes;
    let upload = read_upload(multipart, photo_max).await?;
    if upload.consent_version.is_none() {
        return Err(AppError::invalid(
            "invalid_input",
            "consent_version is required: accept the consent text first",
        )
        .into());
    }
    let photo: Option<Photo> = match upload.photo {
        None => None,
        Some(bytes) if bytes.is_empty() => None,
        Some(bytes) => Some(photos::check(bytes, photo_max)?),
    };
    let key = idempotency::key(&headers)?;
    let photo_digest = photo
        .as_ref()
        .map(|p| idempotency::digest(&[&p.bytes]))
        .unwrap_or_default();
    let digest = idempotency::digest(&[
        b"renewal",
        permit_id.as_bytes(),
        upload
            .consent_version
            .as_deref()
            .unwrap_or("\u{0}")
            .as_bytes(),
        photo_digest.as_bytes(),
    ]);
    let owner_ref = owner.as_ref();
    idempotency::once(&svc, &owner.idempotency_scope(), key, digest, async {
        let submitted = app::submit_renewal(
            &svc,
            &owner_ref,
            permit_id,
            upload.consent_version,
            photo,
            &info.request_id,
        )
        .await?;
        Ok((StatusCode::CREATED, json!(submitted)))
    })
    .await
}
