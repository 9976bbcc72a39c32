-- The optional fields a user left blank when answering a step (a JSON array of field keys):
-- the step does not ask them again.
ALTER TABLE prompt_state ADD COLUMN declined TEXT NOT NULL DEFAULT '[]';
