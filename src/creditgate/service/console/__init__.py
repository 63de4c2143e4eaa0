"""The operator console at ``/console``: the risk team's pages in the service's own app."""
