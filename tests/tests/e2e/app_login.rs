//! The phone's login is its device key, in a real headless Chromium: a new tab signs in with
//! no credential and gets issuer codes and expenses (one registered device however often);
//! nothing on the browser holds the credential; signing out offline reaches the issuer at the
//! next contact, online at once; a device removed elsewhere signs the page out with words; at
//! the device limit the page says so and a removal registers this phone.

use fantoccini::Client;
use reqwest::StatusCode;
use serde_json::Value;
use yibao_tests::phone::TestPhone;

use super::browser::{
    Driver, PHONE, artifacts, browser, serious_accessibility_violations, sign_in, text_of, wait_for,
};
use super::platform::Platform;

/// Everything the page keeps: both web storages and each IndexedDB record (its key aside,
/// which cannot be read out anyway).
async fn stored(client: &Client) -> String {
    let got = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const r = indexedDB.open('yibao'); \
             r.onsuccess = () => { const g = r.result.transaction('device').objectStore('device').getAll(); \
               g.onsuccess = () => done(JSON.stringify(g.result.map((d) => { const c = Object.assign({}, d); \
                 delete c.keys; return c; })) + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)); };",
            vec![],
        )
        .await
        .expect("script");
    got.as_str().expect("text").to_owned()
}

fn devices(platform: &Platform, credential: &str) -> Vec<Value> {
    let (status, list) = platform.get("/v1/devices", credential);
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// Answers "yes" to the page's next confirmation (signing out, removing a device).
async fn confirm_next(client: &Client) {
    client
        .execute("window.confirm = () => true;", vec![])
        .await
        .expect("script");
}

/// Taps 退出, says yes, and waits for the sign-in form.
async fn sign_out(client: &Client) {
    confirm_next(client).await;
    client
        .execute("document.querySelector('#signout').click();", vec![])
        .await
        .expect("sign out");
    wait_for(
        client,
        "!document.querySelector('#signin').hidden",
        "the sign-in form after signing out",
    )
    .await;
}

/// Opens `/app` in a new tab of `client` and switches to it.
async fn new_tab(client: &Client, platform: &Platform) {
    let tab = client.new_window(true).await.expect("tab").handle;
    client.switch_to_window(tab).await.expect("switch");
    client.goto(&platform.url("/app")).await.expect("app page");
}

const SIGNED_IN_BY_KEY: &str = "document.querySelector('#qr svg[data-kind=\"issuer-signed\"]') \
    && !document.querySelector('#expenses-card').hidden && document.querySelector('#signin').hidden";

#[test]
fn the_device_key_signs_the_phone_in_and_signing_out_reaches_the_issuer() {
    let mut platform = Platform::with_env(vec![("YIBAO__TOKEN_LIFETIME_SECS", "15".into())]);
    let (credential, _) = platform.holder(6);
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &credential).await;
        let name = text_of(&client, "#who").await;
        // Reopened three times (a new tab: nothing in session storage): signed in by the key,
        // with issuer codes and expenses, under the same name.
        for _ in 0..3 {
            new_tab(&client, &platform).await;
            wait_for(&client, SIGNED_IN_BY_KEY, "issuer codes with no credential").await;
            assert_eq!(text_of(&client, "#who").await, name);
            let kept = stored(&client).await;
            assert!(kept.contains("device_id"), "{kept}");
            assert!(
                !kept.contains(&credential),
                "the credential was stored: {kept}"
            );
        }
        client
    });
    assert_eq!(
        devices(&platform, &credential).len(),
        1,
        "one device however often"
    );

    // Signing out with no issuer: the key is gone at once, the sign-out waits, and reaches
    // the issuer at the next contact.
    platform.stop();
    rt.block_on(async {
        wait_for(
            &client,
            "document.querySelector('#qr svg[data-kind=\"device-bound\"]')",
            "an offline code",
        )
        .await;
        sign_out(&client).await;
        let kept = stored(&client).await;
        assert!(kept.contains("yibao.signouts"), "{kept}");
        assert!(
            !kept.contains("\"certificates\""),
            "the key and certificates stay: {kept}"
        );
    });
    platform.start();
    let started = std::time::Instant::now();
    while !devices(&platform, &credential).is_empty() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the offline sign-out never reached the issuer"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    eprintln!(
        "sign-out: reached the issuer {:?} after it came back",
        started.elapsed()
    );

    // Online: signing out removes the registration at once.
    rt.block_on(sign_in(&client, &credential));
    assert_eq!(devices(&platform, &credential).len(), 1);
    rt.block_on(sign_out(&client));
    assert!(devices(&platform, &credential).is_empty());

    // Removed from elsewhere (another device's list, a lost-phone report): the page says so.
    rt.block_on(sign_in(&client, &credential));
    let device = devices(&platform, &credential)[0]["device_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let removed = platform
        .http
        .delete(platform.url(&format!("/v1/devices/{device}")))
        .bearer_auth(&credential)
        .send()
        .expect("remove");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    rt.block_on(async {
        wait_for(
            &client,
            "!document.querySelector('#signin').hidden \
             && document.querySelector('#error').textContent.includes('已退出登录')",
            "the page signed out, with words",
        )
        .await;
        client.close().await.expect("close");
    });
}

#[test]
fn at_the_device_limit_the_page_says_so_and_a_removal_registers_this_phone() {
    let platform = Platform::new();
    let (credential, voucher) = platform.holder(7);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for seed in 0x51..0x56 {
        platform.post(
            "/v1/devices",
            &credential,
            TestPhone::new(seed).registration(&voucher, now),
        );
    }
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        wait_for(&client, "!document.querySelector('#signin').hidden", "sign-in").await;
        client
            .execute(
                "document.querySelector('#credential').value = arguments[0]; \
                 document.querySelector('#signin-form').requestSubmit();",
                vec![Value::String(credential.clone())],
            )
            .await
            .expect("sign in");
        wait_for(
            &client,
            "document.querySelectorAll('#devices button').length === 5 \
             && document.querySelector('#qr svg[data-kind=\"issuer-signed\"]')",
            "the device list with a remove button each, and issuer codes meanwhile",
        )
        .await;
        let words = text_of(&client, "#error").await;
        assert!(words.contains("最多可在 5 台设备上使用"), "{words}");
        client
            .execute("document.querySelector('#devices-card').scrollIntoView();", vec![])
            .await
            .expect("scroll");
        std::fs::write(
            artifacts().join("app-device-limit.png"),
            client.screenshot().await.expect("screenshot"),
        )
        .expect("save");
        let violations = serious_accessibility_violations(&client, "device limit").await;
        assert!(violations.is_empty(), "{violations:#?}");

        confirm_next(&client).await;
        client
            .execute("document.querySelector('#devices button').click();", vec![])
            .await
            .expect("remove");
        wait_for(
            &client,
            "document.documentElement.dataset.device === 'ready' \
             && document.querySelector('#devices-limit').hidden \
             && [...document.querySelectorAll('#devices .row')].some((r) => r.textContent.includes('本机'))",
            "this phone registered after the removal",
        )
        .await;
        client.close().await.expect("close");
    });
    let list = devices(&platform, &credential);
    assert_eq!(list.len(), 5, "{list:?}");
}
