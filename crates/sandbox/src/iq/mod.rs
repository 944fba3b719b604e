//! Answers to the IQs a logged-in client sends, by namespace. Every IQ gets an answer
//! at once: an unanswered one holds back the client's keepalive, and 20 s of silence
//! after a send makes it drop the socket.

mod appstate;
mod basic;
mod encrypt;
mod groups;
mod media_conn;
mod picture;
mod usync;

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent};

use crate::network::Network;
use crate::stanza::server_jid;

/// What an IQ handler may look at.
pub(crate) struct Context<'a> {
    pub(crate) network: &'a Network,
    /// The asking device, e.g. `15550001:1@s.whatsapp.net`.
    pub(crate) device: &'a Jid,
    pub(crate) media: &'a crate::media::MediaStore,
}

/// A request IQ (`type` get or set) with its attributes read once.
pub(crate) struct Request<'a> {
    pub(crate) id: String,
    pub(crate) xmlns: String,
    pub(crate) is_set: bool,
    pub(crate) node: &'a Node,
}

/// Why a request could not be served; becomes `<iq type="error"><error code text/></iq>`.
#[derive(Debug)]
pub(crate) struct IqError {
    pub(crate) code: u16,
    pub(crate) text: &'static str,
}

impl IqError {
    pub(crate) const BAD_REQUEST: Self = Self { code: 400, text: "bad-request" };
    pub(crate) const NOT_FOUND: Self = Self { code: 404, text: "item-not-found" };
    pub(crate) const NOT_IMPLEMENTED: Self = Self { code: 501, text: "feature-not-implemented" };
}

type Answer = Result<Vec<Node>, IqError>;

/// The nodes to send back for one IQ from the client: usually one result, sometimes
/// followed by more (e.g. the end of the offline queue after `<active/>`).
pub(crate) fn answer(context: &Context<'_>, iq: &Node) -> Vec<Node> {
    let mut attrs = iq.attrs();
    let (Some(id), kind) = (attrs.optional_string("id"), attrs.optional_string("type")) else {
        tracing::warn!("iq without id, ignored");
        return Vec::new();
    };
    if !matches!(kind.as_deref(), Some("get" | "set")) {
        // A response to something the server asked; nothing asks yet.
        return Vec::new();
    }
    let request = Request {
        id: id.into_owned(),
        xmlns: attrs.optional_string("xmlns").map(|s| s.into_owned()).unwrap_or_default(),
        is_set: kind.as_deref() == Some("set"),
        node: iq,
    };
    let answer = match request.xmlns.as_str() {
        "w:p" => basic::ping(&request),
        "passive" => basic::passive(&request),
        "abt" => basic::ab_props(&request),
        "blocklist" => basic::blocklist(&request),
        "privacy" => basic::privacy(&request),
        "md" => basic::md(context, &request),
        // Setters whose effect the sandbox does not model yet; an empty result is what
        // WhatsApp answers on success.
        "disappearing_mode" | "status" | "urn:xmpp:whatsapp:dirty" if request.is_set => Ok(vec![result(&request)]),
        "encrypt" => encrypt::answer(context, &request),
        "usync" => usync::answer(context, &request),
        "w:m" => media_conn::answer(context, &request),
        "w:sync:app:state" => appstate::answer(&request),
        "w:g2" => groups::answer(context, &request),
        "w:profile:picture" => picture::answer(context, &request),
        _ => Err(IqError::NOT_IMPLEMENTED),
    };
    answer.unwrap_or_else(|error| {
        if error.code == IqError::NOT_IMPLEMENTED.code {
            tracing::warn!(xmlns = %request.xmlns, iq = %wacore::xml::DisplayableNode(iq), "IQ not implemented");
        } else {
            tracing::debug!(xmlns = %request.xmlns, code = error.code, "IQ refused");
        }
        vec![error_reply(iq, error.code, error.text)]
    })
}

/// `<iq from="s.whatsapp.net" id type="result"/>`; handlers add children.
pub(crate) fn result(request: &Request<'_>) -> Node {
    result_builder(request).build()
}

pub(crate) fn result_with(request: &Request<'_>, children: impl IntoIterator<Item = Node>) -> Node {
    result_builder(request).children(children).build()
}

fn result_builder(request: &Request<'_>) -> NodeBuilder {
    NodeBuilder::new("iq").attr("from", server_jid()).attr("id", request.id.clone()).attr("type", "result")
}

/// `<iq type="error"><error code text/></iq>` answering `iq`.
pub(crate) fn error_reply(iq: &Node, code: u16, text: &str) -> Node {
    let id = iq.attrs().optional_string("id").map(|s| s.into_owned()).unwrap_or_default();
    let error = NodeBuilder::new("error").attr("code", code.to_string()).attr("text", text.to_owned()).build();
    NodeBuilder::new("iq").attr("from", server_jid()).attr("id", id).attr("type", "error").children([error]).build()
}

/// `"code text"` of an error IQ from the client, if it is one.
pub(crate) fn error_text(iq: &Node) -> Option<String> {
    let error = iq.get_optional_child("error")?;
    let mut attrs = error.attrs();
    let code = attrs.optional_string("code").unwrap_or_default();
    let text = attrs.optional_string("text").unwrap_or_default();
    Some(format!("{code} {text}").trim().to_owned())
}

/// The binary content of a child, e.g. `<identity>` of a prekey upload.
pub(crate) fn child_bytes<'a>(node: &'a Node, tag: &str) -> Option<&'a [u8]> {
    match &node.get_optional_child(tag)?.content {
        Some(NodeContent::Bytes(bytes)) => Some(bytes),
        _ => None,
    }
}

/// Reads a short big-endian integer, e.g. a 3-byte key id.
pub(crate) fn be_u32(bytes: &[u8]) -> Option<u32> {
    (bytes.len() <= 4).then(|| bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

pub(crate) fn bytes_node(tag: &'static str, bytes: impl Into<Vec<u8>>) -> Node {
    NodeBuilder::new(tag).bytes(bytes).build()
}
