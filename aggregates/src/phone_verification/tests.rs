use super::*;
use cqrs_es::test::TestFramework;

type VerificationTest = TestFramework<PhoneVerification>;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn lot() -> Uuid {
    Uuid::from_u128(1)
}

fn requested(now: &str, digest: &str, count: u32) -> VerificationEvent {
    let now = at(now);
    VerificationEvent::CodeRequested {
        lot_id: lot(),
        code_digest: digest.into(),
        requested_at: now,
        expires_at: now + Duration::seconds(300),
        max_attempts: 5,
        business_date: business_date(now),
        daily_count: count,
    }
}

fn request(now: &str, digest: &str) -> VerificationCommand {
    VerificationCommand::RequestCode {
        lot_id: lot(),
        code_digest: digest.into(),
        now: at(now),
        policy: CodePolicy::default(),
    }
}

fn verify(now: &str, digest: &str) -> VerificationCommand {
    VerificationCommand::VerifyCode {
        lot_id: lot(),
        guess_digest: digest.into(),
        now: at(now),
    }
}

#[test]
fn a_first_code_request_records_the_digest_and_expiry() {
    VerificationTest::with(())
        .given_no_previous_events()
        .when(request("2022-05-20T02:00:00Z", "d1"))
        .then_expect_events(vec![requested("2022-05-20T02:00:00Z", "d1", 1)]);
}

#[test]
fn a_code_cannot_be_re_requested_within_the_resend_window() {
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(request("2022-05-20T02:00:45Z", "d2"))
        .then_expect_error(VerificationError::ResendTooSoon { retry_after_s: 15 });
}

#[test]
fn a_code_can_be_re_requested_once_the_window_has_passed() {
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(request("2022-05-20T02:01:00Z", "d2"))
        .then_expect_events(vec![requested("2022-05-20T02:01:00Z", "d2", 2)]);
}

#[test]
fn the_daily_limit_locks_the_phone_until_midnight_in_shanghai() {
    let mut given = Vec::new();
    for i in 0..9 {
        given.push(requested(&format!("2022-05-20T0{i}:00:00Z"), "d", i + 1));
    }
    // 10th request of the Shanghai day 2022-05-20, at 18:00 Shanghai time.
    VerificationTest::with(())
        .given(given.clone())
        .when(request("2022-05-20T10:00:00Z", "d10"))
        .then_expect_events(vec![
            requested("2022-05-20T10:00:00Z", "d10", 10),
            VerificationEvent::PhoneLocked {
                until: at("2022-05-20T16:00:00Z"),
            },
        ]);
    given.push(requested("2022-05-20T10:00:00Z", "d10", 10));
    given.push(VerificationEvent::PhoneLocked {
        until: at("2022-05-20T16:00:00Z"),
    });
    VerificationTest::with(())
        .given(given.clone())
        .when(request("2022-05-20T15:00:00Z", "d11"))
        .then_expect_error(VerificationError::PhoneLocked {
            retry_after_s: 3600,
        });
    // After midnight Shanghai the count starts again.
    VerificationTest::with(())
        .given(given)
        .when(request("2022-05-20T16:00:00Z", "d12"))
        .then_expect_events(vec![requested("2022-05-20T16:00:00Z", "d12", 1)]);
}

#[test]
fn the_daily_count_follows_the_shanghai_date_not_the_utc_date() {
    // 15:59 UTC is 23:59 in Shanghai on the 20th; 16:01 UTC is the 21st there.
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T15:59:00Z", "d1", 7)])
        .when(request("2022-05-20T16:01:00Z", "d2"))
        .then_expect_events(vec![requested("2022-05-20T16:01:00Z", "d2", 1)]);
}

#[test]
fn the_right_code_within_its_lifetime_verifies() {
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(verify("2022-05-20T02:04:59Z", "d1"))
        .then_expect_events(vec![VerificationEvent::CodeVerified {
            lot_id: lot(),
            verified_at: at("2022-05-20T02:04:59Z"),
        }]);
}

#[test]
fn an_expired_code_is_refused() {
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(verify("2022-05-20T02:05:00Z", "d1"))
        .then_expect_error(VerificationError::CodeInvalid);
}

#[test]
fn a_code_is_single_use() {
    VerificationTest::with(())
        .given(vec![
            requested("2022-05-20T02:00:00Z", "d1", 1),
            VerificationEvent::CodeVerified {
                lot_id: lot(),
                verified_at: at("2022-05-20T02:01:00Z"),
            },
        ])
        .when(verify("2022-05-20T02:02:00Z", "d1"))
        .then_expect_error(VerificationError::CodeInvalid);
}

#[test]
fn a_code_is_only_good_at_the_lot_that_asked_for_it() {
    VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(VerificationCommand::VerifyCode {
            lot_id: Uuid::from_u128(2),
            guess_digest: "d1".into(),
            now: at("2022-05-20T02:01:00Z"),
        })
        .then_expect_error(VerificationError::CodeInvalid);
}

#[test]
fn a_new_code_voids_the_previous_one() {
    VerificationTest::with(())
        .given(vec![
            requested("2022-05-20T02:00:00Z", "d1", 1),
            requested("2022-05-20T02:01:00Z", "d2", 2),
        ])
        .when(verify("2022-05-20T02:02:00Z", "d1"))
        .then_expect_events(vec![VerificationEvent::CodeGuessFailed {
            attempts: 1,
            at: at("2022-05-20T02:02:00Z"),
        }]);
}

#[test]
fn a_wrong_guess_is_recorded_and_not_a_verification() {
    let result = VerificationTest::with(())
        .given(vec![requested("2022-05-20T02:00:00Z", "d1", 1)])
        .when(verify("2022-05-20T02:01:00Z", "wrong"))
        .inspect_result()
        .unwrap();
    assert!(!was_verified(&result));
    assert_eq!(
        result,
        vec![VerificationEvent::CodeGuessFailed {
            attempts: 1,
            at: at("2022-05-20T02:01:00Z"),
        }]
    );
}

#[test]
fn five_wrong_guesses_burn_the_code() {
    let mut given = vec![requested("2022-05-20T02:00:00Z", "d1", 1)];
    for attempts in 1..=4 {
        given.push(VerificationEvent::CodeGuessFailed {
            attempts,
            at: at("2022-05-20T02:01:00Z"),
        });
    }
    VerificationTest::with(())
        .given(given.clone())
        .when(verify("2022-05-20T02:02:00Z", "wrong"))
        .then_expect_events(vec![
            VerificationEvent::CodeGuessFailed {
                attempts: 5,
                at: at("2022-05-20T02:02:00Z"),
            },
            VerificationEvent::CodeBurned {
                at: at("2022-05-20T02:02:00Z"),
            },
        ]);
    given.push(VerificationEvent::CodeGuessFailed {
        attempts: 5,
        at: at("2022-05-20T02:02:00Z"),
    });
    given.push(VerificationEvent::CodeBurned {
        at: at("2022-05-20T02:02:00Z"),
    });
    // Even the right code is refused once burned.
    VerificationTest::with(())
        .given(given)
        .when(verify("2022-05-20T02:03:00Z", "d1"))
        .then_expect_error(VerificationError::CodeInvalid);
}

#[test]
fn the_fourth_wrong_guess_still_leaves_the_code_usable() {
    let mut given = vec![requested("2022-05-20T02:00:00Z", "d1", 1)];
    for attempts in 1..=4 {
        given.push(VerificationEvent::CodeGuessFailed {
            attempts,
            at: at("2022-05-20T02:01:00Z"),
        });
    }
    VerificationTest::with(())
        .given(given)
        .when(verify("2022-05-20T02:02:00Z", "d1"))
        .then_expect_events(vec![VerificationEvent::CodeVerified {
            lot_id: lot(),
            verified_at: at("2022-05-20T02:02:00Z"),
        }]);
}

#[test]
fn digest_comparison_needs_equal_length_and_bytes() {
    assert!(digests_equal("abc", "abc"));
    assert!(!digests_equal("abc", "abd"));
    assert!(!digests_equal("abc", "abcd"));
}
