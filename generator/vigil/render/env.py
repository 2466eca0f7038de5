""".env.example: every secret variable the inventory names."""

from ..envfile import example
from ..plan import Plan


def render(plan: Plan) -> dict[str, bytes]:
    return {".env.example": example(plan.inventory)}
