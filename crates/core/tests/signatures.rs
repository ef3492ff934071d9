//! Signature presets against GitHub's documented example and against HMACs computed
//! independently by the openssl command-line tool.

use base64::Engine as _;
use std::process::Command;
use switchyard_core::signature::{Encoding, Hash, Preset, SignatureError};

const NOW: i64 = 1_763_800_000;

/// HMAC of `message` by `openssl dgst`, as hex.
fn openssl_hmac(digest: &str, secret: &str, message: &[u8]) -> String {
    let dir = tempfile_dir();
    let path = dir.join(format!("msg-{}", message.len()));
    std::fs::write(&path, message).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-hmac", secret, "-r"])
        .arg(&path)
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-signatures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex_to_base64(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn github_matches_its_documented_example() {
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    let headers = [("x-hub-signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")];
    assert_eq!(Preset::GitHub.verify(&headers[..], b"Hello, World!", b"It's a Secret to Everybody", NOW), Ok(()));
    assert_eq!(
        Preset::GitHub.verify(&headers[..], b"Hello, World?", b"It's a Secret to Everybody", NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        Preset::GitHub.verify(&headers[..], b"Hello, World!", b"another secret", NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        Preset::GitHub.verify(&[][..], b"Hello, World!", b"It's a Secret to Everybody", NOW),
        Err(SignatureError::Missing("X-Hub-Signature-256".into()))
    );
    let no_prefix = [("X-Hub-Signature-256", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")];
    assert!(matches!(
        Preset::GitHub.verify(&no_prefix[..], b"Hello, World!", b"It's a Secret to Everybody", NOW),
        Err(SignatureError::Malformed { .. })
    ));
}

#[test]
fn stripe_and_slack_sign_a_timestamp_and_refuse_stale_ones() {
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let secret = "whsec_test_secret";
    let t = NOW - 30;
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let v1 = openssl_hmac("sha256", secret, &message);
    let header = format!("t={t},v1=0000000000000000000000000000000000000000000000000000000000000000,v1={v1}");
    let headers = [("Stripe-Signature", header.as_str())];
    assert_eq!(Preset::Stripe.verify(&headers[..], body, secret.as_bytes(), NOW), Ok(()), "one of the v1 signatures");
    assert_eq!(Preset::Stripe.verify(&headers[..], b"{}", secret.as_bytes(), NOW), Err(SignatureError::Mismatch));
    assert_eq!(
        Preset::Stripe.verify(&headers[..], body, secret.as_bytes(), t + 301),
        Err(SignatureError::Stale { age_seconds: 301, limit_seconds: 300 })
    );
    assert_eq!(Preset::Stripe.verify(&headers[..], body, secret.as_bytes(), t + 300), Ok(()));

    let body = b"token=xyz&team_id=T1&command=%2Fdeploy&text=now";
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let ts = (NOW - 10).to_string();
    let v0 = openssl_hmac("sha256", secret, format!("v0:{ts}:{}", String::from_utf8_lossy(body)).as_bytes());
    let signature = format!("v0={v0}");
    let headers = [("X-Slack-Signature", signature.as_str()), ("X-Slack-Request-Timestamp", ts.as_str())];
    assert_eq!(Preset::Slack.verify(&headers[..], body, secret.as_bytes(), NOW), Ok(()));
    assert!(matches!(
        Preset::Slack.verify(&headers[..], body, secret.as_bytes(), NOW + 3600),
        Err(SignatureError::Stale { .. })
    ));
    assert_eq!(
        Preset::Slack.verify(&headers[..1], body, secret.as_bytes(), NOW),
        Err(SignatureError::Missing("X-Slack-Request-Timestamp".into()))
    );
}

#[test]
fn shopify_and_generic_formats() {
    let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    let secret = "shpss_secret";
    let expected = hex_to_base64(&openssl_hmac("sha256", secret, body));
    let headers = [("X-Shopify-Hmac-Sha256", expected.as_str())];
    assert_eq!(Preset::Shopify.verify(&headers[..], body, secret.as_bytes(), NOW), Ok(()));
    assert_eq!(Preset::Shopify.verify(&headers[..], b"x", secret.as_bytes(), NOW), Err(SignatureError::Mismatch));

    for (hash, digest) in [(Hash::Sha1, "sha1"), (Hash::Sha256, "sha256"), (Hash::Sha512, "sha512")] {
        let hex = openssl_hmac(digest, "generic-secret", body);
        for (encoding, text) in [(Encoding::Hex, hex.clone()), (Encoding::Base64, hex_to_base64(&hex))] {
            let preset = Preset::Generic { header: "X-Signature".into(), hash, encoding, prefix: format!("{digest}=") };
            let value = format!("{digest}={text}");
            let headers = [("x-signature", value.as_str())];
            assert_eq!(preset.verify(&headers[..], body, b"generic-secret", NOW), Ok(()), "{digest} {encoding:?}");
            assert_eq!(preset.verify(&headers[..], body, b"wrong", NOW), Err(SignatureError::Mismatch));
        }
    }
}

#[test]
fn what_a_sender_signs_verifies() {
    let body = br#"{"event":"order.created"}"#;
    let presets = [
        Preset::GitHub,
        Preset::Stripe,
        Preset::Slack,
        Preset::Shopify,
        Preset::Generic {
            header: "X-Sig".into(),
            hash: Hash::Sha512,
            encoding: Encoding::Base64,
            prefix: String::new(),
        },
    ];
    for preset in presets {
        let headers = preset.sign(body, b"s3cret", NOW);
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(preset.verify(&pairs[..], body, b"s3cret", NOW + 5), Ok(()), "{preset:?}");
        assert_eq!(preset.verify(&pairs[..], b"tampered", b"s3cret", NOW + 5), Err(SignatureError::Mismatch));
    }
}
