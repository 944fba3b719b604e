//! Calls, live: a sandbox contact calls the session's number; whatsapp-rust sees the
//! offer ring and wagate records `call.incoming`, voice or video.

use serde_json::Value;

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000091";
const BOB: &str = "+4915110000092";

#[tokio::test]
async fn a_contact_calling_the_number_is_told_as_call_incoming() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(BOB, "Bob", None).await;

    let voice = live.sandbox.contact_call(BOB, SHOP, false).await.expect("Bob calls");
    let video = live.sandbox.contact_call(BOB, SHOP, true).await.expect("Bob calls again, with video");

    let calls = within(LINK_TIMEOUT, "both calls are told", || async {
        let page: Value = live.app.get("/api/v1/events?types=call.incoming").await.json().await.unwrap();
        let list = page["data"].as_array()?.clone();
        (list.len() >= 2).then_some(list)
    })
    .await;
    assert_eq!(calls.len(), 2, "each call once: {calls:#?}");
    let (first, second) = (&calls[0]["data"], &calls[1]["data"]);
    assert_eq!((&first["call_id"], &first["video"]), (&Value::from(voice), &Value::from(false)), "{first}");
    assert_eq!((&second["call_id"], &second["video"]), (&Value::from(video), &Value::from(true)), "{second}");
    assert_eq!(first["from"]["phone"], BOB);
    assert_eq!(first["from"]["jid"], "4915110000092@s.whatsapp.net");
    assert!(first["at"].is_string());
    assert_eq!(calls[0]["session"], "default");
}
