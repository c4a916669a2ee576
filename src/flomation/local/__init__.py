"""The whole product on one machine: an embedded server, a runner and the executor.

``flomation-runner local FLOW_FILE`` runs one flow end to end and exits with its outcome;
``flomation-runner dev`` keeps a server and a runner up for flows submitted through the admin API.
This package composes the server and the runner; neither of them imports it.
"""

__all__: list[str] = []
