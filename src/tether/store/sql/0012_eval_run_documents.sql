-- The whole run document (the JSON file `tether eval run` writes), so reports render from the
-- database in the UI exactly as `tether eval report` renders them from files.
ALTER TABLE eval_runs ADD COLUMN doc jsonb;
