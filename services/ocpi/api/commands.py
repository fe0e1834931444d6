"""commands module, Receiver interface (mod_commands.asciidoc): `POST {commands}/{command}`.

The answer is a CommandResponse — "the direct response from the Receiver, not the response from
the Charge Point itself, that will be sent via an asynchronous POST on the Sender interface if
this response is ACCEPTED".
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from libs.ocpi.status import OcpiStatus
from services.ocpi.api.common import PartnerContext, bad_request, ocpi_response, registered_partner
from services.ocpi.commands import BODIES, CommandsReceiver

router = APIRouter(tags=["commands"])


@router.post("/ocpi/cpo/2.2.1/commands/{command}", summary="Send a command to a Charge Point")
async def post_command(request: Request, command: str, ctx: PartnerContext = Depends(registered_partner)):
    model = BODIES.get(command)
    if model is None:
        raise bad_request(f"command must be one of {', '.join(BODIES)}")
    receiver: CommandsReceiver = request.app.state.commands
    try:
        doc = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise bad_request("the body is not JSON") from None
    try:
        body = model.model_validate(doc)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        # valid JSON addressing an existing resource: OCPI 2001, no HTTP error (status_codes.asciidoc)
        return ocpi_response(status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS, message=f"not a valid {command}: {errs}")
    decision = await receiver.decide(ctx, command, body)
    response = {"result": decision.result, "timeout": receiver.timeout_s}
    if decision.message:
        response["message"] = [{"language": "en", "text": decision.message}]
    if decision.result == "ACCEPTED":
        await receiver.accept(ctx, command, str(body.response_url), decision)
    return ocpi_response(response, status_code=decision.status_code)
