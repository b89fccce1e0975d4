//! Asking for a sign-in code, as an abuser would try it, on both stores: a phone with no card
//! at the lot gets the holder's answer and no SMS; the per-address limit is one limit for every
//! instance; the lot's daily SMS budget stops code requests (and shows in `/metrics`).

use crate::app::{spawn_app, spawn_app_with, TestApp, HOLDER_PHONE};
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

const STRANGER: &str = "13700000777";

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn ask(app: &TestApp, lot: &str, phone: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/api/v1/lots/{lot}/codes"),
        None,
        json!({ "phone": phone }),
    )
    .await
}

fn inbox_len(inbox: &Value) -> usize {
    inbox["messages"].as_array().map_or(0, Vec::len)
}

async fn a_phone_without_a_card_gets_the_holders_answer_and_no_sms(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    // A card at another lot does not make the phone a holder at this one.
    let other_lot = app.lot(&admin).await;
    app.card(&admin, &other_lot, "京B54321", STRANGER).await;

    let holder = ask(&app, &lot, HOLDER_PHONE).await;
    let stranger = ask(&app, &lot, STRANGER).await;
    assert_eq!(holder.0, StatusCode::ACCEPTED, "{}", holder.1);
    assert_eq!(stranger, holder, "the same status and body");
    let (_, inbox) = app
        .get(&format!("/sandbox/sms?phone={STRANGER}"), None)
        .await;
    assert_eq!(inbox_len(&inbox), 0, "no SMS to the stranger: {inbox}");
    let (_, inbox) = app
        .get(&format!("/sandbox/sms?phone={HOLDER_PHONE}"), None)
        .await;
    assert_eq!(inbox_len(&inbox), 1, "{inbox}");

    // Asking again at once: the same refusal for both.
    let holder = ask(&app, &lot, HOLDER_PHONE).await;
    let stranger = ask(&app, &lot, STRANGER).await;
    assert_eq!(
        (holder.0, code_of(&holder.1)),
        (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon")
    );
    assert_eq!(
        (stranger.0, code_of(&stranger.1)),
        (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon")
    );
    // No code reached the stranger, so no code opens a session.
    let (status, body) = app
        .post(
            &format!("/api/v1/lots/{lot}/sessions"),
            None,
            json!({"phone": STRANGER, "code": "123456"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "code_invalid")
    );
}

async fn a_card_issued_a_moment_ago_makes_its_phone_a_holder(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    // Straight after the desk's answer, without waiting for any view.
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (status, body) = ask(&app, &lot, HOLDER_PHONE).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, inbox) = app
        .get(&format!("/sandbox/sms?phone={HOLDER_PHONE}"), None)
        .await;
    assert_eq!(inbox_len(&inbox), 1, "{inbox}");
}

async fn two_instances_count_one_per_address_limit(backend: Backend) {
    let settings = Settings {
        codes_per_address: 3,
        ..Settings::default()
    };
    let first = spawn_app_with(backend, settings.clone()).await;
    let second = first.second_instance(settings).await;
    let admin = first.admin().await;
    let lot = first.lot(&admin).await;
    // Requests alternate between the instances; phones differ, the address (127.0.0.1) is one.
    for (i, app) in [&first, &second, &first].into_iter().enumerate() {
        let (status, body) = ask(app, &lot, &format!("1370000030{i}")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "request {i}: {body}");
    }
    let r = second
        .http
        .post(second.url(&format!("/api/v1/lots/{lot}/codes")))
        .json(&json!({"phone": "13700000309"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    let (_, body) = crate::app::json_of(r).await;
    assert_eq!(code_of(&body), "address_rate_limited");
    let (status, body) = ask(&first, &lot, "13700000310").await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "address_rate_limited"),
        "the first instance counts the second's requests too"
    );
    // An hour later (on the first instance's clock) the address may ask again.
    first
        .services
        .clock
        .set(first.services.clock.now() + chrono::Duration::minutes(61));
    let (status, body) = ask(&first, &lot, "13700000311").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    drop(second);
}

async fn concurrent_requests_on_two_instances_get_exactly_the_limit(backend: Backend) {
    let settings = Settings {
        codes_per_address: 3,
        ..Settings::default()
    };
    let first = spawn_app_with(backend, settings.clone()).await;
    let second = first.second_instance(settings).await;
    let admin = first.admin().await;
    let lot = first.lot(&admin).await;
    let requests = (0..10).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let lot = lot.clone();
        async move { ask(app, &lot, &format!("137000005{i:02}")).await.0 }
    });
    let statuses = futures::future::join_all(requests).await;
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((accepted, limited), (3, 7), "{statuses:?}");
    drop(second);
}

async fn metrics(app: &TestApp) -> String {
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    r.text().await.unwrap()
}

/// The value of the sample `name{labels}` in a metrics text.
fn sample(text: &str, series: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn the_lots_daily_sms_budget_stops_code_requests_and_shows_in_metrics(backend: Backend) {
    let settings = Settings {
        sms_daily_budget: 2,
        ..Settings::default()
    };
    let app = spawn_app_with(backend, settings).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let phones = ["13700000401", "13700000402", "13700000403"];
    for (i, phone) in phones.iter().enumerate() {
        app.card(&admin, &lot, &format!("京A4000{i}"), phone).await;
    }
    for phone in &phones[..2] {
        let (status, body) = ask(&app, &lot, phone).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let text = metrics(&app).await;
    assert_eq!(
        sample(
            &text,
            &format!("permit_ledger_sms_sent_today{{lot_id=\"{lot}\"}}")
        ),
        Some(2),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("permit_ledger_sms_budget_near{{lot_id=\"{lot}\"}}")
        ),
        Some(1)
    );
    assert_eq!(sample(&text, "permit_ledger_sms_daily_budget"), Some(2));
    assert_eq!(
        sample(
            &text,
            "permit_ledger_sms_attempts{provider=\"sandbox\",outcome=\"sent\"}"
        ),
        Some(2)
    );

    let r = app
        .http
        .post(app.url(&format!("/api/v1/lots/{lot}/codes")))
        .json(&json!({"phone": phones[2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The sandbox clock stands at 2022-05-20T02:00Z: midnight in Shanghai is 14 h on.
    let midnight: chrono::DateTime<chrono::Utc> = "2022-05-20T16:00:00Z".parse().unwrap();
    assert!((retry - (midnight - app.services.clock.now()).num_seconds()).abs() <= 2);
    let (_, body) = crate::app::json_of(r).await;
    assert_eq!(code_of(&body), "sms_budget_exhausted");
    let (_, inbox) = app
        .get(&format!("/sandbox/sms?phone={}", phones[2]), None)
        .await;
    assert_eq!(inbox_len(&inbox), 0);
    // A stranger hears the same.
    let (status, body) = ask(&app, &lot, STRANGER).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "sms_budget_exhausted")
    );
    // Another lot has a budget of its own; the next day this one has a fresh one.
    let other = app.lot(&admin).await;
    app.card(&admin, &other, "京A49999", phones[2]).await;
    assert_eq!(ask(&app, &other, phones[2]).await.0, StatusCode::ACCEPTED);
    app.services
        .clock
        .set(midnight + chrono::Duration::seconds(61));
    assert_eq!(ask(&app, &lot, phones[2]).await.0, StatusCode::ACCEPTED);
}

async fn metrics_report_every_projection_and_the_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let (_, at) = {
        let lot = app.lot(&admin).await;
        app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await
    };
    let names: Vec<String> = app
        .services
        .read
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    // Wait until every view has the card, then the lag is 0 everywhere.
    for name in &names {
        app.services
            .read
            .wait_for(name, at, std::time::Duration::from_secs(10))
            .await
            .unwrap();
    }
    let text = metrics(&app).await;
    let head = sample(&text, "permit_ledger_feed_head").expect("the head");
    assert!(head >= at, "{head} {at}");
    for name in &names {
        let series = |m: &str| format!("{m}{{projection=\"{name}\"}}");
        assert_eq!(
            sample(&text, &series("permit_ledger_projection_lag_events")),
            Some(0),
            "{name}: {text}"
        );
        assert_eq!(
            sample(&text, &series("permit_ledger_projection_position")),
            Some(head),
            "{name}"
        );
    }
    for kind in ["sms", "refund", "close_order"] {
        assert_eq!(
            sample(
                &text,
                &format!("permit_ledger_outbox_failed{{kind=\"{kind}\"}}")
            ),
            Some(0)
        );
        assert!(sample(
            &text,
            &format!("permit_ledger_outbox_pending{{kind=\"{kind}\"}}")
        )
        .is_some());
    }
    // No phone number appears.
    assert!(!text.contains(HOLDER_PHONE));
}

/// A gateway that takes as long as a distant provider, then delivers to a sandbox inbox.
struct SlowGateway {
    inner: permit_ledger::sms::SandboxSms,
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl permit_ledger::sms::SmsGateway for SlowGateway {
    async fn send(
        &self,
        message: permit_ledger::sms::SmsMessage,
    ) -> Result<permit_ledger::sms::Sent, permit_ledger::sms::SmsError> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.sent.lock().unwrap().push(message.phone.clone());
        self.inner.send(message).await
    }

    fn provider(&self) -> &'static str {
        "slow"
    }
}

async fn a_strangers_answer_takes_about_as_long_as_a_send(backend: Backend) {
    let gateway = std::sync::Arc::new(SlowGateway {
        inner: permit_ledger::sms::SandboxSms::new(),
        sent: Default::default(),
    });
    let app = crate::app::spawn_app_with_sms(backend, gateway.clone()).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let started = std::time::Instant::now();
    assert_eq!(ask(&app, &lot, HOLDER_PHONE).await.0, StatusCode::ACCEPTED);
    let holder = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(ask(&app, &lot, STRANGER).await.0, StatusCode::ACCEPTED);
    let stranger = started.elapsed();
    assert!(
        holder >= std::time::Duration::from_millis(300),
        "{holder:?}"
    );
    assert!(
        stranger >= std::time::Duration::from_millis(280),
        "the stranger's answer waited as a send would: {stranger:?} (holder {holder:?})"
    );
    assert_eq!(*gateway.sent.lock().unwrap(), [HOLDER_PHONE.to_string()]);
}

crate::on_both_backends!(
    a_phone_without_a_card_gets_the_holders_answer_and_no_sms,
    a_card_issued_a_moment_ago_makes_its_phone_a_holder,
    two_instances_count_one_per_address_limit,
    concurrent_requests_on_two_instances_get_exactly_the_limit,
    the_lots_daily_sms_budget_stops_code_requests_and_shows_in_metrics,
    metrics_report_every_projection_and_the_outbox,
    a_strangers_answer_takes_about_as_long_as_a_send,
);
