//! The two pages in a real headless Chromium (Debian `chromium` + `chromium-driver`, driven
//! over WebDriver): the phone app page at a phone's viewport and the cashier page.
//! Screenshots are kept in `target/browser-artifacts/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_tests::process::workspace_root;
use yibao_tests::redis_server::free_port;
use yibao_verifier::{Clock, Policy, SystemClock, Verifier};

use super::platform::{Cashier, PHARMACY, Platform};

/// Phone viewport (CSS pixels) of the app page.
pub(crate) const PHONE: (u32, u32) = (390, 844);

/// A running chromedriver, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) fn start() -> Self {
        let program = ["chromedriver", "/usr/bin/chromedriver"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok())
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver is missing: apt-get install -y chromium chromium-driver \
                     (scripts/test.sh installs it)"
                )
            });
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{url}/status")).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn browser(driver: &Driver, (width, height): (u32, u32), phone: bool) -> Client {
    let mut options = json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--force-device-scale-factor=1",
                 format!("--window-size={width},{height}")],
    });
    if phone {
        // Chromium's phone emulation: the viewport is exactly the phone's.
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1, "touch": true},
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls()
        .expect("tls config")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a headless chromium session")
}

/// A Chrome DevTools command sent through chromedriver (`goog/cdp/execute`): what WebDriver
/// itself cannot do, such as running a script before a page's own (a phone clock set wrong).
#[derive(Debug)]
pub(crate) struct Cdp {
    pub(crate) cmd: &'static str,
    pub(crate) params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({"cmd": self.cmd, "params": self.params});
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// What axe-core (vendored, `tests/vendor/axe-core`) finds on the page as it is now, of
/// impact serious or critical: one line per rule with the nodes it names. Empty is the goal
/// (WCAG 2.1 AA; GB/T 37668).
pub(crate) async fn serious_accessibility_violations(client: &Client, state: &str) -> Vec<String> {
    const AXE: &str = include_str!("../../vendor/axe-core/axe.min.js");
    client.execute(AXE, vec![]).await.expect("axe-core loads");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations \
               .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
               .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    found
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .map(|v| format!("{state}: {v}"))
        .collect()
}

pub(crate) fn artifacts() -> PathBuf {
    let dir = workspace_root().join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// Waits until `script` (a JS expression) is truthy.
pub(crate) async fn wait_for(client: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = client
            .execute(&format!("return !!({script});"), vec![])
            .await
            .expect("script runs");
        if value == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .expect("element")
        .text()
        .await
        .expect("text")
}

/// Screenshot saved as `name`, and the QR code in it decoded.
pub(crate) async fn screenshot_code(client: &Client, name: &str) -> Option<String> {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts().join(name), &png).expect("save screenshot");
    let image = image::load_from_memory(&png).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    prepared
        .detect_grids()
        .into_iter()
        .find_map(|g| g.decode().ok().map(|(_, text)| text))
}

/// Signs `credential` in on the page open in `client`'s current tab (through 为其他人登录 when
/// the tab signed in someone by their device key already) and waits until this phone's key
/// is registered, the page signed in with it, and an issuer code is shown.
pub(crate) async fn sign_in(client: &Client, credential: &str) {
    wait_for(
        client,
        "!document.querySelector('#signin').hidden || !document.querySelector('#add-person').hidden",
        "the page settled",
    )
    .await;
    // Typed by script: a tab opened by WebDriver may not be laid out for clicks yet.
    client
        .execute(
            "if (document.querySelector('#signin').hidden) document.querySelector('#add-person').click(); \
             delete document.documentElement.dataset.device; \
             document.querySelector('#credential').value = arguments[0]; \
             document.querySelector('#signin-form').requestSubmit();",
            vec![serde_json::Value::String(credential.to_owned())],
        )
        .await
        .expect("sign in");
    wait_for(
        client,
        "document.documentElement.dataset.device === 'ready' \
         && document.querySelector('#qr svg[data-kind=\"issuer-signed\"]') \
         && !document.querySelector('#code-card').hidden",
        "device registration and an issuer code",
    )
    .await;
}

#[test]
fn the_app_page_shows_a_rotating_code_and_a_family_members_code() {
    // Tokens of 15 s: the page refreshes 10 s before expiry, so a new code appears in ~5 s.
    let platform = Platform::with_env(vec![("YIBAO__TOKEN_LIFETIME_SECS", "15".into())]);
    let (_, member_voucher) = platform.holder(8);
    let (binder, _) = platform.holder(9);
    platform.bind_attested(&binder, 8);
    let bundle = platform
        .http
        .get(platform.url("/v1/trust-bundle"))
        .send()
        .expect("bundle")
        .text()
        .expect("text");
    let root_file =
        std::fs::read_to_string(platform.data.path().join("keys/root.public.json")).expect("root");
    let root = PublicKeyFile::parse(&root_file, KeyRole::Root)
        .expect("root")
        .public_key;
    let mut verifier = Verifier::new(root, Policy::default());
    verifier
        .install_bundle(&bundle, SystemClock.now())
        .expect("bundle");
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let (first, second, proxy) = rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        wait_for(&client, "!document.querySelector('#signin').hidden", "the sign-in form").await;
        let mut violations = serious_accessibility_violations(&client, "sign-in").await;
        let input = client
            .find(Locator::Css("#credential"))
            .await
            .expect("input");
        input.send_keys(&binder).await.expect("type");
        client
            .find(Locator::Css("#signin-form button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        wait_for(&client, "document.querySelector('#qr svg')", "the QR code").await;
        let first = screenshot_code(&client, "app-own-code.png").await;
        violations.extend(serious_accessibility_violations(&client, "own code").await);
        let shown = client
            .execute(
                "return document.querySelector('#qr svg').dataset.tokenExpiresAt;",
                vec![],
            )
            .await
            .expect("script");
        // Refreshed before it expires, without a reload.
        wait_for(
            &client,
            &format!("document.querySelector('#qr svg').dataset.tokenExpiresAt !== {shown}"),
            "a refreshed code",
        )
        .await;
        let second = screenshot_code(&client, "app-own-code-refreshed.png").await;

        // The family member's code, with the banner.
        wait_for(
            &client,
            "document.querySelector('#members button.primary')",
            "the family list",
        )
        .await;
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
        // The page draws the banner in the same step as the member's code.
        let banner = text_of(&client, "#proxy-banner").await;
        assert!(banner.contains("代家人出示"), "{banner}");
        let proxy = screenshot_code(&client, "app-family-code.png").await;
        violations.extend(serious_accessibility_violations(&client, "family member's code").await);

        // Elder mode at a phone's 390 px: it says it is on, the title and every button stay
        // on one line each (none breaks into stacked characters), nothing overflows, the QR
        // code grows.
        let qr_width = "return document.querySelector('#qr svg').getBoundingClientRect().width";
        let normal = client.execute(qr_width, vec![]).await.expect("width");
        client
            .find(Locator::Css("#large"))
            .await
            .expect("elder mode")
            .click()
            .await
            .expect("click");
        let layout = client
            .execute(
                "const h = document.querySelector('header'); \
                 const shown = [...h.querySelectorAll('h1, button')].filter((e) => e.offsetParent); \
                 const line = parseFloat(getComputedStyle(h.querySelector('button')).lineHeight) || 30; \
                 const buttons = shown.filter((e) => e.tagName === 'BUTTON'); \
                 return { one_row: buttons.every((e) => Math.abs(e.getBoundingClientRect().top \
                            - buttons[0].getBoundingClientRect().top) < line), \
                          title_one_line: h.querySelector('h1').scrollWidth <= h.querySelector('h1').clientWidth + 1, \
                          unwrapped: shown.every((e) => e.getBoundingClientRect().height < 2 * line + 12), \
                          fits: h.scrollWidth <= h.clientWidth + 1, \
                          pressed: document.getElementById('large').getAttribute('aria-pressed'), \
                          label: document.getElementById('large').textContent };",
                vec![],
            )
            .await
            .expect("layout");
        assert_eq!(layout["one_row"], true, "{layout}");
        assert_eq!(layout["title_one_line"], true, "{layout}");
        assert_eq!(layout["unwrapped"], true, "{layout}");
        assert_eq!(layout["fits"], true, "{layout}");
        assert_eq!(layout["pressed"], "true", "{layout}");
        assert!(layout["label"].as_str().is_some_and(|l| l.contains('开')), "{layout}");
        let large = client.execute(qr_width, vec![]).await.expect("width");
        assert!(
            large.as_f64() > normal.as_f64(),
            "the QR code grows in elder mode: {normal} → {large}"
        );
        std::fs::write(
            artifacts().join("app-elder-mode.png"),
            client.screenshot().await.expect("screenshot"),
        )
        .expect("save");
        violations.extend(serious_accessibility_violations(&client, "elder mode").await);
        client
            .find(Locator::Css("#lang"))
            .await
            .expect("lang")
            .click()
            .await
            .expect("English");
        violations.extend(serious_accessibility_violations(&client, "English").await);
        assert!(violations.is_empty(), "{violations:#?}");
        client.close().await.expect("close");
        (first, second, proxy)
    });

    let now = SystemClock.now();
    let first = first.expect("the screenshot's QR code decodes");
    let second = second.expect("the refreshed screenshot's QR code decodes");
    assert_ne!(first, second, "the code changed after refresh");
    let own = verifier
        .verify_text(&first, now)
        .expect("the shown code verifies");
    assert!(own.proxy().is_none());
    verifier
        .verify_text(&second, now)
        .expect("the refreshed code verifies");
    let proxy = verifier
        .verify_text(&proxy.expect("the member's code decodes"), now)
        .expect("the member's code verifies");
    assert_eq!(proxy.voucher_id().to_string(), member_voucher);
    assert!(proxy.proxy().is_some(), "shown for a family member");
}

#[test]
fn the_cashier_page_accepts_a_fresh_code_and_refuses_a_replay_and_a_forgery() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, _) = platform.holder(10);
    let (second_holder, _) = platform.holder(11);
    let code = platform.code(&holder);
    let second = platform.code(&second_holder);
    let forged = format!(
        "{}{}",
        &code[..code.len() - 1],
        if code.ends_with('0') { "1" } else { "0" }
    );
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = browser(&driver, (1024, 700), false).await;
        client.goto(&cashier.url).await.expect("cashier page");
        wait_for(
            &client,
            "document.querySelector('#business option')",
            "the business types",
        )
        .await;
        let mut violations = serious_accessibility_violations(&client, "cashier: waiting").await;
        // A keyboard-wedge scanner types into whatever has focus: it must be the input.
        let scan = |text: String| {
            let client = client.clone();
            async move {
                client
                    .active_element()
                    .await
                    .expect("focused element")
                    .send_keys(&format!("{text}\u{E007}"))
                    .await
                    .expect("type and Enter");
            }
        };
        scan(code.clone()).await;
        wait_for(
            &client,
            "document.querySelector('#result.accepted')",
            "accepted",
        )
        .await;
        let person = text_of(&client, "#person").await;
        assert!(person.contains('*'), "masked name shown: {person}");
        std::fs::write(
            artifacts().join("cashier-accepted.png"),
            client.screenshot().await.expect("screenshot"),
        )
        .expect("save");
        violations.extend(serious_accessibility_violations(&client, "cashier: accepted").await);
        let cue = "document.documentElement.dataset.lastCue";
        assert_eq!(
            client
                .execute(&format!("return {cue}"), vec![])
                .await
                .expect("cue"),
            "accept"
        );

        // The focus leaves the input (the cashier went to the business type); the next
        // patient's scan lands there and must still be checked, with nothing of the first
        // patient left on the screen, and the business type untouched.
        let business = "document.getElementById('business').value";
        let chosen = client
            .execute(&format!("return {business}"), vec![])
            .await
            .expect("value");
        client
            .execute("document.getElementById('business').focus();", vec![])
            .await
            .expect("focus elsewhere");
        scan(second.clone()).await;
        wait_for(
            &client,
            &format!(
                "document.querySelector('#result.accepted') && \
                 !document.getElementById('person').textContent.includes({:?})",
                person.split('　').next().unwrap_or_default()
            ),
            "the second patient's verdict",
        )
        .await;
        let second_person = text_of(&client, "#person").await;
        assert!(
            second_person.contains('*') && second_person != person,
            "{second_person}"
        );
        assert_eq!(
            client
                .execute(&format!("return {business}"), vec![])
                .await
                .expect("value"),
            chosen,
            "the scan's digits did not go into the business type"
        );
        assert!(
            client
                .execute("return document.activeElement.id", vec![])
                .await
                .expect("focus")
                == "code",
            "the focus is back on the scan input"
        );
        assert!(text_of(&client, "#shown-at").await.contains("核验时间"));
        // English throughout: the verdict, the person, the business type, the header.
        let lang = client.find(Locator::Css("#lang")).await.expect("lang");
        lang.click().await.expect("English");
        wait_for(
            &client,
            "!/[\\u4e00-\\u9fff]/.test(document.getElementById('net-text').textContent)",
            "the header in English",
        )
        .await;
        let english = [
            text_of(&client, "#verdict").await,
            text_of(&client, "#reason").await,
            // Everything but the masked name, which stays as the registry has it.
            text_of(&client, "#person")
                .await
                .replace(second_person.split('　').next().unwrap_or_default(), ""),
            text_of(&client, "#net-text").await,
            text_of(&client, "#business option:checked").await,
        ];
        for text in &english {
            assert!(
                !text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "Chinese left in English mode: {english:?}"
            );
        }
        violations.extend(serious_accessibility_violations(&client, "cashier: English").await);
        lang.click().await.expect("中文");

        scan(code.clone()).await;
        wait_for(
            &client,
            "document.querySelector('#result.rejected')",
            "rejected",
        )
        .await;
        assert_eq!(text_of(&client, "#verdict").await, "已使用");
        assert!(
            text_of(&client, "#reason").await.contains("刷新"),
            "says what to do next"
        );
        assert_eq!(
            client
                .execute(&format!("return {cue}"), vec![])
                .await
                .expect("cue"),
            "reject"
        );
        std::fs::write(
            artifacts().join("cashier-replayed.png"),
            client.screenshot().await.expect("screenshot"),
        )
        .expect("save");

        // Clear the verdict state, then a forged code.
        client
            .execute(
                "document.getElementById('result').className = 'idle';",
                vec![],
            )
            .await
            .expect("script");
        scan(forged).await;
        wait_for(
            &client,
            "document.querySelector('#result.rejected')",
            "rejected",
        )
        .await;
        assert_eq!(text_of(&client, "#verdict").await, "拒绝");
        violations.extend(serious_accessibility_violations(&client, "cashier: rejected").await);
        assert!(violations.is_empty(), "{violations:#?}");
        let reason = text_of(&client, "#reason").await;
        assert!(!reason.is_empty(), "the reason is shown in words");
        client.close().await.expect("close");
    });
}
