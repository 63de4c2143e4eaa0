"""The self-check page at ``/``: a user, signed in by a one-time link, sees their one answer
(``service.answers``) and can try changes, ask for a human review, dispute an input and
withdraw consent. Server-rendered HTML, no script, everything served by the app."""
