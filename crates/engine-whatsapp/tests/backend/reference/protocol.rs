//! Sender-key devices, LID mappings, base keys, device lists, group metadata.

use wacore::store::traits::{Backend, DeviceInfo, DeviceListRecord, LidPnMappingEntry};

use crate::transcript::{Transcript, sorted, step};

fn mapping(lid: &str, phone: &str, at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.to_owned(),
        phone_number: phone.to_owned(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".to_owned(),
    }
}

fn devices(user: &str, ids: &[u32], timestamp: i64) -> DeviceListRecord {
    DeviceListRecord {
        user: user.to_owned(),
        devices: ids.iter().map(|&id| DeviceInfo::new(id, Some(id + 10)).with_hosting(id == 99)).collect(),
        timestamp,
        phash: Some(format!("2:{timestamp}")),
        raw_id: Some(7),
    }
}

pub(super) async fn protocol(b: &dyn Backend, t: &mut Transcript) {
    let (g1, g2, tricky) = ("120363001@g.us", "120363002@g.us", "a|b");
    let (d1, d2) = ("15550000001:1@s.whatsapp.net", "100000012345678:2@lid");
    t.record("devices g1", sorted(b.get_sender_key_devices(g1).await.unwrap()));
    step!(t, b.set_sender_key_status(g1, &[(d1, true), (d2, false)]));
    step!(t, b.set_sender_key_status(g2, &[(d1, true)]));
    step!(t, b.set_sender_key_status("a", &[("b|c", true)]));
    step!(t, b.set_sender_key_status(tricky, &[("c", false)]));
    t.record("devices g1", sorted(b.get_sender_key_devices(g1).await.unwrap()));
    t.record("devices a", sorted(b.get_sender_key_devices("a").await.unwrap()));
    t.record("devices a|b", sorted(b.get_sender_key_devices(tricky).await.unwrap()));
    step!(t, b.set_sender_key_status(g1, &[(d2, true)]));
    t.record("devices g1", sorted(b.get_sender_key_devices(g1).await.unwrap()));
    step!(t, b.delete_sender_key_device_rows(&[d1, "b|c"]));
    step!(t, b.delete_sender_key_device_rows(&[]));
    t.record("devices g1", sorted(b.get_sender_key_devices(g1).await.unwrap()));
    t.record("devices g2", sorted(b.get_sender_key_devices(g2).await.unwrap()));
    t.record("devices a", sorted(b.get_sender_key_devices("a").await.unwrap()));
    step!(t, b.clear_sender_key_devices(g1));
    t.record("devices g1", sorted(b.get_sender_key_devices(g1).await.unwrap()));
    t.record("devices a|b", sorted(b.get_sender_key_devices(tricky).await.unwrap()));
    step!(t, b.clear_all_sender_key_devices());
    t.record("devices a|b", sorted(b.get_sender_key_devices(tricky).await.unwrap()));

    step!(t, b.get_lid_mapping("100000012345678"));
    step!(t, b.get_pn_mapping("15550000001"));
    step!(t, b.put_lid_mapping(&mapping("100000012345678", "15550000001", 1)));
    step!(t, b.get_lid_mapping("100000012345678"));
    step!(t, b.get_pn_mapping("15550000001"));
    step!(
        t,
        b.put_lid_mappings(&[
            mapping("100000087654321", "15550000002", 2),
            mapping("100000012345678", "15550000003", 3)
        ])
    );
    step!(t, b.get_pn_mapping("15550000001"));
    step!(t, b.get_pn_mapping("15550000003"));
    step!(t, b.get_pn_mapping("15550000002"));
    step!(t, b.put_lid_mappings(&[]));
    step!(
        t,
        b.put_lid_mapping(&LidPnMappingEntry {
            learning_source: "peer_pn_message".into(),
            ..mapping("100000087654321", "15550000002", 4)
        })
    );
    step!(t, b.get_pn_mapping("15550000002"));
    t.record("all mappings", sorted(b.get_all_lid_mappings().await.unwrap()));

    step!(t, b.has_same_base_key(d1, "3EB0AA", b"base"));
    step!(t, b.save_base_key(d1, "3EB0AA", b"base"));
    step!(t, b.has_same_base_key(d1, "3EB0AA", b"base"));
    step!(t, b.has_same_base_key(d1, "3EB0AA", b"other"));
    step!(t, b.has_same_base_key(d1, "3EB0AB", b"base"));
    step!(t, b.delete_base_key(d1, "3EB0AA"));
    step!(t, b.has_same_base_key(d1, "3EB0AA", b"base"));

    step!(t, b.get_devices("15550000001"));
    step!(t, b.update_device_list(devices("15550000001", &[0, 1], 100)));
    step!(
        t,
        b.update_device_lists(vec![devices("15550000002", &[0, 99], 101), devices("15550000001", &[0, 1, 2], 102)])
    );
    step!(t, b.update_device_lists(vec![]));
    step!(t, b.get_devices("15550000001"));
    step!(t, b.get_devices("15550000002"));
    step!(t, b.delete_devices("15550000001"));
    step!(t, b.get_devices("15550000001"));

    step!(t, b.get_group_metadata(g1));
    step!(t, b.put_group_metadata(g1, b"v1"));
    step!(t, b.put_group_metadata(g1, b"v2"));
    step!(t, b.get_group_metadata(g1));
    step!(t, b.delete_group_metadata(g1));
    step!(t, b.get_group_metadata(g1));
}
