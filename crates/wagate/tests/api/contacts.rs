//! Contacts: number checks (asked live), and the people who wrote, listed and exported.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, phone, spawn_app};

#[tokio::test]
async fn a_number_check_answers_each_number_in_the_order_asked() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.register_numbers(&[phone("+4915110000001")]);

    let response = app
        .post("/api/v1/contacts/check", json!({ "phones": ["+49 151 10000001", "+4915110000999", "004915110000001"] }))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["input"], "+49 151 10000001");
    assert_eq!(data[0]["phone"], "+4915110000001");
    assert_eq!(data[0]["on_whatsapp"], true);
    assert_eq!(data[0]["jid"], "4915110000001@s.whatsapp.net");
    assert_eq!(data[1]["on_whatsapp"], false);
    assert_eq!(data[1]["jid"], Value::Null);
    assert_eq!(data[2]["phone"], "+4915110000001", "the same number in another form");
    assert_eq!(data[2]["on_whatsapp"], true);
}

#[tokio::test]
async fn a_number_check_refuses_bad_input_and_needs_a_connection() {
    let app = spawn_app().await;
    app.create_session("default").await;

    let bad = app.post("/api/v1/contacts/check", json!({ "phones": ["+4915110000001", "not a number"] })).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(problem["detail"].as_str().unwrap().contains("phones[1]"), "{problem}");
    let empty = app.post("/api/v1/contacts/check", json!({ "phones": [] })).await;
    assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let too_many: Vec<String> = (0..501).map(|i| format!("+49151{i:08}")).collect();
    let many = app.post("/api/v1/contacts/check", json!({ "phones": too_many })).await;
    assert_problem(many, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let unknown = app.post("/api/v1/contacts/check", json!({ "session": "nope", "phones": ["+4915110000001"] })).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // Linked but not connected: WhatsApp cannot be asked.
    let offline = app.post("/api/v1/contacts/check", json!({ "phones": ["+4915110000001"] })).await;
    assert_problem(offline, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

#[tokio::test]
async fn contacts_are_listed_searched_paged_and_shown_one_by_one() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    for (number, text) in [("+4915110000001", "one"), ("+4915110000002", "two"), ("+4915110000003", "three")] {
        app.engine.incoming_text("default", &phone(number), text).await.unwrap();
    }
    app.send_text("default", "+4915110000002", "a reply").await;

    let first: Value = app.get("/api/v1/contacts?limit=2").await.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second: Value = app.get(&format!("/api/v1/contacts?limit=2&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut seen: Vec<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|c| c["phone"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, ["+4915110000001", "+4915110000002", "+4915110000003"]);

    let found: Value = app.get("/api/v1/contacts?search=10000002").await.json().await.unwrap();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let by_name: Value = app.get("/api/v1/contacts?search=CONTACT%204915110000003").await.json().await.unwrap();
    assert_eq!(by_name["data"][0]["phone"], "+4915110000003", "the push name matches in any case");

    let one: Value = app.get("/api/v1/contacts/+4915110000002").await.json().await.unwrap();
    assert_eq!(one["jid"], "4915110000002@s.whatsapp.net");
    assert_eq!(one["messages_received"], 1);
    assert_eq!(one["messages_sent"], 1);
    assert_eq!(one["session"], "default");
    let missing = app.get("/api/v1/contacts/+4915110000009").await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let bad_cursor = app.get("/api/v1/contacts?cursor=nonsense").await;
    assert_problem(bad_cursor, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

#[tokio::test]
async fn the_csv_export_keeps_every_script_and_quotes_what_needs_it() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let arabic = phone("+9611234567");
    let message = app.engine.incoming_text("default", &arabic, "مرحبا").await.unwrap();
    // The push name carries Arabic, an emoji, a comma and a quote.
    let mut named = message.clone();
    named.wa_id = wagate_types::WaMessageId::generate();
    named.push_name = Some("سارة 🌷, \"Sara\"".into());
    app.engine.incoming("default", std::slice::from_ref(&named)).await.unwrap();

    let response = app.get("/api/v1/contacts.csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a byte-order mark, so spreadsheets read UTF-8");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header[..4], ["session", "jid", "phone", "push_name"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][2], "+9611234567");
    assert_eq!(&rows[0][3], "سارة 🌷, \"Sara\"");
    assert_eq!(&rows[0][6], "2", "messages received");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("\"سارة 🌷, \"\"Sara\"\"\""), "quoted, inner quotes doubled: {text}");
}

#[tokio::test]
async fn with_number_checks_on_a_number_without_whatsapp_fails_and_is_asked_about_once() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.register_numbers(&[phone("+4915110000001")]);
    let on =
        app.request(Method::PATCH, "/api/v1/sessions/default").json(&json!({ "settings": { "check_numbers": true } }));
    let on: Value = on.send().await.unwrap().json().await.unwrap();
    assert_eq!(on["settings"]["check_numbers"], true);

    let nowhere = app.send_text("default", "+4915110000999", "Hello?").await;
    let failed = app.wait_for_message(nowhere["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["error_code"], "not_on_whatsapp", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("has no WhatsApp account"), "{failed}");
    assert!(app.engine.sent().is_empty(), "nothing went out");

    for text in ["One", "Two"] {
        let sent = app.send_text("default", "+4915110000001", text).await;
        app.wait_for_message(sent["id"].as_str().unwrap(), "sent").await;
    }
    assert_eq!(app.engine.sent().len(), 2);
    assert_eq!(app.engine.number_checks(), 2, "each number asked about once");

    // Off again: sends go without asking.
    let off =
        app.request(Method::PATCH, "/api/v1/sessions/default").json(&json!({ "settings": { "check_numbers": false } }));
    assert_eq!(off.send().await.unwrap().status(), StatusCode::OK);
    let unchecked = app.send_text("default", "+4915110000998", "Hi").await;
    app.wait_for_message(unchecked["id"].as_str().unwrap(), "sent").await;
    assert_eq!(app.engine.number_checks(), 2);
}
