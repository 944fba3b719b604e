//! What a simulated contact can send, as Rust types and as the admin API's JSON, and
//! the checks a message passes before the contact's client sees it: bad input is
//! refused whole, before anything is uploaded or sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use wacore::download::MediaType;

use crate::error::SandboxError;

/// A message a contact sends: its content, optionally quoting a message (`reply_to`,
/// the id of a message the contact received or sent) and mentioning users.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub content: Content,
    pub reply_to: Option<String>,
    /// Numbers (`+15550001`) or user JIDs.
    pub mentions: Vec<String>,
}

impl Outgoing {
    pub fn new(content: Content) -> Self {
        Self { content, reply_to: None, mentions: Vec::new() }
    }

    /// Quotes message `id` (one the contact received or sent).
    pub fn replying_to(mut self, id: &str) -> Self {
        self.reply_to = Some(id.to_owned());
        self
    }

    pub fn mentioning(mut self, users: &[&str]) -> Self {
        self.mentions = users.iter().map(|u| (*u).to_owned()).collect();
        self
    }
}

#[derive(Debug, Clone)]
pub enum Content {
    Text(String),
    /// Uploaded encrypted to the sandbox's media servers by the contact's client.
    Media(Media),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A shared contact card.
    Contact {
        display_name: String,
        vcard: String,
    },
    /// `selectable`: how many options a vote may pick, 1 to all of them.
    Poll {
        question: String,
        options: Vec<String>,
        selectable: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub(super) fn media_type(self) -> MediaType {
        match self {
            Self::Image => MediaType::Image,
            Self::Video => MediaType::Video,
            Self::Audio => MediaType::Audio,
            Self::Document => MediaType::Document,
            Self::Sticker => MediaType::Sticker,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }
}

/// A file to send, with what its kind may carry: a caption (image, video, document),
/// a file name (document), `ptt` (audio: a voice note), width and height (image,
/// video, sticker; a sticker's are read from its WebP header when not given).
#[derive(Debug, Clone)]
pub struct Media {
    pub kind: MediaKind,
    pub data: Vec<u8>,
    /// Defaults per kind: image/jpeg, video/mp4, audio/ogg; codecs=opus,
    /// application/octet-stream, image/webp.
    pub mimetype: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    pub ptt: bool,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Media {
    pub fn new(kind: MediaKind, data: Vec<u8>) -> Self {
        Self { kind, data, mimetype: None, caption: None, filename: None, ptt: false, width: None, height: None }
    }

    pub fn with_caption(mut self, caption: &str) -> Self {
        self.caption = Some(caption.to_owned());
        self
    }

    fn check(&self) -> Result<(), SandboxError> {
        let kind = self.kind.name();
        if self.data.is_empty() {
            return invalid(format!("{kind}.data is empty"));
        }
        if self.caption.is_some() && matches!(self.kind, MediaKind::Audio | MediaKind::Sticker) {
            return invalid(format!("a {kind} has no caption"));
        }
        if self.filename.is_some() && self.kind != MediaKind::Document {
            return invalid(format!("only a document has a filename, not a {kind}"));
        }
        if self.ptt && self.kind != MediaKind::Audio {
            return invalid(format!("only an audio can be ptt, not a {kind}"));
        }
        if (self.width.is_some() || self.height.is_some())
            && matches!(self.kind, MediaKind::Audio | MediaKind::Document)
        {
            return invalid(format!("a {kind} has no width or height"));
        }
        Ok(())
    }
}

fn invalid<T>(why: String) -> Result<T, SandboxError> {
    Err(SandboxError::InvalidMessage(why))
}

impl Outgoing {
    /// Refuses what no client would send: empty texts, impossible coordinates, a
    /// vCard that is not one, polls WhatsApp would not show.
    pub(super) fn check(&self) -> Result<(), SandboxError> {
        if self.reply_to.as_deref().is_some_and(|id| id.trim().is_empty()) {
            return invalid("`reply_to` names no message".to_owned());
        }
        match &self.content {
            Content::Text(text) if text.trim().is_empty() => invalid("`text` is empty".to_owned()),
            Content::Text(_) => Ok(()),
            Content::Media(media) => media.check(),
            Content::Location { latitude, longitude, .. } => {
                if !(-90.0..=90.0).contains(latitude) || !(-180.0..=180.0).contains(longitude) {
                    return invalid(format!("({latitude}, {longitude}) is not a place on Earth"));
                }
                Ok(())
            }
            Content::Contact { display_name, vcard } => {
                if display_name.trim().is_empty() {
                    return invalid("contact.name is empty".to_owned());
                }
                let card = vcard.trim();
                if !card.starts_with("BEGIN:VCARD") || !card.ends_with("END:VCARD") {
                    return invalid("contact.vcard is not a vCard (BEGIN:VCARD … END:VCARD)".to_owned());
                }
                Ok(())
            }
            Content::Poll { question, options, selectable } => {
                if question.trim().is_empty() {
                    return invalid("poll.question is empty".to_owned());
                }
                if !(2..=12).contains(&options.len()) {
                    return invalid(format!("a poll has 2 to 12 options, not {}", options.len()));
                }
                if options.iter().any(|o| o.trim().is_empty()) {
                    return invalid("a poll option is empty".to_owned());
                }
                if options.iter().collect::<std::collections::HashSet<_>>().len() != options.len() {
                    return invalid("a poll option is named twice".to_owned());
                }
                if *selectable == 0 || *selectable as usize > options.len() {
                    return invalid(format!("poll.selectable must be 1 to {}, not {selectable}", options.len()));
                }
                Ok(())
            }
        }
    }
}

/// `POST /sandbox/contacts/{phone}/messages`: `to` and exactly one content field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SendBody {
    pub(super) to: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image: Option<MediaBody>,
    #[serde(default)]
    video: Option<MediaBody>,
    #[serde(default)]
    audio: Option<MediaBody>,
    #[serde(default)]
    document: Option<MediaBody>,
    #[serde(default)]
    sticker: Option<MediaBody>,
    #[serde(default)]
    location: Option<LocationBody>,
    #[serde(default)]
    contact: Option<ContactBody>,
    #[serde(default)]
    poll: Option<PollBody>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    mentions: Vec<String>,
}

/// `{"data": "<base64>", "caption", "mimetype", "filename", "ptt", "width", "height"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaBody {
    data: String,
    #[serde(default)]
    mimetype: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    ptt: bool,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    name: String,
    vcard: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PollBody {
    question: String,
    options: Vec<String>,
    #[serde(default = "one")]
    selectable: u32,
}

fn one() -> u32 {
    1
}

impl SendBody {
    /// The message the body describes, checked.
    pub(super) fn decode(self) -> Result<Outgoing, SandboxError> {
        let media = [
            (MediaKind::Image, self.image),
            (MediaKind::Video, self.video),
            (MediaKind::Audio, self.audio),
            (MediaKind::Document, self.document),
            (MediaKind::Sticker, self.sticker),
        ];
        let mut contents: Vec<Content> = media
            .into_iter()
            .filter_map(|(kind, body)| body.map(|body| body.decode(kind).map(Content::Media)))
            .collect::<Result<_, _>>()?;
        contents.extend(self.text.map(Content::Text));
        contents.extend(self.location.map(|l| Content::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: l.name,
            address: l.address,
        }));
        contents.extend(self.contact.map(|c| Content::Contact { display_name: c.name, vcard: c.vcard }));
        contents.extend(self.poll.map(|p| Content::Poll {
            question: p.question,
            options: p.options,
            selectable: p.selectable,
        }));
        let Some(content) = contents.pop().filter(|_| contents.is_empty()) else {
            return invalid(
                "give exactly one of text, image, video, audio, document, sticker, location, contact, poll".to_owned(),
            );
        };
        let outgoing = Outgoing { content, reply_to: self.reply_to, mentions: self.mentions };
        outgoing.check()?;
        Ok(outgoing)
    }
}

impl MediaBody {
    fn decode(self, kind: MediaKind) -> Result<Media, SandboxError> {
        let data = STANDARD
            .decode(self.data.trim())
            .map_err(|e| SandboxError::InvalidMessage(format!("{}.data is not base64: {e}", kind.name())))?;
        Ok(Media {
            kind,
            data,
            mimetype: self.mimetype,
            caption: self.caption,
            filename: self.filename,
            ptt: self.ptt,
            width: self.width,
            height: self.height,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(body: serde_json::Value) -> Result<Outgoing, SandboxError> {
        serde_json::from_value::<SendBody>(body).expect("the body parses").decode()
    }

    #[test]
    fn a_body_names_exactly_one_valid_content() {
        let text = decode(json!({"to": "+15550001", "text": "hi", "reply_to": "M1", "mentions": ["+15550003"]}));
        let text = text.unwrap();
        assert!(matches!(&text.content, Content::Text(t) if t == "hi"));
        assert_eq!((text.reply_to.as_deref(), text.mentions.len()), (Some("M1"), 1));
        let document = decode(json!({"to": "x", "document": {"data": "aGk=", "filename": "a.pdf"}})).unwrap();
        let Content::Media(media) = document.content else { panic!("a document is media") };
        assert_eq!(
            (media.kind, media.data.as_slice(), media.filename.as_deref()),
            (MediaKind::Document, &b"hi"[..], Some("a.pdf"))
        );
        assert!(decode(json!({"to": "x", "poll": {"question": "Q?", "options": ["A", "B"]}})).is_ok());

        for bad in [
            json!({"to": "x"}),
            json!({"to": "x", "text": "hi", "location": {"latitude": 1.0, "longitude": 2.0}}),
            json!({"to": "x", "text": "  "}),
            json!({"to": "x", "text": "hi", "reply_to": ""}),
            json!({"to": "x", "image": {"data": "%%"}}),
            json!({"to": "x", "image": {"data": ""}}),
            json!({"to": "x", "image": {"data": "aGk=", "filename": "a.jpg"}}),
            json!({"to": "x", "audio": {"data": "aGk=", "caption": "no"}}),
            json!({"to": "x", "video": {"data": "aGk=", "ptt": true}}),
            json!({"to": "x", "location": {"latitude": 91.0, "longitude": 0.0}}),
            json!({"to": "x", "contact": {"name": "Carol", "vcard": "Carol, +15550003"}}),
            json!({"to": "x", "poll": {"question": "Q?", "options": ["A"]}}),
            json!({"to": "x", "poll": {"question": "Q?", "options": ["A", "A"]}}),
            json!({"to": "x", "poll": {"question": "Q?", "options": ["A", "B"], "selectable": 3}}),
            json!({"to": "x", "poll": {"question": "Q?", "options": ["A", "B"], "selectable": 0}}),
        ] {
            assert!(matches!(decode(bad.clone()), Err(SandboxError::InvalidMessage(_))), "{bad}");
        }
    }
}
