"""Plain data the stages pass along: parsed entries and feeds, and briefs. Imports nothing of
the project, so every stage and the store can stand on it."""
