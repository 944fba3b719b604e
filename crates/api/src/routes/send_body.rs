//! The body of `POST /messages`, JSON or multipart, parsed into a [`SendRequest`]:
//! exactly one content, every field problem reported at once.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use wagate_core::Gateway;
use wagate_core::content::{MAX_TEXT, NewContent, POLL_OPTIONS, looks_like_vcard, vcard};
use wagate_core::media::{MediaKind, MediaSource};
use wagate_core::media_send::NewMedia;
use wagate_core::messages::SendRequest;
use wagate_types::{ChatId, MessageId, PhoneNumber, Priority, Recipient, SessionName};

use crate::error::{ApiError, ApiResult, FieldError};

/// A message to send: `to` plus exactly one content (`text`, `image`, `video`, `audio`,
/// `document`, `sticker`, `location`, `contact`, `poll` or `reaction`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The sending session; `default` when left out.
    #[schema(example = "default")]
    pub session: Option<String>,
    /// A phone number in any common form (`+961 1 234 567`, `00961…`, or national with
    /// the configured default country) or a JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`).
    #[schema(example = "+961 1 234 567")]
    pub to: String,
    /// A text message.
    #[schema(example = "Your order #42 has shipped.")]
    pub text: Option<String>,
    /// A picture (JPEG, PNG, WebP, GIF; re-encoded to JPEG).
    pub image: Option<CaptionedMedia>,
    /// A video (MP4).
    pub video: Option<CaptionedMedia>,
    pub audio: Option<AudioBody>,
    pub document: Option<DocumentBody>,
    /// A sticker (WebP, or a picture made into one).
    pub sticker: Option<StickerBody>,
    pub location: Option<LocationBody>,
    pub contact: Option<ContactBody>,
    pub poll: Option<PollBody>,
    pub reaction: Option<ReactionBody>,
    /// The id of a stored message in the same chat to quote.
    pub reply_to: Option<String>,
    /// People named with `@` in the text or caption: phone numbers or JIDs.
    pub mentions: Option<Vec<String>>,
    /// Queue order within the session: `high` goes before `normal` before `low`.
    pub priority: Option<Priority>,
    /// Send no earlier than this time (RFC 3339). The message is `scheduled` until then.
    pub send_at: Option<String>,
    /// Show "typing…" (for a voice note "recording audio…") in the chat for this long,
    /// 0–20 000 ms, right before the message goes out, as a person would.
    #[schema(example = 2500)]
    pub typing_ms: Option<u32>,
}

impl SendMessage {
    /// A send to `to` with nothing in it yet.
    pub fn to(to: String) -> Self {
        Self {
            session: None,
            to,
            text: None,
            image: None,
            video: None,
            audio: None,
            document: None,
            sticker: None,
            location: None,
            contact: None,
            poll: None,
            reaction: None,
            reply_to: None,
            mentions: None,
            priority: None,
            send_at: None,
            typing_ms: None,
        }
    }

    /// A status post's content as a message to `status@broadcast`: text, image or video.
    pub fn status(
        session: Option<String>,
        text: Option<String>,
        image: Option<CaptionedMedia>,
        video: Option<CaptionedMedia>,
    ) -> Self {
        Self { session, text, image, video, ..Self::to(wagate_core::status::StatusPost::CHAT.to_owned()) }
    }
}

/// A file given by `url` (fetched by the server) or `data` (base64, a `data:` URL allowed).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionedMedia {
    #[schema(example = "https://example.com/photo.jpg")]
    pub url: Option<String>,
    pub data: Option<String>,
    pub caption: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioBody {
    pub url: Option<String>,
    pub data: Option<String>,
    /// Send as a voice note (OGG/Opus plays best).
    #[serde(default)]
    pub ptt: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    pub url: Option<String>,
    pub data: Option<String>,
    /// The name the recipient sees; the file's own name when left out.
    #[schema(example = "invoice-42.pdf")]
    pub filename: Option<String>,
    /// The type the recipient's phone opens it as; detected when left out.
    #[schema(example = "application/pdf")]
    pub mimetype: Option<String>,
    pub caption: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StickerBody {
    pub url: Option<String>,
    pub data: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    /// −90 to 90.
    #[schema(example = 33.8938)]
    pub latitude: f64,
    /// −180 to 180.
    #[schema(example = 35.5018)]
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A contact card: `name` and `phone` (a vCard is built), or a complete `vcard`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    #[schema(example = "Ann Lee")]
    pub name: Option<String>,
    #[schema(example = "+4915123456789")]
    pub phone: Option<String>,
    pub vcard: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollBody {
    #[schema(example = "Lunch?")]
    pub question: String,
    /// 2 to 12 different, non-empty options.
    #[schema(example = json!(["Pizza", "Sushi"]))]
    pub options: Vec<String>,
    /// How many options a voter may pick, 1 (the default) up to the number of options.
    pub selectable: Option<u32>,
}

/// An emoji on a stored message of the same session and chat; `""` takes it back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionBody {
    pub message_id: String,
    #[schema(example = "👍")]
    pub emoji: String,
}

/// Collects field problems so a client hears about all of them at once.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_owned(), message: message.into() });
    }

    pub fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::invalid_fields(self.0)) }
    }
}

/// Where a file comes from, by `url` or `data` (exactly one).
fn source(field: &str, url: Option<String>, data: Option<String>, problems: &mut Problems) -> Option<MediaSource> {
    match (url, data) {
        (Some(url), None) => Some(MediaSource::Url(url)),
        (None, Some(data)) => Some(MediaSource::Base64(data)),
        (None, None) => {
            problems.add(field, "needs `url` or `data`");
            None
        }
        (Some(_), Some(_)) => {
            problems.add(field, "takes `url` or `data`, not both");
            None
        }
    }
}

fn check_text(field: &str, text: &Option<String>, problems: &mut Problems) {
    if let Some(text) = text
        && text.chars().count() > MAX_TEXT
    {
        problems.add(field, format!("must be at most {MAX_TEXT} characters"));
    }
}

fn media(kind: MediaKind, source: Option<MediaSource>) -> Option<NewMedia> {
    Some(NewMedia { kind, source: source?, caption: None, ptt: false, filename: None, mimetype: None })
}

/// The one content of the body (or the uploaded file), checked.
fn content(
    body: &mut SendMessage,
    upload: Option<NewMedia>,
    gw: &Gateway,
    problems: &mut Problems,
) -> Option<NewContent> {
    let mut contents = Vec::new();
    if let Some(upload) = upload {
        check_text("caption", &upload.caption, problems);
        contents.push(("file", Some(NewContent::Media(upload))));
    }
    if let Some(text) = body.text.take() {
        if text.trim().is_empty() {
            problems.add("text", "must not be empty");
        }
        check_text("text", &Some(text.clone()), problems);
        contents.push(("text", Some(NewContent::Text(text))));
    }
    for (field, kind, given) in
        [("image", MediaKind::Image, body.image.take()), ("video", MediaKind::Video, body.video.take())]
    {
        if let Some(m) = given {
            check_text(&format!("{field}.caption"), &m.caption, problems);
            let new = media(kind, source(field, m.url, m.data, problems)).map(|n| NewMedia { caption: m.caption, ..n });
            contents.push((field, new.map(NewContent::Media)));
        }
    }
    if let Some(a) = body.audio.take() {
        let new =
            media(MediaKind::Audio, source("audio", a.url, a.data, problems)).map(|n| NewMedia { ptt: a.ptt, ..n });
        contents.push(("audio", new.map(NewContent::Media)));
    }
    if let Some(d) = body.document.take() {
        check_text("document.caption", &d.caption, problems);
        let new = media(MediaKind::Document, source("document", d.url, d.data, problems)).map(|n| NewMedia {
            caption: d.caption,
            filename: d.filename,
            mimetype: d.mimetype,
            ..n
        });
        contents.push(("document", new.map(NewContent::Media)));
    }
    if let Some(s) = body.sticker.take() {
        contents.push((
            "sticker",
            media(MediaKind::Sticker, source("sticker", s.url, s.data, problems)).map(NewContent::Media),
        ));
    }
    if let Some(l) = body.location.take() {
        if !(-90.0..=90.0).contains(&l.latitude) {
            problems.add("location.latitude", "must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&l.longitude) {
            problems.add("location.longitude", "must be between -180 and 180");
        }
        let new =
            NewContent::Location { latitude: l.latitude, longitude: l.longitude, name: l.name, address: l.address };
        contents.push(("location", Some(new)));
    }
    if let Some(c) = body.contact.take() {
        contents.push(("contact", contact(c, gw, problems)));
    }
    if let Some(p) = body.poll.take() {
        contents.push(("poll", poll(p, problems)));
    }
    if let Some(r) = body.reaction.take() {
        let id = MessageId::parse(&r.message_id).ok();
        if id.is_none() {
            problems.add("reaction.message_id", "is not a message id");
        }
        contents.push(("reaction", id.map(|message_id| NewContent::Reaction { message_id, emoji: r.emoji })));
    }
    match contents.len() {
        0 => problems.add("text", "the message needs one content: text, image, video, audio, document, sticker, location, contact, poll or reaction"),
        1 => {}
        _ => {
            let names: Vec<&str> = contents.iter().map(|(n, _)| *n).collect();
            problems.add(names[1], format!("a message carries one content, this one has {}", names.join(", ")));
        }
    }
    if contents.len() == 1 { contents.pop().and_then(|(_, c)| c) } else { None }
}

fn contact(c: ContactBody, gw: &Gateway, problems: &mut Problems) -> Option<NewContent> {
    match (c.name, c.phone, c.vcard) {
        (name, None, Some(card)) => {
            if !looks_like_vcard(&card) {
                problems.add("contact.vcard", "is not a vCard (BEGIN:VCARD … VERSION … END:VCARD)");
                return None;
            }
            let name = name.or_else(|| vcard_name(&card)).unwrap_or_default();
            Some(NewContent::Contact { name, vcard: card })
        }
        (Some(name), Some(phone), None) if !name.trim().is_empty() => {
            match PhoneNumber::parse(&phone, gw.config.default_country) {
                Ok(phone) => {
                    Some(NewContent::Contact { vcard: vcard(name.trim(), &phone), name: name.trim().to_owned() })
                }
                Err(e) => {
                    problems.add("contact.phone", e.to_string());
                    None
                }
            }
        }
        _ => {
            problems.add("contact", "needs `name` and `phone`, or `vcard`");
            None
        }
    }
}

/// The `FN` (display name) line of a vCard.
fn vcard_name(card: &str) -> Option<String> {
    card.lines()
        .find_map(|l| {
            l.strip_prefix("FN:").or_else(|| l.strip_prefix("FN;").and_then(|r| r.split_once(':').map(|(_, v)| v)))
        })
        .map(|n| n.trim().to_owned())
}

fn poll(p: PollBody, problems: &mut Problems) -> Option<NewContent> {
    let start = problems.0.len();
    if p.question.trim().is_empty() {
        problems.add("poll.question", "must not be empty");
    }
    let options: Vec<String> = p.options.iter().map(|o| o.trim().to_owned()).collect();
    if !POLL_OPTIONS.contains(&options.len()) {
        problems.add("poll.options", format!("needs {} to {} options", POLL_OPTIONS.start(), POLL_OPTIONS.end()));
    }
    if options.iter().any(String::is_empty) {
        problems.add("poll.options", "options must not be empty");
    }
    let mut unique = options.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != options.len() {
        problems.add("poll.options", "options must be different from each other");
    }
    let selectable = p.selectable.unwrap_or(1);
    if selectable == 0 || selectable as usize > options.len() {
        problems.add("poll.selectable", "must be between 1 and the number of options");
    }
    (problems.0.len() == start).then(|| NewContent::Poll {
        question: p.question.trim().to_owned(),
        options,
        selectable,
    })
}

/// Checks the whole body; every problem is reported.
pub fn parse_send(gw: &Gateway, mut body: SendMessage, upload: Option<NewMedia>) -> ApiResult<SendRequest> {
    let mut problems = Problems::default();
    let session = SessionName::parse(body.session.as_deref().unwrap_or("default"))
        .map_err(|e| problems.add("session", e.to_string()))
        .ok();
    let to = Recipient::parse(&body.to, gw.config.default_country).map_err(|e| problems.add("to", e.to_string())).ok();
    let content = content(&mut body, upload, gw, &mut problems);
    let reply_to = body
        .reply_to
        .as_deref()
        .and_then(|id| MessageId::parse(id).map_err(|_| problems.add("reply_to", "is not a message id")).ok());
    let mut mentions = Vec::new();
    for (i, m) in body.mentions.iter().flatten().enumerate() {
        match Recipient::parse(m, gw.config.default_country) {
            Ok(r) => mentions.push(r.chat),
            Err(e) => problems.add(&format!("mentions[{i}]"), e.to_string()),
        }
    }
    let send_at = body.send_at.as_deref().and_then(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| problems.add("send_at", "must be an RFC 3339 time like 2030-01-31T09:00:00Z"))
            .ok()
    });
    let typing_ms = body.typing_ms.unwrap_or(0);
    if typing_ms > SendRequest::MAX_TYPING_MS {
        problems.add("typing_ms", format!("must be at most {} ms", SendRequest::MAX_TYPING_MS));
    }
    problems.into_result()?;
    let (Some(session), Some(to), Some(content)) = (session, to, content) else {
        return Err(ApiError::invalid_field("body", "the request is incomplete"));
    };
    Ok(SendRequest {
        session,
        to,
        content,
        reply_to,
        mentions: dedup(mentions),
        priority: body.priority.unwrap_or(Priority::Normal),
        send_at,
        typing_ms,
        idempotency: None,
        status: None,
    })
}

fn dedup(mut chats: Vec<ChatId>) -> Vec<ChatId> {
    let mut seen = std::collections::HashSet::new();
    chats.retain(|c| seen.insert(c.clone()));
    chats
}
