use bytes::Bytes;
use wagate_types::{ChatId, WaMessageId};

/// A message for the engine to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// Chosen when the message was accepted; reused on every attempt so the
    /// recipient sees one message however often it is sent.
    pub wa_id: WaMessageId,
    pub to: ChatId,
    pub content: Content,
    /// Quote and mentions; empty for most messages.
    pub context: Context,
    /// Set for a status (story) post, sent to `status@broadcast`.
    pub status: Option<StatusPost>,
}

/// A status (story): who sees it, and how a text status looks.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPost {
    /// The people who may see it; WhatsApp sends it to each of their devices.
    pub audience: Vec<ChatId>,
    /// A text status's background colour, 0xAARRGGBB.
    pub background_argb: u32,
    /// A text status's font, by WhatsApp's number for it (see [`StatusPost::FONTS`]).
    pub font: i32,
}

impl StatusPost {
    /// The fonts WhatsApp knows, by number: system, system text, FB script, system bold,
    /// Morning Breeze, Calistoga, Exo 2 extra bold, Courier Prime bold.
    pub const FONTS: [i32; 8] = [0, 1, 2, 6, 7, 8, 9, 10];
    /// The chat a status is posted to.
    pub const CHAT: &'static str = "status@broadcast";
}

/// What a message carries, sent or received.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        body: String,
    },
    Image {
        media: Media,
        caption: Option<String>,
    },
    Video {
        media: Media,
        caption: Option<String>,
    },
    /// An audio file, or a voice note when `ptt` ("push to talk") is set.
    Audio {
        media: Media,
        ptt: bool,
    },
    Document {
        media: Media,
        filename: String,
        caption: Option<String>,
    },
    /// A 512×512 WebP image.
    Sticker {
        media: Media,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A contact card.
    Contact {
        name: String,
        vcard: String,
    },
    /// A poll; `selectable` is how many options a voter may pick (1 = single choice).
    Poll {
        question: String,
        options: Vec<String>,
        selectable: u32,
    },
    /// An emoji on an earlier message; an empty emoji takes the reaction back.
    Reaction {
        target: MessageRef,
        emoji: String,
    },
    /// A vote on a poll. WhatsApp names the chosen options only by the hex SHA-256 of
    /// each option's text (none chosen: the vote was taken back); whoever knows the
    /// poll's options maps them back. Received only; wagate does not vote.
    PollVote {
        poll: MessageRef,
        option_hashes: Vec<String>,
    },
    /// New text (or caption) for an earlier message of the same sender.
    Edit {
        target: MessageRef,
        body: String,
    },
    /// An earlier message deleted for everyone by its sender.
    Revoke {
        target: MessageRef,
    },
}

impl Content {
    /// The kind's name in wagate's API: `text`, `image`, … `poll_vote`, `edit`, `revoke`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::Audio { .. } => "audio",
            Self::Document { .. } => "document",
            Self::Sticker { .. } => "sticker",
            Self::Location { .. } => "location",
            Self::Contact { .. } => "contact",
            Self::Poll { .. } => "poll",
            Self::Reaction { .. } => "reaction",
            Self::PollVote { .. } => "poll_vote",
            Self::Edit { .. } => "edit",
            Self::Revoke { .. } => "revoke",
        }
    }

    /// The media the message carries, if any.
    pub fn media(&self) -> Option<&Media> {
        match self {
            Self::Image { media, .. }
            | Self::Video { media, .. }
            | Self::Audio { media, .. }
            | Self::Document { media, .. }
            | Self::Sticker { media } => Some(media),
            _ => None,
        }
    }
}

/// An earlier message another one is about (a quote, reaction, edit, revoke or vote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    /// The chat the earlier message is in.
    pub chat: ChatId,
    /// Its WhatsApp id.
    pub wa_id: WaMessageId,
    /// Who wrote it: `None` when this session's own account did.
    pub sender: Option<ChatId>,
}

/// What surrounds a message's content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The message this one replies to.
    pub reply_to: Option<Quote>,
    /// People named with `@` in the text or caption.
    pub mentions: Vec<ChatId>,
}

/// A quoted message: which one, and enough of it for the recipient's phone to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub message: MessageRef,
    /// The quoted text or caption, as shown above the reply. Outbound: what wagate
    /// stored for it (if anything); inbound: what the sender's phone attached.
    pub text: Option<String>,
}

/// A file a message carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub mimetype: String,
    /// Outbound: the bytes to send. Inbound: empty; the engine reports where to get
    /// them in `source`, and [`Session::download`](crate::Session::download) fetches them.
    pub data: Bytes,
    /// Hex SHA-256 of the plain bytes.
    pub sha256: String,
    /// Length of the plain bytes.
    pub size: u64,
    /// A small JPEG preview (images, videos).
    pub thumbnail: Option<Bytes>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Duration of audio and video.
    pub seconds: Option<u32>,
    /// Inbound: the engine's own description of where the encrypted file is and how to
    /// decrypt it (opaque to wagate; holds keys, so it is never shown to clients).
    pub source: Option<serde_json::Value>,
}

impl Media {
    /// Outbound media from its bytes; hash and size are computed.
    pub fn from_bytes(mimetype: impl Into<String>, data: Bytes) -> Self {
        use sha2::Digest as _;
        let sha256 = hex::encode(sha2::Sha256::digest(&data));
        Self {
            mimetype: mimetype.into(),
            size: data.len() as u64,
            data,
            sha256,
            thumbnail: None,
            width: None,
            height: None,
            seconds: None,
            source: None,
        }
    }
}
