DROP INDEX user_emails_work_unique;
