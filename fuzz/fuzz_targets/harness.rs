//! A service on a throw-away embedded store, built once per fuzzing process, and a way to send it
#![allow(dead_code)]
//! one request. Any 5xx answer or panic is a finding.

use aggregates::metadata::{Actor, EventMetadata, Role};
use axum::body::Body;
use axum::http::Request;
use permit_ledger::services::{Services, Settings};
use permit_ledger::store::{open, StoreConfig};
use std::sync::{Arc, LazyLock};
use tower::ServiceExt;

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub app: axum::Router,
    pub services: Arc<Services>,
    pub admin: String,
    pub owner: String,
    pub lot: String,
    pub permit: String,
}

pub static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("pl_fuzz_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (app, services, admin, owner, lot, permit) = rt.block_on(async {
        let store = open(&StoreConfig {
            database_url: None,
            data_dir: dir.clone(),
            pool_size: 4,
        })
        .await
        .unwrap();
        let services = Services::build(
            store,
            Settings::default(),
            &dir,
            Some("2022-05-20T02:00:00Z".parse().unwrap()),
        )
        .await
        .unwrap();
        let meta = EventMetadata {
            actor: Actor::System,
            role: Role::System,
            correlation_id: "fuzz".into(),
            causation_id: "fuzz".into(),
            request_id: "fuzz".into(),
        };
        let (_, admin) = permit_ledger::app::staff::add_staff(
            &services.ledger,
            &services.store.db,
            "fuzz".into(),
            vec![Role::Admin, Role::Reviewer, Role::Auditor],
            &meta,
        )
        .await
        .unwrap();
        let app = permit_ledger::http::router(services.clone());
        let call = |req: Request<Body>| {
            let app = app.clone();
            async move {
                let r = app.oneshot(req).await.unwrap();
                let bytes = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()
            }
        };
        let json = |uri: &str, token: Option<&str>, body: serde_json::Value| {
            let mut b = Request::post(uri).header("content-type", "application/json");
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            b.body(Body::from(body.to_string())).unwrap()
        };
        let lot = call(json("/api/v1/admin/lots", Some(&admin), serde_json::json!({
            "name": "北京大学医学部", "product": {"name": "通行证", "price_fen": 36000,
            "period_months": 12, "season_starts": "06-01"},
            "consent": {"version": "2022-05", "text": "同意"}}))).await["lot_id"].as_str().unwrap().to_string();
        let permit = call(json("/api/v1/admin/permits", Some(&admin), serde_json::json!({
            "lot_id": lot, "plate": "京A66666", "holder_name": "王老师", "phone": "13912345678",
            "valid_from": "2021-06-01", "valid_to": "2022-05-31"}))).await["permit_id"].as_str().unwrap().to_string();
        let (owner, _) = permit_ledger::app::sessions::create(
            &services.store.db,
            &aggregates::values::Phone::parse("13912345678").unwrap(),
            lot.parse().unwrap(),
            None,
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        (app, services, admin, owner, lot, permit)
    });
    Harness { rt, app, services, admin, owner, lot, permit }
});

impl Harness {
    /// Sends a request; panics (a finding) on a 5xx.
    pub fn send(&self, req: Request<Body>) -> u16 {
        let app = self.app.clone();
        let status = self.rt.block_on(async move { app.oneshot(req).await.unwrap().status() });
        assert!(status.as_u16() < 500, "server error {status}");
        status.as_u16()
    }
}
