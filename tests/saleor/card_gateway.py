"""An ordinary gateway for the tests that need a second way to pay a checkout
(Saleor's dummy gateways are gone on main). It captures at once, as a card
gateway with automatic capture does."""

from saleor.payment import TransactionKind
from saleor.payment.interface import GatewayResponse
from saleor.plugins.base_plugin import BasePlugin

PLUGIN_ID = "tests.card"


class CardGatewayPlugin(BasePlugin):
    PLUGIN_ID = PLUGIN_ID
    PLUGIN_NAME = "Test card"
    DEFAULT_ACTIVE = True
    CONFIGURATION_PER_CHANNEL = False

    def _response(self, info, kind: str) -> GatewayResponse:
        return GatewayResponse(
            is_success=True,
            action_required=False,
            kind=kind,
            amount=info.amount,
            currency=info.currency,
            transaction_id=f"card-{info.payment_id}",
            error=None,
            raw_response={},
            psp_reference=f"card-{info.payment_id}",
        )

    # defined in the class body: Saleor lists a gateway only then
    def process_payment(self, payment_information, previous_value):
        return self._response(payment_information, TransactionKind.CAPTURE)

    def capture_payment(self, payment_information, previous_value):
        return self._response(payment_information, TransactionKind.CAPTURE)

    def confirm_payment(self, payment_information, previous_value):
        return self._response(payment_information, TransactionKind.CAPTURE)

    def token_is_required_as_payment_input(self, previous_value):
        return False

    def get_supported_currencies(self, previous_value):
        return ["USD"]

    def get_payment_config(self, previous_value):
        return []
