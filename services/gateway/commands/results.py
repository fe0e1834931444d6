"""Results to `command-results`: the charger's answer (or why there is none), reply context echoed.

Results go through the gateway's durable sink: acknowledged by Kafka, or spooled and replayed
when Kafka is back, like every fact the gateway produces.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter

from libs.events.control import CommandAnswer, CommandOutcome, CommandRequest, CommandResult
from libs.events.envelope import Source, utcnow

log = structlog.get_logger("gateway.commands")
COMMANDS = Counter("voltstream_gateway_commands_total", "Command results written", ["kind", "outcome"])


class ResultWriter:
    def __init__(self, sink) -> None:
        self.sink = sink

    async def write(self, station_id: str, cmd: CommandRequest, outcome: CommandOutcome, *,
                    status: str | None = None, response: dict[str, Any] | None = None,
                    error: str | None = None) -> CommandAnswer:
        answer = CommandAnswer(command_id=cmd.command_id, outcome=outcome, status=status, response=response or {},
                               error=error, reply_context=cmd.reply_context)
        now = utcnow()
        await self.sink.publish([CommandResult.create(payload=answer, source=Source.GATEWAY, station_id=station_id,
                                                      occurred_at=now, received_at=now)])
        COMMANDS.labels(cmd.kind.value, outcome.value).inc()
        log.info("command_result", command_id=cmd.command_id, station_id=station_id, kind=cmd.kind.value,
                 outcome=outcome.value, status=status, error=error)
        return answer
