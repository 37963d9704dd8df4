-- Entra matches users on emails[type eq "work"].value: that filter must find one live user,
-- so a work email belongs to one user of a tenant (deleted users have no email rows).
-- Existing duplicates are kept in the users' resources, but only the oldest row of each
-- value stays a work email in the index (the others are typed 'work (duplicate)').
UPDATE user_emails SET email_type = 'work (duplicate)'
WHERE email_type = 'work' AND EXISTS (
    SELECT 1 FROM user_emails older
    WHERE older.tenant_id = user_emails.tenant_id
      AND older.value_lower = user_emails.value_lower
      AND older.email_type = 'work'
      AND (older.user_id < user_emails.user_id
           OR (older.user_id = user_emails.user_id AND older.position < user_emails.position))
);
CREATE UNIQUE INDEX user_emails_work_unique ON user_emails (tenant_id, value_lower) WHERE email_type = 'work';
