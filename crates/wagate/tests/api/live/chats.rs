//! Marking a chat read through the real engine: the contact sees blue ticks.

use serde_json::{Value, json};

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000091";
const ANN: &str = "+4915110000092";

#[tokio::test]
async fn a_chat_marked_read_sends_read_receipts_to_the_contact() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;
    let first = live.sandbox.contact_send_text(ANN, SHOP, "Hello").await.expect("Ann writes");
    let second = live.sandbox.contact_send_text(ANN, SHOP, "Anyone there?").await.expect("Ann writes again");

    let chat = within(LINK_TIMEOUT, "Ann's chat shows two unread", || async {
        let page: Value = live.app.get("/api/v1/chats").await.json().await.unwrap();
        page["data"].as_array()?.iter().find(|c| c["phone"] == ANN && c["unread"] == 2).cloned()
    })
    .await;
    assert_eq!(chat["name"], "Ann", "{chat}");
    assert_eq!(chat["last_message"]["text"], "Anyone there?", "{chat}");

    let read: Value = live.app.post(&format!("/api/v1/chats/{ANN}/read"), json!({})).await.json().await.unwrap();
    assert_eq!(read["marked"], 2, "{read}");
    within(LINK_TIMEOUT, "Ann's phone shows both read", || async {
        let receipts = live.sandbox.contact_receipts(ANN).unwrap();
        let read = |id: &str| receipts.iter().any(|(r, kind)| r == id && kind == "read");
        (read(&first) && read(&second)).then_some(())
    })
    .await;
    let page: Value = live.app.get("/api/v1/chats").await.json().await.unwrap();
    assert_eq!(page["data"][0]["unread"], 0, "{page}");
}
