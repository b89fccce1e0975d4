//! Extractors that answer bad input with our error body.

use super::error::ApiError;
use crate::error::AppError;
use aggregates::error_code::ErrorKind;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// A JSON body; malformed JSON, wrong types, missing fields and wrong content types get our
/// error body (400 / 415 / 413), never axum's plain text.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(AppJson(value)),
            Err(rejection) => Err(json_rejection(rejection).into()),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMedia {
            code: "unsupported_media",
            message: "send the body as application/json".into(),
        },
        JsonRejection::JsonSyntaxError(e) => AppError::Refused {
            code: "invalid_json",
            kind: ErrorKind::Invalid,
            message: format!("the body is not valid JSON: {}", e.body_text()),
        },
        JsonRejection::JsonDataError(e) => AppError::Refused {
            code: "invalid_input",
            kind: ErrorKind::Invalid,
            message: e.body_text(),
        },
        JsonRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge("the body is too large".into())
            } else {
                AppError::invalid("invalid_body", e.body_text())
            }
        }
        other => AppError::invalid("invalid_body", other.body_text()),
    }
}

/// A query string; bad values get our error body (400).
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(AppQuery(value)),
            Err(e) => Err(query_rejection(e).into()),
        }
    }
}

fn query_rejection(e: QueryRejection) -> AppError {
    AppError::invalid("invalid_query", e.body_text())
}

/// `?after_position=P`: wait until the view has caught up with P.
#[derive(Debug, Default, Deserialize)]
pub struct AfterPosition {
    /// The position to wait for.
    pub after_position: Option<i64>,
}

/// Who is asking from where: the request id and the client's address.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The request id (`x-request-id`, set by the service when absent).
    pub request_id: String,
    /// The client's address.
    pub address: IpAddr,
}

impl FromRequestParts<super::AppState> for RequestInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let address = super::client_address::client_address(
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        );
        Ok(RequestInfo {
            request_id,
            address,
        })
    }
}

/// Parses a path or body id.
pub fn parse_uuid(text: &str, what: &'static str) -> Result<uuid::Uuid, AppError> {
    text.parse().map_err(|_| {
        AppError::not_found(what, format!("no such {}", what.trim_start_matches("no_")))
    })
}
