//! The app page with no network, in a real headless Chromium: it registers a device key at
//! sign-in; the issuer process is stopped; the page keeps showing device codes (离线码), each
//! decoded from a screenshot and accepted offline by a terminal; a family member's code works
//! offline with the proxy part; a reload with the issuer still down loads from the service
//! worker and shows a device code; the issuer comes back, the terminal flushes and every
//! code settles once, and the page is back on issuer-signed codes. Two people signed in in two
//! tabs of one browser each get their own offline code, under their own name.

use fantoccini::{Client, Locator};
use serde_json::Value;

use super::browser::{
    Cdp, Driver, PHONE, browser, screenshot_code, serious_accessibility_violations, sign_in,
    text_of, wait_for,
};
use super::platform::{PHARMACY, Platform, TerminalDir, settled_tokens};

/// The kind, QR version and draw number of the code the page shows (attributes it sets on
/// the SVG).
async fn drawn(client: &Client) -> (String, u64, String) {
    let got = client
        .execute(
            "const s = document.querySelector('#qr svg'); \
             return [s.dataset.kind, Number(s.dataset.qrVersion), s.dataset.drawn];",
            vec![],
        )
        .await
        .expect("script");
    (
        got[0].as_str().expect("kind").to_owned(),
        got[1].as_u64().expect("version"),
        got[2].as_str().expect("draw number").to_owned(),
    )
}

/// Waits for a device code other than draw number `previous`, screenshots it and decodes it.
async fn next_device_code(client: &Client, previous: &str, name: &str) -> (String, u64) {
    wait_for(
        client,
        &format!(
            "(() => {{ const s = document.querySelector('#qr svg'); \
             return s && s.dataset.kind === 'device-bound' && s.dataset.drawn !== '{previous}'; }})()"
        ),
        "a new device code",
    )
    .await;
    let (_, version, _) = drawn(client).await;
    let mark = text_of(client, "#offline-mark").await;
    assert!(
        mark.contains("离线码") && mark.contains("离线可用至"),
        "{mark}"
    );
    let code = screenshot_code(client, name)
        .await
        .unwrap_or_else(|| panic!("the QR code of {name} decodes"));
    (code, version)
}

/// `check --json` at the terminal: the verdict, which must be an acceptance.
fn accepted(terminal: &TerminalDir, code: &str) -> Value {
    let (exit, out) = terminal.run(&["check", "--json", code]);
    let verdict: Value = serde_json::from_str(out.lines().next().unwrap_or("")).expect("json");
    assert_eq!(exit, 0, "accepted offline: {verdict}");
    verdict
}

/// The worst bug we knew of: two holders signed in in two tabs of one browser (a family
/// sharing a phone, a kiosk), the network gone, and the first tab showed the second person's
/// 离线码 under the first person's name. Each tab must show its own holder's code.
#[test]
fn two_holders_in_two_tabs_each_show_their_own_offline_code() {
    let mut platform = Platform::with_env(vec![("YIBAO__TOKEN_LIFETIME_SECS", "15".into())]);
    let terminal = platform.terminal(PHARMACY, "p-2");
    let holders = [platform.holder(3), platform.holder(4)];
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (client, tabs) = rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        let first = client.window().await.expect("first tab");
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &holders[0].0).await;
        let second = client.new_window(true).await.expect("second tab").handle;
        client
            .switch_to_window(second.clone())
            .await
            .expect("switch");
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &holders[1].0).await;
        let second_name = text_of(&client, "#who").await;
        // A third tab of this browser asks whose code to show, and shows that person's.
        let third = client.new_window(true).await.expect("third tab").handle;
        client.switch_to_window(third).await.expect("switch");
        client.goto(&platform.url("/app")).await.expect("app page");
        wait_for(
            &client,
            "document.querySelectorAll('#choices button').length === 2",
            "a choice of the two holders",
        )
        .await;
        let violations = serious_accessibility_violations(&client, "whose code").await;
        assert!(violations.is_empty(), "{violations:#?}");
        client
            .execute(
                "[...document.querySelectorAll('#choices .row')] \
                   .find((r) => r.textContent.includes(arguments[0])).querySelector('button').click();",
                vec![Value::String(second_name.clone())],
            )
            .await
            .expect("choose");
        wait_for(
            &client,
            "document.querySelector('#qr svg[data-kind=\"issuer-signed\"]')",
            "the chosen holder's issuer code",
        )
        .await;
        assert_eq!(text_of(&client, "#who").await, second_name);
        client.close_window().await.expect("close the third tab");
        (client, [first, second])
    });

    platform.stop();
    for (round, tab) in [0, 1, 0].into_iter().enumerate() {
        let (code, name) = rt.block_on(async {
            client
                .switch_to_window(tabs[tab].clone())
                .await
                .expect("switch");
            let previous = if round == 2 {
                drawn(&client).await.2
            } else {
                String::new()
            };
            let (code, _) =
                next_device_code(&client, &previous, &format!("app-two-tabs-{round}.png")).await;
            (code, text_of(&client, "#who").await)
        });
        let verdict = accepted(&terminal, &code);
        assert_eq!(
            verdict["claims"]["voucher_id"],
            holders[tab].1.as_str(),
            "tab {tab} shows {name} and must show that person's code: {verdict}"
        );
        assert_eq!(verdict["claims"]["masked_name"], name.as_str(), "{verdict}");
        assert!(verdict["claims"]["proxy"].is_null(), "{verdict}");
    }
    rt.block_on(async { client.close().await.expect("close") });
}

#[test]
fn the_app_page_shows_device_codes_through_an_outage_and_a_reload() {
    // Issuer codes of 15 s, so the page notices the outage within seconds.
    let mut platform = Platform::with_env(vec![("YIBAO__TOKEN_LIFETIME_SECS", "15".into())]);
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (binder, voucher) = platform.holder(9);
    let member = platform.bind_attested(&binder, 8)["member"]
        .as_str()
        .expect("member")
        .to_owned();
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let client = rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &binder).await;
        wait_for(
            &client,
            "navigator.serviceWorker.controller",
            "the service worker",
        )
        .await;
        wait_for(
            &client,
            "document.querySelector('#members button.primary')",
            "the family list",
        )
        .await;
        let (kind, version, _) = drawn(&client).await;
        assert_eq!(kind, "issuer-signed");
        assert!(version <= 6, "an issuer code is QR version {version}");
        client
    });

    // The platform goes down.
    platform.stop();
    let stopped = std::time::Instant::now();
    let mut own = Vec::new();
    rt.block_on(async {
        let mut previous = String::new();
        for round in 0..3 {
            let (code, version) =
                next_device_code(&client, &previous, &format!("app-offline-{round}.png")).await;
            assert!(version <= 10, "a device code is QR version {version}");
            if round == 0 {
                // A measurement, not a goal asserted here (docs/PERFORMANCE.md).
                eprintln!(
                    "switch: a 离线码 {:?} after the issuer stopped",
                    stopped.elapsed()
                );
                let violations = serious_accessibility_violations(&client, "offline code").await;
                assert!(violations.is_empty(), "{violations:#?}");
            }
            previous = drawn(&client).await.2;
            own.push(code);
        }
    });
    let mut own_tokens: Vec<String> = own
        .iter()
        .map(|code| {
            let verdict = accepted(&terminal, code);
            assert_eq!(verdict["kind"], "device-bound", "{verdict}");
            assert!(verdict["claims"]["proxy"].is_null(), "{verdict}");
            verdict["token_id"].as_str().expect("token").to_owned()
        })
        .collect();

    // A family member's code, offline.
    let proxied = rt.block_on(async {
        let previous = drawn(&client).await.2;
        client
            .find(Locator::Css("#members button.primary"))
            .await
            .expect("show button")
            .click()
            .await
            .expect("click");
        wait_for(
            &client,
            "!document.querySelector('#proxy-banner').hidden",
            "the banner",
        )
        .await;
        let (code, version) = next_device_code(&client, &previous, "app-offline-family.png").await;
        assert!(version <= 11, "a proxy device code is QR version {version}");
        assert!(
            text_of(&client, "#proxy-banner")
                .await
                .contains("代家人出示")
        );
        code
    });
    let verdict = accepted(&terminal, &proxied);
    assert_eq!(
        verdict["claims"]["proxy"]["binder"],
        voucher.as_str(),
        "{verdict}"
    );
    assert_eq!(
        verdict["claims"]["voucher_id"],
        member.as_str(),
        "{verdict}"
    );
    let member_token = verdict["token_id"].as_str().expect("token").to_owned();

    // English and elder mode work offline too; the credential is in no persistent storage.
    rt.block_on(async {
        for id in ["#lang", "#large"] {
            client
                .find(Locator::Css(id))
                .await
                .expect("button")
                .click()
                .await
                .expect("click");
        }
        let mark = text_of(&client, "#offline-mark").await;
        assert!(mark.starts_with("Offline code"), "{mark}");
        let persisted = client
            .execute_async(
                "const key = arguments[0], done = arguments[arguments.length - 1]; \
                 const r = indexedDB.open('yibao'); \
                 r.onsuccess = () => { const g = r.result.transaction('device').objectStore('device').get(key); \
                   g.onsuccess = () => { const d = Object.assign({}, g.result); delete d.keys; \
                     done(JSON.stringify(d) + JSON.stringify(localStorage)); }; };",
                vec![Value::String(voucher.clone())],
            )
            .await
            .expect("script");
        let persisted = persisted.as_str().expect("text");
        assert!(persisted.contains("certificates"), "{persisted}");
        assert!(!persisted.contains(&binder), "the credential was persisted");
        for id in ["#lang", "#large"] {
            client
                .find(Locator::Css(id))
                .await
                .expect("button")
                .click()
                .await
                .expect("click");
        }
    });

    // A reload with the issuer still down: the service worker serves the page.
    let reloaded = rt.block_on(async {
        client.refresh().await.expect("reload");
        let (code, _) = next_device_code(&client, "", "app-offline-reloaded.png").await;
        code
    });
    own_tokens.push(
        accepted(&terminal, &reloaded)["token_id"]
            .as_str()
            .expect("token")
            .to_owned(),
    );
    own_tokens.sort();

    // Back online: every code settles once, and the page returns to issuer codes.
    platform.start();
    let started = std::time::Instant::now();
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("answered 5, still queued 0"), "{out}");
    assert_eq!(settled_tokens(&platform.audit(&voucher)), own_tokens);
    assert_eq!(settled_tokens(&platform.audit(&member)), vec![member_token]);
    rt.block_on(async {
        wait_for(
            &client,
            "document.querySelector('#qr svg[data-kind=\"issuer-signed\"]')",
            "issuer codes again",
        )
        .await;
        eprintln!(
            "switch: issuer codes again {:?} after the issuer answered",
            started.elapsed()
        );
        assert!(
            client
                .find(Locator::Css("#offline-mark"))
                .await
                .expect("mark")
                .attr("hidden")
                .await
                .expect("attr")
                .is_some(),
            "the 离线码 mark is gone online"
        );
        client.close().await.expect("close");
    });
}

/// A phone whose clock is two hours off, either way: the page says so in words, its countdown
/// never promises more than the code's lifetime, and its offline code (dated by the issuer's
/// time as last seen) is accepted by a terminal.
#[test]
fn a_phone_clock_two_hours_off_is_warned_about_and_its_codes_still_work() {
    let mut platform = Platform::with_env(vec![("YIBAO__TOKEN_LIFETIME_SECS", "15".into())]);
    let terminal = platform.terminal(PHARMACY, "p-3");
    let holders = [platform.holder(5), platform.holder(6)];
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut clients = Vec::new();
    for ((credential, _), (hours, words)) in holders.iter().zip([(2_i64, "快了"), (-2, "慢了")])
    {
        let client = rt.block_on(async {
            let client = browser(&driver, PHONE, true).await;
            let shift = format!(
                "{{ const real = Date.now.bind(Date); Date.now = () => real() + {}; }}",
                hours * 3_600_000
            );
            client
                .issue_cmd(Cdp {
                    cmd: "Page.addScriptToEvaluateOnNewDocument",
                    params: serde_json::json!({"source": shift}),
                })
                .await
                .expect("clock set off");
            client.goto(&platform.url("/app")).await.expect("app page");
            sign_in(&client, credential).await;
            wait_for(
                &client,
                "!document.getElementById('clock-warning').hidden",
                "the clock warning",
            )
            .await;
            let warning = text_of(&client, "#clock-warning").await;
            assert!(
                warning.contains(words) && warning.contains("2 小时"),
                "{warning}"
            );
            let countdown = text_of(&client, "#countdown").await;
            let left: u64 = countdown
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{countdown}"));
            assert!(
                left <= 15,
                "never more than the code's lifetime: {countdown}"
            );
            client
        });
        clients.push(client);
    }
    // Offline, each phone's code is dated by the issuer's time and accepted.
    platform.stop();
    for (i, client) in clients.iter().enumerate() {
        let code = rt.block_on(async {
            let (code, _) = next_device_code(client, "", &format!("app-clock-{i}.png")).await;
            let hidden = client
                .find(Locator::Css("#clock-warning"))
                .await
                .expect("warning")
                .attr("hidden")
                .await
                .expect("attr");
            assert!(hidden.is_none(), "still warned offline");
            code
        });
        let verdict = accepted(&terminal, &code);
        assert_eq!(
            verdict["claims"]["voucher_id"],
            holders[i].1.as_str(),
            "{verdict}"
        );
    }
    rt.block_on(async {
        for client in clients {
            client.close().await.expect("close");
        }
    });
}
