//! `encrypt`: Signal prekeys. Devices upload theirs; peers fetch bundles to start
//! sessions; a device checks what the server holds for it with a digest.

use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use super::{Answer, Context, IqError, Request, be_u32, bytes_node, child_bytes, result, result_with};
use crate::network::{KeyBundle, KeyUpload, PreKey, SignedPreKey};

/// The Curve25519 key type byte of every `<type>` element.
const KEY_TYPE_DJB: u8 = 5;

pub(super) fn answer(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let node = request.node;
    if request.is_set {
        if node.get_optional_child("registration").is_some() {
            return upload(context, request);
        }
        if let Some(rotate) = node.get_optional_child("rotate") {
            let skey = rotate.get_optional_child("skey").and_then(signed_prekey).ok_or(IqError::BAD_REQUEST)?;
            if !context.network.rotate_signed_prekey(context.device, skey) {
                return Err(IqError::NOT_FOUND);
            }
            return Ok(vec![result(request)]);
        }
    } else {
        if node.get_optional_child("count").is_some() {
            let count = context.network.published_keys(context.device).map_or(0, |k| k.one_time_prekeys.len());
            let count = NodeBuilder::new("count").attr("value", count.to_string()).build();
            return Ok(vec![result_with(request, [count])]);
        }
        if node.get_optional_child("digest").is_some() {
            return digest(context, request);
        }
        if let Some(key) = node.get_optional_child("key") {
            return bundles(context, request, key);
        }
    }
    Err(IqError::NOT_IMPLEMENTED)
}

fn upload(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let node = request.node;
    let prekeys = node
        .get_optional_child("list")
        .map(|list| list.get_children_by_tag("key").filter_map(prekey).collect())
        .unwrap_or_default();
    let upload = KeyUpload {
        registration_id: child_bytes(node, "registration")
            .filter(|b| b.len() == 4)
            .and_then(be_u32)
            .ok_or(IqError::BAD_REQUEST)?,
        identity: child_bytes(node, "identity").and_then(|b| b.try_into().ok()).ok_or(IqError::BAD_REQUEST)?,
        prekeys,
        signed_prekey: node.get_optional_child("skey").and_then(signed_prekey).ok_or(IqError::BAD_REQUEST)?,
    };
    if !context.network.upload_prekeys(context.device, upload) {
        return Err(IqError::NOT_FOUND);
    }
    Ok(vec![result(request)])
}

/// What the server holds for the asking device, with the SHA-1 the client recomputes.
fn digest(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let Some(keys) = context.network.published_keys(context.device) else {
        // 404 would make the client re-upload forever; an empty result is "skip".
        return Ok(vec![result(request)]);
    };
    let publics: Vec<&[u8]> = keys.one_time_prekeys.iter().map(|k| &k.public[..]).collect();
    let hash = wacore::prekeys::compute_key_bundle_digest(
        &keys.identity,
        &keys.signed_prekey.public,
        &keys.signed_prekey.signature,
        &publics,
    );
    let ids = keys.one_time_prekeys.iter().map(|k| bytes_node("id", key_id(k.id)));
    let digest = NodeBuilder::new("digest")
        .children([
            bytes_node("registration", keys.registration_id.to_be_bytes()),
            bytes_node("type", [KEY_TYPE_DJB]),
            bytes_node("identity", keys.identity),
            signed_prekey_node(&keys.signed_prekey),
            NodeBuilder::new("list").children(ids).build(),
            bytes_node("hash", hash),
        ])
        .build();
    Ok(vec![result_with(request, [digest])])
}

/// Key bundles for the requested devices; each answer uses up one one-time prekey.
fn bundles(context: &Context<'_>, request: &Request<'_>, key: &Node) -> Answer {
    let users = key.get_children_by_tag("user").map(|user| {
        // Echo the JID exactly as asked: the client looks bundles up by it.
        let asked = user.attrs.get("jid").cloned();
        let bundle = user.attrs().optional_jid("jid").and_then(|jid| context.network.take_bundle(&jid));
        let builder = NodeBuilder::new("user");
        let builder = match asked {
            Some(jid) => builder.attr("jid", jid),
            None => builder,
        };
        match bundle {
            Some(bundle) => builder.children(bundle_children(bundle)).build(),
            None => builder.children([error_node(404, "item-not-found")]).build(),
        }
    });
    let list = NodeBuilder::new("list").children(users.collect::<Vec<_>>()).build();
    Ok(vec![result_with(request, [list])])
}

fn bundle_children(bundle: KeyBundle) -> Vec<Node> {
    let mut children = vec![
        bytes_node("registration", bundle.registration_id.to_be_bytes()),
        bytes_node("type", [KEY_TYPE_DJB]),
        bytes_node("identity", bundle.identity),
        signed_prekey_node(&bundle.signed_prekey),
    ];
    if let Some(prekey) = bundle.prekey {
        children.push(
            NodeBuilder::new("key")
                .children([bytes_node("id", key_id(prekey.id)), bytes_node("value", prekey.public)])
                .build(),
        );
    }
    if let Some(identity) = bundle.device_identity {
        children.push(bytes_node("device-identity", identity));
    }
    children
}

fn signed_prekey_node(skey: &SignedPreKey) -> Node {
    NodeBuilder::new("skey")
        .children([
            bytes_node("id", key_id(skey.id)),
            bytes_node("value", skey.public),
            bytes_node("signature", skey.signature.clone()),
        ])
        .build()
}

fn error_node(code: u16, text: &'static str) -> Node {
    NodeBuilder::new("error").attr("code", code.to_string()).attr("text", text).build()
}

/// Key ids travel as 3 big-endian bytes.
fn key_id(id: u32) -> [u8; 3] {
    let [_, a, b, c] = id.to_be_bytes();
    [a, b, c]
}

fn prekey(node: &Node) -> Option<PreKey> {
    Some(PreKey { id: child_bytes(node, "id").and_then(be_u32)?, public: child_bytes(node, "value")?.try_into().ok()? })
}

fn signed_prekey(node: &Node) -> Option<SignedPreKey> {
    Some(SignedPreKey {
        id: child_bytes(node, "id").and_then(be_u32)?,
        public: child_bytes(node, "value")?.try_into().ok()?,
        signature: child_bytes(node, "signature").filter(|s| s.len() == 64)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_three_big_endian_bytes() {
        assert_eq!(key_id(0x01_02_03), [1, 2, 3]);
        assert_eq!(be_u32(&key_id(16_777_215)), Some(16_777_215));
    }
}
