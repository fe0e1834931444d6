"""Remote management (issue 5): commands from Kafka to the chargers this gateway instance holds.

| module | concept |
|---|---|
| `args.py` | the version-neutral arguments of each command kind (validated, clear errors) |
| `ocpp16.py`, `ocpp201.py` | one kind -> one OCPP CALL (action + payload) per protocol version |
| `mapping.py` | kind + protocol -> CALL; the charger's answer -> status |
| `consumer.py` | reads `commands` from the end, filters, runs each command against its station |
| `results.py` | writes `command.result` events to `command-results` |
| `local_list.py` | keeps each held station's local authorisation list in sync with the tokens |
| `rotation.py` | rotate_key: generate, set, publish the hash once accepted |
"""
