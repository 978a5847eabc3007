//! The phone page's 家庭共济 and 谁查看了我的身份信息 in headless Chromium: the member sees whose
//! account pays for them, the hospital's read of their identity and the mutual-aid part of a
//! bill; the payer sees what their account paid, for whom, and ends the authorisation; in
//! Chinese, elder mode and English, with no serious accessibility violation.

use fantoccini::Client;
use serde_json::json;

use super::browser::{
    Driver, PHONE, artifacts, browser, serious_accessibility_violations, sign_in, text_of, wait_for,
};
use super::platform::{HOSPITAL, Platform};

/// Synthetic people: 3 is employee-insured, 1 resident.
const PAYER: usize = 3;
const MEMBER: usize = 1;

/// A hospital visit of `member` read (1101) and completed with 12.30 yuan from `payer`.
fn settled_with_mutual_aid(platform: &Platform, member: &str, payer: &str) {
    let terminal = platform.register_terminal(HOSPITAL, "h-page");
    let decoded = platform.post(
        "/v1/decode",
        &terminal,
        json!({"code": platform.code(member), "institution": HOSPITAL, "operator": "c-1",
            "business_type": "01101"}),
    );
    let reference = decoded["reference"].as_str().expect("reference");
    assert_eq!(
        decoded["mulaid_payers"][0]["voucher_id"], payer,
        "{decoded}"
    );
    platform.post(
        "/v1/person-info",
        &terminal,
        json!({"mdtrt_cert_type": "01", "mdtrt_cert_no": reference}),
    );
    platform.post(
        &format!("/v1/settlements/{reference}/complete"),
        &terminal,
        json!({"medfee_sumamt": 88.50, "fund_pay_sumamt": 50.00, "acct_pay": 0,
            "acct_mulaid_pay": 12.30, "psn_cash_pay": 26.20, "mutual_aid_payer": payer}),
    );
}

async fn shot(client: &Client, card: &str, name: &str) {
    client
        .execute(
            &format!("document.querySelector('{card}').scrollIntoView();"),
            vec![],
        )
        .await
        .expect("scroll");
    std::fs::write(
        artifacts().join(name),
        client.screenshot().await.expect("screenshot"),
    )
    .expect("save");
}

#[test]
fn the_page_shows_mutual_aid_both_ways_and_who_read_the_identity() {
    let platform = Platform::new();
    let (payer, payer_voucher) = platform.holder(PAYER);
    let (member, _) = platform.holder(MEMBER);
    platform.share_attested(&payer, MEMBER);
    settled_with_mutual_aid(&platform, &member, &payer_voucher);

    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &member).await;
        wait_for(
            &client,
            "document.querySelector('#share-payers .status.active') \
             && document.querySelectorAll('#reads .row').length === 1 \
             && document.querySelector('#expenses').textContent.includes('家庭共济')",
            "the payer, the identity read and the mutual-aid part",
        )
        .await;
        let reads = text_of(&client, "#reads").await;
        assert!(reads.contains("测试hospital"), "{reads}");
        let expenses = text_of(&client, "#expenses").await;
        assert!(expenses.contains("¥12.30"), "{expenses}");
        shot(&client, "#shares-card", "app-mutual-aid-member.png").await;
        shot(&client, "#expenses-card", "app-mutual-aid-expenses.png").await;
        let mut violations = serious_accessibility_violations(&client, "member").await;
        client
            .execute(
                "document.querySelector('#large').click(); document.querySelector('#lang').click();",
                vec![],
            )
            .await
            .expect("elder mode, English");
        wait_for(
            &client,
            "document.querySelector('#reads').textContent.includes('for the medical record') \
             && document.querySelector('#expenses').textContent.includes('Family mutual aid')",
            "the English page",
        )
        .await;
        shot(&client, "#reads-card", "app-identity-reads-elder-en.png").await;
        violations.extend(serious_accessibility_violations(&client, "elder, English").await);
        client.close().await.expect("close");

        let client = browser(&driver, PHONE, true).await;
        client.goto(&platform.url("/app")).await.expect("app page");
        sign_in(&client, &payer).await;
        wait_for(
            &client,
            "document.querySelector('#share-members .status.active') \
             && document.querySelector('#expenses').textContent.includes('为家人支付')",
            "the member and what the account paid",
        )
        .await;
        let expenses = text_of(&client, "#expenses").await;
        assert!(expenses.contains("¥12.30"), "{expenses}");
        shot(&client, "#expenses-card", "app-mutual-aid-paid-for.png").await;
        violations.extend(serious_accessibility_violations(&client, "payer").await);
        // Ending it takes effect at once.
        client
            .execute(
                "window.confirm = () => true; \
                 document.querySelector('#share-members button').click();",
                vec![],
            )
            .await
            .expect("end");
        wait_for(
            &client,
            "document.querySelector('#share-members .status.unbound') \
             && !document.querySelector('#share-members button')",
            "the authorisation ended",
        )
        .await;
        assert!(violations.is_empty(), "{violations:#?}");
        client.close().await.expect("close");
    });
    let (_, payers) = platform.get("/v1/account-shares/payers", &member);
    assert_eq!(payers[0]["status"], "unbound", "{payers}");
}
