//! One client connection: the Noise handshake, then either a registration (a new
//! companion waiting to be paired) or a login of a known device, decided by the
//! `ClientPayload` the client sent in the handshake.

mod frame;
mod noise;
mod pair_code;
mod pairing;
mod session;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use buffa::Message as _;
use tokio::sync::mpsc;
use tracing::Instrument as _;
use wacore_binary::Node;
use waproto::whatsapp as wa;

use self::frame::FrameReader;
use self::noise::HelloReply;
pub(crate) use self::noise::ServerIdentity;
use self::transport::NodeCipher;
use crate::network::{CodeOffer, PairOffer};
use crate::server::Shared;

/// The client gives up on a handshake after 20 s; so does the server.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// Commands queued for one connection. Small: a slow client should feel backpressure
/// rather than make the sandbox buffer without bound.
const COMMAND_QUEUE: usize = 64;
/// How long a connection ended by a last stanza waits for the client to close first.
const LINGER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ConnId(pub(crate) u64);

/// How other parts of the sandbox reach a connection's task.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnId,
    pub(crate) tx: mpsc::Sender<ConnCommand>,
}

pub(crate) enum ConnCommand {
    /// Send a last node (e.g. a stream error) and close the connection.
    SendAndClose(Node),
    /// The phone offers a waiting companion its device identity (`<pair-success>`).
    Offer(Box<PairOffer>),
    /// The phone accepted a pairing code (`primary_hello`).
    PrimaryHello(Box<CodeOffer>),
    /// Close without a word, as when the network drops.
    Drop,
    /// A stanza routed to this device (message, receipt, presence, chat state).
    Deliver(Node),
    /// From now on hold everything sent to this device this long (a slow network).
    SetLatency(std::time::Duration),
    /// From now on hold the server's acks of this device's messages this long, while
    /// the messages themselves go on at once (`Duration::ZERO` takes it away).
    SetAckDelay(std::time::Duration),
}

/// Serves one upgraded WebSocket until either side closes it.
pub(crate) async fn serve(socket: WebSocket, shared: Arc<Shared>) {
    let id = shared.network.next_connection_id();
    async move {
        let Some(conn) = Connection::establish(id, socket, shared).await else {
            return;
        };
        let payload = match wa::ClientPayload::decode_from_slice(&conn.payload) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(%error, "client payload does not decode");
                return conn.close().await;
            }
        };
        if payload.device_pairing_data.is_set() {
            pairing::run(conn, payload).await;
        } else if let (Some(username), Some(device)) = (payload.username, payload.device) {
            session::run(conn, username, device).await;
        } else {
            tracing::warn!("client payload is neither a registration nor a login");
            conn.close().await;
        }
    }
    .instrument(tracing::info_span!("conn", id = id.0))
    .await;
}

/// An established connection: encrypted node IO plus the connection's command queue.
pub(crate) struct Connection {
    socket: WebSocket,
    reader: FrameReader,
    cipher: NodeCipher,
    commands: mpsc::Receiver<ConnCommand>,
    handle: ConnHandle,
    shared: Arc<Shared>,
    /// The client's Noise static key, proved in the handshake.
    client_static: [u8; 32],
    /// The decrypted `ClientPayload` bytes.
    payload: Vec<u8>,
    /// Added before every node sent: the `latency` fault.
    latency: std::time::Duration,
    /// How long the acks of this device's messages are held back: the `late_acks` fault.
    pub(crate) ack_delay: std::time::Duration,
}

/// What happened next on a connection.
pub(crate) enum Incoming {
    Node(Node),
    Command(ConnCommand),
    Closed,
}

impl Connection {
    async fn establish(id: ConnId, mut socket: WebSocket, shared: Arc<Shared>) -> Option<Self> {
        let mut reader = FrameReader::new();
        let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut socket, &mut reader, &shared));
        let established = match handshake.await {
            Ok(Ok(established)) => established,
            Ok(Err(error)) => {
                tracing::debug!(%error, "handshake failed");
                return None;
            }
            Err(_) => {
                tracing::debug!("handshake timed out");
                return None;
            }
        };
        let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
        Some(Self {
            socket,
            reader,
            cipher: NodeCipher::from_keys(established.write, established.read),
            commands,
            handle: ConnHandle { id, tx },
            shared,
            client_static: established.client_static,
            payload: established.payload,
            latency: std::time::Duration::ZERO,
            ack_delay: std::time::Duration::ZERO,
        })
    }

    pub(crate) async fn send(&mut self, node: &Node) -> anyhow::Result<()> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        tracing::trace!(node = %wacore::xml::DisplayableNode(node), "send");
        let frame = self.cipher.seal(node)?;
        self.socket.send(Message::Binary(frame.into())).await?;
        Ok(())
    }

    pub(crate) fn set_latency(&mut self, latency: std::time::Duration) {
        self.latency = latency;
    }

    /// Waits for the next node from the client or command for this connection.
    pub(crate) async fn next(&mut self) -> Incoming {
        // Commands before frames: a fault injected before the client's next request
        // must apply to the answer, even when both are waiting.
        let frame = tokio::select! {
            biased;
            () = self.shared.shutdown.cancelled() => return Incoming::Closed,
            Some(command) = self.commands.recv() => return Incoming::Command(command),
            frame = read_frame(&mut self.socket, &mut self.reader) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Incoming::Closed,
            Err(error) => {
                tracing::debug!(%error, "connection read failed");
                return Incoming::Closed;
            }
        };
        match self.cipher.open(frame) {
            Ok(node) => {
                tracing::trace!(node = %wacore::xml::DisplayableNode(&node), "recv");
                Incoming::Node(node)
            }
            // A frame that does not decrypt desynchronises the counters for good.
            Err(error) => {
                tracing::warn!(%error, "dropping connection after a bad frame");
                Incoming::Closed
            }
        }
    }

    /// Closes after a last stanza that explains why (a stream error, a ban): the
    /// client gets up to [`LINGER`] to read it and close first. A client busy right
    /// after logging in could otherwise notice the closed socket before the stanza.
    pub(crate) async fn linger_and_close(mut self) {
        let client_closed = async { while let Ok(Some(_)) = read_frame(&mut self.socket, &mut self.reader).await {} };
        let _ = tokio::time::timeout(LINGER, client_closed).await;
        self.close().await;
    }

    /// Closes the WebSocket with a normal close frame.
    pub(crate) async fn close(mut self) {
        let frame = CloseFrame { code: 1000, reason: "".into() };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }
}

#[derive(Debug, thiserror::Error)]
enum HandshakeFailure {
    #[error("client closed the connection")]
    Closed,
    #[error(transparent)]
    Noise(#[from] noise::HandshakeError),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

async fn handshake(
    socket: &mut WebSocket,
    reader: &mut FrameReader,
    shared: &Shared,
) -> Result<noise::Established, HandshakeFailure> {
    let hello = read_frame(socket, reader).await?.ok_or(HandshakeFailure::Closed)?;
    let reply = noise::answer_hello(&shared.noise, &hello)?;
    let (server_hello, pending) = match reply {
        HelloReply::Done { server_hello, established } => {
            send_frame(socket, &server_hello).await?;
            return Ok(established);
        }
        HelloReply::AwaitFinish { server_hello, pending } => (server_hello, pending),
    };
    send_frame(socket, &server_hello).await?;
    let finish = read_frame(socket, reader).await?.ok_or(HandshakeFailure::Closed)?;
    Ok(pending.read_finish(&finish)?)
}

async fn send_frame(socket: &mut WebSocket, payload: &[u8]) -> anyhow::Result<()> {
    socket.send(Message::Binary(frame::frame(payload)?.into())).await?;
    Ok(())
}

/// The next frame from the client; `None` once it closed. Cancel-safe: bytes are only
/// taken from the socket into the reader, never dropped.
async fn read_frame(socket: &mut WebSocket, reader: &mut FrameReader) -> anyhow::Result<Option<Vec<u8>>> {
    loop {
        if let Some(frame) = reader.next_frame() {
            return Ok(Some(frame));
        }
        match socket.recv().await {
            None | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(Message::Binary(data))) => reader.feed(&data)?,
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
        }
    }
}
