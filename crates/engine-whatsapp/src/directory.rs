//! Live questions to WhatsApp: who has an account, profile pictures, and groups.
//! Each takes the connected client; the session checks the connection first.

use std::collections::HashMap;

use time::OffsetDateTime;
use wacore_binary::jid::JidExt as _;
use wagate_engine::{EngineError, Group, GroupChange, NumberCheck, Participant, ParticipantOutcome};
use wagate_types::{ChatId, PhoneNumber};
use whatsapp_rust::features::MexError;
use whatsapp_rust::{
    Client, ContactError, GroupCreateOptions, GroupDescription, GroupError, GroupMetadata, GroupParticipantOptions,
    GroupSubject, Jid, PreviousDescription,
};

use crate::failure::classify;

/// The people of a status's audience who have an account. Looking them up also
/// teaches the client their LIDs, which statuses are addressed by.
pub(crate) async fn status_audience(client: &Client, audience: Vec<Jid>) -> Result<Vec<Jid>, String> {
    let found = client.contacts().is_on_whatsapp(&audience).await.map_err(|e| e.to_string())?;
    Ok(audience.into_iter().filter(|jid| found.iter().any(|f| f.is_registered && f.jid.user == jid.user)).collect())
}

/// Which of `phones` have an account; in the order asked.
pub(crate) async fn check_numbers(client: &Client, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
    let jids: Vec<Jid> = phones.iter().map(|p| Jid::pn(p.digits())).collect();
    let found = client.contacts().is_on_whatsapp(&jids).await.map_err(contact_error)?;
    // Answers name the number by its phone-number JID (or carry it as `pn_jid`).
    let mut registered: HashMap<String, Jid> = HashMap::new();
    for answer in found.into_iter().filter(|a| a.is_registered) {
        let pn = answer.pn_jid.clone().filter(Jid::is_pn).unwrap_or_else(|| answer.jid.clone());
        registered.insert(pn.user.to_string(), pn.to_non_ad());
    }
    Ok(phones
        .iter()
        .map(|phone| {
            let jid = registered.get(phone.digits());
            NumberCheck {
                phone: phone.clone(),
                on_whatsapp: jid.is_some(),
                chat: jid.map(|j| ChatId::from_stored(j.to_string())),
            }
        })
        .collect())
}

pub(crate) async fn profile_picture(client: &Client, chat: &ChatId) -> Result<Option<String>, EngineError> {
    let jid = jid_of(chat)?;
    let picture = client.contacts().get_profile_picture(&jid, false).await.map_err(contact_error);
    match picture {
        Ok(picture) => Ok(picture.map(|p| p.url)),
        // Someone who hides their picture from us, or has none, is not an error.
        Err(EngineError::Refused { code: 401 | 403 | 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) async fn groups(client: &Client) -> Result<Vec<Group>, EngineError> {
    let found = client.groups().get_participating().await.map_err(group_error)?;
    let mut groups: Vec<Group> = found.into_values().map(group_of).collect();
    groups.sort_by(|a, b| a.subject.cmp(&b.subject).then_with(|| a.chat.as_str().cmp(b.chat.as_str())));
    Ok(groups)
}

pub(crate) async fn group(client: &Client, chat: &ChatId) -> Result<Group, EngineError> {
    let jid = group_jid(chat)?;
    client.groups().get_metadata(&jid).await.map(group_of).map_err(group_error)
}

pub(crate) async fn create_group(
    client: &Client,
    subject: &str,
    participants: &[ChatId],
) -> Result<Group, EngineError> {
    let subject = GroupSubject::new(subject).map_err(|e| EngineError::Refused { code: 400, text: e.to_string() })?;
    let members = participants.iter().map(jid_of).collect::<Result<Vec<_>, _>>()?;
    let options = GroupCreateOptions::builder()
        .subject(subject.as_str())
        .participants(members.into_iter().map(GroupParticipantOptions::new).collect())
        .build();
    let created = client.groups().create_group(options).await.map_err(group_error)?;
    Ok(group_of(created.metadata))
}

pub(crate) async fn change_group(
    client: &Client,
    chat: &ChatId,
    change: &GroupChange,
) -> Result<Vec<ParticipantOutcome>, EngineError> {
    let jid = group_jid(chat)?;
    let groups = client.groups();
    let refused = |e: String| EngineError::Refused { code: 400, text: e };
    match change {
        GroupChange::Subject(subject) => {
            let subject = GroupSubject::new(subject).map_err(|e| refused(e.to_string()))?;
            groups.set_subject(jid, subject).await.map_err(group_error)?;
        }
        GroupChange::Description(description) => {
            let description = match description {
                Some(text) => Some(GroupDescription::new(text).map_err(|e| refused(e.to_string()))?),
                None => None,
            };
            groups.set_description(jid, description, PreviousDescription::Resolve).await.map_err(group_error)?;
        }
        GroupChange::Announce(on) => groups.set_announce(jid, *on).await.map_err(group_error)?,
        GroupChange::Locked(on) => groups.set_locked(jid, *on).await.map_err(group_error)?,
        GroupChange::Picture(jpeg) => {
            groups.set_profile_picture(jid, jpeg.to_vec()).await.map_err(group_error)?;
        }
        GroupChange::Add(people) | GroupChange::Remove(people) => {
            let members = people.iter().map(jid_of).collect::<Result<Vec<_>, _>>()?;
            let answers = match change {
                GroupChange::Add(_) => groups.add_participants(jid, &members).await,
                _ => groups.remove_participants(jid, &members).await,
            }
            .map_err(group_error)?;
            return Ok(answers
                .into_iter()
                .map(|a| ParticipantOutcome {
                    chat: person(a.phone_number.as_ref().unwrap_or(&a.jid)),
                    error: a.error.clone().filter(|_| !a.is_ok()),
                })
                .collect());
        }
        GroupChange::Promote(people) | GroupChange::Demote(people) => {
            let members = people.iter().map(jid_of).collect::<Result<Vec<_>, _>>()?;
            match change {
                GroupChange::Promote(_) => groups.promote_participants(&jid, &members).await,
                _ => groups.demote_participants(&jid, &members).await,
            }
            .map_err(group_error)?;
            return Ok(people.iter().map(|p| ParticipantOutcome { chat: p.clone(), error: None }).collect());
        }
    }
    Ok(Vec::new())
}

pub(crate) async fn group_invite(client: &Client, chat: &ChatId, reset: bool) -> Result<String, EngineError> {
    let link = client.groups().get_invite_link(group_jid(chat)?, reset).await.map_err(group_error)?;
    // WhatsApp answers with the code or the whole `https://chat.whatsapp.com/<code>` link.
    Ok(link.rsplit('/').next().unwrap_or(&link).to_owned())
}

pub(crate) async fn join_group(client: &Client, code: &str) -> Result<ChatId, EngineError> {
    let joined = client.groups().join_with_invite_code(code).await.map_err(group_error)?;
    Ok(ChatId::from_stored(joined.group_jid().to_non_ad().to_string()))
}

pub(crate) async fn leave_group(client: &Client, chat: &ChatId) -> Result<(), EngineError> {
    client.groups().leave(group_jid(chat)?).await.map_err(group_error)
}

fn group_of(meta: GroupMetadata) -> Group {
    let participants = meta
        .participants
        .iter()
        .map(|p| Participant {
            chat: person(p.phone_number.as_ref().unwrap_or(&p.jid)),
            admin: p.is_admin(),
            super_admin: p.is_super_admin(),
        })
        .collect();
    Group {
        chat: ChatId::from_stored(meta.id.to_non_ad().to_string()),
        subject: meta.subject,
        description: meta.description.filter(|d| !d.is_empty()),
        owner: meta.creator_pn.as_ref().or(meta.creator.as_ref()).map(person),
        created_at: meta.creation_time.and_then(|t| OffsetDateTime::from_unix_timestamp(t as i64).ok()),
        announce: meta.is_announcement,
        locked: meta.is_locked,
        participants,
    }
}

fn person(jid: &Jid) -> ChatId {
    ChatId::from_stored(jid.to_non_ad().to_string())
}

fn jid_of(chat: &ChatId) -> Result<Jid, EngineError> {
    chat.as_str()
        .parse()
        .map_err(|e| EngineError::Refused { code: 400, text: format!("'{chat}' is not a WhatsApp address: {e}") })
}

fn group_jid(chat: &ChatId) -> Result<Jid, EngineError> {
    let jid = jid_of(chat)?;
    if !jid.is_group() {
        return Err(EngineError::Refused { code: 400, text: format!("'{chat}' is not a group") });
    }
    Ok(jid)
}

fn group_error(error: GroupError) -> EngineError {
    match error {
        GroupError::InvalidRequest(text) => EngineError::Refused { code: 400, text },
        GroupError::DescriptionConflict => {
            EngineError::Refused { code: 409, text: "the description changed meanwhile; try again".into() }
        }
        // A refused group-property change comes back as a GraphQL error with its code.
        GroupError::Mex(MexError::ExtensionError { code, message }) => EngineError::Refused {
            code: u16::try_from(code).ok().filter(|c| (400..600).contains(c)).unwrap_or(400),
            text: message,
        },
        other => classify(&other),
    }
}

fn contact_error(error: ContactError) -> EngineError {
    match error {
        ContactError::InvalidJid(jid) => {
            EngineError::Refused { code: 400, text: format!("'{jid}' cannot be looked up on WhatsApp") }
        }
        other => classify(&other),
    }
}
