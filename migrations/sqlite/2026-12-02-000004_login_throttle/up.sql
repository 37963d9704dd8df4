-- Failed password checks per key ("user:" and a hash of the username, "addr:" and a client
-- address), shared by every instance: a check reserves its attempt here before argon2 runs.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure);
