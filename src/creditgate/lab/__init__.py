"""The risk team's strategy lab: population-level tools over the compiled policy."""
