-- Services watch recently revoked sessions (AuthService.WatchRevokedSessions) to refuse
-- their access tokens at once; this index serves "revoked since T".
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
