//! `w:sync:app:state`: app-state collections. The sandbox keeps none, so every
//! requested collection comes back empty, which the client counts as synced. The
//! answer must name each requested collection: an omitted one keeps a freshly paired
//! client from ever reaching `Connected`.

use wacore_binary::builder::NodeBuilder;

use super::{Answer, IqError, Request, result, result_with};

pub(super) fn answer(request: &Request<'_>) -> Answer {
    let sync = request.node.get_optional_child("sync").ok_or(IqError::BAD_REQUEST)?;
    let collections: Vec<_> = sync.get_children_by_tag("collection").collect();
    // A collection carrying patches is the client sending changes: accept them.
    if collections.iter().any(|c| c.get_optional_child("patch").is_some()) {
        return Ok(vec![result(request)]);
    }
    let empty = collections.iter().filter_map(|c| {
        let name = c.attrs().optional_string("name")?.into_owned();
        Some(NodeBuilder::new("collection").attr("name", name).build())
    });
    let reply = NodeBuilder::new("sync").children(empty.collect::<Vec<_>>()).build();
    Ok(vec![result_with(request, [reply])])
}

#[cfg(test)]
mod tests {
    use wacore_binary::Node;
    use wacore_binary::builder::NodeBuilder;

    use super::*;

    fn request(collections: Vec<Node>) -> Node {
        let sync = NodeBuilder::new("sync").children(collections).build();
        NodeBuilder::new("iq")
            .attr("id", "1")
            .attr("xmlns", "w:sync:app:state")
            .attr("type", "set")
            .children([sync])
            .build()
    }

    fn names(reply: &Node) -> Vec<String> {
        reply
            .get_optional_child_by_tag(&["sync"])
            .map(|s| {
                s.get_children_by_tag("collection")
                    .filter_map(|c| c.attrs().optional_string("name"))
                    .map(Into::into)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_requested_collection_comes_back_empty() {
        let asked = ["critical_block", "critical_unblock_low"]
            .map(|name| NodeBuilder::new("collection").attr("name", name).attr("return_snapshot", "true").build());
        let iq = request(asked.to_vec());
        let reply =
            answer(&Request { id: "1".into(), xmlns: "w:sync:app:state".into(), is_set: true, node: &iq }).unwrap();
        assert_eq!(names(&reply[0]), ["critical_block", "critical_unblock_low"]);
        let collection = reply[0].get_optional_child_by_tag(&["sync", "collection"]).unwrap();
        assert!(collection.children().is_none(), "no snapshot, no patches");
    }

    #[test]
    fn patches_are_accepted_with_an_empty_result() {
        let patch = NodeBuilder::new("patch").bytes(vec![1, 2, 3]).build();
        let iq = request(vec![NodeBuilder::new("collection").attr("name", "regular").children([patch]).build()]);
        let reply =
            answer(&Request { id: "1".into(), xmlns: "w:sync:app:state".into(), is_set: true, node: &iq }).unwrap();
        assert!(reply[0].get_optional_child("sync").is_none());
    }
}
