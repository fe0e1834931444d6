"""`python -m services.gateway`: the gateway with settings from the environment."""

from libs.service.logging import configure_logging
from libs.service.runner import run_service
from services.gateway.app import GatewayApp

if __name__ == "__main__":
    configure_logging("gateway")
    run_service(GatewayApp())
