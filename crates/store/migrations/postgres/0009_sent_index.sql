-- A session's recent sends, for its caps per minute, hour and day.
CREATE INDEX messages_sent ON messages (session_id, sent_at) WHERE direction = 'outbound';
