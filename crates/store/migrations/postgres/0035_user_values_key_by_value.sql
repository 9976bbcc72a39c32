-- The index of field values (0027, 0033, 0034) keyed by the value first: `(value, key,
-- location, user_id)` instead of `(location, key, value, user_id)`. Every reader asks for the
-- three equal (a search by value, the triggers' deletions), then reads `user_id` in order, which
-- either order gives. Building the key sorts every row: with `location` first (three distinct
-- values) and `key` next (a few dozen), nearly every comparison went to the third and fourth
-- columns, each read again from the index tuple; with the value first, most comparisons end on
-- its leading bytes. A million users' 5.7 million rows: 10.5 s instead of 14.3 to 15.0 s at the
-- end of a first import (docs/scaling.md, The index of field values keyed by the value first).
ALTER TABLE user_values
    DROP CONSTRAINT user_values_pkey,
    ADD CONSTRAINT user_values_pkey PRIMARY KEY (value, key, location, user_id);
