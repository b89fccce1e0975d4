//! A running service for black-box HTTP tests: `spawn_app` on port 0 over a fresh store, with
//! typed helpers for the manual's steps.

use crate::helpers::{TempDir, TestStore};
use permit_ledger::services::{Services, Settings};
use permit_ledger::startup::Application;
use permit_ledger::store::Backend;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

pub const HOLDER_PHONE: &str = "13912345678";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub services: Arc<Services>,
    pub t: TestStore,
    _dir: TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the service in sandbox mode with the business clock at the manual's renewal day.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Settings::default()).await
}

pub async fn spawn_app_with(backend: Backend, settings: Settings) -> TestApp {
    spawn(backend, settings, None).await
}

/// Starts the service in sandbox mode but with `sms` as its SMS gateway (a real client pointed
/// at a local fake): codes and notices go through the real protocol.
pub async fn spawn_app_with_sms(
    backend: Backend,
    sms: Arc<dyn permit_ledger::sms::SmsGateway>,
) -> TestApp {
    spawn(backend, Settings::default(), Some(sms)).await
}

async fn spawn(
    backend: Backend,
    settings: Settings,
    sms: Option<Arc<dyn permit_ledger::sms::SmsGateway>>,
) -> TestApp {
    let t = TestStore::new(backend).await;
    let dir = TempDir::new();
    let services = Services::build(
        t.store.clone(),
        settings,
        &dir.0,
        Some("2022-05-20T02:00:00Z".parse().unwrap()),
    )
    .await
    .expect("services");
    let services = match sms {
        None => services,
        Some(sms) => {
            let built = Arc::try_unwrap(services)
                .ok()
                .expect("nothing else holds the services yet");
            Arc::new(Services {
                sms,
                sandbox_sms: None,
                ..built
            })
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(services, listener, t, dir)
}

impl TestApp {
    /// Another instance of the service over the same store, with pools of its own (as a
    /// second process would have). Drop it before `self`, which owns the store.
    pub async fn second_instance(&self, settings: Settings) -> TestApp {
        let store = permit_ledger::store::open(&self.t.config())
            .await
            .expect("open the store again");
        let t = TestStore {
            ledger: permit_ledger::ledger::Ledger::new(store.log.clone()),
            store,
            pg: None,
            dir: None,
        };
        let dir = TempDir::new();
        let services = Services::build(
            t.store.clone(),
            settings,
            &dir.0,
            Some(self.services.clock.now()),
        )
        .await
        .expect("services");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        serve(services, listener, t, dir)
    }
}

/// Serves `services` on `listener` until the returned app is dropped.
fn serve(
    services: Arc<Services>,
    listener: tokio::net::TcpListener,
    t: TestStore,
    dir: TempDir,
) -> TestApp {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Application::from_listener(services.clone(), listener).expect("serve");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        services,
        t,
        _dir: dir,
        _stop: stop,
    }
}

/// A JSON answer: status and body.
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A tiny valid JPEG (with an EXIF segment, which the service strips).
pub fn jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    j.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x11]);
    j.extend_from_slice(b"Exif\0\0GPS-39.9N");
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0x11, 0x22, 0xFF, 0xD9]);
    j
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.unwrap()).await
    }

    /// A staff token with the given roles.
    pub async fn staff(&self, roles: &[aggregates::metadata::Role]) -> String {
        let meta = crate::helpers::admin_meta();
        permit_ledger::app::staff::add_staff(
            &self.services.ledger,
            &self.services.store.db,
            "测试员".into(),
            roles.to_vec(),
            &meta,
        )
        .await
        .unwrap()
        .1
    }

    pub async fn admin(&self) -> String {
        self.staff(&[aggregates::metadata::Role::Admin]).await
    }

    pub async fn reviewer(&self) -> String {
        self.staff(&[aggregates::metadata::Role::Reviewer]).await
    }

    pub async fn auditor(&self) -> String {
        self.staff(&[aggregates::metadata::Role::Auditor]).await
    }

    /// The manual's lot; returns its id.
    pub async fn lot(&self, admin: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/admin/lots",
                Some(admin),
                json!({
                    "name": "北京大学医学部",
                    "product": {"name": "北京大学医学部通行证", "price_fen": 36000,
                                "period_months": 12, "season_starts": "06-01"},
                    "consent": {"version": "2022-05", "text": "通过审核后则无法再次申请"},
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["lot_id"].as_str().unwrap().to_string()
    }

    /// Issues the manual's card (2021-06-01 to 2022-05-31) at the desk.
    pub async fn card(&self, admin: &str, lot_id: &str, plate: &str, phone: &str) -> (String, i64) {
        let (status, body) = self
            .post(
                "/api/v1/admin/permits",
                Some(admin),
                json!({"lot_id": lot_id, "plate": plate, "holder_name": "王老师", "phone": phone,
                       "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["permit_id"].as_str().unwrap().to_string(),
            body["position"].as_i64().unwrap(),
        )
    }

    /// The latest SMS code the phone received.
    pub async fn last_code(&self, phone: &str) -> String {
        let (_, inbox) = self.get(&format!("/sandbox/sms?phone={phone}"), None).await;
        inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find_map(|m| m["code"].as_str())
            .expect("a code message")
            .to_string()
    }

    /// SMS code and session (manual step 1); returns the owner's token.
    pub async fn login(&self, lot_id: &str, phone: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/lots/{lot_id}/codes"),
                None,
                json!({"phone": phone}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let code = self.last_code(phone).await;
        let (status, body) = self
            .post(
                &format!("/api/v1/lots/{lot_id}/sessions"),
                None,
                json!({"phone": phone, "code": code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Submits a renewal with the consent and a photo; returns the answer.
    pub async fn submit(&self, owner: &str, permit_id: &str) -> (StatusCode, Value) {
        self.submit_with(owner, permit_id, Some("2022-05"), Some(jpeg()), None)
            .await
    }

    pub async fn submit_with(
        &self,
        owner: &str,
        permit_id: &str,
        consent: Option<&str>,
        photo: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new();
        if let Some(c) = consent {
            form = form.text("consent_version", c.to_string());
        }
        if let Some(p) = photo {
            form = form.part(
                "photo",
                reqwest::multipart::Part::bytes(p).file_name("card.jpg"),
            );
        }
        let mut req = self
            .http
            .post(self.url(&format!("/api/v1/permits/{permit_id}/renewals")))
            .bearer_auth(owner)
            .multipart(form);
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        json_of(req.send().await.unwrap()).await
    }

    /// Pays the order through the sandbox provider and waits until the renewal shows `status`.
    pub async fn pay_and_wait(&self, owner: &str, order_id: &str, renewal_id: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/sandbox/payments/{order_id}/pay"),
                None,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.wait_renewal(owner, renewal_id, "under_review").await
    }

    /// Polls the owner's renewal until it has `status` (the provider calls back asynchronously).
    pub async fn wait_renewal(&self, owner: &str, renewal_id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (code, body) = self
                .get(&format!("/api/v1/renewals/{renewal_id}"), Some(owner))
                .await;
            if code == StatusCode::OK && body["status"] == status {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "renewal never reached {status}: {code} {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Every event in the ledger.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.t.store.db.read)
            .await
            .unwrap()
    }
}

/// Starts the service in production mode: `env(public_url)` gives its production settings
/// (the public URL is the address it listens on, known before the services are built).
pub async fn spawn_production(
    backend: Backend,
    env: impl Fn(&str) -> std::collections::HashMap<String, String>,
) -> TestApp {
    let t = TestStore::new(backend).await;
    let dir = TempDir::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings = Settings {
        mode: permit_ledger::services::Mode::Production,
        ..Settings::default()
    };
    let vars = env(&base);
    let services = Services::build_from(t.store.clone(), settings, &dir.0, None, &|name: &str| {
        vars.get(name).cloned()
    })
    .await
    .unwrap_or_else(|e| panic!("production services: {e}"));
    serve(services, listener, t, dir)
}
