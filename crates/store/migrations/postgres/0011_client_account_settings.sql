-- A client's own account settings; NULL: the server's (the `[accounts]` of the configuration).
-- self_signup: whether people may create their own account through it.
-- email_verification: 'off', 'optional' or 'required'.
ALTER TABLE clients ADD COLUMN self_signup BOOLEAN;
ALTER TABLE clients ADD COLUMN email_verification TEXT;
