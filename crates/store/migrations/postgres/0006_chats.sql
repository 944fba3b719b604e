-- Chats are drawn from messages: a session's conversations, each with its newest
-- message and how many received ones are unread (`read_at` of an inbound row is when it
-- was marked read through wagate). This index serves both, per session and chat.
CREATE INDEX messages_chat ON messages (session_id, chat, id);
