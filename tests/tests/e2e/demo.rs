//! The README's run command: `yibao-issuer demo` reaches "serving", writes `demo.json`, its
//! holder credentials work, and a restart reuses everything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;
use yibao_tests::process::binary;
use yibao_tests::redis_server::free_port;

fn start_demo(data: &std::path::Path, port: u16) -> (std::process::Child, String) {
    let mut child = Command::new(binary("yibao-issuer"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("serving on ") {
                let _ = tx.send(seen.clone());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(200)) {
            return (child, out);
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "demo exited early"
        );
        assert!(Instant::now() < deadline, "demo did not reach serving");
    }
}

#[test]
fn the_demo_serves_with_working_holders_and_restarts_on_its_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (mut child, out) = start_demo(tmp.path(), port);
    assert!(out.contains("1,000 synthetic insured people"), "{out}");
    assert!(
        out.contains("curl -s -H 'Authorization: Bearer ybh_"),
        "{out}"
    );
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("demo.json")).expect("demo.json"),
    )
    .expect("json");
    let holders = info["holders"].as_array().expect("holders");
    assert_eq!(holders.len(), 3);
    let credential = holders[0]["holder_credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let http = Client::new();
    let token = http
        .get(format!("http://127.0.0.1:{port}/v1/token"))
        .bearer_auth(&credential)
        .send()
        .expect("request");
    assert_eq!(token.status(), StatusCode::OK);
    // The first holder is the registered guardian of the demo child: bound at once.
    let kid = yibao_issuer::demo::demo_child();
    assert!(
        out.contains(&kid.id_number),
        "the guide names the child: {out}"
    );
    let bound = http
        .post(format!("http://127.0.0.1:{port}/v1/family/members"))
        .bearer_auth(&credential)
        .json(
            &serde_json::json!({"name": kid.name, "id_number": kid.id_number, "relation": "child"}),
        )
        .send()
        .expect("request");
    assert_eq!(bound.status(), StatusCode::CREATED);
    let link: Value = bound.json().expect("json");
    assert_eq!(link["consent"], "registered-guardian", "{link}");
    let _ = child.kill();
    let _ = child.wait();

    // Restart: same data, same credentials.
    let (mut again, _) = start_demo(tmp.path(), port);
    let token = http
        .get(format!("http://127.0.0.1:{port}/v1/token"))
        .bearer_auth(&credential)
        .send()
        .expect("request");
    assert_eq!(token.status(), StatusCode::OK);
    let _ = again.kill();
    let _ = again.wait();
}
