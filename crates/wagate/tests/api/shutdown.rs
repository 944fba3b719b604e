use std::time::Duration;

use crate::helpers::spawn_app;

/// A graceful stop lets the send in flight finish and record its result; nothing is
/// left `sending` for the next start to send again.
#[tokio::test]
async fn shutdown_finishes_the_send_in_flight() {
    let mut app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.set_send_delay(Duration::from_millis(400));
    let message = app.send_text("default", "+4915123456789", "in flight").await;
    let id = message["id"].as_str().unwrap();
    app.wait_for_message(id, "sending").await;

    app.restart().await;
    app.engine.set_send_delay(Duration::ZERO);
    let after = app.message(id).await;
    assert_eq!(after["status"], "sent", "the send in flight finished before the stop");
    assert_eq!(after["attempts"], 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.engine.sent().len(), 1, "and was not sent again after the start");
}
